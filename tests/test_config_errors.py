"""Bad stack config stops `plan` with exit 2 and one paragraph naming the key; no traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scripts.__main__ import main
from tests.conftest import run_cli

BAD_CONFIGS: list[tuple[str, str, dict[str, Any], str]] = [
    # (id, base stack, config override, key the message must name)
    ("unknown-phase", "poc-aws", {"llm-platform:phase": "prod"}, "llm-platform:phase"),
    ("region-outside-profile", "poc-aws", {"aws:region": "us-east-1"}, "aws:region"),
    ("london-is-not-eu", "poc-aws", {"aws:region": "eu-west-2"}, "aws:region"),
    ("missing-owner-tag", "poc-aws", {"llm-platform:tags": {"owner": "DELETE"}}, "llm-platform:tags.owner"),
    ("budget-zero", "poc-aws", {"llm-platform:budget": {"amount": 0}}, "llm-platform:budget.amount"),
    ("budget-negative", "poc-azure", {"llm-platform:budget": {"amount": -5}}, "llm-platform:budget.amount"),
    ("malformed-email", "poc-aws", {"llm-platform:budget": {"emails": ["finops-at-example.com"]}}, "llm-platform:budget.emails[0]"),
    ("unknown-app", "poc-aws", {"llm-platform:poc": {"app": {"kind": "langflow"}}}, "llm-platform:poc.app.kind"),
    ("plain-api-key", "poc-aws", {"llm-platform:mistralApiKey": "sk-plain-text-key"}, "llm-platform:mistralApiKey"),
    ("cn-on-global-region", "poc-aws", {"llm-platform:residency": "cn", "aws:region": "eu-central-1"}, "aws:region"),
    ("cn-on-azure-global-cloud", "poc-azure", {"llm-platform:residency": "cn", "azure-native:location": "chinaeast2"}, "azure-native:environment"),
    ("unknown-profile", "poc-aws", {"llm-platform:residency": "mars"}, "llm-platform:residency"),
    ("provider-outside-profile", "poc-aws", {"llm-platform:poc": {"apiProviders": ["openai"]}, "llm-platform:openaiApiKey": {"secure": "v1:x"}}, "llm-platform:poc.apiProviders[0]"),
    ("missing-api-key", "poc-aws", {"llm-platform:openaiEuApiKey": "DELETE"}, "llm-platform:openaiEuApiKey"),
    ("typo-key", "poc-aws", {"llm-platform:budgte": {"amount": 5}}, "llm-platform:budgte"),
    ("bad-cidr", "poc-aws", {"llm-platform:poc": {"app": {"allowedCidrs": ["10.0.0.1/24"]}}}, "llm-platform:poc.app.allowedCidrs"),
    ("bad-retention", "poc-aws", {"llm-platform:poc": {"app": {"logRetentionDays": 31}}}, "llm-platform:poc.app.logRetentionDays"),
    ("reserved-tag", "poc-aws", {"llm-platform:tags": {"phase": "prod"}}, "llm-platform:tags"),
    ("certificate-other-region", "poc-aws", {"llm-platform:poc": {"app": {"certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0f6ab0c4-1111-2222-3333-444455556666"}}}, "llm-platform:poc.app.certificateArn"),
    ("aws-budget-currency", "poc-aws", {"llm-platform:budget": {"currency": "EUR"}}, "llm-platform:budget.currency"),
    # Dify runs in Azure China now (Azure Cache for Redis); an Azure OpenAI model the China catalog does not hold needs `regions`.
    ("azure-china-model-without-regions", "beta-azure-cn", {"llm-platform:beta": {"azureOpenAI": {"deployments": [{"name": "c", "model": "gpt-4o-mini", "version": "2024-07-18"}]}}}, "llm-platform:beta.azureOpenAI.deployments[0].model"),
    ("secret-where-plain-expected", "poc-aws", {"llm-platform:phase": {"secure": "v1:x"}}, "llm-platform:phase"),
    # Beta
    ("beta-without-section", "poc-aws", {"llm-platform:phase": "beta"}, "llm-platform:beta"),
    ("beta-section-in-poc", "beta-aws", {"llm-platform:phase": "poc"}, "llm-platform:beta"),
    ("bedrock-under-cn", "beta-aws", {"llm-platform:residency": "cn", "aws:region": "cn-north-1", "llm-platform:budget": {"currency": "CNY"}, "llm-platform:poc": {"apiProviders": ["deepseek"]}, "llm-platform:mistralApiKey": "DELETE", "llm-platform:openaiEuApiKey": "DELETE", "llm-platform:deepseekApiKey": {"secure": "v1:x"}}, "llm-platform:beta.bedrock"),
    ("opensearch-serverless-under-cn", "beta-aws", {"llm-platform:residency": "cn", "aws:region": "cn-north-1", "llm-platform:budget": {"currency": "CNY"}, "llm-platform:poc": {"apiProviders": ["deepseek"]}, "llm-platform:mistralApiKey": "DELETE", "llm-platform:openaiEuApiKey": "DELETE", "llm-platform:deepseekApiKey": {"secure": "v1:x"}}, "llm-platform:beta.vectorStore.engine"),
    ("model-not-in-region-for-strict-profile", "beta-aws", {"llm-platform:residency": "eu-strict"}, "llm-platform:beta.bedrock.models[0].model"),
    ("unknown-bedrock-model", "beta-aws", {"llm-platform:beta": {"bedrock": {"models": [{"name": "x", "model": "acme.super-model-v1:0"}]}}}, "llm-platform:beta.bedrock.models[0].model"),
    ("vector-engine-of-other-cloud", "beta-aws", {"llm-platform:beta": {"vectorStore": {"engine": "ai-search"}}}, "llm-platform:beta.vectorStore.engine"),
    # Flowise cannot reach either AWS vector store (SigV4-only OpenSearch Serverless; Aurora's TLS with the RDS CA).
    ("flowise-on-opensearch-serverless", "beta-aws", {"llm-platform:poc": {"app": {"kind": "flowise"}}}, "llm-platform:beta.vectorStore.engine"),
    ("flowise-on-aurora-pgvector", "beta-aws", {"llm-platform:poc": {"app": {"kind": "flowise"}}, "llm-platform:beta": {"vectorStore": {"engine": "aurora-pgvector"}}}, "llm-platform:beta.vectorStore.engine"),
    ("no-nat-without-registry", "beta-aws", {"llm-platform:poc": {"network": {"natGateways": 0}}}, "llm-platform:mirrors.imageRegistry"),
    ("global-sku-under-eu", "beta-azure", {"llm-platform:beta": {"azureOpenAI": {"deployments": [{"name": "g", "model": "gpt-4o", "version": "2024-11-20", "sku": "GlobalStandard"}]}}}, "llm-platform:beta.azureOpenAI.deployments[0].sku"),
    ("azure-model-not-in-region", "beta-azure", {"llm-platform:beta": {"azureOpenAI": {"deployments": [{"name": "g", "model": "gpt-4o", "version": "2099-01-01"}]}}}, "llm-platform:beta.azureOpenAI.deployments[0].model"),
    # Scale
    ("scale-section-in-beta", "scale-aws", {"llm-platform:phase": "beta", "llm-platform:huggingFaceToken": "DELETE"}, "llm-platform:scale"),
    ("hugging-face-token-in-beta", "beta-aws", {"llm-platform:huggingFaceToken": {"secure": "v1:x"}}, "llm-platform:huggingFaceToken"),
    ("model-needs-more-gpus-than-instance", "scale-aws", {"llm-platform:scale": {"models": [{"name": "qwen-7b", "huggingFaceId": "Qwen/Qwen2.5-7B-Instruct", "pool": "l4", "gpusPerReplica": 2, "maxReplicas": 2}]}}, "llm-platform:scale.models[0].gpusPerReplica"),
    ("fallback-outside-profile", "scale-aws", {"llm-platform:scale": {"routes": [{"name": "chat", "selfHosted": ["qwen-7b"], "fallbacks": ["api:deepseek/deepseek-chat"]}]}}, "llm-platform:scale.routes[0].fallbacks[0]"),
    ("fallback-to-other-cloud", "scale-aws", {"llm-platform:scale": {"routes": [{"name": "chat", "fallbacks": ["azure:gpt-4o"]}]}}, "llm-platform:scale.routes[0].fallbacks[0]"),
    ("gpu-pool-without-max-size", "scale-aws", {"llm-platform:scale": {"gpuPools": [{"name": "l4", "instanceType": "g6.2xlarge"}]}}, "llm-platform:scale.gpuPools[0].maxSize"),
    ("unknown-gpu-instance-type", "scale-aws", {"llm-platform:scale": {"gpuPools": [{"name": "l4", "instanceType": "m5.large", "maxSize": 2}]}}, "llm-platform:scale.gpuPools[0].instanceType"),
    ("azure-size-on-aws", "scale-aws", {"llm-platform:scale": {"gpuPools": [{"name": "l4", "instanceType": "Standard_NC24ads_A100_v4", "maxSize": 2}]}}, "llm-platform:scale.gpuPools[0].instanceType"),
    ("aks-pool-name-too-long", "scale-azure", {"llm-platform:scale": {"gpuPools": [{"name": "a100-large-pool", "instanceType": "Standard_NC24ads_A100_v4", "maxSize": 2}], "models": [{"name": "qwen-14b", "huggingFaceId": "Qwen/Qwen2.5-14B-Instruct", "pool": "a100-large-pool", "maxReplicas": 2}]}}, "llm-platform:scale.gpuPools[0].name"),
    ("route-to-unknown-model", "scale-aws", {"llm-platform:scale": {"routes": [{"name": "chat", "selfHosted": ["llama-70b"]}]}}, "llm-platform:scale.routes[0].selfHosted[0]"),
    ("scale-aws-without-nat", "scale-aws", {"llm-platform:poc": {"network": {"natGateways": 0}}, "llm-platform:mirrors": {"imageRegistry": "123456789012.dkr.ecr.eu-central-1.amazonaws.com/mirror"}}, "llm-platform:poc.network.natGateways"),
    ("public-endpoint-without-cidrs", "scale-aws", {"llm-platform:scale": {"privateEndpoint": False}}, "llm-platform:scale.publicAccessCidrs"),
    ("bedrock-on-azure", "beta-azure", {"llm-platform:beta": {"bedrock": {"models": [{"name": "x", "model": "amazon.nova-pro-v1:0"}]}}}, "llm-platform:beta.bedrock"),
    # Strict types and rules (issue "Trust under attack", item 2)
    ("budget-amount-true", "poc-aws", {"llm-platform:budget": {"amount": True}}, "llm-platform:budget.amount"),
    ("storage-as-float", "poc-aws", {"llm-platform:poc": {"app": {"database": {"storageGb": 32.5}}}}, "llm-platform:poc.app.database.storageGb"),
    ("owner-a-number", "poc-aws", {"llm-platform:tags": {"owner": 2024}}, "llm-platform:tags.owner"),
    ("aws-tag-forbidden-character", "poc-aws", {"llm-platform:tags": {"team": "ml<ops>"}}, "llm-platform:tags.team"),
    ("aws-tag-newline", "poc-aws", {"llm-platform:tags": {"team": "ml\nops"}}, "llm-platform:tags.team"),
    ("azure-tag-forbidden-character", "poc-azure", {"llm-platform:tags": {"team/area": "ml"}}, "llm-platform:tags.team/area"),
    ("tag-key-not-a-k8s-label", "scale-aws", {"llm-platform:tags": {"cost owner": "x"}}, "llm-platform:tags.cost owner"),
    ("reserved-tag-other-case", "poc-aws", {"llm-platform:tags": {"Data-Residency": "global"}}, "llm-platform:tags"),
    ("tag-twice-by-case", "poc-azure", {"llm-platform:tags": {"Owner": "someone-else"}}, "llm-platform:tags"),
    ("system-pool-min-over-max", "scale-aws", {"llm-platform:scale": {"systemPool": {"minSize": 5, "maxSize": 2}}}, "llm-platform:scale.systemPool"),
    ("system-pool-unknown-type", "scale-aws", {"llm-platform:scale": {"systemPool": {"instanceType": "m6i.huge"}}}, "llm-platform:scale.systemPool.instanceType"),
    ("system-pool-azure-size-on-aws", "scale-aws", {"llm-platform:scale": {"systemPool": {"instanceType": "Standard_D4s_v5"}}}, "llm-platform:scale.systemPool.instanceType"),
    ("system-pool-graviton-on-x86-ami", "scale-aws", {"llm-platform:scale": {"systemPool": {"instanceType": "m7g.xlarge"}}}, "llm-platform:scale.systemPool.instanceType"),
    ("system-pool-aws-type-on-azure", "scale-azure", {"llm-platform:scale": {"systemPool": {"instanceType": "m6i.xlarge"}}}, "llm-platform:scale.systemPool.instanceType"),
    ("system-pool-gpu-size-on-azure", "scale-azure", {"llm-platform:scale": {"systemPool": {"instanceType": "Standard_NC24ads_A100_v4"}}}, "llm-platform:scale.systemPool.instanceType"),
    ("azure-db-sku-on-aws", "poc-aws", {"llm-platform:poc": {"app": {"database": {"instanceClass": "Standard_B1ms"}}}}, "llm-platform:poc.app.database.instanceClass"),
    ("rds-class-on-azure", "poc-azure", {"llm-platform:poc": {"app": {"database": {"instanceClass": "db.t4g.micro"}}}}, "llm-platform:poc.app.database.instanceClass"),
    ("unknown-image-tag-key", "poc-aws", {"llm-platform:poc": {"app": {"imageTags": {"dfy-api": "1.14.2"}}}}, "llm-platform:poc.app.imageTags"),
    ("upper-case-region", "poc-aws", {"aws:region": "EU-CENTRAL-1"}, "did you mean eu-central-1?"),
]


def _resolve_deletes(value: Any, delete: object) -> Any:
    if value == "DELETE":
        return delete
    if isinstance(value, dict):
        return {k: _resolve_deletes(v, delete) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("case", "base", "override", "key"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_exits_2_naming_the_key(case: str, base: str, override: dict[str, Any], key: str, make_variant: Callable[..., Path], DELETE: object, capsys: pytest.CaptureFixture[str]) -> None:
    # The CLI's own entry point, in this process (the subprocess form is checked below, once).
    path = make_variant(base, f"bad-{case}", _resolve_deletes(override, DELETE))
    code = main(["plan", str(path)])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    message = err.strip()
    assert key in message
    assert "Traceback" not in message and "Traceback" not in out
    assert "\n" not in message, "the message must be one paragraph"
    assert out == ""


def test_plain_api_key_value_is_never_echoed(make_variant: Callable[..., Path]) -> None:
    path = make_variant("poc-aws", "bad-echo", {"llm-platform:mistralApiKey": "sk-do-not-print-me"})
    result = run_cli("plan", str(path))
    assert result.returncode == 2
    assert "sk-do-not-print-me" not in result.stderr + result.stdout


def test_several_problems_reported_together(make_variant: Callable[..., Path]) -> None:
    path = make_variant("poc-aws", "bad-many", {"llm-platform:budget": {"amount": 0, "emails": ["nope"]}})
    result = run_cli("plan", str(path))
    assert result.returncode == 2
    assert "llm-platform:budget.amount" in result.stderr and "llm-platform:budget.emails[0]" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("plan", "no-such-stack"), "no stack 'no-such-stack'"),
        (("plan", "missing/Pulumi.x.yaml"), "does not exist"),
        (("plan",), "name a STACK"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_bad_command_input_exits_2(args: tuple[str, ...], fragment: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_yaml_exits_2_in_one_line_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_text("config:\n  llm-platform:phase: [poc\n")
    result = run_cli("plan", str(path))
    assert result.returncode == 2
    assert "is not valid YAML at line 3, column 1" in result.stderr
    assert result.stderr.count("\n") == 1 and "^" not in result.stderr


POC_AWS = (Path(__file__).resolve().parent.parent / "stacks" / "Pulumi.poc-aws.yaml").read_text(encoding="utf-8")

# (id, stack file bytes, fragment of the one-line message)
BAD_STACK_FILES: list[tuple[str, bytes, str]] = [
    ("duplicate-top-level-key", POC_AWS.replace("llm-platform:residency: eu", "llm-platform:residency: eu\n  llm-platform:residency: global").encode(), "key 'llm-platform:residency' is defined twice"),
    ("duplicate-nested-key", POC_AWS.replace("    amount: 600", "    amount: 600\n    amount: 6000").encode(), "key 'amount' is defined twice"),
    ("yaml-date", POC_AWS.replace("owner: platform-team@example.com", "owner: 2024-01-01").encode(), "llm-platform:tags.owner is a YAML date"),
    ("latin-1", POC_AWS.replace("ai-platform", "ai-pl\u00e4tform").encode("latin-1"), "is not UTF-8"),
    ("utf-16", POC_AWS.encode("utf-16"), "is UTF-16 encoded"),
    ("nan", POC_AWS.replace("amount: 600", "amount: .nan").encode(), "llm-platform:budget.amount is not a finite number"),
    ("binary", POC_AWS.replace("application: llm-platform", "application: !!binary aGVsbG8=").encode(), "llm-platform:tags.application is a YAML bytes"),
    ("number-key", POC_AWS.replace("application: llm-platform", "1: llm-platform").encode(), "which is not text"),
    ("deep-nesting", (POC_AWS + "  acme:deep: " + "[" * 5000 + "]" * 5000 + "\n").encode(), "nested"),
    ("a-list", b"- config\n", "is not a Pulumi stack config file"),
]


@pytest.mark.parametrize(("case", "content", "fragment"), BAD_STACK_FILES, ids=[c[0] for c in BAD_STACK_FILES])
def test_bad_stack_file_exits_2_in_one_line(case: str, content: bytes, fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scripts.__main__ import main

    path = tmp_path / f"Pulumi.{case}.yaml"
    path.write_bytes(content)
    assert main(["plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert err.startswith("error: ") and err.count("\n") == 1 and "internal error" not in err


def test_yes_and_no_stay_text_as_in_pulumi(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Go yaml.v3 (the Pulumi CLI) reads yes/no/on/off as text; PyYAML would make them booleans."""
    from scripts.engine import read_stack_file

    path = tmp_path / "Pulumi.yes.yaml"
    path.write_text(POC_AWS.replace("application: llm-platform", "application: yes"))
    assert '"application": "yes"' in read_stack_file(str(path)).config["llm-platform:tags"]
