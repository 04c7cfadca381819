"""Budget alerts reach people before the cut-off: the spend tracker publishes each threshold
crossing (once per threshold and month) to the AWS topic and logs the line Azure's log alert rule
matches; the stacks deliver both by email to llm-platform:budget.emails."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import threading
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from components.gateway import BUDGET_ALERT_MARKER, BUDGET_ALERT_TOPIC_ENV
from tests.plan_matrix import AWS_CASES, AZURE_CASES, CASES, SCALE_CASES, case_config, plan_for

# What the custom auth reads of a request: the path (team keys call the model endpoints only).
CHAT_REQUEST = SimpleNamespace(url=SimpleNamespace(path="/v1/chat/completions"))

ROOT = Path(__file__).resolve().parents[1]
REGION = "eu-central-1"
TEAM_KEY = "sk-team-analytics-test-key-0123456789"
AWS_SCALE = tuple(c for c in SCALE_CASES if c in AWS_CASES)
AZURE_SCALE = tuple(c for c in SCALE_CASES if c in AZURE_CASES)


# ------------------------------------------------------------------------- the spend tracker


def _load_auth(monkeypatch: pytest.MonkeyPatch, topic_arn: str | None) -> ModuleType:
    """components/gateway_auth.py as the gateway loads it, with its env (no Redis: process counters)."""
    # LiteLLM's bundled price list, as in the gateway: no fetch from the internet at import.
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    for name in ("REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "LITELLM_MASTER_KEY", BUDGET_ALERT_TOPIC_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLM_PLATFORM_TEAMS", json.dumps({"analytics": {"models": ["code"], "monthly_budget_usd": 1.0}}))
    monkeypatch.setenv("LLM_PLATFORM_TEAM_KEY_ANALYTICS", TEAM_KEY)
    monkeypatch.setenv("LLM_PLATFORM_BUDGET_ALERT_PERCENTS", "50,80,100")
    monkeypatch.setenv("LLM_PLATFORM_UPSTREAM_BUDGETS", json.dumps({"code/api-mistral-codestral-latest": 2.0}))
    if topic_arn:
        monkeypatch.setenv(BUDGET_ALERT_TOPIC_ENV, topic_arn)
    spec = importlib.util.spec_from_file_location("llm_platform_auth_alerts", ROOT / "components" / "gateway_auth.py")
    assert spec is not None and spec.loader is not None
    auth = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(auth)
    return auth


def _event(cost: float) -> dict[str, Any]:
    return {
        "standard_logging_object": {
            "response_cost": cost,
            "metadata": {"user_api_key_team_id": "analytics"},
            "model_id": "code/api-mistral-codestral-latest",
        }
    }


@pytest.fixture
def sns_topic(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A moto SNS topic (fake credentials: nothing leaves the process)."""
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        import boto3

        yield boto3.client("sns", region_name=REGION).create_topic(Name="llm-test-budget-alerts")["TopicArn"]


def _sent(topic_arn: str) -> list[tuple[str, str]]:
    """(subject, message) of every notification moto's topic received."""
    from moto.sns.models import sns_backends

    account, region = topic_arn.split(":")[4], topic_arn.split(":")[3]
    return [(n[2], n[1]) for n in sns_backends[account][region].topics[topic_arn].sent_notifications]


