"""Residency profiles: named rules for where data may be stored and processed.

The stacks use a profile to choose regions and model routes; the policy pack uses the same
profile to check the result independently. Users may define their own profiles (stack config
`llm-platform:residencyProfiles`, or the policy config `customProfile`), validated by the same
model.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .regions import AWS_PARTITION_REGIONS, AZURE_CLOUD_REGIONS, normalize_azure_location
from .routing import (
    API_PROVIDERS,
    AZURE_DATA_ZONE_REGIONS,
    BEDROCK_PROFILE_DESTINATIONS,
    ApiProvider,
)

AwsPartition = Literal["aws", "aws-cn", "aws-us-gov"]
AzureCloud = Literal["public", "china", "usgovernment"]
Geography = Literal["cn", "eu", "us"]
ProfileName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")]


class ResidencyProfile(BaseModel):
    """Where a stack's data may live (`*Regions`) and where prompts may be processed."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: ProfileName
    description: str = ""
    aws_partition: AwsPartition = Field("aws", alias="awsPartition")
    aws_regions: frozenset[str] = Field(alias="awsRegions")
    azure_cloud: AzureCloud = Field("public", alias="azureCloud")
    azure_regions: frozenset[str] = Field(alias="azureRegions")
    # Regions Bedrock may process a prompt in. Cross-region inference profiles are allowed only
    # when every destination of their prefix is listed here. Empty = in-region model ids only.
    bedrock_processing_regions: frozenset[str] = Field(frozenset(), alias="bedrockProcessingRegions")
    bedrock_allowed: bool = Field(True, alias="bedrockAllowed")
    azure_openai_data_zone: Geography | None = Field(None, alias="azureOpenAIDataZone")
    allow_global_processing: bool = Field(False, alias="allowGlobalProcessing")
    # Geographies whose third-party LLM APIs may receive prompts.
    api_geographies: frozenset[Geography] = Field(frozenset(), alias="apiGeographies")

    @field_validator("azure_regions", mode="before")
    @classmethod
    def _normalise_azure(cls, value: object) -> object:
        if isinstance(value, (list, tuple, set, frozenset)):
            return frozenset(normalize_azure_location(str(v)) for v in value)
        return value

    @field_validator("aws_regions", "bedrock_processing_regions", "api_geographies", mode="before")
    @classmethod
    def _list_as_set(cls, value: object) -> object:
        # The stack config loader validates strictly, and a profile reached through the
        # residencyProfiles naming step is Python data there: strict mode takes no list for a set.
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return frozenset(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ResidencyProfile:
        known_aws = AWS_PARTITION_REGIONS[self.aws_partition]
        unknown = sorted(self.aws_regions - known_aws)
        if unknown:
            raise ValueError(
                f"awsRegions {unknown} are not regions of the AWS partition '{self.aws_partition}'"
            )
        known_azure = AZURE_CLOUD_REGIONS[self.azure_cloud]
        unknown = sorted(self.azure_regions - known_azure)
        if unknown:
            raise ValueError(
                f"azureRegions {unknown} are not regions of the Azure cloud '{self.azure_cloud}'"
            )
        if self.aws_partition == "aws-cn" and self.bedrock_allowed:
            raise ValueError("bedrockAllowed must be false: Bedrock has no endpoint in aws-cn")
        return self

    # -- questions the stacks and the rules ask -------------------------------------------

    def allows_aws_region(self, region: str) -> bool:
        return region in self.aws_regions

    def allows_azure_region(self, location: str) -> bool:
        return normalize_azure_location(location) in self.azure_regions

    def allows_processing_in(self, regions: frozenset[str] | None) -> bool:
        """May Bedrock process prompts in every one of `regions` (None = anywhere)?"""
        if self.allow_global_processing:
            return True
        if regions is None:
            return False
        return regions <= (self.bedrock_processing_regions | self.aws_regions)

    def allowed_bedrock_prefixes(self) -> list[str]:
        return sorted(
            prefix
            for prefix, dest in BEDROCK_PROFILE_DESTINATIONS.items()
            if self.bedrock_allowed and self.allows_processing_in(dest)
        )

    def allowed_azure_openai_skus(self) -> list[str]:
        from .routing import AZURE_OPENAI_SKU_SCOPE

        allowed = []
        for sku, scope in AZURE_OPENAI_SKU_SCOPE.items():
            # Global processing includes any data zone (the pack's azure-openai-deployment-type agrees).
            if scope == "regional" or (scope == "datazone" and (self.azure_openai_data_zone or self.allow_global_processing)) or (
                scope == "global" and self.allow_global_processing
            ):
                allowed.append(sku)
        return allowed

    def allows_api_provider(self, provider: str) -> bool:
        """A built-in provider by name (custom ones: `allows_api`)."""
        api = API_PROVIDERS.get(provider)
        return api is not None and self.allows_api(api)

    def allows_api(self, api: ApiProvider) -> bool:
        """May prompts go to this API (built-in or declared custom), by its processing geography?"""
        return self.allow_global_processing or api.geography in self.api_geographies

    def allowed_api_providers(self) -> list[str]:
        return sorted(p for p in API_PROVIDERS if self.allows_api_provider(p))


_EU_MEMBER_AWS = frozenset(
    {"eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1", "eu-south-1", "eu-south-2"}
)
# The EU data zone plus the restricted member-state regions that are the GRS pairs of
# francecentral, germanywestcentral and swedencentral.
_EU_MEMBER_AZURE = AZURE_DATA_ZONE_REGIONS["eu"] | {"francesouth", "germanynorth", "swedensouth"}
_US_AWS = frozenset({"us-east-1", "us-east-2", "us-west-1", "us-west-2"})

BUILTIN_PROFILES: Final[dict[str, ResidencyProfile]] = {
    p.name: p
    for p in (
        ResidencyProfile(
            name="cn",
            description="Mainland China: aws-cn partition or the Azure China cloud; domestic APIs only; no Bedrock.",
            aws_partition="aws-cn",
            aws_regions=AWS_PARTITION_REGIONS["aws-cn"],
            azure_cloud="china",
            azure_regions=frozenset({"chinaeast2", "chinaeast3", "chinanorth2", "chinanorth3"}),
            bedrock_allowed=False,
            api_geographies=frozenset({"cn"}),
        ),
        ResidencyProfile(
            name="eu",
            description=(
                "EU member-state regions for data at rest. Bedrock `eu.` profiles are accepted "
                "although some also route prompts to London (eu-west-2) and Zurich (eu-central-2)."
            ),
            aws_regions=_EU_MEMBER_AWS,
            azure_regions=_EU_MEMBER_AZURE,
            bedrock_processing_regions=BEDROCK_PROFILE_DESTINATIONS["eu"] or frozenset(),
            azure_openai_data_zone="eu",
            api_geographies=frozenset({"eu"}),
        ),
        ResidencyProfile(
            name="eu-strict",
            description="EU member states only, for storage and processing: in-region Bedrock model ids only.",
            aws_regions=_EU_MEMBER_AWS,
            azure_regions=_EU_MEMBER_AZURE,
            azure_openai_data_zone="eu",
            api_geographies=frozenset({"eu"}),
        ),
        ResidencyProfile(
            name="us",
            description="United States regions; Bedrock `us.` profiles; US APIs.",
            aws_regions=_US_AWS,
            azure_regions=AZURE_DATA_ZONE_REGIONS["us"],
            bedrock_processing_regions=BEDROCK_PROFILE_DESTINATIONS["us"] or frozenset(),
            azure_openai_data_zone="us",
            api_geographies=frozenset({"us"}),
        ),
        ResidencyProfile(
            name="global",
            description="Any commercial region; anything goes, including `global.` profiles and Global* SKUs.",
            aws_regions=AWS_PARTITION_REGIONS["aws"],
            azure_regions=AZURE_CLOUD_REGIONS["public"],
            bedrock_processing_regions=AWS_PARTITION_REGIONS["aws"],
            allow_global_processing=True,
            api_geographies=frozenset({"cn", "eu", "us"}),
        ),
    )
}


class UnknownProfileError(ValueError):
    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(f"unknown residency profile '{name}'; known profiles: {', '.join(available)}")
        self.name = name
        self.available = available


def shadowing_profiles(custom: dict[str, ResidencyProfile] | dict[str, object]) -> list[str]:
    """Custom profile names that reuse a built-in's name: a `cn` that allows Bedrock must never
    pass for the built-in `cn`."""
    return sorted(name for name in custom if name in BUILTIN_PROFILES)


def resolve_profile(name: str, custom: dict[str, ResidencyProfile] | None = None) -> ResidencyProfile:
    """The profile called `name`: a built-in one first (a custom profile cannot shadow it), else custom."""
    custom = custom or {}
    if name in BUILTIN_PROFILES:
        return BUILTIN_PROFILES[name]
    if name in custom:
        return custom[name]
    raise UnknownProfileError(name, sorted({*BUILTIN_PROFILES, *custom}))
