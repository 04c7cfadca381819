"""The LLM gateway: LiteLLM proxy config generated from typed routes.

A route maps a public model name to its primary upstreams (self-hosted models, load-balanced)
and, in the order configured, fallbacks (managed endpoints such as Bedrock or Azure OpenAI, and
third-party APIs) that LiteLLM tries when the group before errors or is cooling down. Neither
secrets nor addresses enter the config: it refers to environment variables (`os.environ/NAME`)
that the deployment fills, so the same config.yaml runs in the cluster and in the tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from components.azure.openai_catalog import ResolvedDeployment
from components.lowcode import Container, SecretRef, Service

Tier = Literal["self-hosted", "managed", "api"]
GATEWAY_PORT = 4000
MASTER_KEY_ENV = "LITELLM_MASTER_KEY"


@dataclass(frozen=True)
class Upstream:
    """One deployment that can serve a route."""

    id: str  # unique, stable: becomes model_info.id
    litellm_model: str  # provider/model as LiteLLM spells it: hosted_vllm/..., bedrock/..., azure/..., openai/...
    tier: Tier
    api_base: str | None = None
    api_key_env: str | None = None  # env var holding the key; the gateway gets it from a secret
    rpm: int | None = None
    tpm: int | None = None
    max_budget: float | None = None  # USD per budget_duration for this deployment
    budget_duration: str | None = None  # e.g. "30d"
    params: Mapping[str, Any] = field(default_factory=dict)  # api_version, aws_region_name, timeout, ...
    model_info: Mapping[str, Any] = field(default_factory=dict)  # e.g. base_model: what LiteLLM may not infer


@dataclass(frozen=True)
class Route:
    """`primary` upstreams share the public name and are load-balanced; each fallback is tried in
    order when the group before it errors or is cooling down."""

    name: str  # what clients ask for
    primary: tuple[Upstream, ...]
    fallbacks: tuple[Upstream, ...] = ()


@dataclass(frozen=True)
class RouterSettings:
    num_retries: int = 2
    allowed_fails: int = 3  # failures within a minute before a deployment cools down
    cooldown_seconds: int = 30
    timeout_seconds: int = 600
    routing_strategy: str = "simple-shuffle"


def _group_name(route: str, index: int) -> str:
    return route if index == 0 else f"{route}--fallback-{index}"


def litellm_config(routes: Sequence[Route], settings: RouterSettings | None = None, extra_settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The proxy's config.yaml as a dict."""
    settings = settings or RouterSettings()
    model_list: list[dict[str, Any]] = []
    fallbacks: list[dict[str, list[str]]] = []
    for route in routes:
        groups = [route.primary, *[(f,) for f in route.fallbacks]] if route.primary else [(f,) for f in route.fallbacks]
        names = [_group_name(route.name, i) for i in range(len(groups))]
        for group_name, upstreams in zip(names, groups, strict=True):
            for upstream in upstreams:
                params: dict[str, Any] = {"model": upstream.litellm_model, **dict(upstream.params)}
                if upstream.api_base:
                    params["api_base"] = upstream.api_base
                if upstream.api_key_env:
                    params["api_key"] = f"os.environ/{upstream.api_key_env}"
                for key in ("rpm", "tpm", "max_budget", "budget_duration"):
                    value = getattr(upstream, key)
                    if value is not None:
                        params[key] = value
                info = {**dict(upstream.model_info), "id": upstream.id, "platform_tier": upstream.tier}
                model_list.append({"model_name": group_name, "litellm_params": params, "model_info": info})
        if len(names) > 1:
            fallbacks.append({names[0]: names[1:]})
    config: dict[str, Any] = {
        "model_list": model_list,
        "router_settings": {
            "routing_strategy": settings.routing_strategy,
            "num_retries": settings.num_retries,
            "allowed_fails": settings.allowed_fails,
            "cooldown_time": settings.cooldown_seconds,
            "timeout": settings.timeout_seconds,
            "fallbacks": fallbacks,
        },
        "litellm_settings": {"drop_params": True, "request_timeout": settings.timeout_seconds, **dict(extra_settings or {})},
        "general_settings": {"master_key": f"os.environ/{MASTER_KEY_ENV}"},
    }
    return config


def azure_openai_upstream(upstream_id: str, deployment: ResolvedDeployment, endpoint: str, **limits: Any) -> Upstream:
    """An Azure OpenAI deployment as LiteLLM must see it. LiteLLM (1.108.6) recognises a GPT-5
    series model by its name only, and `azure/<deployment>` carries the deployment's name, not
    the model's; `model_info.base_model` names the model, and LiteLLM uses it to pick its GPT-5
    request shape (max_tokens -> max_completion_tokens, sampling parameters dropped:
    litellm/main.py `_azure_detection_model = base_model or model`,
    llms/azure/chat/gpt_5_transformation.py) and for cost tracking. The API version is the one
    Microsoft documents for the model's family (components/azure/openai_catalog.py)."""
    family = deployment.family
    params: dict[str, Any] = {"api_version": family.api_version}
    if family.reasoning:
        # Apps send temperature/top_p by default; a reasoning deployment answers those with 400.
        params["drop_params"] = True
    return Upstream(
        id=upstream_id,
        litellm_model=f"azure/{deployment.name}",
        tier="managed",
        api_base=endpoint,
        params=params,
        model_info={"base_model": f"azure/{deployment.model}"},
        **limits,
    )


def render_config(config: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=False)


def gateway_service(
    config_yaml: str,
    secrets: Mapping[str, SecretRef],
    env: Mapping[str, Any] | None = None,
    replicas: int = 1,
    name: str = "gateway",
) -> Service:
    """LiteLLM as a container: the config comes in an env var and is written to a file at start,
    so no volume is needed (Container Apps and ECS alike)."""
    container = Container(
        name="litellm",
        image_key="litellm",
        cpu=1024,
        memory=2048,
        port=GATEWAY_PORT,
        health_path="/health/liveliness",
        env={"LITELLM_CONFIG": config_yaml, "LITELLM_LOG": "INFO", "LITELLM_TELEMETRY": "False", **dict(env or {})},
        secrets=dict(secrets),
        command=(
            "/bin/sh",
            "-c",
            f'printf "%s" "$LITELLM_CONFIG" > /tmp/litellm-config.yaml && exec litellm --config /tmp/litellm-config.yaml --port {GATEWAY_PORT}',
        ),
    )
    return Service(name, (container,), ingress_container="litellm", min_replicas=replicas, task_cpu=1024, task_memory=2048)
