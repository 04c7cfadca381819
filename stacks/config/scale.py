"""The `scale` section: clusters, GPU pools, served models (and their fit), routes, gateway and teams."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from stacks.config.base import _Model
from stacks.config.beta import Name

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
    # How the gateway picks among the upstreams of one level (the self-hosted models, or a
    # fallback level of equivalent upstreams written "a | b"): `least-busy` (default), or
    # `cheapest`: the lowest per-token price in LiteLLM's cost map first (its cost-based-routing,
    # per route through router_settings.routing_groups; components/gateway.py).
    strategy: Literal["least-busy", "cheapest"] = "least-busy"

    def fallback_levels(self) -> list[list[str]]:
        """The fallbacks as order levels: "a | b" is one level of equivalent upstreams."""
        return [[ref.strip() for ref in level.split(FALLBACK_LEVEL_SEPARATOR)] for level in self.fallbacks]

    @property
    def fallback_refs(self) -> list[str]:
        """Every fallback upstream reference, level after level."""
        return [ref for level in self.fallback_levels() for ref in level]


# Joins the equivalent upstreams of one fallback level in `routes[].fallbacks` ("a | b"): a plain
# string keeps each level one entry for the scripts that filter fallbacks by provider.
FALLBACK_LEVEL_SEPARATOR = "|"


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


class ContentFilterConfig(_Model):
    """A self-hosted guard model (Qwen3Guard-Gen or Llama Guard 3, served by vLLM like the other
    models) that the gateway asks about the prompt (and the answer) of every route, before the
    upstream is called and before the answer is released (components/gateway_guard.py)."""

    model: Name  # a name in scale.models; it needs no route and is never listed by /v1/models
    checks: list[Literal["input", "output"]] = Field(default_factory=lambda: ["input", "output"], min_length=1, max_length=2)
    # The guard cannot answer within timeoutSeconds (down, overloaded): refuse with 503 (block) or
    # let the request through unchecked, with a WARNING log line (allow).
    on_unavailable: Literal["block", "allow"] = Field("block", alias="onUnavailable")
    # One guard call per check; a 0.6B-4B guard answers a short verdict in well under a second.
    timeout_seconds: float = Field(5, alias="timeoutSeconds", gt=0, le=60)
    # Qwen3Guard's middle level ("Controversial": harm that depends on the context): block it
    # (strict) or let it pass (loose, the model card's two policies). Llama Guard has no such level.
    controversial: Literal["block", "allow"] = "block"

    @model_validator(mode="after")
    def _unique_checks(self) -> ContentFilterConfig:
        if len(set(self.checks)) != len(self.checks):
            raise ValueError("checks must not repeat a value")
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
    # A self-hosted guard model checking every route's prompts and answers (None: no gateway filter
    # besides Beta's Bedrock guardrail on AWS; the plan warns about unfiltered routes).
    content_filter: ContentFilterConfig | None = Field(None, alias="contentFilter")

    @model_validator(mode="after")
    def _unique(self) -> ScaleConfig:
        for label, items in (("gpuPools", self.gpu_pools), ("models", self.models), ("routes", self.routes)):
            names = [i.name for i in items]
            if len(set(names)) != len(names):
                raise ValueError(f"{label} names must be unique")
        return self
