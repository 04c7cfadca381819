"""`python -m scripts audit`: run the policy pack over a plan, the way the Pulumi CLI does.

The pack is started as its own process (`python -m pulumi.policy <engine> policies`, what the
CLI's Python analyzer plugin runs); its port is read from stdout; then the analyzer protocol is
spoken over gRPC: GetAnalyzerInfo, Configure, ConfigureStack, Analyze for each resource with its
provider, AnalyzeStack. No rule is called directly.
"""

from __future__ import annotations

import copy
import json
import os
import re
import select
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from policies.llm_guard.location import GraphResource, LocationResolver, provider_inputs_from_json, reveal
from policies.llm_guard.profiles import ResidencyProfile, UnknownProfileError, resolve_profile
from policies.llm_guard.settings import DEFAULT_REQUIRED_TAGS
from stacks.config import REDACTED, SECRET_TEXT

ROOT = Path(__file__).resolve().parents[2]
PACK_DIR = ROOT / "policies"
PROVIDER_PACKAGES = ("aws", "azure-native", "kubernetes", "random")
_MESSAGE = re.compile(r"^property `(?P<prop>[^`]*)` = «(?P<value>.*?)»: (?P<problem>.*?) Fix: (?P<fix>.*)$", re.S)


# Config values the engine recorded masked (stacks/config/hygiene.py `redact`): not handed to the pack.
_MASKED = (SECRET_TEXT, REDACTED)


class AuditInputError(Exception):
    """Bad input to audit (unreadable plan, unknown profile, empty graph): exit code 2."""


@dataclass
class Violation:
    rule: str
    severity: str
    enforcement: str
    urn: str
    property: str
    value: str
    problem: str
    fix: str


@dataclass
class AuditResult:
    stack: str
    profile: str
    pack: str
    rules: list[dict[str, str]]
    violations: list[Violation]
    exempt: list[dict[str, str]]
    resources: int
    seconds: float

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == "mandatory"]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "profile": self.profile,
            "pack": self.pack,
            "rules": self.rules,
            "violations": [asdict(v) for v in self.violations],
            "exempt": self.exempt,
            "summary": {
                "resources": self.resources,
                "violations": len(self.violations),
                "mandatory": len(self.mandatory),
                "advisory": len(self.violations) - len(self.mandatory),
                "passed": not self.mandatory,
            },
        }


# ------------------------------------------------------------------------------ inputs


def load_graph(path: str, allow_empty: bool = False) -> dict[str, Any]:
    """A recorded graph (the JSON of `plan --json`); `allow_empty` for a stack that does not exist
    yet on one side of a diff."""
    file = Path(path)
    if not file.is_file():
        raise AuditInputError(f"cannot read graph '{path}': it does not exist; write one with `python -m scripts plan STACK --json > {path}`")
    graph = read_json(file, "plan file")
    return validate_graph(graph, path, allow_empty)


# Deeper than this is no graph `plan --json` writes; it also keeps every reader clear of RecursionError.
MAX_DEPTH = 64
# Numbers the protocol's Struct (doubles) and every reader carry exactly.
MAX_EXACT_INT = 2**53


