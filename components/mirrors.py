"""Where the platform pulls what it runs from: container images, Helm charts, Python packages
(Dify plugins) and model weights. One place decides the reference every component uses, so a
stack can point all of them at mirrors inside its residency profile (mainland China: registries
and hubs outside the country are blocked or unreliable).

Components call `mirrored_image` with the FULL upstream reference (host included) and
`chart_source` with the upstream chart; they never build a registry host themselves.

Mirror layout (what `python -m scripts images STACK` copies to, and what the plan pulls):
    <imageRegistry>/<upstream prefix>/<upstream repository path>:<tag>
    <helmRepository>/<chart>:<version>            (an OCI repository: `helm push` puts it there)
The upstream prefix keeps distinct registries apart (docker.io/x/y and ghcr.io/x/y are different
images). Its names are the namespaces Amazon ECR's console proposes for pull-through cache rules
(docker-hub, ghcr, k8s, quay, ecr-public; docs.aws.amazon.com/AmazonECR/latest/userguide/
pull-through-cache-creating-rule.html, read 2026-11-30), so a registry that is a pull-through
cache in the global partition serves the same paths; other hosts use their own name.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from policies.llm_guard.sources import DIFY_MARKETPLACE


@dataclass(frozen=True)
class Mirrors:
    """The `llm-platform:mirrors` section, as components see it (None = the upstream source)."""

    image_registry: str | None = None  # host[/path] serving every image under its upstream prefix
    helm_repository: str | None = None  # oci://host/path serving every chart under its name
    python_index: str | None = None  # PyPI-compatible index URL for Dify plugin packages
    model_source: str | None = None  # huggingface | modelscope | https://<hf mirror> | s3://... | https://<blob>
    plugin_marketplace: str | None = None  # a Dify plugin marketplace other than marketplace.dify.ai
    # Credentials Helm logs in to the chart repository with (None: anonymous, or a
    # `helm registry login` done before `pulumi up`, see `ChartLogin`).
    chart_login: ChartLogin | None = None


@dataclass(frozen=True)
class ChartLogin:
    """Username and password (a Pulumi secret) for a private OCI chart repository. The
    pulumi-kubernetes Release logs in with repositoryOpts.username/password when its chart is
    oci://... (provider 4.27.0+, pulumi/pulumi-kubernetes#3661: provider/pkg/provider/
    helm_release.go getChart -> provider/pkg/helm/tool.go NewRegistryClient, read 2026-11-30)."""

    username: str
    password: Any  # pulumi.Input[str], secret


def with_chart_login(mirrors: Mirrors, login: ChartLogin | None) -> Mirrors:
    return replace(mirrors, chart_login=login)


# Registries whose host is implied in a short reference ("vllm/vllm-openai:v1" is docker.io's).
DEFAULT_REGISTRY = "docker.io"
UPSTREAM_PREFIXES = {
    "docker.io": "docker-hub",
    "ghcr.io": "ghcr",
    "registry.k8s.io": "k8s",
    "quay.io": "quay",
    "public.ecr.aws": "ecr-public",
    "nvcr.io": "nvcr",
    "mcr.microsoft.com": "mcr",
}


def split_image(ref: str) -> tuple[str, str]:
    """("docker.io", "vllm/vllm-openai:v0.18.0") for "vllm/vllm-openai:v0.18.0"; the registry
    host is the first path part when it looks like a host (has a dot or a port, or is localhost)."""
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DEFAULT_REGISTRY, ref if "/" in ref else f"library/{ref}"


# Azure Container Registry login servers: <name>.azurecr.io (public cloud), .azurecr.cn (Azure
# China), .azurecr.us (US Government); the name is the registry's, lowercased.
ACR_SUFFIXES = (".azurecr.io", ".azurecr.cn", ".azurecr.us")


def acr_name(reference: str | None) -> str | None:
    """The registry name of an Azure Container Registry image path or oci:// chart repository."""
    host = (reference or "").removeprefix("oci://").split("/", 1)[0]
    return host.split(".", 1)[0] if host.endswith(ACR_SUFFIXES) else None


def upstream_prefix(host: str) -> str:
    """The namespace of an upstream registry under the mirror: a known short name, else the host
    itself (a valid repository path part, and reversible: see `upstream_of`)."""
    return UPSTREAM_PREFIXES.get(host, host.replace(":", "-"))


def full_reference(ref: str) -> str:
    """The reference with its registry host spelled out (docker.io/library/nginx:1 for nginx:1)."""
    host, path = split_image(ref)
    return f"{host}/{path}"


