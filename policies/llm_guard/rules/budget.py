"""Spend guards: a budget with an alert recipient, and GPU node pools that cannot grow forever."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..graph import Finding, Res, get, items
from ..location import is_unknown
from ..settings import RuleSettings
from . import StackView, rule

_BUDGET_TYPES = ("aws:budgets/budget:Budget", "azure-native:consumption:Budget")


def _amount(res: Res) -> float | None:
    value = get(res.props, "limitAmount") if res.type.startswith("aws:") else get(res.props, "amount")
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _recipients(res: Res) -> int:
    if res.type.startswith("aws:"):
        notes = items(get(res.props, "notifications"))
        return sum(len(items(get(n, "subscriberEmailAddresses"))) + len(items(get(n, "subscriberSnsTopicArns"))) for n in notes)
    notes = get(res.props, "notifications", {}) or {}
    values = notes.values() if isinstance(notes, Mapping) else []
    return sum(
        len(items(get(n, "contactEmails"))) + len(items(get(n, "contactGroups"))) + len(items(get(n, "contactRoles")))
        for n in values
        if get(n, "enabled", True) is not False
    )


@rule(
    "budget-configured",
    description="The stack has at least one budget (AWS Budgets or Azure consumption budget) with an amount above zero and at least "
    "one notification with a recipient.",
    severity="high",
    scope="stack",
    remediation="Set llm-platform:budget (amount, thresholds, emails); every phase creates the budget from it.",
    needs_profile=False,
)
def budget_configured(stack: StackView, settings: RuleSettings) -> Iterator[Finding]:
    budgets = stack.of_type(*_BUDGET_TYPES)
    if not budgets:
        yield Finding("", "budgets", 0, "the stack defines no budget.", "Add a monthly budget with alert recipients.")
        return
    good = [b for b in budgets if (_amount(b) or 0) > 0 and _recipients(b) > 0]
    if not good:
        first = budgets[0]
        yield Finding(
            first.urn,
            "limitAmount" if first.type.startswith("aws:") else "amount",
            _amount(first),
            "no budget has both an amount above zero and a notification with a recipient.",
            "Give the budget a positive amount and at least one alert e-mail.",
        )


_AWS_GPU_FAMILIES = re.compile(r"^(p\d|g\d|inf\d|trn\d|dl\d)")


def _aws_gpu_node_group(res: Res) -> bool:
    types = items(get(res.props, "instanceTypes"))
    ami = str(get(res.props, "amiType", "") or "")
    return any(isinstance(t, str) and _AWS_GPU_FAMILIES.match(t) for t in types) or any(k in ami for k in ("NVIDIA", "GPU", "NEURON"))


def _azure_gpu(vm_size: Any) -> bool:
    return isinstance(vm_size, str) and vm_size.lower().startswith("standard_n")


@rule(
    "gpu-pool-max-size",
    description="GPU node pools (EKS node groups with p/g/inf/trn instances or NVIDIA/Neuron AMIs, AKS pools with Standard_N* sizes) "
    "have an explicit maximum size, so a scaling loop cannot run up the bill.",
    severity="high",
    scope="resource",
    remediation="Set scalingConfig.maxSize (EKS) or enableAutoScaling with maxCount (AKS) from llm-platform:scale GPU pool config.",
    needs_profile=False,
)
def gpu_pool_max_size(res: Res, settings: RuleSettings) -> Iterator[Finding]:
    if res.type == "aws:eks/nodeGroup:NodeGroup" and _aws_gpu_node_group(res):
        max_size = get(res.props, "scalingConfig.maxSize")
        if max_size is None or is_unknown(max_size) or not isinstance(max_size, (int, float)) or max_size <= 0:
            yield Finding(res.urn, "scalingConfig.maxSize", max_size, "GPU node group without a known maximum size.", "Set scalingConfig.maxSize.")
    pools: list[tuple[str, Any]] = []
    if res.type == "azure-native:containerservice:AgentPool":
        pools.append(("", res.props))
    elif res.type == "azure-native:containerservice:ManagedCluster":
        pools.extend((f"agentPoolProfiles[{i}].", p) for i, p in enumerate(items(get(res.props, "agentPoolProfiles"))))
    for prefix, pool in pools:
        if not _azure_gpu(get(pool, "vmSize")):
            continue
        if get(pool, "enableAutoScaling") is not True or not isinstance(get(pool, "maxCount"), (int, float)):
            yield Finding(res.urn, f"{prefix}maxCount", get(pool, "maxCount"), "GPU agent pool without autoscaling and a maximum count.", "Set enableAutoScaling true and maxCount.")
