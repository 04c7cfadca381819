"""The offline engine: runs the real program (`__main__.py`) under Pulumi mocks, in preview mode,
with the config of a stack file, and records the resource graph the engine would receive.

What it is not: it does not run providers, so provider-side defaults, autonames and
`tagsAll` are absent, and only ids/ARNs/names are predicted (see scripts/mocks.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
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
from stacks.config import NAMESPACE, load_config
from stacks.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "llm-platform"
SECRET_MASK = "[secret]"
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


def read_stack_file(stack: str) -> StackFile:
    name, path = resolve_stack_file(stack)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PlanInputError(f"cannot read stack config file {path}: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise PlanInputError(f"{path} is not a Pulumi stack config file: expected a mapping with a 'config' mapping")
    config: dict[str, str] = {}
    secret_keys: set[str] = set()
    for key, value in (document.get("config") or {}).items():
        key = str(key)
        if ":" not in key:
            key = f"{PROJECT}:{key}"  # un-namespaced keys belong to the project
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

    from scripts.mocks import OfflineMocks

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

    config_view = {k: (SECRET_MASK if k in stack_file.secret_keys else _decode(v)) for k, v in sorted(stack_file.config.items())}
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
