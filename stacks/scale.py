"""Scale: Beta + a Kubernetes cluster (EKS or AKS) with GPU node pools serving open models (vLLM)
behind an LLM gateway (LiteLLM) that routes each public model name to the self-hosted servers
first and to managed or third-party API fallbacks, with retries, cooldowns, rate limits and
budgets. The app from Beta is carried forward and pointed at the gateway; every name Beta gave
stays, so promoting a stack never replaces its databases, keys or secrets."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pulumi

from components.gateway import (
    APP_TEAM,
    BUDGET_ALERT_TOPIC_ENV,
    MASTER_KEY_ENV,
    METRICS_KEY_ENV,
    METRICS_KEY_SECRET,
    REDIS_PASSWORD_ENV,
    GatewayAccess,
    Route,
    RouterSettings,
    Team,
    Upstream,
    access_env,
    bedrock_content_filter,
    gateway_files,
    guard_content_filter,
    guard_family,
    litellm_config,
    render_config,
    team_key_secret,
)
from components.lowcode import SecretName, SecretRef
from components.mirrors import ChartLogin, with_chart_login
from stacks.config import NAMESPACE, PlatformConfig, RouteConfig, ScaleConfig, model_serving
from stacks.context import StackContext
from stacks.inference import api_model_upstream

SYSTEM_POOL = "system"
# The gateway's Redis on AWS: Graviton burstable, 1.37 GiB (spend and limit counters are small).
GATEWAY_CACHE_NODE = "cache.t4g.small"
GATEWAY_REDIS_SECRET = "gateway-redis-password"  # Key Vault secret (Azure)
DEFAULT_SYSTEM_INSTANCE = {"aws": "m6i.xlarge", "azure": "Standard_D4s_v5"}
SYSTEM_DISK_GB = 100
# Pod Security admission per namespace: the gateway (non-root LiteLLM image) meets `restricted`;
# the vLLM image runs as root, so its namespace enforces `baseline` and reports `restricted` findings.
POD_SECURITY: dict[str, dict[str, str]] = {
    "llm-gateway": {"pod-security.kubernetes.io/enforce": "restricted"},
    "llm-models": {"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/audit": "restricted"},
}


def _env_name(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", text.upper())


def vllm_base_env(model: str) -> str:
    """Env var holding a model server's API root in the gateway pod."""
    return f"VLLM_{_env_name(model)}_BASE"


def api_key_env(provider: str) -> str:
    return f"{_env_name(provider)}_API_KEY"


# --------------------------------------------------------------------------- gateway routes


@dataclass
class GatewayPlan:
    """The gateway's config.yaml and what its pod must be given to run it."""

    routes: list[Route]
    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)  # plain settings (API roots, region)
    api_providers: list[str] = field(default_factory=list)  # whose keys the gateway Secret carries
    uses_bedrock: bool = False
    uses_azure_openai: bool = False
    sagemaker_endpoints: list[str] = field(default_factory=list)  # AWS: SageMaker models the gateway calls


ManagedUpstream = Callable[[str, str, Mapping[str, Any]], Upstream]  # (route, target, limits)


def plan_gateway(scale: ScaleConfig, model_url: Callable[[str], str], managed: Mapping[str, ManagedUpstream], cfg: PlatformConfig) -> GatewayPlan:
    """Typed routes from the config: self-hosted models share the public name (least busy first,
    each with a concurrency cap per gateway replica so a saturated model overflows), fallbacks
    follow in the configured order. `managed` builds Bedrock / Azure OpenAI upstreams for this cloud."""
    plan = GatewayPlan(routes=[])
    caps = self_hosted_caps(scale)
    for route in scale.routes:
        primary = []
        for model in route.self_hosted:
            plan.env[vllm_base_env(model)] = model_url(model)
            primary.append(
                Upstream(
                    id=f"{route.name}/vllm-{model}",
                    litellm_model=f"hosted_vllm/{model}",
                    tier="self-hosted",
                    api_base=f"os.environ/{vllm_base_env(model)}",
                    max_parallel_requests=caps[route.name, model],
                    timeout=min(SELF_HOSTED_TIMEOUT_SECONDS, scale.gateway.timeout_seconds),
                    stream_timeout=SELF_HOSTED_STREAM_TIMEOUT_SECONDS,
                )
            )
        # Each level's upstreams get the route's limits and budget each ("a | b": both capped).
        levels = [tuple(_fallback(route, ref, plan, managed, cfg) for ref in level) for level in route.fallback_levels()]
        fallbacks = [level if len(level) > 1 else level[0] for level in levels]
        if route.strategy == "cheapest" and not any(len(level) > 1 for level in levels):
            # Not an error: `new-stack` may drop a level's providers a profile forbids.
            pulumi.log.warn(
                f"llm-platform:scale.routes '{route.name}' strategy cheapest chooses among the equivalent upstreams of one fallback level, and this route has none "
                "(write a level as 'api:<provider>/<model> | api:<provider>/<model>'): its levels are tried in order"
            )
        if (notice := unpriced_budget_warning(route)) is not None:
            pulumi.log.warn(notice)
        plan.routes.append(Route(route.name, primary=tuple(primary), fallbacks=tuple(fallbacks), kind=route.kind, strategy=route.strategy))
    if scale.content_filter is not None:
        # The guard model has no route (nothing lists or calls it through the gateway): only the
        # content filter's guardrail calls its server, at this API root.
        plan.env[vllm_base_env(scale.content_filter.model)] = model_url(scale.content_filter.model)
    return plan


# vLLM's scheduler batches up to max_num_seqs sequences (256 by default) but latency grows with
# the batch; 32 per replica keeps a 7B-14B model near its interactive latency. Beyond the cap
# requests overflow to the route's fallbacks. KEDA's batch-size target (running_target in
# deploy_workloads, 3/4 of this) stays below it, so a replica admitted its full share reads as
# pressure and KEDA adds one.
SELF_HOSTED_CONCURRENCY_PER_REPLICA = 32
# Seconds between stream chunks (and to the first one) from a self-hosted model before the
# request fails over (LiteLLM stream_timeout): a stalled server is left quickly.
SELF_HOSTED_STREAM_TIMEOUT_SECONDS = 30
# A whole non-streaming answer from a self-hosted model (LiteLLM `timeout`): 2,000 tokens at a
# loaded 7B-14B replica's ~20 tokens/s; a longer wait means a stuck server, the fallback is better.
SELF_HOSTED_TIMEOUT_SECONDS = 120


