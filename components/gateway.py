"""The LLM gateway: LiteLLM proxy config generated from typed routes.

A route maps a public model name to its primary upstreams (self-hosted models, load-balanced)
and, in the order configured, fallbacks (managed endpoints such as Bedrock or Azure OpenAI, and
third-party APIs) that LiteLLM tries when the group before errors or is cooling down. Neither
secrets nor addresses enter the config: it refers to environment variables (`os.environ/NAME`)
that the deployment fills, so the same config.yaml runs in the cluster and in the tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from components.azure.openai_catalog import ResolvedDeployment
from components.lowcode import Container, SecretRef, Service

Tier = Literal["self-hosted", "managed", "api"]
TIERS: tuple[Tier, ...] = ("self-hosted", "managed", "api")
# How a route picks among the upstreams of one order level: LiteLLM's least-busy, or its
# cost-based-routing (litellm 1.108.6 router_strategy/lowest_cost.py: the lowest input + output
# price per token in litellm.model_cost, read from model_info.base_model first, then the model).
RouteStrategy = Literal["least-busy", "cheapest"]
# Request types a route serves; clients pick a route by its public name (the model alias).
RouteKind = Literal["chat", "embeddings", "code", "long-context"]
ROUTE_KINDS: tuple[RouteKind, ...] = ("chat", "embeddings", "code", "long-context")
GATEWAY_PORT = 4000
MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
# Prometheus's key: LiteLLM 1.108.6 authenticates /metrics by default (litellm/__init__.py
# require_auth_for_metrics_endpoint = True; proxy/middleware/prometheus_auth_middleware.py calls
# the custom auth). The custom auth accepts this key on /metrics only (no model, no admin route).
METRICS_KEY_ENV = "LLM_PLATFORM_METRICS_KEY"
METRICS_KEY_SECRET = "gateway-metrics-key"  # Secrets Manager path leaf / Key Vault secret name
# The custom auth module ships beside config.yaml (LiteLLM imports `<module>.<name>` from the
# config file's directory: litellm/proxy/types_utils/utils.py get_instance_fn).
AUTH_MODULE = "llm_platform_auth"
TEAMS_ENV = "LLM_PLATFORM_TEAMS"  # JSON {team: {models, monthly_budget_usd}}; no secret in it
BUDGET_ALERTS_ENV = "LLM_PLATFORM_BUDGET_ALERT_PERCENTS"  # e.g. "50,80,100"
UPSTREAM_BUDGETS_ENV = "LLM_PLATFORM_UPSTREAM_BUDGETS"  # JSON {upstream id: USD per month}, for alerts
# First word of the spend tracker's alert log line (components/gateway_auth.py _add); Azure's log
# alert rule matches it (components/azure/alerts.py).
BUDGET_ALERT_MARKER = "LLM_PLATFORM_BUDGET_ALERT"
# AWS: the SNS topic the spend tracker also publishes each alert to (components/aws/alerts.py).
BUDGET_ALERT_TOPIC_ENV = "LLM_PLATFORM_BUDGET_ALERT_TOPIC_ARN"
# Shared state (budgets, cooldowns, usage) for every gateway replica: the managed Redis, given to
# the pod as these env vars (interfaces.md section 4); REDIS_SSL is "True"/"False".
REDIS_ENV = ("REDIS_HOST", "REDIS_PORT", "REDIS_SSL")
REDIS_PASSWORD_ENV = "REDIS_PASSWORD"


APP_TEAM = "app"  # the gateway team whose key the stack's app gets (Beta and Scale alike)
# The custom auth module's file name beside config.yaml, and the env var that carries it into a
# container that writes its config at start (gateway_service).
AUTH_MODULE_FILE = f"{AUTH_MODULE}.py"
AUTH_MODULE_ENV = "LLM_PLATFORM_AUTH_MODULE"
# Longest time a SageMaker real-time endpoint may take for a non-streaming answer: "A customer's
# model containers must respond to requests within 60 seconds" (InvokeEndpoint API reference,
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html, read
# 2026-11-30); waiting longer only delays the failover.
SAGEMAKER_TIMEOUT_SECONDS = 60


def team_key_secret(team: str) -> str:
    """Secret (Secrets Manager path leaf / Key Vault name) holding a team's gateway key; the same
    name in Beta and Scale, so promotion keeps the key."""
    return f"gateway-team-key-{team}"


def team_key_env(team: str) -> str:
    """Env var holding a team's gateway key in the gateway pod (hashed at start, compared in constant time)."""
    return "LLM_PLATFORM_TEAM_KEY_" + re.sub(r"[^A-Z0-9]", "_", team.upper())


