"""The offline engine: runs the real program (`__main__.py`) under Pulumi mocks, in preview mode,
with the config of a stack file, and records the resource graph the engine would receive.

What it is not: it does not run providers, so provider-side defaults, autonames and
`tagsAll` are absent, and only ids/ARNs/names are predicted (see scripts/engine/mocks.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
import re
import runpy
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format

from policies.llm_guard.location import (
    SECRET_SIG,
    SIG_KEY,
    GraphResource,
    LocationResolver,
    provider_inputs_from_json,
    reveal,
)
from stacks.config import NAMESPACE, SECRET_TEXT, load_config, redact
from stacks.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "llm-platform"
SECRET_MASK = SECRET_TEXT
RESOURCE_REF_SIG = "5cf8f73096256a8f31e491e813e4eb8e"


class PlanInputError(Exception):
    """Bad input to a command (missing stack file, unreadable YAML): exit code 2."""


# ------------------------------------------------------------------------------ stack files


@dataclass
class StackFile:
    name: str
    path: Path
    config: dict[str, str]  # key -> value as the engine hands it to programs
    secret_keys: set[str]


def _placeholder(key: str) -> str:
    return f"offline-placeholder-for-{key}"


def _strip_secure(value: Any, key: str) -> tuple[Any, bool]:
    """Replace `secure:` leaves with placeholders; report whether any were found."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return _placeholder(key), True
        found = False
        out = {}
        for k, v in value.items():
            out[k], f = _strip_secure(v, key)
            found = found or f
        return out, found
    if isinstance(value, list):
        items = [_strip_secure(v, key) for v in value]
        return [i[0] for i in items], any(i[1] for i in items)
    return value, False


