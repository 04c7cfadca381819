"""Cluster add-ons the platform needs: NVIDIA device plugin and DCGM exporter on GPU nodes,
External Secrets (cloud secret store -> Kubernetes Secrets), and, on EKS, the Cluster Autoscaler.
Chart versions are pinned."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.k8s.gpu import GPU
from components.k8s.meta import metadata
from components.mirrors import ChartSource, Mirrors, chart_origin, chart_source, mirrored_image

CHARTS: Mapping[str, tuple[str, str]] = {
    # chart -> (repository, version)
    "nvidia-device-plugin": ("https://nvidia.github.io/k8s-device-plugin", "0.17.1"),
    "dcgm-exporter": ("https://nvidia.github.io/dcgm-exporter/helm-charts", "3.4.2"),
    "external-secrets": ("https://charts.external-secrets.io", "2.6.0"),
    "cluster-autoscaler": ("https://kubernetes.github.io/autoscaler", "9.59.0"),
}
# The images each pinned chart runs: values path of an {repository, tag} block -> full upstream
# reference. Set explicitly (not left to chart defaults) so the plan names every image a cluster
# pulls and a mirror can serve them. Read from the charts at the pinned versions (2026-11-30):
# NVIDIA/k8s-device-plugin deployments/helm/nvidia-device-plugin/values.yaml @v0.17.1 (tag
# defaults to v<appVersion>); NVIDIA/dcgm-exporter deployment/values.yaml @3.3.6-3.4.2;
# external-secrets deploy/charts/external-secrets/values.yaml @helm-chart-2.6.0 (image,
# webhook.image, certController.image; tag defaults to appVersion v2.6.0; the bitwarden
# subchart is off by default); kubernetes/autoscaler charts/cluster-autoscaler/values.yaml (image).
CHART_IMAGES: Mapping[str, Mapping[str, str]] = {
    "nvidia-device-plugin": {"image": "nvcr.io/nvidia/k8s-device-plugin:v0.17.1"},
    "dcgm-exporter": {"image": "nvcr.io/nvidia/k8s/dcgm-exporter:3.3.6-3.4.2-ubuntu22.04"},
    "external-secrets": {
        "image": "ghcr.io/external-secrets/external-secrets:v2.6.0",
        "webhook.image": "ghcr.io/external-secrets/external-secrets:v2.6.0",
        "certController.image": "ghcr.io/external-secrets/external-secrets:v2.6.0",
    },
}
AUTOSCALER_IMAGE = "registry.k8s.io/autoscaling/cluster-autoscaler"
ESO_API = "external-secrets.io/v1"


def image_values(images: Mapping[str, str], mirrors: Mirrors | None) -> dict[str, Any]:
    """{"webhook": {"image": {"repository": ..., "tag": ...}}, ...} for chart values."""
    values: dict[str, Any] = {}
    for path, ref in images.items():
        repository, _, tag = mirrored_image(ref, mirrors).rpartition(":")
        node = values
        for part in path.split("."):
            node = node.setdefault(part, {})
        node.update({"repository": repository, "tag": tag})
    return values


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping) else value
    return merged


def repository_opts(source: ChartSource) -> k8s.helm.v3.RepositoryOptsArgs | None:
    """Where Helm fetches the chart: a classic repository URL, or for an OCI mirror the login
    (the chart is already oci://...; the provider logs in to its host with these credentials)."""
    if source.repository:
        return k8s.helm.v3.RepositoryOptsArgs(repo=source.repository)
    if source.login is not None:
        return k8s.helm.v3.RepositoryOptsArgs(username=source.login.username, password=pulumi.Output.secret(source.login.password))
    return None


def _release(
    name: str,
    chart: str,
    namespace: pulumi.Input[str],
    values: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    create_namespace: bool = True,
    mirrors: Mirrors | None = None,
    images: Mapping[str, str] | None = None,
) -> k8s.helm.v3.Release:
    repo, version = CHARTS[chart]
    source = chart_source(chart, repo, mirrors)
    return k8s.helm.v3.Release(
        name,
        name=chart,
        chart=source.chart,
        version=version,
        description=chart_origin(chart, version, repo),
        repository_opts=repository_opts(source),
        namespace=namespace,
        create_namespace=create_namespace,
        atomic=True,
        cleanup_on_fail=True,
        values=_merge(values, image_values(CHART_IMAGES.get(chart, {}) if images is None else images, mirrors)),
        opts=opts,
    )


def gpu_node_affinity() -> dict[str, Any]:
    """Required node affinity on the platform's GPU label. It replaces the device plugin chart's
    default, which requires Node Feature Discovery labels (feature.node.kubernetes.io/pci-10de.present,
    ...; NVIDIA/k8s-device-plugin deployments/helm/nvidia-device-plugin/values.yaml @v0.17.1) that
    EKS and AKS GPU nodes do not carry: the plugin would never run and no node would advertise
    nvidia.com/gpu. Helm replaces lists, so nodeSelectorTerms below is the only term."""
    term = {"matchExpressions": [{"key": GPU.label_key, "operator": "In", "values": [GPU.label_value]}]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


class GpuSupport(pulumi.ComponentResource):
    """Device plugin and DCGM exporter, scheduled onto GPU nodes only (shared taint and label)."""

    def __init__(self, name: str, tags: Mapping[str, str], opts: pulumi.ResourceOptions | None = None, mirrors: Mirrors | None = None) -> None:
        super().__init__("llm-platform:k8s:GpuSupport", name, None, opts)
        # dcgm-exporter 3.4.2 defaults to no affinity (NVIDIA/dcgm-exporter deployment/values.yaml
        # @3.3.6-3.4.2); both charts get the same placement so neither depends on a chart default.
        on_gpu_nodes = {"tolerations": [GPU.toleration], "nodeSelector": GPU.node_selector, "affinity": gpu_node_affinity()}
        child = pulumi.ResourceOptions(parent=self)
        _release(f"{name}-device-plugin", "nvidia-device-plugin", "kube-system", {**on_gpu_nodes, "gfd": {"enabled": False}}, child, create_namespace=False, mirrors=mirrors)
        # The exporter needs hostPath and SYS_ADMIN (chart 3.4.2 securityContext): `privileged`.
        privileged = {"pod-security.kubernetes.io/enforce": "privileged"}
        namespace = k8s.core.v1.Namespace(f"{name}-monitoring", metadata=metadata("gpu-monitoring", tags, labels=privileged), opts=child)
        _release(f"{name}-dcgm-exporter", "dcgm-exporter", namespace.metadata["name"], {**on_gpu_nodes, "serviceMonitor": {"enabled": False}}, child, create_namespace=False, mirrors=mirrors)
        self.register_outputs({})


@dataclass
class SecretSyncArgs:
    """Copies cloud secrets into Kubernetes Secrets; nothing secret is written by Pulumi itself."""

    provider_spec: Mapping[str, Any]  # the ClusterSecretStore provider block (aws / azurekv)
    service_account_annotations: Mapping[str, str]
    pod_labels: Mapping[str, str]
    # Kubernetes secret -> (namespace, {key in the Secret: remote secret name})
    secrets: Mapping[str, tuple[str, Mapping[str, str]]]
    namespaces: Sequence[pulumi.Resource]
    tags: Mapping[str, str]
    # What gives the operator's service account its cloud identity (EKS Pod Identity association,
    # AKS federated credential): the operator's pods must start after it exists.
    identity: Sequence[pulumi.Resource] = ()
    mirrors: Mirrors | None = None  # image registry and chart repository (llm-platform:mirrors)


class SecretSync(pulumi.ComponentResource):
    SERVICE_ACCOUNT = "external-secrets"
    NAMESPACE = "external-secrets"

    def __init__(self, name: str, args: SecretSyncArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:k8s:SecretSync", name, None, opts)
        release = _release(
            f"{name}-operator",
            "external-secrets",
            self.NAMESPACE,
            {
                "installCRDs": True,
                "serviceAccount": {"create": True, "name": self.SERVICE_ACCOUNT, "annotations": dict(args.service_account_annotations)},
                "podLabels": dict(args.pod_labels),
            },
            pulumi.ResourceOptions(parent=self, depends_on=list(args.identity)),
            mirrors=args.mirrors,
        )
        store = k8s.apiextensions.CustomResource(
            f"{name}-store",
            api_version=ESO_API,
            kind="ClusterSecretStore",
            metadata=metadata("cloud-secrets", args.tags),
            spec={"provider": dict(args.provider_spec)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[release]),
        )
        for secret_name, (namespace, keys) in sorted(args.secrets.items()):
            k8s.apiextensions.CustomResource(
                f"{name}-{secret_name}",
                api_version=ESO_API,
                kind="ExternalSecret",
                metadata=metadata(secret_name, args.tags, namespace=namespace),
                spec={
                    "refreshInterval": "1h",
                    "secretStoreRef": {"kind": "ClusterSecretStore", "name": "cloud-secrets"},
                    "target": {"name": secret_name, "creationPolicy": "Owner"},
                    "data": [{"secretKey": k, "remoteRef": {"key": remote}} for k, remote in sorted(keys.items())],
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[store, *args.namespaces]),
            )
        self.register_outputs({})


def cluster_autoscaler(
    name: str, cluster_name: pulumi.Input[str], region: str, kubernetes_version: str, service_account: str, opts: pulumi.ResourceOptions, mirrors: Mirrors | None = None
) -> k8s.helm.v3.Release:
    """EKS managed node groups tag their Auto Scaling groups for auto-discovery; with
    eks:DescribeNodegroup the autoscaler scales GPU pools from zero too."""
    return _release(
        name,
        "cluster-autoscaler",
        "kube-system",
        {
            "autoDiscovery": {"clusterName": cluster_name},
            "awsRegion": region,
            "rbac": {"serviceAccount": {"create": True, "name": service_account}},
            "extraArgs": {"balance-similar-node-groups": True, "skip-nodes-with-local-storage": False, "expander": "least-waste"},
        },
        opts,
        create_namespace=False,
        mirrors=mirrors,
        images={"image": f"{AUTOSCALER_IMAGE}:v{kubernetes_version}.0"},
    )
