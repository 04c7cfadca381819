"""Ways prompts leave a region without any region field changing.

Sources:
- Bedrock cross-region inference profiles: AWS Bedrock user guide, "Supported Regions and models
  for inference profiles" (destination Regions, union over the models of each geography).
- Azure OpenAI deployment types: learn.microsoft.com "Deployment types for Azure AI Foundry
  Models" (Standard / DataZone* / Global* / DeveloperTier).
- Third-party API hosts: each vendor's public API documentation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from .regions import AWS_PARTITION_REGIONS

# Prefix of a system-defined cross-region inference profile id -> Regions the request may be
# processed in. `None` means "any commercial Region".
BEDROCK_PROFILE_DESTINATIONS: Final[dict[str, frozenset[str] | None]] = {
    "us": frozenset({"us-east-1", "us-east-2", "us-west-1", "us-west-2"}),
    "us-gov": frozenset({"us-gov-east-1", "us-gov-west-1"}),
    "eu": frozenset(
        {
            "eu-central-1",
            "eu-west-1",
            "eu-west-3",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            # Some `eu.` profiles also route to London and Zurich: Europe, but not the EU.
            "eu-west-2",
            "eu-central-2",
        }
    ),
    "apac": frozenset(
        {
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-south-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "ap-east-2",  # Taipei
            "me-central-1",  # UAE
        }
    ),
    "jp": frozenset({"ap-northeast-1", "ap-northeast-3"}),
    "au": frozenset({"ap-southeast-2", "ap-southeast-4"}),
    "global": None,
}

# What the stacks choose for a region when a cross-region profile is wanted.
BEDROCK_GEOGRAPHY_BY_REGION_PREFIX: Final[dict[str, str]] = {
    "us-gov-": "us-gov",
    "us-": "us",
    "eu-": "eu",
    "ap-": "apac",
    "me-central-": "apac",
}

_PROFILE_ID = re.compile(r"^(?P<prefix>[a-z]+(?:-[a-z]+)?)\.(?P<model>[a-z0-9-]+\.[A-Za-z0-9.:_-]+)$")
_BEDROCK_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):bedrock:(?P<region>[^:]*):(?P<account>[^:]*):"
    r"(?P<kind>foundation-model|inference-profile|application-inference-profile|"
    r"provisioned-model|custom-model|imported-model|guardrail|guardrail-profile|"
    r"knowledge-base|agent|[a-z-]+)/(?P<resource>.+)$"
)
# Guardrail cross-region profiles: <geography>.guardrail.v1:0 (Bedrock guardrails user guide).
_GUARDRAIL_PROFILE = re.compile(r"^(?P<prefix>[a-z]+(?:-[a-z]+)?)\.guardrail\.v\d+(?::\d+)?$")
# Model ids as Bedrock names them: <provider>.<model>[-version][:n]
_MODEL_ID = re.compile(r"^[a-z0-9-]+\.[a-z0-9][A-Za-z0-9.:_-]*$")
_PROVIDERS_OF_MODEL_IDS: Final[frozenset[str]] = frozenset(
    {
        "ai21",
        "amazon",
        "anthropic",
        "cohere",
        "deepseek",
        "google",
        "meta",
        "minimax",
        "mistral",
        "moonshot",
        "nvidia",
        "openai",
        "qwen",
        "stability",
        "twelvelabs",
        "writer",
    }
)


@dataclass(frozen=True)
class BedrockTarget:
    """A Bedrock model reference found in a string: what it is and where it may be processed."""

    text: str
    kind: str  # foundation-model | inference-profile | application-inference-profile | ...
    prefix: str | None  # cross-region geography prefix, if any
    region: str | None  # region named in an ARN ('' for a region wildcard), None for bare ids
    model: str | None

    @property
    def region_wildcard(self) -> bool:
        return self.region is not None and ("*" in self.region or self.region == "")

    def destinations(self) -> frozenset[str] | None:
        """Regions the prompt may be processed in; None = any commercial region or unknown prefix."""
        if self.prefix is not None:
            return BEDROCK_PROFILE_DESTINATIONS.get(self.prefix, None)
        if self.region is not None and not self.region_wildcard:
            return frozenset({self.region})
        return frozenset()


def parse_bedrock_reference(text: str) -> BedrockTarget | None:
    """Recognise a Bedrock model/profile id or ARN; None when `text` is not one."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    arn = _BEDROCK_ARN.match(text)
    if arn:
        resource = arn.group("resource")
        prefix = None
        model = resource
        profile = _PROFILE_ID.match(resource)
        guardrail = _GUARDRAIL_PROFILE.match(resource)
        if arn.group("kind") == "inference-profile" and profile:
            prefix, model = profile.group("prefix"), profile.group("model")
        elif arn.group("kind") == "guardrail-profile" and guardrail:
            prefix, model = guardrail.group("prefix"), None
        return BedrockTarget(text, arn.group("kind"), prefix, arn.group("region"), model)
    guardrail = _GUARDRAIL_PROFILE.match(text)
    if guardrail:
        return BedrockTarget(text, "guardrail-profile", guardrail.group("prefix"), None, None)
    profile = _PROFILE_ID.match(text)
    if profile and profile.group("prefix") in BEDROCK_PROFILE_DESTINATIONS:
        return BedrockTarget(text, "inference-profile", profile.group("prefix"), None, profile.group("model"))
    if profile and profile.group("model").split(".", 1)[0] in _PROVIDERS_OF_MODEL_IDS:
        # An unknown geography prefix in front of a known model provider: report it, never trust it.
        return BedrockTarget(text, "inference-profile", profile.group("prefix"), None, profile.group("model"))
    if _MODEL_ID.match(text) and text.split(".", 1)[0] in _PROVIDERS_OF_MODEL_IDS:
        return BedrockTarget(text, "foundation-model", None, None, text)
    return None


