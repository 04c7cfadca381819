"""A monthly Azure consumption budget on the stack's resource group, with actual and forecast
alerts at each threshold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure


@dataclass
class ResourceGroupBudgetArgs:
    budget_name: str
    scope: pulumi.Input[str]  # the resource group id
    amount: float
    thresholds: Sequence[int]
    emails: Sequence[str]
    start_date: str  # YYYY-MM-DD, first of a month


class ResourceGroupBudget(pulumi.ComponentResource):
    """Azure counts in the billing account's currency; the budget has no currency of its own."""

    def __init__(self, name: str, args: ResourceGroupBudgetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:azure:ResourceGroupBudget", name, None, opts)
        notifications = {}
        for threshold in args.thresholds:
            for kind in ("Actual", "Forecasted"):
                notifications[f"{kind.lower()}-{threshold}"] = azure.consumption.NotificationArgs(
                    enabled=True,
                    operator="GreaterThan",
                    threshold=float(threshold),
                    threshold_type=kind,
                    contact_emails=list(args.emails),
                )
        azure.consumption.Budget(
            f"{name}-budget",
            budget_name=args.budget_name,
            scope=args.scope,
            amount=args.amount,
            category="Cost",
            time_grain="Monthly",
            # Azure refuses a start before the current month; later changes to it are ignored.
            time_period=azure.consumption.BudgetTimePeriodArgs(start_date=f"{args.start_date}T00:00:00Z"),
            notifications=notifications,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["time_period"]),
        )
        self.register_outputs({})
