"""Which Bedrock models run where, how long they stay, and how a stack picks the id it invokes.

Availability from the AWS Bedrock user guide ("Model support by AWS Region", "Supported
Regions and models for inference profiles", "Supported Regions and models for batch inference"),
as of late 2025, and Anthropic's "Claude on Amazon Bedrock" table of base ids and profile
prefixes (platform.claude.com/docs/en/build-with-claude/claude-on-amazon-bedrock, read
2026-11-30); Bedrock adds regions often, so a stack may override both lists per model
(`inRegions`, `profilePrefixes`). (verify) entries before relying on them for a new region.

Lifecycle (launch, Legacy, EOL on Bedrock) from the AWS "Model lifecycle" pages
(https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html and
model-lifecycle-legacy.html for models launched before 2026-09-07, read 2026-11-30) and the
model cards. Only Bedrock's dates apply, not the model provider's. `eol=None` means no EOL date
was published when read: re-read the page when you add a model or a quarter has passed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Final

from policies.llm_guard.profiles import ResidencyProfile
from policies.llm_guard.routing import BEDROCK_GEOGRAPHY_BY_REGION_PREFIX, BEDROCK_PROFILE_DESTINATIONS

LIFECYCLE_SOURCE = "https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html (read 2026-11-30)"
# A model whose EOL is this close is a warning in every plan: time to migrate and re-test.
EOL_WARNING_DAYS = 90


@dataclass(frozen=True)
class Lifecycle:
    launched: date | None
    legacy: date | None = None  # entered Legacy (no new customers; extended-access pricing later)
    eol: date | None = None  # requests fail from this day
    source: str = LIFECYCLE_SOURCE


@dataclass(frozen=True)
class BedrockModel:
    model_id: str
    in_regions: frozenset[str]  # regions serving the model on demand without a profile
    profiles: frozenset[str]  # cross-region prefixes offering it
    kind: str = "chat"  # chat | embedding
    lifecycle: Lifecycle = Lifecycle(None)


def _m(model_id: str, regions: Iterable[str], profiles: Iterable[str], kind: str = "chat", *, lifecycle: Lifecycle) -> BedrockModel:
    return BedrockModel(model_id, frozenset(regions), frozenset(profiles), kind, lifecycle)


_EU_AND_MORE = ("us-east-1", "us-west-2", "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ca-central-1", "sa-east-1")

CATALOG: Final[dict[str, BedrockModel]] = {
    m.model_id: m
    for m in (
        _m("anthropic.claude-3-haiku-20240307-v1:0", _EU_AND_MORE, ("us", "eu", "apac"), lifecycle=Lifecycle(date(2024, 3, 14))),
        # Legacy, public extended access from 2025-12-01, EOL 2026-03-01 (AWS release note quoted in
        # educative.io "The final countdown for Claude 3.5 Sonnet", 2025-10-31).
        _m(
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            ("us-east-1", "us-west-2", "eu-central-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1"),
            ("us", "eu", "apac"),
            lifecycle=Lifecycle(date(2024, 6, 20), eol=date(2026, 3, 1)),
        ),
        # Legacy 2025-10-28, EOL 2026-04-28 (Bedrock model lifecycle, legacy table).
        _m("anthropic.claude-3-7-sonnet-20250219-v1:0", (), ("us", "eu", "apac"), lifecycle=Lifecycle(date(2025, 2, 24), legacy=date(2025, 10, 28), eol=date(2026, 4, 28))),
        _m("anthropic.claude-sonnet-4-5-20250929-v1:0", (), ("us", "eu", "apac", "jp", "au", "global"), lifecycle=Lifecycle(date(2025, 9, 29))),
        # Launched on Bedrock 2026-02-17; under the pre-2026-09-07 policy it stays at least 12 months.
        _m("anthropic.claude-sonnet-4-6", (), ("us", "eu", "jp", "global"), lifecycle=Lifecycle(date(2026, 2, 17))),
        # Model card: launched 2025-10-16, "EOL no sooner than 10/1/2026"; no EOL published when read.
        _m("anthropic.claude-haiku-4-5-20251001-v1:0", (), ("us", "eu", "apac", "jp", "au", "global"), lifecycle=Lifecycle(date(2025, 10, 16))),
        _m("amazon.nova-pro-v1:0", ("us-east-1", "us-gov-west-1"), ("us", "eu", "apac"), lifecycle=Lifecycle(date(2024, 12, 3))),
        _m("amazon.nova-lite-v1:0", ("us-east-1", "us-gov-west-1"), ("us", "eu", "apac"), lifecycle=Lifecycle(date(2024, 12, 3))),
        _m("amazon.nova-micro-v1:0", ("us-east-1", "us-gov-west-1"), ("us", "eu", "apac"), lifecycle=Lifecycle(date(2024, 12, 3))),
        _m("meta.llama3-1-70b-instruct-v1:0", ("us-west-2",), ("us",), lifecycle=Lifecycle(date(2024, 7, 23))),
        _m("mistral.mistral-large-2402-v1:0", ("us-east-1", "us-west-2", "eu-west-3", "ap-south-1", "ap-southeast-2", "ca-central-1", "sa-east-1"), (), lifecycle=Lifecycle(date(2024, 4, 2))),
        _m(
            "amazon.titan-embed-text-v2:0",
            ("us-east-1", "us-west-2", "us-gov-west-1", "ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-2", "ca-central-1", "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1"),
            (),
            "embedding",
            lifecycle=Lifecycle(date(2024, 4, 30)),
        ),
        _m(
            "cohere.embed-multilingual-v3",
            ("us-east-1", "us-west-2", "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1"),
            (),
            "embedding",
            lifecycle=Lifecycle(date(2023, 11, 13)),
        ),
    )
}


def retired_problem(model_id: str, today: date) -> str | None:
    """Why a model can no longer be invoked on Bedrock (a config error), or None."""
    known = CATALOG.get(model_id)
    eol = known.lifecycle.eol if known else None
    if eol is None or today < eol:
        return None
    successors = ", ".join(sorted(m for m, v in CATALOG.items() if v.kind == known.kind and v.lifecycle.eol is None))  # type: ignore[union-attr]
    return f"reached end-of-life on Bedrock on {eol.isoformat()} (every call fails; source: {known.lifecycle.source}); pick a current model, e.g. {successors}"  # type: ignore[union-attr]


def lifecycle_warning(model_id: str, today: date, within_days: int = EOL_WARNING_DAYS) -> str | None:
    """A warning for a model in Legacy or retiring within `within_days`, or None."""
    known = CATALOG.get(model_id)
    if known is None:
        return None
    life = known.lifecycle
    if life.eol is not None and today < life.eol and (life.eol - today).days <= within_days:
        return f"Bedrock model {model_id} reaches end-of-life on {life.eol.isoformat()} ({(life.eol - today).days} days): migrate before then (source: {life.source})"
    if life.legacy is not None and today >= life.legacy and (life.eol is None or today < life.eol):
        return f"Bedrock model {model_id} is Legacy since {life.legacy.isoformat()}{f', end-of-life {life.eol.isoformat()}' if life.eol else ''}: plan the migration (source: {life.source})"
    return None


class ModelChoiceError(ValueError):
    """No invocation of this model satisfies the region, the profile and the routing asked for."""


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # the stack's name for it (application inference profile name)
    model_id: str  # the foundation model id
    prefix: str | None  # cross-region prefix, None = in-region
    region: str

    @property
    def invoke_id(self) -> str:
        return f"{self.prefix}.{self.model_id}" if self.prefix else self.model_id

    def destinations(self) -> frozenset[str]:
        """Regions Bedrock may run the model in; a `global.` profile is never resolved here."""
        if self.prefix is None:
            return frozenset({self.region})
        dest = BEDROCK_PROFILE_DESTINATIONS[self.prefix]
        assert dest is not None, "global profiles have no fixed destination list"
        return dest

    def source_arn(self, partition: str, account_id: str) -> str:
        """What an application inference profile copies from: a model or a system profile."""
        if self.prefix is None:
            return f"arn:{partition}:bedrock:{self.region}::foundation-model/{self.model_id}"
        return f"arn:{partition}:bedrock:{self.region}:{account_id}:inference-profile/{self.invoke_id}"

    def foundation_model_arns(self, partition: str) -> list[str]:
        """Foundation-model ARNs in every destination region: what IAM must allow, by name."""
        return [f"arn:{partition}:bedrock:{r}::foundation-model/{self.model_id}" for r in sorted(self.destinations())]


def geography_of(region: str) -> str | None:
    for prefix, geography in BEDROCK_GEOGRAPHY_BY_REGION_PREFIX.items():
        if region.startswith(prefix):
            return geography
    return None


def resolve_model(
    name: str,
    model_id: str,
    routing: str,
    region: str,
    profile: ResidencyProfile,
    in_regions: Iterable[str] | None = None,
    profile_prefixes: Iterable[str] | None = None,
    today: date | None = None,
) -> ResolvedModel:
    """The invocation to use: the profile's cross-region prefix when allowed and offered
    (routing auto/cross-region), else the in-region model id (auto/in-region)."""
    known = CATALOG.get(model_id)
    retired = retired_problem(model_id, today or date.today())
    if retired:
        raise ModelChoiceError(retired)
    if known is None and in_regions is None and profile_prefixes is None:
        raise ModelChoiceError(f"is not in the Bedrock catalog (components/aws/bedrock_catalog.py); known: {', '.join(sorted(CATALOG))}; or declare its availability with inRegions/profilePrefixes")
    regions = frozenset(in_regions) if in_regions is not None else (known.in_regions if known else frozenset())
    prefixes = frozenset(profile_prefixes) if profile_prefixes is not None else (known.profiles if known else frozenset())
    geography = geography_of(region)
    allowed = set(profile.allowed_bedrock_prefixes())
    cross = geography if geography in prefixes and geography in allowed and geography != "global" else None
    if routing in ("auto", "cross-region") and cross:
        return ResolvedModel(name, model_id, cross, region)
    if routing == "cross-region":
        why = f"the profile '{profile.name}' does not allow '{geography}.' routing" if geography in prefixes else f"no '{geography}.' inference profile offers it"
        raise ModelChoiceError(f"cannot route cross-region from {region}: {why}; use routing 'in-region' or 'auto'")
    if region in regions:
        return ResolvedModel(name, model_id, None, region)
    hint = f" (offered through {', '.join(sorted(p + '.' for p in prefixes))} profiles, which profile '{profile.name}' does not allow here)" if prefixes else ""
    raise ModelChoiceError(f"is not offered in-region in {region}{hint}; pick a model served in {region} or a region that serves it")
