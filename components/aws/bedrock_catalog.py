"""Which Bedrock models run where, and how a stack picks the id it invokes.

Availability from the AWS Bedrock user guide ("Model support by AWS Region", "Supported
Regions and models for inference profiles", "Supported Regions and models for batch inference"),
as of late 2025; Bedrock adds regions often, so a stack may override both lists per model
(`inRegions`, `profilePrefixes`). (verify) entries before relying on them for a new region.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from policies.llm_guard.profiles import ResidencyProfile
from policies.llm_guard.routing import BEDROCK_GEOGRAPHY_BY_REGION_PREFIX, BEDROCK_PROFILE_DESTINATIONS


@dataclass(frozen=True)
class BedrockModel:
    model_id: str
    in_regions: frozenset[str]  # regions serving the model on demand without a profile
    profiles: frozenset[str]  # cross-region prefixes offering it
    kind: str = "chat"  # chat | embedding


def _m(model_id: str, regions: Iterable[str], profiles: Iterable[str], kind: str = "chat") -> BedrockModel:
    return BedrockModel(model_id, frozenset(regions), frozenset(profiles), kind)


_EU_AND_MORE = ("us-east-1", "us-west-2", "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ca-central-1", "sa-east-1")

CATALOG: Final[dict[str, BedrockModel]] = {
    m.model_id: m
    for m in (
        _m("anthropic.claude-3-haiku-20240307-v1:0", _EU_AND_MORE, ("us", "eu", "apac")),
        _m("anthropic.claude-3-5-sonnet-20240620-v1:0", ("us-east-1", "us-west-2", "eu-central-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1"), ("us", "eu", "apac")),
        _m("anthropic.claude-3-7-sonnet-20250219-v1:0", (), ("us", "eu", "apac")),
        _m("anthropic.claude-sonnet-4-5-20250929-v1:0", (), ("us", "eu", "apac", "jp", "au", "global")),
        _m("anthropic.claude-haiku-4-5-20251001-v1:0", (), ("us", "eu", "apac", "jp", "au", "global")),
        _m("amazon.nova-pro-v1:0", ("us-east-1", "us-gov-west-1"), ("us", "eu", "apac")),
        _m("amazon.nova-lite-v1:0", ("us-east-1", "us-gov-west-1"), ("us", "eu", "apac")),
        _m("amazon.nova-micro-v1:0", ("us-east-1", "us-gov-west-1"), ("us", "eu", "apac")),
        _m("meta.llama3-1-70b-instruct-v1:0", ("us-west-2",), ("us",)),
        _m("mistral.mistral-large-2402-v1:0", ("us-east-1", "us-west-2", "eu-west-3", "ap-south-1", "ap-southeast-2", "ca-central-1", "sa-east-1"), ()),
        _m(
            "amazon.titan-embed-text-v2:0",
            ("us-east-1", "us-west-2", "us-gov-west-1", "ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-2", "ca-central-1", "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1"),
            (),
            "embedding",
        ),
        _m(
            "cohere.embed-multilingual-v3",
            ("us-east-1", "us-west-2", "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1"),
            (),
            "embedding",
        ),
    )
}


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
) -> ResolvedModel:
    """The invocation to use: the profile's cross-region prefix when allowed and offered
    (routing auto/cross-region), else the in-region model id (auto/in-region)."""
    known = CATALOG.get(model_id)
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
