"""`python -m scripts plan`: what `pulumi up` would create, offline."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from policies.llm_guard.location import SECRET_SIG, SIG_KEY, UNKNOWN_SENTINELS
from scripts.engine import Plan, RecordedResource

# Inputs worth a glance in the tree, in this order, when a resource has them.
KEY_INPUTS = (
    "name",
    "engine",
    "engineVersion",
    "instanceClass",
    "nodeType",
    "cidrBlock",
    "availabilityZone",
    "internal",
    "launchType",
    "desiredCount",
    "retentionInDays",
    "enableKeyRotation",
    "multiRegion",
    "storageEncrypted",
    "deletionProtection",
    "publiclyAccessible",
    "kind",
    "sku",
    "version",
    "publicNetworkAccess",
    "budgetType",
    "limitAmount",
    "amount",
    "timeUnit",
    "timeGrain",
    "secretName",
    "bucket",
)


def _short(value: Any) -> str:
    if isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG:
        return "[secret]"
    if isinstance(value, str) and value in UNKNOWN_SENTINELS:
        return "(known after apply)"
    if isinstance(value, dict) and "name" in value and len(value) <= 3:
        return str(value["name"])
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dict, list)):
        text = json.dumps(value)
    else:
        text = json.dumps(value) if isinstance(value, bool) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def key_inputs(resource: RecordedResource, limit: int = 3) -> str:
    shown = []
    for key in KEY_INPUTS:
        if key in resource.inputs and len(shown) < limit:
            shown.append(f"{key}={_short(resource.inputs[key])}")
    return ", ".join(shown)


def _children(resources: Iterable[RecordedResource]) -> dict[str | None, list[RecordedResource]]:
    tree: dict[str | None, list[RecordedResource]] = {}
    urns = {r.urn for r in resources}
    for r in resources:
        parent = r.parent if r.parent in urns else None
        tree.setdefault(parent, []).append(r)
    for items in tree.values():
        items.sort(key=lambda r: (r.custom, r.type, r.name))
    return tree


def render_plan(plan: Plan) -> str:
    cfg = plan.config
    header = (
        f"Offline plan of stack '{plan.stack}' ({plan.source}): phase {cfg.get('llm-platform:phase')}, "
        f"cloud {cfg.get('llm-platform:cloud')}, residency {cfg.get('llm-platform:residency')}"
    )
    lines = [header, ""]
    resources = [r for r in plan.resources]
    tree = _children(resources)
    width = max((len(r.type) for r in resources), default=20) + 8
    lines.append(f"     {'Type':<{width}} {'Name':<34} {'Where':<16} Key inputs")
    lines.append(f" +   {'pulumi:pulumi:Stack':<{width}} {plan.project + '-' + plan.stack}")

    def walk(parent: str | None, prefix: str) -> None:
        items = tree.get(parent, [])
        for i, r in enumerate(items):
            last = i == len(items) - 1
            branch = "└─ " if last else "├─ "
            where = _where(r.location)
            flags = "  [protected]" if r.protect else ""
            label = f"{prefix}{branch}{r.type}"
            lines.append(f" +   {label:<{width}} {r.name:<34} {where:<16} {key_inputs(r)}{flags}")
            walk(r.urn, prefix + ("   " if last else "│  "))

    walk(None, "")
    counts = Counter(_where(r.location) for r in resources if r.custom and not r.type.startswith("pulumi:providers:"))
    custom = [r for r in resources if r.custom]
    lines.append("")
    lines.append(
        f"Resources: {len(resources) + 1} to create ({len(custom)} cloud resources, "
        f"{sum(1 for r in resources if r.protect)} protected)."
    )
    lines.append("Where: " + ", ".join(f"{k} ({v})" for k, v in sorted(counts.items())))
    if plan.outputs:
        lines.append("Outputs:")
        for key, value in sorted(plan.outputs.items()):
            lines.append(f"    {key}: {_short(value) if not isinstance(value, dict) else json.dumps(value)}")
    for warning in plan.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def _where(location: dict[str, Any]) -> str:
    status = location.get("status")
    if status == "located":
        return str(location.get("region"))
    if status in ("global", "unknown"):
        return status
    return "-"


def summary_row(plan: Plan) -> dict[str, Any]:
    cfg = plan.config
    custom = [r for r in plan.resources if r.custom and not r.type.startswith("pulumi:providers:")]
    regions = sorted({str(r.location.get("region")) for r in custom if r.location.get("status") == "located"})
    return {
        "stack": plan.stack,
        "phase": cfg.get("llm-platform:phase"),
        "cloud": cfg.get("llm-platform:cloud"),
        "residency": cfg.get("llm-platform:residency"),
        "regions": ",".join(regions),
        "resources": len(custom),
        "protected": sum(1 for r in plan.resources if r.protect),
    }


def render_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    head = "  ".join(c.upper().ljust(widths[c]) for c in columns)
    rule = "  ".join("-" * widths[c] for c in columns)
    body = ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join([head, rule, *body])
