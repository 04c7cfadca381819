"""CI workflows (actionlint), the plan diff on real recorded graphs, the state bootstrap and the
live residency audit (both against moto)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from scripts.__main__ import main
from scripts.engine import Plan
from scripts.ops.live_audit import ReadOnlyViolation, read_only_guard
from tests.conftest import ROOT, run_cli

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
REQUIRED = {"cost-center": "ai-platform", "owner": "platform-team@example.com", "phase": "beta", "data-residency": "eu"}


def _actionlint() -> str:
    found = Path(sys.executable).parent / "actionlint"
    return str(found) if found.exists() else shutil.which("actionlint") or pytest.fail("actionlint is not installed (requirements-dev.txt)")


# ------------------------------------------------------------------------------ workflows


def test_actionlint_passes_on_every_workflow() -> None:
    assert {p.name for p in WORKFLOWS} == {"preview.yml", "deploy.yml", "offline.yml"}
    result = subprocess.run([_actionlint(), *map(str, WORKFLOWS)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = yaml.safe_load((ROOT / ".github/workflows/preview.yml").read_text())
    broken["jobs"]["preview"]["steps"][-1]["with"]["policy-packs"] = "policies"  # not an input of pulumi/actions
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken).replace("'on'", "on").replace("true:", "on:"))
    result = subprocess.run([_actionlint(), str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "policy-packs" in result.stdout


def _workflow(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / ".github/workflows" / name).read_text())


def _pulumi_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in steps if str(s.get("uses", "")).startswith("pulumi/actions@")]


STACK_FILES = {p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml")}
ACTION_INPUTS = json.loads((ROOT / "tests/fixtures/github_action_inputs.json").read_text())["actions"]


def _action() -> dict[str, Any]:
    return yaml.safe_load((ROOT / ".github/actions/pulumi-up/action.yml").read_text())


def _step(steps: list[dict[str, Any]], uses: str) -> dict[str, Any]:
    (step,) = [s for s in steps if s.get("uses") == uses]
    return step


def test_ci_matrix_lists_every_stack_file_with_its_login() -> None:
    """Every stack file (examples and user stacks) is previewed and deployed: the workflows take
    their matrix from scripts.ops.ci_matrix, which reads stacks/."""
    from scripts.ops.ci_matrix import matrix

    result = matrix()
    assert {e["stack"] for e in result["all"]} == STACK_FILES
    for phase in ("poc", "beta", "scale"):
        assert all(e["phase"] == phase for e in result[phase])
    assert sum(len(result[p]) for p in ("poc", "beta", "scale")) == len(result["all"])
    for entry in result["all"]:
        config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{entry['stack']}.yaml").read_text())["config"]
        china = config.get("aws:region", "").startswith("cn-") or config.get("azure-native:environment") == "china"
        assert entry["china"] is china, entry
        assert entry["policy_config"] == "" or (ROOT / entry["policy_config"]).exists()


def test_ci_matrix_refuses_a_stack_name_that_could_inject(tmp_path: Path) -> None:
    from scripts.ops.ci_matrix import matrix

    (tmp_path / "stacks").mkdir()
    shutil.copy(ROOT / "stacks/Pulumi.poc-aws.yaml", tmp_path / "stacks/Pulumi.$(id).yaml")
    with pytest.raises(ValueError, match="stack names are letters"):
        matrix(tmp_path)


def test_preview_runs_every_stack_with_the_policy_pack_over_oidc() -> None:
    workflow = _workflow("preview.yml")
    job = workflow["jobs"]["preview"]
    assert job["needs"] == "stacks" and job["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.stacks.outputs.all) }}"
    assert "scripts.ops.ci_matrix --github" in workflow["jobs"]["stacks"]["steps"][-1]["run"]
    assert workflow["permissions"]["id-token"] == "write"
    (step,) = _pulumi_steps(job["steps"])
    assert step["uses"] == "pulumi/actions@v7"
    assert step["with"]["command"] == "preview" and step["with"]["comment-on-pr"] is True and step["with"]["diff"] is True
    assert step["with"]["policyPacks"] == "policies"
    assert step["with"]["policyPackConfigs"] == "${{ matrix.policy_config }}"
    assert "vars." in step["with"]["stack-name"] and "vars." in step["with"]["cloud-url"]
    assert "matrix.stack" in job["concurrency"]["group"]
    # No long-lived cloud keys anywhere.
    text = (ROOT / ".github/workflows/preview.yml").read_text()
    assert "aws-access-key-id" not in text and "creds:" not in text


def test_each_stack_logs_in_with_its_own_identity() -> None:
    """Per-stack credentials: every job that logs in runs in a GitHub environment named after the
    stack, so each stack's role/identity variables (and its OIDC subject) are its own."""
    assert _workflow("preview.yml")["jobs"]["preview"]["environment"] == "preview-${{ matrix.stack }}"
    jobs = _workflow("deploy.yml")["jobs"]
    for phase in ("poc", "beta", "scale"):
        assert jobs[phase]["environment"] == "${{ matrix.stack }}"


