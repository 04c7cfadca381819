"""Without a residency profile nothing can be checked: that itself fails the stack."""

from __future__ import annotations

from collections.abc import Iterator

from ..graph import Finding
from ..settings import RuleSettings
from . import StackView, rule


@rule(
    "residency-profile-configured",
    description="A residency profile is configured (policy config `profile`, or the stack's llm-platform:residency) and valid; "
    "without one every residency rule would pass silently.",
    severity="critical",
    scope="stack",
    remediation="Run with --policy-pack-config policies/config/<profile>.json, or set llm-platform:residency in the stack config.",
    needs_profile=False,
)
def residency_profile_configured(stack: StackView, settings: RuleSettings) -> Iterator[Finding]:
    if settings.profile is None:
        yield Finding("", "profile", None, settings.problem or "no residency profile.", "Configure a known profile.")
