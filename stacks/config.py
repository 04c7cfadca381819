"""The typed stack config: every `llm-platform:` key, validated before any resource exists.

`load_config` takes the raw Pulumi config (key -> string, structured values JSON-encoded, as
the engine hands them to a program) and the set of secret keys, and returns a `PlatformConfig`
or raises `ConfigError` naming each bad key, its value and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import types
import typing
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from components.azure.clouds import CLOUDS
from components.mirrors import Mirrors
from policies.llm_guard.profiles import (
    BUILTIN_PROFILES,
    ResidencyProfile,
    UnknownProfileError,
    resolve_profile,
)
from policies.llm_guard.regions import AWS_PARTITION_REGIONS, AZURE_CLOUD_REGIONS, normalize_azure_location
from policies.llm_guard.routing import API_PROVIDERS
from stacks.errors import ConfigError, ConfigProblem

NAMESPACE = "llm-platform"
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
# AWS tag keys and values: letters and digits (any script), spaces and _ . : / = + - @; keys up to
# 128, values up to 256 characters; the prefix aws: is reserved (docs.aws.amazon.com/tag-editor/
# latest/userguide/tagging.html, "Tag naming limits and requirements", read 2026-12-01).
_AWS_TAG_CHARS = re.compile(r"^[\w .:/=+\-@]*$", re.UNICODE)
# Azure tag names may not contain < > % & \ ? /; names up to 512, values up to 256 characters;
# names are case-insensitive (learn.microsoft.com/azure/azure-resource-manager/management/
# tag-resources#limitations, read 2026-12-01).
_AZURE_TAG_FORBIDDEN = re.compile(r"[<>%&\\?/]")
# components/tags.py labels Kubernetes objects `llm-platform.io/<tag key>`: the name part of a label
# key is at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric
# (kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set).
_K8S_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
# CloudWatch Logs accepts only these retention periods.
CLOUDWATCH_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


class Phase(StrEnum):
    POC = "poc"
    BETA = "beta"
    SCALE = "scale"

    @property
    def rank(self) -> int:
        return list(Phase).index(self)


class Cloud(StrEnum):
    AWS = "aws"
    AZURE = "azure"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)


# --------------------------------------------------------------------------- tags and budget

RESERVED_TAGS = ("phase", "data-residency")


class TagsConfig(_Model):
    """Required `cost-center` and `owner`, plus any extra tags the user wants on everything."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, str_strip_whitespace=True)

    cost_center: str = Field(alias="cost-center", min_length=1, max_length=256)
    owner: str = Field(min_length=1, max_length=256)

    @model_validator(mode="after")
    def _check_extras(self) -> TagsConfig:
        seen = {"cost-center", "owner"}
        for key, value in (self.model_extra or {}).items():
            # AWS tag keys are case-sensitive, Azure tag names are not: Data-Residency would be a
            # second data-residency tag on AWS and the same one on Azure.
            if key.lower() in RESERVED_TAGS:
                raise ValueError(f"tag '{key}' is set by the platform from the stack config (tags are compared case-insensitively); remove it")
            if key.lower() in seen:
                raise ValueError(f"tag '{key}' is given twice (Azure compares tag names case-insensitively); keep one")
            seen.add(key.lower())
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"tag '{key}' needs a non-empty string value")
            if len(key) > 128 or len(value) > 256:
                raise ValueError(f"tag '{key}' is too long (keys up to 128, values up to 256 characters)")
            if key.lower().startswith("aws:"):
                raise ValueError(f"tag '{key}' uses the reserved prefix 'aws:'")
        return self

    def extras(self) -> dict[str, str]:
        return {k: str(v) for k, v in (self.model_extra or {}).items()}

    def all(self) -> dict[str, str]:
        return {"cost-center": self.cost_center, "owner": self.owner, **self.extras()}


Email = Annotated[str, Field(pattern=_EMAIL.pattern, max_length=254)]


