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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

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
    geography: str  # cn | eu | us (a profile geography); anything else is allowed only under `global`
    litellm_prefix: str  # LiteLLM (1.108.6) provider prefix the gateway writes before the model
    api_base: str  # OpenAI-compatible (or provider-native) API root; always set explicitly in routes
    aliases: tuple[str, ...] = ()  # names users type for it (qwen -> dashscope)
    source: str = ""  # the vendor document the host and geography come from, and when it was read
    custom: bool = False  # declared in llm-platform:poc.customProviders, not a built-in


# Hosts and processing geographies from each vendor's API documentation (read 2026-11-30). The
# gateway always sets `api_base` explicitly: LiteLLM 1.108.6's own defaults for moonshot
# (api.moonshot.ai), zai (api.z.ai) and tencent (tokenhub-intl.tencentcloudmaas.com) are the
# vendors' international endpoints (litellm/llms/moonshot/chat/transformation.py,
# llms/zai/chat/transformation.py, litellm_core_utils/get_llm_provider_logic.py).
API_PROVIDERS: Final[dict[str, ApiProvider]] = {
    p.name: p
    for p in (
        ApiProvider("openai", "OpenAI", "api.openai.com", "us", "openai", "https://api.openai.com/v1", ("chatgpt",), "platform.openai.com/docs/api-reference"),
        ApiProvider("openai-eu", "OpenAI (EU data residency)", "eu.api.openai.com", "eu", "openai", "https://eu.api.openai.com/v1", (), "help.openai.com data residency for the API: eu.api.openai.com"),
        ApiProvider("anthropic", "Anthropic", "api.anthropic.com", "us", "anthropic", "https://api.anthropic.com", ("claude",), "docs.anthropic.com/en/api/overview"),
        ApiProvider("mistral", "Mistral AI", "api.mistral.ai", "eu", "mistral", "https://api.mistral.ai/v1", (), "docs.mistral.ai/api"),
        # LiteLLM `deepseek` (llms/deepseek/chat/transformation.py); base_url https://api.deepseek.com
        # (/v1 accepted for OpenAI compatibility): api-docs.deepseek.com, read 2026-11-30.
        ApiProvider("deepseek", "DeepSeek", "api.deepseek.com", "cn", "deepseek", "https://api.deepseek.com/v1", (), "api-docs.deepseek.com (Your First API Call), read 2026-11-30"),
        # Model Studio (Bailian) China (Beijing) region; dashscope-intl.aliyuncs.com is Singapore.
        # LiteLLM `dashscope` (llms/dashscope/chat/transformation.py).
        ApiProvider(
            "dashscope",
            "Alibaba Cloud Model Studio / DashScope (Qwen), China (Beijing)",
            "dashscope.aliyuncs.com",
            "cn",
            "dashscope",
            "https://dashscope.aliyuncs.com/compatible-mode/v1",
            ("qwen", "tongyi", "bailian", "aliyun", "alibaba", "modelstudio"),
            "help.aliyun.com/zh/model-studio/compatibility-of-openai-with-dashscope (Beijing base_url), read 2026-11-30",
        ),
        ApiProvider(
            "dashscope-intl",
            "Alibaba Cloud Model Studio (Qwen), international (Singapore)",
            "dashscope-intl.aliyuncs.com",
            "sg",
            "dashscope",
            "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
            (),
            "alibabacloud.com/help/en/model-studio/compatibility-of-openai-with-dashscope (Singapore base_url), read 2026-11-30",
        ),
        # Qianfan ModelBuilder V2 inference API, OpenAI-compatible: LiteLLM `openai` + api_base.
        ApiProvider(
            "qianfan",
            "Baidu AI Cloud Qianfan (ERNIE)",
            "qianfan.baidubce.com",
            "cn",
            "openai",
            "https://qianfan.baidubce.com/v2",
            ("baidu", "ernie", "wenxin", "yiyan"),
            "cloud.baidu.com/doc/WENXINWORKSHOP/s/2m3fihw8s (OpenAI接口兼容, base_url), read 2026-11-30",
        ),
        # Hunyuan OpenAI-compatible interface: LiteLLM `openai` + api_base (LiteLLM's `tencent`
        # provider defaults to the international TokenHub host).
        ApiProvider(
            "hunyuan",
            "Tencent Hunyuan",
            "api.hunyuan.cloud.tencent.com",
            "cn",
            "openai",
            "https://api.hunyuan.cloud.tencent.com/v1",
            ("tencent", "tencent-hunyuan"),
            "cloud.tencent.com/document/product/1729/111007 (OpenAI 兼容接口), read 2026-11-30",
        ),
        # Volcano Engine Ark, cn-beijing: LiteLLM `volcengine` (its default is the same host).
        ApiProvider(
            "volcengine",
            "Volcano Engine Ark (Doubao)",
            "ark.cn-beijing.volces.com",
            "cn",
            "volcengine",
            "https://ark.cn-beijing.volces.com/api/v3",
            ("ark", "doubao", "volces", "bytedance"),
            "volcengine.com/docs/82379/1330626 (Base URL https://ark.cn-beijing.volces.com/api/v3), read 2026-11-30",
        ),
        # Moonshot open platform, mainland: api.moonshot.cn (api.moonshot.ai is the global one).
        ApiProvider(
            "moonshot",
            "Moonshot AI (Kimi), China",
            "api.moonshot.cn",
            "cn",
            "moonshot",
            "https://api.moonshot.cn/v1",
            ("kimi", "moonshotai"),
            "platform.moonshot.cn/docs/api/chat (base_url https://api.moonshot.cn/v1), read 2026-11-30",
        ),
        # Zhipu BigModel open platform, mainland: open.bigmodel.cn (api.z.ai is the international
        # Z.ai platform). LiteLLM `zai` speaks the same /api/paas/v4 API; api_base is set.
        ApiProvider(
            "zhipu",
            "Zhipu AI BigModel (GLM), China",
            "open.bigmodel.cn",
            "cn",
            "zai",
            "https://open.bigmodel.cn/api/paas/v4",
            ("zhipuai", "glm", "bigmodel", "chatglm"),
            "docs.bigmodel.cn/cn/guide/develop/http/introduction (https://open.bigmodel.cn/api/paas/v4/), read 2026-11-30",
        ),
    )
}
API_HOSTS: Final[dict[str, ApiProvider]] = {p.host: p for p in API_PROVIDERS.values()}
PROVIDER_ALIASES: Final[dict[str, str]] = {alias: p.name for p in API_PROVIDERS.values() for alias in p.aliases}
# International endpoints of the domestic vendors (and LiteLLM's defaults for them): recognised
# so a route that names one is reported with where it goes, never taken for the mainland one.
OUTSIDE_MAINLAND_HOSTS: Final[dict[str, ApiProvider]] = {
    p.host: p
    for p in (
        ApiProvider("moonshot-global", "Moonshot AI (Kimi), global platform", "api.moonshot.ai", "global", "moonshot", "https://api.moonshot.ai/v1", (), "platform.moonshot.ai/docs, read 2026-11-30"),
        ApiProvider("zai", "Z.ai (GLM), international platform", "api.z.ai", "global", "zai", "https://api.z.ai/api/paas/v4", (), "docs.z.ai, read 2026-11-30"),
        ApiProvider("tencent-tokenhub-intl", "Tencent TokenHub, international", "tokenhub-intl.tencentcloudmaas.com", "global", "tencent", "https://tokenhub-intl.tencentcloudmaas.com/v1", (), "LiteLLM 1.108.6 tencent default"),
        # Model Studio's other DashScope domains (alibabacloud.com/help/en/model-studio/base-url,
        # read 2026-11-30): US (Virginia) and China (Hong Kong), which is outside the mainland.
        ApiProvider("dashscope-us", "Alibaba Cloud Model Studio, US (Virginia)", "dashscope-us.aliyuncs.com", "us", "dashscope", "https://dashscope-us.aliyuncs.com/compatible-mode/v1", (), "alibabacloud.com/help/en/model-studio/base-url, read 2026-11-30"),
        ApiProvider("dashscope-hk", "Alibaba Cloud Model Studio, China (Hong Kong)", "cn-hongkong.dashscope.aliyuncs.com", "hk", "dashscope", "https://cn-hongkong.dashscope.aliyuncs.com/compatible-mode/v1", (), "alibabacloud.com/help/en/model-studio/base-url, read 2026-11-30"),
    )
}
# Model Studio workspace-dedicated domains: <workspace-id>.<region>.maas.aliyuncs.com (same source).
_ALIYUN_MAAS_HOST = re.compile(r"^(?:[a-z0-9-]+\.)?(?P<region>[a-z]{2}-[a-z]+(?:-\d+)?)\.maas\.aliyuncs\.com$")


