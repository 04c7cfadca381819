"""Self-hosted model serving (vLLM, one Deployment per model) and the LLM gateway (LiteLLM) on
Kubernetes, with NetworkPolicies so only the gateway reaches the model servers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
import pulumi_kubernetes as k8s

from components.gateway import GATEWAY_PORT
from components.k8s.gpu import GPU, POOL_LABEL
from components.k8s.meta import metadata, pod_labels
from components.lowcode import DEFAULT_IMAGE_TAGS
from components.mirrors import Mirrors, mirrored_image, model_download

VLLM_IMAGE = "docker.io/vllm/vllm-openai:v0.18.0"
VLLM_PORT = 8000
VLLM_APP: Mapping[str, str] = {"app.kubernetes.io/name": "vllm"}  # on every model server's pods and Service
# The same LiteLLM release as the container-app gateway, in its non-root build: USER nobody
# (uid 65534) in BerriAI/litellm docker/Dockerfile.non_root (checked 2026-11). Kubernetes cannot
# verify a user name is non-root, so the pod names the uid.
LITELLM_NON_ROOT_IMAGE = f"ghcr.io/berriai/litellm-non_root:{DEFAULT_IMAGE_TAGS['litellm']}"
LITELLM_UID = 65534
MODELS_NAMESPACE = "llm-models"
GATEWAY_NAMESPACE = "llm-gateway"
HF_SECRET = "huggingface"
GATEWAY_SECRET = "gateway-secrets"
_SECURE_POD = {"seccompProfile": {"type": "RuntimeDefault"}}
# Pod Security `restricted` for a container (kubernetes.io/docs/concepts/security/pod-security-standards).
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True}
# vLLM's image runs as root and writes caches under $HOME: `baseline`, with every capability dropped.
BASELINE_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
# How long `pulumi up` waits for a model server to become ready: a GPU node from zero (~5 min),
# the vLLM image (~10 GB) and the weights, then loading them; the startup probe allows 30 min.
MODEL_STARTUP_PROBE = {"periodSeconds": 10, "failureThreshold": 180, "timeoutSeconds": 5}
MODEL_AWAIT = pulumi.CustomTimeouts(create="60m", update="60m")
# A rollout without progress for this long is marked ProgressDeadlineExceeded, which `pulumi up`
# reports as a failure (instead of waiting out MODEL_AWAIT): a GPU node (~15 min worst case) plus
# the startup probe's 30 minutes.
MODEL_PROGRESS_DEADLINE_SECONDS = 15 * 60 + MODEL_STARTUP_PROBE["periodSeconds"] * MODEL_STARTUP_PROBE["failureThreshold"]
# Node disk a model pod writes besides its weight cache (container layer, logs, vLLM's and torch's
# compile caches under $HOME): requested and limited with the cache as ephemeral storage, so the
# scheduler never packs more caches on a node than its disk holds and the kubelet evicts a pod
# that outgrows its share instead of the node running out of disk.
MODEL_SCRATCH_GIB = 10
# Node disk left for container images (the vLLM image is ~10 GB compressed) and the OS.
NODE_IMAGES_GIB = 50
# The kubelet's default hard eviction threshold nodefs.available<10% ("Node-pressure Eviction",
# kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction, read 2026-11-30).
NODEFS_EVICTION_FRACTION = 0.10
# vLLM usage statistics are sent to the vLLM project unless disabled
# (https://docs.vllm.ai/en/latest/usage/usage_stats.html); Hugging Face telemetry likewise.
NO_TELEMETRY = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
GATEWAY_DRAIN_SECONDS = 15  # endpoints and load balancers stop sending before the process stops


def model_service_url(model: str) -> str:
    """Where the gateway reaches a model server (cluster DNS), OpenAI-compatible API root."""
    return f"http://vllm-{model}.{MODELS_NAMESPACE}.svc.cluster.local:{VLLM_PORT}/v1"


@dataclass
class ModelServerArgs:
    name: str
    hugging_face_id: str
    revision: str | None
    gpus_per_replica: int
    min_replicas: int
    max_replicas: int
    max_model_len: int | None
    cache_size_gb: int
    cpu: int  # per replica, from the GPU share of the pool's instance (components.k8s.gpu)
    memory_gib: int
    namespace: pulumi.Input[str]
    tags: Mapping[str, str]
    # Whether the pool can hold one more replica while every model on it runs its minReplicas (the
    # normal state): only then may a rollout start the new pod before stopping an old one. A
    # rollout during a peak that has no room fails visibly (progressDeadlineSeconds).
    surge_fits: bool = False
    # vLLM flags the plan's fit check assumed (components/k8s/model_fit.py Fit.engine_args).
    engine_args: Sequence[str] = ()
    # Image registry and model source (llm-platform:mirrors); None = upstream.
    mirrors: Mirrors | None = None
    # The GPU pool the model runs on (scale.models[].pool), whose nodes carry POOL_LABEL. Without it
    # a pod fits any GPU pool, and the autoscaler may grow another model's (larger) pool for it.
    pool: str | None = None


def rolling_update(surge_fits: bool) -> dict[str, int]:
    """Surge when a spare GPU exists at the pool's maximum; otherwise replace in place, since a
    surge pod would stay Pending and the rollout would never finish."""
    return {"maxSurge": 1, "maxUnavailable": 0} if surge_fits else {"maxSurge": 0, "maxUnavailable": 1}


def model_pod_disk_gib(cache_size_gb: int) -> int:
    """Ephemeral storage a model server pod requests and is limited to."""
    return cache_size_gb + MODEL_SCRATCH_GIB


def disruption_budget() -> dict[str, Any]:
    """Voluntary disruptions (node drains for EKS node-group updates and AKS node-image upgrades,
    autoscaler scale-down) take one replica at a time and are never blocked: with a single replica
    a `minAvailable: 1` budget would fail every drain (EKS PodEvictionFailure, AKS upgrade
    failure). While that replica restarts elsewhere the gateway serves the route from its
    fallbacks (a route without fallbacks is a plan warning). An unready pod can always be evicted
    so a broken replica cannot block a drain either."""
    return {"maxUnavailable": 1, "unhealthyPodEvictionPolicy": "AlwaysAllow"}


class ModelServer(pulumi.ComponentResource):
    """vLLM serving one model: GPU requests, the shared GPU toleration and node selector, a model
    cache volume, the Hugging Face token from a Secret, probes on the OpenAI-compatible API,
    autoscaling between the configured bounds, a PodDisruptionBudget and a Service."""

    def __init__(self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:k8s:ModelServer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        app = {**VLLM_APP, "llm-platform.io/model": args.name}
        object_name = f"vllm-{args.name}"
        # `vllm serve MODEL`: the --model option is deprecated for `vllm serve` (rejected by newer
        # releases); naming the command keeps the args valid whatever the image's entrypoint.
        download = model_download(args.hugging_face_id, args.mirrors)
        cli = [download.model, "--served-model-name", args.name, "--port", str(VLLM_PORT), "--tensor-parallel-size", str(args.gpus_per_replica), "--download-dir", "/models/cache"]
        if args.revision:
            cli += ["--revision", args.revision]
        if args.max_model_len:
            cli += ["--max-model-len", str(args.max_model_len)]
        cli += list(args.engine_args)
        cpu, memory = args.cpu, args.memory_gib
        disk = model_pod_disk_gib(args.cache_size_gb)
        # /dev/shm is memory-backed and counts against the limit.
        shm_gib = max(1, min(16, memory // 4))
        health = {"httpGet": {"path": "/health", "port": VLLM_PORT}, "timeoutSeconds": 5}
        self.deployment_name = object_name
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata(object_name, args.tags, namespace=args.namespace, labels=app),
            # No `replicas`: KEDA's ScaledObject (components.k8s.autoscaling) owns it.
            spec={
                "selector": {"matchLabels": app},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": rolling_update(args.surge_fits)},
                "progressDeadlineSeconds": MODEL_PROGRESS_DEADLINE_SECONDS,
                "template": {
                    "metadata": {"labels": pod_labels(args.tags, app)},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": _SECURE_POD,
                        "nodeSelector": {**GPU.node_selector, **({POOL_LABEL: args.pool} if args.pool else {})},
                        "tolerations": [GPU.toleration],
                        "containers": [
                            {
                                "name": "vllm",
                                "image": mirrored_image(VLLM_IMAGE, args.mirrors),
                                "command": ["vllm", "serve"],
                                "args": cli,
                                "ports": [{"name": "http", "containerPort": VLLM_PORT}],
                                "env": [
                                    {"name": "HF_HOME", "value": "/models/cache"},
                                    *({"name": k, "value": v} for k, v in NO_TELEMETRY.items()),
                                    *({"name": k, "value": v} for k, v in sorted(download.env.items())),
                                    {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": HF_SECRET, "key": "HF_TOKEN", "optional": True}}},
                                ],
                                "resources": {
                                    "requests": {"cpu": str(cpu), "memory": f"{memory}Gi", "ephemeral-storage": f"{disk}Gi", GPU.resource: str(args.gpus_per_replica)},
                                    "limits": {"memory": f"{memory}Gi", "ephemeral-storage": f"{disk}Gi", GPU.resource: str(args.gpus_per_replica)},
                                },
                                # Downloading and loading weights takes minutes: liveness waits for startup.
                                "startupProbe": {**health, **MODEL_STARTUP_PROBE},
                                "readinessProbe": {**health, "periodSeconds": 10, "failureThreshold": 3},
                                # A busy engine answers /health late: a generous timeout before a restart.
                                "livenessProbe": {**health, "periodSeconds": 20, "failureThreshold": 3, "timeoutSeconds": 10},
                                "volumeMounts": [{"name": "model-cache", "mountPath": "/models/cache"}, {"name": "shm", "mountPath": "/dev/shm"}],
                                "securityContext": BASELINE_CONTAINER,
                            }
                        ],
                        "volumes": [
                            # Per pod: EBS / Azure Disk are single-node and zonal, so replicas cannot
                            # share one; each new pod downloads the weights again (see README).
                            {"name": "model-cache", "emptyDir": {"sizeLimit": f"{args.cache_size_gb}Gi"}},
                            # Tensor parallelism shares tensors through /dev/shm.
                            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{shm_gib}Gi"}},
                        ],
                    },
                },
            },
            # Pulumi waits for a ready replica; the 10-minute default ends before a model loads.
            opts=pulumi.ResourceOptions(parent=self, custom_timeouts=MODEL_AWAIT),
        )
        k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata(object_name, args.tags, namespace=args.namespace, labels=app),
            spec={"selector": app, "ports": [{"name": "http", "port": VLLM_PORT, "targetPort": VLLM_PORT}]},
            opts=child,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=metadata(object_name, args.tags, namespace=args.namespace, labels=app),
            spec={**disruption_budget(), "selector": {"matchLabels": app}},
            opts=child,
        )
        self.register_outputs({})


def gateway_workers(cpu_cores: int) -> int:
    """LiteLLM worker processes (`--num_workers`): one per requested core. A worker is one
    single-threaded event loop, so more workers than cores only contend, and fewer leave the
    request (what the HPA's utilisation is measured against) unused."""
    return max(1, cpu_cores)


def gateway_resources(cpu_cores: int) -> dict[str, Any]:
    """A worker holds the proxy, the router and their caches (~0.5-1 GiB resident each)."""
    workers = gateway_workers(cpu_cores)
    return {"requests": {"cpu": str(cpu_cores), "memory": f"{workers}Gi"}, "limits": {"memory": f"{2 * workers}Gi"}}


# The gateway's pods are added at this average CPU use (of the request): below saturation, so a
# burst is absorbed while a new pod starts (~30 s); idle pods are removed after 5 quiet minutes.
GATEWAY_TARGET_CPU_PERCENT = 70


@dataclass
class GatewayArgs:
    config_yaml: pulumi.Input[str]
    replicas: int  # the HorizontalPodAutoscaler's minimum
    namespace: pulumi.Input[str]
    secret_env: Sequence[str]  # keys of the gateway Secret exposed as env vars (master key, API keys)
    env: Mapping[str, pulumi.Input[str]]  # plain settings: upstream API bases, region
    allowed_cidrs: Sequence[str]  # networks outside the cluster that may call the gateway
    load_balancer_annotations: Mapping[str, str]
    tags: Mapping[str, str]
    request_timeout_seconds: int = 600  # the longest a request (a stream) may take upstream
    service_account_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    # What gives the gateway's service account its cloud identity (Pod Identity association,
    # federated credential): its pods must start after it exists or they get no credentials.
    identity: Sequence[pulumi.Resource] = ()
    mirrors: Mirrors | None = None  # image registry (llm-platform:mirrors); None = upstream
    max_replicas: int = 0  # the HorizontalPodAutoscaler's maximum (0 = replicas: no scaling)
    cpu_cores: int = 1  # requested per pod; the worker count follows it
    # Files beside config.yaml in the ConfigMap (the custom auth module it names).
    files: Mapping[str, str] = field(default_factory=dict)


class LlmGateway(pulumi.ComponentResource):
    """LiteLLM proxy: config.yaml in a ConfigMap (no secrets in it), keys from a Secret synced from
    the cloud secret store, an internal load balancer for the VPC/VNet, and NetworkPolicies."""

    SERVICE_ACCOUNT: ClassVar[str] = "litellm"
    APP: ClassVar[Mapping[str, str]] = {"app.kubernetes.io/name": "litellm"}

    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:k8s:LlmGateway", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        app = dict(self.APP)
        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=metadata("litellm-config", args.tags, namespace=args.namespace, labels=app),
            data={"config.yaml": args.config_yaml, **dict(args.files)},
            opts=child,
        )
        k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=metadata(self.SERVICE_ACCOUNT, args.tags, namespace=args.namespace, labels=app, annotations=args.service_account_annotations),
            opts=child,
        )
        env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(args.env.items())]
        env += [{"name": k, "valueFrom": {"secretKeyRef": {"name": GATEWAY_SECRET, "key": k}}} for k in sorted(args.secret_env)]
        # The bundled cost map, no start-up fetch from raw.githubusercontent.com (components/gateway.py gateway_service).
        env += [{"name": "LITELLM_LOG", "value": "INFO"}, {"name": "LITELLM_TELEMETRY", "value": "False"}, {"name": "LITELLM_LOCAL_MODEL_COST_MAP", "value": "True"}]
        probe = {"httpGet": {"path": "/health/liveliness", "port": GATEWAY_PORT}, "periodSeconds": 15, "timeoutSeconds": 5}
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata("litellm", args.tags, namespace=args.namespace, labels=app),
            # No `replicas`: the HorizontalPodAutoscaler below owns it (from `replicas` up).
            spec={
                "selector": {"matchLabels": app},
                "template": {
                    "metadata": {
                        "labels": pod_labels(args.tags, {**app, **dict(args.pod_labels)}),
                        # Roll the pods when the routes change.
                        "annotations": {"llm-platform.io/config-hash": pulumi.Output.from_input(args.config_yaml).apply(lambda c: _digest(c + "".join(f"{k}\n{v}" for k, v in sorted(args.files.items()))))},
                    },
                    "spec": {
                        "serviceAccountName": self.SERVICE_ACCOUNT,
                        "securityContext": {**_SECURE_POD, "runAsNonRoot": True, "runAsUser": LITELLM_UID},
                        # On SIGTERM uvicorn stops accepting and finishes in-flight requests:
                        # leave time for the longest stream after the drain pause.
                        "terminationGracePeriodSeconds": GATEWAY_DRAIN_SECONDS + args.request_timeout_seconds,
                        "containers": [
                            {
                                "name": "litellm",
                                "image": mirrored_image(LITELLM_NON_ROOT_IMAGE, args.mirrors),
                                "args": ["--config", "/etc/litellm/config.yaml", "--port", str(GATEWAY_PORT), "--num_workers", str(gateway_workers(args.cpu_cores))],
                                "ports": [{"name": "http", "containerPort": GATEWAY_PORT}],
                                "env": env,
                                "resources": gateway_resources(args.cpu_cores),
                                "readinessProbe": {**probe, "httpGet": {"path": "/health/readiness", "port": GATEWAY_PORT}},
                                "livenessProbe": probe,
                                # Keep serving while endpoints and the load balancer stop sending here.
                                "lifecycle": {"preStop": {"sleep": {"seconds": GATEWAY_DRAIN_SECONDS}}},
                                "volumeMounts": [{"name": "config", "mountPath": "/etc/litellm", "readOnly": True}],
                                "securityContext": RESTRICTED_CONTAINER,
                            }
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": config.metadata["name"]}}],
                        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": app}}],
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.identity)),
        )
        # Plain HTTP inside the VPC/VNet (internal load balancer, source ranges, NetworkPolicy):
        # TLS here needs a certificate the apps trust (README "Gateway transport").
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata("litellm", args.tags, namespace=args.namespace, labels=app, annotations=args.load_balancer_annotations),
            spec={
                "type": "LoadBalancer",
                "selector": app,
                "ports": [{"name": "http", "port": GATEWAY_PORT, "targetPort": GATEWAY_PORT}],
                "loadBalancerSourceRanges": list(args.allowed_cidrs),
                # Deliver only to nodes running a gateway pod, with the client's address kept: the
                # NetworkPolicy below admits client CIDRs, and node-hopped traffic would arrive
                # from a node (Cilium's remote-node identity on AKS, not an ipBlock). The load
                # balancer's health check (healthCheckNodePort) takes the other nodes out.
                "externalTrafficPolicy": "Local",
            },
            opts=child,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb", metadata=metadata("litellm", args.tags, namespace=args.namespace, labels=app), spec={**disruption_budget(), "selector": {"matchLabels": app}}, opts=child
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-autoscaler",
            metadata=metadata("litellm", args.tags, namespace=args.namespace, labels=app),
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "litellm"},
                "minReplicas": args.replicas,
                "maxReplicas": max(args.replicas, args.max_replicas),
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": GATEWAY_TARGET_CPU_PERCENT}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
            },
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-ingress",
            metadata=metadata("litellm-ingress", args.tags, namespace=args.namespace, labels=app),
            spec={
                "podSelector": {"matchLabels": app},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"ipBlock": {"cidr": c}} for c in args.allowed_cidrs], "ports": [{"protocol": "TCP", "port": GATEWAY_PORT}]}],
            },
            opts=child,
        )
        self.register_outputs({})


def model_namespace_policies(name: str, namespace: pulumi.Input[str], tags: Mapping[str, str], opts: pulumi.ResourceOptions) -> None:
    """Deny all ingress to the model servers except from the gateway pods."""
    k8s.networking.v1.NetworkPolicy(
        f"{name}-default-deny",
        metadata=metadata("default-deny-ingress", tags, namespace=namespace),
        spec={"podSelector": {}, "policyTypes": ["Ingress"]},
        opts=opts,
    )
    k8s.networking.v1.NetworkPolicy(
        f"{name}-from-gateway",
        metadata=metadata("allow-from-gateway", tags, namespace=namespace),
        spec={
            "podSelector": {"matchLabels": dict(VLLM_APP)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": GATEWAY_NAMESPACE}},
                            "podSelector": {"matchLabels": dict(LlmGateway.APP)},
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": VLLM_PORT}],
                }
            ],
        },
        opts=opts,
    )


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:16]
