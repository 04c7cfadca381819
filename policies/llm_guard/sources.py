"""Where a pulled artifact comes from, and whether that place is in mainland China.

ONE table of in-country sources, used by the stack config (`llm-platform:mirrors`, refused
before any resource exists) and by the policy pack (`sources-in-country`, on the plan). Under a
mainland profile (aws-cn partition or the Azure China cloud) every image, Helm chart, Python
package index and model source must match it: registries and hubs outside the country are
blocked or unreliable from there, and the report behind this product requires domestic sources.

Sources (read 2026-11-30):
- Amazon ECR in the China regions: `<account>.dkr.ecr.<region>.amazonaws.com.cn`
  (docs.amazonaws.cn/en_us/aws/latest/userguide/endpoints-Beijing.html and -Ningxia.html).
- Azure Container Registry in the Azure China cloud: login servers `<name>.azurecr.cn`
  (learn.microsoft.com/azure/china/resources-developer-guide, endpoint table).
- Alibaba Cloud Container Registry: `registry[-vpc].<region>.aliyuncs.com` (Personal Edition
  before 2024-09-09), `crpi-<id>[-vpc].<region>.personal.cr.aliyuncs.com` (Personal Edition
  since), `<instance>-registry[-vpc].<region>.cr.aliyuncs.com` (Enterprise Edition); mainland
  regions are `cn-*` except cn-hongkong
  (alibabacloud.com/help/en/acr/user-guide/individual-edition-instance-independent-domain-name-capacity-limit).
- Tencent Cloud TCR Personal Edition, Guangzhou: `ccr.ccs.tencentyun.com` (Hong Kong is the
  separate `hkccr.ccs.tencentyun.com`) (cloud.tencent.com/document/product/1141).
- Huawei Cloud SWR: `swr.<region>.myhuaweicloud.com`; mainland regions are `cn-*` (Hong Kong is
  ap-southeast-1) (support.huaweicloud.com/intl/en-us/swr, "Endpoints").
- PyPI mirrors operated in mainland China: Alibaba (mirrors.aliyun.com/pypi/simple/, VPC-internal
  mirrors.cloud.aliyuncs.com), Tsinghua TUNA (pypi.tuna.tsinghua.edu.cn/simple), Tencent
  (mirrors.cloud.tencent.com/pypi/simple, VPC-internal mirrors.tencentyun.com), Huawei
  (repo.huaweicloud.com/repository/pypi/simple), USTC (mirrors.ustc.edu.cn/pypi/simple), BFSU
  (mirrors.bfsu.edu.cn/pypi/web/simple) - each mirror's own help page.
- ModelScope (Alibaba DAMO; hub www.modelscope.cn): vLLM downloads from it with
  VLLM_USE_MODELSCOPE=True (vllm-project/vllm vllm/envs.py, v0.18.0).
No Hugging Face mirror is listed: none documents where it is hosted. Under a mainland profile
the model source is ModelScope or weights staged in a bucket of the stack's own cloud.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from .profiles import ResidencyProfile

# Container image and OCI (Helm chart) registries operated in mainland China: host form -> pattern.
DOMESTIC_REGISTRIES: Final[dict[str, re.Pattern[str]]] = {
    "<account>.dkr.ecr.cn-north-1|cn-northwest-1.amazonaws.com.cn (Amazon ECR)": re.compile(r"\d{12}\.dkr\.ecr\.cn-(north|northwest)-1\.amazonaws\.com\.cn"),
    "<name>.azurecr.cn (ACR, Azure China)": re.compile(r"[a-z0-9]{5,50}\.azurecr\.cn"),
    "registry[-vpc].cn-<region>.aliyuncs.com, crpi-<id>[-vpc].cn-<region>.personal.cr.aliyuncs.com, <instance>-registry[-vpc].cn-<region>.cr.aliyuncs.com (Alibaba Cloud ACR, not cn-hongkong)": re.compile(
        r"(registry(-vpc)?\.cn-(?!hongkong)[a-z]+\.aliyuncs\.com"
        r"|crpi-[a-z0-9]+(-vpc)?\.cn-(?!hongkong)[a-z]+\.personal\.cr\.aliyuncs\.com"
        r"|[a-z0-9-]+-registry(-vpc)?\.cn-(?!hongkong)[a-z]+\.cr\.aliyuncs\.com)"
    ),
    "ccr.ccs.tencentyun.com (Tencent Cloud TCR)": re.compile(r"ccr\.ccs\.tencentyun\.com"),
    "swr.cn-<region>.myhuaweicloud.com (Huawei Cloud SWR)": re.compile(r"swr\.cn-[a-z]+-\d+\.myhuaweicloud\.com"),
}
# PyPI-compatible indexes operated in mainland China, by host.
DOMESTIC_PYTHON_INDEXES: Final[frozenset[str]] = frozenset(
    {
        "mirrors.aliyun.com",
        "mirrors.cloud.aliyuncs.com",
        "pypi.tuna.tsinghua.edu.cn",
        "mirrors.tuna.tsinghua.edu.cn",
        "mirrors.cloud.tencent.com",
        "mirrors.tencentyun.com",
        "repo.huaweicloud.com",
        "mirrors.huaweicloud.com",
        "mirrors.ustc.edu.cn",
        "mirrors.bfsu.edu.cn",
    }
)
# Dify's plugin marketplace (the API's MARKETPLACE_API_URL default and the web's links): Dify 1.x
# installs model-provider and tool plugins from it (langgenius/dify api/configs/feature/__init__.py
# MarketplaceConfig, MARKETPLACE_ENABLED default True; docker/.env.example, 1.x; read 2026-11-30).
# Hosted outside mainland China. Plugins installed "from GitHub" come from github.com and its
# release storage, also abroad (a user action in the console, not a setting the plan shows).
DIFY_MARKETPLACE: Final = "https://marketplace.dify.ai"
OUTSIDE_PLUGIN_HOSTS: Final[frozenset[str]] = frozenset({"marketplace.dify.ai", "github.com", "api.github.com", "objects.githubusercontent.com"})

# Calls home the apps make by default, to hosts abroad, with no pulled artifact in the plan to show
# them (read 2026-11-30); the stack switches them off on every cloud, the pack requires it under a
# mainland profile:
# - LiteLLM fetches its price map from raw.githubusercontent.com at start unless
#   LITELLM_LOCAL_MODEL_COST_MAP=True (litellm 1.108.6 litellm_core_utils/get_model_cost_map.py).
# - Dify's console asks CHECK_UPDATE_URL (default https://updates.dify.ai; skipped only when empty,
#   which ECS drops, and any error returns the running version) and fetches app and RAG-pipeline
#   templates from tmpl.dify.ai in mode "remote" (the default); "builtin" reads them from the image
#   (langgenius/dify api/configs/feature/__init__.py UpdateConfig, HostedFetchAppTemplateConfig,
#   HostedFetchPipelineTemplateConfig; api/controllers/console/version.py).
# - Grafana checks grafana.com for updates and reports usage to stats.grafana.org unless
#   [analytics] says otherwise (Grafana docs, "Configure Grafana", analytics section).
LITELLM_LOCAL_COST_MAP: Final = ("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# Not a URL: httpx raises UnsupportedProtocol before any connection (requests, in older releases:
# MissingSchema), caught by version.py, which then reports the running version.
DIFY_UPDATE_CHECK_OFF: Final = "disabled"
DIFY_LOCAL_TEMPLATES: Final[dict[str, str]] = {"HOSTED_FETCH_APP_TEMPLATES_MODE": "builtin", "HOSTED_FETCH_PIPELINE_TEMPLATES_MODE": "builtin"}
GRAFANA_ANALYTICS_OFF: Final[dict[str, bool]] = {"check_for_updates": False, "check_for_plugin_updates": False, "reporting_enabled": False}


def is_outside_plugin_source(url: str) -> bool:
    return (urlsplit(url.strip()).hostname or "").lower() in OUTSIDE_PLUGIN_HOSTS


# Model hubs in mainland China (by host, for the policy's view of model download settings).
DOMESTIC_MODEL_HUBS: Final[frozenset[str]] = frozenset({"www.modelscope.cn", "modelscope.cn"})
# Azure Blob storage in the Azure China cloud (the cloud's storage endpoint suffix).
CHINA_BLOB_SUFFIX: Final = ".blob.core.chinacloudapi.cn"
_BLOB_HOST = re.compile(r"[a-z0-9]{3,24}\.blob\.core\.(windows\.net|chinacloudapi\.cn|usgovcloudapi\.net)")

ModelSourceKind = Literal["huggingface", "modelscope", "hf-mirror", "s3", "blob"]


def is_mainland(profile: ResidencyProfile) -> bool:
    """Profiles whose stacks run in mainland China (the aws-cn partition or the Azure China cloud)."""
    return profile.aws_partition == "aws-cn" or profile.azure_cloud == "china"


def registry_host(reference: str) -> str:
    """The host of an image reference, registry path (host[/path]) or oci:// URL, lowercased."""
    text = reference.strip()
    if "://" in text:
        return (urlsplit(text).hostname or "").lower()
    first = text.split("/", 1)[0]
    return first.rsplit(":", 1)[0].lower() if ":" in first else first.lower()


