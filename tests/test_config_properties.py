"""Property tests: arbitrary stack files and graphs never crash the readers, and a planted secret
never appears in what they say (in-process, modest example counts: the suite must stay fast)."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts.engine import PlanInputError, read_stack_file, validate
from stacks.errors import ConfigError
from tests.conftest import load_stack

PLANTED = "sk-PLANTED-1234"
# LLM_PLATFORM_FUZZ_EXAMPLES=2000 for a longer hunt; the default keeps the suite fast.
SETTINGS = settings(max_examples=int(os.environ.get("LLM_PLATFORM_FUZZ_EXAMPLES", "60")), deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
_DIR = Path(tempfile.mkdtemp(prefix="config-properties-"))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.dates(min_value=dt.date(1990, 1, 1)),
    st.sampled_from(["poc", "beta", "scale", "aws", "azure", "eu", "us", "cn", "10.0.0.0/16", "db.t4g.micro", "Standard_B1ms", "m6i.xlarge"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)

# Settings the examples use, as paths into the stack config.
KNOWN_PATHS = [
    ("llm-platform:phase",), ("llm-platform:cloud",), ("llm-platform:residency",), ("aws:region",),
    ("llm-platform:budget", "amount"), ("llm-platform:budget", "thresholds"), ("llm-platform:budget", "emails"), ("llm-platform:budget", "expectedTokensPerMonth"),
    ("llm-platform:tags", "owner"), ("llm-platform:tags", "application"), ("llm-platform:tags",),
    ("llm-platform:poc", "app", "kind"), ("llm-platform:poc", "app", "allowedCidrs"), ("llm-platform:poc", "app", "imageTags"), ("llm-platform:poc", "app", "database"),
    ("llm-platform:poc", "apiProviders"), ("llm-platform:poc", "network"), ("llm-platform:poc", "network", "cidr"),
    ("llm-platform:scale",), ("llm-platform:beta",), ("llm-platform:residencyProfiles",),
]


def _read_and_validate(text: str | bytes) -> str:
    """What the reader says about a stack file: '' when valid, else the one-line message."""
    path = _DIR / "Pulumi.fuzz.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    try:
        validate(read_stack_file(str(path)))
    except (PlanInputError, ConfigError) as exc:
        message = exc.render() if isinstance(exc, ConfigError) else str(exc)
        assert "\n" not in message, message
        return message
    return ""


def _set(document: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = document["config"]
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value


@SETTINGS
@given(path=st.sampled_from(KNOWN_PATHS), value=values)
def test_any_value_under_a_known_key_is_accepted_or_refused_cleanly(path: tuple[str, ...], value: Any) -> None:
    document = copy.deepcopy(load_stack("poc-aws"))
    _set(document, path, value)
    _read_and_validate(yaml.safe_dump(document, allow_unicode=True))


@SETTINGS
@given(text=st.text(max_size=300))
def test_any_text_is_accepted_or_refused_cleanly(text: str) -> None:
    _read_and_validate(text)


@SETTINGS
@given(data=st.binary(max_size=200))
def test_any_bytes_are_refused_cleanly(data: bytes) -> None:
    _read_and_validate(data)


names = st.text(alphabet=st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=10)


@SETTINGS
@given(
    namespace=st.sampled_from(["llm-platform", "aws", "azure-native", "kubernetes", "acme"]),
    name=names,
    nesting=st.lists(names, max_size=3),
    secure=st.booleans(),
    base=st.sampled_from(["poc-aws", "poc-azure"]),
)
def test_a_planted_secret_under_a_wrong_key_is_never_shown(namespace: str, name: str, nesting: list[str], secure: bool, base: str) -> None:
    """Under an unknown or credential-named key, as plain text or `secure:`, the value is never
    printed (`pulumi up` hands the program the decrypted value: simulated by load_config below)."""
    from stacks.config import is_known_setting, load_config, looks_like_credential

    key = f"{namespace}:{name}"
    if is_known_setting(key) and not looks_like_credential(key) and not secure:
        return  # a shareable setting: its value is meant to be shown
    value: Any = PLANTED
    for part in reversed(nesting):
        value = {part: value}
    document = copy.deepcopy(load_stack(base))
    document["config"][key] = value
    message = _read_and_validate(yaml.safe_dump(document))
    assert PLANTED not in message
    raw = {k: v if isinstance(v, str) else json.dumps(v) for k, v in document["config"].items()}
    secret_keys = {k for k, v in document["config"].items() if isinstance(v, dict) and set(v) == {"secure"}} | ({key} if secure else set())
    try:
        load_config(raw, secret_keys)
    except ConfigError as exc:
        assert PLANTED not in exc.render()


GOOD = json.loads(json.dumps({"stack": "s", "project": "llm-platform", "config": {"llm-platform:residency": "eu"}, "resources": [{"urn": "urn:pulumi:s::p::aws:s3/bucketV2:BucketV2::b", "type": "aws:s3/bucketV2:BucketV2", "inputs": {}}]}))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**60), max_value=2**60), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=15,
)
resource_fields = st.fixed_dictionaries(
    {"urn": st.one_of(st.just("urn:pulumi:s::p::aws:rds/instance:Instance::db"), json_values), "type": st.one_of(st.sampled_from(["aws:rds/instance:Instance", "azure-native:cache:Redis", "aws:eks/nodeGroup:NodeGroup"]), json_values)},
    optional={k: json_values for k in ("inputs", "custom", "protect", "parent", "provider", "name", "dependencies", "location", "ignoreChanges", "customTimeouts", "deleteBeforeReplace")},
)
graphs = st.fixed_dictionaries(
    {"resources": st.one_of(st.lists(resource_fields, max_size=3), json_values)},
    optional={"config": st.one_of(st.dictionaries(st.sampled_from(["llm-platform:budget", "llm-platform:residency", "aws:region", "llm-platform:scale"]), json_values), json_values), "stack": json_values, "project": json_values},
)


@SETTINGS
@given(graph=st.one_of(graphs, json_values))
def test_any_graph_is_loaded_diffed_and_priced_or_refused_cleanly(graph: Any) -> None:
    from scripts.__main__ import main

    path, good = _DIR / "graph.json", _DIR / "good.json"
    path.write_text(json.dumps(graph))
    good.write_text(json.dumps(GOOD))
    for args in (["diff", str(good), str(path)], ["diff", str(path), str(good), "--json"], ["cost", "--plan", str(path)]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
        assert code in (0, 1, 2) and "internal error" not in err.getvalue(), (args, err.getvalue())
        assert err.getvalue().count("\n") <= 1
