"""Mirrors (issue 11 item 2): everything a stack pulls goes through `llm-platform:mirrors`; under a
mainland-China profile every source is in the country, refused by the config (exit 2) and flagged
by the policy pack on the plan; `python -m scripts images` copies exactly what the plan pulls."""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from components.aws.registry import ECR_USERNAME, ecr_registry
from components.azure.registry import ROLE_ACR_PULL
from components.k8s.addons import CHART_IMAGES
from components.mirrors import Mirrors, acr_name, full_reference, mirrored_image, upstream_of
from policies.llm_guard.sources import (
    domestic_registry,
    is_domestic_model_source,
    is_domestic_python_index,
    planned_containers,
    planned_images,
    registry_host,
)
from scripts.__main__ import main
from scripts.audit import PolicyPackProcess
from scripts.engine.mocks import MOCK_KUBELET_OBJECT_ID
from scripts.ops.images import report
from tests.conftest import run_cli
from tests.plan_matrix import AWS_CASES, AZURE_CASES, CASE_IDS, CASES, SCALE_CASES, case_config, plan_for
from tests.policy_harness import Auditor, assert_violation, violations
from tests.test_tool_inputs import MALFORMED_GRAPHS, _write

RULE = "sources-in-country"


def _mirrors(case_id: str) -> Mirrors:
    raw = case_config(CASES[case_id])["config"].get("llm-platform:mirrors") or {}
    return Mirrors(raw.get("imageRegistry"), raw.get("helmRepository"), raw.get("pythonIndex"), raw.get("modelSource"))


