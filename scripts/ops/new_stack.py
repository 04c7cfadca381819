"""Your own stack in one command, and its promotion in one more.

`new-stack` writes `stacks/Pulumi.<NAME>.yaml` from the example of the same cloud and phase
(the one of the same residency profile when there is one), set to the profile, region and app
asked for: the API providers the profile allows, the budget currency and mirrors it needs, a
comment on each key. `promote` adds the next phase's section from the matching example to an
existing stack, keeping everything it has (same names, so nothing stateful is replaced), and
prints the plan diff. Both validate the result exactly as `plan` does and refuse, leaving no
file behind and the old one unchanged, when the choice is impossible.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from policies.llm_guard.profiles import BUILTIN_PROFILES, ResidencyProfile
from scripts.engine import read_stack_file
from stacks.config import NAMESPACE, api_key_config_key, load_config

STACKS_DIR = Path(__file__).resolve().parents[2] / "stacks"
PHASES = ("poc", "beta", "scale")
CLOUDS = ("aws", "azure")
APPS = ("dify", "flowise")
# Where a stack goes when no region is asked for: the region of the profile's example, else a
# region of the profile where every phase's services exist.
DEFAULT_REGIONS: Mapping[tuple[str, str], str] = {
    ("eu", "aws"): "eu-central-1",
    ("eu-strict", "aws"): "eu-central-1",
    ("us", "aws"): "us-east-1",
    ("global", "aws"): "us-east-1",
    ("cn", "aws"): "cn-northwest-1",
    ("eu", "azure"): "swedencentral",
    ("eu-strict", "azure"): "swedencentral",
    ("us", "azure"): "eastus2",
    ("global", "azure"): "eastus2",
    ("cn", "azure"): "chinanorth3",
}
# Third-party APIs a new stack lists when its example's are not allowed by the profile.
DEFAULT_PROVIDERS: Mapping[str, tuple[str, ...]] = {"eu": ("mistral", "openai-eu"), "us": ("openai", "anthropic"), "cn": ("deepseek", "dashscope")}
_STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_KEY_COMMENTS: Mapping[str, str] = {
    "phase": "poc | beta | scale; phases are cumulative (docs/poc.md, docs/beta.md, docs/scale.md)",
    "cloud": "aws | azure",
    "residency": "the data-residency profile: regions, model routes and what the policy pack enforces (docs/configuration.md)",
    "tags": "cost-center and owner are required; phase and data-residency are added by the platform",
    "budget": "monthly budget and its alerts; expectedTokensPerMonth feeds `python -m scripts cost`",
    "poc": "the low-code app, the API providers whose keys are stored, the network",
    "beta": "managed inference and the vector store on private networks (docs/beta.md)",
    "scale": "Kubernetes GPU pools, served models and gateway routes (docs/scale.md)",
    "mirrors": "where images, charts, Python packages and model weights come from (docs/china.md)",
}


class NewStackError(Exception):
    """A bad choice for new-stack/promote: exit 2 with this message."""


@dataclass(frozen=True)
class Example:
    name: str
    path: Path
    cloud: str
    phase: str
    residency: str
    data: CommentedMap


def _yaml() -> YAML:
    yaml = YAML()  # round trip: keeps comments and key order
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _load(path: Path) -> CommentedMap:
    # The same strict reading `plan` does first: one line naming the problem, never a traceback.
    read_stack_file(str(path))
    data = _yaml().load(path.read_text(encoding="utf-8"))
    if not isinstance(data, CommentedMap) or not isinstance(data.get("config"), CommentedMap):
        raise NewStackError(f"{path} is not a Pulumi stack config file: expected a mapping with a 'config' mapping")
    return data


def _dump(data: CommentedMap) -> str:
    buffer = io.StringIO()
    _yaml().dump(data, buffer)
    return buffer.getvalue()


def examples(stacks_dir: Path | None = None) -> list[Example]:
    """The example stacks shipped in stacks/ (files whose name is <phase>-<cloud>[-<profile>])."""
    found = []
    for path in sorted((stacks_dir or STACKS_DIR).glob("Pulumi.*.yaml")):
        name = path.name[len("Pulumi.") : -len(".yaml")]
        parts = name.split("-")
        if len(parts) < 2 or parts[0] not in PHASES or parts[1] not in CLOUDS:
            continue
        data = _load(path)
        config = data["config"]
        if config.get(f"{NAMESPACE}:phase") != parts[0] or config.get(f"{NAMESPACE}:cloud") != parts[1]:
            continue
        found.append(Example(name, path, parts[1], parts[0], str(config.get(f"{NAMESPACE}:residency")), data))
    return found


def _template(cloud: str, phase: str, residency: str, stacks_dir: Path) -> Example:
    candidates = [e for e in examples(stacks_dir) if e.cloud == cloud and e.phase == phase]
    if not candidates:
        raise NewStackError(f"no example stack for cloud {cloud} and phase {phase} in {stacks_dir}")
    same = [e for e in candidates if e.residency == residency]
    # Prefer the profile's own example; else the EU one, which the others were derived from.
    return (same or sorted(candidates, key=lambda e: e.residency != "eu"))[0]


def _profile(residency: str) -> ResidencyProfile:
    if residency not in BUILTIN_PROFILES:
        raise NewStackError(
            f"--residency '{residency}' is not a built-in profile; built-in: {', '.join(sorted(BUILTIN_PROFILES))} "
            "(for a custom profile, generate the closest built-in one, then add llm-platform:residencyProfiles and set llm-platform:residency)"
        )
    return BUILTIN_PROFILES[residency]


def _region_key(cloud: str) -> str:
    return "aws:region" if cloud == "aws" else "azure-native:location"


def _set(mapping: CommentedMap, key: str, value: Any, comment: str | None = None) -> None:
    if key in mapping:
        mapping[key] = value
    else:
        mapping.insert(len(mapping), key, value)
    if comment and not _has_comment(mapping, key):
        mapping.yaml_add_eol_comment(comment, key)


def _has_comment(mapping: CommentedMap, key: str) -> bool:
    tokens = mapping.ca.items.get(key)
    return bool(tokens and any(t is not None for t in tokens))


def _allowed_providers(current: Sequence[str], profile: ResidencyProfile) -> list[str]:
    kept = [p for p in current if profile.allows_api_provider(p)]
    if kept:
        return kept
    for geography in sorted(profile.api_geographies):
        defaults = [p for p in DEFAULT_PROVIDERS.get(geography, ()) if profile.allows_api_provider(p)]
        if defaults:
            return defaults
    return []


def _retarget(config: CommentedMap, cloud: str, profile: ResidencyProfile, region: str, app: str | None) -> None:
    """Point a copy of an example at another profile, region and app."""
    ns = f"{NAMESPACE}:"
    config[f"{ns}residency"] = profile.name
    config[_region_key(cloud)] = region
    if cloud == "azure":
        _set(config, "azure-native:environment", "china" if profile.azure_cloud == "china" else "public")
        if profile.azure_cloud != "china":
            del config["azure-native:environment"]
    poc = config[f"{ns}poc"]
    if app:
        poc["app"]["kind"] = app
    old = list(poc.get("apiProviders") or [])
    providers = _allowed_providers(old, profile)
    poc["apiProviders"] = CommentedSeq(providers)
    for provider in old:
        if provider not in providers:
            config.pop(f"{ns}{api_key_config_key(provider)}", None)
    for provider in providers:
        key = f"{ns}{api_key_config_key(provider)}"
        if key not in config:
            config[key] = CommentedMap(secure=f"v1:offline-placeholder-{provider}")
    budget = config[f"{ns}budget"]
    # AWS budgets are in USD (CNY in aws-cn); an Azure budget is in the billing currency, which
    # follows the cloud and country of the agreement: the profile's usual one.
    geography = "cn" if profile.name == "cn" else ("us" if cloud == "aws" or profile.api_geographies >= {"us"} else "eu")
    budget["currency"] = {"cn": "CNY", "us": "USD", "eu": "EUR"}[geography]
    scale = config.get(f"{ns}scale")
    if scale:
        for route in scale.get("routes") or []:
            fallbacks = route.get("fallbacks")
            if fallbacks:
                route["fallbacks"] = CommentedSeq(f for f in fallbacks if not f.startswith("api:") or f[4:].split("/", 1)[0] in providers)
    beta = config.get(f"{ns}beta")
    openai = beta.get("azureOpenAI") if beta else None
    for deployment in (openai or {}).get("deployments") or []:
        sku = deployment.get("sku", "auto")
        if sku != "auto" and sku not in profile.allowed_azure_openai_skus():
            # A data-zone SKU outside a data-zone profile: Standard, processed in the region.
            deployment["sku"] = "auto"
    if beta and isinstance(beta.get("bedrock"), Mapping):
        # An account-and-region singleton: a new stack never takes it over from another.
        beta["bedrock"]["invocationLogging"] = False


def _annotate(config: CommentedMap) -> None:
    for key, comment in _KEY_COMMENTS.items():
        full = f"{NAMESPACE}:{key}"
        if full in config and not _has_comment(config, full) and not isinstance(config[full], (CommentedMap, CommentedSeq)):
            config.yaml_add_eol_comment(comment, full)
        elif full in config and not _has_comment(config, full):
            config.yaml_set_comment_before_after_key(full, before=comment, indent=2)


def _validate(text: str, path: Path) -> None:
    """The same reading and validation `plan` and `pulumi up` run first (ConfigError / PlanInputError)."""
    tmp = path.with_name(f".{path.name}.check")
    tmp.write_text(text, encoding="utf-8")
    try:
        stack = read_stack_file(str(tmp))
        load_config(stack.config, stack.secret_keys, source=f"config of new stack '{path.name}'")
    finally:
        tmp.unlink(missing_ok=True)


def new_stack(name: str, cloud: str, phase: str, residency: str, region: str | None = None, app: str | None = None, stacks_dir: Path | None = None, force: bool = False) -> Path:
    stacks_dir = stacks_dir or STACKS_DIR
    if not _STACK_NAME.fullmatch(name):
        raise NewStackError(f"stack name '{name}' must be 1-100 letters, digits, '-', '_' or '.', starting with a letter or digit")
    if cloud not in CLOUDS:
        raise NewStackError(f"--cloud '{cloud}' is not supported; choose one of {', '.join(CLOUDS)}")
    if phase not in PHASES:
        raise NewStackError(f"--phase '{phase}' is not a phase; choose one of {', '.join(PHASES)}")
    if app is not None and app not in APPS:
        raise NewStackError(f"--app '{app}' is not supported; choose one of {', '.join(APPS)}")
    profile = _profile(residency)
    path = stacks_dir / f"Pulumi.{name}.yaml"
    if path.exists() and not force:
        raise NewStackError(f"{path} exists; choose another NAME (or --force to overwrite it)")
    template = _template(cloud, phase, residency, stacks_dir)
    region = region or (str(template.data["config"][_region_key(cloud)]) if template.residency == residency else DEFAULT_REGIONS.get((residency, cloud)))
    if region is None:
        raise NewStackError(f"no default {cloud} region for profile '{residency}'; pass --region")
    data = _load(template.path)
    config = data["config"]
    _retarget(config, cloud, profile, region, app)
    _annotate(config)
    command = f"python -m scripts new-stack {name} --cloud {cloud} --phase {phase} --residency {residency} --region {region}" + (f" --app {app}" if app else "")
    header = (
        f"Generated on {dt.date.today().isoformat()} by `{command}`\nfrom the example stacks/{template.path.name}. "
        "Review the tags, budget, networks and app access, then replace each\n"
        "`secure:` placeholder with `pulumi config set --secret <key> <value> -s " + name + "`.\n"
        f"Plan it offline: python -m scripts plan {name}; audit it: python -m scripts audit {name}.\n"
    )
    data.yaml_set_start_comment(header)
    text = _dump(data)
    _validate(text, path)
    path.write_text(text, encoding="utf-8")
    return path


def promote(name: str, to: str, stacks_dir: Path | None = None) -> tuple[Path, str, str]:
    """Add phase `to` to stack `name` in place; returns the path and the stack text before and after."""
    stacks_dir = stacks_dir or STACKS_DIR
    if to not in PHASES[1:]:
        raise NewStackError(f"--to '{to}' is not a phase to promote to; choose beta or scale")
    path = stacks_dir / f"Pulumi.{name}.yaml"
    if not path.exists():
        raise NewStackError(f"no stack '{name}': {path} does not exist (create it with `python -m scripts new-stack {name} ...`)")
    before = path.read_text(encoding="utf-8")
    data = _load(path)
    config = data["config"]
    ns = f"{NAMESPACE}:"
    current, cloud, residency = config.get(f"{ns}phase"), config.get(f"{ns}cloud"), config.get(f"{ns}residency")
    previous = PHASES[PHASES.index(to) - 1]
    if current != previous:
        raise NewStackError(f"stack '{name}' is in phase '{current}'; promotion to {to} starts from {previous}")
    if cloud not in CLOUDS:
        raise NewStackError(f"stack '{name}' has cloud '{cloud}'; expected one of {', '.join(CLOUDS)}")
    template = _template(str(cloud), to, str(residency), stacks_dir)
    source = _load(template.path)["config"]
    sections = ["beta"] if to == "beta" else ["scale"]
    for section in sections:
        if f"{ns}{section}" in config:
            raise NewStackError(f"stack '{name}' already has llm-platform:{section}; set llm-platform:phase: {to} by hand if that is what you want")
        config.insert(len(config), f"{ns}{section}", source[f"{ns}{section}"])
    config[f"{ns}phase"] = to
    # Beta and Scale take NAT gateways only when set: keep the example's setting when the stack has none.
    network = config[f"{ns}poc"].setdefault("network", CommentedMap())
    template_network = source[f"{ns}poc"].get("network") or {}
    if "natGateways" not in network and "natGateways" in template_network:
        network["natGateways"] = template_network["natGateways"]
    for key in ("mirrors",):
        if f"{ns}{key}" not in config and f"{ns}{key}" in source:
            config.insert(len(config), f"{ns}{key}", source[f"{ns}{key}"])
    profile = _profile(str(residency)) if residency in BUILTIN_PROFILES else None
    providers = list(config[f"{ns}poc"].get("apiProviders") or [])
    scale = config.get(f"{ns}scale")
    if scale:
        for route in scale.get("routes") or []:
            if route.get("fallbacks"):
                route["fallbacks"] = CommentedSeq(f for f in route["fallbacks"] if not f.startswith("api:") or f[4:].split("/", 1)[0] in providers)
    beta = config.get(f"{ns}beta")
    if to == "beta" and beta and isinstance(beta.get("bedrock"), Mapping):
        beta["bedrock"]["invocationLogging"] = False
    if profile is not None and to == "beta" and beta and isinstance(beta.get("apiModels"), list):
        beta["apiModels"] = CommentedSeq(m for m in beta["apiModels"] if m.get("provider") in providers)
    _annotate(config)
    after = _dump(data)
    _validate(after, path)
    path.write_text(after, encoding="utf-8")
    return path, before, after


def promotion_diff(name: str, before: str, after: Path, stacks_dir: Path | None = None) -> Any:
    """The plan diff of a promotion: the stack planned from its old text and from its new file,
    under the same stack name (so names match, as in `pulumi up`)."""
    from scripts.engine import plan_stack
    from scripts.ops.diff import diff_graphs

    old = (stacks_dir or STACKS_DIR) / f".Pulumi.{name}.before.yaml"
    old.write_text(before, encoding="utf-8")
    try:
        base = plan_stack(str(old), name).to_json()
    finally:
        old.unlink(missing_ok=True)
    head = plan_stack(str(after), name).to_json()
    return diff_graphs(base, head, f"{name} before", f"{name} promoted")


__all__ = ["NewStackError", "examples", "new_stack", "promote", "promotion_diff"]
