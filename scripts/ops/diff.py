"""Compare two recorded resource graphs (the JSON of `plan --json`) by URN: what a change creates,
deletes, replaces and updates, which input paths change, and which of those touch stateful
resources (keys, secrets, databases, vector stores, buckets, log archives) - the ones a review
must catch.

- Structured values are compared inside: JSON held in a string (ECS container definitions, IAM
  documents) is decoded, and lists of named items (env variables, containers, ports) are matched
  by name, so a change reads `containerDefinitions[api].environment[FILES_URL].value`.
- An update becomes a replacement (`+-`) when a changed path is one the provider replaces on
  (`scripts/data/replacements.yaml`, sourced per type) or the region/location moves.
- Secrets stay masked (`[secret]`, as the engine recorded them); a value unknown at preview shows
  as `(known after apply)`.
- A promotion that removes a model or route the gateway served is warned about: clients calling
  it would start failing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from policies.llm_guard.location import is_secret, is_unknown

REPLACEMENTS_FILE = Path(__file__).resolve().parents[1] / "data" / "replacements.yaml"

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
TAG_PROPERTIES = frozenset({"tags", "tagsAll"})
# Inputs whose change moves a resource to another region: every provider replaces on them.
_LOCATION_PROPERTIES = ("region", "location")


@cache
def replacement_paths() -> Mapping[str, tuple[str, ...]]:
    """type token -> input paths (wire names, prefix match) whose change replaces the resource."""
    if not REPLACEMENTS_FILE.exists():
        return {}
    data = yaml.safe_load(REPLACEMENTS_FILE.read_text(encoding="utf-8")) or {}
    return {token: tuple(entry.get("replace_on") or ()) for token, entry in (data.get("types") or {}).items()}


@cache
def replacement_conditions() -> Mapping[str, tuple[tuple[str, str], ...]]:
    """type token -> (path, condition) pairs that replace only under the stated condition."""
    if not REPLACEMENTS_FILE.exists():
        return {}
    data = yaml.safe_load(REPLACEMENTS_FILE.read_text(encoding="utf-8")) or {}
    return {
        token: tuple((c["path"], c["when"]) for c in entry.get("replace_when") or ())
        for token, entry in (data.get("types") or {}).items()
    }


def _covers(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith((f"{prefix}.", f"{prefix}["))


def may_replace(type_token: str, path: str) -> str:
    """The condition under which a change of `path` replaces the resource, or ''."""
    return next((when for prefix, when in replacement_conditions().get(type_token, ()) if _covers(prefix, path)), "")


def replaces_on(type_token: str, path: str) -> bool:
    head = path.split(".")[0].split("[")[0]
    if head in _LOCATION_PROPERTIES:
        return True
    return any(_covers(prefix, path) for prefix in replacement_paths().get(type_token, ()))


@dataclass
class Change:
    path: str
    before: str
    after: str
    replaces: bool = False
    may_replace: str = ""  # the provider's condition for replacing on this change, when it has one


@dataclass
class ResourceDiff:
    urn: str
    type: str
    action: str  # create | delete | replace | update
    stateful: str | None  # what it holds, when stateful
    changes: list[Change] = field(default_factory=list)

    @property
    def tags_only(self) -> bool:
        return self.action == "update" and bool(self.changes) and all(_is_tag_path(c.path) for c in self.changes)

    @property
    def flagged(self) -> bool:
        """A stateful resource deleted, replaced or changed beyond its tags."""
        return self.stateful is not None and self.action in ("delete", "replace", "update") and not self.tags_only


def _is_tag_path(path: str) -> bool:
    return path.split(".")[0].split("[")[0] in TAG_PROPERTIES


@dataclass
class GraphDiff:
    base: str
    head: str
    resources: list[ResourceDiff]
    warnings: list[str] = field(default_factory=list)

    def of(self, action: str) -> list[ResourceDiff]:
        return [r for r in self.resources if r.action == action]

    @property
    def flagged(self) -> list[ResourceDiff]:
        return [r for r in self.resources if r.flagged]

    def to_json(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "summary": {
                "create": len(self.of("create")),
                "delete": len(self.of("delete")),
                "replace": len(self.of("replace")),
                "update": len(self.of("update")),
                "stateful": len(self.flagged),
            },
            "warnings": self.warnings,
            "resources": [asdict(r) | {"flagged": r.flagged, "tags_only": r.tags_only} for r in self.resources],
        }


# ------------------------------------------------------------------------------ comparing


def diff_graphs(
    base: Mapping[str, Any],
    head: Mapping[str, Any],
    base_name: str = "base",
    head_name: str = "head",
    *,
    ignore_tags: bool = False,
) -> GraphDiff:
    before = {r["urn"]: r for r in base["resources"] if r.get("custom", True)}
    after = {r["urn"]: r for r in head["resources"] if r.get("custom", True)}
    diffs = []
    for urn in sorted(after.keys() - before.keys()):
        diffs.append(ResourceDiff(urn, after[urn]["type"], "create", STATEFUL_TYPES.get(after[urn]["type"])))
    for urn in sorted(before.keys() - after.keys()):
        diffs.append(ResourceDiff(urn, before[urn]["type"], "delete", STATEFUL_TYPES.get(before[urn]["type"])))
    for urn in sorted(before.keys() & after.keys()):
        old, new = before[urn], after[urn]
        type_token = new["type"]
        changes = [
            Change(path, before_text, after_text, replaces_on(type_token, path), may_replace(type_token, path))
            for path, before_text, after_text in _changes(old.get("inputs") or {}, new.get("inputs") or {}, "")
            if not (ignore_tags and _is_tag_path(path))
        ]
        if bool(old.get("protect")) != bool(new.get("protect")):
            changes.append(Change("(protect)", str(bool(old.get("protect"))).lower(), str(bool(new.get("protect"))).lower()))
        if old.get("provider") != new.get("provider"):
            changes.append(Change("(provider)", _short(old.get("provider")), _short(new.get("provider"))))
        if changes:
            action = "replace" if any(c.replaces for c in changes) else "update"
            diffs.append(ResourceDiff(urn, type_token, action, STATEFUL_TYPES.get(type_token), changes))
    order = {"delete": 0, "replace": 1, "update": 2, "create": 3}
    diffs.sort(key=lambda r: (not r.flagged, r.tags_only, order[r.action], r.urn))
    return GraphDiff(base_name, head_name, diffs, _gateway_warnings(base, head))


def _decoded(value: Any) -> Any:
    """JSON documents held in strings (container definitions, IAM policies) as structures."""
    if isinstance(value, str) and value[:1] in "{[" and not is_unknown(value):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


_ITEM_KEYS = ("name", "Sid")  # env vars, containers, ports; IAM statements


def _named(items: list[Any]) -> dict[str, Any] | None:
    """A list of items that each carry a distinct name (env vars, containers, IAM statement ids),
    keyed by it, so a change reads `environment[FILES_URL]` instead of `environment[8]`."""
    for field_name in _ITEM_KEYS:
        if items and all(isinstance(i, Mapping) and isinstance(i.get(field_name), str) for i in items):
            keyed = {i[field_name]: i for i in items}
            if len(keyed) == len(items):
                return keyed
    return None


def _changes(old: Any, new: Any, path: str) -> Iterator[tuple[str, str, str]]:
    here = path or "(value)"
    if is_secret(old) or is_secret(new):
        if is_secret(old) != is_secret(new) or old.get("value") != new.get("value"):
            yield here, _show(old), _show(new)
        return
    old, new = _decoded(old), _decoded(new)
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(old.keys() | new.keys()):
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                yield sub, _show(old[key]), "(removed)"
            elif key not in old:
                yield sub, "(absent)", _show(new[key])
            else:
                yield from _changes(old[key], new[key], sub)
        return
    if isinstance(old, list) and isinstance(new, list):
        old_named, new_named = _named(old), _named(new)
        if old_named is not None and new_named is not None:
            for name in sorted(old_named.keys() | new_named.keys()):
                sub = f"{path}[{name}]"
                if name not in new_named:
                    yield sub, _show(old_named[name]), "(removed)"
                elif name not in old_named:
                    yield sub, "(absent)", _show(new_named[name])
                else:
                    yield from _changes(old_named[name], new_named[name], sub)
            return
        if len(old) == len(new):
            for i, (a, b) in enumerate(zip(old, new, strict=True)):
                yield from _changes(a, b, f"{path}[{i}]")
            return
    if old != new:
        yield here, _show(old), _show(new)


def _show(value: Any) -> str:
    """The whole value (a reviewer must see what it becomes); secrets masked, unknowns named."""
    if is_secret(value):
        return "[secret]"
    if is_unknown(value):
        return "(known after apply)"
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # the engine records every number as a float
    if isinstance(value, (Mapping, list)):
        return json.dumps(_masked(value), sort_keys=True, default=str)
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _masked(value: Any) -> Any:
    if is_secret(value):
        return "[secret]"
    if isinstance(value, Mapping):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _short(urn: Any) -> str:
    return str(urn).split("::")[-2] if isinstance(urn, str) and "::" in urn else str(urn)


# ------------------------------------------------------------------------------ gateway models


def gateway_models(graph: Mapping[str, Any]) -> set[str]:
    """Model names every LiteLLM config in the graph serves (ConfigMaps, container env)."""
    names: set[str] = set()
    for resource in graph.get("resources", []):
        for text in _strings(resource.get("inputs") or {}):
            if "model_list" not in text:
                continue
            try:
                config = yaml.safe_load(text)
            except yaml.YAMLError:
                continue
            if isinstance(config, Mapping) and isinstance(config.get("model_list"), list):
                names |= {str(m["model_name"]) for m in config["model_list"] if isinstance(m, Mapping) and "model_name" in m}
    return names


def _strings(value: Any) -> Iterator[str]:
    if is_secret(value):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _gateway_warnings(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[str]:
    before, after = gateway_models(base), gateway_models(head)
    removed = sorted(before - after)
    if not removed:
        return []
    return [
        f"the gateway no longer serves model(s) {', '.join(removed)}: clients that call them will get errors; "
        "keep them as routes (e.g. a route with only fallbacks) or move the clients first"
    ]


# ------------------------------------------------------------------------------ output


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


_SYMBOL = {"create": "+", "delete": "-", "replace": "+-", "update": "~"}


def _held(r: ResourceDiff) -> str:
    if r.stateful is None or r.action == "create":
        return ""
    return f"{r.stateful}{', tags only' if r.tags_only else ''}"


def _note(c: Change) -> str:
    if c.replaces:
        return "  (forces replacement)"
    return f"  (replaces if {c.may_replace})" if c.may_replace else ""


def render_text(diff: GraphDiff, color: bool = False) -> str:
    red, reset = ("\033[31;1m", "\033[0m") if color else ("", "")
    lines = [
        f"Plan diff {diff.base} -> {diff.head}: {len(diff.of('create'))} to create, {len(diff.of('update'))} to change, "
        f"{len(diff.of('replace'))} to replace, {len(diff.of('delete'))} to delete"
    ]
    if diff.flagged:
        lines.append(f"{red}!! {len(diff.flagged)} stateful resource(s) deleted, replaced or changed: review before merging{reset}")
    lines += [f"{red}warning: {w}{reset}" for w in diff.warnings]
    for r in diff.resources:
        mark = f"{red}!! " if r.flagged else "   "
        end = reset if r.flagged else ""
        held = f" [stateful: {_held(r)}]" if _held(r) else ""
        lines.append(f"{mark}{_SYMBOL[r.action]} {r.type} {_name(r.urn)}{held}{end}")
        for c in r.changes:
            lines.append(f"       {c.path}: {c.before} => {c.after}{_note(c)}")
    if not diff.resources:
        lines.append("   no changes")
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(diff: GraphDiff, title: str | None = None) -> str:
    lines = [f"### {title or f'Plan diff `{diff.base}` → `{diff.head}`'}", ""]
    lines.append(
        f"**{len(diff.of('create'))}** to create · **{len(diff.of('update'))}** to change · "
        f"**{len(diff.of('replace'))}** to replace · **{len(diff.of('delete'))}** to delete"
    )
    if diff.flagged:
        lines += [
            "",
            f"> [!CAUTION]\n> 🔴 **{len(diff.flagged)} stateful resource(s) deleted, replaced or changed**: keys, secrets, databases, "
            "vector stores, buckets or log archives. Check that nothing is lost or replaced.",
        ]
    for warning in diff.warnings:
        lines += ["", f"> [!WARNING]\n> {_md(warning)}"]
    if not diff.resources:
        lines += ["", "No changes."]
        return "\n".join(lines) + "\n"
    lines += ["", "| | action | type | name | changed inputs |", "|---|---|---|---|---|"]
    for r in diff.resources:
        flag = "🔴" if r.flagged else ""
        held = f" ({_held(r)})" if _held(r) else ""
        changed = "<br>".join(f"`{_md(c.path)}`: {_md(c.before)} → {_md(c.after)}{_md(_note(c))}" for c in r.changes[:12])
        if len(r.changes) > 12:
            changed += f"<br>… {len(r.changes) - 12} more"
        lines.append(f"| {flag} | {_SYMBOL[r.action]} {r.action}{held} | `{r.type}` | `{_md(_name(r.urn))}` | {changed} |")
    return "\n".join(lines) + "\n"
