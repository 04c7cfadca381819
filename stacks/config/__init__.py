"""The typed stack config: every `llm-platform:` key, validated before any resource exists.

`load_config` takes the raw Pulumi config (key -> string, structured values JSON-encoded, as
the engine hands them to a program) and the set of secret keys, and returns a `PlatformConfig`
or raises `ConfigError` naming each bad key, its value and what is allowed. One module per
section (poc, beta, scale, mirrors), the whole stack (platform), what output may show (hygiene)
and the rules across sections (checks)."""

from __future__ import annotations

from stacks.config.base import CLOUDWATCH_RETENTION_DAYS, NAMESPACE, RESERVED_TAGS, BudgetConfig, Cloud, Email, Phase, TagsConfig
from stacks.config.beta import (
    VECTOR_ENGINES,
    AlarmsConfig,
    ApiModelConfig,
    AzureOpenAIConfig,
    AzureOpenAIDeploymentConfig,
    BedrockConfig,
    BedrockModelConfig,
    BetaConfig,
    GuardrailConfig,
    Name,
    SageMakerConfig,
    SageMakerModelConfig,
    VectorStoreConfig,
)
from stacks.config.checks import load_config, model_serving, public_entry_needs_icp_filing
from stacks.config.hygiene import (
    PROVIDER_CREDENTIALS,
    PROVIDER_SETTINGS,
    REDACTED,
    SECRET_TEXT,
    is_known_setting,
    looks_like_credential,
    redact,
)
from stacks.config.mirrors import MirrorsConfig
from stacks.config.platform import KNOWN_KEYS, SECRET_KEYS, PlatformConfig
from stacks.config.poc import (
    MAX_CUSTOM_PROVIDERS,
    AppConfig,
    AppKind,
    CustomProviderConfig,
    DatabaseConfig,
    NetworkConfig,
    PocConfig,
    ProviderName,
    api_key_config_key,
)
from stacks.config.scale import (
    GatewayConfig,
    GpuPoolConfig,
    ModelArchitectureConfig,
    NodePoolConfig,
    RouteConfig,
    ScaleConfig,
    ServedModelConfig,
    TeamConfig,
)

__all__ = ["CLOUDWATCH_RETENTION_DAYS", "KNOWN_KEYS", "MAX_CUSTOM_PROVIDERS", "NAMESPACE", "PROVIDER_CREDENTIALS", "PROVIDER_SETTINGS", "REDACTED", "RESERVED_TAGS", "SECRET_KEYS", "SECRET_TEXT", "VECTOR_ENGINES", "AlarmsConfig", "ApiModelConfig", "AppConfig", "AppKind", "AzureOpenAIConfig", "AzureOpenAIDeploymentConfig", "BedrockConfig", "BedrockModelConfig", "BetaConfig", "BudgetConfig", "Cloud", "CustomProviderConfig", "DatabaseConfig", "Email", "GatewayConfig", "GpuPoolConfig", "GuardrailConfig", "MirrorsConfig", "ModelArchitectureConfig", "Name", "NetworkConfig", "NodePoolConfig", "Phase", "PlatformConfig", "PocConfig", "ProviderName", "RouteConfig", "SageMakerConfig", "SageMakerModelConfig", "ScaleConfig", "ServedModelConfig", "TagsConfig", "TeamConfig", "VectorStoreConfig", "api_key_config_key", "is_known_setting", "load_config", "looks_like_credential", "model_serving", "public_entry_needs_icp_filing", "redact"]
