"""Feeds small graphs to the policy pack running as its own process, over the analyzer protocol.

Graphs use the JSON shape of `plan --json`. Resources without a `provider` go through the
default provider, which the audit builds from the graph's `aws:*` / `azure-native:*` config,
as the engine does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from policies.llm_guard.location import SECRET_SIG, SIG_KEY
from scripts.audit import AuditResult, PolicyPackProcess, analyze, validate_graph

STACK = "test"
PROJECT = "llm-platform"


def urn(type_token: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{type_token}::{name}"


def resource(type_token: str, name: str, inputs: Mapping[str, Any] | None = None, *, provider: str | None = None, custom: bool = True, parent: str | None = None) -> dict[str, Any]:
    return {
        "urn": urn(type_token, name),
        "type": type_token,
        "name": name,
        "custom": custom,
        "parent": parent,
        "provider": provider,
        "inputs": dict(inputs or {}),
    }


def aws_provider(name: str, region: str, default_tags: Mapping[str, str] | None = None) -> tuple[dict[str, Any], str]:
    """An explicit provider resource and the reference resources use to point at it."""
    inputs: dict[str, Any] = {"region": region}
    if default_tags is not None:
        inputs["defaultTags"] = json.dumps({"tags": dict(default_tags)})
    res = resource("pulumi:providers:aws", name, inputs)
    return res, f"{res['urn']}::0f0e0d0c-0000-4000-8000-000000000001"


def secret(value: str = "[secret]") -> dict[str, Any]:
    return {SIG_KEY: SECRET_SIG, "value": value}


def tags(profile: str = "eu", **overrides: str) -> dict[str, str]:
    base = {"cost-center": "ai-platform", "owner": "team@example.com", "phase": "beta", "data-residency": profile}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def budget(amount: str = "500.00", emails: Iterable[str] = ("finops@example.com",)) -> dict[str, Any]:
    return resource(
        "aws:budgets/budget:Budget",
        "budget",
        {
            "budgetType": "COST",
            "limitAmount": amount,
            "limitUnit": "USD",
            "timeUnit": "MONTHLY",
            "notifications": [
                {"comparisonOperator": "GREATER_THAN", "threshold": 80, "thresholdType": "PERCENTAGE", "notificationType": "ACTUAL", "subscriberEmailAddresses": list(emails)}
            ],
            "tags": tags(),
        },
    )


def graph(resources: Iterable[Mapping[str, Any]], config: Mapping[str, Any] | None = None, *, with_budget: bool = True) -> dict[str, Any]:
    items = [dict(r) for r in resources]
    if with_budget and not any(r["type"] in ("aws:budgets/budget:Budget", "azure-native:consumption:Budget") for r in items):
        items.append(budget())
    return validate_graph(
        {"project": PROJECT, "stack": STACK, "config": dict(config or {"aws:region": "eu-central-1"}), "resources": items},
        "test graph",
    )


class Auditor:
    def __init__(self, pack: PolicyPackProcess) -> None:
        self.pack = pack

    def __call__(self, g: dict[str, Any], profile: str = "eu", custom_profiles: Mapping[str, Any] | None = None, pack_config: Mapping[str, Any] | None = None) -> AuditResult:
        return analyze(g, profile, dict(custom_profiles or {}), pack_config, self.pack)


def violations(result: AuditResult, rule: str) -> list[Any]:
    return [v for v in result.violations if v.rule == rule]


def assert_violation(result: AuditResult, rule: str, resource_urn: str, prop: str | None = None) -> Any:
    found = [v for v in violations(result, rule) if v.urn == resource_urn and (prop is None or v.property == prop)]
    assert found, f"expected {rule} on {resource_urn} ({prop}); got {[(v.rule, v.urn, v.property) for v in result.violations]}"
    assert all(v.problem and v.fix for v in found)
    return found[0]


def assert_no_violations(result: AuditResult, rule: str | None = None) -> None:
    remaining = [v for v in result.violations if rule is None or v.rule == rule]
    assert not remaining, [(v.rule, v.urn, v.property, v.problem) for v in remaining]