class BudgetConfig(_Model):
    amount: float = Field(gt=0, le=10_000_000)
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    # Alert thresholds in percent of the amount. AWS: an ACTUAL and a FORECASTED alert each (10 at
    # most per budget, AWS Budgets API Notification). Azure: an Actual alert each, Forecasted ones
    # in the slots left of its 5 (components/azure/budget.py).
    thresholds: list[Annotated[int, Field(gt=0, le=1000)]] = Field(default_factory=lambda: [80, 100], min_length=1, max_length=5)
    emails: list[Email] = Field(min_length=1, max_length=10)
    # First month the budget counts (YYYY-MM). Azure refuses a start before the current month,
    # so the default is the month of the first deploy; later changes are ignored.
    start_month: str | None = Field(None, alias="startMonth", pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    # Expected LLM traffic, for `python -m scripts cost` (tokens per month, input + output).
    expected_tokens_per_month: int | None = Field(None, alias="expectedTokensPerMonth", ge=0, le=10**13)

    @field_validator("thresholds")
    @classmethod
    def _unique(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError("thresholds must be distinct")
        return sorted(v)

    def start_date(self, today: dt.date | None = None) -> str:
        if self.start_month:
            return f"{self.start_month}-01"
        today = today or dt.datetime.now(dt.UTC).date()
        return f"{today.year:04d}-{today.month:02d}-01"


# --------------------------------------------------------------------------- PoC section


class AppKind(StrEnum):
    DIFY = "dify"
    FLOWISE = "flowise"


class DatabaseConfig(_Model):
    # AWS RDS instance class (db.*) or Azure Flexible Server SKU (Standard_*); None = small default.
    instance_class: str | None = Field(None, alias="instanceClass", pattern=r"^(db\.[a-z0-9]+\.[a-z0-9]+|Standard_[A-Za-z0-9_]+)$")
    storage_gb: int = Field(32, alias="storageGb", ge=20, le=16384)
    backup_retention_days: int = Field(7, alias="backupRetentionDays", ge=1, le=35)
    # A standby in a second zone; None = off in PoC, on from Beta.
    multi_az: bool | None = Field(None, alias="multiAz")


class AppConfig(_Model):
    kind: AppKind
    allowed_cidrs: list[ipaddress.IPv4Network] = Field(alias="allowedCidrs", min_length=1, max_length=20)
    certificate_arn: str | None = Field(
        None,
        alias="certificateArn",
        pattern=r"^arn:aws(-cn|-us-gov)?:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$",
    )
    domain_name: str | None = Field(None, alias="domainName", max_length=253, pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$")
    log_retention_days: int = Field(30, alias="logRetentionDays")
    image_tags: dict[str, str] = Field(default_factory=dict, alias="imageTags")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        if v not in CLOUDWATCH_RETENTION_DAYS:
            raise ValueError(f"must be one of {', '.join(map(str, CLOUDWATCH_RETENTION_DAYS))}")
        return v

    @field_validator("allowed_cidrs", mode="before")
    @classmethod
    def _strict_cidrs(cls, v: Any) -> Any:
        # "10.0.0.1/24" has host bits set: almost always a typo for 10.0.0.0/24.
        if isinstance(v, list):
            for item in v:
                try:
                    ipaddress.IPv4Network(str(item), strict=True)
                except ValueError as exc:
                    raise ValueError(f"'{item}' is not an IPv4 network in CIDR form ({exc})") from None
        return v

    @field_validator("image_tags")
    @classmethod
    def _image_tags(cls, v: dict[str, str]) -> dict[str, str]:
        from components.lowcode import DEFAULT_IMAGE_TAGS

        for name, tag in v.items():
            if name not in DEFAULT_IMAGE_TAGS:
                raise ValueError(f"imageTags.{name} is not an image of the platform; known: {', '.join(DEFAULT_IMAGE_TAGS)}")
            if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", str(tag)):
                raise ValueError(f"imageTags.{name} '{tag}' is not a valid image tag")
        return v


class NetworkConfig(_Model):
    cidr: ipaddress.IPv4Network = Field(ipaddress.IPv4Network("10.40.0.0/16"))
    # NAT gateways for outbound internet from private subnets (third-party APIs, image pulls).
    # None = 1 in PoC, 0 in Beta and Scale.
    nat_gateways: int | None = Field(None, alias="natGateways", ge=0, le=2)

    @field_validator("cidr")
    @classmethod
    def _size(cls, v: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if v.prefixlen > 20 or v.prefixlen < 16:
            raise ValueError("needs a prefix between /16 and /20 so every subnet fits")
        if not v.is_private:
            raise ValueError("must be a private (RFC 1918) range")
        return v


class PocConfig(_Model):
    app: AppConfig
    api_providers: list[str] = Field(default_factory=list, alias="apiProviders", max_length=len(API_PROVIDERS))
    network: NetworkConfig = Field(default_factory=NetworkConfig)

    @field_validator("api_providers")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        for name in v:
            if name not in API_PROVIDERS:
                raise ValueError(f"'{name}' is not a known LLM API provider; known: {', '.join(API_PROVIDERS)}")
        if len(set(v)) != len(v):
            raise ValueError("providers must be listed once each")
        return v


def api_key_config_key(provider: str) -> str:
    """openai -> openaiApiKey, openai-eu -> openaiEuApiKey."""
    head, *rest = provider.split("-")
    return head + "".join(part.capitalize() for part in rest) + "ApiKey"


# --------------------------------------------------------------------------- Beta section

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")]


class BedrockModelConfig(_Model):
    name: Name  # what the app calls it; also the application inference profile's name
    model: str = Field(pattern=r"^[a-z0-9-]+\.[A-Za-z0-9.:_-]+$")  # foundation model id, no prefix
    routing: Literal["auto", "in-region", "cross-region"] = "auto"
    # Availability overrides for models the catalog does not know (or knows wrongly).
    in_regions: list[str] | None = Field(None, alias="inRegions")
    profile_prefixes: list[str] | None = Field(None, alias="profilePrefixes")


class GuardrailConfig(_Model):
    content_filter_strength: Literal["LOW", "MEDIUM", "HIGH"] = Field("HIGH", alias="contentFilterStrength")
    pii_action: Literal["ANONYMIZE", "BLOCK"] = Field("ANONYMIZE", alias="piiAction")


class BedrockConfig(_Model):
    models: list[BedrockModelConfig] = Field(min_length=1, max_length=20)
    guardrail: GuardrailConfig = Field(default_factory=GuardrailConfig)
    # Bedrock's invocation logging configuration is one per account and region (no name): exactly
    # one stack there may own it, so it is opt-in (the example beta-aws stack owns it).
    invocation_logging: bool = Field(False, alias="invocationLogging")

    @field_validator("models")
    @classmethod
    def _unique(cls, v: list[BedrockModelConfig]) -> list[BedrockModelConfig]:
        names = [m.name for m in v]
        if len(set(names)) != len(names):
            raise ValueError("model names must be unique")
        return v


class AzureOpenAIDeploymentConfig(_Model):
    name: Name
    model: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    version: str = Field(pattern=r"^[0-9][0-9A-Za-z.-]*$")  # pinned, e.g. 2024-11-20
    sku: str = "auto"  # auto = Standard (processed in the resource's geography)
    capacity: int = Field(10, ge=1, le=10000)  # thousands of tokens per minute
    regions: list[str] | None = None  # availability override for models the catalog does not know


class AzureOpenAIConfig(_Model):
    kind: Literal["OpenAI", "AIServices"] = "OpenAI"
    deployments: list[AzureOpenAIDeploymentConfig] = Field(min_length=1, max_length=20)
    # Azure OpenAI takes a customer-managed key only after the account exists (system-assigned
    # identity, granted on the key first): `pending` on the first deploy, then `enabled`.
    customer_managed_key: Literal["pending", "enabled"] = Field("pending", alias="customerManagedKey")

    @field_validator("deployments")
    @classmethod
    def _unique(cls, v: list[AzureOpenAIDeploymentConfig]) -> list[AzureOpenAIDeploymentConfig]:
        names = [d.name for d in v]
        if len(set(names)) != len(names):
            raise ValueError("deployment names must be unique")
        return v


VECTOR_ENGINES = {"aws": ("opensearch-serverless", "aurora-pgvector"), "azure": ("ai-search", "postgres-pgvector")}


class VectorStoreConfig(_Model):
    engine: Literal["opensearch-serverless", "aurora-pgvector", "ai-search", "postgres-pgvector"]
    # Aurora Serverless v2 capacity in ACUs.
    min_capacity: float = Field(0.5, alias="minCapacity", ge=0, le=256)
    max_capacity: float = Field(4, alias="maxCapacity", ge=1, le=256)
    # OpenSearch Serverless standby replicas (a second AZ; doubles the OCU minimum).
    standby_replicas: bool = Field(False, alias="standbyReplicas")
    # Azure AI Search tier and replicas.
    sku: Literal["basic", "standard", "standard2", "standard3"] = "basic"
    replicas: int = Field(1, ge=1, le=12)
    # Azure PostgreSQL geo-redundant backup: auto = on only when the paired region is in the profile.
    geo_redundant_backup: Literal["auto", "enabled", "disabled"] = Field("auto", alias="geoRedundantBackup")

    @model_validator(mode="after")
    def _capacity(self) -> VectorStoreConfig:
        if self.min_capacity > self.max_capacity:
            raise ValueError("minCapacity must not exceed maxCapacity")
        return self


class AlarmsConfig(_Model):
    server_errors: int = Field(5, alias="serverErrors", ge=1)  # per 5 minutes, per model
    throttles: int = Field(10, ge=1)
    latency_p90_ms: int = Field(30000, alias="latencyP90Ms", ge=100)


class BetaConfig(_Model):
    bedrock: BedrockConfig | None = None
    azure_openai: AzureOpenAIConfig | None = Field(None, alias="azureOpenAI")
    vector_store: VectorStoreConfig = Field(alias="vectorStore")
    # AWS without NAT: an ECR registry path that serves the app images (e.g. a pull-through cache).
    image_registry: str | None = Field(None, alias="imageRegistry", pattern=r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?(/[a-z0-9._/-]+)?$")
    alarms: AlarmsConfig = Field(default_factory=AlarmsConfig)


# --------------------------------------------------------------------------- Scale section


class NodePoolConfig(_Model):
    instance_type: str | None = Field(None, alias="instanceType")  # None = m6i.xlarge / Standard_D4s_v5
    min_size: int = Field(2, alias="minSize", ge=1, le=50)
    max_size: int = Field(4, alias="maxSize", ge=1, le=100)

    @model_validator(mode="after")
    def _sizes(self) -> NodePoolConfig:
        if self.min_size > self.max_size:
            raise ValueError("minSize must not exceed maxSize")
        return self


class GpuPoolConfig(_Model):
    name: Name
    instance_type: str = Field(alias="instanceType")
    capacity: Literal["on-demand", "spot"] = "on-demand"
    min_size: int = Field(0, alias="minSize", ge=0, le=100)
    # Required: GPU capacity is where budgets blow up, so every pool has a ceiling.
    max_size: int = Field(alias="maxSize", ge=1, le=100)
    disk_size_gb: int = Field(200, alias="diskSizeGb", ge=50, le=4000)

    @model_validator(mode="after")
    def _sizes(self) -> GpuPoolConfig:
        if self.min_size > self.max_size:
            raise ValueError("minSize must not exceed maxSize")
        return self


class ServedModelConfig(_Model):
    name: Name
    hugging_face_id: str = Field(alias="huggingFaceId", pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
    revision: str | None = Field(None, pattern=r"^[\w.-]{1,64}$")  # pin a Hugging Face commit or tag
    pool: Name
    gpus_per_replica: int = Field(1, alias="gpusPerReplica", ge=1, le=16)
    # At least 1: the HorizontalPodAutoscaler does not scale to zero.
    min_replicas: int = Field(1, alias="minReplicas", ge=1, le=100)
    max_replicas: int = Field(alias="maxReplicas", ge=1, le=100)
    max_model_len: int | None = Field(None, alias="maxModelLen", ge=256, le=1_048_576)
    cache_size_gb: int = Field(100, alias="cacheSizeGb", ge=10, le=4000)

    @model_validator(mode="after")
    def _replicas(self) -> ServedModelConfig:
        if self.min_replicas > self.max_replicas:
            raise ValueError("minReplicas must not exceed maxReplicas")
        return self


class RouteConfig(_Model):
    name: Name  # the model name clients ask the gateway for
    self_hosted: list[Name] = Field(default_factory=list, alias="selfHosted")
    # In order: "bedrock:<beta model name>", "azure:<beta deployment name>", "api:<provider>/<model>"
    fallbacks: list[str] = Field(default_factory=list, max_length=5)
    rpm: int | None = Field(None, ge=1)  # per fallback upstream (API and managed limits)
    tpm: int | None = Field(None, ge=1)
    max_budget: float | None = Field(None, alias="maxBudget", gt=0)  # USD per budgetDuration per paid upstream
    budget_duration: str = Field("30d", alias="budgetDuration", pattern=r"^\d+[smhd]$")


class GatewayConfig(_Model):
    replicas: int = Field(2, ge=1, le=20)
    # Networks besides the VPC/VNet that may call the gateway's internal load balancer (VPN, peers).
    allowed_cidrs: list[ipaddress.IPv4Network] = Field(default_factory=list, alias="allowedCidrs")
    num_retries: int = Field(2, alias="numRetries", ge=0, le=5)
    allowed_fails: int = Field(3, alias="allowedFails", ge=1, le=100)
    cooldown_seconds: int = Field(30, alias="cooldownSeconds", ge=1, le=3600)
    timeout_seconds: int = Field(600, alias="timeoutSeconds", ge=10, le=3600)


class ScaleConfig(_Model):
    # Checked against the EKS / AKS version catalogs in components/k8s/versions.py.
    kubernetes_version: str = Field("1.35", alias="kubernetesVersion", pattern=r"^1\.\d{2}$")
    # EKS endpoint private only / AKS private cluster: `pulumi up` must then run from the network.
    private_endpoint: bool = Field(True, alias="privateEndpoint")
    public_access_cidrs: list[ipaddress.IPv4Network] = Field(default_factory=list, alias="publicAccessCidrs")
    # EKS: networks besides the VPC that reach the private API endpoint on 443 (VPN, a peered CI
    # runner network); admitted by a security group on the cluster.
    admin_cidrs: list[ipaddress.IPv4Network] = Field(default_factory=list, alias="adminCidrs", max_length=50)
    # Who administers the cluster besides the identity running `pulumi up` (always admin): IAM
    # role/user ARNs on EKS, Entra group object ids on AKS.
    cluster_admins: list[str] = Field(default_factory=list, alias="clusterAdmins", max_length=20)
    # Read-only identity for `pulumi preview` in CI: an IAM role ARN (EKS) or a service principal
    # object id (AKS).
    preview_principal: str | None = Field(None, alias="previewPrincipal")
    system_pool: NodePoolConfig = Field(default_factory=NodePoolConfig, alias="systemPool")
    gpu_pools: list[GpuPoolConfig] = Field(alias="gpuPools", min_length=1, max_length=10)
    models: list[ServedModelConfig] = Field(min_length=1, max_length=20)
    routes: list[RouteConfig] = Field(min_length=1, max_length=50)
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)

    @model_validator(mode="after")
    def _unique(self) -> ScaleConfig:
        for label, items in (("gpuPools", self.gpu_pools), ("models", self.models), ("routes", self.routes)):
            names = [i.name for i in items]
            if len(set(names)) != len(names):
                raise ValueError(f"{label} names must be unique")
        return self


# --------------------------------------------------------------------------- mirrors (every phase)


class MirrorsConfig(_Model):
    """Where images, charts, Python packages and model weights come from (None = upstream)."""

    image_registry: str | None = Field(None, alias="imageRegistry")
    helm_repository: str | None = Field(None, alias="helmRepository")
    python_index: str | None = Field(None, alias="pythonIndex")
    model_source: str | None = Field(None, alias="modelSource")

    def for_components(self) -> Mirrors:
        return Mirrors(self.image_registry, self.helm_repository, self.python_index, self.model_source)


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


KNOWN_KEYS = ("phase", "cloud", "residency", "residencyProfiles", "tags", "budget", "poc", "beta", "scale", "mirrors")
SECRET_KEYS = ("huggingFaceToken",)  # besides the <provider>ApiKey secrets

# --------------------------------------------------------------------------- what output may show

SECRET_TEXT = "[secret]"  # a `secure:` value, as the engine records secrets
REDACTED = "[redacted]"  # a value under a key not known to hold something shareable
# Provider settings that carry no credential, from the config schemas of the pinned SDKs:
# pulumi_aws/config/vars.py (7.51.1), pulumi_azure_native/config/vars.py (3.29.0),
# pulumi_kubernetes/provider.py ProviderArgs (4.34.2); `pulumi:` project settings.
PROVIDER_SETTINGS: dict[str, frozenset[str]] = {
    "aws": frozenset(
        {"ec2MetadataServiceEndpoint", "ec2MetadataServiceEndpointMode", "s3UsEast1RegionalEndpoint", "s3UsePathStyle", "allowedAccountIds", "assumeRoleWithWebIdentity", "assumeRoles", "customCaBundle", "defaultTags", "endpoints", "forbiddenAccountIds", "httpProxy", "httpsProxy", "ignoreTags", "insecure", "maxRetries", "noProxy", "profile", "region", "retryMode", "sharedConfigFiles", "sharedCredentialsFiles", "skipCredentialsValidation", "skipMetadataApiCheck", "skipRegionValidation", "skipRequestingAccountId", "stsRegion", "tagPolicyCompliance", "tokenBucketRateLimiterCapacity", "useDualstackEndpoint", "useFipsEndpoint", "userAgents"}
    ),
    "azure-native": frozenset(
        {"auxiliaryTenantIds", "clientCertificatePath", "clientId", "disableInstanceDiscovery", "disablePulumiPartnerId", "environment", "location", "metadataHost", "msiEndpoint", "oidcRequestUrl", "oidcTokenFilePath", "partnerId", "subscriptionId", "tenantId", "useDefaultAzureCredential", "useMsi", "useOidc"}
    ),
    "kubernetes": frozenset(
        {"cluster", "clusterIdentifier", "context", "deleteUnreachable", "enableConfigMapMutable", "enableSecretMutable", "enableServerSideApply", "namespace", "renderYamlToDirectory", "skipUpdateUnreachable", "suppressDeprecationWarnings", "suppressHelmHookWarnings"}
    ),
    "pulumi": frozenset({"tags", "template", "disable-default-providers", "disableDefaultProviders"}),
}
# Credentials in those schemas. As plain text in a stack file they are refused: the file is
# committed, and the engine copies provider config into the state (set them with
# `pulumi config set --secret`, or better use OIDC / a credentials profile).
PROVIDER_CREDENTIALS = (
    "aws:accessKey",
    "aws:secretKey",
    "aws:token",
    "aws:assumeRoleWithWebIdentity.webIdentityToken",
    "azure-native:clientSecret",
    "azure-native:clientCertificatePassword",
    "azure-native:oidcToken",
    "azure-native:oidcRequestToken",
    "kubernetes:kubeconfig",
)
# A setting name that says it holds a credential ("Tokens" in expectedTokensPerMonth counts traffic).
_CREDENTIAL_NAME = re.compile(
    r"secret|passw|passphrase|token(?!s)|credential|bearer|cookie|signature|connection_?string|kubeconfig|"
    r"(api|access|secret|private|shared|account|master|signing|storage|subscription|client|sas)_?key",
    re.IGNORECASE,
)
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _path_parts(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _PATH_PART.findall(path)]


def looks_like_credential(key: str) -> bool:
    """Whether any part of a config key is named like a credential (aws:secretKey, tags.apiToken)."""
    return any(isinstance(part, str) and _CREDENTIAL_NAME.search(part) for part in _path_parts(key.replace(":", ".", 1)))


def _known_under(annotation: Any, parts: list[str | int]) -> bool:
    """Whether `parts` names a setting of the typed model `annotation` (aliases as in the stack file)."""
    if not parts:
        return True
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _known_under(args[0], parts)
    if origin in (typing.Union, types.UnionType):
        return any(_known_under(arg, parts) for arg in args if arg is not type(None))
    head, rest = parts[0], parts[1:]
    if origin in (list, tuple, set, frozenset):
        return isinstance(head, int) and bool(args) and _known_under(args[0], rest)
    if origin is dict:
        return isinstance(head, str) and _known_under(args[1], rest)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(head, str):
        for name, info in annotation.model_fields.items():
            if head in (name, info.alias):
                return _known_under(info.annotation, rest)
        # Extra keys a model admits (tags) are the user's own settings.
        return annotation.model_config.get("extra") == "allow" and not rest
    return False


def is_known_setting(key: str) -> bool:
    """A key of the typed model, a <provider>ApiKey/huggingFaceToken secret, or a provider setting."""
    namespace, _, path = key.partition(":")
    parts = _path_parts(path)
    if not parts or not isinstance(parts[0], str):
        return False
    if namespace == NAMESPACE:
        if parts[0].endswith("ApiKey") or parts[0] in SECRET_KEYS:
            return len(parts) == 1
        return parts[0] not in ("region", "azure_environment", "api_key_keys", "hugging_face_token_key") and _known_under(PlatformConfig, parts)
    return parts[0] in PROVIDER_SETTINGS.get(namespace, frozenset())


def redact(key: str, value: Any, secret_keys: set[str] | frozenset[str] = frozenset()) -> Any:
    """THE function through which every message, log line and output shows a config value.

    A `secure:` value becomes [secret]; a value under a key this model does not know, or under a
    key named like a credential, becomes [redacted]; structured values are redacted key by key.
    """
    if value is None:
        return None
    top = key.split(".", 1)[0].split("[", 1)[0]
    if key in secret_keys or top in secret_keys:
        return SECRET_TEXT
    if looks_like_credential(key) or not is_known_setting(key):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): redact(f"{key}.{k}", v, secret_keys) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(f"{key}[{i}]", v, secret_keys) for i, v in enumerate(value)]
    return value


def _decode(value: Any) -> Any:
    """Pulumi hands structured config to programs as JSON strings."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "[{":
            try:
                return json.loads(text, parse_constant=_no_constant)
            except (ValueError, RecursionError):
                return value
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _loc_to_key(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return f"{NAMESPACE}:{path}"


def _value_at(data: Mapping[str, Any], loc: tuple[Any, ...]) -> Any:
    current: Any = data
    for part in loc:
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            return None
    return current


def _problems_from(exc: ValidationError, data: Mapping[str, Any]) -> list[ConfigProblem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        # pydantic appends the validator-specific tail for unions/literals; keep the field path.
        message = err["msg"]
        if err["type"] == "missing":
            message = "is required"
        elif err["type"] == "extra_forbidden":
            message = "is not a known setting here"
        elif message.startswith("Value error, "):
            message = message[len("Value error, "):]
        value = err.get("input") if err["type"] != "missing" else None
        if isinstance(value, dict) and err["type"] != "extra_forbidden":
            value = _value_at(data, loc)
        problems.append(ConfigProblem(_loc_to_key(loc), value, message))
    return problems


def load_config(raw: Mapping[str, Any], secret_keys: set[str] | frozenset[str] = frozenset(), source: str = "stack config") -> PlatformConfig:
    """Validate the whole stack config, or raise one ConfigError listing every problem."""
    problems: list[ConfigProblem] = []
    data: dict[str, Any] = {}
    api_keys: dict[str, str] = {}
    hugging_face_token_key = None
    prefix = f"{NAMESPACE}:"
    for key, value in raw.items():
        if not key.startswith(prefix):
            if key not in secret_keys and (problem := _plain_credential(key, value)):
                problems.append(problem)
            continue
        name = key[len(prefix):]
        if name.endswith("ApiKey"):
            api_keys[name] = key
            continue
        if name in SECRET_KEYS:
            if key not in secret_keys:
                problems.append(ConfigProblem(key, "[redacted plain text]", f"must be a secret: run `pulumi config set --secret {key} <value>`"))
            hugging_face_token_key = key
            continue
        if name not in KNOWN_KEYS:
            problems.append(ConfigProblem(key, value, f"is not a known setting; known keys: {', '.join(KNOWN_KEYS)} and <provider>ApiKey secrets"))
            continue
        if key in secret_keys:
            problems.append(ConfigProblem(key, "[secret]", "must not be a secret: only the <provider>ApiKey keys hold secrets"))
            continue
        data[name] = _decode(value)

    try:
        # Strict types, read as the JSON the engine hands programs: `amount: true` is not 1.0,
        # `owner: 2024` is not '2024' (enums, networks and dates still parse from JSON strings).
        config = PlatformConfig.model_validate_json(json.dumps(data, default=str), strict=True)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, data))
        raise ConfigError(problems, source, secret_keys) from None
    except ValueError as exc:  # NaN or Infinity reached the model (json.dumps refuses them)
        problems.append(ConfigProblem(f"{NAMESPACE}:budget", None, f"numbers must be finite ({exc})"))
        raise ConfigError(problems, source, secret_keys) from None
    if problems:
        raise ConfigError(problems, source, secret_keys)

    problems.extend(_check_location(config, raw))
    try:
        config.profile  # noqa: B018 - an unknown profile was reported above; nothing more to check
    except UnknownProfileError:
        raise ConfigError(problems, source, secret_keys) from None
    problems.extend(_check_profile_rules(config))
    problems.extend(_check_tags(config))
    problems.extend(_check_instance_sizes(config))
    problems.extend(_check_beta(config))
    problems.extend(_check_scale(config))
    problems.extend(_check_api_keys(config, api_keys, secret_keys))
    if hugging_face_token_key and config.phase is not Phase.SCALE:
        problems.append(ConfigProblem(hugging_face_token_key, "[redacted]", "is read in phase scale only (model servers download weights with it); remove it"))
    if problems:
        raise ConfigError(problems, source, secret_keys)
    config.hugging_face_token_key = hugging_face_token_key
    config.api_key_keys = {p: f"{prefix}{api_key_config_key(p)}" for p in config.poc.api_providers}
    return config


def _plain_credential(key: str, value: Any) -> ConfigProblem | None:
    """A provider credential (or any setting named like one) given as plain text."""
    decoded = _decode(value)
    if key == "kubernetes:kubeconfig" and isinstance(decoded, str) and "\n" not in decoded and "apiVersion" not in decoded:
        return None  # a path to a kubeconfig file, not its content
    named = key in PROVIDER_CREDENTIALS or looks_like_credential(key)
    nested = isinstance(decoded, (dict, list)) and any(looks_like_credential(f"{key}.{sub}") for sub in _leaf_paths(decoded))
    if not (named or nested) or decoded in (None, "", [], {}):
        return None
    hints = {
        "aws": "an AWS profile (aws:profile), environment credentials or OIDC",
        "azure-native": "OIDC (azure-native:useOidc), a managed identity or the Azure CLI login",
    }
    hint = hints.get(key.split(":", 1)[0], "the provider's environment variables")
    return ConfigProblem(key, decoded, f"is a credential in plain text in the stack file; remove it and use {hint} (at the very least `pulumi config set --secret {key.split('.', 1)[0]} ...`)")


def _leaf_paths(value: Any, depth: int = 0) -> list[str]:
    if depth > 20:
        return []
    if isinstance(value, dict):
        return [f"{k}.{p}" if p else str(k) for k, v in value.items() for p in _leaf_paths(v, depth + 1) or [""]]
    if isinstance(value, list):
        return [p for v in value for p in _leaf_paths(v, depth + 1)]
    return []


def _check_tags(config: PlatformConfig) -> list[ConfigProblem]:
    """Tag keys and values every tagged resource of the stack's cloud (and cluster) accepts."""
    problems = []
    for name, value in config.tags.all().items():
        key = f"{NAMESPACE}:tags.{name}"
        if config.cloud is Cloud.AWS:
            if not _AWS_TAG_CHARS.fullmatch(name) or not _AWS_TAG_CHARS.fullmatch(value):
                problems.append(ConfigProblem(key, value, "AWS tag keys and values may hold letters, digits, spaces and + - = . _ : / @ only"))
        elif _AZURE_TAG_FORBIDDEN.search(name):
            problems.append(ConfigProblem(key, value, "Azure tag names may not contain < > % & \\ ? /"))
        if config.phase is Phase.SCALE and not _K8S_LABEL_NAME.fullmatch(name):
            problems.append(
                ConfigProblem(key, value, f"becomes the Kubernetes label key llm-platform.io/{name}: up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit")
            )
    return problems


# EKS node groups of this project run the AL2023_x86_64_STANDARD AMI (components/aws/eks.py): x86
# types only. Graviton families carry a 'g' after the generation (m7g, c6gn, t4g) or are a1.
_AWS_ARM_FAMILY = re.compile(r"^(a1|[a-z]+\d+g[a-z]*)\.")
_AWS_ACCELERATED_FAMILY = re.compile(r"^(p\d|g\d|inf\d|trn\d|dl\d|f\d|vt\d)")


def _check_instance_sizes(config: PlatformConfig) -> list[ConfigProblem]:
    """The database class and the system node pool type belong to the stack's cloud."""
    problems = []
    azure = config.cloud is Cloud.AZURE
    db_class = config.poc.app.database.instance_class
    if db_class and db_class.startswith("Standard_") != azure:
        allowed = "an Azure Database for PostgreSQL Flexible Server SKU (Standard_B1ms, Standard_D2ds_v5)" if azure else "an RDS instance class (db.t4g.micro, db.m7g.large)"
        problems.append(ConfigProblem(f"{NAMESPACE}:poc.app.database.instanceClass", db_class, f"is not a database size on {config.cloud.value}; use {allowed}"))
    pool_type = config.scale.system_pool.instance_type if config.scale else None
    if pool_type:
        from components.k8s.gpu import GPU_INSTANCES

        key = f"{NAMESPACE}:scale.systemPool.instanceType"
        if azure:
            if not re.fullmatch(r"Standard_[A-Z][A-Za-z0-9_]+", pool_type) or pool_type.startswith("Standard_N") or pool_type in GPU_INSTANCES:
                problems.append(ConfigProblem(key, pool_type, "must be an Azure VM size without GPUs for the AKS system pool, e.g. Standard_D4s_v5"))
        else:
            from pulumi_aws.ec2 import InstanceType

            if pool_type not in {t.value for t in InstanceType}:
                problems.append(ConfigProblem(key, pool_type, "is not an EC2 instance type (catalog: pulumi_aws.ec2.InstanceType of pulumi-aws 7.51.1); e.g. m6i.xlarge"))
            elif _AWS_ARM_FAMILY.match(pool_type) or _AWS_ACCELERATED_FAMILY.match(pool_type):
                problems.append(ConfigProblem(key, pool_type, "the system pool runs the x86_64 EKS AMI without GPUs: use an x86 general-purpose type such as m6i.xlarge or m7i.large"))
    return problems


def _check_location(config: PlatformConfig, raw: Mapping[str, Any]) -> list[ConfigProblem]:
    try:
        profile = config.profile
    except UnknownProfileError as exc:
        return [ConfigProblem(f"{NAMESPACE}:residency", config.residency, f"unknown residency profile; known: {', '.join(exc.available)} (define your own under {NAMESPACE}:residencyProfiles)")]
    if config.residency in config.residency_profiles and config.residency in BUILTIN_PROFILES:
        return [ConfigProblem(f"{NAMESPACE}:residencyProfiles.{config.residency}", config.residency, "a custom profile may not reuse a built-in profile's name")]

    problems = []
    if config.cloud is Cloud.AWS:
        region = str(raw.get("aws:region") or "")
        config.region = region
        if not region:
            return [ConfigProblem("aws:region", None, f"is required; residency profile '{profile.name}' allows {', '.join(sorted(profile.aws_regions))}")]
        if region != region.lower() and any(region.lower() in regions for regions in AWS_PARTITION_REGIONS.values()):
            problems.append(ConfigProblem("aws:region", region, f"regions are lower case: did you mean {region.lower()}?"))
        elif region not in AWS_PARTITION_REGIONS[profile.aws_partition]:
            problems.append(
                ConfigProblem(
                    "aws:region",
                    region,
                    f"residency profile '{profile.name}' needs the {profile.aws_partition} partition; allowed regions: {', '.join(sorted(profile.aws_regions))}",
                )
            )
        elif not profile.allows_aws_region(region):
            problems.append(ConfigProblem("aws:region", region, f"is outside residency profile '{profile.name}'; allowed: {', '.join(sorted(profile.aws_regions))}"))
    else:
        environment = str(raw.get("azure-native:environment") or "public")
        config.azure_environment = environment
        if environment not in AZURE_CLOUD_REGIONS:
            problems.append(ConfigProblem("azure-native:environment", environment, "must be one of public, china, usgovernment"))
        elif environment != profile.azure_cloud:
            problems.append(
                ConfigProblem(
                    "azure-native:environment",
                    environment,
                    f"residency profile '{profile.name}' needs the Azure '{profile.azure_cloud}' cloud; set azure-native:environment to {profile.azure_cloud}",
                )
            )
        location = str(raw.get("azure-native:location") or "")
        config.region = normalize_azure_location(location)
        if not location:
            problems.append(ConfigProblem("azure-native:location", None, f"is required; residency profile '{profile.name}' allows {', '.join(sorted(profile.azure_regions))}"))
        elif not profile.allows_azure_region(location):
            problems.append(ConfigProblem("azure-native:location", location, f"is outside residency profile '{profile.name}'; allowed: {', '.join(sorted(profile.azure_regions))}"))
    return problems


def _check_profile_rules(config: PlatformConfig) -> list[ConfigProblem]:
    profile = config.profile
    problems = []
    for index, provider in enumerate(config.poc.api_providers):
        if not profile.allows_api_provider(provider):
            api = API_PROVIDERS[provider]
            problems.append(
                ConfigProblem(
                    f"{NAMESPACE}:poc.apiProviders[{index}]",
                    provider,
                    f"sends prompts to {api.host} ({api.geography.upper()}), outside residency profile '{profile.name}'; allowed providers: {', '.join(profile.allowed_api_providers()) or 'none'}",
                )
            )
    app = config.poc.app
    if app.certificate_arn:
        if config.cloud is not Cloud.AWS:
            problems.append(ConfigProblem(f"{NAMESPACE}:poc.app.certificateArn", app.certificate_arn, "is an AWS ACM setting; on Azure leave it unset"))
        elif f":acm:{config.region}:" not in app.certificate_arn:
            problems.append(ConfigProblem(f"{NAMESPACE}:poc.app.certificateArn", app.certificate_arn, f"must be an ACM certificate in the stack region {config.region}"))
    if config.cloud is Cloud.AZURE and app.kind is AppKind.DIFY and CLOUDS.get(config.azure_environment) and CLOUDS[config.azure_environment].private_zones["redisEnterprise"] is None:
        problems.append(
            ConfigProblem(
                f"{NAMESPACE}:poc.app.kind",
                app.kind.value,
                f"Dify needs Azure Managed Redis, which the Azure '{config.azure_environment}' cloud does not offer; use 'flowise' there",
            )
        )
    budget = config.budget
    if config.cloud is Cloud.AWS:
        expected = "CNY" if profile.aws_partition == "aws-cn" else "USD"
        if budget.currency != expected:
            problems.append(ConfigProblem(f"{NAMESPACE}:budget.currency", budget.currency, f"AWS Budgets in the {profile.aws_partition} partition count in {expected}"))
    return problems


def _check_beta(config: PlatformConfig) -> list[ConfigProblem]:
    from components.aws.bedrock_catalog import ModelChoiceError, resolve_model
    from components.azure.checks import vector_store_problems
    from components.azure.openai_catalog import DeploymentChoiceError, resolve_deployment
    from components.lowcode import UNUSABLE_VECTOR_ENGINES

    key = f"{NAMESPACE}:beta"
    beta = config.beta
    if config.phase is Phase.POC:
        return [ConfigProblem(key, "(set)", "takes effect from phase beta; set llm-platform:phase to beta or remove the section")] if beta else []
    if beta is None:
        return [ConfigProblem(key, None, f"is required for phase {config.phase.value}: managed models (bedrock or azureOpenAI) and vectorStore")]
    profile = config.profile
    problems = []
    cloud = config.cloud.value
    engine = beta.vector_store.engine
    if engine not in VECTOR_ENGINES[cloud]:
        problems.append(ConfigProblem(f"{key}.vectorStore.engine", engine, f"is not available on {cloud}; allowed: {', '.join(VECTOR_ENGINES[cloud])}"))
    elif engine == "opensearch-serverless" and profile.aws_partition == "aws-cn":
        problems.append(ConfigProblem(f"{key}.vectorStore.engine", engine, "OpenSearch Serverless is not offered in the aws-cn partition; use aurora-pgvector"))
    elif (config.poc.app.kind.value, engine) in UNUSABLE_VECTOR_ENGINES:
        problems.append(ConfigProblem(f"{key}.vectorStore.engine", engine, f"{config.poc.app.kind.value} cannot use it: {UNUSABLE_VECTOR_ENGINES[(config.poc.app.kind.value, engine)]}"))
    if config.cloud is Cloud.AWS:
        if beta.azure_openai is not None:
            problems.append(ConfigProblem(f"{key}.azureOpenAI", "(set)", "is an Azure setting; on AWS configure beta.bedrock"))
        if beta.bedrock is None:
            problems.append(ConfigProblem(f"{key}.bedrock", None, "is required on AWS: the Bedrock models the app may use"))
        elif not profile.bedrock_allowed:
            problems.append(ConfigProblem(f"{key}.bedrock", "(set)", f"Bedrock has no endpoint under residency profile '{profile.name}' (aws-cn); use a domestic API provider instead"))
        else:
            for i, m in enumerate(beta.bedrock.models):
                try:
                    resolve_model(m.name, m.model, m.routing, config.region, profile, m.in_regions, m.profile_prefixes)
                except ModelChoiceError as exc:
                    problems.append(ConfigProblem(f"{key}.bedrock.models[{i}].model", m.model, str(exc)))
        if config.nat_gateways() == 0 and not beta.image_registry:
            problems.append(
                ConfigProblem(
                    f"{key}.imageRegistry",
                    None,
                    "without NAT gateways (poc.network.natGateways: 0) the tasks cannot pull from Docker Hub; set an ECR registry path that serves the images (e.g. a pull-through cache) or set poc.network.natGateways: 1",
                )
            )
    else:
        if beta.bedrock is not None:
            problems.append(ConfigProblem(f"{key}.bedrock", "(set)", "is an AWS setting; on Azure configure beta.azureOpenAI"))
        if beta.image_registry is not None:
            problems.append(ConfigProblem(f"{key}.imageRegistry", beta.image_registry, "is an AWS (ECR) setting"))
        if beta.azure_openai is None:
            problems.append(ConfigProblem(f"{key}.azureOpenAI", None, "is required on Azure: the Azure OpenAI deployments the app may use"))
        else:
            for i, d in enumerate(beta.azure_openai.deployments):
                try:
                    resolve_deployment(d.name, d.model, d.version, d.sku, config.region, profile, d.regions)
                except DeploymentChoiceError as exc:
                    problems.append(ConfigProblem(f"{key}.azureOpenAI.deployments[{i}].{exc.field}", exc.value, str(exc)))
        problems.extend(ConfigProblem(f"{key}.{suffix}", value, message) for suffix, value, message in vector_store_problems(engine, beta.vector_store.geo_redundant_backup))
    return problems


def _check_scale(config: PlatformConfig) -> list[ConfigProblem]:
    from components.k8s.gpu import GPU_INSTANCES, instance_of, is_azure_size
    from components.k8s.serving import MODEL_SCRATCH_GIB, NODE_IMAGES_GIB, NODEFS_EVICTION_FRACTION, model_pod_disk_gib

    key = f"{NAMESPACE}:scale"
    scale = config.scale
    if config.phase is not Phase.SCALE:
        return [ConfigProblem(key, "(set)", "takes effect in phase scale; set llm-platform:phase to scale or remove the section")] if scale else []
    if scale is None:
        return [ConfigProblem(key, None, "is required for phase scale: gpuPools, models and routes")]
    problems = []
    azure = config.cloud is Cloud.AZURE
    cloud = config.cloud.value
    pools = {}
    for i, pool in enumerate(scale.gpu_pools):
        shape = instance_of(pool.instance_type)
        if shape is None or is_azure_size(pool.instance_type) != azure:
            known = ", ".join(t for t in GPU_INSTANCES if is_azure_size(t) == azure)
            problems.append(ConfigProblem(f"{key}.gpuPools[{i}].instanceType", pool.instance_type, f"is not a known {cloud} GPU instance type; known: {known}"))
        else:
            pools[pool.name] = (pool, shape)
        if azure and not re.fullmatch(r"[a-z][a-z0-9]{0,11}", pool.name):
            problems.append(ConfigProblem(f"{key}.gpuPools[{i}].name", pool.name, "AKS node pool names are 1-12 lowercase letters and digits, starting with a letter"))
        if azure and pool.capacity == "spot":
            problems.append(
                ConfigProblem(f"{key}.gpuPools[{i}].capacity", pool.capacity, "spot GPU pools are supported on EKS only (AKS adds its own spot taint that the model servers do not tolerate); use on-demand")
            )
        if pool.name == "system":
            problems.append(ConfigProblem(f"{key}.gpuPools[{i}].name", pool.name, "is the name of the system pool; choose another"))
    models = {m.name: m for m in scale.models}
    for i, model in enumerate(scale.models):
        if model.pool not in {p.name for p in scale.gpu_pools}:
            problems.append(ConfigProblem(f"{key}.models[{i}].pool", model.pool, f"no GPU pool has that name; pools: {', '.join(p.name for p in scale.gpu_pools)}"))
            continue
        if model.pool not in pools:
            continue
        pool, shape = pools[model.pool]
        gpus = shape.gpus
        pods_per_node = max(1, gpus // model.gpus_per_replica)
        if pods_per_node * model_pod_disk_gib(model.cache_size_gb) + NODE_IMAGES_GIB > pool.disk_size_gb * (1 - NODEFS_EVICTION_FRACTION):
            problems.append(
                ConfigProblem(
                    f"{key}.models[{i}].cacheSizeGb",
                    model.cache_size_gb,
                    f"{pods_per_node} pod(s) per node, each with its cache plus {MODEL_SCRATCH_GIB} GB scratch, and {NODE_IMAGES_GIB} GB for images must fit "
                    f"{100 - int(NODEFS_EVICTION_FRACTION * 100)}% of pool '{pool.name}' disks ({pool.disk_size_gb} GB; the kubelet evicts below 10% free); raise diskSizeGb or lower cacheSizeGb",
                )
            )
        if model.gpus_per_replica > gpus:
            problems.append(
                ConfigProblem(f"{key}.models[{i}].gpusPerReplica", model.gpus_per_replica, f"exceeds the {gpus} GPU(s) of a {pool.instance_type} in pool '{pool.name}'; use a larger instance type or fewer GPUs")
            )
        elif model.max_replicas * model.gpus_per_replica > pool.max_size * gpus:
            problems.append(
                ConfigProblem(
                    f"{key}.models[{i}].maxReplicas",
                    model.max_replicas,
                    f"{model.max_replicas} x {model.gpus_per_replica} GPUs exceed pool '{pool.name}' at its maxSize ({pool.max_size} x {gpus} GPUs)",
                )
            )
    profile = config.profile
    beta = config.beta
    for i, route in enumerate(scale.routes):
        if not route.self_hosted and not route.fallbacks:
            problems.append(ConfigProblem(f"{key}.routes[{i}]", route.name, "needs selfHosted models or fallbacks"))
        for j, name in enumerate(route.self_hosted):
            if name not in models:
                problems.append(ConfigProblem(f"{key}.routes[{i}].selfHosted[{j}]", name, f"no served model has that name; models: {', '.join(models)}"))
        for j, ref in enumerate(route.fallbacks):
            problem = _fallback_problem(ref, config, beta, profile)
            if problem:
                problems.append(ConfigProblem(f"{key}.routes[{i}].fallbacks[{j}]", ref, problem))
    from datetime import date

    from components.k8s.versions import KUBERNETES_VERSIONS

    if version_problem := KUBERNETES_VERSIONS[cloud].problem(scale.kubernetes_version, date.today()):
        problems.append(ConfigProblem(f"{key}.kubernetesVersion", scale.kubernetes_version, version_problem))
    problems.extend(_check_cluster_access(scale, azure, key))
    if not scale.private_endpoint and not scale.public_access_cidrs:
        what = "EKS endpoint" if not azure else "AKS API server"
        problems.append(ConfigProblem(f"{key}.publicAccessCidrs", [], f"a public {what} needs the CIDRs allowed to reach it (never 0.0.0.0/0 by default)"))
    if not azure and config.nat_gateways() == 0:
        problems.append(
            ConfigProblem(
                f"{NAMESPACE}:poc.network.natGateways",
                0,
                "Scale on AWS needs outbound internet for the nodes (model weights from Hugging Face, vLLM and chart images); set 1 (or one per zone)",
            )
        )
    return problems


_IAM_PRINCIPAL_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}$")
_ENTRA_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _check_cluster_access(scale: ScaleConfig, azure: bool, key: str) -> list[ConfigProblem]:
    problems = []
    if azure and scale.admin_cidrs:
        problems.append(ConfigProblem(f"{key}.adminCidrs", [str(c) for c in scale.admin_cidrs], "applies to EKS only; an AKS private API server is reached through the VNet (peer or VPN into it)"))
    for i, cidr in enumerate(scale.admin_cidrs):
        if cidr.prefixlen < 8:
            problems.append(ConfigProblem(f"{key}.adminCidrs[{i}]", str(cidr), "is too wide for API server access; name the VPN or runner networks (a /8 or narrower)"))
    pattern, what = (_ENTRA_OBJECT_ID, "an Entra object id (GUID)") if azure else (_IAM_PRINCIPAL_ARN, "an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)")
    for i, principal in enumerate(scale.cluster_admins):
        if not pattern.fullmatch(principal):
            problems.append(ConfigProblem(f"{key}.clusterAdmins[{i}]", principal, f"must be {what}{'; AKS admins are Entra groups' if azure else ''}"))
    if len(set(scale.cluster_admins)) != len(scale.cluster_admins):
        problems.append(ConfigProblem(f"{key}.clusterAdmins", scale.cluster_admins, "lists a principal twice"))
    if scale.preview_principal is not None:
        if not pattern.fullmatch(scale.preview_principal):
            problems.append(ConfigProblem(f"{key}.previewPrincipal", scale.preview_principal, f"must be {what}"))
        elif scale.preview_principal in scale.cluster_admins:
            problems.append(ConfigProblem(f"{key}.previewPrincipal", scale.preview_principal, "is also in clusterAdmins; the preview identity should only read"))
    return problems


def _fallback_problem(ref: str, config: PlatformConfig, beta: BetaConfig | None, profile: ResidencyProfile) -> str | None:
    kind, _, target = ref.partition(":")
    if kind == "bedrock":
        if config.cloud is not Cloud.AWS or beta is None or beta.bedrock is None:
            return "Bedrock fallbacks need cloud aws and beta.bedrock"
        names = [m.name for m in beta.bedrock.models]
        return None if target in names else f"no beta.bedrock model is called '{target}'; models: {', '.join(names)}"
    if kind == "azure":
        if config.cloud is not Cloud.AZURE or beta is None or beta.azure_openai is None:
            return "Azure OpenAI fallbacks need cloud azure and beta.azureOpenAI"
        names = [d.name for d in beta.azure_openai.deployments]
        return None if target in names else f"no beta.azureOpenAI deployment is called '{target}'; deployments: {', '.join(names)}"
    if kind == "api":
        provider, _, model = target.partition("/")
        if provider not in API_PROVIDERS or not model:
            return f"write api:<provider>/<model> with a provider of {', '.join(API_PROVIDERS)}"
        if not profile.allows_api_provider(provider):
            api = API_PROVIDERS[provider]
            return f"{api.host} processes prompts in {api.geography.upper()}, outside residency profile '{profile.name}'; allowed: {', '.join(profile.allowed_api_providers()) or 'none'}"
        if provider not in config.poc.api_providers:
            return f"add '{provider}' to llm-platform:poc.apiProviders (and its API key) to use it as a fallback"
        return None
    return "write bedrock:<model>, azure:<deployment> or api:<provider>/<model>"


def _check_api_keys(config: PlatformConfig, api_keys: dict[str, str], secret_keys: set[str] | frozenset[str]) -> list[ConfigProblem]:
    problems = []
    wanted = {api_key_config_key(p): p for p in config.poc.api_providers}
    for name, full_key in sorted(api_keys.items()):
        if name not in wanted:
            problems.append(
                ConfigProblem(full_key, "[redacted]", f"no provider in {NAMESPACE}:poc.apiProviders uses this key; configured providers: {', '.join(config.poc.api_providers) or 'none'}")
            )
        elif full_key not in secret_keys:
            problems.append(
                ConfigProblem(full_key, "[redacted plain text]", f"API keys must be secrets: run `pulumi config set --secret {full_key} <key>`")
            )
    for name, provider in wanted.items():
        if name not in api_keys:
            full_key = f"{NAMESPACE}:{name}"
            problems.append(
                ConfigProblem(full_key, None, f"the API key of provider '{provider}' is required: run `pulumi config set --secret {full_key} <key>`")
            )
    return problems
