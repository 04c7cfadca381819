"""Tag rules every resource follows, and how Kubernetes objects carry them. Which values a stack
gives them is decided in stacks/context.py (`platform_tags`); components never read the config."""

from __future__ import annotations

import re

REQUIRED_TAG_KEYS = ("cost-center", "owner", "phase", "data-residency")


_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]")


def kubernetes_labels(tags: dict[str, str]) -> dict[str, str]:
    """Tags as Kubernetes labels: values limited to 63 alphanumerics, '-', '_' or '.'.

    An e-mail owner cannot be a label value ('@' is not allowed); it is kept intact in the
    annotations from `kubernetes_annotations` and carried here with '@' replaced by '_at_'.
    """
    labels = {}
    for key, value in tags.items():
        safe = _LABEL_VALUE.sub("-", value.replace("@", "_at_"))[:63].strip("-_.")
        labels[f"llm-platform.io/{key}"] = safe or "unset"
    return labels


def kubernetes_annotations(tags: dict[str, str]) -> dict[str, str]:
    return {f"llm-platform.io/{key}": value for key, value in tags.items()}