def domestic_registry(host: str) -> str | None:
    """The name of the in-country registry service serving `host`, or None."""
    for name, pattern in DOMESTIC_REGISTRIES.items():
        if pattern.fullmatch(host.lower()):
            return name
    return None


def is_domestic_python_index(url: str) -> bool:
    return (urlsplit(url.strip()).hostname or "").lower() in DOMESTIC_PYTHON_INDEXES


def model_source_kind(source: str | None) -> ModelSourceKind | None:
    """What a `mirrors.modelSource` value names (None = not a model source this platform reads)."""
    if source in (None, "", "huggingface"):
        return "huggingface"
    if source == "modelscope":
        return "modelscope"
    parts = urlsplit(source)
    if parts.scheme == "s3" and parts.hostname:
        return "s3"
    if parts.scheme == "https" and parts.hostname:
        return "blob" if _BLOB_HOST.fullmatch(parts.hostname.lower()) else "hf-mirror"
    return None


def is_domestic_model_source(source: str | None) -> bool:
    """ModelScope, an Azure China blob, or an S3 bucket (the caller checks the bucket's partition:
    an aws-cn stack reaches only aws-cn buckets with its own credentials)."""
    kind = model_source_kind(source)
    if kind in ("modelscope", "s3"):
        return True
    if kind == "blob":
        return (urlsplit(str(source)).hostname or "").lower().endswith(CHINA_BLOB_SUFFIX)
    if kind == "hf-mirror":
        return (urlsplit(str(source)).hostname or "").lower() in DOMESTIC_MODEL_HUBS
    return False


