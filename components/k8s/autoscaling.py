"""Scaling what matters: vLLM replicas follow their queue and batch (KEDA ScaledObjects on
vLLM's own Prometheus metrics: requests waiting, requests running) instead of CPU, and may rest at zero replicas while the gateway serves their
routes from the fallbacks. The GPU node pools follow the pods: a replica that KEDA adds and no
node can hold stays Pending, and the Cluster Autoscaler (EKS) / AKS node autoscaler adds a GPU
node for it; an empty GPU node is removed again after the autoscaler's scale-down delay."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_kubernetes as k8s

from components.k8s.addons import repository_opts
from components.k8s.meta import metadata
from components.mirrors import Mirrors, chart_origin, chart_source, mirrored_image, split_image


@dataclass(frozen=True)
class PinnedChart:
    chart: str
    repository: str
    version: str


# kedacore/charts keda/Chart.yaml version 2.20.2 (appVersion 2.20.2), values.yaml read at
# 1444d00d90d7668cf7f53f270777d039371d90d0 (2026-08-13), read 2026-11-30: CRDs installed by the
# chart (crds.install: true), images ghcr.io/kedacore/{keda,keda-metrics-apiserver,
# keda-admission-webhooks} under image.<component>.{registry,repository,tag}.
KEDA_CHART: Final = PinnedChart("keda", "https://kedacore.github.io/charts", "2.20.2")
KEDA_NAMESPACE: Final = "keda"
KEDA_API: Final = "keda.sh/v1alpha1"
KEDA_IMAGES: Final[Mapping[str, str]] = {
    "keda": f"ghcr.io/kedacore/keda:{KEDA_CHART.version}",
    "metricsApiServer": f"ghcr.io/kedacore/keda-metrics-apiserver:{KEDA_CHART.version}",
    "webhooks": f"ghcr.io/kedacore/keda-admission-webhooks:{KEDA_CHART.version}",
}
# KEDA's validating webhook refuses a ScaledObject for a workload another HPA scales unless the
# ScaledObject takes that HPA over by name (kedacore/keda apis/keda/v1alpha1/
# scaledobject_webhook.go verifyHpas, ScaledObjectTransferHpaOwnershipAnnotation): a stack that
# ran the former CPU HPA (named like the Deployment) upgrades in one `pulumi up`.
TRANSFER_HPA_OWNERSHIP: Final = "scaledobject.keda.sh/transfer-hpa-ownership"

# vLLM's Prometheus names (vllm/v1/metrics/loggers.py PrometheusStatLogger; labels model_name =
# --served-model-name, engine). Unchanged from vllm-project/vllm @005a810 (v0.10 line) to the
# v0.32.0 docs (docs.vllm.ai/en/v0.32.0/usage/metrics), so the pinned v0.18.0 has them; read
# 2026-11-30. Counters carry the `_total` suffix on the wire.
VLLM_REQUESTS_WAITING: Final = "vllm:num_requests_waiting"
VLLM_REQUESTS_RUNNING: Final = "vllm:num_requests_running"
# Requests waiting per replica the autoscaler aims at: vLLM queues only when its batch (max
# running sequences or KV cache) is full, so a standing queue means the replicas are saturated.
QUEUE_TARGET_PER_REPLICA: Final = 2
# LiteLLM 1.108.6 counts every client request by the public name asked for (requested_model) in
# litellm_proxy_total_requests_metric (litellm/types/integrations/prometheus.py), whichever
# upstream served it: the signal that wakes a model resting at zero while its fallbacks serve.
GATEWAY_REQUESTS: Final = "litellm_proxy_total_requests_metric_total"
POLLING_SECONDS: Final = 15
SCALE_DOWN_STABILIZATION_SECONDS: Final = 600  # a replica is expensive to bring back: no flapping
# With minReplicas 0: quiet minutes before KEDA stops the last replica.
IDLE_BEFORE_ZERO_SECONDS: Final = 1800


def pinned_release(
    name: str,
    pinned: PinnedChart,
    namespace: pulumi.Input[str],
    values: Mapping[str, Any],
    mirrors: Mirrors | None,
    opts: pulumi.ResourceOptions,
    create_namespace: bool = False,
) -> k8s.helm.v3.Release:
    """A Helm release of a pinned chart, from the stack's chart mirror when it has one."""
    source = chart_source(pinned.chart, pinned.repository, mirrors)
    return k8s.helm.v3.Release(
        name,
        name=pinned.chart,
        chart=source.chart,
        version=pinned.version,
        description=chart_origin(pinned.chart, pinned.version, pinned.repository),
        repository_opts=repository_opts(source),
        namespace=namespace,
        create_namespace=create_namespace,
        atomic=True,
        cleanup_on_fail=True,
        values=dict(values),
        opts=opts,
    )


def image_values(upstream_ref: str, mirrors: Mirrors | None) -> dict[str, str]:
    """{registry, repository, tag} chart values for an image, mirrored like every other image."""
    reference = mirrored_image(upstream_ref, mirrors)
    _, path = split_image(upstream_ref)
    repository, _, tag = path.rpartition(":")
    return {"registry": reference[: -len(path) - 1], "repository": repository, "tag": tag}


