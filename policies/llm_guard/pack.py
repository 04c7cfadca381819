"""Turns the rule registry into a CrossGuard PolicyPack (the only module that uses pulumi_policy)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from .graph import Res, raw
from .rules import Rule, StackView, load_rules
from .settings import CONFIG_SCHEMA_PROPERTIES, RuleSettings, resolve_settings

PACK_NAME = "llm-platform-guard"
_ENFORCEMENT = {"advisory": EnforcementLevel.ADVISORY, "mandatory": EnforcementLevel.MANDATORY}
_SEVERITY = {"low": Severity.LOW, "medium": Severity.MEDIUM, "high": Severity.HIGH, "critical": Severity.CRITICAL}


def _provider_props(provider: Any) -> dict[str, Any] | None:
    return raw(provider.props) if provider is not None else None


# Components reach stack policies too; they have no provider and belong to no provider package.
_PROVIDER_PACKAGES = frozenset({"aws", "azure-native", "kubernetes", "random", "tls", "command"})


def _is_custom(type_token: str, provider: Any) -> bool:
    return provider is not None or type_token.split(":", 1)[0] in _PROVIDER_PACKAGES


def _provider_missing(type_token: str, provider: Any) -> bool:
    """The CLI sends every custom resource with its provider (the default one included): a resource
    of a provider package without one has a reference nobody could resolve, so it gets no stack
    region by default."""
    return provider is None and type_token.split(":", 1)[0] in _PROVIDER_PACKAGES


def _settings(config: Mapping[str, Any] | None) -> RuleSettings:
    return resolve_settings(config)


def _resource_policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        settings = _settings(args.get_config())
        if rule.needs_profile and settings.profile is None:
            return  # residency-profile-configured fails the stack instead
        provider = args.provider
        res = Res(
            urn=args.urn,
            type=args.resource_type,
            name=args.name,
            props=raw(args.props),
            provider_props=_provider_props(provider),
            provider_type=provider.resource_type if provider is not None else "",
            provider_urn=provider.urn if provider is not None else "",
            parent=args.opts.parent if args.opts else None,
            provider_missing=_provider_missing(args.resource_type, provider),
        )
        for finding in rule.check(res, settings):
            report(finding.render(), None)

    return ResourceValidationPolicy(validate=validate, **_metadata(rule))


def _stack_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        settings = _settings(args.get_config())
        if rule.needs_profile and settings.profile is None:
            return
        resources = [
            Res(
                urn=r.urn,
                type=r.resource_type,
                name=r.name,
                props=raw(r.props),
                provider_props=_provider_props(r.provider),
                provider_type=r.provider.resource_type if r.provider is not None else "",
                provider_urn=r.provider.urn if r.provider is not None else "",
                parent=r.parent.urn if r.parent is not None else None,
                custom=_is_custom(r.resource_type, r.provider),
                provider_missing=_provider_missing(r.resource_type, r.provider),
            )
            for r in args.resources
        ]
        stack = StackView(resources, settings.stack_config)
        for finding in rule.check(stack, settings):
            report(finding.render(), finding.urn or None)

    return StackValidationPolicy(validate=validate, **_metadata(rule))


def _metadata(rule: Rule) -> dict[str, Any]:
    """What both kinds of policy register about a rule."""
    return {
        "name": rule.name,
        "description": rule.description,
        "enforcement_level": _ENFORCEMENT[rule.enforcement],
        "config_schema": PolicyConfigSchema(properties=CONFIG_SCHEMA_PROPERTIES),
        "severity": _SEVERITY[rule.severity],
        "remediation_steps": rule.remediation,
    }


def build_policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    return [_resource_policy(r) if r.scope == "resource" else _stack_policy(r) for r in load_rules()]


def build_pack() -> PolicyPack:
    """Starting the pack serves the analyzer protocol until the CLI stops it."""
    return PolicyPack(
        name=PACK_NAME,
        policies=build_policies(),  # type: ignore[arg-type]
        enforcement_level=EnforcementLevel.MANDATORY,
        description="Data residency and budget-tag guardrails for the llm-platform blueprints.",
        display_name="LLM platform residency and budget guard",
        provider="llm-platform",
        tags=["residency", "finops", "llm"],
    )
