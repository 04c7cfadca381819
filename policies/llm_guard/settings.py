"""What a rule is configured with: the residency profile and the required tags.

Policy config (`pulumi preview --policy-pack-config FILE`) gives each policy:
    {"profile": "eu", "customProfiles": {...}, "requiredTags": ["cost-center", ...]}
When a policy has no `profile`, the stack's own `llm-platform:residency` (and
`llm-platform:residencyProfiles`) is used; with neither, the `residency-profile-configured`
rule fails the stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .graph import decode_json
from .profiles import ResidencyProfile, UnknownProfileError, resolve_profile, shadowing_profiles

DEFAULT_REQUIRED_TAGS = ("cost-center", "owner", "phase", "data-residency")

CONFIG_SCHEMA_PROPERTIES: dict[str, dict[str, Any]] = {
    "profile": {"type": "string", "description": "residency profile: cn, eu, eu-strict, us, global or a custom one"},
    "customProfiles": {"type": "object", "description": "custom residency profiles by name (same fields as llm-platform:residencyProfiles)"},
    "requiredTags": {"type": "array", "items": {"type": "string"}, "description": "tags every taggable resource must carry"},
}


@dataclass(frozen=True)
class RuleSettings:
    profile: ResidencyProfile | None
    required_tags: tuple[str, ...] = DEFAULT_REQUIRED_TAGS
    problem: str | None = None  # why there is no profile
    source: str = ""
    stack_config: Mapping[str, Any] = field(default_factory=dict)


def _stack_config_value(key: str) -> Any:
    try:
        import pulumi.runtime

        value = pulumi.runtime.get_config(key)
    except Exception:  # noqa: BLE001 - no runtime settings: no stack config
        return None
    return decode_json(value)


def stack_config() -> dict[str, Any]:
    # llm-platform:poc carries customProviders, whose declared geographies the API rules judge.
    keys = ("aws:region", "azure-native:location", "azure-native:environment", "llm-platform:residency", "llm-platform:residencyProfiles", "llm-platform:poc")
    return {k: v for k in keys if (v := _stack_config_value(k)) is not None}


def _custom_profiles(raw_profiles: Any) -> dict[str, ResidencyProfile]:
    if not raw_profiles:
        return {}
    if not isinstance(raw_profiles, Mapping):
        raise ValueError("customProfiles must be an object of profiles by name")
    return {name: ResidencyProfile.model_validate({"name": name, **dict(body)}) for name, body in raw_profiles.items()}


def resolve_settings(policy_config: Mapping[str, Any] | None) -> RuleSettings:
    config = dict(policy_config or {})
    stack = stack_config()
    tags = tuple(config.get("requiredTags") or DEFAULT_REQUIRED_TAGS)
    name = config.get("profile")
    custom_raw = config.get("customProfiles")
    source = "policy config"
    if not name:
        name = stack.get("llm-platform:residency")
        custom_raw = custom_raw or stack.get("llm-platform:residencyProfiles")
        source = "stack config llm-platform:residency"
    if not name:
        return RuleSettings(None, tags, "no residency profile: set `profile` in the policy config or llm-platform:residency in the stack", "", stack)
    try:
        custom = _custom_profiles(custom_raw)
        if shadowed := shadowing_profiles(custom):
            names = ", ".join(shadowed)
            return RuleSettings(None, tags, f"custom residency profile(s) {names} reuse a built-in profile's name; a custom profile may not shadow a built-in one (rename it)", source, stack)
        profile = resolve_profile(str(name), custom)
    except UnknownProfileError as exc:
        return RuleSettings(None, tags, str(exc), source, stack)
    except (ValidationError, ValueError, TypeError) as exc:
        first = str(exc).splitlines()[0]
        return RuleSettings(None, tags, f"invalid custom residency profile: {first}", source, stack)
    return RuleSettings(profile, tags, None, source, stack)
