"""Compare two recorded resource graphs (the JSON of `plan --json`) by URN: what a change creates,
deletes and changes, which input paths change, and which of those touch stateful resources
(keys, secrets, databases, vector stores, buckets, log archives) - the ones a review must catch.

Values are shown as recorded: secrets are already masked by the engine (`[secret]`), and a value
that is unknown at preview shows as `(known after apply)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from policies.llm_guard.location import is_secret, is_unknown

# What losing or replacing costs data: type token -> what it holds.
STATEFUL_TYPES: Mapping[str, str] = {
    "aws:kms/key:Key": "encryption key",
    "aws:secretsmanager/secret:Secret": "secret",
    "aws:secretsmanager/secretVersion:SecretVersion": "secret value",
    "aws:rds/instance:Instance": "database",
    "aws:rds/cluster:Cluster": "database",
    "aws:rds/clusterInstance:ClusterInstance": "database",
    "aws:elasticache/replicationGroup:ReplicationGroup": "cache",
    "aws:opensearch/serverlessCollection:ServerlessCollection": "vector store",
    "aws:s3/bucket:Bucket": "bucket",
    "aws:s3/bucketV2:BucketV2": "bucket",
    "aws:cloudwatch/logGroup:LogGroup": "log archive",
    "aws:dynamodb/table:Table": "table",
    "azure-native:resources:ResourceGroup": "resource group (holds everything)",
    "azure-native:keyvault:Vault": "key vault",
    "azure-native:keyvault:Key": "encryption key",
    "azure-native:keyvault:Secret": "secret",
    "azure-native:dbforpostgresql:Server": "database",
    "azure-native:redisenterprise:RedisEnterprise": "cache",
    "azure-native:search:Service": "vector store",
    "azure-native:storage:StorageAccount": "bucket",
    "azure-native:storage:BlobContainer": "bucket",
    "azure-native:storage:FileShare": "file share",
    "azure-native:operationalinsights:Workspace": "log archive",
    "azure-native:cognitiveservices:Account": "model account (custom subdomain, keys)",
    "random:index/randomPassword:RandomPassword": "generated secret",
}
_MAX_VALUE = 120


@dataclass
class Change:
    path: str
    before: str
    after: str


@dataclass
class ResourceDiff:
    urn: str
    type: str
    action: str  # create | delete | update
    stateful: str | None  # what it holds, when stateful
    changes: list[Change] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return self.stateful is not None and self.action in ("delete", "update")

    @property
    def tags_only(self) -> bool:
        return self.action == "update" and all(c.path.split(".")[0].split("[")[0] in ("tags", "tagsAll") for c in self.changes)


@dataclass
class GraphDiff:
    base: str
    head: str
    resources: list[ResourceDiff]

    def of(self, action: str) -> list[ResourceDiff]:
        return [r for r in self.resources if r.action == action]

    @property
    def flagged(self) -> list[ResourceDiff]:
        return [r for r in self.resources if r.flagged]

    def to_json(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "summary": {"create": len(self.of("create")), "delete": len(self.of("delete")), "update": len(self.of("update")), "stateful": len(self.flagged)},
            "resources": [asdict(r) | {"flagged": r.flagged, "tags_only": r.tags_only} for r in self.resources],
        }


# ------------------------------------------------------------------------------ comparing


def diff_graphs(base: Mapping[str, Any], head: Mapping[str, Any], base_name: str = "base", head_name: str = "head") -> GraphDiff:
    before = {r["urn"]: r for r in base["resources"] if r.get("custom", True)}
    after = {r["urn"]: r for r in head["resources"] if r.get("custom", True)}
    diffs = []
    for urn in sorted(after.keys() - before.keys()):
        diffs.append(ResourceDiff(urn, after[urn]["type"], "create", STATEFUL_TYPES.get(after[urn]["type"])))
    for urn in sorted(before.keys() - after.keys()):
        diffs.append(ResourceDiff(urn, before[urn]["type"], "delete", STATEFUL_TYPES.get(before[urn]["type"])))
    for urn in sorted(before.keys() & after.keys()):
        old, new = before[urn], after[urn]
        changes = list(_changes(old.get("inputs") or {}, new.get("inputs") or {}, ""))
        if bool(old.get("protect")) != bool(new.get("protect")):
            changes.append(Change("(protect)", str(bool(old.get("protect"))).lower(), str(bool(new.get("protect"))).lower()))
        if old.get("provider") != new.get("provider"):
            changes.append(Change("(provider)", _short(old.get("provider")), _short(new.get("provider"))))
        if changes:
            diffs.append(ResourceDiff(urn, new["type"], "update", STATEFUL_TYPES.get(new["type"]), changes))
    order = {"delete": 0, "update": 1, "create": 2}
    diffs.sort(key=lambda r: (not r.flagged, r.tags_only, order[r.action], r.urn))
    return GraphDiff(base_name, head_name, diffs)


def _changes(old: Any, new: Any, path: str) -> Iterator[Change]:
    if is_secret(old) or is_secret(new):
        if is_secret(old) != is_secret(new) or old.get("value") != new.get("value"):
            yield Change(path or "(value)", _show(old), _show(new))
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                yield Change(sub, _show(old[key]), "(removed)")
            elif key not in old:
                yield Change(sub, "(absent)", _show(new[key]))
            else:
                yield from _changes(old[key], new[key], sub)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _changes(a, b, f"{path}[{i}]")
        return
    if old != new:
        yield Change(path or "(value)", _show(old), _show(new))


def _show(value: Any) -> str:
    if is_secret(value):
        return "[secret]"
    if is_unknown(value):
        return "(known after apply)"
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # the engine records every number as a float
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _short(urn: Any) -> str:
    return str(urn).split("::")[-2] if isinstance(urn, str) and "::" in urn else str(urn)


# ------------------------------------------------------------------------------ output


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def render_text(diff: GraphDiff, color: bool = False) -> str:
    red, reset = ("\033[31;1m", "\033[0m") if color else ("", "")
    lines = [f"Plan diff {diff.base} -> {diff.head}: {len(diff.of('create'))} to create, {len(diff.of('update'))} to change, {len(diff.of('delete'))} to delete"]
    if diff.flagged:
        tags_only = sum(1 for r in diff.flagged if r.tags_only)
        lines.append(f"{red}!! {len(diff.flagged)} stateful resource(s) deleted or changed ({tags_only} only in tags): review before merging{reset}")
    symbol = {"create": "+", "delete": "-", "update": "~"}
    for r in diff.resources:
        mark = f"{red}!! " if r.flagged else "   "
        end = reset if r.flagged else ""
        held = f" [stateful: {r.stateful}{', tags only' if r.tags_only else ''}]" if r.flagged else ""
        lines.append(f"{mark}{symbol[r.action]} {r.type} {_name(r.urn)}{held}{end}")
        for c in r.changes:
            lines.append(f"       {c.path}: {c.before} => {c.after}")
    if not diff.resources:
        lines.append("   no changes")
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(diff: GraphDiff, title: str | None = None) -> str:
    lines = [f"### {title or f'Plan diff `{diff.base}` → `{diff.head}`'}", ""]
    lines.append(f"**{len(diff.of('create'))}** to create · **{len(diff.of('update'))}** to change · **{len(diff.of('delete'))}** to delete")
    if diff.flagged:
        tags_only = sum(1 for r in diff.flagged if r.tags_only)
        lines += [
            "",
            f"> [!CAUTION]\n> 🔴 **{len(diff.flagged)} stateful resource(s) deleted or changed** ({tags_only} only in tags): keys, secrets, databases, "
            "vector stores, buckets or log archives. Check that nothing is lost or replaced.",
        ]
    if not diff.resources:
        lines += ["", "No changes."]
        return "\n".join(lines) + "\n"
    lines += ["", "| | action | type | name | changed inputs |", "|---|---|---|---|---|"]
    for r in diff.resources:
        flag = "🔴" if r.flagged else ""
        stateful = f" ({r.stateful}{', tags only' if r.tags_only else ''})" if r.flagged else ""
        changed = "<br>".join(f"`{_md(c.path)}`: {_md(c.before)} → {_md(c.after)}" for c in r.changes[:12])
        if len(r.changes) > 12:
            changed += f"<br>… {len(r.changes) - 12} more"
        lines.append(f"| {flag} | {r.action}{stateful} | `{r.type}` | `{_md(_name(r.urn))}` | {changed} |")
    return "\n".join(lines) + "\n"