def read_json(file: Path, what: str) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no integers beyond 2^53, at most MAX_DEPTH levels."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise AuditInputError(f"cannot read {what} '{file}': it is not UTF-8 (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise AuditInputError(f"cannot read {what} '{file}': {exc.strerror or exc}") from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise AuditInputError(f"{what} '{file}' is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise AuditInputError(f"{what} '{file}' is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # NaN/Infinity, or an integer beyond Python's digit limit
        raise AuditInputError(f"{what} '{file}' holds a number JSON tools cannot read exactly: {str(exc).splitlines()[0][:120]}") from None
    if problem := _json_shape_problem(value):
        raise AuditInputError(f"{what} '{file}': {problem}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (write a finite number or a string)")


def _json_shape_problem(value: Any) -> str | None:
    """Depth and number limits, checked without recursion."""
    stack: list[tuple[Any, str, int]] = [(value, "$", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"{path[:200]} is nested more than {MAX_DEPTH} levels deep"
        if isinstance(item, dict):
            stack.extend((v, f"{path}.{k if k.isprintable() else json.dumps(k)[1:-1]}", depth + 1) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(item))
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_EXACT_INT:
            return f"{path[:200]} is an integer beyond 2^53, which the analyzer protocol cannot carry exactly"
    return None


def validate_graph(graph: Any, source: str, allow_empty: bool = False) -> dict[str, Any]:
    if not isinstance(graph, dict) or not isinstance(graph.get("resources"), list):
        raise AuditInputError(f"{source} is not a recorded graph: expected an object with a 'resources' list, as `plan --json` prints")
    if not graph["resources"] and not allow_empty:
        raise AuditInputError(f"{source} has no resources: nothing to audit")
    for i, res in enumerate(graph["resources"]):
        if not isinstance(res, dict) or not isinstance(res.get("urn"), str) or not isinstance(res.get("type"), str):
            raise AuditInputError(f"{source}: resources[{i}] needs at least 'urn' and 'type' strings")
        if not isinstance(res.get("inputs", {}), dict):
            raise AuditInputError(f"{source}: resources[{i}].inputs must be an object")
        for key in ("parent", "provider", "name"):
            if res.get(key) is not None and not isinstance(res[key], str):
                raise AuditInputError(f"{source}: resources[{i}].{key} must be a string or null")
        for key in ("custom", "protect"):
            if key in res and not isinstance(res[key], bool):
                raise AuditInputError(f"{source}: resources[{i}].{key} must be true or false")
        dependencies = res.get("dependencies", [])
        if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
            raise AuditInputError(f"{source}: resources[{i}].dependencies must be a list of URNs")
        for key, kind, what in (
            ("location", dict, "an object"),
            ("ignoreChanges", list, "a list of property paths"),
            ("customTimeouts", dict, "an object of operation -> duration"),
            ("deleteBeforeReplace", bool, "true or false"),
        ):
            if res.get(key) is not None and not isinstance(res[key], kind):
                raise AuditInputError(f"{source}: resources[{i}].{key} must be {what}")
        if not all(isinstance(p, str) for p in res.get("ignoreChanges") or []) or not all(isinstance(v, str) for v in (res.get("customTimeouts") or {}).values()):
            raise AuditInputError(f"{source}: resources[{i}].ignoreChanges and customTimeouts hold strings")
    for key, kind, what in (("stack", str, "a string"), ("project", str, "a string"), ("outputs", dict, "an object"), ("warnings", list, "a list")):
        if graph.get(key) is not None and not isinstance(graph[key], kind):
            raise AuditInputError(f"{source}: {key} must be {what}")
    config = graph.get("config", {})
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise AuditInputError(f"{source}: config must be an object of 'namespace:key' settings")
    for key, kind, what in (("llm-platform:budget", dict, "an object"), ("llm-platform:scale", dict, "an object"), ("llm-platform:poc", dict, "an object")):
        if config.get(key) is not None and not isinstance(config[key], kind):
            raise AuditInputError(f"{source}: config {key} must be {what}, as `plan --json` records it")
    # Optional fields as `plan --json` records them, so every reader sees one shape.
    for res in graph["resources"]:
        for key, default in (("inputs", {}), ("custom", True), ("protect", False), ("dependencies", []), ("location", {}), ("ignoreChanges", []), ("customTimeouts", {})):
            if res.get(key) is None:
                res[key] = copy.deepcopy(default)
    graph.setdefault("config", {})
    graph.setdefault("stack", "stack")
    graph.setdefault("project", "llm-platform")
    return graph


def resolve_audit_profile(graph: Mapping[str, Any], name: str | None) -> tuple[str, dict[str, Any]]:
    """The profile name and custom profile definitions to configure the pack with."""
    config = graph.get("config") or {}
    custom_raw = config.get("llm-platform:residencyProfiles") or {}
    if isinstance(custom_raw, str):
        try:
            custom_raw = json.loads(custom_raw)
        except ValueError:
            raise AuditInputError("llm-platform:residencyProfiles is not valid JSON") from None
    if not isinstance(custom_raw, dict) or not all(isinstance(body, dict) for body in custom_raw.values()):
        raise AuditInputError("llm-platform:residencyProfiles must map each profile name to an object")
    profile_name = name or config.get("llm-platform:residency")
    if profile_name is not None and not isinstance(profile_name, str):
        raise AuditInputError("llm-platform:residency must be a profile name (a string)")
    if not profile_name:
        raise AuditInputError("no residency profile: pass --profile NAME, or audit a graph whose config has llm-platform:residency")
    try:
        custom = {n: ResidencyProfile.model_validate({"name": n, **body}) for n, body in dict(custom_raw).items()}
        resolve_profile(str(profile_name), custom)
    except UnknownProfileError as exc:
        raise AuditInputError(f"--profile {profile_name}: {exc}") from None
    except (ValueError, TypeError) as exc:
        raise AuditInputError(f"llm-platform:residencyProfiles is invalid: {str(exc).splitlines()[0]}") from None
    return str(profile_name), dict(custom_raw)


def read_policy_config(path: str) -> dict[str, Any]:
    """A `--policy-pack-config` file: policy name (or "all") -> enforcement level or an object with
    enforcementLevel, profile, customProfiles and requiredTags (policies/llm_guard/settings.py)."""
    config = read_json(Path(path), "policy config")
    where = f"policy config '{path}'"
    if not isinstance(config, dict):
        raise AuditInputError(f"{where} must be an object of policy name -> enforcement level or settings")
    shapes: dict[str, tuple[type, str]] = {
        "enforcementLevel": (str, "an enforcement level (advisory, mandatory, disabled)"),
        "profile": (str, "a residency profile name"),
        "customProfiles": (dict, "an object of profile name -> profile"),
        "requiredTags": (list, 'a list of tag keys, e.g. ["cost-center", "owner"]'),
    }
    for name, entry in config.items():
        if isinstance(entry, str):
            continue
        if not isinstance(entry, dict):
            raise AuditInputError(f"{where}: '{name}' must be an enforcement level or an object")
        for key, value in entry.items():
            kind, what = shapes.get(key, (object, ""))
            if not isinstance(value, kind):
                raise AuditInputError(f"{where}: {name}.{key} must be {what}")
        tags = entry.get("requiredTags", [])
        if not all(isinstance(t, str) and t for t in tags):
            raise AuditInputError(f"{where}: {name}.requiredTags must be a list of non-empty tag keys, e.g. [\"cost-center\", \"owner\"]")
        if not all(isinstance(body, dict) for body in entry.get("customProfiles", {}).values()):
            raise AuditInputError(f"{where}: {name}.customProfiles must map each profile name to an object")
    return config


def policy_pack_config(profile: str, custom_profiles: Mapping[str, Any] | None = None, rules: Iterable[str] | None = None, required_tags: Iterable[str] = DEFAULT_REQUIRED_TAGS) -> dict[str, Any]:
    """What `--policy-pack-config` carries: every policy gets the profile and required tags."""
    if rules is None:
        from policies.llm_guard.rules import load_rules

        rules = [r.name for r in load_rules()]
    body: dict[str, Any] = {"profile": profile, "requiredTags": list(required_tags)}
    if custom_profiles:
        body["customProfiles"] = dict(custom_profiles)
    return {name: dict(body) for name in rules}


# ------------------------------------------------------------------------------ the analyzer


class PolicyPackProcess:
    """The pack as its own process, started like the CLI starts it; a gRPC stub to it."""

    def __init__(self, stack_config: Mapping[str, Any], project: str, stack: str, pack_dir: Path = PACK_DIR) -> None:
        self.pack_dir = pack_dir
        self.env = {
            **os.environ,
            "PULUMI_CONFIG": json.dumps({k: v if isinstance(v, str) else json.dumps(v) for k, v in stack_config.items() if v not in _MASKED}),
            "PULUMI_PROJECT": project,
            "PULUMI_STACK": stack,
            "PULUMI_DRY_RUN": "true",
        }

    def __enter__(self) -> PolicyPackProcess:
        import grpc
        from pulumi.runtime.proto import analyzer_pb2_grpc

        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(self.pack_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
            cwd=str(self.pack_dir),
        )
        port = self._read_port(timeout=60)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", 512 * 1024 * 1024), ("grpc.max_send_message_length", 512 * 1024 * 1024)])
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        return self

    def _read_port(self, timeout: float) -> int:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline()
                break
            if self.proc.poll() is not None:
                break
        if not line.strip().isdigit():
            self.proc.kill()
            err = (self.proc.stderr.read() if self.proc.stderr else b"").decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"the policy pack did not start: {err[-1] if err else 'no port printed'}")
        return int(line.strip())

    def __exit__(self, *exc: object) -> None:
        self.channel.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _struct(value: Mapping[str, Any]) -> Any:
    from google.protobuf import struct_pb2

    struct = struct_pb2.Struct()
    struct.update(_plain(value))
    return struct


def _plain(value: Any) -> Any:
    """JSON-safe copy; the wire format (secret wrappers, unknown sentinels) is kept as is."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, float, str)):
        return value
    return str(value)


def _default_provider(graph: Mapping[str, Any], package: str) -> dict[str, Any]:
    """The engine's default provider: configured from the stack's `<package>:*` config."""
    config = graph.get("config") or {}
    props = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{package}:") and v not in _MASKED}
    urn = f"urn:pulumi:{graph['stack']}::{graph['project']}::pulumi:providers:{package}::default"
    return {"type": f"pulumi:providers:{package}", "urn": urn, "name": "default", "inputs": props}


def _provider_for(res: Mapping[str, Any], by_urn: Mapping[str, Mapping[str, Any]], graph: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if res.get("provider"):
        return by_urn.get(str(res["provider"]).rsplit("::", 1)[0])
    package = str(res["type"]).split(":", 1)[0]
    if res.get("custom", True) and package in PROVIDER_PACKAGES:
        return _default_provider(graph, package)
    return None


def analyze(
    graph: dict[str, Any],
    profile: str,
    custom_profiles: Mapping[str, Any],
    pack_config: Mapping[str, Any] | None = None,
    pack: PolicyPackProcess | None = None,
) -> AuditResult:
    """Audit one graph; reuses a running pack when given one (Configure resets it per audit)."""
    if pack is None:
        with PolicyPackProcess(graph.get("config") or {}, graph["project"], graph["stack"]) as started:
            return analyze(graph, profile, custom_profiles, pack_config, started)
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2

    started = time.monotonic()
    resources: list[dict[str, Any]] = graph["resources"]
    by_urn = {r["urn"]: r for r in resources}
    levels = {0: "advisory", 1: "mandatory", 2: "disabled", 3: "remediate"}
    severities = {0: "unspecified", 1: "low", 2: "medium", 3: "high", 4: "critical"}
    violations: list[Violation] = []

    def provider_message(res: Mapping[str, Any]) -> Any:
        provider = _provider_for(res, by_urn, graph)
        if provider is None:
            return None
        return analyzer_pb2.AnalyzerProviderResource(type=provider["type"], urn=provider["urn"], name=provider.get("name", ""), properties=_struct(provider.get("inputs") or {}))

    def collect(response: Any, resource_urn: str = "") -> None:
        for d in response.diagnostics:
            # The SDK prefixes every message with the policy description; the CLI does the same.
            message = d.message[len(d.description) :].lstrip("\n") if d.description and d.message.startswith(d.description) else d.message
            match = _MESSAGE.match(message)
            parts = match.groupdict() if match else {"prop": "", "value": "", "problem": message, "fix": ""}
            violations.append(
                Violation(
                    rule=d.policyName,
                    severity=severities.get(d.severity, "unspecified"),
                    enforcement=levels.get(d.enforcementLevel, "advisory"),
                    # Resource policies leave the urn to the caller, who knows what it analyzed.
                    urn=d.urn or resource_urn,
                    property=parts["prop"],
                    value=parts["value"],
                    problem=parts["problem"].strip(),
                    fix=parts["fix"].strip(),
                )
            )

    # The protocol exchange, in the order the CLI uses.
    info = pack.stub.GetAnalyzerInfo(empty_pb2.Empty())
    rules = [{"name": p.name, "enforcement": levels.get(p.enforcementLevel, "advisory"), "description": p.description} for p in info.policies]
    config = dict(pack_config) if pack_config else policy_pack_config(profile, custom_profiles, [p.name for p in info.policies])
    all_level = config.pop("all", None) if isinstance(config.get("all"), str) else None
    policy_config = {}
    level_codes = {v: k for k, v in levels.items()}
    for policy in info.policies:
        configured = config.get(policy.name) or {}
        # An entry is an enforcement level ("advisory") or an object that may carry one.
        entry = {"enforcementLevel": configured} if isinstance(configured, str) else dict(configured)
        level_name = entry.pop("enforcementLevel", None) or all_level or levels.get(policy.enforcementLevel, "advisory")
        if level_name not in level_codes:
            raise AuditInputError(f"policy config for '{policy.name}': enforcement level '{level_name}' is not one of {', '.join(level_codes)}")
        level = level_codes[level_name]
        policy_config[policy.name] = analyzer_pb2.PolicyConfig(enforcementLevel=level, properties=_struct(entry))  # type: ignore[arg-type]
    pack.stub.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=policy_config))
    flat_config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (graph.get("config") or {}).items() if v not in _MASKED}
    pack.stub.ConfigureStack(
        analyzer_pb2.AnalyzerStackConfigureRequest(stack=graph["stack"], project=graph["project"], organization="organization", dry_run=True, config=flat_config)
    )
    stack_resources = []
    for res in resources:
        options = analyzer_pb2.AnalyzerResourceOptions(protect=bool(res.get("protect")), parent=res.get("parent") or "")
        provider = provider_message(res)
        name = res.get("name") or res["urn"].rsplit("::", 1)[-1]
        props = _struct(res.get("inputs") or {})
        if res.get("custom", True) and not str(res["type"]).startswith("pulumi:providers:"):
            request = analyzer_pb2.AnalyzeRequest(type=res["type"], properties=props, urn=res["urn"], name=name, options=options, provider=provider)
            collect(pack.stub.Analyze(request), res["urn"])
        stack_resources.append(
            analyzer_pb2.AnalyzerResource(
                type=res["type"],
                properties=props,
                urn=res["urn"],
                name=name,
                options=options,
                provider=provider,
                parent=res.get("parent") or "",
                dependencies=list(res.get("dependencies") or []),
            )
        )
    collect(pack.stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=stack_resources)))

    exempt = _exempt(graph)
    custom = sum(1 for r in resources if r.get("custom", True) and not str(r["type"]).startswith("pulumi:providers:"))
    return AuditResult(graph["stack"], profile, info.name, rules, violations, exempt, custom, time.monotonic() - started)


def _exempt(graph: Mapping[str, Any]) -> list[dict[str, str]]:
    """Resources the region rule skips (global services, extension resources): reported, not hidden."""
    resources = graph["resources"]
    by_urn = {r["urn"]: r for r in resources}
    items = []
    graph_resources = []
    for r in resources:
        provider_inputs = None
        provider = _provider_for(r, by_urn, graph)
        if provider is not None and r.get("provider"):
            provider_inputs = {k: provider_inputs_from_json(reveal(v)) for k, v in (provider.get("inputs") or {}).items()}
        graph_resources.append(GraphResource(r["urn"], r["type"], r.get("inputs") or {}, provider_inputs, bool(r.get("custom", True)), r.get("parent")))
    resolver = LocationResolver(graph_resources, graph.get("config") or {})
    for res in graph_resources:
        loc = resolver.resolve(res)
        if loc.status == "global":
            items.append({"urn": res.urn, "type": res.type, "reason": loc.source})
    return items


# ------------------------------------------------------------------------------ output


def render(result: AuditResult) -> str:
    lines = [f"Audit of stack '{result.stack}' against residency profile '{result.profile}' (policy pack {result.pack}, {len(result.rules)} rules)"]
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    for v in sorted(result.violations, key=lambda v: (v.enforcement != "mandatory", rank.get(v.severity, 4), v.rule, v.urn)):
        lines += [
            "",
            f"  {v.enforcement.upper():<10} {v.severity:<9} {v.rule}",
            f"    resource: {v.urn or '(the stack)'}",
            f"    property: {v.property}",
            f"    value:    {v.value}",
            f"    problem:  {v.problem}",
            f"    fix:      {v.fix}",
        ]
    if result.exempt:
        kinds = Counter(e["type"] for e in result.exempt)
        lines += ["", f"Exempt from region checks (global services and extension resources): {len(result.exempt)} resources"]
        lines += [f"    {t} x{n}" for t, n in sorted(kinds.items())]
    verdict = "PASSED" if not result.mandatory else "FAILED"
    lines += [
        "",
        f"Summary: {verdict}: {len(result.violations)} violations ({len(result.mandatory)} mandatory, "
        f"{len(result.violations) - len(result.mandatory)} advisory) in {result.resources} resources; {len(result.rules)} rules run.",
    ]
    return "\n".join(lines)
