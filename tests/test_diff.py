"""`scripts diff`: replacements, named env changes, whole values, tag handling and gateway models."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.engine import Plan
from scripts.ops.diff import diff_graphs, replacement_paths
from tests.conftest import run_cli

URN = "urn:pulumi:s::llm-platform::{type}::{name}"


def _graph(*resources: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    return {"resources": [{"urn": URN.format(type=t, name=n), "type": t, "custom": True, "inputs": i} for t, n, i in resources]}


def _write(tmp_path: Path, name: str, graph: dict[str, Any]) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(graph))
    return str(path)


@pytest.fixture(scope="module")
def promotion(plan_of: Callable[..., Plan], tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    out = tmp_path_factory.mktemp("promotion")
    paths = []
    for stack in ("poc-aws", "beta-aws"):
        path = out / f"{stack}.json"
        path.write_text(json.dumps(plan_of(stack, "promoted").to_json()))
        paths.append(str(path))
    return paths[0], paths[1]


def test_replacement_table_is_sourced_and_names_wire_paths() -> None:
    table = yaml.safe_load(Path("scripts/data/replacements.yaml").read_text(encoding="utf-8"))["types"]
    assert "aws:lb/loadBalancer:LoadBalancer" in table
    for token, entry in table.items():
        assert entry.get("source"), f"{token} has no source"
        for path in entry["replace_on"]:
            assert "_" not in path.split(".")[0], f"{token}: {path} is not a wire (camelCase) name"
    assert "internal" in replacement_paths()["aws:lb/loadBalancer:LoadBalancer"]


def test_promotion_shows_the_alb_replacement(promotion: tuple[str, str]) -> None:
    result = run_cli("diff", *promotion, "--json")
    assert result.returncode == 0, result.stderr
    diff = json.loads(result.stdout)
    lb = next(r for r in diff["resources"] if r["type"] == "aws:lb/loadBalancer:LoadBalancer")
    assert lb["action"] == "replace"
    assert {"path": "internal", "before": "false", "after": "true", "replaces": True, "may_replace": ""} in lb["changes"]
    text = run_cli("diff", *promotion).stdout
    assert "+- aws:lb/loadBalancer:LoadBalancer app-lb" in text and "internal: false => true  (forces replacement)" in text


def test_env_changes_are_named_by_variable(promotion: tuple[str, str]) -> None:
    diff = json.loads(run_cli("diff", *promotion, "--json").stdout)
    task = next(r for r in diff["resources"] if r["type"] == "aws:ecs/taskDefinition:TaskDefinition" and r["urn"].endswith("::app-api"))
    paths = [c["path"] for c in task["changes"]]
    assert any(p.startswith("containerDefinitions[api].environment[") for p in paths), paths
    assert not any("environment[" in p and p.split("environment[")[1][0].isdigit() for p in paths)


def test_tag_only_changes_do_not_fail_and_can_be_left_out(promotion: tuple[str, str]) -> None:
    diff = json.loads(run_cli("diff", *promotion, "--json").stdout)
    bucket = next(r for r in diff["resources"] if r["urn"].endswith("::app-files-bucket"))
    assert bucket["tags_only"] and not bucket["flagged"]
    ignored = json.loads(run_cli("diff", *promotion, "--json", "--ignore-tags").stdout)
    assert not any(r["urn"].endswith("::app-files-bucket") for r in ignored["resources"])
    assert not any(c["path"].startswith("tags") for r in ignored["resources"] for c in r["changes"])


def test_fail_on_stateful_ignores_tags_but_not_replacements(tmp_path: Path) -> None:
    key = "aws:kms/key:Key"
    base = _graph((key, "k", {"tags": {"phase": "poc"}, "description": "d"}))
    tags_only = _graph((key, "k", {"tags": {"phase": "beta"}, "description": "d"}))
    moved = _graph((key, "k", {"tags": {"phase": "poc"}, "description": "d", "region": "eu-west-1"}))
    a, b, c = _write(tmp_path, "a", base), _write(tmp_path, "b", tags_only), _write(tmp_path, "c", moved)
    assert run_cli("diff", a, b, "--fail-on-stateful").returncode == 0
    result = run_cli("diff", a, c, "--fail-on-stateful", "--json")
    assert result.returncode == 1
    (resource,) = json.loads(result.stdout)["resources"]
    assert resource["action"] == "replace" and resource["flagged"]


def test_policy_statements_are_matched_by_sid() -> None:
    t = "aws:kms/key:Key"

    def key(*sids: str) -> dict[str, Any]:
        statements = [{"Sid": sid, "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"} for sid in sids]
        return _graph((t, "k", {"policy": json.dumps({"Version": "2012-10-17", "Statement": statements})}))

    (change,) = diff_graphs(key("Root", "Logs"), key("Root", "Logs", "Bedrock")).resources[0].changes
    assert change.path == "policy.Statement[Bedrock]" and change.before == "(absent)"


def test_changed_values_are_shown_whole() -> None:
    long_before = "x" * 150 + "-before"
    long_after = "x" * 150 + "-after"
    t = "aws:ssm/parameter:Parameter"
    diff = diff_graphs(_graph((t, "p", {"value": long_before})), _graph((t, "p", {"value": long_after})))
    (change,) = diff.resources[0].changes
    assert change.before == long_before and change.after == long_after


def _gateway(models: list[str]) -> dict[str, Any]:
    config = yaml.safe_dump({"model_list": [{"model_name": m, "litellm_params": {"model": f"openai/{m}"}} for m in models]})
    return _graph(("kubernetes:core/v1:ConfigMap", "gateway-config", {"data": {"config.yaml": config}}))


def test_a_promotion_that_drops_a_gateway_model_is_warned(tmp_path: Path) -> None:
    a = _write(tmp_path, "a", _gateway(["chat", "embeddings"]))
    b = _write(tmp_path, "b", _gateway(["chat"]))
    result = run_cli("diff", a, b, "--markdown")
    assert result.returncode == 0
    assert "[!WARNING]" in result.stdout and "embeddings" in result.stdout
    assert diff_graphs(_gateway(["chat"]), _gateway(["chat", "code"])).warnings == []


def test_conditional_replacements_are_named_with_their_condition() -> None:
    t = "aws:lb/loadBalancer:LoadBalancer"
    diff = diff_graphs(_graph((t, "nlb", {"subnets": ["a", "b"]})), _graph((t, "nlb", {"subnets": ["a", "c"]})))
    (change,) = diff.resources[0].changes
    assert not change.replaces and "loadBalancerType=network" in change.may_replace
    assert diff.resources[0].action == "update"