def canonical_provider(name: str) -> str:
    """The built-in provider a user means (`Qwen` -> dashscope, `kimi` -> moonshot); `name`
    lower-cased when it is neither a provider nor an alias (then the caller refuses it)."""
    key = str(name).strip().lower()
    return PROVIDER_ALIASES.get(key, key)


def custom_api_provider(name: str, base_url: str, geography: str) -> ApiProvider:
    """An OpenAI-compatible API declared in the stack config, judged like a built-in."""
    host = (urlsplit(base_url).hostname or "").lower()
    return ApiProvider(name, f"custom provider '{name}'", host, geography, "openai", base_url.rstrip("/"), (), "llm-platform:poc.customProviders", custom=True)


def known_api_host(host: str) -> ApiProvider | None:
    """A built-in API, a known international endpoint or a Model Studio workspace domain (by its
    region): a custom declaration never renames these."""
    host = host.lower().rstrip(".")
    known = API_HOSTS.get(host) or OUTSIDE_MAINLAND_HOSTS.get(host)
    maas = _ALIYUN_MAAS_HOST.match(host)
    if known is None and maas:
        region = maas.group("region")
        geography = "cn" if region.startswith("cn-") and region != "cn-hongkong" else {"us-east-1": "us"}.get(region, "global")
        known = ApiProvider(f"dashscope-{region}", f"Alibaba Cloud Model Studio workspace domain ({region})", host, geography, "dashscope", f"https://{host}/compatible-mode/v1", (), "alibabacloud.com/help/en/model-studio/base-url, read 2026-11-30")
    return known