def _resources(case_id: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for r in plan_for(case_id).resources:
        yield r.urn, r.type, r.inputs


# ------------------------------------------------------------------ the in-country table

DOMESTIC = [
    "123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn",
    "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
    "llmplatformcn.azurecr.cn",
    "registry.cn-hangzhou.aliyuncs.com",
    "registry-vpc.cn-beijing.aliyuncs.com",
    "crpi-abc123.cn-shanghai.personal.cr.aliyuncs.com",
    "acme-registry-vpc.cn-shenzhen.cr.aliyuncs.com",
    "ccr.ccs.tencentyun.com",
    "swr.cn-north-4.myhuaweicloud.com",
]
ABROAD = [
    "docker.io",
    "ghcr.io",
    "nvcr.io",
    "registry.k8s.io",
    "123456789012.dkr.ecr.eu-central-1.amazonaws.com",
    "123456789012.dkr.ecr.ap-east-1.amazonaws.com",  # Hong Kong is not mainland China
    "llmplatform.azurecr.io",
    "registry.cn-hongkong.aliyuncs.com",
    "crpi-abc123.cn-hongkong.personal.cr.aliyuncs.com",
    "registry.ap-southeast-1.aliyuncs.com",
    "hkccr.ccs.tencentyun.com",
    "swr.ap-southeast-1.myhuaweicloud.com",
    "registry.cn-hangzhou.aliyuncs.com.evil.example",
]


@pytest.mark.parametrize("host", DOMESTIC)
def test_domestic_registries_are_recognised(host: str) -> None:
    assert domestic_registry(host) is not None


@pytest.mark.parametrize("host", ABROAD)
def test_registries_abroad_are_not(host: str) -> None:
    assert domestic_registry(host) is None


def test_python_indexes_and_model_sources() -> None:
    assert is_domestic_python_index("https://mirrors.aliyun.com/pypi/simple/")
    assert not is_domestic_python_index("https://pypi.org/simple")
    assert not is_domestic_python_index("https://mirrors.aliyun.com.example.org/pypi/simple/")
    assert is_domestic_model_source("modelscope")
    assert not is_domestic_model_source("huggingface") and not is_domestic_model_source(None)
    assert not is_domestic_model_source("https://huggingface.co")
    assert is_domestic_model_source("https://acct.blob.core.chinacloudapi.cn/weights/qwen")
    assert not is_domestic_model_source("https://acct.blob.core.windows.net/weights/qwen")


# ------------------------------------------------------------------ layout


def test_mirror_layout_keeps_upstreams_apart_and_is_reversible() -> None:
    mirrors = Mirrors(image_registry="r.example.cn/mirror")
    a, b = mirrored_image("docker.io/berriai/litellm:v1", mirrors), mirrored_image("ghcr.io/berriai/litellm:v1", mirrors)
    assert a != b
    assert a == "r.example.cn/mirror/docker-hub/berriai/litellm:v1"
    for ref in ("docker.io/library/nginx:1", "ghcr.io/x/y:2", "nvcr.io/nvidia/k8s/dcgm-exporter:3", "quay.example.org/a/b:4"):
        assert upstream_of(mirrored_image(ref, mirrors), mirrors) == ref
    assert mirrored_image("nginx:1", mirrors) == "r.example.cn/mirror/docker-hub/library/nginx:1"
    assert mirrored_image("ghcr.io/x/y:2", None) == "ghcr.io/x/y:2"


# ------------------------------------------------------------------ contracts over every plan


def _served_in_region(ref: str, case_id: str) -> bool:
    """Images the cloud serves from its own registry in the stack's region (SageMaker's LMI
    containers in AWS's ECR accounts): nothing is pulled from abroad, nothing to mirror."""
    region = case_config(CASES[case_id])["config"].get("aws:region", "")
    return bool(region) and f".dkr.ecr.{region}." in registry_host(ref) and not registry_host(ref).startswith(registry_host(_mirrors(case_id).image_registry or "-"))


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_every_image_and_chart_comes_through_the_mirrors(case_id: str) -> None:
    """With an image registry every image the plan pulls is under it, and with a chart repository
    every Helm release installs from it; chart images are named in the values (not left to chart
    defaults the plan cannot see)."""
    mirrors = _mirrors(case_id)
    for urn, type_, inputs in _resources(case_id):
        for path, ref in planned_images(type_, inputs):
            if mirrors.image_registry and not _served_in_region(ref, case_id):
                assert ref.startswith(mirrors.image_registry.rstrip("/") + "/"), f"{urn} {path} pulls {ref}, not from {mirrors.image_registry}"
                assert mirrored_image(upstream_of(ref, mirrors), mirrors) == ref
        if type_ == "kubernetes:helm.sh/v3:Release":
            chart = inputs["chart"]
            if mirrors.helm_repository:
                assert chart.startswith(mirrors.helm_repository.rstrip("/") + "/") and not (inputs.get("repositoryOpts") or {}).get("repo"), f"{urn} installs {chart}"
            name = chart.rsplit("/", 1)[-1]
            values = {ref for _, ref in planned_images(type_, inputs)}
            for ref in CHART_IMAGES.get(name, {}).values():
                assert mirrored_image(ref, mirrors) in values, f"{urn}: chart image {ref} is not set in the values"


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_package_index_and_model_source_reach_the_containers(case_id: str) -> None:
    mirrors = _mirrors(case_id)
    for urn, type_, inputs in _resources(case_id):
        for c in planned_containers(type_, inputs):
            image = c.image or ""
            if "langgenius/dify-plugin-daemon" in image or "langgenius/dify-sandbox" in image:
                assert c.env.get("PIP_MIRROR_URL") == mirrors.python_index, f"{urn} {c.path}: PIP_MIRROR_URL {c.env.get('PIP_MIRROR_URL')!r}"
            if "vllm/vllm-openai" in image:
                assert (c.env.get("VLLM_USE_MODELSCOPE") == "True") == (mirrors.model_source == "modelscope"), f"{urn} {c.path}"
                hf_endpoint = mirrors.model_source if (mirrors.model_source or "").startswith("https://") else None
                assert c.env.get("HF_ENDPOINT") == hf_endpoint, f"{urn} {c.path}"


@pytest.mark.parametrize("case_id", [c for c in CASE_IDS if _mirrors(c).image_registry])
def test_images_command_copies_exactly_what_the_plan_pulls(case_id: str) -> None:
    graph = plan_for(case_id).to_json()
    result = report(graph)
    pulled = {ref for _, type_, inputs in _resources(case_id) for _, ref in planned_images(type_, inputs)}
    assert {i["pulled"] for i in result["images"]} == pulled
    pulled = {ref for ref in pulled if not _served_in_region(ref, case_id)}
    targets = {c.rsplit(" ", 1)[-1] for c in result["copyCommands"] if " crane copy " in f" {c.split('&& ')[-1]}"}
    assert targets == pulled
    for item in (i for i in result["images"] if i["pulled"] in pulled):
        assert item["copy"].endswith(f"crane copy {item['upstream']} {item['pulled']}")
        assert full_reference(item["upstream"]) == item["upstream"] and registry_host(item["upstream"]) != registry_host(item["pulled"])
    for chart in result["charts"]:
        if chart["pulled"].startswith("oci://"):
            assert chart["copy"] and f"helm push {chart['pulled'].rsplit('/', 1)[1]}-{chart['version']}.tgz {chart['pulled'].rsplit('/', 1)[0]}" in chart["copy"], chart


# ------------------------------------------------------------------ config: refused under cn

CN_CASES = [c for c in CASE_IDS if case_config(CASES[c])["config"].get("llm-platform:residency") == "cn"]
_REFUSALS: list[tuple[str, str, dict[str, Any], str]] = [
    # (id, base example, mirrors override, key the message names)
    ("image-registry-abroad", "poc-aws-cn", {"imageRegistry": "docker.io/acme"}, "llm-platform:mirrors.imageRegistry"),
    ("image-registry-hong-kong", "poc-azure-cn", {"imageRegistry": "registry.cn-hongkong.aliyuncs.com/acme"}, "llm-platform:mirrors.imageRegistry"),
    ("image-registry-missing", "poc-aws-cn", {"imageRegistry": None}, "llm-platform:mirrors.imageRegistry"),
    ("python-index-abroad", "poc-aws-cn", {"pythonIndex": "https://pypi.org/simple"}, "llm-platform:mirrors.pythonIndex"),
    ("python-index-missing-for-dify", "poc-azure-cn", {"pythonIndex": None}, "llm-platform:mirrors.pythonIndex"),
    ("helm-abroad", "scale-aws-cn", {"helmRepository": "oci://ghcr.io/acme/charts"}, "llm-platform:mirrors.helmRepository"),
    ("helm-missing-in-scale", "scale-azure-cn", {"helmRepository": None}, "llm-platform:mirrors.helmRepository"),
    ("model-hub-abroad", "scale-aws-cn", {"modelSource": "https://huggingface.co"}, "llm-platform:mirrors.modelSource"),
    ("model-default-hugging-face", "scale-azure-cn", {"modelSource": None}, "llm-platform:mirrors.modelSource"),
    ("malformed-registry", "poc-aws", {"imageRegistry": "https://Registry.Example.com/x"}, "llm-platform:mirrors.imageRegistry"),
    ("malformed-helm", "poc-aws", {"helmRepository": "https://charts.example.com"}, "llm-platform:mirrors.helmRepository"),
    ("plain-http-index", "poc-aws", {"pythonIndex": "http://mirrors.aliyun.com/pypi/simple/"}, "llm-platform:mirrors.pythonIndex"),
    ("unknown-model-source", "poc-aws", {"modelSource": "ftp://weights.example.com"}, "llm-platform:mirrors.modelSource"),
    ("acr-without-registry-id", "poc-azure-cn", {"azureRegistryId": None}, "llm-platform:mirrors.azureRegistryId"),
    ("acr-registry-id-of-another-registry", "scale-azure-cn", {"azureRegistryId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/m/providers/Microsoft.ContainerRegistry/registries/otherregistry"}, "llm-platform:mirrors.azureRegistryId"),
    ("malformed-registry-id", "poc-azure-cn", {"azureRegistryId": "llmplatformcn"}, "llm-platform:mirrors.azureRegistryId"),
    ("registry-id-on-aws", "poc-aws-cn", {"azureRegistryId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/m/providers/Microsoft.ContainerRegistry/registries/llmplatformcn"}, "llm-platform:mirrors.azureRegistryId"),
    ("plugin-marketplace-abroad", "poc-aws-cn", {"pluginMarketplace": "https://marketplace.dify.ai"}, "llm-platform:mirrors.pluginMarketplace"),
]


def _with_mirrors(tmp_path: Path, base: str, name: str, override: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    import yaml

    config = case_config(CASES[base])["config"]
    mirrors = {**(config.get("llm-platform:mirrors") or {}), **override}
    config["llm-platform:mirrors"] = {k: v for k, v in mirrors.items() if v is not None}
    if not config["llm-platform:mirrors"]:
        del config["llm-platform:mirrors"]
    config.update(extra or {})
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return path


@pytest.mark.parametrize(("case", "base", "override", "key"), _REFUSALS, ids=[r[0] for r in _REFUSALS])
def test_outside_or_malformed_source_is_refused_naming_the_key(case: str, base: str, override: dict[str, Any], key: str, tmp_path: Path) -> None:
    result = run_cli("plan", str(_with_mirrors(tmp_path, base, case, override)))
    assert result.returncode == 2, result.stdout[-500:] + result.stderr
    message = result.stderr.strip()
    assert key in message and "\n" not in message and "Traceback" not in message, message


def test_beta_image_registry_answers_with_the_new_key(tmp_path: Path) -> None:
    path = _with_mirrors(tmp_path, "beta-aws", "old-key", {}, {"llm-platform:beta": {**case_config(CASES["beta-aws"])["config"]["llm-platform:beta"], "imageRegistry": "123456789012.dkr.ecr.eu-central-1.amazonaws.com/mirror"}})
    result = run_cli("plan", str(path))
    assert result.returncode == 2 and "llm-platform:beta.imageRegistry" in result.stderr and "llm-platform:mirrors.imageRegistry" in result.stderr, result.stderr


def test_without_nat_the_registry_must_be_the_stacks_own_ecr(tmp_path: Path) -> None:
    other = _with_mirrors(tmp_path, "beta-aws", "nat-other", {"imageRegistry": "registry.example.com/mirror"}, {"llm-platform:poc": {**case_config(CASES["beta-aws"])["config"]["llm-platform:poc"], "network": {"natGateways": 0}}})
    result = run_cli("plan", str(other))
    assert result.returncode == 2 and "llm-platform:mirrors.imageRegistry" in result.stderr, result.stderr


# ------------------------------------------------------------------ policy: flagged on the plan


@pytest.fixture(scope="module")
def audit() -> Iterator[Auditor]:
    with PolicyPackProcess({}, "llm-platform", "test") as pack:
        yield Auditor(pack)


def _real(case_id: str) -> dict[str, Any]:
    return copy.deepcopy(plan_for(case_id).to_json())


def _first(graph: dict[str, Any], predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    return next(r for r in graph["resources"] if predicate(r))


def _container_lists(r: dict[str, Any]) -> list[dict[str, Any]]:
    if r["type"] == "aws:ecs/taskDefinition:TaskDefinition":
        return json.loads(r["inputs"]["containerDefinitions"])
    if r["type"].startswith("azure-native:app:ContainerApp"):
        return r["inputs"]["template"]["containers"]
    return r["inputs"]["spec"]["template"]["spec"]["containers"]


def _edit_containers(r: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> None:
    containers = _container_lists(r)
    for c in containers:
        edit(c)
    if r["type"] == "aws:ecs/taskDefinition:TaskDefinition":
        r["inputs"]["containerDefinitions"] = json.dumps(containers)


@pytest.mark.parametrize("case_id", CN_CASES)
def test_cn_plans_pull_only_from_inside_the_country(case_id: str, audit: Auditor) -> None:
    assert not violations(audit(_real(case_id), "cn"), RULE)


def _is_app_task(r: dict[str, Any]) -> bool:
    return r["type"] in ("aws:ecs/taskDefinition:TaskDefinition",) or r["type"].startswith("azure-native:app:ContainerApp")


def _plugin_daemon(r: dict[str, Any]) -> bool:
    return _is_app_task(r) and any("dify-plugin-daemon" in c.get("image", "") for c in _container_lists(r))


def _vllm(r: dict[str, Any]) -> bool:
    return r["type"] == "kubernetes:apps/v1:Deployment" and "vllm" in json.dumps(r["inputs"].get("spec", {}).get("template", {}))


def _upstream_image(c: dict[str, Any]) -> None:
    c["image"] = "docker.io/langgenius/dify-api:1.14.2"


def _no_pip_index(c: dict[str, Any]) -> None:
    for key in ("environment", "env"):
        if isinstance(c.get(key), list):
            c[key] = [e for e in c[key] if e.get("name") != "PIP_MIRROR_URL"]


def _hugging_face(c: dict[str, Any]) -> None:
    c["env"] = [e for e in c.get("env", []) if e.get("name") != "VLLM_USE_MODELSCOPE"]


def _hf_endpoint_abroad(c: dict[str, Any]) -> None:
    c["env"] = [*c.get("env", []), {"name": "HF_ENDPOINT", "value": "https://huggingface.co"}]


def _chart_upstream(r: dict[str, Any]) -> None:
    r["inputs"]["chart"] = "external-secrets"
    r["inputs"]["repositoryOpts"] = {"repo": "https://charts.external-secrets.io"}


def _chart_value_image_upstream(r: dict[str, Any]) -> None:
    r["inputs"]["values"]["image"]["repository"] = "ghcr.io/external-secrets/external-secrets"


def _set_env(c: dict[str, Any], name: str, value: str) -> None:
    key = "environment" if "environment" in c else "env"
    c[key] = [e for e in c.get(key) or [] if e.get("name") != name] + [{"name": name, "value": value}]


def _marketplace_on(c: dict[str, Any]) -> None:
    if "langgenius/dify-api" in c.get("image", ""):
        _set_env(c, "MARKETPLACE_ENABLED", "true")


def _marketplace_link_abroad(c: dict[str, Any]) -> None:
    _set_env(c, "MARKETPLACE_URL", "https://marketplace.dify.ai")


def _dify_api(r: dict[str, Any]) -> bool:
    return _is_app_task(r) and any("langgenius/dify-api" in c.get("image", "") for c in _container_lists(r))


def _litellm(r: dict[str, Any]) -> bool:
    return r["type"] in ("kubernetes:apps/v1:Deployment", "aws:ecs/taskDefinition:TaskDefinition") and any("berriai/litellm" in c.get("image", "") for c in _container_lists(r))


def _drop_env(name: str) -> Callable[[dict[str, Any]], None]:
    def edit(c: dict[str, Any]) -> None:
        for key in ("environment", "env"):
            if isinstance(c.get(key), list):
                c[key] = [e for e in c[key] if e.get("name") != name]

    return edit


def _grafana_analytics_default(r: dict[str, Any]) -> None:
    del r["inputs"]["values"]["grafana"]["grafana.ini"]


EVASIONS: list[tuple[str, str, Callable[[dict[str, Any]], bool], Callable[[dict[str, Any]], None] | None, Callable[[dict[str, Any]], None] | None]] = [
    # (id, cn example, which resource, container edit, resource edit)
    ("ecs-image-from-docker-hub", "poc-aws-cn", _is_app_task, _upstream_image, None),
    ("container-app-image-from-docker-hub", "poc-azure-cn", _is_app_task, _upstream_image, None),
    ("plugin-daemon-without-index", "poc-aws-cn", _plugin_daemon, _no_pip_index, None),
    ("vllm-from-hugging-face", "scale-aws-cn", _vllm, _hugging_face, None),
    ("vllm-hf-endpoint-abroad", "scale-azure-cn", _vllm, _hf_endpoint_abroad, None),
    ("dify-marketplace-on", "poc-aws-cn", _dify_api, _marketplace_on, None),
    ("dify-marketplace-on-azure", "poc-azure-cn", _dify_api, _marketplace_on, None),
    ("console-marketplace-link-abroad", "poc-azure-cn", _is_app_task, _marketplace_link_abroad, None),
    ("litellm-price-map-from-github", "scale-aws-cn", _litellm, _drop_env("LITELLM_LOCAL_MODEL_COST_MAP"), None),
    ("litellm-price-map-from-github-ecs", "beta-aws-cn", _litellm, _drop_env("LITELLM_LOCAL_MODEL_COST_MAP"), None),
    ("dify-update-check-abroad", "poc-aws-cn", _dify_api, _drop_env("CHECK_UPDATE_URL"), None),
    ("dify-templates-from-tmpl-dify-ai", "poc-azure-cn", _dify_api, lambda c: _set_env(c, "HOSTED_FETCH_APP_TEMPLATES_MODE", "remote"), None),
    ("grafana-calls-home", "scale-azure-cn", lambda r: r["type"] == "kubernetes:helm.sh/v3:Release" and r["name"] == "monitoring-prometheus-stack", None, _grafana_analytics_default),
    ("chart-from-upstream-repo", "scale-aws-cn", lambda r: r["type"] == "kubernetes:helm.sh/v3:Release" and r["name"] == "secret-sync-operator", None, _chart_upstream),
    ("chart-image-from-ghcr", "scale-azure-cn", lambda r: r["type"] == "kubernetes:helm.sh/v3:Release" and r["name"] == "secret-sync-operator", None, _chart_value_image_upstream),
]


@pytest.mark.parametrize(("case", "base", "which", "container_edit", "resource_edit"), EVASIONS, ids=[e[0] for e in EVASIONS])
def test_a_source_abroad_in_a_cn_plan_is_flagged_naming_the_resource(
    case: str, base: str, which: Callable[[dict[str, Any]], bool], container_edit: Callable[[dict[str, Any]], None] | None, resource_edit: Callable[[dict[str, Any]], None] | None, audit: Auditor
) -> None:
    graph = _real(base)
    target = _first(graph, which)
    if container_edit:
        _edit_containers(target, container_edit)
    if resource_edit:
        resource_edit(target)
    assert_violation(audit(graph, "cn"), RULE, target["urn"])


def test_the_rule_holds_outside_cn_too_only_when_asked(audit: Auditor) -> None:
    """Outside a mainland profile the rule is silent: upstream registries are fine in eu."""
    assert not violations(audit(_real("poc-aws"), "eu"), RULE)


# ------------------------------------------------------------------ the images command


@pytest.mark.parametrize("case", list(MALFORMED_GRAPHS))
def test_images_malformed_graph_exits_2(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["images", "--plan", str(_write(tmp_path, "graph.json", MALFORMED_GRAPHS[case]))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err


def test_images_without_stack_or_plan_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["images"]) == 2
    assert "name a STACK" in capsys.readouterr().err


def test_images_json_lists_upstreams_and_copy_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    graph = _real("poc-aws-cn")
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(graph))
    assert main(["images", "--plan", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pythonIndex"] == _mirrors("poc-aws-cn").python_index
    assert result["images"] and all(i["upstream"].startswith("docker.io/") and i["copy"] for i in result["images"]), result["images"]


# ------------------------------------------------------------------ pull rights on private mirrors

ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
K8S_PROVIDER = "pulumi:providers:kubernetes"


def _by_urn(resources: list[Any]) -> dict[str, Any]:
    return {r.urn: r for r in resources}


def _acr_pull_grants(resources: list[Any], registry_id: str) -> list[Any]:
    return [
        r
        for r in resources
        if r.type == ROLE_ASSIGNMENT
        and r.inputs.get("roleDefinitionId", "").endswith(f"/roleDefinitions/{ROLE_ACR_PULL}")
        and r.inputs.get("scope") == registry_id
        and r.inputs.get("principalType") == "ServicePrincipal"
    ]


def _provider_urn(r: Any) -> str | None:
    return r.provider.rsplit("::", 1)[0] if r.provider else None


def azure_pull_problems(resources: list[Any], registry_id: str | None) -> list[str]:
    """Every identity that pulls from an Azure Container Registry mirror holds AcrPull on that
    registry before its workload starts: each Container App's registry identity (the grant names
    that identity's principal and the app depends on the grant) and the AKS kubelet identity (the
    grant takes the cluster's kubelet object id and the Kubernetes provider waits for it)."""
    index = _by_urn(resources)
    identities = {r.inputs.get("resourceName"): r for r in resources if r.type == "azure-native:managedidentity:UserAssignedIdentity"}
    grants = _acr_pull_grants(resources, registry_id or "-")
    problems = []
    for r in resources:
        acr_hosts = {registry_host(ref) for _, ref in planned_images(r.type, r.inputs) if acr_name(ref)}
        if not acr_hosts:
            continue
        if registry_id is None:
            problems.append(f"{r.urn} pulls from {sorted(acr_hosts)} but the stack names no registry id")
            continue
        if r.type.startswith("azure-native:app:ContainerApp"):
            registries = {e.get("server"): e.get("identity") for e in (r.inputs.get("configuration") or {}).get("registries") or []}
            for host in acr_hosts:
                identity = identities.get(str(registries.get(host, "")).rsplit("/", 1)[-1])
                if identity is None:
                    problems.append(f"{r.urn} pulls from {host} with no user-assigned identity of the stack")
                    continue
                mine = [g.urn for g in grants if identity.urn in g.dependencies]
                if not set(mine) & set(r.dependencies):
                    problems.append(f"{r.urn} pulls from {host} as {identity.name}, which has no AcrPull on {registry_id} before the app")
        elif r.type.startswith("kubernetes:"):
            provider = index.get(_provider_urn(r) or "")
            kubelet = [g.urn for g in grants if g.inputs.get("principalId") == MOCK_KUBELET_OBJECT_ID and any(index[d].type == "azure-native:containerservice:ManagedCluster" for d in g.dependencies if d in index)]
            if provider is None or not set(kubelet) & set(provider.dependencies):
                problems.append(f"{r.urn} pulls from {sorted(acr_hosts)} on nodes whose kubelet identity has no AcrPull on {registry_id} before the workloads")
    return problems


def aws_pull_problems(resources: list[Any], image_registry: str | None) -> list[str]:
    """Every identity that pulls from an ECR mirror may: EKS nodes (their role carries
    AmazonEC2ContainerRegistryPullOnly/ReadOnly before the node group exists) and ECS tasks (the
    execution role has ecr:BatchGetImage on each mirrored repository before the service)."""
    registry = ecr_registry(image_registry)
    if registry is None:
        return []
    index = _by_urn(resources)
    problems = []
    for r in resources:
        if r.type == "aws:eks/nodeGroup:NodeGroup":
            attached = [index[d] for d in r.dependencies if d in index and index[d].type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment"]
            if not any(a.inputs.get("policyArn", "").endswith(("/AmazonEC2ContainerRegistryPullOnly", "/AmazonEC2ContainerRegistryReadOnly")) for a in attached):
                problems.append(f"{r.urn}: the nodes' role has no ECR pull policy attached before the node group")
        if r.type == "aws:ecs/service:Service":
            task = next((index[d] for d in r.dependencies if d in index and index[d].type == "aws:ecs/taskDefinition:TaskDefinition"), None)
            if task is None:
                continue
            repositories = {ref.split("/", 1)[1].rsplit(":", 1)[0] for _, ref in planned_images(task.type, task.inputs) if ecr_registry(ref) == registry}
            policies = [json.loads(index[d].inputs["policy"]) for d in r.dependencies if d in index and index[d].type == "aws:iam/rolePolicy:RolePolicy"]
            granted = {
                arn.split(":repository/", 1)[1]
                for p in policies
                for s in p["Statement"]
                if "ecr:BatchGetImage" in s["Action"]
                for arn in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
                if f":{registry.region}:{registry.account}:repository/" in arn
            }
            if repositories - granted:
                problems.append(f"{r.urn} pulls {sorted(repositories - granted)} from {image_registry} without ecr:BatchGetImage on them before the service")
    return problems


def _registry_id(case_id: str) -> str | None:
    return (case_config(CASES[case_id])["config"].get("llm-platform:mirrors") or {}).get("azureRegistryId")


ACR_CASES = [c for c in AZURE_CASES if acr_name(_mirrors(c).image_registry)]
ECR_CASES = [c for c in AWS_CASES if ecr_registry(_mirrors(c).image_registry)]


def test_the_matrix_has_private_mirrors_on_both_clouds() -> None:
    assert any(c in SCALE_CASES for c in ACR_CASES) and any(c not in SCALE_CASES for c in ACR_CASES)
    assert any(c in SCALE_CASES for c in ECR_CASES) and any(c not in SCALE_CASES for c in ECR_CASES)


def _without(resources: list[Any], removed: list[Any]) -> list[Any]:
    """The plan with these resources taken out, as if the program had not created them."""
    gone = {r.urn for r in removed}
    return [dataclasses.replace(r, dependencies=[d for d in r.dependencies if d not in gone]) for r in resources if r.urn not in gone]


@pytest.mark.parametrize("case_id", ACR_CASES)
def test_azure_identities_that_pull_hold_acr_pull_first(case_id: str) -> None:
    resources = plan_for(case_id).resources
    registry_id = _registry_id(case_id)
    assert not azure_pull_problems(resources, registry_id)
    grants = _acr_pull_grants(resources, str(registry_id))
    assert grants
    for grant in grants:  # each grant is needed: without it some pull fails
        assert azure_pull_problems(_without(resources, [grant]), registry_id), f"{grant.urn} is not needed"


@pytest.mark.parametrize("case_id", ECR_CASES)
def test_aws_identities_that_pull_may_pull_from_ecr_first(case_id: str) -> None:
    resources = plan_for(case_id).resources
    image_registry = _mirrors(case_id).image_registry
    assert not aws_pull_problems(resources, image_registry)
    registry = ecr_registry(image_registry)
    assert registry is not None
    mirror_repositories = f":{registry.region}:{registry.account}:repository/"  # not SageMaker's own ECR
    pulls = [
        r
        for r in resources
        if (r.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment" and "ContainerRegistry" in r.inputs.get("policyArn", ""))
        or (r.type == "aws:iam/rolePolicy:RolePolicy" and "ecr:BatchGetImage" in r.inputs.get("policy", "") and mirror_repositories in r.inputs["policy"])
    ]
    assert pulls
    for grant in pulls:
        assert aws_pull_problems(_without(resources, [grant]), image_registry), f"{grant.urn} is not needed"


# ------------------------------------------------------------------ Helm's login to a private chart mirror


@pytest.mark.parametrize("case_id", [c for c in CASE_IDS if c in SCALE_CASES and ecr_registry(_mirrors(c).helm_repository)])
def test_releases_log_in_to_an_ecr_chart_mirror_with_a_secret_token(case_id: str) -> None:
    """The pulumi-kubernetes Release logs in to an OCI chart host with repositoryOpts
    username/password (provider 4.27.0+); ECR takes user AWS and a GetAuthorizationToken password,
    asked once per run of the stack's own provider."""
    plan = plan_for(case_id)
    releases = [r for r in plan.resources if r.type == "kubernetes:helm.sh/v3:Release"]
    assert releases
    for r in releases:
        opts = r.inputs.get("repositoryOpts") or {}
        assert opts.get("username") == ECR_USERNAME and "repo" not in opts, f"{r.urn}: {opts}"
        assert isinstance(opts.get("password"), dict) and opts["password"].get("value") == "[secret]", f"{r.urn}: the password is not a secret"
    json_text = json.dumps(plan.to_json())
    assert "offline-ecr-token" not in json_text


ACR_LOGIN_SCRIPT = Path(__file__).resolve().parent.parent / ".github/scripts/helm-acr-login.sh"


def _acr_login_steps() -> list[tuple[str, dict[str, Any]]]:
    """(workflow file, step) for every step that runs the ACR chart-mirror login: the deploy
    action's and the preview workflow's (previews load charts too)."""
    import yaml

    root = Path(__file__).resolve().parent.parent
    action = yaml.safe_load((root / ".github/actions/pulumi-up/action.yml").read_text())["runs"]["steps"]
    preview = yaml.safe_load((root / ".github/workflows/preview.yml").read_text())["jobs"]
    steps = [("action", s) for s in action] + [("preview", s) for job in preview.values() for s in job.get("steps", [])]
    return [(where, s) for where, s in steps if ".github/scripts/helm-acr-login.sh" in s.get("run", "")]


def _run_login_step(tmp_path: Path, helm_repository: str | None) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """Runs the action's login script with stub `az` and `helm` that record their arguments."""
    root = tmp_path / "repo"
    (root / "stacks").mkdir(parents=True)
    (root / ".venv/bin").mkdir(parents=True)
    (root / ".venv/bin/python").symlink_to(sys.executable)
    mirrors = {"helmRepository": helm_repository} if helm_repository else {}
    (root / "stacks/Pulumi.s.yaml").write_text(json.dumps({"config": {"llm-platform:mirrors": mirrors}}))
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    stubs = {"az": 'printf "%s" acr-refresh-token', "helm": f'cat > "{tmp_path}/helm-stdin"'}
    for tool, body in stubs.items():
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\n{body}\n')
        (bin_dir / tool).chmod(0o755)
    env_file = tmp_path / "github_env"
    env_file.touch()
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "STACK": "s", "RUNNER_TEMP": str(tmp_path), "GITHUB_ENV": str(env_file), "HOME": str(tmp_path)}
    result = subprocess.run(["bash", str(ACR_LOGIN_SCRIPT)], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    return result, log, env_file


def test_ci_logs_helm_in_to_an_acr_chart_mirror(tmp_path: Path) -> None:
    """Azure: the deploy action exchanges the runner's Entra login for an ACR token and writes a
    Helm registry config that the Kubernetes provider reads (PULUMI_K8S_HELM_REGISTRY_CONFIG_PATH)."""
    steps = dict(_acr_login_steps())
    assert steps.get("action", {}).get("if") == "inputs.cloud == 'azure' && inputs.phase == 'scale'", "the deploy action logs Helm in"
    assert steps.get("preview", {}).get("if") == "matrix.cloud == 'azure' && matrix.phase == 'scale'", "previews load charts too"
    result, log, env_file = _run_login_step(tmp_path, "oci://llmplatformcn.azurecr.cn/charts")
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == "az acr login --name llmplatformcn --expose-token --output tsv --query accessToken"
    assert calls[1].startswith("helm registry login llmplatformcn.azurecr.cn --registry-config ") and "--username 00000000-0000-0000-0000-000000000000 --password-stdin" in calls[1]
    assert "::add-mask::acr-refresh-token" in result.stdout and "acr-refresh-token" not in log.read_text()
    assert (tmp_path / "helm-stdin").read_text().strip() == "acr-refresh-token"  # the password goes through stdin
    config = calls[1].split("--registry-config ", 1)[1].split(" ", 1)[0]
    assert env_file.read_text().strip() == f"PULUMI_K8S_HELM_REGISTRY_CONFIG_PATH={config}"


@pytest.mark.parametrize("repository", [None, "oci://123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn/charts", "oci://registry.cn-hangzhou.aliyuncs.com/acme/charts"])
def test_ci_login_step_does_nothing_for_other_chart_sources(repository: str | None, tmp_path: Path) -> None:
    result, log, env_file = _run_login_step(tmp_path, repository)
    assert result.returncode == 0, result.stderr
    assert not log.exists() and env_file.read_text() == ""


# ------------------------------------------------------------------ Dify's plugin marketplace


@pytest.mark.parametrize("case_id", [c for c in CASE_IDS if c in CN_CASES])
def test_dify_marketplace_is_off_in_mainland_china(case_id: str) -> None:
    """Dify 1.x installs plugins from marketplace.dify.ai (abroad) unless MARKETPLACE_ENABLED is
    false; under a mainland profile without a declared plugin marketplace it is off, and no
    container names the marketplace."""
    seen = False
    for _, type_, inputs in _resources(case_id):
        for c in planned_containers(type_, inputs):
            if "langgenius/dify-api" in (c.image or ""):
                seen = True
                assert c.env.get("MARKETPLACE_ENABLED") == "false", f"{c.path}: MARKETPLACE_ENABLED {c.env.get('MARKETPLACE_ENABLED')!r}"
            for key in ("MARKETPLACE_API_URL", "MARKETPLACE_URL"):
                assert "marketplace.dify.ai" not in (c.env.get(key) or ""), f"{c.path}.{key}"
    if not seen:
        pytest.skip("not a Dify stack")
