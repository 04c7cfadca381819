"""A monthly AWS cost budget on the stack's cost-center tag, with actual and forecast alerts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass
class MonthlyBudgetArgs:
    budget_name: str
    amount: float
    currency: str  # USD (aws) or CNY (aws-cn)
    cost_center: str
    thresholds: Sequence[int]  # percent of the amount
    emails: Sequence[str]
    start_date: str  # YYYY-MM-DD, first of a month
    tags: Mapping[str, str]


class MonthlyBudget(pulumi.ComponentResource):
    """Budgets count only spend carrying `cost-center=<value>`: activate `cost-center` as a
    cost-allocation tag in the Billing console once per account, or the filter matches nothing."""

    budget_name: pulumi.Output[str]

    def __init__(self, name: str, args: MonthlyBudgetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:aws:MonthlyBudget", name, None, opts)
        notifications = [
            aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN",
                threshold=float(threshold),
                threshold_type="PERCENTAGE",
                notification_type=kind,
                subscriber_email_addresses=list(args.emails),
            )
            for threshold in args.thresholds
            for kind in ("ACTUAL", "FORECASTED")
        ]
        budget = aws.budgets.Budget(
            f"{name}-budget",
            name=args.budget_name,
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=f"{args.amount:.2f}",
            limit_unit=args.currency,
            time_period_start=f"{args.start_date}_00:00",
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[f"user:cost-center${args.cost_center}"])
            ],
            notifications=notifications,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["time_period_start"]),
        )
        self.budget_name = budget.name
        self.register_outputs({"budget_name": budget.name})