def _engine_string(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def resolve_stack_file(stack: str) -> tuple[str, Path]:
    """A stack name (stacks/Pulumi.<name>.yaml) or a path to a stack config file."""
    candidate = Path(stack)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise PlanInputError(f"stack config file '{stack}' does not exist")
        name = candidate.name
        if name.startswith("Pulumi.") and name.count(".") >= 2:
            name = name[len("Pulumi.") : name.rindex(".")]
        else:
            name = candidate.stem
        return name, candidate
    path = ROOT / "stacks" / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
        raise PlanInputError(f"no stack '{stack}': stacks/Pulumi.{stack}.yaml does not exist; example stacks: {', '.join(known)}")
    return stack, path


class _StrictLoader(yaml.SafeLoader):
    """YAML as the Pulumi CLI reads stack files (Go yaml.v3): a key given twice is an error
    ("mapping key already defined"), and only true/false are booleans (yes/no/on/off stay text)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise yaml.constructor.ConstructorError(None, None, "a mapping key must be text", key_node.start_mark)
            if key in seen:
                first = seen[key].start_mark.line + 1
                raise yaml.constructor.ConstructorError(None, None, f"key '{key}' is defined twice (first at line {first})", key_node.start_mark)
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"] for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))

# Nesting beyond this is not a stack config; it also keeps every reader clear of RecursionError.
MAX_DEPTH = 64


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PlanInputError(f"cannot read stack config file {path}: {exc.strerror or exc}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) > 1 and (data[0] == 0 or data[1] == 0)):
        raise PlanInputError(f"stack config file {path} is UTF-16 encoded; save it as UTF-8 (what `pulumi config` writes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PlanInputError(f"stack config file {path} is not UTF-8 (byte 0x{data[exc.start]:02x} on line {line}, e.g. Latin-1); save it as UTF-8") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: where and what, without the quoted source line and caret (it may hold a secret)."""
    mark = getattr(exc, "problem_mark", None)
    problem = " ".join(str(getattr(exc, "problem", None) or "not valid YAML").split())
    context = getattr(exc, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"
    return f"{where}: {problem}" + (f" ({' '.join(str(context).split())})" if context else "")


def _printable(key: str) -> str:
    """A key as it may appear in a one-line message (control characters escaped)."""
    return key if key.isprintable() else json.dumps(key)[1:-1]


def _non_json_value(value: Any, path: str, depth: int = 0) -> str | None:
    """The first value JSON (and so the engine's config) cannot carry as the file means it; the
    problem names its path, never the value (it may sit under a secret key)."""
    if depth > MAX_DEPTH:
        return f"{path} is nested more than {MAX_DEPTH} levels deep"
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"{path} has a key of type {type(k).__name__}, which is not text; quote it"
            if problem := _non_json_value(v, f"{path}.{_printable(k)}", depth + 1):
                return problem
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if problem := _non_json_value(v, f"{path}[{i}]", depth + 1):
                return problem
    elif isinstance(value, (dt.date, dt.datetime)):
        return f"{path} is a YAML date; quote it if you mean text"
    elif isinstance(value, float) and not math.isfinite(value):
        return f"{path} is not a finite number"
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return f"{path} is an integer beyond 2^53, which the engine's JSON cannot carry exactly"
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        return f"{path} is a YAML {type(value).__name__}, not text, a number, true/false, a list or a mapping"
    return None


def read_stack_file(stack: str) -> StackFile:
    name, path = resolve_stack_file(stack)
    text = _read_text(path)
    try:
        document = yaml.load(text, Loader=_StrictLoader) or {}
    except yaml.YAMLError as exc:
        raise PlanInputError(f"stack config file {path} is not valid YAML at {_yaml_problem(exc)}") from None
    except RecursionError:
        raise PlanInputError(f"stack config file {path} is nested too deeply") from None
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise PlanInputError(f"{path} is not a Pulumi stack config file: expected a mapping with a 'config' mapping")
    config: dict[str, str] = {}
    secret_keys: set[str] = set()
    for key, value in (document.get("config") or {}).items():
        if not isinstance(key, str):
            raise PlanInputError(f"{path}: config key {key!r} is not text; config keys are 'namespace:name'")
        if ":" not in key:
            key = f"{PROJECT}:{key}"  # un-namespaced keys belong to the project
        if problem := _non_json_value(value, key):
            raise PlanInputError(f"{path}: {problem}")
        value, secret = _strip_secure(value, key)
        if secret:
            secret_keys.add(key)
        config[key] = _engine_string(value)
    return StackFile(name, path, config, secret_keys)


# ------------------------------------------------------------------------------ recording


def mask(value: Any) -> Any:
    """Wire-format inputs with secret values masked and resource references flattened."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return {SIG_KEY: SECRET_SIG, "value": SECRET_MASK}
        if sig == RESOURCE_REF_SIG:
            return value.get("id") or value.get("urn")
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None
    provider: str | None
    inputs: dict[str, Any]
    protect: bool = False
    dependencies: list[str] = field(default_factory=list)
    location: dict[str, Any] = field(default_factory=dict)
    # Resource options the engine acts on: property paths (wire names) it leaves alone on update,
    # and how long it waits per operation ({"create": "60m", ...}, empty = provider default).
    ignore_changes: list[str] = field(default_factory=list)
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    # Replace by deleting first (the physical name cannot exist twice).
    delete_before_replace: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "custom": self.custom,
            "parent": self.parent,
            "provider": self.provider,
            "inputs": self.inputs,
            "protect": self.protect,
            "dependencies": self.dependencies,
            "location": self.location,
            "ignoreChanges": self.ignore_changes,
            "customTimeouts": self.custom_timeouts,
            "deleteBeforeReplace": self.delete_before_replace,
        }


@dataclass
class Plan:
    project: str
    stack: str
    config: dict[str, Any]
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    warnings: list[str]
    source: str

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "stack": self.stack,
            "config": self.config,
            "resources": [r.to_json() for r in self.resources],
            "outputs": self.outputs,
            "warnings": self.warnings,
        }


def _make_monitor(records: list[RecordedResource], stack_outputs: dict[str, Any], mocks_factory: Any) -> Any:
    from pulumi.runtime.mocks import MockMonitor

    class RecordingMonitor(MockMonitor):
        def make_urn(self, parent: str, type_: str, name: str) -> str:
            # The engine leaves the root stack out of its children's type chain.
            if parent and parent.split("::")[2] != "pulumi:pulumi:Stack":
                type_ = parent.split("::")[2] + "$" + type_
            return "urn:pulumi:" + "::".join([self._stack, self._project, type_, name])

        def RegisterResource(self, request: Any) -> Any:
            if request.type != "pulumi:pulumi:Stack":
                urn = self.make_urn(request.parent, request.type, request.name)
                inputs = mask(json_format.MessageToDict(request.object, preserving_proto_field_name=True))
                records.append(
                    RecordedResource(
                        urn=urn,
                        type=request.type,
                        name=request.name,
                        custom=bool(request.custom),
                        parent=request.parent or None,
                        provider=request.provider or None,
                        inputs=inputs,
                        protect=bool(request.protect),
                        dependencies=sorted(set(request.dependencies)),
                        ignore_changes=list(request.ignoreChanges),
                        custom_timeouts={k: v for k, v in json_format.MessageToDict(request.customTimeouts).items() if v},
                        delete_before_replace=bool(request.deleteBeforeReplace),
                    )
                )
            return super().RegisterResource(request)

        def GetDeploymentInfo(self, request: Any) -> Any:
            from pulumi.runtime.proto import resource_pb2

            info = super().GetDeploymentInfo(request)
            info.supportedFeatures.append(resource_pb2.RESOURCE_MONITOR_FEATURE_INVOKE_DEPENDS_ON)
            return info

        def Invoke(self, request: Any) -> Any:
            # Everything in an offline plan is pending creation, so the engine would decline an
            # invoke that depends on a resource of the stack: its result is unknown.
            if request.dependsOn:
                from pulumi.runtime.proto import resource_pb2

                return resource_pb2.ResourceInvokeResponse(unknown=True)
            return super().Invoke(request)

        def RegisterResourceOutputs(self, request: Any) -> Any:
            if request.urn.split("::")[2] == "pulumi:pulumi:Stack":
                stack_outputs.update(mask(json_format.MessageToDict(request.outputs)))
            return super().RegisterResourceOutputs(request)

    monitor = RecordingMonitor(mocks_factory())
    return monitor


class _LogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def validate(stack_file: StackFile) -> None:
    """The same validation `pulumi up` runs first; raises ConfigError."""
    load_config(stack_file.config, stack_file.secret_keys, source=f"config of stack '{stack_file.name}' ({stack_file.path.name})")


def run_program(stack_file: StackFile, stack_name: str | None = None) -> Plan:
    """Validate the config, then run `__main__.py` under mocks and record what it registers."""
    import pulumi
    from pulumi.runtime import settings as runtime_settings
    from pulumi.runtime.config import set_all_config
    from pulumi.runtime.mocks import MockEngine, MockSettings
    from pulumi.runtime.stack import run_in_stack

    from scripts.engine.mocks import OfflineMocks

    validate(stack_file)
    stack = stack_name or stack_file.name
    records: list[RecordedResource] = []
    stack_outputs: dict[str, Any] = {}

    def provider_inputs(ref: str | None) -> Mapping[str, Any] | None:
        if not ref:
            return None
        urn = ref.rsplit("::", 1)[0]
        for r in records:
            if r.urn == urn:
                return {k: provider_inputs_from_json(reveal(v)) for k, v in r.inputs.items()}
        return None

    monitor = _make_monitor(records, stack_outputs, lambda: OfflineMocks(stack_file.config, provider_inputs))
    monitor._stack = stack
    monitor._project = PROJECT
    logger = logging.getLogger(f"llm-platform.offline.{id(records)}")
    logger.propagate = False
    collector = _LogCollector()
    logger.addHandler(collector)

    # set_mocks() without its pre-made root stack: run_in_stack below makes the root, as the
    # language host does, so stack outputs arrive through RegisterResourceOutputs.
    runtime_settings.ROOT.set(None)
    from google.protobuf import empty_pb2

    settings = MockSettings(
        monitor=monitor,
        monitor_features=set(monitor.GetDeploymentInfo(empty_pb2.Empty()).supportedFeatures),
        engine=MockEngine(logger),
        project=PROJECT,
        stack=stack,
        dry_run=True,
        organization="organization",
        callbacks=None,
    )
    runtime_settings.configure(settings)
    set_all_config(dict(stack_file.config), sorted(stack_file.secret_keys))

    main = ROOT / "__main__.py"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run_in_stack(lambda: runpy.run_path(str(main), run_name="__main__")))
    except pulumi.RunError as exc:
        raise ProgramError(str(exc)) from None
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.close()
        logger.removeHandler(collector)

    config_view = {k: redact(k, _decode(v), stack_file.secret_keys) for k, v in sorted(stack_file.config.items())}
    _resolve_locations(records, stack_file.config)
    return Plan(PROJECT, stack, config_view, records, stack_outputs, collector.messages, str(stack_file.path))


class ProgramError(Exception):
    """The program stopped itself with a clean message (pulumi.RunError)."""


def _decode(value: str) -> Any:
    text = value.strip()
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except ValueError:
            return value
    return value


def graph_resources(resources: list[dict[str, Any]] | list[RecordedResource]) -> list[GraphResource]:
    """GraphResources (what the location resolver reads) from recorded or JSON resources."""
    items = [r.to_json() if isinstance(r, RecordedResource) else r for r in resources]
    by_urn = {r["urn"]: r for r in items}
    out = []
    for r in items:
        provider_inputs = None
        if r.get("provider"):
            provider = by_urn.get(str(r["provider"]).rsplit("::", 1)[0])
            provider_inputs = {k: provider_inputs_from_json(reveal(v)) for k, v in (provider or {}).get("inputs", {}).items()} if provider else {}
        out.append(GraphResource(r["urn"], r["type"], r.get("inputs") or {}, provider_inputs, bool(r.get("custom", True)), r.get("parent")))
    return out


def _resolve_locations(records: list[RecordedResource], config: Mapping[str, Any]) -> None:
    graph = graph_resources(records)
    resolver = LocationResolver(graph, config)
    for record, res in zip(records, graph, strict=True):
        record.location = resolver.resolve(res).to_json()


def plan_stack(stack: str, stack_name: str | None = None) -> Plan:
    return run_program(read_stack_file(stack), stack_name)


__all__ = ["NAMESPACE", "ConfigError", "Plan", "PlanInputError", "ProgramError", "plan_stack", "read_stack_file", "run_program"]
