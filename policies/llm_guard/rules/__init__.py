"""Rules as plain functions, each registered once with its metadata.

A resource rule is `check(res, settings) -> Iterable[Finding]`; a stack rule is
`check(stack, settings) -> Iterable[Finding]` where `stack` gives every resource and where each
lives. `pack.py` turns the registry into CrossGuard policies; nothing else knows about the SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ..graph import Finding, Res
from ..location import Location, LocationResolver
from ..settings import RuleSettings

Severity = Literal["low", "medium", "high", "critical"]
Enforcement = Literal["advisory", "mandatory"]


class StackView:
    """All resources of the stack, with locations resolved by the shared resolver."""

    def __init__(self, resources: list[Res], stack_config: dict[str, Any]) -> None:
        self.resources = resources
        self.by_urn = {r.urn: r for r in resources}
        self._resolver = LocationResolver([r.graph() for r in resources], stack_config)
        self.stack_config = stack_config

    def location(self, res: Res) -> Location:
        return self._resolver.resolve(res.graph())

    def of_type(self, *types: str) -> list[Res]:
        return [r for r in self.resources if r.type in types]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    severity: Severity
    enforcement: Enforcement
    remediation: str
    scope: Literal["resource", "stack"]
    check: Callable[..., Iterable[Finding]]
    needs_profile: bool = True


RULES: list[Rule] = []


def rule(
    name: str,
    *,
    description: str,
    severity: Severity,
    remediation: str,
    scope: Literal["resource", "stack"],
    enforcement: Enforcement = "mandatory",
    needs_profile: bool = True,
) -> Callable[[Callable[..., Iterable[Finding]]], Callable[..., Iterable[Finding]]]:
    def register(func: Callable[..., Iterable[Finding]]) -> Callable[..., Iterable[Finding]]:
        RULES.append(Rule(name, description, severity, enforcement, remediation, scope, func, needs_profile))
        return func

    return register


def load_rules() -> list[Rule]:
    """Import every rule module (registration is a side effect of the import), in a stable order."""
    from . import budget, endpoints, gateway, iam, preview, profile, replication, residency, routing, sources, tags  # noqa: F401

    return sorted(RULES, key=lambda r: r.name)


__all__ = ["RULES", "Finding", "Res", "Rule", "RuleSettings", "StackView", "load_rules", "rule"]