@dataclass(frozen=True)
class Upstream:
    """One deployment that can serve a route."""

    id: str  # unique, stable: becomes model_info.id
    litellm_model: str  # provider/model as LiteLLM spells it: hosted_vllm/..., bedrock/..., azure/..., openai/...
    tier: Tier
    api_base: str | None = None
    api_key_env: str | None = None  # env var holding the key; the gateway gets it from a secret
    rpm: int | None = None  # per gateway replica: the router's pre-call check skips it when reached
    tpm: int | None = None
    # Requests in flight per gateway replica; one more is refused at once (429) and the router
    # moves on to the next order level (litellm/router_utils/client_initalization_utils.py
    # MaxParallelRequestsLimit), which is how a saturated self-hosted model overflows.
    max_parallel_requests: int | None = None
    max_budget: float | None = None  # USD per budget_duration for this deployment
    budget_duration: str | None = None  # e.g. "30d"
    timeout: float | None = None  # seconds for a whole non-streaming answer
    stream_timeout: float | None = None  # seconds between stream chunks (and to the first one)
    params: Mapping[str, Any] = field(default_factory=dict)  # api_version, aws_region_name, ...
    model_info: Mapping[str, Any] = field(default_factory=dict)  # e.g. base_model: what LiteLLM may not infer


@dataclass(frozen=True)
class Route:
    """`primary` upstreams share the public name and are balanced (least busy); the fallbacks
    follow, one order level each, in the configured order. All are deployments of ONE public
    model group: LiteLLM serves the lowest `order` level that has a deployment available and
    moves to the next level when that one errors, is cooling down, is over its rpm or has no
    free slot (litellm/router.py: "ORDER FILTERING" in the deployment filter and "ORDER-BASED
    FALLBACKS" in async_function_with_fallbacks, 1.108.6). No internal group exists, so nothing
    but the public names is listed by /v1/models or callable."""

    name: str  # what clients ask for
    primary: tuple[Upstream, ...]
    # One order level each; a tuple is one level of equivalent upstreams (balanced, or the
    # cheapest first with strategy "cheapest").
    fallbacks: tuple[Upstream | tuple[Upstream, ...], ...] = ()
    kind: RouteKind = "chat"
    strategy: RouteStrategy = "least-busy"

    @property
    def levels(self) -> list[tuple[Upstream, ...]]:
        """Order levels: the self-hosted models first, then each fallback level."""
        return [*([self.primary] if self.primary else []), *[f if isinstance(f, tuple) else (f,) for f in self.fallbacks]]

    @property
    def upstreams(self) -> list[Upstream]:
        return [u for level in self.levels for u in level]


@dataclass(frozen=True)
class Team:
    """A caller of the gateway with its own key: the public routes it may use and its monthly budget."""

    name: str
    models: tuple[str, ...]
    monthly_budget_usd: float | None = None

    @property
    def key_env(self) -> str:
        return team_key_env(self.name)


@dataclass(frozen=True)
class GatewayAccess:
    """Scoped keys and shared state: teams authenticate with their own key (the master key stays
    for administration), budgets and cooldowns live in Redis, alerts go to the log."""

    teams: tuple[Team, ...]
    budget_alert_percents: tuple[int, ...] = (80, 100)
    upstream_budgets_usd: Mapping[str, float] = field(default_factory=dict)
    # With a shared Redis (REDIS_* env, Scale): budgets, usage and cooldowns are one state for
    # every replica. Without (Beta: one replica, no Redis): the router keeps them in memory and
    # the auth module counts spend in the process (reset on restart; it logs a warning at start).
    shared_state: bool = True


