"""`new-stack` and `promote`: a user's own stack for any cloud, phase and built-in profile, valid
as `plan` judges it, and its promotion keeping every stateful resource."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from scripts.__main__ import main
from scripts.engine import plan_stack, read_stack_file
from scripts.ops.new_stack import STACKS_DIR, NewStackError, new_stack, promote, promotion_diff
from stacks.config import load_config

PROFILES = ("eu", "us", "global", "cn")


@pytest.fixture
def stacks_dir(tmp_path: Path) -> Path:
    """A copy of the examples, so generated stacks never land in the repository."""
    for path in STACKS_DIR.glob("Pulumi.*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def _config(path: Path):
    stack = read_stack_file(str(path))
    return load_config(stack.config, stack.secret_keys)


@pytest.mark.parametrize("residency", PROFILES)
@pytest.mark.parametrize("phase", ["poc", "beta", "scale"])
@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_new_stack_is_valid_for_every_cloud_phase_and_profile(stacks_dir: Path, cloud: str, phase: str, residency: str) -> None:
    path = new_stack(f"my-{cloud}-{phase}-{residency}", cloud, phase, residency, stacks_dir=stacks_dir)
    config = _config(path)
    assert (config.cloud.value, config.phase.value, config.residency) == (cloud, phase, residency)
    profile = config.profile
    assert config.region in (profile.aws_regions if cloud == "aws" else profile.azure_regions)
    assert all(profile.allows_api_provider(p) for p in config.poc.api_providers)
    assert config.budget.currency == ("CNY" if residency == "cn" else config.budget.currency)
    assert not config.bedrock_invocation_logging, "a new stack must not take over the account's Bedrock logging singleton"
    text = path.read_text()
    assert "# the data-residency profile" in text, "every top-level key carries a comment"


def test_new_stack_refuses_impossible_choices_with_plans_messages(stacks_dir: Path) -> None:
    # Claude Sonnet 4.6 is served in Frankfurt only through cross-region profiles, which eu-strict forbids.
    with pytest.raises(Exception, match=r"beta\.bedrock\.models\[0\]\.model.*eu-strict"):
        new_stack("strict", "aws", "beta", "eu-strict", stacks_dir=stacks_dir)
    assert not (stacks_dir / "Pulumi.strict.yaml").exists(), "a refused stack leaves no file behind"
    with pytest.raises(Exception, match=r"aws:region.*us-east-1"):
        new_stack("wrong-region", "aws", "poc", "eu", region="us-east-1", stacks_dir=stacks_dir)
    with pytest.raises(NewStackError, match="built-in"):
        new_stack("custom", "aws", "poc", "de", stacks_dir=stacks_dir)
    new_stack("once", "aws", "poc", "eu", stacks_dir=stacks_dir)
    with pytest.raises(NewStackError, match="exists"):
        new_stack("once", "aws", "poc", "eu", stacks_dir=stacks_dir)
    with pytest.raises(NewStackError, match="stack name"):
        new_stack("../escape", "aws", "poc", "eu", stacks_dir=stacks_dir)


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_promotion_keeps_the_poc_and_replaces_nothing_stateful(stacks_dir: Path, cloud: str) -> None:
    name = f"team-{cloud}"
    path = new_stack(name, cloud, "poc", "us", stacks_dir=stacks_dir)
    poc_section = yaml.safe_load(path.read_text())["config"]["llm-platform:poc"]
    for phase in ("beta", "scale"):
        _, before, _ = promote(name, phase, stacks_dir=stacks_dir)
        after = yaml.safe_load(path.read_text())["config"]
        assert after["llm-platform:phase"] == phase
        kept = {k: v for k, v in after["llm-platform:poc"].items() if k != "network"}
        assert kept == {k: v for k, v in poc_section.items() if k != "network"}, "promotion keeps the PoC's app and providers"
        diff = promotion_diff(name, before, path, stacks_dir=stacks_dir)
        lost = [r.urn for r in diff.resources if r.stateful and r.action in ("delete", "replace")]
        assert not lost, f"promotion to {phase} deletes or replaces stateful resources: {lost}"
        assert diff.of("create"), f"promotion to {phase} creates nothing"
    with pytest.raises(NewStackError, match="phase 'scale'"):
        promote(name, "scale", stacks_dir=stacks_dir)


def test_cli_round_trip_plans_and_exits_2_on_bad_input(stacks_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("scripts.ops.new_stack.STACKS_DIR", stacks_dir)
    assert main(["new-stack", "cli", "--cloud", "aws", "--phase", "poc", "--residency", "us"]) == 0
    plan = plan_stack(str(stacks_dir / "Pulumi.cli.yaml"))
    assert plan.resources
    assert main(["new-stack", "cli2", "--cloud", "gcp", "--phase", "poc", "--residency", "us"]) == 2
    assert "--cloud 'gcp'" in capsys.readouterr().err


def test_promote_of_a_malformed_stack_file_exits_2_in_one_line(stacks_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("scripts.ops.new_stack.STACKS_DIR", stacks_dir)
    (stacks_dir / "Pulumi.broken.yaml").write_text("config:\n  llm-platform:phase: poc\n   bad: [\n")
    assert main(["promote", "broken", "--to", "beta"]) == 2
    err = capsys.readouterr().err
    assert "not valid YAML" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
