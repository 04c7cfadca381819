"""A monthly Azure consumption budget on the stack's resource group: an Actual alert at each
threshold and Forecasted alerts in the slots left, within Azure's five notifications."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure

# "Budget can have up to five notifications" (Microsoft.Consumption budgets API 2024-08-01,
# pulumi_azure_native 3.29.0 consumption/budget.py `notifications` docstring, read 2026-11-30).
MAX_NOTIFICATIONS = 5
# The forecast alert that matters most: "the month will end over budget".
FORECAST_FIRST = 100


def budget_notifications(thresholds: Sequence[int]) -> list[tuple[str, int]]:
    """(Actual|Forecasted, threshold) pairs: every threshold gets an Actual alert; Forecasted
    alerts fill the remaining slots, 100% first, then the thresholds nearest to it. Raises when
    the Actual alerts alone do not fit (stacks/config refuses such configs first)."""
    if len(thresholds) > MAX_NOTIFICATIONS:
        raise ValueError(f"{len(thresholds)} thresholds need {len(thresholds)} Actual alerts; an Azure budget holds {MAX_NOTIFICATIONS}")
    chosen = [("Actual", t) for t in sorted(thresholds)]
    forecasts = sorted({FORECAST_FIRST, *thresholds}, key=lambda t: (t != FORECAST_FIRST, abs(t - FORECAST_FIRST), t))
    chosen += [("Forecasted", t) for t in forecasts[: MAX_NOTIFICATIONS - len(chosen)]]
    return chosen


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
        notifications = {
            f"{kind.lower()}-{threshold}": azure.consumption.NotificationArgs(
                enabled=True,
                operator="GreaterThan",
                threshold=float(threshold),
                threshold_type=kind,
                contact_emails=list(args.emails),
            )
            for kind, threshold in budget_notifications(args.thresholds)
        }
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