def test_each_threshold_is_published_once_a_month_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, sns_topic: str
) -> None:
    auth = _load_auth(monkeypatch, sns_topic)
    tracker = auth.spend_tracker

    async def spend(*costs: float) -> None:
        for cost in costs:
            await tracker.async_log_success_event(_event(cost), None, None, None)

    with caplog.at_level("WARNING"):
        # Team budget 1.0, upstream budget 2.0: 0.6 crosses the team's 50%; 1.0 more (1.6) its 80%
        # and 100%, and the upstream's 50% and 80% at once (1.6 of 2.0).
        asyncio.run(spend(0.6))
        assert [s for s, _ in _sent(sns_topic)] == ["LLM budget alert: team analytics at 50% of its monthly budget"]
        asyncio.run(spend(1.0, 0.01, 0.01))  # later answers cross nothing new
    subjects = sorted(s for s, _ in _sent(sns_topic))
    assert subjects == sorted(
        [
            "LLM budget alert: team analytics at 50% of its monthly budget",
            "LLM budget alert: team analytics at 80% of its monthly budget",
            "LLM budget alert: team analytics at 100% of its monthly budget",
            "LLM budget alert: upstream code/api-mistral-codestral-latest at 50% of its monthly budget",
            "LLM budget alert: upstream code/api-mistral-codestral-latest at 80% of its monthly budget",
        ]
    ), subjects
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(BUDGET_ALERT_MARKER + " ")]
    assert len(lines) == 5 and "LLM_PLATFORM_BUDGET_ALERT team=analytics percent=80" in "\n".join(lines), lines
    # Each mail carries its log line (the month and figures) and says what 100% means.
    body = dict(_sent(sns_topic))["LLM budget alert: team analytics at 100% of its monthly budget"]
    assert "LLM_PLATFORM_BUDGET_ALERT team=analytics percent=100" in body and "429 budget_exceeded" in body
    # A new month counts afresh: its crossings are alerted again.
    monkeypatch.setattr(auth, "_month", lambda: "2099-01")
    asyncio.run(spend(0.6))
    assert len(_sent(sns_topic)) == 6
    assert TEAM_KEY not in caplog.text and all(TEAM_KEY not in m for _, m in _sent(sns_topic))


def test_a_failed_publish_is_logged_and_never_reaches_the_request(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, sns_topic: str
) -> None:
    """A topic that does not exist (or a role without sns:Publish): the tracker logs the failure
    with the AWS error code, the spend is still counted and the team is still cut at its budget."""
    from litellm.proxy._types import ProxyException

    auth = _load_auth(monkeypatch, sns_topic + "-missing")

    async def scenario() -> None:
        await auth.spend_tracker.async_log_success_event(_event(0.6), None, None, None)
        key = await auth.user_api_key_auth(CHAT_REQUEST, TEAM_KEY)  # 0.6 of 1.0: served
        assert key.team_id == "analytics"
        await auth.spend_tracker.async_log_success_event(_event(0.6), None, None, None)
        with pytest.raises(ProxyException) as refused:
            await auth.user_api_key_auth(CHAT_REQUEST, TEAM_KEY)
        assert refused.value.type == "budget_exceeded"

    with caplog.at_level("WARNING"):
        asyncio.run(scenario())
    failures = [r.getMessage() for r in caplog.records if r.getMessage().startswith("LLM_PLATFORM_NOTIFY_FAILED")]
    assert failures and all("code=" not in f and "NotFound" in f for f in failures), failures
    assert "LLM_PLATFORM_BUDGET_ALERT team=analytics percent=50" in caplog.text  # still logged
    assert "LLM_PLATFORM_SPEND_NOT_RECORDED" not in caplog.text and TEAM_KEY not in caplog.text


def test_publishing_runs_off_the_event_loop_and_swallows_any_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    auth = _load_auth(monkeypatch, f"arn:aws:sns:{REGION}:123456789012:llm-test-budget-alerts")
    threads: list[int] = []

    def broken(subject: str, message: str) -> None:
        threads.append(threading.get_ident())
        raise RuntimeError("credentials from the pod identity agent: secret-ish text")

    monkeypatch.setattr(auth, "_publish", broken)

    async def scenario() -> int:
        await auth.spend_tracker.async_log_success_event(_event(0.6), None, None, None)
        return threading.get_ident()

    with caplog.at_level("WARNING"):
        loop_thread = asyncio.run(scenario())
    assert threads and all(t != loop_thread for t in threads), "the blocking SNS call ran on the event loop"
    assert "LLM_PLATFORM_NOTIFY_FAILED team=analytics percent=50 error=RuntimeError" in caplog.text
    assert "secret-ish" not in caplog.text  # the exception's text is never logged


# ------------------------------------------------------------------------------- AWS plans


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _budget(case_id: str) -> dict[str, Any]:
    return case_config(CASES[case_id])["config"]["llm-platform:budget"]


