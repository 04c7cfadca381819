"""Every `ignoreChanges` path of every resource in every plan names a property that exists.

The engine matches ignoreChanges against the resource's wire (camelCase) property names; a path
that names nothing (`scaling_config.desired_size` instead of `scalingConfig.desiredSize`) is
silently ignored, so the drift it was meant to keep (autoscaler-owned sizes, for example) is
reset on every update. Paths are resolved against the installed SDKs' Args classes.
"""

from __future__ import annotations

import re
import typing
from typing import Any

import pytest
from pulumi import _types as pulumi_types

from tests.plan_matrix import CASE_IDS, plan_for
from tests.sdk_schema import _members, args_class

# foo, foo[0], foo[*], foo["key"]: the path syntax of the Pulumi engine (resource.PropertyPath).
_SEGMENT = re.compile(r'([^.\[\]]+)|\[(\d+|\*)\]|\["([^"]+)"\]')


def _segments(path: str) -> list[tuple[str, str]]:
    """("name", x) for a property, ("index", i) for a list element or map key."""
    out: list[tuple[str, str]] = []
    for match in _SEGMENT.finditer(path):
        name, index, key = match.groups()
        if name is not None:
            out.append(("name", name))
        else:
            out.append(("index", index if index is not None else key))
    return out


def _element(typ: Any) -> Any | None:
    """The element type of a list or map type, None if `typ` is neither."""
    for member in _members(typ):
        origin = typing.get_origin(member)
        args = typing.get_args(member)
        name = getattr(origin, "__name__", "")
        if origin in (list, typing.Sequence) or name == "Sequence":
            return args[0] if args else Any
        if origin in (dict, typing.Mapping) or name == "Mapping":
            return args[1] if len(args) > 1 else Any
        if member in (list, dict):
            return Any
    return None


def _is_map(typ: Any) -> bool:
    return any(typing.get_origin(m) in (dict, typing.Mapping) or getattr(typing.get_origin(m), "__name__", "") == "Mapping" or m is dict for m in _members(typ))


def _object(typ: Any) -> type | None:
    for member in _members(typ):
        if isinstance(member, type) and pulumi_types.is_input_type(member):
            return member
    return None


def path_problem(token: str, path: str) -> str | None:
    """None when `path` resolves through the type's wire schema, else what does not."""
    cls = args_class(token)
    if cls is None:
        return f"{token}: no Args class to check '{path}' against"
    current: Any = cls
    segments = _segments(path)
    if not segments or "".join(s for _, s in segments) == "":
        return f"'{path}' is empty"
    for kind, value in segments:
        if current is Any:
            return None  # free-form below this point (a JSON or map of any): cannot be wrong
        if kind == "index":
            element = _element(current)
            if element is None:
                return f"'{path}': [{value}] indexes something that is neither a list nor a map"
            current = element
            continue
        obj = current if isinstance(current, type) and pulumi_types.is_input_type(current) else _object(current)
        if obj is None:
            if _is_map(current):
                current = _element(current)  # a map key written with a dot: tags.owner
                continue
            return f"'{path}': '{value}' is below a value that has no properties"
        wire_to_py = {wire: py for py, wire in pulumi_types.input_type_py_to_pulumi_names(obj).items()}
        if value not in wire_to_py:
            hint = f" (the wire name is '{pulumi_types.input_type_py_to_pulumi_names(obj)[value]}')" if value in pulumi_types.input_type_py_to_pulumi_names(obj) else ""
            return f"'{path}': {obj.__name__} has no property '{value}'{hint}"
        current = pulumi_types.input_type_types(obj).get(value, Any)
    return None


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_every_ignore_changes_path_exists_in_the_wire_schema(case_id: str) -> None:
    plan = plan_for(case_id)
    problems = [f"{r.urn}: {problem}" for r in plan.resources if r.custom for path in r.ignore_changes if (problem := path_problem(r.type, path))]
    assert problems == []


@pytest.mark.parametrize(
    ("token", "path", "ok"),
    [
        ("aws:eks/nodeGroup:NodeGroup", "scalingConfig.desiredSize", True),
        ("aws:eks/nodeGroup:NodeGroup", "scaling_config.desired_size", False),
        ("aws:eks/nodeGroup:NodeGroup", "scalingConfig.desired", False),
        ("aws:eks/nodeGroup:NodeGroup", "taints[0].key", True),
        ("aws:eks/nodeGroup:NodeGroup", "labels[\"accelerator\"]", True),
        ("aws:eks/nodeGroup:NodeGroup", "tags.owner", True),
        ("aws:eks/nodeGroup:NodeGroup", "scalingConfig[0]", False),
        ("azure-native:containerservice:AgentPool", "count", True),
        ("azure-native:containerservice:ManagedCluster", "agentPoolProfiles", True),
        ("azure-native:containerservice:ManagedCluster", "agentPoolProfiles[*].count", True),
        ("azure-native:containerservice:ManagedCluster", "agent_pool_profiles", False),
    ],
)
def test_the_path_resolver_accepts_wire_names_only(token: str, path: str, ok: bool) -> None:
    assert (path_problem(token, path) is None) is ok, path_problem(token, path)
