"""Third-party API models behind the gateway: one place that turns a provider name and a model
into the LiteLLM upstream, for Beta (`beta.apiModels`, both clouds) and for Scale fallbacks
(`api:<provider>/<model>`).

The upstream names its API root as a literal `api_base` (never LiteLLM's default for the
provider: for moonshot, zai and tencent those are the vendors' international endpoints), so the
gateway config in the plan says where prompts go and the policy pack can judge it. The key comes
from the env var `components.lowcode.api_key_env_name(provider)`, which the deployment fills from
the provider's secret (`poc.apiProviders` put it in the secret store).
"""

from __future__ import annotations

from typing import Any

from components.gateway import Route, Upstream
from components.lowcode import api_key_env_name
from policies.llm_guard.routing import ApiProvider
from stacks.config import PlatformConfig


class UnknownApiProviderError(KeyError):
    """A provider that is neither built in nor declared (config validation refuses it first)."""


def api_provider(cfg: PlatformConfig, provider: str) -> ApiProvider:
    api = cfg.poc.provider(provider)
    if api is None:
        raise UnknownApiProviderError(provider)
    return api


def api_model_upstream(cfg: PlatformConfig, provider: str, model: str, upstream_id: str, **limits: Any) -> Upstream:
    """`model` of `provider` as the gateway calls it; `limits` are Upstream fields (rpm, tpm,
    max_budget, budget_duration)."""
    api = api_provider(cfg, provider)
    return Upstream(
        id=upstream_id,
        litellm_model=f"{api.litellm_prefix}/{model}",
        tier="api",
        api_base=api.api_base,
        api_key_env=api_key_env_name(provider),
        model_info={"api_provider": api.name, "api_geography": api.geography},
        **limits,
    )


def beta_api_routes(cfg: PlatformConfig) -> list[Route]:
    """One gateway route per `beta.apiModels` entry, named as the app calls it."""
    if cfg.beta is None:
        return []
    return [Route(m.name, primary=(api_model_upstream(cfg, m.provider, m.model, f"{m.name}/api-{m.provider}"),)) for m in cfg.beta.api_models]


def beta_api_providers(cfg: PlatformConfig) -> list[str]:
    """Providers whose keys the Beta gateway needs (in first-use order)."""
    if cfg.beta is None:
        return []
    return list(dict.fromkeys(m.provider for m in cfg.beta.api_models))
