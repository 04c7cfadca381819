"""The `beta` section: managed inference sources (Bedrock, Azure OpenAI, SageMaker, API models), vector store, alarms."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from stacks.config.base import _Model
from stacks.config.poc import ProviderName

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
