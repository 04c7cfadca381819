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
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from components.azure.clouds import CLOUDS, app_redis_zone
from components.mirrors import Mirrors
from policies.llm_guard.profiles import (
    BUILTIN_PROFILES,
    Geography,
    ResidencyProfile,
    UnknownProfileError,
    resolve_profile,
)
from policies.llm_guard.regions import AWS_PARTITION_REGIONS, AZURE_ACCESS_RESTRICTED_REGIONS, AZURE_CLOUD_REGIONS, normalize_azure_location
from policies.llm_guard.routing import API_PROVIDERS, PROVIDER_ALIASES, ApiProvider, canonical_provider, custom_api_provider, known_api_host
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
    # The ICP filing (备案) number of the site, needed to serve it publicly from mainland China:
    # <province abbreviation>ICP备<digits>号[-<site>] (or ICP证 for a commercial licence), e.g.
    # 京ICP备12345678号-1 (MIIT ICP filing system beian.miit.gov.cn; format as in Alibaba Cloud's
    # "ICP备案号与备案服务码" FAQ, read 2026-11-30).
    icp_filing: str | None = Field(None, alias="icpFiling", max_length=40)

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        if v not in CLOUDWATCH_RETENTION_DAYS:
            raise ValueError(f"must be one of {', '.join(map(str, CLOUDWATCH_RETENTION_DAYS))}")
        return v

    @field_validator("icp_filing")
    @classmethod
    def _icp_number(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[\u4e00-\u9fff]ICP[备证]\d{6,10}号(-\d{1,4})?", v):
            raise ValueError("must be the ICP filing number as issued: province abbreviation, ICP备 (or ICP证), digits, 号, optional -<site>, e.g. 京ICP备12345678号-1")
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


ProviderName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
MAX_CUSTOM_PROVIDERS = 10


class CustomProviderConfig(_Model):
    """An OpenAI-compatible API the platform does not know, declared with where it processes prompts."""

    name: ProviderName
    base_url: str = Field(alias="baseUrl", max_length=2048)
    geography: Geography

    @field_validator("name")
    @classmethod
    def _not_builtin(cls, v: str) -> str:
        if v in API_PROVIDERS or v in PROVIDER_ALIASES:
            raise ValueError(f"'{v}' is a built-in provider{_alias_hint(v)}; list it in apiProviders instead of declaring it")
        return v

    @field_validator("base_url")
    @classmethod
    def _https(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme != "https" or not parts.hostname or parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("must be the https:// root of an OpenAI-compatible API, without credentials, query or fragment (e.g. https://llm.example.cn/v1)")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _not_relabelled(self) -> CustomProviderConfig:
        # A declaration never re-labels where a known API processes prompts.
        host = urlsplit(self.base_url).hostname or ""
        known = known_api_host(host)
        if known is not None and known.name in API_PROVIDERS:
            raise ValueError(f"baseUrl {host} is {known.display_name}; list '{known.name}' in apiProviders instead of declaring it")
        if known is not None and known.geography != self.geography:
            raise ValueError(f"baseUrl {host} is {known.display_name}, which processes prompts in {known.geography.upper()}, not {self.geography.upper()}")
        return self


def _alias_hint(name: str) -> str:
    canonical = canonical_provider(name)
    return f" (write '{canonical}')" if canonical != name and canonical in API_PROVIDERS else ""


class PocConfig(_Model):
    app: AppConfig
    # Declared before apiProviders: that validator reads them.
    custom_providers: list[CustomProviderConfig] = Field(default_factory=list, alias="customProviders", max_length=MAX_CUSTOM_PROVIDERS)
    api_providers: list[str] = Field(default_factory=list, alias="apiProviders", max_length=len(API_PROVIDERS) + MAX_CUSTOM_PROVIDERS)
    network: NetworkConfig = Field(default_factory=NetworkConfig)

    @field_validator("custom_providers")
    @classmethod
    def _unique_custom(cls, v: list[CustomProviderConfig]) -> list[CustomProviderConfig]:
        names = [c.name for c in v]
        if len(set(names)) != len(names):
            raise ValueError("custom provider names must be unique")
        return v

    @field_validator("api_providers")
    @classmethod
    def _known(cls, v: list[str], info: ValidationInfo) -> list[str]:
        custom = [c.name for c in info.data.get("custom_providers") or []]
        for name in v:
            if name in API_PROVIDERS or name in custom:
                continue
            canonical = canonical_provider(name)
            if canonical in API_PROVIDERS:
                raise ValueError(f"'{name}' is {API_PROVIDERS[canonical].display_name}: write '{canonical}' (its key is {api_key_config_key(canonical)})")
            raise ValueError(f"'{name}' is not a known LLM API provider; known: {', '.join(API_PROVIDERS)}; declare others under customProviders ({{name, baseUrl, geography}})")
        if len(set(v)) != len(v):
            raise ValueError("providers must be listed once each")
        return v

    def provider(self, name: str) -> ApiProvider | None:
        """The API a provider name stands for: a built-in one or one declared in customProviders."""
        if name in API_PROVIDERS:
            return API_PROVIDERS[name]
        for custom in self.custom_providers:
            if custom.name == name:
                return custom_api_provider(custom.name, custom.base_url, custom.geography)
        return None

    def providers(self) -> dict[str, ApiProvider]:
        """Built-in and declared providers by name."""
        return {**API_PROVIDERS, **{c.name: p for c in self.custom_providers if (p := self.provider(c.name))}}


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


class ApiModelConfig(_Model):
    """A third-party API model served in Beta through the gateway under `name`."""

    name: Name
    provider: ProviderName  # in poc.apiProviders (its key is in the secret store)
    model: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$")  # as the vendor names it: qwen-plus, deepseek-chat, glm-4.6


class SageMakerModelConfig(_Model):
    """An open model on a SageMaker real-time endpoint (components/aws/sagemaker.py)."""

    name: Name  # what the app and the gateway call it
    # s3://bucket/prefix in the stack's region holding the weights (config.json, tokenizer,
    # safetensors): the endpoint runs network-isolated in a VPC without NAT, so SageMaker copies
    # them from S3 before the container starts (stage them from ModelScope or a hub mirror first).
    model_id: str = Field(alias="modelId", pattern=r"^[A-Za-z0-9][\w.-]*/[\w./-]+$|^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[\w!.*'()/=+-]*)?$", max_length=1024)
    instance_type: str = Field(alias="instanceType")
    # Real-time endpoints keep at least one instance (scale to zero needs inference components).
    min_instances: int = Field(1, alias="minInstances", ge=1, le=20)
    max_instances: int = Field(alias="maxInstances", ge=1, le=20)
    max_model_len: int | None = Field(None, alias="maxModelLen", ge=256, le=1_048_576)
    # Scale-out target: requests per instance per minute (SageMakerVariantInvocationsPerInstance).
    invocations_per_instance: int = Field(30, alias="invocationsPerInstance", ge=1, le=10_000)

    @model_validator(mode="after")
    def _bounds(self) -> SageMakerModelConfig:
        if self.min_instances > self.max_instances:
            raise ValueError("minInstances must not exceed maxInstances")
        return self


class SageMakerConfig(_Model):
    models: list[SageMakerModelConfig] = Field(min_length=1, max_length=10)

    @field_validator("models")
    @classmethod
    def _unique(cls, v: list[SageMakerModelConfig]) -> list[SageMakerModelConfig]:
        names = [m.name for m in v]
        if len(set(names)) != len(names):
            raise ValueError("model names must be unique")
        return v


class BetaConfig(_Model):
    bedrock: BedrockConfig | None = None
    sagemaker: SageMakerConfig | None = None
    azure_openai: AzureOpenAIConfig | None = Field(None, alias="azureOpenAI")
    api_models: list[ApiModelConfig] = Field(default_factory=list, alias="apiModels", max_length=20)
    vector_store: VectorStoreConfig = Field(alias="vectorStore")
    # Moved to llm-platform:mirrors.imageRegistry; kept only to answer with the new key.
    image_registry: str | None = Field(None, alias="imageRegistry", max_length=255)
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


class ModelArchitectureConfig(_Model):
    """A model outside components/k8s/model_fit.py's catalog: figures from its config.json."""

    parameters: float = Field(gt=0, le=2000)  # billions, as the model card lists them
    layers: int = Field(ge=1, le=1000)  # num_hidden_layers
    attention_heads: int = Field(alias="attentionHeads", ge=1, le=1024)  # num_attention_heads
    kv_heads: int = Field(alias="kvHeads", ge=1, le=1024)  # num_key_value_heads
    head_dim: int = Field(alias="headDim", ge=8, le=1024)  # head_dim or hidden_size / num_attention_heads
    context_length: int = Field(alias="contextLength", ge=256, le=10_485_760)  # max_position_embeddings
    weight_bits: Literal[4, 8, 16] = Field(16, alias="weightBits")  # 16 bf16/fp16, 8 FP8, 4 AWQ/GPTQ

    @model_validator(mode="after")
    def _heads(self) -> ModelArchitectureConfig:
        if self.kv_heads > self.attention_heads:
            raise ValueError("kvHeads must not exceed attentionHeads")
        return self


class ServedModelConfig(_Model):
    name: Name
    hugging_face_id: str = Field(alias="huggingFaceId", pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
    revision: str | None = Field(None, pattern=r"^[\w.-]{1,64}$")  # pin a Hugging Face commit or tag
    pool: Name
    gpus_per_replica: int = Field(1, alias="gpusPerReplica", ge=1, le=16)
    # 0 = scale to zero (KEDA): the model rests without a GPU while idle and its routes are served by
    # their fallbacks until a replica is up again (checked: every route serving it has fallbacks).
    min_replicas: int = Field(1, alias="minReplicas", ge=0, le=100)
    max_replicas: int = Field(alias="maxReplicas", ge=1, le=100)
    max_model_len: int | None = Field(None, alias="maxModelLen", ge=256, le=1_048_576)
    cache_size_gb: int = Field(100, alias="cacheSizeGb", ge=10, le=4000)
    # Checked against the pool's GPU memory by the plan (components/k8s/model_fit.py) and passed
    # to vLLM unchanged: sequences per batch (each must fit at maxModelLen), vLLM's memory share
    # (its default 0.9), on-the-fly FP8 weights, FP8 KV cache.
    max_num_seqs: int | None = Field(None, alias="maxNumSeqs", ge=1, le=1024)
    gpu_memory_utilization: float = Field(0.9, alias="gpuMemoryUtilization", ge=0.5, le=0.98)
    quantization: Literal["fp8"] | None = None
    kv_cache_dtype: Literal["auto", "fp8"] = Field("auto", alias="kvCacheDtype")
    architecture: ModelArchitectureConfig | None = None  # required for models outside the catalog

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
    # What the route serves (request type); clients choose a route by its name, e.g. `faq` on a
    # cheap model and `reasoning` on a strong one, both of kind chat.
    kind: Literal["chat", "embeddings", "code", "long-context"] = "chat"
    rpm: int | None = Field(None, ge=1)  # per fallback upstream, for the whole gateway (split among its replicas)
    tpm: int | None = Field(None, ge=1)
    # This route's share of each of its self-hosted models' in-flight requests, for the whole
    # gateway at its maxReplicas, before new ones overflow to the fallbacks (default: an equal
    # share of 32 per model replica at minReplicas; stacks.scale.self_hosted_caps).
    max_parallel_requests: int | None = Field(None, alias="maxParallelRequests", ge=1, le=100_000)
    # Per paid upstream and budgetDuration, in the currency of llm-platform:budget.
    max_budget: float | None = Field(None, alias="maxBudget", gt=0)
    budget_duration: str = Field("1mo", alias="budgetDuration", pattern=r"^\d+(s|m|h|d|mo)$")


class TeamConfig(_Model):
    """A caller of the gateway with its own scoped key (kept in the secret store): the routes it may
    call and its monthly budget. The team named `app` is the stack's app."""

    name: Name
    routes: list[Name] = Field(default_factory=list)  # empty: every route
    # Percent of llm-platform:budget.amount per month (None: no team budget).
    budget_percent: float | None = Field(None, alias="budgetPercent", gt=0, le=100)


class GatewayConfig(_Model):
    replicas: int = Field(2, ge=1, le=20)
    # Networks besides the VPC/VNet that may call the gateway's internal load balancer (VPN, peers).
    allowed_cidrs: list[ipaddress.IPv4Network] = Field(default_factory=list, alias="allowedCidrs")
    # Retries go back to the same upstream after a backoff; the fallbacks are the better retry.
    num_retries: int = Field(0, alias="numRetries", ge=0, le=5)
    # Failures of an upstream within a minute before it cools down (is skipped) for cooldownSeconds.
    allowed_fails: int = Field(1, alias="allowedFails", ge=0, le=100)
    cooldown_seconds: int = Field(30, alias="cooldownSeconds", ge=1, le=3600)
    timeout_seconds: int = Field(600, alias="timeoutSeconds", ge=10, le=3600)
    # The gateway's HorizontalPodAutoscaler adds pods up to maxReplicas (at least `replicas`) on
    # CPU; each pod requests `cpu` cores and runs one LiteLLM worker per core.
    max_replicas: int = Field(6, alias="maxReplicas", ge=1, le=50)
    cpu: int = Field(1, ge=1, le=8)
    # Scoped keys; the app always gets the key of the team named `app`.
    teams: list[TeamConfig] = Field(default_factory=lambda: [TeamConfig(name="app")], min_length=1, max_length=20)

    @model_validator(mode="after")
    def _replicas(self) -> GatewayConfig:
        if self.max_replicas < self.replicas:
            raise ValueError("maxReplicas must not be below replicas")
        return self


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


# host[:port][/path]: lowercase DNS labels, repository path parts as OCI distribution allows.
# Registry names: 5-50 alphanumerics; login server <name lowercased>.azurecr.io / .azurecr.cn
# (learn.microsoft.com/azure/container-registry/container-registry-get-started-portal, read 2026-11-30).
_AZURE_REGISTRY_ID = re.compile(
    r"/subscriptions/[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}/resourceGroups/[-\w.()]{1,90}/providers/Microsoft\.ContainerRegistry/registries/[A-Za-z0-9]{5,50}",
    re.IGNORECASE,
)
_REGISTRY_PATH = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+(?::\d{1,5})?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"


class MirrorsConfig(_Model):
    """Where images, charts, Python packages and model weights come from (None = upstream).

    imageRegistry: host[/path] serving images as <path>/<upstream prefix>/<upstream repo>
    (components/mirrors.py); helmRepository: oci://host/path; pythonIndex: https:// PyPI index;
    modelSource: huggingface | modelscope | https://<Hugging Face-compatible mirror>."""

    image_registry: str | None = Field(None, alias="imageRegistry", max_length=255)
    helm_repository: str | None = Field(None, alias="helmRepository", max_length=255)
    python_index: str | None = Field(None, alias="pythonIndex", max_length=255)
    model_source: str | None = Field(None, alias="modelSource", max_length=255)
    # ARM id of the Azure Container Registry behind imageRegistry: the stack grants AcrPull on it.
    azure_registry_id: str | None = Field(None, alias="azureRegistryId", max_length=400)
    # A Dify plugin marketplace (MARKETPLACE_API_URL); unset: marketplace.dify.ai, off in mainland China.
    plugin_marketplace: str | None = Field(None, alias="pluginMarketplace", max_length=255)

    @field_validator("plugin_marketplace")
    @classmethod
    def _marketplace(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d{1,5})?", v):
            raise ValueError("must be the https:// origin of a Dify plugin marketplace, without a path (e.g. https://marketplace.example.cn)")
        return v

    @field_validator("azure_registry_id")
    @classmethod
    def _azure_registry_id(cls, v: str | None) -> str | None:
        if v is not None and not _AZURE_REGISTRY_ID.fullmatch(v):
            raise ValueError("must be the resource id of an Azure Container Registry (/subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.ContainerRegistry/registries/<name>)")
        return v

    @field_validator("image_registry")
    @classmethod
    def _registry(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(_REGISTRY_PATH, v):
            raise ValueError("must be a registry host with an optional path, lowercase, no scheme and no tag (e.g. 123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn/mirror)")
        return v

    @field_validator("helm_repository")
    @classmethod
    def _helm(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(rf"oci://{_REGISTRY_PATH}", v):
            raise ValueError("must be an OCI repository oci://host/path, lowercase (e.g. oci://123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn/charts)")
        return v

    @field_validator("python_index")
    @classmethod
    def _index(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d{1,5})?(/[A-Za-z0-9._~/-]*)?", v):
            raise ValueError("must be the https:// URL of a PyPI-compatible simple index, without credentials (e.g. https://mirrors.aliyun.com/pypi/simple/)")
        return v

    @field_validator("model_source")
    @classmethod
    def _model_source(cls, v: str | None) -> str | None:
        from policies.llm_guard.sources import model_source_kind

        kind = model_source_kind(v)
        if v is not None and kind not in ("huggingface", "modelscope", "hf-mirror"):
            if kind in ("s3", "blob"):
                raise ValueError("weights staged in a bucket are not wired to the model servers yet; use modelscope, huggingface or https://<Hugging Face-compatible mirror>")
            raise ValueError("must be huggingface, modelscope or https://<Hugging Face-compatible mirror>")
        return v

    def for_components(self) -> Mirrors:
        return Mirrors(self.image_registry, self.helm_repository, self.python_index, self.model_source, plugin_marketplace=self.plugin_marketplace)

    def azure_registry_name(self) -> str | None:
        """The registry name in azureRegistryId (ARM names are case-insensitive: lowercased)."""
        return self.azure_registry_id.rsplit("/", 1)[-1].lower() if self.azure_registry_id else None


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
    problems.extend(_check_mirrors(config))
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
    return problems + _check_restricted_region(config, profile)


def _check_restricted_region(config: PlatformConfig, profile: ResidencyProfile) -> list[ConfigProblem]:
    """An access-restricted Azure region only with the team's grant named in restrictedRegionAccess."""
    key = f"{NAMESPACE}:restrictedRegionAccess"
    granted = [normalize_azure_location(r) for r in config.restricted_region_access]
    if config.cloud is not Cloud.AZURE:
        return [ConfigProblem(key, config.restricted_region_access, "applies to Azure locations only; remove it")] if granted else []
    restricted = AZURE_ACCESS_RESTRICTED_REGIONS.get(config.azure_environment, frozenset())
    location = config.region
    problems = []
    if location in restricted and location not in granted:
        open_regions = sorted(profile.azure_regions - restricted)
        problems.append(
            ConfigProblem(
                "azure-native:location",
                location,
                f"is an access-restricted region, reserved for specific customer scenarios such as in-country disaster recovery (Azure regions list); "
                f"a subscription deploys there only once the cloud's operator grants it access on request. Use an unrestricted region of residency profile '{profile.name}': "
                f"{', '.join(open_regions) or '(none)'}; or, if your subscription has been granted access, set {key}: [{location}]",
            )
        )
    for i, region in enumerate(granted):
        if region != location:
            what = "is not access restricted" if region not in restricted else "is not this stack's azure-native:location"
            problems.append(ConfigProblem(f"{key}[{i}]", config.restricted_region_access[i], f"{what}; list only the restricted location this stack deploys to ({location or 'none set'})"))
    return problems


def _check_profile_rules(config: PlatformConfig) -> list[ConfigProblem]:
    profile = config.profile
    problems = []
    allowed_apis = sorted(n for n, a in config.poc.providers().items() if profile.allows_api(a))
    for index, provider in enumerate(config.poc.api_providers):
        api = config.poc.provider(provider)
        if api is not None and not profile.allows_api(api):
            problems.append(
                ConfigProblem(
                    f"{NAMESPACE}:poc.apiProviders[{index}]",
                    provider,
                    f"sends prompts to {api.host} ({api.geography.upper()}), outside residency profile '{profile.name}'; allowed providers: {', '.join(allowed_apis) or 'none'}",
                )
            )
    app = config.poc.app
    if app.certificate_arn:
        if config.cloud is not Cloud.AWS:
            problems.append(ConfigProblem(f"{NAMESPACE}:poc.app.certificateArn", app.certificate_arn, "is an AWS ACM setting; on Azure leave it unset"))
        elif f":acm:{config.region}:" not in app.certificate_arn:
            problems.append(ConfigProblem(f"{NAMESPACE}:poc.app.certificateArn", app.certificate_arn, f"must be an ACM certificate in the stack region {config.region}"))
    if config.cloud is Cloud.AZURE and app.kind is AppKind.DIFY and CLOUDS.get(config.azure_environment) and app_redis_zone(CLOUDS[config.azure_environment]) is None:
        problems.append(
            ConfigProblem(
                f"{NAMESPACE}:poc.app.kind",
                app.kind.value,
                f"Dify needs Redis (Azure Managed Redis or Azure Cache for Redis), which the Azure '{config.azure_environment}' cloud does not offer with a private endpoint; use 'flowise' there",
            )
        )
    problems.extend(_check_icp_filing(config))
    budget = config.budget
    if config.cloud is Cloud.AWS:
        expected = "CNY" if profile.aws_partition == "aws-cn" else "USD"
        if budget.currency != expected:
            problems.append(ConfigProblem(f"{NAMESPACE}:budget.currency", budget.currency, f"AWS Budgets in the {profile.aws_partition} partition count in {expected}"))
    return problems


def _check_azure_registry_id(config: PlatformConfig) -> list[ConfigProblem]:
    """An Azure Container Registry mirror is private: the stack grants AcrPull on it to the
    identities that pull (Container Apps, AKS kubelet), so it needs the registry's resource id."""
    from components.mirrors import acr_name

    key = f"{NAMESPACE}:mirrors.azureRegistryId"
    mirrors = config.mirrors
    name = acr_name(mirrors.image_registry)
    given = mirrors.azure_registry_name()
    if config.cloud is not Cloud.AZURE or name is None:
        if mirrors.azure_registry_id is None:
            return []
        why = "applies to Azure stacks only" if config.cloud is not Cloud.AZURE else f"names the Azure Container Registry behind {NAMESPACE}:mirrors.imageRegistry, which is {mirrors.image_registry or 'not set'} (no *.azurecr.io / *.azurecr.cn host)"
        return [ConfigProblem(key, mirrors.azure_registry_id, f"{why}; remove it")]
    example = f"/subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.ContainerRegistry/registries/{name}"
    if given is None:
        return [ConfigProblem(key, None, f"is required when {NAMESPACE}:mirrors.imageRegistry is an Azure Container Registry ({mirrors.image_registry}): the stack grants its identities AcrPull there; set {example}")]
    if given != name:
        return [ConfigProblem(key, mirrors.azure_registry_id, f"names registry '{given}' but {NAMESPACE}:mirrors.imageRegistry is on '{name}'; set {example}")]
    return []


def _check_mirrors(config: PlatformConfig) -> list[ConfigProblem]:
    """Every source the stack pulls from can be reached, and under a mainland profile is in the
    country (policies/llm_guard/sources.py holds the one table of in-country sources)."""
    from policies.llm_guard.sources import (
        DOMESTIC_PYTHON_INDEXES,
        DOMESTIC_REGISTRIES,
        domestic_registry,
        is_domestic_model_source,
        is_domestic_python_index,
        is_mainland,
        is_outside_plugin_source,
        registry_host,
    )

    key = f"{NAMESPACE}:mirrors"
    mirrors = config.mirrors
    problems = []
    if config.beta is not None and config.beta.image_registry is not None:
        problems.append(ConfigProblem(f"{NAMESPACE}:beta.imageRegistry", config.beta.image_registry, f"moved to {key}.imageRegistry (one registry for the images of every phase); set it there and remove this key"))
    registry = mirrors.image_registry
    problems.extend(_check_azure_registry_id(config))
    if config.cloud is Cloud.AWS and config.nat_gateways() == 0 and config.phase is Phase.BETA:
        # Without NAT the Beta tasks reach only the VPC endpoints: ECR of the stack's own region
        # (Scale refuses natGateways 0 in _check_scale).
        own_ecr = re.compile(rf"\d{{12}}\.dkr\.ecr\.{re.escape(config.region)}\.amazonaws\.com(\.cn)?(/.*)?")
        if not registry or not own_ecr.fullmatch(registry):
            problems.append(
                ConfigProblem(
                    f"{key}.imageRegistry",
                    registry,
                    f"without NAT gateways (poc.network.natGateways: 0) the tasks pull only through the VPC endpoints of {config.region or 'the stack region'}: "
                    f"set an ECR registry path there (<account>.dkr.ecr.{config.region or '<region>'}.amazonaws.com{'.cn' if config.aws_partition == 'aws-cn' else ''}/<prefix>) holding the images, or set poc.network.natGateways: 1",
                )
            )
    profile = config.profile
    if not is_mainland(profile):
        return problems
    where = f"under residency profile '{profile.name}' (mainland China) every source must be in the country"
    registries = ", ".join(DOMESTIC_REGISTRIES)
    if not registry:
        problems.append(ConfigProblem(f"{key}.imageRegistry", None, f"{where}, and the images come from Docker Hub and ghcr.io by default; set a registry holding them on {registries} (python -m scripts images STACK lists what to copy)"))
    elif domestic_registry(registry_host(registry)) is None:
        problems.append(ConfigProblem(f"{key}.imageRegistry", registry, f"{where}; use a registry on {registries}"))
    helm = mirrors.helm_repository
    if helm and domestic_registry(registry_host(helm)) is None:
        problems.append(ConfigProblem(f"{key}.helmRepository", helm, f"{where}; use an OCI repository (oci://host/path) on {registries}"))
    elif not helm and config.phase is Phase.SCALE:
        problems.append(ConfigProblem(f"{key}.helmRepository", None, f"{where}, and the cluster add-on charts come from github.io and other hosts abroad; set an OCI repository (oci://host/path) on {registries}"))
    index = mirrors.python_index
    indexes = ", ".join(sorted(DOMESTIC_PYTHON_INDEXES))
    if index and not is_domestic_python_index(index):
        problems.append(ConfigProblem(f"{key}.pythonIndex", index, f"{where}; use a PyPI mirror on {indexes} (e.g. https://mirrors.aliyun.com/pypi/simple/)"))
    elif not index and config.poc.app.kind.value == "dify":
        problems.append(ConfigProblem(f"{key}.pythonIndex", None, f"{where}, and Dify's plugin daemon installs plugin packages from pypi.org by default; set a PyPI mirror on {indexes} (e.g. https://mirrors.aliyun.com/pypi/simple/)"))
    marketplace = mirrors.plugin_marketplace
    if marketplace and is_outside_plugin_source(marketplace):
        problems.append(ConfigProblem(f"{key}.pluginMarketplace", marketplace, f"{where}; leave it unset (Dify's marketplace is then off and plugins are installed from local .difypkg packages) or name a marketplace inside the country"))
    source = mirrors.model_source
    if (source is not None or config.phase is Phase.SCALE) and not is_domestic_model_source(source):
        problems.append(ConfigProblem(f"{key}.modelSource", source, f"{where}, and {source or 'huggingface (the default)'} serves model weights from abroad; set modelscope (model ids as published on ModelScope)"))
    return problems


def _open_to_internet(app: AppConfig) -> str | None:
    """What makes the PoC app a public website: 0.0.0.0/0 (any public network wider than /8) or
    a public domain name. Networks of a few offices or a VPN are a CIDR-limited entry."""
    for i, cidr in enumerate(app.allowed_cidrs):
        if cidr.prefixlen < 8 and not cidr.is_private:
            return f"allowedCidrs[{i}] {cidr} opens it to the internet"
    if app.domain_name:
        return f"domainName {app.domain_name} publishes it under a public domain"
    return None


def public_entry_needs_icp_filing(config: PlatformConfig) -> bool:
    """Whether the PoC app must stay off the internet for want of an ICP filing: AWS China closes
    inbound web ports (80/443/8080) account-wide until an ICP recordal or licence is approved
    (amazonaws.cn/en/support/icp/; nordcloud.com/setting-up-an-aws-landing-zone-in-china/, read
    2026-11-30: "if you want to externally open ports other than 22 (SSH) and 3389 (RDP), you need
    to have an ICP licence"), so an internet-facing ALB answers no one, not even the office CIDRs. Azure China enforces the
    filing per domain (a custom domain must be filed and resolve to a filed IP), not per port, so
    the Container Apps default domain stays reachable from the allowed networks there."""
    return config.cloud is Cloud.AWS and config.aws_partition == "aws-cn" and not config.poc.app.icp_filing


def _check_icp_filing(config: PlatformConfig) -> list[ConfigProblem]:
    """A public website on a mainland server needs an ICP filing (MIIT; the operators Sinnet / NWCD
    for AWS China and 21Vianet for Azure China enforce it). AWS China: without a filing, the PoC
    gets an internal load balancer (public_entry_needs_icp_filing), so a public domain or an
    internet-wide allowedCidrs would promise what it cannot serve. Azure China: unfiled custom
    domains are blocked. Sources read 2026-11-30: amazonaws.cn/en/support/icp/,
    alibabacloud.com/help/doc-detail/36898.htm ("Before completing the ICP Filing procedure, you
    are not allowed to make your website accessible"), 365seal.com/y/gDpX3W4wVb.html (Azure China:
    a domain must be filed and resolve to a filed IP)."""
    in_china = (config.cloud is Cloud.AWS and config.aws_partition == "aws-cn") or (config.cloud is Cloud.AZURE and config.azure_environment == "china")
    app = config.poc.app
    if config.phase is not Phase.POC or not in_china or app.icp_filing:
        return []
    reason = _open_to_internet(app)
    if reason is None:
        return []
    if config.cloud is Cloud.AWS:
        what = ("AWS China blocks inbound 80/443/8080 account-wide until an ICP filing is approved, so without one the app gets an internal load balancer "
                "reached over VPN or Direct Connect")
        fix = "file the site (ICP备案) through NWCD (Ningxia) or Sinnet (Beijing) and set the number (e.g. 京ICP备12345678号-1), or keep the app internal (allowedCidrs of your corporate networks, no domainName)"
    else:
        what = "Azure China serves a site on a public domain only with an ICP filing for it (unfiled domains are blocked)"
        fix = "file the domain (ICP备案) with 21Vianet and set the number (e.g. 京ICP备12345678号-1), or keep the app CIDR-limited (allowedCidrs of your offices or VPN, no domainName)"
    return [ConfigProblem(f"{NAMESPACE}:poc.app.icpFiling", None, f"is required: {reason}, and {what}; {fix}")]


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
        return [ConfigProblem(key, None, f"is required for phase {config.phase.value}: vectorStore and at least one managed inference source ({_beta_sources_allowed(config)})")]
    profile = config.profile
    problems = _beta_source_problems(config, beta)
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
        problems.extend(_sagemaker_problems(config, beta))
        if beta.bedrock is None:
            pass
        elif not profile.bedrock_allowed:
            problems.append(ConfigProblem(f"{key}.bedrock", "(set)", f"Bedrock has no endpoint in {profile.aws_partition} (residency profile '{profile.name}'); use {_beta_sources_allowed(config)}"))
        else:
            for i, m in enumerate(beta.bedrock.models):
                try:
                    resolve_model(m.name, m.model, m.routing, config.region, profile, m.in_regions, m.profile_prefixes)
                except ModelChoiceError as exc:
                    problems.append(ConfigProblem(f"{key}.bedrock.models[{i}].model", m.model, str(exc)))
    else:
        if beta.bedrock is not None:
            problems.append(ConfigProblem(f"{key}.bedrock", "(set)", "is an AWS setting; on Azure configure beta.azureOpenAI"))
        if beta.sagemaker is not None:
            problems.append(ConfigProblem(f"{key}.sagemaker", "(set)", "is an AWS setting; on Azure configure beta.azureOpenAI or beta.apiModels"))
        if beta.azure_openai is not None:
            for i, d in enumerate(beta.azure_openai.deployments):
                try:
                    resolve_deployment(d.name, d.model, d.version, d.sku, config.region, profile, d.regions, cloud=config.azure_environment)
                except DeploymentChoiceError as exc:
                    problems.append(ConfigProblem(f"{key}.azureOpenAI.deployments[{i}].{exc.field}", exc.value, str(exc)))
        problems.extend(ConfigProblem(f"{key}.{suffix}", value, message) for suffix, value, message in vector_store_problems(engine, beta.vector_store.geo_redundant_backup))
    return problems


def _beta_sources_allowed(config: PlatformConfig) -> str:
    """The managed inference sources a Beta stack of this cloud and profile may use, as advice."""
    profile = config.profile
    sources = []
    if config.cloud is Cloud.AWS:
        if profile.bedrock_allowed:
            sources.append("beta.bedrock")
        sources.append("beta.sagemaker")
    else:
        sources.append("beta.azureOpenAI")
    apis = sorted(name for name, api in config.poc.providers().items() if profile.allows_api(api))
    if apis:
        sources.append(f"beta.apiModels with one of {', '.join(apis)}")
    return " or ".join(sources)


def _beta_source_problems(config: PlatformConfig, beta: BetaConfig) -> list[ConfigProblem]:
    """Beta needs at least one managed inference source the profile allows; each API model names
    a provider the PoC section configured (its key is in the secret store) and the profile allows."""
    key = f"{NAMESPACE}:beta"
    profile = config.profile
    problems = []
    sagemaker = getattr(beta, "sagemaker", None)
    if beta.bedrock is None and beta.azure_openai is None and sagemaker is None and not beta.api_models:
        problems.append(ConfigProblem(key, "(no inference source)", f"needs at least one managed inference source allowed by residency profile '{profile.name}' in {config.region or 'this region'}: {_beta_sources_allowed(config)}"))
    for i, m in enumerate(beta.api_models):
        api = config.poc.provider(m.provider)
        where = f"{key}.apiModels[{i}].provider"
        if api is None:
            canonical = canonical_provider(m.provider)
            hint = f"'{m.provider}' is {API_PROVIDERS[canonical].display_name}: write '{canonical}'" if canonical in API_PROVIDERS else f"'{m.provider}' is not a known provider"
            problems.append(ConfigProblem(where, m.provider, f"{hint}; known: {', '.join(config.poc.providers())}"))
        elif not profile.allows_api(api):
            allowed = sorted(n for n, a in config.poc.providers().items() if profile.allows_api(a))
            problems.append(ConfigProblem(where, m.provider, f"{api.host} processes prompts in {api.geography.upper()}, outside residency profile '{profile.name}'; allowed: {', '.join(allowed) or 'none'}"))
        elif m.provider not in config.poc.api_providers:
            problems.append(ConfigProblem(where, m.provider, f"add '{m.provider}' to {NAMESPACE}:poc.apiProviders (and set its key {api_key_config_key(m.provider)}) to serve it in Beta"))
    names = [m.name for m in beta.api_models]
    other = [*(m.name for m in (beta.bedrock.models if beta.bedrock else [])), *(d.name for d in (beta.azure_openai.deployments if beta.azure_openai else []))]
    other += [m.name for m in getattr(sagemaker, "models", [])]
    for i, name in enumerate(names):
        if names.index(name) != i or name in other:
            problems.append(ConfigProblem(f"{key}.apiModels[{i}].name", name, "is already the name of another Beta model; names are what the app calls, one each"))
    return problems


def _check_gateway_access(config: PlatformConfig, scale: ScaleConfig, key: str) -> list[ConfigProblem]:
    """Teams name existing routes, the app has its team, and budgets can be converted to USD."""
    from components.fx import RATES

    problems: list[ConfigProblem] = []
    routes = [r.name for r in scale.routes]
    teams = scale.gateway.teams
    names = [t.name for t in teams]
    if "app" not in names:
        problems.append(ConfigProblem(f"{key}.gateway.teams", names, "needs a team named 'app': its key is the one the stack's app calls the gateway with"))
    if len(set(names)) != len(names):
        problems.append(ConfigProblem(f"{key}.gateway.teams", names, "team names must be unique"))
    for i, team in enumerate(teams):
        for j, route in enumerate(team.routes):
            if route not in routes:
                problems.append(ConfigProblem(f"{key}.gateway.teams[{i}].routes[{j}]", route, f"no route has that name; routes: {', '.join(routes)}"))
    budgeted = any(t.budget_percent is not None for t in teams) or any(r.max_budget is not None for r in scale.routes)
    if budgeted and config.budget is not None and config.budget.currency not in RATES:
        problems.append(
            ConfigProblem(
                f"{NAMESPACE}:budget.currency",
                config.budget.currency,
                f"gateway budgets are counted in USD and there is no exchange rate for it; use one of {', '.join(sorted(RATES))} (components/fx.py)",
            )
        )
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
        if model.gpus_per_replica <= gpus:
            problems.extend(_model_fit_problems(model, pool.instance_type, f"{key}.models[{i}]"))
    profile = config.profile
    beta = config.beta
    for i, route in enumerate(scale.routes):
        if not route.self_hosted and not route.fallbacks:
            problems.append(ConfigProblem(f"{key}.routes[{i}]", route.name, "needs selfHosted models or fallbacks"))
        for j, name in enumerate(route.self_hosted):
            if name not in models:
                problems.append(ConfigProblem(f"{key}.routes[{i}].selfHosted[{j}]", name, f"no served model has that name; models: {', '.join(models)}"))
            elif models[name].min_replicas == 0 and not route.fallbacks:
                problems.append(
                    ConfigProblem(
                        f"{key}.models[{list(models).index(name)}].minReplicas",
                        0,
                        f"scales '{name}' to zero, but route '{route.name}' has no fallbacks to serve it while a replica starts (a GPU node, the image and the "
                        "weights: minutes); add fallbacks to the route or set minReplicas to 1 or more",
                    )
                )
        for j, ref in enumerate(route.fallbacks):
            problem = _fallback_problem(ref, config, beta, profile)
            if problem:
                problems.append(ConfigProblem(f"{key}.routes[{i}].fallbacks[{j}]", ref, problem))
    problems.extend(_check_gateway_access(config, scale, key))
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


def model_serving(model: ServedModelConfig, instance_type: str) -> Any:
    """The model's serving choice (components.k8s.model_fit.ServingChoice) on its pool's instance
    type, or None for a model outside the catalog without `architecture`, or an unknown type."""
    from components.k8s.gpu import chip_of, instance_of
    from components.k8s.model_fit import ModelArchitecture, ServingChoice, architecture_of

    shape = instance_of(instance_type)
    given = model.architecture
    arch = (
        ModelArchitecture(given.parameters, given.layers, given.attention_heads, given.kv_heads, given.head_dim, given.context_length, given.weight_bits, model.hugging_face_id)
        if given
        else architecture_of(model.hugging_face_id)
    )
    if shape is None or arch is None:
        return None
    chip = chip_of(instance_type)
    return ServingChoice(
        model.hugging_face_id,
        arch,
        model.gpus_per_replica,
        float(shape.gpu_memory_gib),
        chip.name if chip else instance_type,
        model.max_model_len,
        model.max_num_seqs,
        model.gpu_memory_utilization,
        model.quantization,
        model.kv_cache_dtype,
    )


def _model_fit_problems(model: ServedModelConfig, instance_type: str, key: str) -> list[ConfigProblem]:
    from components.k8s.gpu import chip_of
    from components.k8s.model_fit import MODEL_CATALOG, check_fit, weight_bits

    choice = model_serving(model, instance_type)
    if choice is None:
        return [
            ConfigProblem(
                f"{key}.architecture",
                None,
                f"is required for '{model.hugging_face_id}', which is not in the model catalog ({len(MODEL_CATALOG)} ids in components/k8s/model_fit.py): set parameters "
                "(billions), layers, attentionHeads, kvHeads, headDim, contextLength from its config.json and weightBits (16, 8 or 4), so the plan can check it fits its GPUs",
            )
        ]
    problems = [ConfigProblem(key, model.hugging_face_id, problem) for problem in check_fit(choice).problems]
    chip = chip_of(instance_type)
    if model.quantization == "fp8" and choice.architecture.weight_bits != 16:
        problems.append(ConfigProblem(f"{key}.quantization", model.quantization, f"quantizes a 16-bit checkpoint on load; '{model.hugging_face_id}' is already {weight_bits(choice)}-bit: remove quantization"))
    if weight_bits(choice) == 8 and chip is not None and chip.compute_capability < 8.0:
        field, value = ("quantization", model.quantization) if model.quantization else ("huggingFaceId", model.hugging_face_id)
        problems.append(
            ConfigProblem(
                f"{key}.{field}",
                value,
                f"FP8 weights need an NVIDIA GPU of compute capability 8.0 or later in vLLM; {chip.name} ({instance_type}) is {chip.compute_capability:g}: use a 16-bit or 4-bit checkpoint there",
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
    if kind == "sagemaker":
        if config.cloud is not Cloud.AWS or beta is None or beta.sagemaker is None:
            return "SageMaker fallbacks need cloud aws and beta.sagemaker"
        names = [m.name for m in beta.sagemaker.models]
        return None if target in names else f"no beta.sagemaker model is called '{target}'; models: {', '.join(names)}"
    if kind == "api":
        provider, _, model = target.partition("/")
        api = config.poc.provider(provider)
        if api is None or not model:
            canonical = canonical_provider(provider)
            hint = f"'{provider}' is {API_PROVIDERS[canonical].display_name}, write api:{canonical}/<model>; " if api is None and canonical in API_PROVIDERS else ""
            return f"{hint}write api:<provider>/<model> with a provider of {', '.join(config.poc.providers())}"
        if not profile.allows_api(api):
            allowed = sorted(n for n, a in config.poc.providers().items() if profile.allows_api(a))
            return f"{api.host} processes prompts in {api.geography.upper()}, outside residency profile '{profile.name}'; allowed: {', '.join(allowed) or 'none'}"
        if provider not in config.poc.api_providers:
            return f"add '{provider}' to llm-platform:poc.apiProviders (and its API key) to use it as a fallback"
        return None
    return "write bedrock:<model>, azure:<deployment>, sagemaker:<model> or api:<provider>/<model>"


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


def _sagemaker_problems(config: PlatformConfig, beta: BetaConfig) -> list[ConfigProblem]:
    """SageMaker models: an instance type the region hosts, weights pre-staged in S3."""
    from components.aws.sagemaker_catalog import HostingChoiceError, lmi_image, resolve_instance

    if beta.sagemaker is None:
        return []
    key = f"{NAMESPACE}:beta.sagemaker"
    problems = []
    if lmi_image(config.region, "amazonaws.com") is None:
        problems.append(ConfigProblem(key, "(set)", f"no LMI serving image is catalogued for {config.region} (components/aws/sagemaker_catalog.py)"))
    for i, m in enumerate(beta.sagemaker.models):
        try:
            resolve_instance(m.instance_type, config.region)
        except HostingChoiceError as exc:
            problems.append(ConfigProblem(f"{key}.models[{i}].instanceType", m.instance_type, str(exc)))
        if not m.model_id.startswith("s3://"):
            problems.append(
                ConfigProblem(
                    f"{key}.models[{i}].modelId",
                    m.model_id,
                    "SageMaker endpoints run network-isolated in a VPC without NAT and cannot download from a model hub: stage the weights in an S3 "
                    f"prefix in {config.region or 'the stack region'} (e.g. `modelscope download --model {m.model_id} --local_dir w && aws s3 sync w s3://<bucket>/{m.model_id}/`) and set s3://<bucket>/<prefix>",
                )
            )
    return problems
