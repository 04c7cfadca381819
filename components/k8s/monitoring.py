"""Metrics on the cluster: an in-cluster Prometheus and Grafana (kube-prometheus-stack, pinned)
scraping vLLM, the DCGM exporter and LiteLLM, the Prometheus KEDA scales from, and a Grafana
dashboard (GPU utilisation, queue depth, tokens/s, TTFT, cost per upstream) as a ConfigMap.

In-cluster rather than Amazon Managed Service for Prometheus / Azure Monitor managed Prometheus:
neither is offered in every region the profiles allow (AMP is not listed for the aws-cn regions,
Azure Monitor managed Prometheus not for the Azure China cloud), and KEDA needs a Prometheus in
any case. Grafana has a ClusterIP Service only (`kubectl port-forward`), never a load balancer."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_kubernetes as k8s

from components.k8s.autoscaling import (
    GATEWAY_REQUESTS,
    VLLM_REQUESTS_RUNNING,
    VLLM_REQUESTS_WAITING,
    PinnedChart,
    image_values,
    pinned_release,
)
from components.k8s.meta import metadata
from components.mirrors import Mirrors
from policies.llm_guard.sources import GRAFANA_ANALYTICS_OFF

# prometheus-community/helm-charts charts/kube-prometheus-stack Chart.yaml version 88.5.3
# (appVersion v0.93.1, grafana subchart 12.11.1), values.yaml read at
# ea930baeebeba39f56d6b44e351f23b2a072a600, 2026-11-30: CRDs installed (crds.enabled),
# ServiceMonitors outside the release's labels are selected only with
# *SelectorNilUsesHelmValues: false, the Prometheus Service is <fullname>-prometheus:9090, and
# grafana.adminPassword is unset, so the grafana chart (grafana-community/helm-charts
# grafana-12.11.1 templates/_helpers.tpl "grafana.password") generates a random 40-character
# admin password into its Secret and keeps it across upgrades (never in Pulumi state).
# Images, each under its own {registry, repository, tag} (the chart's global.imageRegistry would
# put every upstream registry under one mirror path, and the mirror keeps them apart):
PROMETHEUS_STACK_CHART: Final = PinnedChart("kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts", "88.5.3")
PROMETHEUS_STACK_IMAGES: Final[Mapping[str, str]] = {
    # value path -> upstream image (kube-prometheus-stack 88.5.3 values.yaml; the operator and
    # reloader default to the chart's appVersion; grafana chart 12.11.1 values.yaml, appVersion 13.2.0)
    "prometheusOperator.image": "quay.io/prometheus-operator/prometheus-operator:v0.93.1",
    "prometheusOperator.prometheusConfigReloader.image": "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1",
    "prometheusOperator.admissionWebhooks.patch.image": "ghcr.io/jkroepke/kube-webhook-certgen:1.8.7",
    "prometheus.prometheusSpec.image": "quay.io/prometheus/prometheus:v3.14.0-distroless",
    "grafana.image": "docker.io/grafana/grafana:13.2.0",
    "grafana.sidecar.image": "quay.io/kiwigrid/k8s-sidecar:2.10.1",
}
MONITORING_NAMESPACE: Final = "monitoring"
RELEASE_FULLNAME: Final = "kps"
PROMETHEUS_PORT: Final = 9090
PROMETHEUS_URL: Final = f"http://{RELEASE_FULLNAME}-prometheus.{MONITORING_NAMESPACE}.svc.cluster.local:{PROMETHEUS_PORT}"
MONITORING_API: Final = "monitoring.coreos.com/v1"
# node-exporter (host network, PID namespace and filesystem) is not installed: `baseline` holds.
MONITORING_POD_SECURITY: Final = {"pod-security.kubernetes.io/enforce": "baseline"}
RETENTION: Final = "15d"
# Metrics live on the Prometheus pod's node disk (emptyDir): no CSI driver or storage class is
# assumed on either cluster; a rescheduled Prometheus starts empty (see README).
RETENTION_SIZE: Final = "20GB"
# LiteLLM serves /metrics only with its prometheus callback (free in 1.108.6: litellm/
# integrations/prometheus.py has no premium check; proxy_cli.py creates PROMETHEUS_MULTIPROC_DIR
# itself when --num_workers > 1, so every worker's samples are served).
LITELLM_METRICS_SETTINGS: Final[Mapping[str, Any]] = {"callbacks": ["prometheus"]}


@dataclass(frozen=True)
class ScrapeTarget:
    """A ServiceMonitor: Services in `namespace` labelled `selector`, scraped on the named port."""

    name: str
    namespace: str
    selector: Mapping[str, str]
    port: str  # the Service port's name
    path: str = "/metrics"
    # (Secret, key) in the target's namespace holding a bearer token for the scrape: the
    # ServiceMonitor's `authorization.credentials` selects a Secret in ITS namespace
    # (monitoring.coreos.com/v1 schema, kube-prometheus-stack 88.5.3 CRD, tests/fixtures), and
    # the operator copies it into Prometheus's scrape config (its ClusterRole has configmaps and
    # secrets '*': kube-prometheus-stack templates/prometheus-operator/clusterrole.yaml @0887d13,
    # read 2026-11-30).
    bearer_secret: tuple[str, str] | None = None

    def endpoint(self) -> dict[str, Any]:
        endpoint: dict[str, Any] = {"port": self.port, "path": self.path, "interval": "15s"}
        if self.bearer_secret is not None:
            name, key = self.bearer_secret
            endpoint["authorization"] = {"type": "Bearer", "credentials": {"name": name, "key": key}}
        return endpoint


# dcgm-exporter chart 3.4.2: release "dcgm-exporter" (components/k8s/addons.py) -> Service
# "dcgm-exporter" labelled app.kubernetes.io/name: dcgm-exporter, port "metrics" 9400
# (NVIDIA/dcgm-exporter deployment/templates/service.yaml, _helpers.tpl @3.3.6-3.4.2).
DCGM_TARGET: Final = ScrapeTarget("dcgm-exporter", "gpu-monitoring", {"app.kubernetes.io/name": "dcgm-exporter"}, "metrics")

# --------------------------------------------------------------------------- the dashboard

# (title, PromQL, Grafana unit). Metric names: vLLM (components.k8s.autoscaling), DCGM's
# dcp-metrics-included.csv @3.3.6-3.4.2 (the chart's default -f), LiteLLM 1.108.6
# litellm/types/integrations/prometheus.py (counters end in _total on the wire).
DASHBOARD_PANELS: Final[tuple[tuple[str, str, str], ...]] = (
    ("GPU utilisation", "avg by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL)", "percent"),
    ("GPU memory used", "sum by (Hostname, gpu) (DCGM_FI_DEV_FB_USED)", "decmbytes"),
    ("Queue depth (requests waiting)", f"sum by (model_name) ({VLLM_REQUESTS_WAITING})", "short"),
    ("Requests running", f"sum by (model_name) ({VLLM_REQUESTS_RUNNING})", "short"),
    ("KV cache usage", "avg by (model_name) (vllm:kv_cache_usage_perc)", "percentunit"),
    ("Generated tokens/s", "sum by (model_name) (rate(vllm:generation_tokens_total[5m]))", "short"),
    ("Prompt tokens/s", "sum by (model_name) (rate(vllm:prompt_tokens_total[5m]))", "short"),
    ("TTFT p50", "histogram_quantile(0.5, sum by (le, model_name) (rate(vllm:time_to_first_token_seconds_bucket[5m])))", "s"),
    ("TTFT p95", "histogram_quantile(0.95, sum by (le, model_name) (rate(vllm:time_to_first_token_seconds_bucket[5m])))", "s"),
    ("Gateway requests/s by route", f"sum by (requested_model) (rate({GATEWAY_REQUESTS}[5m]))", "reqps"),
    ("Cost per upstream (per hour)", "sum by (model, api_provider) (increase(litellm_spend_metric_total[1h]))", "currencyUSD"),
    ("Gateway TTFT p95 by upstream", "histogram_quantile(0.95, sum by (le, model) (rate(litellm_llm_api_time_to_first_token_metric_bucket[5m])))", "s"),
)


def dashboard_json() -> str:
    panels = [
        {
            "id": i + 1,
            "type": "timeseries",
            "title": title,
            "datasource": {"type": "prometheus", "uid": "prometheus"},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
            "targets": [{"refId": "A", "expr": expr, "datasource": {"type": "prometheus", "uid": "prometheus"}}],
        }
        for i, (title, expr, unit) in enumerate(DASHBOARD_PANELS)
    ]
    return json.dumps({"uid": "llm-platform", "title": "LLM platform", "schemaVersion": 39, "time": {"from": "now-6h", "to": "now"}, "panels": panels}, indent=1)


# --------------------------------------------------------------------------- the component


@dataclass
class MonitoringArgs:
    targets: Sequence[ScrapeTarget]
    tags: Mapping[str, str]
    mirrors: Mirrors | None = None
    # What creates the targets' namespaces: a ServiceMonitor is namespaced.
    after: Sequence[pulumi.Resource] = ()


def _nested(dotted: str, value: Any) -> dict[str, Any]:
    head, _, rest = dotted.partition(".")
    return {head: _nested(rest, value) if rest else value}


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        base[key] = _merge(dict(base.get(key) or {}), value) if isinstance(value, Mapping) else value
    return base


def prometheus_stack_values(mirrors: Mirrors | None) -> dict[str, Any]:
    off = {"enabled": False}
    values: dict[str, Any] = {
        "fullnameOverride": RELEASE_FULLNAME,
        "crds": {"enabled": True},
        # The platform's dashboard needs neither; both add host-level or cluster-wide images and
        # node-exporter a privileged namespace. Their default rules and dashboards go with them.
        "nodeExporter": off,
        "kubeStateMetrics": off,
        "defaultRules": {"create": False},
        # Managed control planes: etcd, the controller manager, the scheduler (and kube-proxy
        # under Cilium on AKS) cannot be scraped from the nodes; their targets would stay down.
        "kubeEtcd": off,
        "kubeControllerManager": off,
        "kubeScheduler": off,
        "kubeProxy": off,
        # Budget alerts are the gateway's (and the cloud budget's); no Alertmanager receivers here.
        "alertmanager": off,
        "prometheus": {
            "prometheusSpec": {
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "retention": RETENTION,
                "retentionSize": RETENTION_SIZE,
                "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "4Gi"}},
            }
        },
        "grafana": {
            "enabled": True,
            "defaultDashboardsEnabled": False,
            "service": {"type": "ClusterIP"},
            "ingress": off,
            "testFramework": off,  # a `helm test` pod (docker.io/bats/bats) nobody runs
            "sidecar": {"dashboards": {"enabled": True, "label": "grafana_dashboard", "labelValue": "1", "searchNamespace": "ALL"}},
            # No calls home: update checks (grafana.com, on by default) and usage reporting
            # (stats.grafana.org). Grafana docs "Configure Grafana" [analytics] reporting_enabled,
            # check_for_updates, check_for_plugin_updates; merged into the chart's grafana.ini.
            "grafana.ini": {"analytics": dict(GRAFANA_ANALYTICS_OFF)},
        },
    }
    for path, ref in PROMETHEUS_STACK_IMAGES.items():
        _merge(values, _nested(path, image_values(ref, mirrors)))
    return values


class Monitoring(pulumi.ComponentResource):
    """kube-prometheus-stack, a ServiceMonitor per scrape target and the platform dashboard."""

    release: k8s.helm.v3.Release
    prometheus_url: str = PROMETHEUS_URL

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:k8s:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata=metadata(MONITORING_NAMESPACE, args.tags, labels=MONITORING_POD_SECURITY), opts=child)
        self.release = pinned_release(
            f"{name}-prometheus-stack",
            PROMETHEUS_STACK_CHART,
            namespace.metadata["name"],
            prometheus_stack_values(args.mirrors),
            args.mirrors,
            pulumi.ResourceOptions(parent=self),
        )
        # The ServiceMonitor CRD comes with the release.
        after_crds = pulumi.ResourceOptions(parent=self, depends_on=[self.release, *args.after])
        for target in args.targets:
            k8s.apiextensions.CustomResource(
                f"{name}-{target.name}",
                api_version=MONITORING_API,
                kind="ServiceMonitor",
                metadata=metadata(target.name, args.tags, namespace=target.namespace),
                spec={
                    "selector": {"matchLabels": dict(target.selector)},
                    "namespaceSelector": {"matchNames": [target.namespace]},
                    "endpoints": [target.endpoint()],
                },
                opts=after_crds,
            )
        k8s.core.v1.ConfigMap(
            f"{name}-dashboard",
            metadata=metadata("llm-platform-dashboard", args.tags, namespace=namespace.metadata["name"], labels={"grafana_dashboard": "1"}),
            data={"llm-platform.json": dashboard_json()},
            opts=child,
        )
        self.register_outputs({})


def allow_scraping(name: str, namespace: pulumi.Input[str], pod_selector: Mapping[str, str], port: int, tags: Mapping[str, str], opts: pulumi.ResourceOptions) -> k8s.networking.v1.NetworkPolicy:
    """Admit Prometheus (the monitoring namespace) to a namespace whose ingress is restricted."""
    return k8s.networking.v1.NetworkPolicy(
        name,
        metadata=metadata("allow-from-monitoring", tags, namespace=namespace),
        spec={
            "podSelector": {"matchLabels": dict(pod_selector)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}}}],
                    "ports": [{"protocol": "TCP", "port": port}],
                }
            ],
        },
        opts=opts,
    )