ALL_COMMERCIAL_AWS_REGIONS: Final[frozenset[str]] = AWS_PARTITION_REGIONS["aws"]


# Azure OpenAI deployment SKU name -> processing scope.
# "regional": processed in the resource's geography; "datazone": within the US or EU data zone;
# "global": anywhere; "none": no residency guarantee.
AZURE_OPENAI_SKU_SCOPE: Final[dict[str, str]] = {
    "Standard": "regional",
    "ProvisionedManaged": "regional",
    "Batch": "regional",
    "DataZoneStandard": "datazone",
    "DataZoneProvisionedManaged": "datazone",
    "DataZoneBatch": "datazone",
    "GlobalStandard": "global",
    "GlobalProvisionedManaged": "global",
    "GlobalBatch": "global",
    "DeveloperTier": "none",
}

# Azure regions in each OpenAI data zone (learn.microsoft.com, "Data zone" deployment types).
AZURE_DATA_ZONE_REGIONS: Final[dict[str, frozenset[str]]] = {
    "eu": frozenset(
        {
            "westeurope",
            "northeurope",
            "francecentral",
            "germanywestcentral",
            "swedencentral",
            "italynorth",
            "polandcentral",
            "spaincentral",
            "austriaeast",
            "belgiumcentral",
        }
    ),
    "us": frozenset(
        {
            "eastus",
            "eastus2",
            "centralus",
            "northcentralus",
            "southcentralus",
            "westcentralus",
            "westus",
            "westus2",
            "westus3",
        }
    ),
}


@dataclass(frozen=True)
class ApiProvider:
    """A third-party LLM API: where its endpoint processes prompts."""

    name: str
    display_name: str
    host: str
    geography: str  # cn | eu | us
    litellm_prefix: str  # LiteLLM provider prefix used by the gateway
    api_base: str  # OpenAI-compatible (or provider-native) API root


# Hosts and processing geographies from each vendor's API documentation.
API_PROVIDERS: Final[dict[str, ApiProvider]] = {
    p.name: p
    for p in (
        ApiProvider("openai", "OpenAI", "api.openai.com", "us", "openai", "https://api.openai.com/v1"),
        ApiProvider("openai-eu", "OpenAI (EU data residency)", "eu.api.openai.com", "eu", "openai", "https://eu.api.openai.com/v1"),
        ApiProvider("anthropic", "Anthropic", "api.anthropic.com", "us", "anthropic", "https://api.anthropic.com"),
        ApiProvider("mistral", "Mistral AI", "api.mistral.ai", "eu", "mistral", "https://api.mistral.ai/v1"),
        ApiProvider("deepseek", "DeepSeek", "api.deepseek.com", "cn", "deepseek", "https://api.deepseek.com/v1"),
        ApiProvider("dashscope", "Alibaba Cloud DashScope (Qwen)", "dashscope.aliyuncs.com", "cn", "dashscope", "https://dashscope.aliyuncs.com/compatible-mode/v1"),
        ApiProvider("qianfan", "Baidu Qianfan (ERNIE)", "qianfan.baidubce.com", "cn", "openai", "https://qianfan.baidubce.com/v2"),
        ApiProvider("hunyuan", "Tencent Hunyuan", "api.hunyuan.cloud.tencent.com", "cn", "openai", "https://api.hunyuan.cloud.tencent.com/v1"),
        ApiProvider("volcengine", "Volcengine Ark (Doubao)", "ark.cn-beijing.volces.com", "cn", "volcengine", "https://ark.cn-beijing.volces.com/api/v3"),
    )
}
API_HOSTS: Final[dict[str, ApiProvider]] = {p.host: p for p in API_PROVIDERS.values()}
