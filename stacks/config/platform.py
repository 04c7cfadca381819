"""The whole stack: `PlatformConfig`, every `llm-platform:` key, and what it derives."""

from __future__ import annotations

from typing import Any

from pydantic import (
    Field,
    field_validator,
)

from policies.llm_guard.profiles import (
    ResidencyProfile,
    resolve_profile,
)
from stacks.config.base import BudgetConfig, Cloud, Phase, TagsConfig, _Model
from stacks.config.beta import BetaConfig
from stacks.config.mirrors import MirrorsConfig
from stacks.config.poc import PocConfig
from stacks.config.scale import ScaleConfig

# --------------------------------------------------------------------------- the whole stack


class PlatformConfig(_Model):
    """Everything under `llm-platform:`, plus the cloud location the provider config sets."""

    phase: Phase
    cloud: Cloud
    residency: str = Field(min_length=1)
    residency_profiles: dict[str, ResidencyProfile] = Field(default_factory=dict, alias="residencyProfiles")
    tags: TagsConfig
    budget: BudgetConfig
    poc: PocConfig
    beta: BetaConfig | None = None
    scale: ScaleConfig | None = None
    mirrors: MirrorsConfig = Field(default_factory=MirrorsConfig)
    # Access-restricted Azure regions (policies/llm_guard/regions.py) this stack's subscription has
    # been granted: naming the region, not a yes/no, so moving the stack to another one asks again.
    restricted_region_access: list[str] = Field(default_factory=list, alias="restrictedRegionAccess", max_length=10)

    # Filled from the provider namespaces by `load_config`, not from `llm-platform:`.
    region: str = ""
    azure_environment: str = "public"
    api_key_keys: dict[str, str] = Field(default_factory=dict)
    hugging_face_token_key: str | None = None

    @field_validator("residency_profiles", mode="before")
    @classmethod
    def _named(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {name: {"name": name, **body} if isinstance(body, dict) else body for name, body in v.items()}
        return v

    @property
    def profile(self) -> ResidencyProfile:
        return resolve_profile(self.residency, self.residency_profiles)

    @property
    def aws_partition(self) -> str:
        return self.profile.aws_partition

    @property
    def bedrock_invocation_logging(self) -> bool:
        """Whether this stack owns the account-and-region Bedrock invocation logging configuration."""
        bedrock = self.beta.bedrock if self.phase is not Phase.POC and self.beta else None
        return bool(bedrock and bedrock.invocation_logging)

    def nat_gateways(self) -> int:
        configured = self.poc.network.nat_gateways
        if configured is not None:
            return configured
        return 1 if self.phase is Phase.POC else 0


KNOWN_KEYS = ("phase", "cloud", "residency", "residencyProfiles", "tags", "budget", "poc", "beta", "scale", "mirrors", "restrictedRegionAccess")
SECRET_KEYS = ("huggingFaceToken",)  # besides the <provider>ApiKey secrets