@dataclass(frozen=True)
class RouterSettings:
    # A retry goes back to the same order level (after a backoff: 2 retries cost 2.7 s against a
    # failing fake); the next order level is the better retry, so none by default.
    num_retries: int = 0
    # A deployment that fails more than this within a minute cools down (is skipped, in every
    # replica: the cooldown is kept in Redis) for cooldown_seconds: with 1, the second failure
    # trips it; each failed request still reaches the next order level at once.
    allowed_fails: int = 1
    cooldown_seconds: int = 30
    timeout_seconds: int = 600
    routing_strategy: str = "least-busy"
    # Request tags (Scale): every deployment carries its tier and provider as LiteLLM tags and the
    # router filters on the request's tags (router_settings.enable_tag_filtering; see tag_routing).
    tag_routing: bool = False


def _group_upstreams(route: Route) -> list[tuple[Upstream, ...]]:
    return route.levels


# LiteLLM's tag filter (litellm 1.108.6 router_strategy/tag_based_routing.py get_deployments_for_tag)
# sends an UNTAGGED request only to deployments tagged "default" when any deployment of the group
# has that tag: no deployment may carry it, so untagged requests see every level as before.
RESERVED_TAG = "default"


def deployment_tags(upstream: Upstream) -> list[str]:
    """What a client may ask for with `tags` / `x-litellm-tags`: the tier (self-hosted, managed,
    api) and, for fallbacks, the service (bedrock, azure, sagemaker, or the API provider's name)."""
    if upstream.tier == "api":
        service = str(upstream.model_info.get("api_provider") or upstream.litellm_model.partition("/")[0])
    elif upstream.tier == "managed":
        service = upstream.litellm_model.partition("/")[0].removesuffix("_chat")  # sagemaker_chat/ -> sagemaker
    else:
        service = ""
    tags = [upstream.tier, *([service] if service and service not in TIERS else [])]
    if RESERVED_TAG in tags:
        raise ValueError(f"upstream {upstream.id}: the tag {RESERVED_TAG!r} would change where untagged requests go")
    return tags


def cost_map_name(upstream: Upstream) -> str | None:
    """The name LiteLLM's cost map prices this upstream under, when its provider/model spelling is
    not that name. The budgets price `openai/<m>` and `bedrock/<profile>` answers under `<m>` and
    `<profile>` (litellm.cost_per_token strips the provider), but cost-based routing looks the
    deployment up verbatim (lowest_cost.py _deployment_cost_map_rates: model_info.base_model, else
    litellm_params.model) and ranks a miss at 5 USD per token each way, i.e. always last; with
    base_model set both read the same row. Others (mistral/, deepseek/, ...) are keys as written."""
    provider, _, name = upstream.litellm_model.partition("/")
    return name if provider in ("openai", "bedrock") and name else None


def _deployment(route: Route, upstream: Upstream, order: int | None, tags: bool = False) -> dict[str, Any]:
    params: dict[str, Any] = {"model": upstream.litellm_model, **dict(upstream.params)}
    if upstream.api_base:
        params["api_base"] = upstream.api_base
    if upstream.api_key_env:
        params["api_key"] = f"os.environ/{upstream.api_key_env}"
    for key in ("rpm", "tpm", "max_parallel_requests", "max_budget", "budget_duration", "timeout", "stream_timeout"):
        value = getattr(upstream, key)
        if value is not None:
            params[key] = value
    if order is not None:
        params["order"] = order
    info = {**dict(upstream.model_info), "id": upstream.id, "platform_tier": upstream.tier, "platform_route_kind": route.kind}
    if tags:
        params["tags"] = deployment_tags(upstream)
    if route.strategy == "cheapest" and "base_model" not in info and (priced := cost_map_name(upstream)):
        info["base_model"] = priced
    return {"model_name": route.name, "litellm_params": params, "model_info": info}