def _topic(plan: Any) -> Any:
    (topic,) = [r for r in plan.resources if r.type == "aws:sns/topic:Topic" and "BudgetAlertTopic$" in r.urn]
    return topic


def _topic_arn(plan: Any) -> str:
    return str(plan.outputs["budgetAlertTopicArn"])


@pytest.mark.parametrize("case_id", AWS_SCALE)
def test_aws_alert_topic_is_encrypted_with_the_stack_key_and_mails_the_budget_emails(case_id: str) -> None:
    plan = plan_for(case_id)
    topic = _topic(plan)
    assert topic.inputs["kmsMasterKeyId"] == plan.outputs["kmsKeyArn"], topic.inputs
    partition = "aws-cn" if "cn" in case_id.split("-") else "aws"
    assert _topic_arn(plan).startswith(f"arn:{partition}:sns:") and _topic_arn(plan).endswith(":" + topic.inputs["name"])
    subscriptions = [r for r in plan.resources if r.type == "aws:sns/topicSubscription:TopicSubscription" and "BudgetAlertTopic$" in r.urn]
    assert sorted((s.inputs["protocol"], s.inputs["endpoint"], s.inputs["topic"]) for s in subscriptions) == sorted(
        ("email", e, _topic_arn(plan)) for e in _budget(case_id)["emails"]
    )


