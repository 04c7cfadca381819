"""The `mirrors` section: where images, charts, Python packages and model weights come from."""

from __future__ import annotations

import re

from pydantic import (
    Field,
    field_validator,
)

from components.mirrors import Mirrors
from stacks.config.base import _Model

# --------------------------------------------------------------------------- mirrors (every phase)


# host[:port][/path]: lowercase DNS labels, repository path parts as OCI distribution allows.
# Registry names: 5-50 alphanumerics; login server <name lowercased>.azurecr.io / .azurecr.cn
# (learn.microsoft.com/azure/container-registry/container-registry-get-started-portal, read 2026-11-30).
_AZURE_REGISTRY_ID = re.compile(
    r"/subscriptions/[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}/resourceGroups/[-\w.()]{1,90}/providers/Microsoft\.ContainerRegistry/registries/[A-Za-z0-9]{5,50}",
    re.IGNORECASE,
)
_REGISTRY_PATH = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+(?::\d{1,5})?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"


class MirrorsConfig(_Model):
    """Where images, charts, Python packages and model weights come from (None = upstream).

    imageRegistry: host[/path] serving images as <path>/<upstream prefix>/<upstream repo>
    (components/mirrors.py); helmRepository: oci://host/path; pythonIndex: https:// PyPI index;
    modelSource: huggingface | modelscope | https://<Hugging Face-compatible mirror>."""

    image_registry: str | None = Field(None, alias="imageRegistry", max_length=255)
    helm_repository: str | None = Field(None, alias="helmRepository", max_length=255)
    python_index: str | None = Field(None, alias="pythonIndex", max_length=255)
    model_source: str | None = Field(None, alias="modelSource", max_length=255)
    # ARM id of the Azure Container Registry behind imageRegistry: the stack grants AcrPull on it.
    azure_registry_id: str | None = Field(None, alias="azureRegistryId", max_length=400)
    # A Dify plugin marketplace (MARKETPLACE_API_URL); unset: marketplace.dify.ai, off in mainland China.
    plugin_marketplace: str | None = Field(None, alias="pluginMarketplace", max_length=255)

    @field_validator("plugin_marketplace")
    @classmethod
    def _marketplace(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d{1,5})?", v):
            raise ValueError("must be the https:// origin of a Dify plugin marketplace, without a path (e.g. https://marketplace.example.cn)")
        return v

    @field_validator("azure_registry_id")
    @classmethod
    def _azure_registry_id(cls, v: str | None) -> str | None:
        if v is not None and not _AZURE_REGISTRY_ID.fullmatch(v):
            raise ValueError("must be the resource id of an Azure Container Registry (/subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.ContainerRegistry/registries/<name>)")
        return v

    @field_validator("image_registry")
    @classmethod
    def _registry(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(_REGISTRY_PATH, v):
            raise ValueError("must be a registry host with an optional path, lowercase, no scheme and no tag (e.g. 123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn/mirror)")
        return v

    @field_validator("helm_repository")
    @classmethod
    def _helm(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(rf"oci://{_REGISTRY_PATH}", v):
            raise ValueError("must be an OCI repository oci://host/path, lowercase (e.g. oci://123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn/charts)")
        return v

    @field_validator("python_index")
    @classmethod
    def _index(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d{1,5})?(/[A-Za-z0-9._~/-]*)?", v):
            raise ValueError("must be the https:// URL of a PyPI-compatible simple index, without credentials (e.g. https://mirrors.aliyun.com/pypi/simple/)")
        return v

    @field_validator("model_source")
    @classmethod
    def _model_source(cls, v: str | None) -> str | None:
        from policies.llm_guard.sources import model_source_kind

        kind = model_source_kind(v)
        if v is not None and kind not in ("huggingface", "modelscope", "hf-mirror"):
            if kind in ("s3", "blob"):
                raise ValueError("weights staged in a bucket are not wired to the model servers yet; use modelscope, huggingface or https://<Hugging Face-compatible mirror>")
            raise ValueError("must be huggingface, modelscope or https://<Hugging Face-compatible mirror>")
        return v

    def for_components(self) -> Mirrors:
        return Mirrors(self.image_registry, self.helm_repository, self.python_index, self.model_source, plugin_marketplace=self.plugin_marketplace)

    def azure_registry_name(self) -> str | None:
        """The registry name in azureRegistryId (ARM names are case-insensitive: lowercased)."""
        return self.azure_registry_id.rsplit("/", 1)[-1].lower() if self.azure_registry_id else None