def litellm_config(
    routes: Sequence[Route],
    settings: RouterSettings | None = None,
    extra_settings: Mapping[str, Any] | None = None,
    access: GatewayAccess | None = None,
    guardrails: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The proxy's config.yaml as a dict. With `access`, the gateway authenticates teams with
    the custom auth module (`gateway_files()`), and keeps budgets, usage and cooldowns in Redis.
    `guardrails` (e.g. `bedrock_content_filter`) run on every request of every route."""
    settings = settings or RouterSettings()
    model_list: list[dict[str, Any]] = []
    for route in routes:
        levels = _group_upstreams(route)
        for level, upstreams in enumerate(levels, start=1):
            for upstream in upstreams:
                model_list.append(_deployment(route, upstream, level if len(levels) > 1 else None, settings.tag_routing))
    router_settings: dict[str, Any] = {
        "routing_strategy": settings.routing_strategy,
        "num_retries": settings.num_retries,
        "allowed_fails": settings.allowed_fails,
        "cooldown_time": settings.cooldown_seconds,
        "timeout": settings.timeout_seconds,
        # Skips deployments over their rpm and inputs over a context window before the call
        # (litellm/router.py _pre_call_checks).
        "enable_pre_call_checks": True,
    }
    if settings.tag_routing:
        # A request's tags (body `tags`, `metadata.tags`, header `x-litellm-tags`: litellm 1.108.6
        # proxy/litellm_pre_call_utils.py add_request_tag_to_metadata) narrow the deployments of
        # the route it names, before the order levels are applied (router.py
        # async_get_healthy_deployments: get_deployments_for_tag, then ORDER FILTERING), so
        # `self-hosted` never overflows to a fallback and `api` skips the self-hosted level. A tag
        # matching none of the route's deployments is refused (tag_based_routing.py
        # _resolve_or_fail_open: no deployment sets model_info.allow_fail_open). Tags never name
        # another route: only the requested model group is filtered, after the key's model check.
        router_settings["enable_tag_filtering"] = True
    cheapest = [route.name for route in routes if route.strategy == "cheapest"]
    if cheapest:
        # Per-route strategy (litellm 1.108.6 router.py _get_routing_context: a model_name in a
        # routing group uses the group's strategy; the proxy passes router_settings.routing_groups
        # to Router(); router_utils/routing_groups.py). Each group is named after its route, so the
        # name stays the route itself (a group shadowed by a model_name is not callable as one:
        # router.py get_routing_group) and no new public name appears.
        router_settings["routing_groups"] = [{"group_name": name, "models": [name], "routing_strategy": "cost-based-routing"} for name in cheapest]
    litellm_settings: dict[str, Any] = {
        "drop_params": True,
        "request_timeout": settings.timeout_seconds,
        # A client's `"no-log": true` would skip every success callback but LiteLLM's own `_PROXY_`
        # ones: the team spend tracker and the router's deployment budgets included, i.e. a
        # budget bypass (litellm 1.108.6 litellm_logging.py should_run_callback). Off, as are
        # callbacks disabled by request header (also gated there and by premium_user).
        "global_disable_no_log_param": True,
        "allow_dynamic_callback_disabling": False,
    }
    general_settings: dict[str, Any] = {"master_key": f"os.environ/{MASTER_KEY_ENV}"}
    if access is not None and access.shared_state:
        # The router's cache (deployment budgets, cooldowns, usage) in Redis: one state for all
        # replicas that survives restarts (litellm/router.py: redis_host and redis_port enable
        # it; litellm/_redis.py reads REDIS_SSL and the other REDIS_* env vars).
        router_settings.update({"redis_host": "os.environ/REDIS_HOST", "redis_port": "os.environ/REDIS_PORT", "redis_password": f"os.environ/{REDIS_PASSWORD_ENV}"})
        general_settings.update(
            {
                # The proxy's own counters (usage, spend windows, locks) in the same Redis. Named
                # explicitly, a Redis that cannot be reached stops the start instead of leaving
                # each replica counting alone, as the REDIS_* env fallback would
                # (litellm/proxy/proxy_server.py _init_coordination_redis and
                # _init_coordination_redis_env_fallback).
                "coordination_redis": {
                    "host": "os.environ/REDIS_HOST",
                    "port": "os.environ/REDIS_PORT",
                    "password": f"os.environ/{REDIS_PASSWORD_ENV}",
                    "ssl": "os.environ/REDIS_SSL",
                },
            }
        )
    if access is not None:
        general_settings.update(
            {
                "custom_auth": f"{AUTH_MODULE}.user_api_key_auth",
                # Model access of the key returned by custom auth (key_model_access_denied, 403)
                # is checked only with both of these (litellm/proxy/auth/user_api_key_auth.py
                # _run_post_custom_auth_checks -> enforce_key_and_fallback_model_access).
                "custom_auth_run_common_checks": True,
            }
        )
        litellm_settings.update({"enable_post_custom_auth_checks": True, "callbacks": [f"{AUTH_MODULE}.spend_tracker"]})
    for key, value in (extra_settings or {}).items():
        # Callbacks add up (metrics exporters besides the spend tracker).
        litellm_settings[key] = [*litellm_settings.get(key, []), *value] if key == "callbacks" else value
    config: dict[str, Any] = {"model_list": model_list, "router_settings": router_settings, "litellm_settings": litellm_settings, "general_settings": general_settings}
    if guardrails:
        config["guardrails"] = [dict(g) for g in guardrails]
    return config


def bedrock_content_filter(guardrail_id: Any, guardrail_version: Any, region: str) -> dict[str, Any]:
    """The stack's Bedrock guardrail on the prompt (pre_call) and the answer (post_call) of every
    route, self-hosted ones included, through Bedrock's ApplyGuardrail API (LiteLLM guardrail
    `bedrock`: litellm/proxy/guardrails/guardrail_hooks/bedrock_guardrails.py; `mode` may be a
    list and `default_on` applies it without the client asking: litellm/types/guardrails.py). A
    blocked prompt or answer is refused with 400. The gateway's role needs bedrock:ApplyGuardrail
    on the guardrail (components/aws/bedrock.py profiles_policy_document)."""
    return {
        "guardrail_name": "bedrock-content-filter",
        "litellm_params": {
            "guardrail": "bedrock",
            "mode": ["pre_call", "post_call"],
            "guardrailIdentifier": guardrail_id,
            "guardrailVersion": guardrail_version,
            "aws_region_name": region,
            "default_on": True,
        },
    }


# The self-hosted content filter's guardrail class ships beside config.yaml like the auth module
# (LiteLLM imports `<module>.<Class>` from the config file's directory for a guardrail whose
# `guardrail` contains a dot: litellm/proxy/guardrails/guardrail_registry.py _create_callbacks ->
# initialize_custom_guardrail -> litellm/proxy/types_utils/utils.py get_instance_fn, 1.108.6).
GUARD_MODULE = "llm_platform_guard"
GUARD_MODULE_FILE = f"{GUARD_MODULE}.py"
GUARD_GUARDRAIL_NAME = "self-hosted-content-filter"


@dataclass(frozen=True)
class GuardFamily:
    """Guard models whose verdict format components/gateway_guard.py reads."""

    label: str
    id_pattern: str  # matched against the lower-case Hugging Face / ModelScope id
    examples: tuple[str, ...]
    controversial_level: bool  # has a middle severity level besides safe and unsafe


# Qwen3Guard-Gen (Apache-2.0, 119 languages incl. Chinese; Hugging Face and ModelScope under the
# same ids Qwen/Qwen3Guard-Gen-{0.6B,4B,8B}: github.com/QwenLM/Qwen3Guard README "Basic
# information", read 2026-11-30): "Safety: Safe|Unsafe|Controversial" and "Categories: ..." lines
# (+ "Refusal: Yes|No" when it moderates an answer). Llama Guard 3 (Llama 3.x Community License,
# gated on Hugging Face; huggingface.co/meta-llama/Llama-Guard-3-8B model card, read 2026-11-30):
# "safe", or "unsafe" and a line of hazard codes "S1,S10".
GUARD_FAMILIES: dict[str, GuardFamily] = {
    "qwen3guard": GuardFamily("Qwen3Guard-Gen", r"^qwen/qwen3guard-gen-[\w.-]+$", ("Qwen/Qwen3Guard-Gen-0.6B", "Qwen/Qwen3Guard-Gen-4B", "Qwen/Qwen3Guard-Gen-8B"), True),
    "llama-guard": GuardFamily("Llama Guard 3", r"^meta-llama/llama-guard-3-[\w.-]+$", ("meta-llama/Llama-Guard-3-8B",), False),
}


def guard_family(model_id: str) -> str | None:
    """The guard family of a model id (GUARD_FAMILIES key), or None for a model that is not one."""
    return next((name for name, family in GUARD_FAMILIES.items() if re.fullmatch(family.id_pattern, model_id.lower())), None)


def guard_content_filter(
    family: str,
    served_name: str,
    api_base_env: str,
    checks: Sequence[str] = ("input", "output"),
    on_unavailable: str = "block",
    timeout_seconds: float = 5,
    controversial: str = "block",
    chunk_chars: int = 6000,
) -> dict[str, Any]:
    """The self-hosted guard model on the prompt (pre_call) and/or the answer (post_call) of every
    route, self-hosted ones included, as a LiteLLM custom guardrail (components/gateway_guard.py,
    shipped by gateway_files()). `default_on` runs it without the client asking
    (litellm/types/guardrails.py); the extra litellm_params reach the class's constructor
    (guardrail_registry.py initialize_custom_guardrail: every param but guardrail, mode, default_on
    and stream_scope). The guard's API root comes from the env var the gateway already has for
    each model server (stacks/scale.py vllm_base_env)."""
    if family not in GUARD_FAMILIES:
        raise ValueError(f"unknown guard family {family!r}")
    mode = [hook for check, hook in (("input", "pre_call"), ("output", "post_call")) if check in checks]
    return {
        "guardrail_name": GUARD_GUARDRAIL_NAME,
        "litellm_params": {
            "guardrail": f"{GUARD_MODULE}.SelfHostedGuard",
            "mode": mode,
            "default_on": True,
            "guard_family": family,
            "guard_model": served_name,
            "guard_api_base_env": api_base_env,
            "guard_timeout_seconds": timeout_seconds,
            "on_unavailable": on_unavailable,
            "block_controversial": controversial == "block",
            "guard_chunk_chars": chunk_chars,
        },
    }


def gateway_files(with_guard: bool = False) -> dict[str, str]:
    """Files shipped beside config.yaml: the custom auth and spend module and, `with_guard`, the
    self-hosted content filter's guardrail (guard_content_filter)."""
    here = Path(__file__).parent
    files = {AUTH_MODULE_FILE: (here / "gateway_auth.py").read_text()}
    if with_guard:
        files[GUARD_MODULE_FILE] = (here / "gateway_guard.py").read_text()
    return files


