"""Mirrors (issue 11 item 2): everything a stack pulls goes through `llm-platform:mirrors`; under a
mainland-China profile every source is in the country, refused by the config (exit 2) and flagged
by the policy pack on the plan; `python -m scripts images` copies exactly what the plan pulls."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from components.k8s.addons import CHART_IMAGES
from components.mirrors import Mirrors, full_reference, mirrored_image, upstream_of
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
from scripts.images import report
from tests.conftest import run_cli
from tests.plan_matrix import CASE_IDS, CASES, case_config, plan_for
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
                assert chart.startswith(mirrors.helm_repository.rstrip("/") + "/") and not inputs.get("repositoryOpts"), f"{urn} installs {chart}"
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


EVASIONS: list[tuple[str, str, Callable[[dict[str, Any]], bool], Callable[[dict[str, Any]], None] | None, Callable[[dict[str, Any]], None] | None]] = [
    # (id, cn example, which resource, container edit, resource edit)
    ("ecs-image-from-docker-hub", "poc-aws-cn", _is_app_task, _upstream_image, None),
    ("container-app-image-from-docker-hub", "poc-azure-cn", _is_app_task, _upstream_image, None),
    ("plugin-daemon-without-index", "poc-aws-cn", _plugin_daemon, _no_pip_index, None),
    ("vllm-from-hugging-face", "scale-aws-cn", _vllm, _hugging_face, None),
    ("vllm-hf-endpoint-abroad", "scale-azure-cn", _vllm, _hf_endpoint_abroad, None),
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