class Keda(pulumi.ComponentResource):
    """The KEDA operator, its metrics API server and admission webhooks, with its CRDs."""

    release: k8s.helm.v3.Release

    def __init__(self, name: str, mirrors: Mirrors | None, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:k8s:Keda", name, None, opts)
        values = {
            "crds": {"install": True},
            "image": {component: image_values(ref, mirrors) for component, ref in KEDA_IMAGES.items()},
        }
        self.release = pinned_release(f"{name}-release", KEDA_CHART, KEDA_NAMESPACE, values, mirrors, pulumi.ResourceOptions(parent=self), create_namespace=True)
        self.register_outputs({})


@dataclass
class QueueScalerArgs:
    model: str  # --served-model-name: vLLM's model_name label
    deployment_name: str
    namespace: str
    min_replicas: int
    max_replicas: int
    prometheus_url: str
    tags: Mapping[str, str]
    # Requests in the batch per replica the autoscaler aims at: vLLM keeps admitting sequences
    # (up to max_num_seqs, 256) while latency grows, so the batch, not only the queue, must scale.
    running_target: int = 24
    # Public names (routes) that serve this model: their gateway traffic wakes it from zero.
    routes: Sequence[str] = ()
    # The KEDA release (the ScaledObject CRD and the webhook) and the namespace: a component's
    # depends_on does not reach its children, so the ScaledObject names them itself.
    after: Sequence[pulumi.Resource] = ()


def queue_depth_query(model: str, namespace: str) -> str:
    return f'sum({VLLM_REQUESTS_WAITING}{{namespace="{namespace}",model_name="{model}"}})'


def running_query(model: str, namespace: str) -> str:
    return f'sum({VLLM_REQUESTS_RUNNING}{{namespace="{namespace}",model_name="{model}"}})'


def gateway_demand_query(routes: Sequence[str]) -> str:
    alternatives = "|".join(sorted(routes))
    return f'sum(rate({GATEWAY_REQUESTS}{{requested_model=~"{alternatives}"}}[2m]))'


def scaled_object_spec(args: QueueScalerArgs) -> dict[str, Any]:
    triggers: list[dict[str, Any]] = [
        {
            "type": "prometheus",
            "name": "queue-depth",
            # AverageValue (the default): the HPA divides the queue by the replicas it has.
            "metadata": {
                "serverAddress": args.prometheus_url,
                "query": queue_depth_query(args.model, args.namespace),
                "threshold": str(QUEUE_TARGET_PER_REPLICA),
                # A replica that is not scraped yet (or none at all) reads as an empty queue.
                "ignoreNullValues": "true",
            },
        },
        {
            "type": "prometheus",
            "name": "batch-size",
            "metadata": {
                "serverAddress": args.prometheus_url,
                "query": running_query(args.model, args.namespace),
                "threshold": str(args.running_target),
                "ignoreNullValues": "true",
            },
        },
    ]
    if args.min_replicas == 0:
        # At zero no vLLM series exist: the gateway's traffic for the model's routes activates
        # it (any request above 0/s), and with a huge target it never asks for more than one
        # replica; the queue drives the rest.
        triggers.append(
            {
                "type": "prometheus",
                "name": "gateway-demand",
                "metadata": {
                    "serverAddress": args.prometheus_url,
                    "query": gateway_demand_query(args.routes),
                    "threshold": "1000000",
                    "activationThreshold": "0",
                    "ignoreNullValues": "true",
                },
            }
        )
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": args.deployment_name},
        "minReplicaCount": args.min_replicas,
        "maxReplicaCount": args.max_replicas,
        "pollingInterval": POLLING_SECONDS,
        "advanced": {
            "horizontalPodAutoscalerConfig": {
                "name": args.deployment_name,
                "behavior": {
                    # One GPU replica at a time: each takes minutes to load and may need a node.
                    "scaleUp": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}]},
                    "scaleDown": {"stabilizationWindowSeconds": SCALE_DOWN_STABILIZATION_SECONDS, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 300}]},
                },
            }
        },
        "triggers": triggers,
    }
    if args.min_replicas == 0:
        spec["cooldownPeriod"] = IDLE_BEFORE_ZERO_SECONDS
    return spec


class QueueScaler(pulumi.ComponentResource):
    """A KEDA ScaledObject for one model server: replicas between the configured bounds on its
    queue depth, from zero on gateway demand when minReplicas is 0."""

    def __init__(self, name: str, args: QueueScalerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:k8s:QueueScaler", name, None, opts)
        k8s.apiextensions.CustomResource(
            f"{name}-scaledobject",
            api_version=KEDA_API,
            kind="ScaledObject",
            metadata=metadata(args.deployment_name, args.tags, namespace=args.namespace, annotations={TRANSFER_HPA_OWNERSHIP: "true"}),
            spec=scaled_object_spec(args),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
        )
        self.register_outputs({})