def _statements(plan: Any) -> list[tuple[str, dict[str, Any]]]:
    """(role name, statement) of every inline role policy."""
    return [
        (str(r.inputs["role"]), st)
        for r in plan.resources
        if r.type == "aws:iam/rolePolicy:RolePolicy"
        for st in _json(r.inputs["policy"])["Statement"]
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("case_id", AWS_SCALE)
def test_aws_only_the_gateway_role_may_publish_and_only_to_its_topic(case_id: str) -> None:
    plan = plan_for(case_id)
    (association,) = [
        r
        for r in plan.resources
        if r.type == "aws:eks/podIdentityAssociation:PodIdentityAssociation"
        and (r.inputs["namespace"], r.inputs["serviceAccount"]) == ("llm-gateway", "litellm")
    ]
    gateway_role = str(association.inputs["roleArn"]).rsplit("/", 1)[-1]
    sns = [(role, st) for role, st in _statements(plan) if any(str(a).lower().startswith("sns:") for a in _as_list(st["Action"]))]
    assert sns and all(role == gateway_role for role, _ in sns), sns
    assert all(
        _as_list(st["Action"]) == ["sns:Publish"] and _as_list(st["Resource"]) == [_topic_arn(plan)] and st["Effect"] == "Allow"
        for _, st in sns
    ), sns
    # The topic's key: the data-key actions SNS needs for a publisher, through SNS in this region only.
    region = plan.outputs["region"]
    suffix = "amazonaws.com.cn" if str(region).startswith("cn-") else "amazonaws.com"
    kms = [
        st
        for role, st in _statements(plan)
        if role == gateway_role and "kms:ViaService" in json.dumps(st.get("Condition", {})) and f"sns.{region}" in json.dumps(st)
    ]
    assert len(kms) == 1, kms
    assert sorted(_as_list(kms[0]["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"] and _as_list(kms[0]["Resource"]) == [
        plan.outputs["kmsKeyArn"]
    ]
    assert kms[0]["Condition"] == {"StringEquals": {"kms:ViaService": f"sns.{region}.{suffix}"}}
    # The key policy delegates those actions to IAM (the account root statement).
    (key,) = [r for r in plan.resources if r.type == "aws:kms/key:Key"]
    root = next(st for st in _json(key.inputs["policy"])["Statement"] if str(st["Principal"].get("AWS", "")).endswith(":root"))
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(root["Action"])


@pytest.mark.parametrize("case_id", AWS_SCALE)
def test_aws_gateway_pods_get_the_topic(case_id: str) -> None:
    plan = plan_for(case_id)
    (deployment,) = [r for r in plan.resources if r.type == "kubernetes:apps/v1:Deployment" and r.name == "gateway-deployment"]
    env = {e["name"]: e.get("value") for e in deployment.inputs["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env[BUDGET_ALERT_TOPIC_ENV] == _topic_arn(plan)


# ----------------------------------------------------------------------------- Azure plans


def _rule(plan: Any) -> Any:
    (rule,) = [r for r in plan.resources if r.type == "azure-native:monitor:ScheduledQueryRule" and "BudgetAlertRule$" in r.urn]
    return rule


def _parse_regex(query: str) -> re.Pattern[str]:
    """The KQL `parse Line with * "lit" Col "lit" Col ...` step as a regex (simple mode)."""
    (step,) = [line for line in query.splitlines() if line.startswith("| parse Line with ")]
    tokens = re.findall(r'"([^"]*)"|(\*)|(\w+)', step.removeprefix("| parse Line with "))
    pattern = ""
    for literal, star, column in tokens:
        pattern += re.escape(literal) if literal else ".*?" if star else f"(?P<{column}>.*?)"
    return re.compile(pattern + "$")


@pytest.mark.parametrize("case_id", AZURE_SCALE)
def test_azure_log_alert_reads_the_gateway_lines_and_mails_the_budget_emails(case_id: str) -> None:
    plan = plan_for(case_id)
    rule = _rule(plan).inputs
    (condition,) = rule["criteria"]["allOf"]
    query = condition["query"]
    (deployment,) = [r for r in plan.resources if r.type == "kubernetes:apps/v1:Deployment" and r.name == "gateway-deployment"]
    container = deployment.inputs["spec"]["template"]["spec"]["containers"][0]["name"]
    namespace = deployment.inputs["metadata"]["namespace"]
    assert query.startswith("ContainerLogV2\n")
    assert f'PodNamespace == "{namespace}"' in query and f'ContainerName == "{container}"' in query, query
    assert f'contains "{BUDGET_ALERT_MARKER} "' in query
    # The line the tracker writes parses into the alert's dimensions.
    line = "WARNING:llm_platform_auth:LLM_PLATFORM_BUDGET_ALERT upstream=faq/api-mistral-mistral-small-latest percent=80 spent_usd=80.1000 budget_usd=100.0000 month=2026-11"
    fields = _parse_regex(query).search(line)
    assert fields is not None and (fields["Kind"], fields["Name"], fields["Percent"], fields["Month"]) == (
        "upstream",
        "faq/api-mistral-mistral-small-latest",
        "80",
        "2026-11",
    )
    assert sorted(d["name"] for d in condition["dimensions"]) == ["Kind", "Month", "Name", "Percent"]
    assert (condition["timeAggregation"], condition["operator"], condition["threshold"]) == ("Count", "GreaterThan", 0)
    # Scoped to the workspace Container Insights writes the gateway's logs to (ContainerLogV2 on).
    (dcr,) = [r for r in plan.resources if r.type == "azure-native:monitor:DataCollectionRule"]
    workspace = dcr.inputs["destinations"]["logAnalytics"][0]["workspaceResourceId"]
    assert rule["scopes"] == [workspace]
    assert (
        "Microsoft-ContainerLogV2" in dcr.inputs["dataFlows"][0]["streams"]
        and dcr.inputs["dataSources"]["extensions"][0]["extensionSettings"]["dataCollectionSettings"]["enableContainerLogV2"]
    )
    assert rule["enabled"] is True and rule["kind"] == "LogAlert" and rule["evaluationFrequency"] == "PT5M"
    (group,) = [r for r in plan.resources if r.type == "azure-native:monitor:ActionGroup" and "BudgetAlertRule$" in r.urn]
    assert rule["actions"]["actionGroups"] == [plan.outputs["budgetAlertActionGroupId"]]
    assert group.inputs["enabled"] is True and sorted(e["emailAddress"] for e in group.inputs["emailReceivers"]) == sorted(
        _budget(case_id)["emails"]
    )


def test_the_tracker_writes_the_marker_the_rule_matches() -> None:
    source = (ROOT / "components" / "gateway_auth.py").read_text()
    assert f'ALERT_MARKER = "{BUDGET_ALERT_MARKER}"' in source
