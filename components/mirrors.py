"""Where the platform pulls what it runs from: container images, Helm charts, Python packages
(Dify plugins) and model weights. One place decides the reference every component uses, so a
stack can point all of them at mirrors inside its residency profile (mainland China: registries
and hubs outside the country are blocked or unreliable).

Components call `mirrored_image` and `chart_source` with the upstream reference; they never
build a registry host themselves.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mirrors:
    """The `llm-platform:mirrors` section, as components see it (None = the upstream source)."""

    image_registry: str | None = None  # host[/path] serving every image under its upstream path
    helm_repository: str | None = None  # oci://host/path serving every chart under its name
    python_index: str | None = None  # PyPI-compatible index URL for Dify plugin packages
    model_source: str | None = None  # huggingface | modelscope | https://<hf mirror> | s3://... | https://<blob>


# Registries whose host is implied in a short reference ("vllm/vllm-openai:v1" is docker.io's).
DEFAULT_REGISTRY = "docker.io"


def split_image(ref: str) -> tuple[str, str]:
    """("docker.io", "vllm/vllm-openai:v0.18.0") for "vllm/vllm-openai:v0.18.0"; the registry
    host is the first path part when it looks like a host (has a dot or a port, or is localhost)."""
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DEFAULT_REGISTRY, ref if "/" in ref else f"library/{ref}"


def mirrored_image(ref: str, mirrors: Mirrors | None) -> str:
    """The image reference to pull: with an image registry mirror, the upstream path is kept under
    the mirror and the upstream host dropped (the layout of ECR pull-through caches and of
    `skopeo copy`/`crane copy` into a registry)."""
    if mirrors is None or not mirrors.image_registry:
        return ref
    _, path = split_image(ref)
    return f"{mirrors.image_registry.rstrip('/')}/{path}"


def chart_source(chart: str, repository: str, mirrors: Mirrors | None) -> tuple[str, str | None]:
    """(chart, repository) for a Helm release: an OCI mirror takes the chart as `oci://.../chart`
    with no repository; otherwise the upstream repository."""
    if mirrors is None or not mirrors.helm_repository:
        return chart, repository
    return f"{mirrors.helm_repository.rstrip('/')}/{chart}", None
