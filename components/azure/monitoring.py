"""Log Analytics workspace and diagnostic settings that send a resource's logs to it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure


@dataclass
class LogWorkspaceArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    workspace_name: str
    retention_days: int
    tags: Mapping[str, str]


class LogWorkspace(pulumi.ComponentResource):
    workspace_id: pulumi.Output[str]

    def __init__(self, name: str, args: LogWorkspaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:azure:LogWorkspace", name, None, opts)
        workspace = azure.operationalinsights.Workspace(
            f"{name}-workspace",
            workspace_name=args.workspace_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku=azure.operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
            # Log Analytics keeps 30 days at no extra charge and at most 730 interactive days.
            retention_in_days=min(max(args.retention_days, 30), 730),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.workspace_id = workspace.id
        self.register_outputs({"workspace_id": workspace.id})


def send_logs_to(
    name: str,
    *,
    resource_id: pulumi.Input[str],
    workspace_id: pulumi.Input[str],
    parent: pulumi.Resource,
    metrics: bool = True,
    logs: bool = True,
    metrics_category: str = "AllMetrics",
    depends_on: Sequence[pulumi.Resource] = (),
) -> azure.monitor.DiagnosticSetting:
    """All log categories (the allLogs group) and, optionally, the metrics of one resource.
    Resources without log categories (a storage account itself, a Redis Enterprise cluster)
    take `logs=False`; storage accounts name their metrics `Transaction`, not AllMetrics."""
    return azure.monitor.DiagnosticSetting(
        name,
        name="to-log-analytics",
        resource_uri=resource_id,
        workspace_id=workspace_id,
        logs=[azure.monitor.DiagnosticsLogSettingsArgs(category_group="allLogs", enabled=True)] if logs else None,
        metrics=[azure.monitor.DiagnosticsMetricSettingsArgs(category=metrics_category, enabled=True)] if metrics else None,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