def api_host_provider(host: str, custom: Mapping[str, ApiProvider] | None = None) -> ApiProvider | None:
    """The API a hostname belongs to: a built-in or known international endpoint first, then a
    provider the stack declared (by its host)."""
    return known_api_host(host) or (custom or {}).get(host.lower().rstrip("."))


def declared_custom_providers(stack_config: Mapping[str, object]) -> dict[str, ApiProvider]:
    """Custom providers of the stack config (`llm-platform:poc.customProviders`) by host, so the
    pack judges them by their declared geography like built-ins. Malformed entries are skipped:
    the stack refuses them, and the pack then treats their hosts as unknown (fails closed)."""
    import json

    poc = stack_config.get("llm-platform:poc")
    if isinstance(poc, str):
        try:
            poc = json.loads(poc)
        except ValueError:
            return {}
    entries = poc.get("customProviders") if isinstance(poc, Mapping) else None
    found: dict[str, ApiProvider] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping):
            continue
        name, base_url, geography = entry.get("name"), entry.get("baseUrl"), entry.get("geography")
        if not all(isinstance(v, str) for v in (name, base_url, geography)) or not str(base_url).startswith("https://"):
            continue
        api = custom_api_provider(str(name), str(base_url), str(geography))
        if api.host and known_api_host(api.host) is None:
            found[api.host] = api
    return found
