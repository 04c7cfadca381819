"""Checks recorded wire inputs against the installed Pulumi SDKs' typed Args classes.

Every input name must be a property of the resource's Args class (recursively for nested
objects), and every value's shape must fit the declared type. A typo in a dict-form argument,
which Pulumi would otherwise send to the provider unchecked, fails here.
"""

from __future__ import annotations

import enum
import functools
import importlib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi import _types as pulumi_types

from policies.llm_guard.location import SECRET_SIG, SIG_KEY, is_unknown

_PACKAGES = {"aws": "pulumi_aws", "azure-native": "pulumi_azure_native", "kubernetes": "pulumi_kubernetes", "random": "pulumi_random"}


@functools.cache
def resource_class(token: str) -> type | None:
    """pulumi_aws.kms.Key for 'aws:kms/key:Key', pulumi_aws.Provider for 'pulumi:providers:aws'."""
    if token.startswith("pulumi:providers:"):
        package = _PACKAGES.get(token.rsplit(":", 1)[1])
        return importlib.import_module(package).Provider if package else None
    package, module, name = token.split(":")
    root = _PACKAGES.get(package)
    if root is None:
        return None
    module_path = module.split("/")[0]
    if package == "kubernetes":
        module_path = module.replace("/", ".")
    mod = importlib.import_module(root if module_path == "index" else f"{root}.{module_path}")
    return getattr(mod, name, None)


def args_class(token: str) -> type | None:
    cls = resource_class(token)
    if cls is None:
        return None
    module = importlib.import_module(cls.__module__)
    # Codegen names a resource's args <Name>InitArgs when <Name>Args is taken by a nested type.
    return getattr(module, f"{cls.__name__}InitArgs", None) or getattr(module, f"{cls.__name__}Args", None)


def taggable(token: str) -> bool:
    """A type takes tags when its Args class has a `tags` property (decided by the SDK)."""
    cls = args_class(token)
    return cls is not None and "tags" in pulumi_types.input_type_py_to_pulumi_names(cls)


def _members(typ: Any) -> list[Any]:
    """Flatten Input/Optional/Union/Awaitable/Output wrappers into the concrete alternatives."""
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        out = []
        for arg in typing.get_args(typ):
            out.extend(_members(arg))
        return out
    if origin is not None and getattr(origin, "__name__", "") in ("Awaitable", "Output"):
        return _members(typing.get_args(typ)[0])
    if typ is type(None) or typ is pulumi.Output:
        return []
    return [typ]


def check_inputs(token: str, inputs: Mapping[str, Any]) -> list[str]:
    cls = args_class(token)
    if cls is None:
        return [f"{token}: no Args class in the installed SDK"]
    problems: list[str] = []
    _check_object(cls, inputs, token, problems, provider=token.startswith("pulumi:providers:"))
    return problems


def _check_object(cls: type, value: Mapping[str, Any], path: str, problems: list[str], provider: bool = False) -> None:
    names = pulumi_types.input_type_py_to_pulumi_names(cls)
    wire_to_py = {wire: py for py, wire in names.items()}
    hints = pulumi_types.input_type_types(cls)
    for key, item in value.items():
        if key not in wire_to_py:
            problems.append(f"{path}.{key}: not an input of {cls.__name__} (known: {', '.join(sorted(wire_to_py))})")
            continue
        if provider:
            continue  # provider inputs travel JSON-encoded; names are what can be wrong
        _check_value(hints.get(key, Any), item, f"{path}.{key}", problems)


def _check_value(typ: Any, value: Any, path: str, problems: list[str]) -> None:
    if value is None or is_unknown(value):
        return
    if isinstance(value, Mapping) and value.get(SIG_KEY) == SECRET_SIG:
        value = value.get("value")
        if value == "[secret]":
            return
    members = _members(typ)
    if not members or any(m is Any for m in members):
        return
    if isinstance(value, Mapping):
        for m in members:
            if isinstance(m, type) and pulumi_types.is_input_type(m):
                _check_object(m, value, path, problems)
                return
        for m in members:
            origin = typing.get_origin(m)
            if origin in (dict, Mapping, typing.Mapping) or getattr(origin, "__name__", "") == "Mapping":
                value_type = typing.get_args(m)[1] if typing.get_args(m) else Any
                for k, v in value.items():
                    _check_value(value_type, v, f"{path}[{k}]", problems)
                return
            if m in (dict, Mapping):
                return
        problems.append(f"{path}: an object where {typ} is expected")
        return
    if isinstance(value, list):
        for m in members:
            origin = typing.get_origin(m)
            if origin in (list, Sequence) or getattr(origin, "__name__", "") == "Sequence":
                element = typing.get_args(m)[0] if typing.get_args(m) else Any
                for i, v in enumerate(value):
                    _check_value(element, v, f"{path}[{i}]", problems)
                return
            if m in (list, Sequence):
                return
        problems.append(f"{path}: a list where {typ} is expected")
        return
    primitives = {bool: (bool,), str: (str,), int: (int, float), float: (int, float)}
    enums = [m for m in members if isinstance(m, type) and issubclass(m, enum.Enum)]
    allowed = sorted({str(e.value) for m in enums for e in m})
    if enums and isinstance(value, str) and value not in allowed:
        # The SDK accepts any string for forward compatibility; a value it does not know is
        # almost always a typo that the cloud API would reject.
        problems.append(f"{path}: {value!r} is not a value the SDK knows (allowed: {', '.join(allowed)})")
        return
    for m in members:
        if isinstance(m, type) and issubclass(m, enum.Enum):
            if value in {e.value for e in m}:
                return
            continue
        accepted = primitives.get(m) if isinstance(m, type) else None
        if accepted and isinstance(value, accepted) and not (m is not bool and isinstance(value, bool)):
            if m is int and isinstance(value, float) and not value.is_integer():
                continue
            return
    detail = f" (allowed: {', '.join(allowed)})" if allowed else ""
    problems.append(f"{path}: {value!r} does not fit {typ}{detail}")
