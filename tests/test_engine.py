"""The offline engine: the real program under mocks, recorded the way the engine sees it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from policies.llm_guard.location import SECRET_SIG, SIG_KEY, UNKNOWN_SENTINELS
from scripts.engine import Plan
from tests.conftest import ROOT, resources_of, run_cli


def test_plan_json_has_the_documented_shape() -> None:
    result = run_cli("plan", "poc-aws", "--json")
    assert result.returncode == 0, result.stderr
    graph = json.loads(result.stdout)
    assert graph["project"] == "llm-platform"
    assert graph["stack"] == "poc-aws"
    assert graph["config"]["aws:region"] == "eu-central-1"
    assert graph["config"]["llm-platform:mistralApiKey"] == "[secret]"
    assert graph["config"]["llm-platform:budget"]["amount"] == 600
    required = {"urn", "type", "name", "custom", "parent", "provider", "inputs"}
    for resource in graph["resources"]:
        assert required <= set(resource)
    providers = [r for r in graph["resources"] if r["type"] == "pulumi:providers:aws"]
    assert len(providers) == 1 and providers[0]["custom"] is True
    provider_urn = providers[0]["urn"]
    aws_resources = [r for r in graph["resources"] if r["type"].startswith("aws:")]
    # Every AWS resource goes through the explicit provider ("<urn>::<id>"), none through a default.
    assert aws_resources and all(str(r["provider"]).startswith(provider_urn + "::") for r in aws_resources)


def test_urns_are_built_like_the_engine_builds_them(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("poc-aws")
    key = next(r for r in plan.resources if r.type == "aws:kms/key:Key")
    # Children of the root stack carry no "pulumi:pulumi:Stack$" in their type chain.
    assert key.urn == "urn:pulumi:poc-aws::llm-platform::llm-platform:aws:EncryptionKey$aws:kms/key:Key::platform-key-key"
    component = next(r for r in plan.resources if r.type == "llm-platform:aws:EncryptionKey")
    assert component.urn == "urn:pulumi:poc-aws::llm-platform::llm-platform:aws:EncryptionKey::platform-key"
    assert key.parent == component.urn and component.custom is False


def test_unknown_outputs_stay_unknown(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("poc-aws")
    # The load balancer's DNS name is only known after apply; so is the app URL built from it.
    assert plan.outputs["appUrl"] in UNKNOWN_SENTINELS
    # Ids and ARNs are predicted, so the secret ARN is known.
    assert plan.outputs["appDatabaseSecretArn"].startswith("arn:aws:secretsmanager:eu-central-1:")


def test_azure_invokes_on_new_resources_are_unknown(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("poc-azure")
    # The storage key comes from an invoke on an account that does not exist yet.
    secret = next(r for r in plan.resources if r.type == "azure-native:keyvault:Secret" and r.inputs.get("secretName") == "storage-account-key")
    value = secret.inputs["properties"]["value"]
    assert value.get(SIG_KEY) == SECRET_SIG


def test_two_plans_are_identical(plan_of: Callable[..., Plan]) -> None:
    from scripts.engine import plan_stack

    first = plan_of("poc-aws").to_json()
    second = plan_stack("poc-aws").to_json()
    key = lambda r: r["urn"]  # noqa: E731
    assert sorted(first["resources"], key=key) == sorted(second["resources"], key=key)


def test_stack_name_override_renames_urns_only(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("poc-aws", "team-eu")
    assert plan.stack == "team-eu"
    assert all(r.urn.startswith("urn:pulumi:team-eu::llm-platform::") for r in plan.resources)
    assert any(r.inputs.get("name") == "llm-platform/team-eu/api-keys/mistral" for r in resources_of(plan, "aws:secretsmanager/secret:Secret"))


def test_readable_plan_lists_resources_and_regions() -> None:
    result = run_cli("plan", "poc-azure")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "azure-native:keyvault:Vault" in out and "swedencentral" in out
    assert "[protected]" in out
    assert "Resources:" in out and "Where:" in out


# `make plan` itself runs in CI beside `make test`; here a stack of each phase and both clouds goes
# through the same code path (plan pool, pack, estimate, table), and every stack's estimate is
# checked against its budget below from the shared plans.
PLAN_ALL_SAMPLE = ["poc-aws", "beta-azure-cn", "scale-aws-cn"]


def test_plan_all_prints_a_summary_table(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from scripts.__main__ import main

    monkeypatch.setattr("scripts.__main__.example_stacks", lambda: list(PLAN_ALL_SAMPLE))
    assert main(["plan", "--all"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("STACK"))
    header, rows = lines[start], [line for line in lines[start + 2 :] if line and not line.startswith("Estimates:")]
    assert "AUDIT" in header and "ESTIMATE/MONTH" in header and "BUDGET/MONTH" in header
    assert [row.split()[0] for row in rows] == PLAN_ALL_SAMPLE
    for row in rows:
        assert "passed" in row
        estimate, budget = row.split("passed", 1)[1].split()[0:2], row.split("passed", 1)[1].split()[2:4]
        # The estimate is converted to the stack's budget currency (any currency: CNY stacks too).
        assert estimate[1] == budget[1] and re.fullmatch(r"[A-Z]{3}", estimate[1]), row


@pytest.mark.parametrize("stack", sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml")))
def test_every_stack_is_estimated_within_its_budget(stack: str) -> None:
    from scripts.cost import estimate, price_book
    from tests.plan_matrix import plan_for

    book = price_book()
    cost = estimate(plan_for(stack).to_json(), None, book)
    assert cost.budget_amount is not None and cost.budget_currency
    assert not cost.over_budget(book), f"{stack}: {cost.total_in_budget_currency(book):,.0f} {cost.budget_currency} over its budget of {cost.budget_amount:,.0f}"


def test_schema_checker_catches_wrong_names_and_types() -> None:
    from tests.sdk_schema import check_inputs

    assert check_inputs("aws:kms/key:Key", {"enableKeyRotation": True, "tags": {"a": "b"}}) == []
    typo = check_inputs("aws:kms/key:Key", {"enableKeyRotations": True})
    assert typo and "enableKeyRotations" in typo[0]
    wrong_type = check_inputs("aws:kms/key:Key", {"deletionWindowInDays": "thirty"})
    assert wrong_type and "deletionWindowInDays" in wrong_type[0]
    nested = check_inputs("azure-native:network:VirtualNetwork", {"subnets": [{"name": "a", "adressPrefix": "10.0.0.0/24"}]})
    assert nested and "adressPrefix" in nested[0]
    bad_enum = check_inputs("azure-native:app:ContainerApp", {"configuration": {"activeRevisionsMode": "Sometimes"}})
    assert bad_enum and "activeRevisionsMode" in bad_enum[0]