def domestic_summary() -> str:
    """The accepted in-country sources, for messages."""
    return (
        "image registries and OCI chart repositories on "
        + ", ".join(DOMESTIC_REGISTRIES)
        + "; Python indexes on "
        + ", ".join(sorted(DOMESTIC_PYTHON_INDEXES))
        + "; model source modelscope, s3://<bucket>/<prefix> (aws-cn) or https://<account>"
        + CHINA_BLOB_SUFFIX
        + "/<container>/<path>"
    )


# --------------------------------------------------------------------------- where a plan pulls


@dataclass(frozen=True)
class PlannedContainer:
    """A container a resource runs: property path, image and plain environment."""

    path: str  # property path of the container (for findings)
    image: str | None
    env: dict[str, str]
    argv: tuple[str, ...]  # command + args, when the resource gives them


_K8S_WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:DaemonSet", "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job")
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


def _env(entries: Any) -> dict[str, str]:
    env = {}
    for e in entries if isinstance(entries, list) else []:
        if isinstance(e, Mapping) and isinstance(e.get("name"), str) and isinstance(e.get("value"), str):
            env[e["name"]] = e["value"]
    return env


def _container(path: str, c: Any) -> PlannedContainer | None:
    if not isinstance(c, Mapping):
        return None
    argv = tuple(str(a) for key in ("entryPoint", "command", "args") for a in (c.get(key) or []) if isinstance(c.get(key), list))
    image = c.get("image") if isinstance(c.get("image"), str) else None
    environment = c.get("environment") if "environment" in c else c.get("env")
    return PlannedContainer(path, image, _env(environment), argv)


