"""Self-hosted model serving (vLLM, one Deployment per model) and the LLM gateway (LiteLLM) on
Kubernetes, with NetworkPolicies so only the gateway reaches the model servers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
import pulumi_kubernetes as k8s

from components.gateway import GATEWAY_PORT
from components.k8s.gpu import GPU
from components.k8s.meta import metadata, pod_labels
from components.lowcode import DEFAULT_IMAGE_TAGS, IMAGE_REPOSITORIES

VLLM_IMAGE = "vllm/vllm-openai:v0.18.0"
VLLM_PORT = 8000
MODELS_NAMESPACE = "llm-models"
GATEWAY_NAMESPACE = "llm-gateway"
HF_SECRET = "huggingface"
GATEWAY_SECRET = "gateway-secrets"
_SECURE_POD = {"seccompProfile": {"type": "RuntimeDefault"}}


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


class ModelServer(pulumi.ComponentResource):
    """vLLM serving one model: GPU requests, the shared GPU toleration and node selector, a model
    cache volume, the Hugging Face token from a Secret, probes on the OpenAI-compatible API,
    autoscaling between the configured bounds, a PodDisruptionBudget and a Service."""

    def __init__(self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:k8s:ModelServer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        app = {"app.kubernetes.io/name": "vllm", "llm-platform.io/model": args.name}
        object_name = f"vllm-{args.name}"
        cli = ["--model", args.hugging_face_id, "--served-model-name", args.name, "--port", str(VLLM_PORT), "--tensor-parallel-size", str(args.gpus_per_replica), "--download-dir", "/models/cache"]
        if args.revision:
            cli += ["--revision", args.revision]
        if args.max_model_len:
            cli += ["--max-model-len", str(args.max_model_len)]
        cpu, memory = args.cpu, args.memory_gib
        # /dev/shm is memory-backed and counts against the limit.
        shm_gib = max(1, min(16, memory // 4))
        health = {"httpGet": {"path": "/health", "port": VLLM_PORT}}
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata(object_name, args.tags, namespace=args.namespace, labels=app),
            # No `replicas`: the HorizontalPodAutoscaler owns it (starting at minReplicas).
            spec={
                "selector": {"matchLabels": app},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {"labels": pod_labels(args.tags, app)},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": _SECURE_POD,
                        "nodeSelector": GPU.node_selector,
                        "tolerations": [GPU.toleration],
                        "containers": [
                            {
                                "name": "vllm",
                                "image": VLLM_IMAGE,
                                "args": cli,
                                "ports": [{"name": "http", "containerPort": VLLM_PORT}],
                                "env": [
                                    {"name": "HF_HOME", "value": "/models/cache"},
                                    {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": HF_SECRET, "key": "HF_TOKEN", "optional": True}}},
                                ],
                                "resources": {
                                    "requests": {"cpu": str(cpu), "memory": f"{memory}Gi", GPU.resource: str(args.gpus_per_replica)},
                                    "limits": {"memory": f"{memory}Gi", GPU.resource: str(args.gpus_per_replica)},
                                },
                                # Downloading and loading weights takes minutes: liveness waits for startup.
                                "startupProbe": {**health, "periodSeconds": 10, "failureThreshold": 180},
                                "readinessProbe": {**health, "periodSeconds": 10, "failureThreshold": 3},
                                "livenessProbe": {**health, "periodSeconds": 20, "failureThreshold": 3},
                                "volumeMounts": [{"name": "model-cache", "mountPath": "/models/cache"}, {"name": "shm", "mountPath": "/dev/shm"}],
                                "securityContext": {"allowPrivilegeEscalation": False},
                            }
                        ],
                        "volumes": [
                            {"name": "model-cache", "emptyDir": {"sizeLimit": f"{args.cache_size_gb}Gi"}},
                            # Tensor parallelism shares tensors through /dev/shm.
                            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{shm_gib}Gi"}},
                        ],
                    },
                },
            },
            opts=child,
        )
        k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata(object_name, args.tags, namespace=args.namespace, labels=app),
            spec={"selector": app, "ports": [{"name": "http", "port": VLLM_PORT, "targetPort": VLLM_PORT}]},
            opts=child,
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-autoscaler",
            metadata=metadata(object_name, args.tags, namespace=args.namespace, labels=app),
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": object_name},
                "minReplicas": args.min_replicas,
                "maxReplicas": args.max_replicas,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 600}},
            },
            opts=child,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=metadata(object_name, args.tags, namespace=args.namespace, labels=app),
            spec={"maxUnavailable": 1, "selector": {"matchLabels": app}},
            opts=child,
        )
        self.register_outputs({})


@dataclass
class GatewayArgs:
    config_yaml: pulumi.Input[str]
    replicas: int
    namespace: pulumi.Input[str]
    secret_env: Sequence[str]  # keys of the gateway Secret exposed as env vars (master key, API keys)
    env: Mapping[str, pulumi.Input[str]]  # plain settings: upstream API bases, region
    allowed_cidrs: Sequence[str]  # networks outside the cluster that may call the gateway
    load_balancer_annotations: Mapping[str, str]
    tags: Mapping[str, str]
    service_account_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    pod_labels: Mapping[str, str] = field(default_factory=dict)


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
            data={"config.yaml": args.config_yaml},
            opts=child,
        )
        k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=metadata(self.SERVICE_ACCOUNT, args.tags, namespace=args.namespace, labels=app, annotations=args.service_account_annotations),
            opts=child,
        )
        image = f"{IMAGE_REPOSITORIES['litellm']}:{DEFAULT_IMAGE_TAGS['litellm']}"
        env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(args.env.items())]
        env += [{"name": k, "valueFrom": {"secretKeyRef": {"name": GATEWAY_SECRET, "key": k}}} for k in sorted(args.secret_env)]
        env += [{"name": "LITELLM_LOG", "value": "INFO"}, {"name": "LITELLM_TELEMETRY", "value": "False"}]
        probe = {"httpGet": {"path": "/health/liveliness", "port": GATEWAY_PORT}, "periodSeconds": 15}
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata("litellm", args.tags, namespace=args.namespace, labels=app),
            spec={
                "replicas": args.replicas,
                "selector": {"matchLabels": app},
                "template": {
                    "metadata": {
                        "labels": pod_labels(args.tags, {**app, **dict(args.pod_labels)}),
                        # Roll the pods when the routes change.
                        "annotations": {"llm-platform.io/config-hash": pulumi.Output.from_input(args.config_yaml).apply(_digest)},
                    },
                    "spec": {
                        "serviceAccountName": self.SERVICE_ACCOUNT,
                        "securityContext": _SECURE_POD,
                        "containers": [
                            {
                                "name": "litellm",
                                "image": image,
                                "args": ["--config", "/etc/litellm/config.yaml", "--port", str(GATEWAY_PORT)],
                                "ports": [{"name": "http", "containerPort": GATEWAY_PORT}],
                                "env": env,
                                "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
                                "readinessProbe": {**probe, "httpGet": {"path": "/health/readiness", "port": GATEWAY_PORT}},
                                "livenessProbe": probe,
                                "volumeMounts": [{"name": "config", "mountPath": "/etc/litellm", "readOnly": True}],
                                "securityContext": {"allowPrivilegeEscalation": False},
                            }
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": config.metadata["name"]}}],
                        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": app}}],
                    },
                },
            },
            opts=child,
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata("litellm", args.tags, namespace=args.namespace, labels=app, annotations=args.load_balancer_annotations),
            spec={
                "type": "LoadBalancer",
                "selector": app,
                "ports": [{"name": "http", "port": GATEWAY_PORT, "targetPort": GATEWAY_PORT}],
                "loadBalancerSourceRanges": list(args.allowed_cidrs),
            },
            opts=child,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb", metadata=metadata("litellm", args.tags, namespace=args.namespace, labels=app), spec={"minAvailable": 1, "selector": {"matchLabels": app}}, opts=child
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
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "vllm"}},
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