def mirrored_image(ref: str, mirrors: Mirrors | None) -> str:
    """The image reference to pull: the upstream reference, or with an image registry mirror
    `<mirror>/<upstream prefix>/<upstream path>` (see the module docstring)."""
    if mirrors is None or not mirrors.image_registry:
        return ref
    host, path = split_image(ref)
    return f"{mirrors.image_registry.rstrip('/')}/{upstream_prefix(host)}/{path}"


def image_repository(ref_without_tag: str, mirrors: Mirrors | None) -> str:
    """A repository (no tag) for chart values that take `repository` and `tag` apart."""
    return mirrored_image(ref_without_tag, mirrors)


class ChartSource(NamedTuple):
    """What a Helm release installs: `chart` and, for a classic repository, its URL."""

    chart: str  # a chart name, or oci://host/path/<chart> (no repository then)
    repository: str | None
    login: ChartLogin | None = None  # for the OCI mirror


def chart_source(chart: str, repository: str, mirrors: Mirrors | None) -> ChartSource:
    """An OCI mirror takes the chart as `oci://.../<chart>` with no repository (Helm 3.8+ OCI
    support; the pulumi-kubernetes Release passes `chart` to Helm as-is), logged in with the
    mirror's credentials when it has them; otherwise the upstream."""
    if mirrors is None or not mirrors.helm_repository:
        return ChartSource(chart, repository)
    return ChartSource(f"{mirrors.helm_repository.rstrip('/')}/{chart}", None, mirrors.chart_login)


# --------------------------------------------------------------------------- model weights

MODELSCOPE = "modelscope"
HUGGING_FACE = "huggingface"


@dataclass(frozen=True)
class ModelDownload:
    """How a vLLM server gets its weights: the model argument and the environment it needs."""

    model: str  # what `vllm serve` is given
    env: dict[str, str]
    hugging_face: bool  # whether the Hugging Face token applies


def model_download(model_id: str, mirrors: Mirrors | None) -> ModelDownload:
    """vLLM 0.18 reads VLLM_USE_MODELSCOPE (models from ModelScope, same org/name ids for the
    models published there) and the Hugging Face hub's HF_ENDPOINT (an HF-compatible mirror)
    (vllm-project/vllm vllm/envs.py and vllm/transformers_utils/config.py @v0.18.0;
    huggingface_hub constants.py HF_ENDPOINT)."""
    source = mirrors.model_source if mirrors else None
    if source in (None, "", HUGGING_FACE):
        return ModelDownload(model_id, {}, True)
    if source == MODELSCOPE:
        return ModelDownload(model_id, {"VLLM_USE_MODELSCOPE": "True"}, False)
    if source.startswith("https://"):
        return ModelDownload(model_id, {"HF_ENDPOINT": source.rstrip("/")}, True)
    raise ValueError(f"model source {source!r} has no download wiring")


def python_index_env(mirrors: Mirrors | None) -> dict[str, str]:
    """Dify's plugin daemon installs each plugin's requirements with the index in PIP_MIRROR_URL
    (langgenius/dify docker/.env.example and docker-compose.yaml `plugin_daemon`, 1.x;
    langgenius/dify-plugin-daemon internal/types/app/config.go PipMirrorUrl `envconfig:"PIP_MIRROR_URL"`)."""
    if mirrors is None or not mirrors.python_index:
        return {}
    return {"PIP_MIRROR_URL": mirrors.python_index}


def chart_origin(chart: str, version: str, repository: str) -> str:
    """The Helm release description naming the upstream chart (`helm history` shows it), so a
    mirrored release still says where its chart comes from (`python -m scripts images`)."""
    return f"{chart} {version} from {repository}"


def parse_chart_origin(text: str) -> tuple[str, str, str] | None:
    """(chart, version, repository) from `chart_origin` text, or None."""
    parts = text.split(" ")
    if len(parts) == 4 and parts[2] == "from":
        return parts[0], parts[1], parts[3]
    return None


def upstream_of(pulled: str, mirrors: Mirrors | None) -> str:
    """The upstream reference of an image the plan pulls: the inverse of `mirrored_image`."""
    registry = (mirrors.image_registry or "").rstrip("/") if mirrors else ""
    if not registry or not pulled.startswith(registry + "/"):
        return full_reference(pulled)
    prefix, _, path = pulled[len(registry) + 1 :].partition("/")
    hosts = {v: k for k, v in UPSTREAM_PREFIXES.items()}
    return f"{hosts.get(prefix, prefix)}/{path}"


def dify_marketplace(mirrors: Mirrors | None, mainland: bool) -> str | None:
    """Where Dify installs plugins from: the stack's declared marketplace, else Dify's own outside
    mainland China; None (MARKETPLACE_ENABLED=false, plugins from local packages) in it."""
    if mirrors is not None and mirrors.plugin_marketplace:
        return mirrors.plugin_marketplace
    return None if mainland else DIFY_MARKETPLACE