def test_china_stacks_use_the_china_oidc_audiences_and_cloud() -> None:
    """AWS China: audience sts.amazonaws.com.cn (STS in aws-cn refuses the default); Azure China:
    environment AzureChinaCloud and audience api://AzureADTokenExchangeChina (azure/login does
    not derive it from the environment), for the login actions and the azure-native provider."""
    preview = _workflow("preview.yml")["jobs"]["preview"]["steps"]
    action = _action()["runs"]["steps"]
    for steps, china in ((preview, "matrix.china"), (action, "inputs.china == 'true'")):
        aws = _step(steps, "aws-actions/configure-aws-credentials@v6")["with"]
        assert aws["audience"] == f"${{{{ {china} && 'sts.amazonaws.com.cn' || 'sts.amazonaws.com' }}}}"
        azure = _step(steps, "azure/login@v3")["with"]
        assert azure["environment"] == f"${{{{ {china} && 'AzureChinaCloud' || 'AzureCloud' }}}}"
        assert azure["audience"] == f"${{{{ {china} && 'api://AzureADTokenExchangeChina' || 'api://AzureADTokenExchange' }}}}"
        (pulumi,) = _pulumi_steps(steps)
        assert pulumi["env"]["ARM_OIDC_AUDIENCE"] == azure["audience"]
        guard = next(s for s in steps if s.get("name") == "The stack's credentials belong to its cloud")
        assert "aws:true:arn:aws-cn:iam::*" in guard["run"] and "exit 1" in guard["run"]


@pytest.mark.parametrize("uses", sorted(ACTION_INPUTS))
def test_login_steps_use_inputs_of_the_pinned_action_versions(uses: str) -> None:
    known = set(ACTION_INPUTS[uses]["inputs"])
    steps = [*_workflow("preview.yml")["jobs"]["preview"]["steps"], *_action()["runs"]["steps"]]
    used = [s for s in steps if s.get("uses") == uses]
    assert used
    for step in used:
        assert set(step["with"]) <= known, set(step["with"]) - known


def test_deploy_goes_poc_then_beta_then_scale_behind_environments() -> None:
    jobs = _workflow("deploy.yml")["jobs"]
    assert jobs["poc"]["needs"] == "stacks" and jobs["beta"]["needs"] == ["stacks", "poc"] and jobs["scale"]["needs"] == ["stacks", "beta"]
    for phase in ("poc", "beta", "scale"):
        job = jobs[phase]
        assert job["environment"] == "${{ matrix.stack }}"
        assert job["concurrency"]["cancel-in-progress"] is False
        assert job["strategy"]["matrix"]["include"] == f"${{{{ fromJSON(needs.stacks.outputs.{phase}) }}}}"
        (up,) = [s for s in job["steps"] if s.get("uses") == "./.github/actions/pulumi-up"]
        assert up["with"]["china"] == "${{ matrix.china }}" and up["with"]["phase"] == "${{ matrix.phase }}"
    (step,) = _pulumi_steps(_action()["runs"]["steps"])
    assert step["with"]["command"] == "up" and step["with"]["policyPacks"] == "policies"


def test_offline_workflow_needs_no_credentials() -> None:
    workflow = _workflow("offline.yml")
    assert workflow["permissions"] == {"contents": "read"}
    steps = workflow["jobs"]["offline"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "make test" in runs and "make plan" in runs and "scripts diff" in runs and "GITHUB_STEP_SUMMARY" in runs
    assert "secrets." not in (ROOT / ".github/workflows/offline.yml").read_text()


# ------------------------------------------------------------------------------ plan diff


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory, plan_of: Callable[..., Plan], make_variant: Callable[..., Path]) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("graphs")
    plans = {
        "poc": plan_of("poc-aws", "promoted"),
        "beta": plan_of("beta-aws", "promoted"),
        # The same Beta stack switched to Aurora: the OpenSearch collection goes away.
        "beta-aurora": plan_of(make_variant("beta-aws", "promoted", {"llm-platform:beta": {"vectorStore": {"engine": "aurora-pgvector"}}})),
    }
    paths = {}
    for name, plan in plans.items():
        paths[name] = out / f"{name}.json"
        paths[name].write_text(json.dumps(plan.to_json()))
    return paths


