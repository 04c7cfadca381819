"""Under a mainland-China profile, everything the stack pulls comes from inside the country:
container images, Helm charts (and the images their values name), the Python index Dify's
plugins install from, and model weights (vLLM, SageMaker). The in-country table lives in
`policies/llm_guard/sources.py`, shared with the stack config (`llm-platform:mirrors`)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from ..graph import Finding, Res, get
from ..sources import (
    DIFY_LOCAL_TEMPLATES,
    DIFY_MARKETPLACE,
    DIFY_UPDATE_CHECK_OFF,
    DOMESTIC_PYTHON_INDEXES,
    DOMESTIC_REGISTRIES,
    GRAFANA_ANALYTICS_OFF,
    HELM_RELEASE,
    LITELLM_LOCAL_COST_MAP,
    PlannedContainer,
    domestic_registry,
    is_domestic_model_source,
    is_domestic_python_index,
    is_mainland,
    is_outside_plugin_source,
    is_vllm,
    planned_containers,
    planned_images,
    registry_host,
    truthy,
)
from . import RuleSettings, rule

_REGISTRIES = "; ".join(DOMESTIC_REGISTRIES)
_MIRROR_FIX = "Set llm-platform:mirrors (imageRegistry, helmRepository, pythonIndex, modelSource) to in-country sources and copy the artifacts there (`python -m scripts images STACK`)."


@rule(
    "sources-in-country",
    description="Under a mainland-China profile every image, Helm chart, Python package index and model source the stack pulls is in "
    "the country (registries and hubs abroad are blocked or unreliable there, and the profile keeps the supply chain domestic).",
    severity="high",
    scope="resource",
    remediation=_MIRROR_FIX,
)
def sources_in_country(res: Res, settings: RuleSettings) -> Iterator[Finding]:
    profile = settings.profile
    assert profile is not None
    if not is_mainland(profile):
        return
    for path, ref in planned_images(res.type, res.props):
        host = registry_host(ref)
        if domestic_registry(host) is None:
            yield Finding(res.urn, path, ref, f"image from {host}, outside mainland China (profile '{profile.name}').", f"Pull it from an in-country registry ({_REGISTRIES}). {_MIRROR_FIX}")
    if res.type == HELM_RELEASE:
        yield from _chart(res)
        yield from _grafana_calls_home(res)
    for container in planned_containers(res.type, res.props):
        yield from _container_sources(res, container)


def _chart(res: Res) -> Iterator[Finding]:
    chart = get(res.props, "chart")
    repo = get(res.props, "repositoryOpts.repo")
    for path, source in (("chart", chart), ("repositoryOpts.repo", repo)):
        if not isinstance(source, str) or ("://" not in source and path == "chart"):
            continue
        host = registry_host(source)
        if domestic_registry(host) is None:
            yield Finding(res.urn, path, source, f"Helm chart from {host}, outside mainland China.", f"Install it from an in-country OCI repository ({_REGISTRIES}). {_MIRROR_FIX}")


def _container_sources(res: Res, c: PlannedContainer) -> Iterator[Finding]:
    index = c.env.get("PIP_MIRROR_URL")
    if index and not is_domestic_python_index(index):
        yield Finding(res.urn, f"{c.path}.env.PIP_MIRROR_URL", index, "Python packages from an index outside mainland China.", f"Use an in-country PyPI mirror ({', '.join(sorted(DOMESTIC_PYTHON_INDEXES))}).")
    elif not index and "langgenius/dify-plugin-daemon" in (c.image or ""):
        yield Finding(res.urn, f"{c.path}.env.PIP_MIRROR_URL", None, "Dify's plugin daemon installs plugin packages from pypi.org (no PIP_MIRROR_URL).", "Set llm-platform:mirrors.pythonIndex to an in-country PyPI mirror.")
    yield from _plugin_marketplace(res, c)
    yield from _calls_home(res, c)
    endpoint = c.env.get("HF_ENDPOINT")
    if endpoint and not is_domestic_model_source(endpoint):
        yield Finding(res.urn, f"{c.path}.env.HF_ENDPOINT", endpoint, f"model weights from {urlsplit(endpoint).hostname}, outside mainland China.", "Set llm-platform:mirrors.modelSource: modelscope.")
    from_hub = not truthy(c.env.get("VLLM_USE_MODELSCOPE")) and not (endpoint and is_domestic_model_source(endpoint))
    if is_vllm(c) and from_hub and not any(a.startswith(("/", "s3://")) for a in c.argv[2:3]):
        model = c.argv[2] if len(c.argv) > 2 else None
        yield Finding(res.urn, f"{c.path}.args", model, "vLLM downloads this model from Hugging Face (huggingface.co), outside mainland China.", "Set llm-platform:mirrors.modelSource: modelscope (VLLM_USE_MODELSCOPE=True).")
    hf_model = c.env.get("HF_MODEL_ID")
    if res.type == "aws:sagemaker/model:Model" and hf_model and not hf_model.startswith(("s3://", "/")) and not truthy(c.env.get("VLLM_USE_MODELSCOPE")):
        yield Finding(res.urn, f"{c.path}.environment.HF_MODEL_ID", hf_model, "the serving container downloads this model from Hugging Face, outside mainland China.", "Stage the weights in an S3 bucket of the stack's region and give HF_MODEL_ID as s3://bucket/prefix.")


def _plugin_marketplace(res: Res, c: PlannedContainer) -> Iterator[Finding]:
    """Dify's API installs plugins from its marketplace unless MARKETPLACE_ENABLED is false (the
    default is true and marketplace.dify.ai); the web console links to MARKETPLACE_URL."""
    fix = "Leave llm-platform:mirrors.pluginMarketplace unset under a mainland profile (the stack sets MARKETPLACE_ENABLED=false) and install plugins from local .difypkg files."
    if "langgenius/dify-api" in (c.image or "") and c.env.get("MARKETPLACE_ENABLED", "true").strip().lower() != "false":
        source = c.env.get("MARKETPLACE_API_URL") or DIFY_MARKETPLACE
        if is_outside_plugin_source(source):
            yield Finding(res.urn, f"{c.path}.env.MARKETPLACE_ENABLED", c.env.get("MARKETPLACE_ENABLED"), f"Dify installs plugins from {urlsplit(source).hostname}, outside mainland China.", fix)
    for key in ("MARKETPLACE_API_URL", "MARKETPLACE_URL"):
        value = c.env.get(key)
        if value and is_outside_plugin_source(value):
            yield Finding(res.urn, f"{c.path}.env.{key}", value, f"plugin marketplace {urlsplit(value).hostname}, outside mainland China.", fix)


_CALLS_HOME_FIX = "The stack sets these on every cloud (policies/llm_guard/sources.py); a plan without them was changed by hand or by an older version."


def _calls_home(res: Res, c: PlannedContainer) -> Iterator[Finding]:
    """Start-up and console calls to hosts abroad that no pulled artifact shows: LiteLLM's price
    map (raw.githubusercontent.com), Dify's update check (updates.dify.ai) and templates (tmpl.dify.ai)."""
    image = c.image or ""
    name, value = LITELLM_LOCAL_COST_MAP
    if "berriai/litellm" in image and not truthy(c.env.get(name)):
        yield Finding(res.urn, f"{c.path}.env.{name}", c.env.get(name), "LiteLLM downloads its model price map from raw.githubusercontent.com at start, outside mainland China.", f"Set {name}={value}. {_CALLS_HOME_FIX}")
    if "langgenius/dify-api" not in image:
        return
    update_url = c.env.get("CHECK_UPDATE_URL")
    if update_url != DIFY_UPDATE_CHECK_OFF:
        yield Finding(res.urn, f"{c.path}.env.CHECK_UPDATE_URL", update_url, f"Dify's console checks {urlsplit(update_url or 'https://updates.dify.ai').hostname} for updates, outside mainland China.", f"Set CHECK_UPDATE_URL={DIFY_UPDATE_CHECK_OFF} (not a URL: the check fails before any connection). {_CALLS_HOME_FIX}")
    for key, local in DIFY_LOCAL_TEMPLATES.items():
        mode = c.env.get(key, "remote")
        if mode.strip().lower() == "remote":
            yield Finding(res.urn, f"{c.path}.env.{key}", c.env.get(key), "Dify fetches templates from tmpl.dify.ai (mode remote, the default), outside mainland China.", f"Set {key}={local}. {_CALLS_HOME_FIX}")


def _grafana_calls_home(res: Res) -> Iterator[Finding]:
    grafana = get(res.props, "values.grafana")
    if not isinstance(grafana, dict) or grafana.get("enabled") is False:
        return
    analytics = (grafana.get("grafana.ini") or {}).get("analytics") or {}
    for key in GRAFANA_ANALYTICS_OFF:
        if analytics.get(key) is not False:
            yield Finding(res.urn, f"values.grafana.grafana.ini.analytics.{key}", analytics.get(key), "Grafana calls grafana.com / stats.grafana.org (update checks, usage reporting), outside mainland China.", f"Set grafana.ini [analytics] {key}: false. {_CALLS_HOME_FIX}")