def _pod(path: str, spec: Any) -> Iterator[PlannedContainer]:
    if not isinstance(spec, Mapping):
        return
    for key in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(key) or []):
            if (found := _container(f"{path}.{key}[{i}]", c)) is not None:
                yield found


def planned_containers(type_: str, props: Mapping[str, Any]) -> Iterator[PlannedContainer]:
    """The containers of ECS task definitions, Container Apps and jobs, SageMaker models and
    Kubernetes workloads, as the plan records their inputs."""
    if type_ == "aws:ecs/taskDefinition:TaskDefinition":
        definitions = props.get("containerDefinitions")
        if isinstance(definitions, str):
            try:
                definitions = json.loads(definitions)
            except ValueError:
                definitions = None
        for i, c in enumerate(definitions if isinstance(definitions, list) else []):
            if (found := _container(f"containerDefinitions[{i}]", c)) is not None:
                yield found
    elif type_.startswith(("azure-native:app:ContainerApp", "azure-native:app:Job")):
        yield from _pod("template", props.get("template"))
    elif type_ == "aws:sagemaker/model:Model":
        for path, c in [("primaryContainer", props.get("primaryContainer")), *((f"containers[{i}]", c) for i, c in enumerate(props.get("containers") or []))]:
            if isinstance(c, Mapping):
                env = {k: v for k, v in (c.get("environment") or {}).items() if isinstance(v, str)} if isinstance(c.get("environment"), Mapping) else {}
                yield PlannedContainer(path, c.get("image") if isinstance(c.get("image"), str) else None, env, ())
    elif type_ in _K8S_WORKLOADS:
        spec = props.get("spec")
        template = spec.get("template") if isinstance(spec, Mapping) else None
        yield from _pod("spec.template.spec", template.get("spec") if isinstance(template, Mapping) else None)
    elif type_ == "kubernetes:batch/v1:CronJob":
        spec = props.get("spec") or {}
        job = (spec.get("jobTemplate") or {}).get("spec") or {} if isinstance(spec, Mapping) else {}
        yield from _pod("spec.jobTemplate.spec.template.spec", (job.get("template") or {}).get("spec") if isinstance(job, Mapping) else None)


def chart_value_images(values: Any, path: str = "values") -> Iterator[tuple[str, str]]:
    """Images in Helm values: every {repository, tag} block (with `registry` when a chart splits it)."""
    if isinstance(values, Mapping):
        repository, tag, registry = values.get("repository"), values.get("tag"), values.get("registry")
        if isinstance(repository, str) and repository and isinstance(tag, str) and tag:
            yield path, f"{registry}/{repository}:{tag}" if isinstance(registry, str) and registry else f"{repository}:{tag}"
        for key, value in values.items():
            yield from chart_value_images(value, f"{path}.{key}")
    elif isinstance(values, list):
        for i, value in enumerate(values):
            yield from chart_value_images(value, f"{path}[{i}]")


def planned_images(type_: str, props: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(property path, image reference) for every image a resource pulls."""
    for c in planned_containers(type_, props):
        if c.image:
            yield f"{c.path}.image", c.image
    if type_ == HELM_RELEASE:
        yield from chart_value_images(props.get("values"))


def is_vllm(container: PlannedContainer) -> bool:
    return "vllm/vllm-openai" in (container.image or "") or (len(container.argv) >= 2 and container.argv[:2] == ("vllm", "serve"))


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")
