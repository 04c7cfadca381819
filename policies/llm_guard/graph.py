"""What rules look at: plain resource values (no proxies), findings, and string walking."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .location import GraphResource, is_secret, is_unknown

SECRET_TEXT = "[secret]"


def raw(value: Any) -> Any:
    """Plain dicts/lists from the policy SDK's unknown-checking proxies; unknowns stay sentinels.

    Rules must see unknown values to fail closed on them: the SDK's proxies would instead raise
    and turn the rule into a silent advisory skip.
    """
    if isinstance(value, Mapping):
        target = value["__target"] if _is_proxy(value) else value
        return {k: raw(v) for k, v in target.items()}
    if isinstance(value, (list, tuple)) or _is_list_proxy(value):
        target = value["__target"] if _is_list_proxy(value) else value
        return [raw(v) for v in target]
    return value


def _is_proxy(value: Any) -> bool:
    return type(value).__name__ in ("_DictProxy", "_DictSecretsProxy")


def _is_list_proxy(value: Any) -> bool:
    return type(value).__name__ in ("_ListProxy", "_ListSecretsProxy")


@dataclass(frozen=True)
class Res:
    """A resource as rules see it."""

    urn: str
    type: str
    name: str
    props: dict[str, Any]
    provider_props: dict[str, Any] | None = None  # None: no provider information at all
    provider_type: str = ""
    parent: str | None = None
    custom: bool = True
    provider_urn: str = ""
    provider_missing: bool = False  # a provider-package resource that arrived without its provider

    def graph(self) -> GraphResource:
        return GraphResource(self.urn, self.type, self.props, self.provider_props, self.custom, self.parent, self.default_provider, self.provider_missing)

    @property
    def default_provider(self) -> bool:
        """The engine names default providers `default` or `default_<version>`."""
        return self.provider_urn.rsplit("::", 1)[-1].startswith("default") if self.provider_urn else False

    @property
    def package(self) -> str:
        return self.type.split(":", 1)[0]


@dataclass(frozen=True)
class Finding:
    """One violation: where (urn + property path), what value, why, and how to fix it."""

    urn: str
    prop: str
    value: Any
    message: str
    fix: str

    def render(self) -> str:
        # «» delimit the value so a value containing ": " cannot be confused with the message.
        return f"property `{self.prop}` = «{show(self.value)}»: {self.message} Fix: {self.fix}"


def show(value: Any) -> str:
    if is_unknown(value):
        return "(unknown during preview)"
    if is_secret(value):
        return SECRET_TEXT
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf with its property path; JSON documents inside strings are walked too."""
    if is_secret(value):
        yield from walk(value.get("value"), path)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}" if path else str(key))
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from walk(item, f"{path}[{i}]")
        return
    if isinstance(value, str) and value[:1] in "[{" and len(value) < 1_000_000:
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = None
        if isinstance(decoded, (dict, list)):
            yield from walk(decoded, path)
            return
    yield path, value


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    for leaf_path, leaf in walk(value, path):
        if isinstance(leaf, str) and not is_unknown(leaf):
            yield leaf_path, leaf


def get(props: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """props["a"]["b"][0] as get(props, "a.b.0"); secrets are looked through."""
    current: Any = props
    for part in path.split("."):
        if is_secret(current):
            current = current.get("value")
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return default
    if is_secret(current):
        current = current.get("value")
    return current


def items(value: Any) -> list[Any]:
    """The members of a list input; anything else (absent, unknown, a malformed scalar) has none."""
    if is_secret(value):
        value = value.get("value")
    return value if isinstance(value, list) else []


def decode_json(value: Any) -> Any:
    """Provider inputs and policy documents often arrive JSON-encoded."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