def _diff(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("diff", *args)


def test_diff_of_poc_to_beta(graphs: dict[str, Path]) -> None:
    result = _diff(str(graphs["poc"]), str(graphs["beta"]), "--json")
    assert result.returncode == 0, result.stderr
    diff = json.loads(result.stdout)
    by_name = {r["urn"].rsplit("::", 1)[-1]: r for r in diff["resources"]}
    assert diff["summary"]["delete"] == 0 and diff["summary"]["create"] > 20
    assert by_name["bedrock-guardrail"]["action"] == "create"
    database = by_name["app-db-instance"]
    assert database["action"] == "update" and database["flagged"] and not database["tags_only"]
    assert {"path": "multiAz", "before": "false", "after": "true", "replaces": False, "may_replace": ""} in database["changes"]
    # Every promotion changes the phase tag: reported, but not flagged.
    assert by_name["app-files-bucket"]["tags_only"] and not by_name["app-files-bucket"]["flagged"]
    assert not any(r["action"] == "delete" for r in diff["resources"])
    # Secrets stay masked: the generated and configured secret values never appear.
    assert "offline-placeholder" not in result.stdout


def test_diff_flags_a_deleted_stateful_resource(graphs: dict[str, Path]) -> None:
    result = _diff(str(graphs["beta"]), str(graphs["beta-aurora"]), "--markdown", "--fail-on-stateful")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    deleted = next(line for line in lines if "vectors-collection" in line)
    assert deleted.startswith("| 🔴 | - delete (vector store)")
    assert "[!CAUTION]" in result.stdout
    created = next(line for line in lines if "vectors-cluster" in line)
    assert "| + create |" in created
    text = _diff(str(graphs["beta"]), str(graphs["beta-aurora"]))
    assert text.returncode == 0 and "!! - aws:opensearch/serverlessCollection:ServerlessCollection vectors-collection [stateful: vector store]" in text.stdout


def test_diff_shows_changed_secrets_masked(tmp_path: Path) -> None:
    from policies.llm_guard.location import SECRET_SIG, SIG_KEY

    def graph(value: str) -> dict[str, Any]:
        secret = {SIG_KEY: SECRET_SIG, "value": value}
        return {"resources": [{"urn": "urn:pulumi:s::p::aws:secretsmanager/secretVersion:SecretVersion::key", "type": "aws:secretsmanager/secretVersion:SecretVersion", "inputs": {"secretString": secret}}]}

    (tmp_path / "a.json").write_text(json.dumps(graph("sk-old-value-0001")))
    (tmp_path / "b.json").write_text(json.dumps(graph("sk-new-value-0002")))
    result = _diff(str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json")
    assert result.returncode == 0, result.stderr
    (resource,) = json.loads(result.stdout)["resources"]
    assert resource["changes"] == [{"path": "secretString", "before": "[secret]", "after": "[secret]", "replaces": False, "may_replace": ""}]
    assert "sk-old" not in result.stdout and "sk-new" not in result.stdout


def test_diff_of_identical_graphs_is_empty(graphs: dict[str, Path]) -> None:
    result = _diff(str(graphs["beta"]), str(graphs["beta"]), "--json", "--fail-on-stateful")
    assert result.returncode == 0
    assert json.loads(result.stdout)["summary"] == {"create": 0, "delete": 0, "replace": 0, "update": 0, "stateful": 0}


@pytest.mark.parametrize(("content", "fragment"), [(None, "cannot read graph"), ("not json", "is not valid JSON"), ('{"nodes": []}', "not a recorded graph")])
def test_diff_bad_input_exits_2(content: str | None, fragment: str, tmp_path: Path, graphs: dict[str, Path]) -> None:
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    result = _diff(str(bad), str(graphs["beta"]))
    assert result.returncode == 2 and fragment in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------------------------ bootstrap (moto)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    with mock_aws():
        yield


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_bootstrap_creates_a_hardened_backend_then_changes_nothing(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "bootstrap", "aws", "--region", "eu-central-1", "--name", "acme-pulumi-state")
    assert code == 0 and "created" in out
    assert "pulumi login 's3://acme-pulumi-state?region=eu-central-1&awssdk=v2'" in out
    assert "--secrets-provider 'awskms://alias/acme-pulumi-state-pulumi-secrets?region=eu-central-1'" in out

    s3, kms = boto3.client("s3", region_name="eu-central-1"), boto3.client("kms", region_name="eu-central-1")
    key = kms.describe_key(KeyId="alias/acme-pulumi-state-pulumi-secrets")["KeyMetadata"]
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]
    assert s3.get_bucket_location(Bucket="acme-pulumi-state")["LocationConstraint"] == "eu-central-1"
    assert s3.get_bucket_versioning(Bucket="acme-pulumi-state")["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket="acme-pulumi-state")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]}
    assert all(s3.get_public_access_block(Bucket="acme-pulumi-state")["PublicAccessBlockConfiguration"].values())
    policy = json.loads(s3.get_bucket_policy(Bucket="acme-pulumi-state")["Policy"])
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    code, out, _ = _run(capsys, "bootstrap", "aws", "--region", "eu-central-1", "--name", "acme-pulumi-state")
    assert code == 0
    assert "Nothing to change: the backend is already set up." in out
    assert "created" not in out and "updated" not in out
    assert len(kms.list_aliases()["Aliases"]) == len({a["AliasName"] for a in kms.list_aliases()["Aliases"]})
    assert sum(1 for a in kms.list_aliases()["Aliases"] if a["AliasName"].endswith("pulumi-secrets")) == 1


def test_bootstrap_repairs_drift(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "bootstrap", "aws", "--region", "eu-central-1", "--name", "acme-pulumi-state")
    boto3.client("s3", region_name="eu-central-1").delete_bucket_policy(Bucket="acme-pulumi-state")
    code, out, _ = _run(capsys, "bootstrap", "aws", "--region", "eu-central-1", "--name", "acme-pulumi-state")
    assert code == 0
    assert [line.split()[-1] for line in out.splitlines() if "TLS-only bucket policy" in line] == ["updated"]


def test_bootstrap_refuses_a_bucket_in_another_region(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "bootstrap", "aws", "--region", "eu-central-1", "--name", "acme-pulumi-state")
    code, _, err = _run(capsys, "bootstrap", "aws", "--region", "eu-west-1", "--name", "acme-pulumi-state")
    assert code == 1 and "already exists in eu-central-1" in err
    assert boto3.client("kms", region_name="eu-west-1").list_aliases()["Aliases"] == [] or all(
        not a["AliasName"].endswith("pulumi-secrets") for a in boto3.client("kms", region_name="eu-west-1").list_aliases()["Aliases"]
    ), "nothing is created when the bucket check fails"


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("bootstrap", "aws", "--region", "eu-central-1", "--name", "Bad_Name"), "not a valid S3 bucket name"),
        (("bootstrap", "aws", "--region", "europe", "--name", "acme-state"), "not an AWS region name"),
        (("bootstrap", "azure", "--region", "westeurope", "--name", "acme-state"), "not supported"),
        (("bootstrap", "aws", "--name", "acme-state"), "--region"),
        (("audit-live", "aws", "--profile", "mars"), "not a built-in residency profile"),
        (("audit-live", "aws", "--profile", "eu", "--regions", "frankfurt"), "not an AWS region name"),
        (("audit-live", "gcp", "--profile", "eu"), "not supported"),
        (("bootstrap", "aws", "--region", "eu-central-1", "--name", "acme-state", "PROFILE=missing"), "could not be found"),
        (("audit-live", "aws", "--profile", "eu", "PROFILE=missing"), "could not be found"),
    ],
)
def test_bad_arguments_exit_2(argv: tuple[str, ...], fragment: str, aws: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if argv[-1].startswith("PROFILE="):
        (tmp_path / "config").write_text("[default]\nregion = eu-central-1\n")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
        monkeypatch.setenv("AWS_PROFILE", argv[-1].split("=", 1)[1])
        argv = argv[:-1]
    code, _, err = _run(capsys, *argv)
    assert code == 2 and fragment in err and "Traceback" not in err


# ------------------------------------------------------------------------------ live audit (moto)

SCANNED = ["eu-central-1", "eu-west-1", "us-east-1", "us-west-2"]


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _plant_compliant() -> None:
    s3 = boto3.client("s3", region_name="eu-central-1")
    s3.create_bucket(Bucket="acme-eu-files", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3.put_bucket_tagging(Bucket="acme-eu-files", Tagging={"TagSet": _tags(REQUIRED)})
    boto3.client("secretsmanager", region_name="eu-west-1").create_secret(Name="acme/api-key", SecretString="x", Tags=_tags(REQUIRED))
    kms = boto3.client("kms", region_name="eu-central-1")
    kms.create_key(Description="platform", Tags=[{"TagKey": k, "TagValue": v} for k, v in REQUIRED.items()])
    aoss = boto3.client("opensearchserverless", region_name="eu-central-1")
    aoss.create_security_policy(name="enc", type="encryption", policy=json.dumps({"Rules": [{"ResourceType": "collection", "Resource": ["collection/vectors"]}], "AWSOwnedKey": False, "KmsARN": "arn:aws:kms:eu-central-1:123456789012:key/x"}))
    aoss.create_collection(name="vectors", type="VECTORSEARCH", tags=[{"key": k, "value": v} for k, v in REQUIRED.items()])
    boto3.client("bedrock", region_name="eu-central-1").put_model_invocation_logging_configuration(
        loggingConfig={"s3Config": {"bucketName": "acme-eu-files", "keyPrefix": "bedrock"}, "textDataDeliveryEnabled": True}
    )


def test_live_audit_of_a_compliant_account_passes(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    _plant_compliant()
    code, out, _ = _run(capsys, "audit-live", "aws", "--profile", "eu", "--regions", *SCANNED, "--json")
    report = json.loads(out)
    assert code == 0, out
    assert report["summary"] == {"resources": 4, "violations": 0, "mandatory": 0, "advisory": 0, "passed": True}


def test_live_audit_names_out_of_profile_resources(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    _plant_compliant()
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="acme-us-exports")
    boto3.client("secretsmanager", region_name="eu-central-1").create_secret(Name="acme/replicated", SecretString="x", Tags=_tags(REQUIRED), AddReplicaRegions=[{"Region": "us-west-2"}])
    kms = boto3.client("kms", region_name="eu-central-1")
    key = kms.create_key(MultiRegion=True, Tags=[{"TagKey": k, "TagValue": v} for k, v in REQUIRED.items()])["KeyMetadata"]
    kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="us-east-1", Tags=[{"TagKey": k, "TagValue": v} for k, v in REQUIRED.items()])
    boto3.client("bedrock", region_name="eu-west-1").put_model_invocation_logging_configuration(
        loggingConfig={"s3Config": {"bucketName": "acme-us-exports", "keyPrefix": "bedrock"}, "textDataDeliveryEnabled": True}
    )
    boto3.client("secretsmanager", region_name="eu-central-1").create_secret(Name="acme/untagged", SecretString="x")

    code, out, _ = _run(capsys, "audit-live", "aws", "--profile", "eu", "--regions", *SCANNED)
    assert code == 1
    assert "Summary: FAILED" in out
    code, out, _ = _run(capsys, "audit-live", "aws", "--profile", "eu", "--regions", *SCANNED, "--json")
    findings = {(v["rule"], v["value"]) for v in json.loads(out)["violations"]}
    urns = {v["rule"]: [] for v in json.loads(out)["violations"]}
    for v in json.loads(out)["violations"]:
        urns[v["rule"]].append(v["urn"])
    assert ("live-region-outside-profile", "us-east-1") in findings
    assert "arn:aws:s3:::acme-us-exports" in urns["live-region-outside-profile"]
    assert ("live-replica-outside-profile", "us-west-2") in findings  # the secret replica
    assert ("live-replica-outside-profile", "us-east-1") in findings, out  # the key replica
    assert ("live-bedrock-logging-outside-profile", "acme-us-exports (us-east-1)") in findings
    assert any("acme/untagged" in u for u in urns["live-required-tags"])
    assert not any("acme-eu-files" in u for us in urns.values() for u in us), "compliant resources are not reported"
    # The same account passes under a profile that allows these regions.
    code, out, _ = _run(capsys, "audit-live", "aws", "--profile", "global", "--regions", *SCANNED, "--json")
    assert {v["rule"] for v in json.loads(out)["violations"]} == {"live-required-tags"}


def test_live_audit_is_read_only() -> None:
    for operation in ("ListBuckets", "GetBucketLocation", "DescribeKey", "HeadBucket", "GetResources"):
        read_only_guard(operation)
    for operation in ("PutBucketPolicy", "DeleteSecret", "CreateKey", "ScheduleKeyDeletion", "TagResource"):
        with pytest.raises(ReadOnlyViolation):
            read_only_guard(operation)
