"""Property-based tests: arbitrary input never yields a traceback.

- the graph loader (`scripts/audit/__init__.py load_graph` / `validate_graph`) returns a graph or raises
  AuditInputError (exit code 2), whatever the file holds;
- the gateway route parser (`policies/llm_guard/gateway.py`) finds configs and resolves routes,
  or reports a route as unresolvable, for any text or structure;
- the pack, fed arbitrary inputs for the resource types its rules read, answers every analyzer
  call (a rule that raised would surface as a gRPC error);
- `python -m scripts audit --plan FILE` exits 0, 1 or 2 and prints no traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.llm_guard.gateway import Environment, find_configs, parse_config_text, routes
from policies.llm_guard.location import UNKNOWN
from scripts.audit import AuditInputError, PolicyPackProcess, analyze, load_graph, validate_graph
from tests.policy_harness import resource

ROOT = Path(__file__).resolve().parent.parent

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40), st.just(UNKNOWN))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=20)

# Strings a route parameter may hold: providers, prefixes, env references, URLs, garbage.
param_text = st.one_of(
    st.sampled_from(
        [
            "gpt-4o",
            "claude-3-5-sonnet-20240620",
            "gemini/gemini-pro",
            "groq/llama3-8b",
            "bedrock/eu.anthropic.claude-sonnet-4-6",
            "bedrock/arn:aws:bedrock:us-east-1:1:inference-profile/us.x",
            "azure/chat",
            "vertex_ai/gemini",
            "hosted_vllm/qwen",
            "os.environ/",
            "os.environ/MISSING",
            "os.environ/SET",
            "https://api.openai.com/v1",
            "http://[::1]:80",
            "http://",
            "://",
            "",
            UNKNOWN,
        ]
    ),
    st.text(max_size=30),
)
litellm_params = st.dictionaries(
    st.sampled_from(["model", "api_base", "base_url", "custom_llm_provider", "aws_region_name", "aws_bedrock_runtime_endpoint", "model_id", "vertex_location", "litellm_credential_name", "api_key"]),
    st.one_of(param_text, json_leaf),
    max_size=6,
)
entry = st.one_of(st.fixed_dictionaries({"model_name": st.text(max_size=10), "litellm_params": litellm_params}), json_value)
config = st.fixed_dictionaries({"model_list": st.lists(entry, max_size=4)}, optional={"credential_list": json_value})
environment = st.one_of(
    st.none(),
    st.builds(
        Environment,
        values=st.dictionaries(st.sampled_from(["SET", "AWS_REGION", "OPENAI_API_BASE", "GROQ_API_BASE", "AWS_BEDROCK_RUNTIME_ENDPOINT"]), st.one_of(st.none(), param_text), max_size=4),
        where=st.just("container 'gw'"),
        open_ended=st.booleans(),
    ),
)


@settings(database=None, max_examples=200, deadline=None)
@given(graph=json_value)
def test_validate_graph_returns_a_graph_or_a_user_error(graph: Any) -> None:
    try:
        result = validate_graph(graph, "fuzz")
    except AuditInputError as exc:
        assert str(exc)
        return
    assert isinstance(result, dict) and isinstance(result["resources"], list)


@settings(database=None, max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.binary(max_size=200), json_value.map(lambda v: json.dumps(v).encode()), st.builds(lambda r: json.dumps({"resources": r}).encode(), json_value)))
def test_load_graph_returns_a_graph_or_a_user_error(content: bytes) -> None:
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(content)
        handle.flush()
        try:
            result = load_graph(handle.name)
        except AuditInputError as exc:
            assert str(exc)
            return
    assert isinstance(result, dict)


@settings(database=None, max_examples=300, deadline=None)
@given(value=st.one_of(json_value, st.text(max_size=200), config, config.map(json.dumps), config.map(lambda c: yaml.safe_dump(c))))
def test_find_configs_never_raises(value: Any) -> None:
    for path, found in find_configs(value):
        assert isinstance(path, str) and "model_list" in found


@settings(database=None, max_examples=300, deadline=None)
@given(text=st.text(max_size=300).map(lambda t: "model_list:\n" + t))
def test_parse_config_text_never_raises(text: str) -> None:
    parse_config_text(text)


@settings(database=None, max_examples=250, deadline=None)
@given(cfg=config, env=environment)
def test_routes_resolve_or_report_unresolvable(cfg: dict[str, Any], env: Environment | None) -> None:
    for route in routes(cfg, env, "data.config.yaml"):
        assert (route.destination is None) == (route.problem is not None)
        if route.problem:
            assert route.problem.strip()


# ------------------------------------------------------------------ the pack under fuzzed inputs

RULE_TYPES = [
    "kubernetes:core/v1:ConfigMap",
    "kubernetes:apps/v1:Deployment",
    "aws:ecs/taskDefinition:TaskDefinition",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/role:Role",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
    "aws:apigateway/restApi:RestApi",
    "azure-native:cosmosdb:DatabaseAccount",
    "azure-native:storage:StorageAccount",
    "azure-native:cognitiveservices:Deployment",
    "azure-native:app:ContainerApp",
    "aws:s3/bucket:Bucket",
    "aws:autoscaling/group:Group",
]
field_names = st.sampled_from(["policy", "data", "spec", "containerDefinitions", "locations", "sku", "tags", "location", "region", "managedPolicyArns", "policyArn", "template", "endpointConfiguration", "metadata", "httpEndpointConfiguration"])
inputs = st.dictionaries(field_names, st.one_of(json_value, config.map(json.dumps), config.map(lambda c: {"config.yaml": yaml.safe_dump(c)})), max_size=5)


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackProcess]:
    with PolicyPackProcess({}, "llm-platform", "test") as started:
        yield started


@settings(database=None, max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=st.lists(st.tuples(st.sampled_from(RULE_TYPES), inputs), min_size=1, max_size=4))
def test_pack_answers_any_inputs(pack: PolicyPackProcess, items: list[tuple[str, dict[str, Any]]]) -> None:
    resources = [resource(t, f"r{i}", props) for i, (t, props) in enumerate(items)]
    graph = validate_graph({"project": "llm-platform", "stack": "test", "config": {"aws:region": "eu-central-1"}, "resources": resources}, "fuzz")
    result = analyze(graph, "eu", {}, None, pack)
    # A raising rule fails the gRPC call; one the SDK skipped on an unknown says "can't run policy".
    crashed = [v for v in result.violations if "Traceback" in v.problem or "can't run policy" in v.problem]
    assert not crashed, crashed


@settings(database=None, max_examples=6, deadline=None)
@given(content=st.one_of(st.binary(max_size=60), st.builds(lambda r: json.dumps({"resources": r, "config": {"llm-platform:residency": "eu"}}), st.lists(st.fixed_dictionaries({"urn": st.text(max_size=8), "type": st.sampled_from(RULE_TYPES), "inputs": inputs}), max_size=2))))
def test_audit_command_exits_0_1_or_2(content: bytes | str) -> None:
    with tempfile.NamedTemporaryFile("wb", suffix=".json") as handle:
        handle.write(content.encode() if isinstance(content, str) else content)
        handle.flush()
        run = subprocess.run([sys.executable, "-m", "scripts", "audit", "--plan", handle.name], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode in (0, 1, 2), run.stderr[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    assert "internal error" not in run.stdout + run.stderr, run.stderr[-2000:]


# Malformed graphs the properties found crashing scripts/audit/__init__.py before its loader checked them:
# they must be refused with exit code 2 (bad input), never "internal error" (exit 1 = violations).
_KNOWN_LOADER_CRASHES = [
    pytest.param({"resources": [{"urn": "u", "type": "aws:s3/bucket:Bucket", "inputs": {}}], "config": "x"}, id="config-not-an-object"),
    pytest.param(
        {"resources": [{"urn": "u", "type": "aws:s3/bucket:Bucket", "inputs": {}, "parent": [1], "provider": 5}], "config": {"llm-platform:residency": "eu"}},
        id="parent-not-a-string",
    ),
    pytest.param(
        {"resources": [{"urn": "u", "type": "aws:s3/bucket:Bucket", "inputs": {}}], "config": {"llm-platform:residency": "eu", "llm-platform:residencyProfiles": "{bad"}},
        id="profiles-not-json",
    ),
]


@pytest.mark.parametrize("graph", _KNOWN_LOADER_CRASHES)
def test_audit_command_rejects_malformed_graphs_with_exit_2(graph: dict[str, Any]) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        json.dump(graph, handle)
        handle.flush()
        run = subprocess.run([sys.executable, "-m", "scripts", "audit", "--plan", handle.name], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "internal error" not in run.stdout + run.stderr, (run.returncode, run.stderr[-500:])


@settings(database=None, max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    config=st.one_of(json_value, st.dictionaries(st.sampled_from(["llm-platform:residency", "llm-platform:residencyProfiles", "aws:region"]), json_value, max_size=3)),
    extra=st.dictionaries(st.sampled_from(["parent", "provider", "name", "dependencies", "custom", "protect"]), json_value, max_size=3),
)
def test_audit_pipeline_accepts_or_rejects_any_graph(pack: PolicyPackProcess, config: Any, extra: dict[str, Any]) -> None:
    from scripts.audit import resolve_audit_profile

    raw = {"resources": [{"urn": "urn:pulumi:s::p::aws:s3/bucket:Bucket::b", "type": "aws:s3/bucket:Bucket", "inputs": {}, **extra}], "config": config}
    try:
        graph = validate_graph(raw, "fuzz")
        profile, custom = resolve_audit_profile(graph, None)
        analyze(graph, profile, custom, None, pack)
    except AuditInputError:
        pass
