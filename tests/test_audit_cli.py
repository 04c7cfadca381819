"""`python -m scripts audit` as a user runs it, on real plans and on bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from policies.llm_guard.rules import load_rules
from scripts.engine import Plan
from tests.conftest import ROOT, run_cli
from tests.sdk_schema import taggable


def test_example_stacks_pass_the_audit() -> None:
    for stack in ("poc-aws", "poc-azure"):
        result = run_cli("audit", stack, "--json")
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr
        report = json.loads(result.stdout)
        assert report["summary"]["passed"] is True and report["summary"]["violations"] == 0
        assert report["profile"] == "eu" and len(report["rules"]) == len(load_rules())


def test_non_compliant_override_is_named_by_the_right_rule(make_variant: Callable[..., Path], tmp_path: Path) -> None:
    """A valid stack config (global profile, US region) audited against the EU policy config."""
    path = make_variant("poc-aws", "drifted-us", {"llm-platform:residency": "global", "aws:region": "us-east-1"})
    plan = run_cli("plan", str(path), "--json")
    assert plan.returncode == 0, plan.stderr
    graph_file = tmp_path / "plan.json"
    graph_file.write_text(plan.stdout)
    result = run_cli("audit", "--plan", str(graph_file), "--policy-config", str(ROOT / "policies/config/eu.json"), "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    rules = {v["rule"] for v in report["violations"]}
    assert {"residency-region", "required-tags"} <= rules
    key = next(v for v in report["violations"] if v["rule"] == "residency-region" and v["urn"].endswith("aws:kms/key:Key::platform-key-key"))
    assert key["property"] == "provider.region" and "us-east-1" in key["value"]
    assert key["fix"].startswith("Deploy to one of: eu-central-1")
    # The same plan under its own profile passes.
    own = run_cli("audit", "--plan", str(graph_file))
    assert own.returncode == 0, own.stdout[-1500:]


def test_audit_text_output_names_rule_resource_property_value_and_fix(make_variant: Callable[..., Path]) -> None:
    path = make_variant("poc-azure", "drifted-tags", {"llm-platform:residency": "global"})
    result = run_cli("audit", str(path), "--profile", "eu")
    assert result.returncode == 1
    out = result.stdout
    for label in ("MANDATORY", "required-tags", "resource: urn:pulumi:drifted-tags::llm-platform::", "property: tags.data-residency", "value:    'global'", "fix:      Tag data-residency=eu.", "Summary: FAILED"):
        assert label in out, label


@pytest.mark.parametrize(
    ("content", "args", "fragment"),
    [
        (None, ("--plan", "/nonexistent/plan.json"), "does not exist"),
        ("{not json", None, "is not valid JSON"),
        ('{"resources": []}', None, "has no resources"),
        ('{"stack": "x"}', None, "is not a recorded graph"),
        ('{"resources": [{"urn": 3}]}', None, "needs at least 'urn' and 'type'"),
        ('{"config": {}, "resources": [{"urn": "urn:pulumi:s::p::aws:s3/bucket:Bucket::b", "type": "aws:s3/bucket:Bucket", "inputs": {}}]}', None, "no residency profile"),
    ],
)
def test_bad_audit_input_exits_2(content: str | None, args: tuple[str, ...] | None, fragment: str, tmp_path: Path) -> None:
    if args is None:
        path = tmp_path / "plan.json"
        path.write_text(content or "")
        args = ("--plan", str(path))
    result = run_cli("audit", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr and "\n" not in result.stderr.strip()


def test_unknown_profile_exits_2(tmp_path: Path, plan_of: Callable[..., Plan]) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan_of("poc-azure").to_json()))
    result = run_cli("audit", "--plan", str(path), "--profile", "mars")
    assert result.returncode == 2
    assert "unknown residency profile 'mars'" in result.stderr


def test_policy_config_files_are_current() -> None:
    for name in ("cn", "eu", "eu-strict", "us", "global"):
        result = run_cli("policy-config", name)
        assert result.returncode == 0
        assert (ROOT / "policies" / "config" / f"{name}.json").read_text() == result.stdout, f"run `python -m scripts policy-config --write` ({name})"


def test_taggable_data_matches_the_pinned_sdks(plan_of: Callable[..., Plan]) -> None:
    import subprocess
    import sys

    check = subprocess.run([sys.executable, "-m", "scripts.audit.policy_data", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    data = json.loads((ROOT / "policies/llm_guard/data/taggable.json").read_text())["taggable"]
    for plan in (plan_of("poc-aws"), plan_of("poc-azure")):
        for res in plan.resources:
            if res.custom and res.type.split(":")[0] in ("aws", "azure-native"):
                assert (res.type in data) == taggable(res.type), res.type