def self_hosted_caps(scale: ScaleConfig) -> dict[tuple[str, str], int]:
    """In-flight cap of each (route, self-hosted model) upstream in ONE gateway pod.

    LiteLLM counts max_parallel_requests per deployment in each pod's memory, and each route is
    its own deployment: one admitted total per model is split among its routes (a route's
    maxParallelRequests is its share, whole-gateway figure), and the total is what the model's
    minReplicas serve (32 each; one when it rests at zero), divided by the gateway's MAXIMUM
    replicas, so the gateway's CPU autoscaler never admits more than the model runs at minimum.
    Trade-off: the cap cannot follow the replicas KEDA adds; with the gateway at fewer pods the
    model gets less (e.g. 2 of 6 pods: a third) and the rest overflows to the fallbacks, which is
    safe (latency stays interactive) and costs API calls; raise minReplicas to serve more
    self-hosted. A route always gets at least 1, so many routes on a small model can exceed the
    total: a warning says so."""
    per_pod = scale.gateway.max_replicas
    caps: dict[tuple[str, str], int] = {}
    for model in scale.models:
        routes = [r for r in scale.routes if model.name in r.self_hosted]
        if not routes:
            continue
        admitted = SELF_HOSTED_CONCURRENCY_PER_REPLICA * max(1, model.min_replicas)
        pod_total = max(1, admitted // per_pod)
        explicit = {r.name: max(1, min(r.max_parallel_requests, admitted) // per_pod) for r in routes if r.max_parallel_requests}
        rest = [r.name for r in routes if r.name not in explicit]
        share = max(1, (pod_total - sum(explicit.values())) // len(rest)) if rest else 0
        caps.update({(r.name, model.name): explicit.get(r.name, share) for r in routes})
        if (total := sum(caps[r.name, model.name] for r in routes) * per_pod) > admitted:
            pulumi.log.warn(
                f"llm-platform:scale.models '{model.name}': its routes ({', '.join(r.name for r in routes)}) admit {total} requests in flight at "
                f"gateway.maxReplicas {per_pod}, above the {admitted} its minReplicas serve; lower their maxParallelRequests or gateway.maxReplicas, or raise minReplicas"
            )
    return caps


# Fallbacks LiteLLM prices per token (its cost map has input/output_cost_per_token for them).
# Self-hosted vLLM (hosted_vllm/...) and SageMaker endpoints (sagemaker_chat/...) have no such
# price: they are billed per instance-hour, LiteLLM counts their answers at 0 USD, so a
# max_budget on them would never trip; they get none, the stack's cloud budget covers them.
PRICED_FALLBACK_KINDS = ("api", "bedrock", "azure")


def unpriced_budget_warning(route: RouteConfig) -> str | None:
    """A warning when a route's maxBudget can limit none of its upstreams."""
    if route.max_budget is None or any(ref.partition(":")[0] in PRICED_FALLBACK_KINDS for ref in route.fallback_refs):
        return None
    return (
        f"llm-platform:scale.routes '{route.name}' maxBudget {route.max_budget:g} limits nothing: its upstreams "
        f"({', '.join([*(f'selfHosted:{m}' for m in route.self_hosted), *route.fallback_refs]) or 'none'}) are billed per instance-hour and "
        "LiteLLM prices their answers at 0, so only the cloud budget (llm-platform:budget) covers them; "
        "remove maxBudget or add an api:, bedrock: or azure: fallback for it to cap"
    )


def _per_replica(total: int, scale: ScaleConfig) -> int:
    """LiteLLM counts rpm, tpm and in-flight requests in each replica's memory: the route's
    figure is split among the gateway's replicas (at its HPA minimum; more pods admit more)."""
    return max(1, -(-total // scale.gateway.replicas))


def _limits(route: RouteConfig, scale: ScaleConfig, cfg: PlatformConfig) -> dict[str, Any]:
    from components.fx import to_usd

    limits: dict[str, Any] = {
        "rpm": _per_replica(route.rpm, scale) if route.rpm else None,
        "tpm": _per_replica(route.tpm, scale) if route.tpm else None,
        "timeout": scale.gateway.timeout_seconds,
    }
    if route.max_budget is not None:
        # Deployment budgets are kept in Redis by LiteLLM's router (shared by replicas and restarts).
        limits.update(max_budget=round(to_usd(route.max_budget, cfg.budget.currency), 2), budget_duration=route.budget_duration)
    return limits


def _fallback(route: RouteConfig, ref: str, plan: GatewayPlan, managed: Mapping[str, ManagedUpstream], cfg: PlatformConfig) -> Upstream:
    assert cfg.scale is not None
    limits = _limits(route, cfg.scale, cfg)
    kind, _, target = ref.partition(":")
    if kind in ("bedrock", "azure", "sagemaker"):
        if kind == "sagemaker" and target not in plan.sagemaker_endpoints:
            plan.sagemaker_endpoints.append(target)
        plan.uses_bedrock |= kind == "bedrock"
        plan.uses_azure_openai |= kind == "azure"
        return managed[kind](route.name, target, limits)
    provider, _, model = target.partition("/")
    if provider not in plan.api_providers:
        plan.api_providers.append(provider)
    return api_model_upstream(cfg, provider, model, f"{route.name}/api-{provider}-{model}", **limits)


def gateway_access(cfg: PlatformConfig, plan: GatewayPlan) -> GatewayAccess:
    """Teams (scoped keys, monthly budgets in USD from llm-platform:budget) and the per-upstream
    budgets the spend alerts compare against."""
    from components.fx import to_usd

    scale = cfg.scale
    assert scale is not None
    routes = [r.name for r in scale.routes]
    monthly_usd = to_usd(cfg.budget.amount, cfg.budget.currency) if any(t.budget_percent for t in scale.gateway.teams) else 0.0
    teams = tuple(
        Team(t.name, tuple(t.routes or routes), round(monthly_usd * t.budget_percent / 100, 2) if t.budget_percent else None) for t in scale.gateway.teams
    )
    budgets = {u.id: u.max_budget for r in plan.routes for u in r.upstreams if u.max_budget is not None}
    return GatewayAccess(teams, tuple(cfg.budget.thresholds), budgets)


def gateway_alerts_budgets(access: GatewayAccess) -> bool:
    """Whether the gateway's spend tracker can raise a budget alert at all (a team budget or an
    upstream's maxBudget): only then the stack delivers them (SNS topic / log alert rule)."""
    return any(t.monthly_budget_usd for t in access.teams) or any(access.upstream_budgets_usd.values())


# Fallback kinds whose service filters content itself: Azure OpenAI's default content filter runs
# on every deployment (learn.microsoft.com/azure/ai-foundry/openai/concepts/content-filter);
# Bedrock fallbacks carry Beta's guardrail only with a gateway guardrail (scale_aws).
SELF_FILTERED_FALLBACK_KINDS = ("azure",)


def self_hosted_content_filter(scale: ScaleConfig) -> list[dict[str, Any]]:
    """The gateway guardrail of `scale.contentFilter` (the self-hosted guard model), if set."""
    guard = scale.content_filter
    if guard is None:
        return []
    from components.k8s.model_fit import architecture_of

    model = next(m for m in scale.models if m.name == guard.model)
    family = guard_family(model.hugging_face_id)
    assert family is not None  # checked with the config (stacks/config/checks.py)
    arch = architecture_of(model.hugging_face_id)
    context = model.max_model_len or (model.architecture.context_length if model.architecture else arch.context if arch else 8192)
    if model.min_replicas == 1 and guard.on_unavailable == "block":
        pulumi.log.warn(
            f"llm-platform:scale.models '{model.name}' (the content filter) runs one replica with onUnavailable block: while a node drain or upgrade moves it "
            "(minutes: a GPU node, the image, the weights) every request is refused with 503; set minReplicas to 2 to keep serving"
        )
    # Characters per guard call: at worst one token each (Chinese), with room for the guard's chat
    # template (its policy text) and the verdict in the guard's context.
    chunk_chars = max(1000, (context - GUARD_TEMPLATE_TOKENS) // 2)
    return [guard_content_filter(family, guard.model, vllm_base_env(guard.model), guard.checks, guard.on_unavailable, guard.timeout_seconds, guard.controversial, chunk_chars)]


# Tokens of a guard call besides the checked text: the guard's chat template (Qwen3Guard's and
# Llama Guard's carry their safety policy, a few hundred tokens) and the verdict (VERDICT_MAX_TOKENS).
GUARD_TEMPLATE_TOKENS = 1024


def unfiltered_routes_warning(scale: ScaleConfig, filtered: bool = False) -> str | None:
    """The routes whose prompts or answers reach a model or a client no content filter checks:
    none when `filtered` (Beta's Bedrock guardrail on AWS checks both ways) or when
    scale.contentFilter checks both ways."""
    guard = scale.content_filter
    if filtered or (guard is not None and set(guard.checks) == {"input", "output"}):
        return None
    if guard is not None:
        unchecked = "answers" if "output" not in guard.checks else "prompts"
        return (
            f"llm-platform:scale.contentFilter.checks is {guard.checks}: the {unchecked} of every route pass unchecked; "
            "add the missing check (input: prompts, output: answers) unless another filter covers them"
        )
    routes = [r.name for r in scale.routes if r.self_hosted or any(f.partition(":")[0] not in SELF_FILTERED_FALLBACK_KINDS for f in r.fallback_refs)]
    if not routes:
        return None
    return (
        f"llm-platform:scale.routes without a content filter: {', '.join(routes)} (their self-hosted, api: and sagemaker: upstreams get "
        "unchecked prompts and return unchecked answers): set llm-platform:scale.contentFilter (a self-hosted guard model, every cloud) "
        "or see docs/scale.md 'Content filtering'"
    )


def gateway_config_yaml(
    scale: ScaleConfig,
    plan: GatewayPlan,
    extra_settings: Mapping[str, Any] | None = None,
    access: GatewayAccess | None = None,
    guardrails: Sequence[Mapping[str, Any]] = (),
) -> pulumi.Output[str]:
    g = scale.gateway
    settings = RouterSettings(num_retries=g.num_retries, allowed_fails=g.allowed_fails, cooldown_seconds=g.cooldown_seconds, timeout_seconds=g.timeout_seconds, tag_routing=True)
    from components.gateway import GUARD_GUARDRAIL_NAME

    other_filter = any(g.get("guardrail_name") != GUARD_GUARDRAIL_NAME for g in guardrails)
    if (notice := unfiltered_routes_warning(scale, filtered=other_filter)) is not None:
        pulumi.log.warn(notice)
    # Upstream fields may be outputs (ARNs, endpoints): render once they are known.
    return pulumi.Output.from_input(litellm_config(plan.routes, settings, extra_settings, access, guardrails)).apply(render_config)


# --------------------------------------------------------------------------- on the cluster


@dataclass
class ClusterWorkloads:
    """Cloud-specific inputs for what the platform runs on any cluster."""

    provider: pulumi.ProviderResource
    secret_store: Mapping[str, Any]  # External Secrets ClusterSecretStore provider block
    secret_sync_annotations: Mapping[str, pulumi.Input[str]]
    secret_sync_pod_labels: Mapping[str, str]
    gateway_secrets: Mapping[str, pulumi.Input[str]]  # env var in the gateway -> remote secret
    hugging_face_secret: pulumi.Input[str] | None  # remote secret with the token, if configured
    gateway_plan: GatewayPlan
    gateway_config: pulumi.Input[str]
    gateway_annotations: Mapping[str, pulumi.Input[str]]
    gateway_pod_labels: Mapping[str, str]
    load_balancer_annotations: Mapping[str, str]
    allowed_cidrs: Sequence[str]
    # Pod Identity associations / federated credentials the operator and the gateway run with.
    secret_sync_identity: Sequence[pulumi.Resource] = ()
    gateway_identity: Sequence[pulumi.Resource] = ()
    chart_login: ChartLogin | None = None  # Helm's login to a private OCI chart mirror (AWS: ECR)


def deploy_workloads(ctx: StackContext, cluster: ClusterWorkloads) -> Any:
    """Namespaces, GPU support, secret sync, one vLLM server per model and the gateway. Returns
    the gateway's Service."""
    import pulumi_kubernetes as k8s

    from components.k8s.addons import GpuSupport, SecretSync, SecretSyncArgs
    from components.k8s.autoscaling import Keda, QueueScaler, QueueScalerArgs
    from components.k8s.gpu import GPU_INSTANCES
    from components.k8s.meta import metadata
    from components.k8s.model_fit import check_fit
    from components.k8s.serving import (
        GATEWAY_NAMESPACE,
        GATEWAY_SECRET,
        HF_SECRET,
        MODELS_NAMESPACE,
        GatewayArgs,
        LlmGateway,
        ModelServer,
        ModelServerArgs,
        model_namespace_policies,
    )

    scale = ctx.config.scale
    assert scale is not None
    tags = ctx.tags
    opts = pulumi.ResourceOptions(providers=[cluster.provider])
    namespaces = {
        ns: k8s.core.v1.Namespace(f"namespace-{ns}", metadata=metadata(ns, tags, labels=POD_SECURITY[ns]), opts=opts) for ns in (MODELS_NAMESPACE, GATEWAY_NAMESPACE)
    }
    mirrors = with_chart_login(ctx.config.mirrors.for_components(), cluster.chart_login)
    gpu_support = GpuSupport("gpu-support", tags, opts=opts, mirrors=mirrors)
    synced: dict[str, tuple[str, Mapping[str, pulumi.Input[str]]]] = {GATEWAY_SECRET: (GATEWAY_NAMESPACE, dict(cluster.gateway_secrets))}
    if cluster.hugging_face_secret is not None:
        synced[HF_SECRET] = (MODELS_NAMESPACE, {"HF_TOKEN": cluster.hugging_face_secret})
    SecretSync(
        "secret-sync",
        SecretSyncArgs(
            provider_spec=cluster.secret_store,
            service_account_annotations=cluster.secret_sync_annotations,
            pod_labels=cluster.secret_sync_pod_labels,
            secrets=synced,
            namespaces=list(namespaces.values()),
            tags=tags,
            identity=cluster.secret_sync_identity,
            mirrors=mirrors,
        ),
        opts=opts,
    )
    monitoring = _monitoring(tags, mirrors, [*namespaces.values(), gpu_support], opts)
    keda = Keda("keda", mirrors, opts=opts)
    models_ns = namespaces[MODELS_NAMESPACE].metadata["name"]
    pools = {p.name: p for p in scale.gpu_pools}
    for model in scale.models:
        shape = GPU_INSTANCES[pools[model.pool].instance_type]
        at_min = sum(m.min_replicas * m.gpus_per_replica for m in scale.models if m.pool == model.pool)
        cpu, memory = shape.share(model.gpus_per_replica)
        fit = check_fit(model_serving(model, pools[model.pool].instance_type))  # config checked it fits
        server = ModelServer(
            f"model-{model.name}",
            ModelServerArgs(
                name=model.name,
                hugging_face_id=model.hugging_face_id,
                revision=model.revision,
                gpus_per_replica=model.gpus_per_replica,
                min_replicas=model.min_replicas,
                max_replicas=model.max_replicas,
                max_model_len=fit.context,
                cache_size_gb=model.cache_size_gb,
                cpu=cpu,
                memory_gib=memory,
                namespace=models_ns,
                tags=tags,
                surge_fits=at_min + model.gpus_per_replica <= pools[model.pool].max_size * shape.gpus,
                engine_args=fit.engine_args(),
                mirrors=mirrors,
                pool=model.pool,
            ),
            opts=opts,
        )
        QueueScaler(
            f"model-{model.name}-scaler",
            QueueScalerArgs(
                model=model.name,
                deployment_name=server.deployment_name,
                namespace=MODELS_NAMESPACE,
                min_replicas=model.min_replicas,
                max_replicas=model.max_replicas,
                prometheus_url=monitoring.prometheus_url,
                tags=tags,
                # Below the gateway's per-replica cap, so a replica is added before it overflows.
                running_target=max(1, SELF_HOSTED_CONCURRENCY_PER_REPLICA * 3 // 4),
                routes=[r.name for r in scale.routes if model.name in r.self_hosted],
                after=[keda.release, namespaces[MODELS_NAMESPACE]],
            ),
            opts=opts,
        )
    model_namespace_policies("models", models_ns, tags, opts)
    _allow_prometheus(namespaces, tags, opts)
    _warn_single_replicas(scale)
    gateway = LlmGateway(
        "gateway",
        GatewayArgs(
            config_yaml=cluster.gateway_config,
            replicas=scale.gateway.replicas,
            request_timeout_seconds=scale.gateway.timeout_seconds,
            namespace=namespaces[GATEWAY_NAMESPACE].metadata["name"],
            secret_env=sorted(cluster.gateway_secrets),
            env=cluster.gateway_plan.env,
            allowed_cidrs=list(cluster.allowed_cidrs),
            load_balancer_annotations=cluster.load_balancer_annotations,
            tags=tags,
            service_account_annotations=cluster.gateway_annotations,
            pod_labels=cluster.gateway_pod_labels,
            identity=cluster.gateway_identity,
            mirrors=mirrors,
            max_replicas=scale.gateway.max_replicas,
            cpu_cores=scale.gateway.cpu,
            files=gateway_files(with_guard=scale.content_filter is not None),
        ),
        opts=opts,
    )
    return gateway


def _monitoring(tags: Mapping[str, str], mirrors: Any, after: Sequence[pulumi.Resource], opts: pulumi.ResourceOptions) -> Any:
    """Prometheus and Grafana, scraping the model servers, the gateway and the DCGM exporter."""
    from components.k8s.monitoring import DCGM_TARGET, Monitoring, MonitoringArgs, ScrapeTarget
    from components.k8s.serving import GATEWAY_NAMESPACE, GATEWAY_SECRET, MODELS_NAMESPACE, VLLM_APP, LlmGateway

    # LiteLLM's /metrics needs a key: Prometheus's own (components.gateway.METRICS_KEY_ENV), read
    # from the gateway's synced Secret in the gateway namespace, where the ServiceMonitor is.
    litellm = ScrapeTarget("litellm", GATEWAY_NAMESPACE, LlmGateway.APP, "http", bearer_secret=(GATEWAY_SECRET, METRICS_KEY_ENV))
    targets = [ScrapeTarget("vllm", MODELS_NAMESPACE, VLLM_APP, "http"), litellm, DCGM_TARGET]
    return Monitoring("monitoring", MonitoringArgs(targets=targets, tags=tags, mirrors=mirrors, after=after), opts=opts)


def _allow_prometheus(namespaces: Mapping[str, Any], tags: Mapping[str, str], opts: pulumi.ResourceOptions) -> None:
    """The model and gateway namespaces admit only the gateway and the clients: Prometheus too."""
    from components.gateway import GATEWAY_PORT
    from components.k8s.monitoring import allow_scraping
    from components.k8s.serving import GATEWAY_NAMESPACE, MODELS_NAMESPACE, VLLM_APP, VLLM_PORT, LlmGateway

    allow_scraping("models-from-monitoring", namespaces[MODELS_NAMESPACE].metadata["name"], VLLM_APP, VLLM_PORT, tags, opts)
    allow_scraping("gateway-from-monitoring", namespaces[GATEWAY_NAMESPACE].metadata["name"], LlmGateway.APP, GATEWAY_PORT, tags, opts)


def _new_metrics_key(ctx: StackContext) -> pulumi.Output[str]:
    """Prometheus's gateway key (random, never the master key); /metrics only."""
    import pulumi_random as random

    return pulumi.Output.concat("sk-", random.RandomPassword(f"{METRICS_KEY_SECRET}-value", length=48, special=False, opts=ctx.opts).result)


def _aws_metrics_key(ctx: StackContext, key_arn: pulumi.Input[str]) -> Any:
    """Prometheus's gateway key in Secrets Manager, encrypted like the team keys."""
    from components.aws.secrets import StoredSecret, StoredSecretArgs

    return StoredSecret(
        METRICS_KEY_SECRET,
        StoredSecretArgs(
            secret_name=ctx.namer.path("app", METRICS_KEY_SECRET),
            description="LLM gateway key of the cluster's Prometheus (GET /metrics only)",
            value=_new_metrics_key(ctx),
            kms_key_arn=key_arn,
            tags=ctx.tags,
            protect=False,
        ),
        opts=ctx.opts,
    )


def gateway_redis_env(host: pulumi.Input[str], port: int) -> dict[str, pulumi.Input[str]]:
    """How LiteLLM finds its Redis (litellm/_redis.py reads REDIS_HOST, REDIS_PORT, REDIS_SSL and
    REDIS_PASSWORD; REDIS_SSL "True" = TLS with certificate verification). The password comes
    from the gateway Secret (REDIS_PASSWORD_ENV)."""
    return {"REDIS_HOST": host, "REDIS_PORT": str(port), "REDIS_SSL": "True"}


def _warn_single_replicas(scale: ScaleConfig) -> None:
    """Disruption budgets never block a drain (components.k8s.serving.disruption_budget): say
    which routes a drain interrupts."""
    singles = {m.name for m in scale.models if m.min_replicas == 1}
    for route in scale.routes:
        if not route.fallbacks and (down := [m for m in route.self_hosted if m in singles]) and len(down) == len(route.self_hosted):
            pulumi.log.warn(f"llm-platform:scale.routes '{route.name}' has no fallbacks and its models ({', '.join(down)}) run one replica: node drains and upgrades interrupt it; add a fallback or set minReplicas to 2")
    if scale.gateway.replicas == 1:
        pulumi.log.warn("llm-platform:scale.gateway.replicas is 1: node drains and upgrades interrupt the gateway; set 2 or more")
    from components.k8s.autoscaling import IDLE_BEFORE_ZERO_SECONDS

    for model in scale.models:
        if model.min_replicas == 0:
            pulumi.log.info(
                f"llm-platform:scale.models '{model.name}' scales to zero: after {IDLE_BEFORE_ZERO_SECONDS // 60} minutes without requests its last replica stops, "
                "and its routes are served by their fallbacks until a new one is ready (a GPU node, the image and the weights: minutes)"
            )


def _gateway_url(service: Any) -> pulumi.Output[str]:
    """From the internal load balancer's address (a DNS name on AWS, an IP on Azure), which
    Kubernetes reports once the cloud has created it; `pulumi up` waits for that."""
    from components.gateway import GATEWAY_PORT

    def url(status: Any) -> str:
        ingress = (status.load_balancer.ingress if status and status.load_balancer else None) or []
        if not ingress:
            # A user-facing failure, not a program bug: RunError prints without a stack trace.
            raise pulumi.RunError("the LLM gateway's LoadBalancer Service has no address yet: check `kubectl -n llm-gateway describe service litellm` (subnet tags, quotas), then run `pulumi up` again")
        return f"http://{ingress[0].hostname or ingress[0].ip}:{GATEWAY_PORT}/v1"

    return service.status.apply(url)


def _hugging_face_token(cfg: PlatformConfig) -> pulumi.Output[str] | None:
    if not cfg.hugging_face_token_key:
        return None
    return pulumi.Config(NAMESPACE).require_secret(cfg.hugging_face_token_key.split(":", 1)[1])


# External Secrets' Azure Key Vault provider authenticates against the public cloud unless told
# otherwise (environmentType, default PublicCloud; values PublicCloud, USGovernmentCloud,
# ChinaCloud, GermanCloud: external-secrets/external-secrets apis/externalsecrets/v1/
# secretstore_azurekv_types.go, read 2026-11-30). Keyed by azure-native:environment.
ESO_AZURE_ENVIRONMENT = {"public": "PublicCloud", "china": "ChinaCloud", "usgovernment": "USGovernmentCloud"}


def _warn_kubernetes_version(cfg: PlatformConfig) -> None:
    from components.k8s.versions import KUBERNETES_VERSIONS

    assert cfg.scale is not None
    if notice := KUBERNETES_VERSIONS[cfg.cloud.value].warning(cfg.scale.kubernetes_version, date.today()):
        pulumi.log.warn(f"llm-platform:scale.kubernetesVersion: {notice}")


def _refuse_the_deployer_as_cluster_admin(ctx: StackContext) -> None:
    """EKS already makes the identity running `pulumi up` cluster admin; its own entry in
    clusterAdmins would fail the deployment (ResourceInUseException). Compared at preview."""
    import pulumi_aws as aws

    from components.aws.eks import names_the_caller
    from stacks.errors import ConfigError, ConfigProblem

    assert ctx.config.scale is not None
    (provider,) = ctx.opts.providers  # the stack's AWS provider: its identity creates the cluster
    caller = aws.get_caller_identity(opts=pulumi.InvokeOptions(provider=provider)).arn
    problems = [
        ConfigProblem(
            f"{NAMESPACE}:scale.clusterAdmins[{i}]",
            arn,
            f"names the identity running `pulumi up` ({caller}), which EKS makes cluster admin itself; a second access entry for it fails with "
            "ResourceInUseException: remove it (list only the other admins)",
        )
        for i, arn in enumerate(ctx.config.scale.cluster_admins)
        if names_the_caller(arn, caller)
    ]
    if problems:
        raise pulumi.RunError(ConfigError(problems).render())


def _system_pool_instance(cfg: PlatformConfig) -> str:
    scale = cfg.scale
    assert scale is not None
    return scale.system_pool.instance_type or DEFAULT_SYSTEM_INSTANCE[cfg.cloud.value]


# --------------------------------------------------------------------------------------- AWS


def scale_aws(ctx: StackContext) -> None:
    import pulumi_aws as aws
    import pulumi_kubernetes as k8s

    from components.aws.eks import EksCluster, EksClusterArgs, NodePool, autoscaler_policy
    from components.aws.registry import ecr_chart_login
    from components.aws.sagemaker import invoke_policy
    from components.aws.secrets import StoredSecret, StoredSecretArgs
    from components.gateway import GATEWAY_PORT
    from components.k8s.addons import SecretSync, cluster_autoscaler
    from components.k8s.monitoring import LITELLM_METRICS_SETTINGS
    from components.k8s.serving import GATEWAY_NAMESPACE, LlmGateway, model_service_url
    from stacks.beta import app_reads_gateway_env, aws_gateway_key, aws_team_key, build_beta_aws, sagemaker_upstream
    from stacks.poc import aws_lowcode_app

    cfg, namer, account = ctx.config, ctx.namer, ctx.aws_account
    scale = cfg.scale
    assert scale is not None and account is not None
    beta = build_beta_aws(ctx)
    foundation = beta.foundation
    key_arn = foundation.key.key_arn
    cluster_name = namer.name("eks", max_len=100)
    _warn_kubernetes_version(cfg)
    _refuse_the_deployer_as_cluster_admin(ctx)

    pools = [NodePool(SYSTEM_POOL, _system_pool_instance(cfg), scale.system_pool.min_size, scale.system_pool.max_size, SYSTEM_DISK_GB, gpu=False)]
    pools += [NodePool(p.name, p.instance_type, p.min_size, p.max_size, p.disk_size_gb, gpu=True, spot=p.capacity == "spot") for p in scale.gpu_pools]
    cluster = EksCluster(
        "eks",
        EksClusterArgs(
            account=account,
            cluster_name=cluster_name,
            kubernetes_version=scale.kubernetes_version,
            vpc_id=foundation.network.vpc_id,
            subnet_ids=foundation.network.private_subnet_ids,
            api_cidrs=[foundation.network.vpc_cidr, *(str(c) for c in scale.admin_cidrs)],
            private_endpoint=scale.private_endpoint,
            public_access_cidrs=[str(c) for c in scale.public_access_cidrs],
            kms_key_arn=key_arn,
            log_retention_days=cfg.poc.app.log_retention_days,
            pools=pools,
            tags=ctx.tags,
            cluster_admins=scale.cluster_admins,
            preview_principal=scale.preview_principal,
        ),
        opts=ctx.opts,
    )

    # Secrets the cluster reads from Secrets Manager (synced by External Secrets, never in state
    # as Kubernetes objects); the gateway keys are Beta's (same names).
    gateway_key = aws_gateway_key(ctx, key_arn)
    hf_arn: pulumi.Output[str] | None = None
    if (token := _hugging_face_token(cfg)) is not None:
        hf_arn = StoredSecret(
            "hugging-face-token",
            StoredSecretArgs(secret_name=namer.path("models", "hugging-face-token"), description="Hugging Face token for model downloads", value=token, kms_key_arn=key_arn, tags=ctx.tags),
            opts=ctx.opts,
        ).arn

    def bedrock_upstream(route: str, target: str, limits: Mapping[str, Any]) -> Upstream:
        model = next(m for m in beta.models if m.name == target)
        return Upstream(
            id=f"{route}/bedrock-{target}",
            litellm_model=f"bedrock/{model.invoke_id}",
            tier="managed",
            # Invoke through the stack's application inference profile: cost tags and the alarms apply.
            params={
                "model_id": beta.bedrock.profile_arns[target],
                "aws_region_name": account.region,
                "guardrailConfig": {"guardrailIdentifier": beta.bedrock.guardrail_id, "guardrailVersion": beta.bedrock.guardrail_version},
            },
            **limits,
        )

    def sagemaker_fallback(route: str, target: str, limits: Mapping[str, Any]) -> Upstream:
        return sagemaker_upstream(account.region, beta.sagemaker.endpoint_names[target], f"{route}/sagemaker-{target}", **limits)

    plan = plan_gateway(scale, model_service_url, {"bedrock": bedrock_upstream, "sagemaker": sagemaker_fallback}, cfg)
    if plan.uses_bedrock or plan.sagemaker_endpoints:
        plan.env.update({"AWS_REGION": account.region, "AWS_DEFAULT_REGION": account.region})
    gateway_secrets: dict[str, pulumi.Input[str]] = {MASTER_KEY_ENV: gateway_key.arn}
    gateway_secrets.update({api_key_env(p): foundation.api_keys.arns[p] for p in plan.api_providers})
    redis = _gateway_redis_aws(ctx, foundation, cluster)
    plan.env.update(gateway_redis_env(redis.host, redis.port))
    gateway_secrets[REDIS_PASSWORD_ENV] = redis.password_secret_arn
    access = gateway_access(cfg, plan)
    plan.env.update(access_env(access))
    # Budget alerts by email: the spend tracker publishes each to this topic (pod logs reach no alarm here).
    alerts = _budget_alerts_aws(ctx, key_arn) if gateway_alerts_budgets(access) else None
    if alerts is not None:
        plan.env[BUDGET_ALERT_TOPIC_ENV] = alerts.topic_arn
    team_keys: dict[str, pulumi.Output[str]] = {}
    for team in access.teams:
        team_keys[team.name] = aws_team_key(ctx, team.name, key_arn).arn
        gateway_secrets[team.key_env] = team_keys[team.name]
    gateway_secrets[METRICS_KEY_ENV] = _aws_metrics_key(ctx, key_arn).arn

    synced_arns = [*gateway_secrets.values(), *([hf_arn] if hf_arn is not None else [])]
    read_policy = pulumi.Output.all(key_arn, *synced_arns).apply(lambda v: _secrets_read_policy(v[1:], v[0], account.region, account.dns_suffix))
    secret_sync_identity = cluster.workload_role("secret-sync", SecretSync.NAMESPACE, SecretSync.SERVICE_ACCOUNT, {"read-platform-secrets": read_policy})
    gateway_policies: dict[str, pulumi.Input[str]] = {}
    # Content filtering on every route (self-hosted included) with Beta's Bedrock guardrail; its
    # ApplyGuardrail grant is in the profiles policy.
    content_filters = [bedrock_content_filter(beta.bedrock.guardrail_id, beta.bedrock.guardrail_version, account.region)] if beta.bedrock is not None else []
    if content_filters:
        gateway_policies["bedrock-profiles"] = beta.bedrock.profiles_policy
    if plan.uses_bedrock:
        gateway_policies = {
            "bedrock-models": beta.bedrock.models_policy,
            # Also grants kms:Decrypt (via Bedrock) on the key that encrypts the guardrail.
            "bedrock-profiles": beta.bedrock.profiles_policy,
        }
    if plan.sagemaker_endpoints:
        gateway_policies["invoke-sagemaker"] = invoke_policy(account, [beta.sagemaker.endpoint_names[m] for m in plan.sagemaker_endpoints])
    if alerts is not None:
        gateway_policies["publish-budget-alerts"] = alerts.publish_policy
    gateway_identity = [cluster.workload_role("gateway", GATEWAY_NAMESPACE, LlmGateway.SERVICE_ACCOUNT, gateway_policies).association] if gateway_policies else []
    autoscaler_sa = "cluster-autoscaler"
    autoscaler_identity = cluster.workload_role("cluster-autoscaler", "kube-system", autoscaler_sa, {"resize-node-groups": autoscaler_policy(cluster_name, account)})

    chart_login = ecr_chart_login(cfg.mirrors.helm_repository, ctx.opts.providers[0])  # one token for every release
    provider = k8s.Provider(
        "eks",
        kubeconfig=cluster.kubeconfig,
        enable_server_side_apply=True,
        opts=pulumi.ResourceOptions(depends_on=[*cluster.node_groups, *cluster.addons.values()]),
    )
    cluster_autoscaler(
        "cluster-autoscaler", cluster.cluster_name, account.region, scale.kubernetes_version, autoscaler_sa,
        pulumi.ResourceOptions(provider=provider, depends_on=[autoscaler_identity.association]),
        mirrors=with_chart_login(cfg.mirrors.for_components(), chart_login),
    )
    gateway = deploy_workloads(
        ctx,
        ClusterWorkloads(
            provider=provider,
            secret_store={"aws": {"service": "SecretsManager", "region": account.region}},
            secret_sync_annotations={},
            secret_sync_pod_labels={},
            gateway_secrets=gateway_secrets,
            hugging_face_secret=hf_arn,
            gateway_plan=plan,
            gateway_config=gateway_config_yaml(scale, plan, LITELLM_METRICS_SETTINGS, access, [*self_hosted_content_filter(scale), *content_filters]),
            gateway_annotations={},
            gateway_pod_labels={},
            load_balancer_annotations={
                "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
            },
            allowed_cidrs=[str(cfg.poc.network.cidr), *(str(c) for c in scale.gateway.allowed_cidrs)],
            secret_sync_identity=[secret_sync_identity.association],
            gateway_identity=gateway_identity,
            chart_login=chart_login,
        ),
    )
    gateway_url = _gateway_url(gateway.service)
    app = beta.app
    # The gateway's address exists once its internal NLB does: the app reads it from an SSM
    # parameter (by ARN), so its task definition is complete at preview and not re-rendered.
    gateway_url_parameter = aws.ssm.Parameter(
        "gateway-url",
        name=f"/{ctx.project}/{ctx.stack}/app/gateway-url",
        type="String",
        description="Base URL of the LLM gateway (internal NLB) the app calls",
        value=gateway_url,
        tags=ctx.tags,
        opts=ctx.opts,
    )
    app.extra_parameters["gateway-url"] = gateway_url_parameter.arn
    if app_reads_gateway_env(ctx.config):
        app.model_secrets["LLM_GATEWAY_URL"] = SecretRef("gateway-url")
        app.model_env["LLM_GATEWAY_MODELS"] = ",".join(r.name for r in scale.routes)
    # The app calls with its team's scoped key; the master key stays with the operators.
    if app_reads_gateway_env(ctx.config):
        app.model_secrets["LLM_GATEWAY_KEY"] = SecretRef(team_key_secret(APP_TEAM))
    app.extra_secrets[team_key_secret(APP_TEAM)] = team_keys[APP_TEAM]
    # The NLB sits in the private subnets: the app's tasks may call its port inside the VPC.
    app.vpc_egress_ports[GATEWAY_PORT] = "LLM gateway (internal NLB)"
    aws_lowcode_app(ctx, foundation, app)
    pulumi.export("clusterName", cluster.cluster_name)
    pulumi.export("gatewayUrl", gateway_url)
    pulumi.export("gatewayMasterKeySecretArn", gateway_key.arn)
    pulumi.export("kubeconfigCommand", f"aws eks update-kubeconfig --name {cluster_name} --region {account.region}")
    if alerts is not None:
        pulumi.export("budgetAlertTopicArn", alerts.topic_arn)


def _budget_alerts_aws(ctx: StackContext, key_arn: pulumi.Input[str]) -> Any:
    from components.aws.alerts import BudgetAlertTopic, BudgetAlertTopicArgs

    assert ctx.aws_account is not None
    return BudgetAlertTopic(
        "budget-alerts",
        BudgetAlertTopicArgs(
            account=ctx.aws_account,
            topic_name=ctx.namer.name("budget-alerts", max_len=256),
            kms_key_arn=key_arn,
            emails=ctx.config.budget.emails,
            tags=ctx.tags,
        ),
        opts=ctx.opts,
    )


def _gateway_redis_aws(ctx: StackContext, foundation: Any, cluster: Any) -> Any:
    from components.aws.redis import GatewayRedis, GatewayRedisArgs

    return GatewayRedis(
        "gateway-cache",
        GatewayRedisArgs(
            replication_group_id=ctx.namer.name("gateway-cache", max_len=40),
            vpc_id=foundation.network.vpc_id,
            subnet_ids=foundation.network.data_subnet_ids,
            # EksCluster keeps its aws.eks.Cluster private; the security group EKS creates for it.
            client_security_group_id=cluster._cluster.vpc_config.cluster_security_group_id,
            kms_key_arn=foundation.key.key_arn,
            secret_name=ctx.namer.path("gateway", "redis-password"),
            node_type=GATEWAY_CACHE_NODE,
            tags=ctx.tags,
        ),
        opts=ctx.opts,
    )


def _secrets_read_policy(arns: Sequence[str], key_arn: str, region: str, dns_suffix: str) -> str:
    """Exactly the secrets the cluster syncs, and the platform key only through Secrets Manager."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "ReadPlatformSecrets", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Resource": sorted(set(arns))},
                {
                    "Sid": "DecryptThroughSecretsManager",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": key_arn,
                    "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.{dns_suffix}"}},
                },
            ],
        }
    )


# ------------------------------------------------------------------------------------- Azure


def _gateway_redis_zone(cfg: PlatformConfig) -> tuple[Any, str]:
    """The cloud's Redis service for the gateway (the one it offers the app) and its privatelink
    zone, which the VNet then has whatever the app is."""
    from components.azure.clouds import CLOUDS, app_redis_zone

    found = app_redis_zone(CLOUDS[cfg.azure_environment])
    if found is None:
        raise pulumi.RunError(f"the Azure '{cfg.azure_environment}' cloud offers no Redis service the LLM gateway could keep its budgets and rate limits in")
    return found


def scale_azure(ctx: StackContext) -> None:
    import pulumi_azure_native as azure
    import pulumi_kubernetes as k8s

    from components.azure.aks import AgentPoolSpec, AksCluster, AksClusterArgs
    from components.azure.cache import GatewayCache, GatewayCacheArgs
    from components.azure.clouds import ROLE_COGNITIVE_SERVICES_OPENAI_USER
    from components.azure.roles import assign_role
    from components.k8s.addons import SecretSync
    from components.k8s.monitoring import LITELLM_METRICS_SETTINGS
    from components.k8s.serving import GATEWAY_NAMESPACE, LlmGateway, model_service_url
    from stacks.beta import app_reads_gateway_env, azure_openai_upstream, azure_scope_env, build_beta_azure, new_team_key
    from stacks.poc import azure_lowcode_app

    cfg, namer, location = ctx.config, ctx.namer, ctx.config.region
    scale = cfg.scale
    assert scale is not None
    redis_service, redis_zone = _gateway_redis_zone(cfg)
    beta = build_beta_azure(ctx, extra_subnets=("aks",), extra_zones={redis_service: redis_zone})
    foundation = beta.foundation
    rg_name = foundation.resource_group.name
    vault = foundation.vault
    client = azure.authorization.get_client_config()
    _warn_kubernetes_version(cfg)

    cluster = AksCluster(
        "aks",
        AksClusterArgs(
            cluster_name=namer.name("aks", max_len=63),
            resource_group_name=rg_name,
            location=location,
            kubernetes_version=scale.kubernetes_version,
            subnet_id=foundation.network.extra_subnet_ids["aks"],
            private_cluster=scale.private_endpoint,
            authorized_ip_ranges=[str(c) for c in scale.public_access_cidrs],
            workspace_id=foundation.workspace.workspace_id,
            subscription_id=foundation.subscription_id,
            tenant_id=client.tenant_id,
            system_pool=AgentPoolSpec(SYSTEM_POOL, _system_pool_instance(cfg), scale.system_pool.min_size, scale.system_pool.max_size, SYSTEM_DISK_GB),
            gpu_pools=[AgentPoolSpec(p.name, p.instance_type, p.min_size, p.max_size, p.disk_size_gb) for p in scale.gpu_pools],
            tags=ctx.tags,
            deployer_object_id=client.object_id,
            admin_group_ids=scale.cluster_admins,
            preview_principal_id=scale.preview_principal,
            registry_id=cfg.mirrors.azure_registry_id,
        ),
        opts=ctx.opts,
    )

    federations: dict[str, pulumi.Resource] = {}  # workloads start after their federated credential

    def identity(name: str, namespace: str, service_account: str) -> Any:
        uai = azure.managedidentity.UserAssignedIdentity(f"{name}-identity", resource_name_=namer.name(name), resource_group_name=rg_name, location=location, tags=ctx.tags, opts=ctx.opts)
        federations[name] = cluster.federate(f"{name}-federation", uai.name, namespace, service_account)
        return uai

    sync_identity = identity("secret-sync", SecretSync.NAMESPACE, SecretSync.SERVICE_ACCOUNT)
    gateway_identity = identity("gateway", GATEWAY_NAMESPACE, LlmGateway.SERVICE_ACCOUNT)

    def azure_upstream(route: str, target: str, limits: Mapping[str, Any]) -> Upstream:
        return azure_openai_upstream(beta, target, upstream_id=f"{route}/azure-{target}", **limits)

    plan = plan_gateway(scale, model_service_url, {"azure": azure_upstream}, cfg)
    if plan.uses_azure_openai:
        assign_role(
            "gateway-calls-openai",
            subscription_id=foundation.subscription_id,
            role_id=ROLE_COGNITIVE_SERVICES_OPENAI_USER,
            principal_id=gateway_identity.principal_id,
            scope=beta.openai.account_id,
            parent=beta.openai,
            description="the LLM gateway falls back to the Azure OpenAI deployments",
        )
        plan.env.update(azure_scope_env(cfg.azure_environment))
    hf_secret = None
    if (token := _hugging_face_token(cfg)) is not None:
        vault.secret("hugging-face-token", token)
        hf_secret = "hugging-face-token"
    gateway_secrets: dict[str, pulumi.Input[str]] = {MASTER_KEY_ENV: SecretName.GATEWAY_KEY.value}
    gateway_secrets.update({api_key_env(p): f"api-key-{p}" for p in plan.api_providers})
    cache = GatewayCache(
        "gateway-cache",
        GatewayCacheArgs(
            service=redis_service,
            resource_group_name=rg_name,
            location=location,
            endpoints_subnet_id=foundation.network.endpoints_subnet_id,
            zone_id=foundation.network.zone_ids[redis_service],
            encryption=foundation.encryption,
            workspace_id=foundation.workspace.workspace_id,
            tags=ctx.tags,
        ),
        opts=ctx.opts,
    )
    vault.secret(GATEWAY_REDIS_SECRET, cache.access_key, protect=False)
    plan.env.update(gateway_redis_env(cache.host, cache.port))
    gateway_secrets[REDIS_PASSWORD_ENV] = GATEWAY_REDIS_SECRET
    access = gateway_access(cfg, plan)
    plan.env.update(access_env(access))
    team_key_urls = {team.name: vault.secret(team_key_secret(team.name), new_team_key(ctx, team.name), protect=False) for team in access.teams}
    gateway_secrets.update({team.key_env: team_key_secret(team.name) for team in access.teams})
    vault.secret(METRICS_KEY_SECRET, _new_metrics_key(ctx), protect=False)
    gateway_secrets[METRICS_KEY_ENV] = METRICS_KEY_SECRET
    # External Secrets reads exactly the secrets it copies into the cluster, one grant each.
    synced_secrets = [str(n) for n in gateway_secrets.values()] + ([hf_secret] if hf_secret else [])
    vault.grant_read("secret-sync-reads", principal_id=sync_identity.principal_id, secret_names=synced_secrets, parent=vault, reader="External Secrets")

    # Kubernetes calls need the pools (for workloads) and the deployer's RBAC grant (or get 403);
    # the workloads' images need the kubelet's AcrPull on a registry mirror.
    provider = k8s.Provider("aks", kubeconfig=cluster.kubeconfig, enable_server_side_apply=True, opts=pulumi.ResourceOptions(depends_on=[*cluster.pools, *cluster.access, *cluster.image_pull]))
    workload_identity = {"azure.workload.identity/use": "true"}
    gateway = deploy_workloads(
        ctx,
        ClusterWorkloads(
            provider=provider,
            secret_store={
                "azurekv": {
                    "authType": "WorkloadIdentity",
                    "environmentType": ESO_AZURE_ENVIRONMENT[cfg.azure_environment],
                    "vaultUrl": vault.vault_uri,
                    "serviceAccountRef": {"name": SecretSync.SERVICE_ACCOUNT, "namespace": SecretSync.NAMESPACE},
                }
            },
            secret_sync_annotations={"azure.workload.identity/client-id": sync_identity.client_id, "azure.workload.identity/tenant-id": client.tenant_id},
            secret_sync_pod_labels=workload_identity,
            gateway_secrets=gateway_secrets,
            hugging_face_secret=hf_secret,
            gateway_plan=plan,
            gateway_config=gateway_config_yaml(
                scale, plan, {**LITELLM_METRICS_SETTINGS, **({"enable_azure_ad_token_refresh": True} if plan.uses_azure_openai else {})}, access, self_hosted_content_filter(scale)
            ),
            gateway_annotations={"azure.workload.identity/client-id": gateway_identity.client_id},
            gateway_pod_labels=workload_identity,
            load_balancer_annotations={"service.beta.kubernetes.io/azure-load-balancer-internal": "true"},
            allowed_cidrs=[str(cfg.poc.network.cidr), *(str(c) for c in scale.gateway.allowed_cidrs)],
            secret_sync_identity=[federations["secret-sync"]],
            gateway_identity=[federations["gateway"]],
        ),
    )
    alert_group_id = _budget_alerts_azure(ctx, rg_name, foundation.workspace.workspace_id, [cluster]) if gateway_alerts_budgets(access) else None
    gateway_url = _gateway_url(gateway.service)
    app = beta.app
    if app_reads_gateway_env(ctx.config):
        app.model_env.update({"LLM_GATEWAY_URL": gateway_url, "LLM_GATEWAY_MODELS": ",".join(r.name for r in scale.routes)})
    # The app calls with its team's scoped key; the master key stays with the operators.
    if app_reads_gateway_env(ctx.config):
        app.model_secrets["LLM_GATEWAY_KEY"] = SecretRef(team_key_secret(APP_TEAM))
    app.extra_secrets[team_key_secret(APP_TEAM)] = team_key_urls[APP_TEAM]
    azure_lowcode_app(ctx, foundation, app)
    pulumi.export("clusterName", cluster.cluster_name)
    pulumi.export("gatewayUrl", gateway_url)
    pulumi.export("kubeconfigCommand", pulumi.Output.concat("az aks get-credentials --resource-group ", rg_name, " --name ", cluster.cluster_name, " && kubelogin convert-kubeconfig -l azurecli"))
    if alert_group_id is not None:
        pulumi.export("budgetAlertActionGroupId", alert_group_id)


def _budget_alerts_azure(ctx: StackContext, rg_name: pulumi.Input[str], workspace_id: pulumi.Input[str], after: Sequence[pulumi.Resource]) -> pulumi.Output[str]:
    """Budget alerts by email: a log alert rule on the gateway's ContainerLogV2 lines (Container
    Insights sends them to the stack's workspace) and an action group mailing budget.emails."""
    from components.azure.alerts import BudgetAlertRule, BudgetAlertRuleArgs
    from components.gateway import BUDGET_ALERT_MARKER
    from components.k8s.serving import GATEWAY_NAMESPACE

    alerts = BudgetAlertRule(
        "budget-alerts",
        BudgetAlertRuleArgs(
            rule_name=ctx.namer.name("budget-alerts"),
            action_group_name=ctx.namer.name("budget-alerts"),
            short_name="llm-budget",
            resource_group_name=rg_name,
            location=ctx.config.region,
            workspace_id=workspace_id,
            emails=ctx.config.budget.emails,
            namespace=GATEWAY_NAMESPACE,
            container="litellm",  # LlmGateway's container (components/k8s/serving.py); tests/test_budget_alerts.py checks
            marker=BUDGET_ALERT_MARKER,
            tags=ctx.tags,
            after=after,
        ),
        opts=ctx.opts,
    )
    return alerts.action_group_id
