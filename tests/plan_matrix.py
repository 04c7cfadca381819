"""The plans every provider-contract check runs over: the example stacks plus generated variants
(both apps x both vector stores where the apps can use them x each cloud x the eu, us and cn
profiles where the phase exists there), so a check proves a class of defect absent, not one stack.

Variants are written as stack files under a temporary folder and planned with the real program,
once per test session. `plan_for(case_id)` returns the cached plan.
"""

from __future__ import annotations

import copy
import datetime as dt
import fcntl
import hashlib
import os
import pickle
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scripts.engine import Plan, plan_stack
from stacks.config import api_key_config_key

ROOT = Path(__file__).resolve().parent.parent
# Every stack file in stacks/: the examples and any stack a user adds.
EXAMPLES = tuple(sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml")))


@dataclass(frozen=True)
class Case:
    id: str
    base: str
    overrides: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    # Keys removed from the base config (dotted: "llm-platform:beta.bedrock").
    drop: tuple[str, ...] = ()


def _us_aws(phase_keys: dict[str, Any]) -> dict[str, Any]:
    return {"aws:region": "us-east-1", "llm-platform:residency": "us", **phase_keys}


_US_BEDROCK = {
    "models": [
        {"name": "chat", "model": "anthropic.claude-sonnet-4-6"},
        {"name": "embed", "model": "amazon.titan-embed-text-v2:0"},
    ]
}

VARIANTS: tuple[Case, ...] = (
    # PoC: both apps on both clouds, under eu, us and cn.
    Case("poc-aws-flowise-us", "poc-aws", _us_aws({
        "llm-platform:poc": {"app": {"kind": "flowise"}, "apiProviders": ["openai", "anthropic"]},
    })),
    # (PoC, Beta and Scale on AWS China are the *-aws-cn examples.)
    Case("poc-azure-dify-eu", "poc-azure", {"llm-platform:poc": {"app": {"kind": "dify"}}}),
    # Flowise in Azure China (the *-azure-cn examples run Dify there), in China North 3.
    Case("poc-azure-flowise-cn", "poc-azure", {
        "azure-native:location": "chinanorth3",
        "azure-native:environment": "china",
        "llm-platform:residency": "cn",
        "llm-platform:budget": {"currency": "CNY"},
        "llm-platform:poc": {"apiProviders": ["deepseek"]},
        "llm-platform:mirrors": {
            "imageRegistry": "llmplatformcn.azurecr.cn/mirror",
            "azureRegistryId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/platform-mirrors/providers/Microsoft.ContainerRegistry/registries/llmplatformcn",
        },
    }),
    # Beta: the other vector store and the other app on each cloud, and the us profile.
    # Flowise cannot use either AWS vector store (components/lowcode.py UNUSABLE_VECTOR_ENGINES):
    # the AWS Beta and Scale variants run Dify under us.
    Case("beta-aws-dify-aurora-us", "beta-aws", _us_aws({
        "llm-platform:poc": {"apiProviders": ["openai"]},
        "llm-platform:beta": {"bedrock": _US_BEDROCK, "vectorStore": {"engine": "aurora-pgvector"}},
    })),
    # SageMaker outside China, on an instance type without local storage (the endpoint config
    # then carries the platform key), with an API model beside it.
    Case("beta-aws-sagemaker-us", "beta-aws-cn", _us_aws({
        "llm-platform:budget": {"currency": "USD"},
        "llm-platform:poc": {"apiProviders": ["openai"]},
        "llm-platform:beta": {
            "sagemaker": {"models": [{"name": "qwen", "modelId": "s3://example-llm-weights-us/qwen2.5-7b-instruct", "instanceType": "ml.p3.2xlarge", "maxInstances": 2}]},
            "apiModels": [{"name": "chat", "provider": "openai", "model": "gpt-4o"}],
        },
    }), drop=tuple(f"llm-platform:mirrors.{k}" for k in ("imageRegistry", "helmRepository", "pythonIndex", "modelSource"))),
    Case("beta-aws-dify-aurora-eu", "beta-aws", {
        "llm-platform:beta": {"vectorStore": {"engine": "aurora-pgvector"}},
    }),
    # Azure AI Search is refused for both apps (stacks/config says why): pgvector only.
    Case("beta-azure-dify-eu", "beta-azure", {
        "llm-platform:poc": {"app": {"kind": "dify"}},
    }),
    Case("beta-azure-flowise-us", "beta-azure", {
        "azure-native:location": "eastus2",
        "llm-platform:residency": "us",
        "llm-platform:budget": {"currency": "USD"},
        "llm-platform:poc": {"apiProviders": ["openai"]},
    }, drop=("llm-platform:beta.azureOpenAI.deployments.1",)),
    # Scale: the other app and vector store on each cloud.
    Case("scale-aws-dify-aurora-us", "scale-aws", _us_aws({
        "llm-platform:poc": {"apiProviders": ["openai"]},
        "llm-platform:beta": {"bedrock": _US_BEDROCK, "vectorStore": {"engine": "aurora-pgvector"}},
        "llm-platform:scale": {
            "routes": [
                {"name": "chat", "selfHosted": ["qwen-7b"], "fallbacks": ["api:openai/gpt-4o", "bedrock:chat"]},
                # The analytics team of the base stack calls faq and code.
                {"name": "faq", "selfHosted": ["qwen-7b"], "fallbacks": ["api:openai/gpt-4o-mini"], "maxParallelRequests": 4},
                {"name": "code", "kind": "code", "selfHosted": ["qwen-7b"]},
            ],
            # Cluster access keys (a VPN network, an admin role, a read-only CI preview role).
            "adminCidrs": ["172.20.0.0/16"],
            "clusterAdmins": ["arn:aws:iam::123456789012:role/platform-admins"],
            "previewPrincipal": "arn:aws:iam::123456789012:role/ci-preview",
        },
    })),
    Case("scale-azure-dify-eu", "scale-azure", {
        "llm-platform:poc": {"app": {"kind": "dify"}},
        "llm-platform:scale": {"clusterAdmins": ["5f0c2a7e-1b7d-4c1e-9a55-0d6f8e2b9c41"], "previewPrincipal": "0b8e3f52-6c1a-4f0e-8d3b-7a9c2e4f1d60"},
    }),
)

CASES: dict[str, Case] = {**{name: Case(name, name) for name in EXAMPLES}, **{c.id: c for c in VARIANTS}}
CASE_IDS: tuple[str, ...] = tuple(CASES)


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside a recorded value (inputs, outputs), secret wrappers included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _drop(config: dict[str, Any], dotted: str) -> None:
    top, _, rest = dotted.partition(".")
    node: Any = config[top]
    parts = rest.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if isinstance(node, list):
        del node[int(last)]
    else:
        node.pop(last, None)


def case_config(case: Case) -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{case.base}.yaml").read_text())
    config = _merge(document["config"], case.overrides)
    for dotted in case.drop:
        _drop(config, dotted)
    # One secret API key per configured provider, as `pulumi config set --secret` would store it.
    for key in [k for k in config if k.startswith("llm-platform:") and k.endswith("ApiKey")]:
        del config[key]
    for provider in config["llm-platform:poc"].get("apiProviders", []):
        config[f"llm-platform:{api_key_config_key(provider)}"] = {"secure": f"v1:offline-placeholder-{provider}"}
    return {"config": config}


def _setting(case_id: str, key: str) -> str:
    return str(case_config(CASES[case_id])["config"].get(f"llm-platform:{key}", ""))


# Cloud and phase as each case's config says (stack names are the user's choice).
CLOUD: dict[str, str] = {c: _setting(c, "cloud") for c in CASE_IDS}
PHASE: dict[str, str] = {c: _setting(c, "phase") for c in CASE_IDS}
AWS_CASES = tuple(c for c in CASE_IDS if CLOUD[c] == "aws")
AZURE_CASES = tuple(c for c in CASE_IDS if CLOUD[c] == "azure")
SCALE_CASES = tuple(c for c in CASE_IDS if PHASE[c] == "scale")

_DIR = Path(tempfile.mkdtemp(prefix="plan-matrix-"))
_PLANS: dict[str, Plan] = {}
_ROOT = Path(__file__).resolve().parent.parent


def _source_fingerprint() -> str:
    """What a plan depends on: the program, components, policy data, engine and stack files (and
    the date, since catalogs warn by date). Plans are shared by the test processes under it."""
    digest = hashlib.sha256(dt.date.today().isoformat().encode())
    for folder in ("components", "policies/llm_guard", "scripts", "stacks", "tests/plan_matrix.py", "__main__.py"):
        base = _ROOT / folder
        for path in sorted([base] if base.is_file() else [*base.rglob("*.py"), *base.rglob("*.yaml"), *base.rglob("*.json")]):
            digest.update(str(path.relative_to(_ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


# Private to this user: the processes load these pickles, so nobody else may write them.
_SHARED = Path(tempfile.gettempdir()) / f"llm-platform-plans-{os.getuid()}-{_source_fingerprint()}"


def _stack_source(case: Case) -> str:
    """The stack a case plans: an example's name, or a variant's file (written here, where the
    checks that plan it again under another name find it)."""
    if case.id == case.base:
        return case.id
    path = _DIR / f"Pulumi.{case.id}.yaml"
    if not path.exists():
        path.write_text(yaml.safe_dump(case_config(case), sort_keys=False))
    return str(path)


def plan_for(case_id: str) -> Plan:
    """The offline plan of a case: planned once per source tree and shared by the test processes
    (pytest -n 2) through a file per case, taken under a lock so no two processes plan it."""
    if case_id not in _PLANS:
        _SHARED.mkdir(mode=0o700, exist_ok=True)
        if _SHARED.stat().st_uid != os.getuid() or _SHARED.stat().st_mode & 0o077:
            raise RuntimeError(f"{_SHARED} is not private to this user; remove it")
        cached = _SHARED / f"{case_id}.pickle"
        source = _stack_source(CASES[case_id])
        with (_SHARED / f"{case_id}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if cached.exists():
                _PLANS[case_id] = pickle.loads(cached.read_bytes())
            else:
                _PLANS[case_id] = plan_stack(source)
                partial = cached.with_suffix(".partial")
                partial.write_bytes(pickle.dumps(_PLANS[case_id]))
                partial.replace(cached)
    return _PLANS[case_id]