def access_env(access: GatewayAccess) -> dict[str, str]:
    """Plain env the auth module reads (team scopes and budgets, alert thresholds)."""
    teams = {t.name: {"models": list(t.models), "monthly_budget_usd": t.monthly_budget_usd} for t in access.teams}
    return {
        TEAMS_ENV: json.dumps(teams, sort_keys=True),
        BUDGET_ALERTS_ENV: ",".join(str(p) for p in sorted(access.budget_alert_percents)),
        UPSTREAM_BUDGETS_ENV: json.dumps(dict(access.upstream_budgets_usd), sort_keys=True),
    }


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
    with_auth_module: bool = False,
) -> Service:
    """LiteLLM as a container: the config (and, `with_auth_module`, the custom auth module that
    must sit beside it) comes in env vars and is written to files at start, so no volume is
    needed (Container Apps and ECS alike)."""
    files = f'printf "%s" "${AUTH_MODULE_ENV}" > /tmp/{AUTH_MODULE_FILE} && ' if with_auth_module else ""
    file_env = {AUTH_MODULE_ENV: gateway_files()[AUTH_MODULE_FILE]} if with_auth_module else {}
    container = Container(
        name="litellm",
        image_key="litellm",
        cpu=1024,
        memory=2048,
        port=GATEWAY_PORT,
        health_path="/health/liveliness",
        # LITELLM_LOCAL_MODEL_COST_MAP: price from the cost map bundled in the image, not one fetched
        # from raw.githubusercontent.com at start (litellm 1.108.6 litellm_core_utils/get_model_cost_map.py).
        env={"LITELLM_CONFIG": config_yaml, **file_env, "LITELLM_LOG": "INFO", "LITELLM_TELEMETRY": "False", "LITELLM_LOCAL_MODEL_COST_MAP": "True", **dict(env or {})},
        secrets=dict(secrets),
        command=(
            "/bin/sh",
            "-c",
            f'printf "%s" "$LITELLM_CONFIG" > /tmp/litellm-config.yaml && {files}exec litellm --config /tmp/litellm-config.yaml --port {GATEWAY_PORT}',
        ),
    )
    return Service(name, (container,), ingress_container="litellm", min_replicas=replicas, task_cpu=1024, task_memory=2048)
