"""Object metadata for everything the platform puts on a cluster: the cost tags as labels
(label-safe values) and as annotations (exact values, e.g. an e-mail owner)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.tags import kubernetes_annotations, kubernetes_labels

PART_OF = {"app.kubernetes.io/part-of": "llm-platform", "app.kubernetes.io/managed-by": "pulumi"}


def metadata(name: str, tags: Mapping[str, str], namespace: str | None = None, labels: Mapping[str, str] | None = None, annotations: Mapping[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "labels": {**kubernetes_labels(dict(tags)), **PART_OF, **dict(labels or {})},
        "annotations": {**kubernetes_annotations(dict(tags)), **dict(annotations or {})},
    }
    if namespace:
        meta["namespace"] = namespace
    return meta


def pod_labels(tags: Mapping[str, str], labels: Mapping[str, str]) -> dict[str, str]:
    return {**kubernetes_labels(dict(tags)), **PART_OF, **dict(labels)}
