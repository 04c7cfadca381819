"""The LLM gateway's budget alerts by email on Azure: a log search alert rule over the gateway
pods' log lines in the stack's Log Analytics workspace, and an action group mailing
llm-platform:budget.emails.

Container Insights already sends the containers' stdout/stderr to the workspace as the
ContainerLogV2 table (components/azure/aks.py CONTAINER_INSIGHTS_STREAMS with
enableContainerLogV2): columns PodNamespace, ContainerName, LogMessage (dynamic), TimeGenerated
(learn.microsoft.com/azure/azure-monitor/reference/tables/containerlogv2; the same table in
Azure China: docs.azure.cn/zh-cn/azure-monitor/reference/tables/containerlogv2, read
2026-11-30). The spend tracker (components/gateway_auth.py) writes one line
`LLM_PLATFORM_BUDGET_ALERT <kind>=<name> percent=.. spent_usd=.. budget_usd=.. month=..` per
threshold and month; the rule turns each into one alert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure

# Columns the query parses out of the line; each distinct combination is its own alert
# (dimensions with "Include *").
ALERT_DIMENSIONS = ("Kind", "Name", "Percent", "Month")
# Evaluated every 5 minutes over the last 15: a line ingested up to ~10 minutes late is still
# seen. The rule is stateful (autoMitigate): an alert for one (kind, name, percent, month) fires
# once while its line is in the window and resolves when it leaves it, so the 3 evaluations that
# see a line send one "Fired" email, not three ("Log search alerts: stateful alerts",
# learn.microsoft.com/azure/azure-monitor/alerts/alerts-create-log-alert-rule, read 2026-11-30).
EVALUATION_FREQUENCY = "PT5M"
WINDOW_SIZE = "PT15M"
SEVERITY = 2  # Warning: money, not an outage
# Action group short names hold at most 12 characters (used in SMS; ActionGroup docstring,
# pulumi_azure_native 3.29.0 monitor/action_group.py).
SHORT_NAME_MAX = 12


def budget_alert_query(namespace: str, container: str, marker: str) -> str:
    """KQL over ContainerLogV2: the gateway container's lines that carry the marker, split into
    the alert's dimensions. LogMessage is dynamic (a JSON line would be parsed): tostring first."""
    return "\n".join(
        [
            "ContainerLogV2",
            f'| where PodNamespace == "{namespace}" and ContainerName == "{container}"',
            "| extend Line = tostring(LogMessage)",
            f'| where Line contains "{marker} "',
            f'| parse Line with * "{marker} " Kind "=" Name " percent=" Percent " spent_usd=" SpentUsd " budget_usd=" BudgetUsd " month=" Month',
            "| where isnotempty(Kind) and isnotempty(Name)",
            "| project TimeGenerated, Kind, Name, Percent, Month, SpentUsd, BudgetUsd",
        ]
    )


@dataclass
class BudgetAlertRuleArgs:
    rule_name: str
    action_group_name: str
    short_name: str  # at most 12 characters
    resource_group_name: pulumi.Input[str]
    location: str  # the workspace's region (the stack's)
    workspace_id: pulumi.Input[str]  # the Log Analytics workspace Container Insights writes to
    emails: Sequence[str]  # llm-platform:budget.emails
    namespace: str  # the gateway's Kubernetes namespace
    container: str  # the gateway's container name
    marker: str  # the log line's first word (components.gateway.BUDGET_ALERT_MARKER)
    tags: Mapping[str, str]
    after: Sequence[pulumi.Resource] = ()  # what creates the ContainerLogV2 flow (the cluster)


class BudgetAlertRule(pulumi.ComponentResource):
    """Action group emails need no confirmation; each address gets a notice that it was added
    to the action group and can unsubscribe from it."""

    action_group_id: pulumi.Output[str]
    rule_id: pulumi.Output[str]

    def __init__(self, name: str, args: BudgetAlertRuleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:azure:BudgetAlertRule", name, None, opts)
        if len(args.short_name) > SHORT_NAME_MAX:
            raise ValueError(f"action group short name {args.short_name!r} is longer than {SHORT_NAME_MAX} characters")
        child = pulumi.ResourceOptions(parent=self)
        group = azure.monitor.ActionGroup(
            f"{name}-action-group",
            action_group_name=args.action_group_name,
            resource_group_name=args.resource_group_name,
            # Action groups are global resources (policies/llm_guard/regions.py AZURE_GLOBAL_TYPES).
            location="Global",
            group_short_name=args.short_name,
            enabled=True,
            email_receivers=[
                azure.monitor.MicrosoftCommonEmailReceiverArgs(name=f"budget-email-{i}", email_address=email, use_common_alert_schema=True)
                for i, email in enumerate(args.emails)
            ],
            tags=dict(args.tags),
            opts=child,
        )
        rule = azure.monitor.ScheduledQueryRule(
            f"{name}-rule",
            rule_name=args.rule_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind="LogAlert",
            display_name="LLM gateway budget alert",
            description=(
                "A team's or an upstream's monthly spend crossed an alert threshold of its budget "
                f"(llm-platform:budget.thresholds): one alert per {', '.join(ALERT_DIMENSIONS)}."
            ),
            enabled=True,
            severity=SEVERITY,
            scopes=[args.workspace_id],
            evaluation_frequency=EVALUATION_FREQUENCY,
            window_size=WINDOW_SIZE,
            criteria=azure.monitor.ScheduledQueryRuleCriteriaArgs(
                all_of=[
                    azure.monitor.ConditionArgs(
                        query=budget_alert_query(args.namespace, args.container, args.marker),
                        time_aggregation="Count",
                        operator="GreaterThan",
                        threshold=0,
                        dimensions=[azure.monitor.DimensionArgs(name=d, operator="Include", values=["*"]) for d in ALERT_DIMENSIONS],
                        failing_periods=azure.monitor.ConditionFailingPeriodsArgs(
                            min_failing_periods_to_alert=1, number_of_evaluation_periods=1
                        ),
                    )
                ]
            ),
            auto_mitigate=True,
            # ContainerLogV2 may not exist in a new workspace until Container Insights first
            # writes to it; validation would fail the deployment on a table that is coming.
            skip_query_validation=True,
            actions=azure.monitor.ActionsArgs(action_groups=[group.id]),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
        )
        self.action_group_id = group.id
        self.rule_id = rule.id
        self.register_outputs({"action_group_id": group.id, "rule_id": rule.id})
