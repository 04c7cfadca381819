"""Malformed input to audit/plan/cost/diff/policy-config: exit 2 with one line, never "internal
error", never a traceback; numbers users type are read in their common forms."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from scripts.__main__ import _tokens, main

GOOD_RESOURCE = {"urn": "urn:pulumi:s::llm-platform::aws:s3/bucketV2:BucketV2::b", "type": "aws:s3/bucketV2:BucketV2", "inputs": {}}
GOOD_GRAPH = {"stack": "s", "project": "llm-platform", "config": {"llm-platform:residency": "eu", "aws:region": "eu-central-1"}, "resources": [GOOD_RESOURCE]}


def _graph(**changes: object) -> str:
    return json.dumps({**GOOD_GRAPH, **changes})


def _resource(**changes: object) -> str:
    return _graph(resources=[{**GOOD_RESOURCE, **changes}])


MALFORMED_GRAPHS = {
    "not-json": "{resources: []",
    "a-list": "[]",
    "resources-not-a-list": _graph(resources={"a": 1}),
    "urn-a-number": _resource(urn=5),
    "inputs-a-list": _resource(inputs=[1, 2]),
    "ignore-changes-a-string": _resource(ignoreChanges="tags"),
    "custom-timeouts-a-list": _resource(customTimeouts=["60m"]),
    "location-a-string": _resource(location="eu"),
    "delete-before-replace-a-string": _resource(deleteBeforeReplace="yes"),
    "stack-a-number": _graph(stack=1),
    "nan": _resource(inputs={"size": "__NAN__"}).replace('"__NAN__"', "NaN"),
    "infinity": _resource(inputs={"size": "__INF__"}).replace('"__INF__"', "-Infinity"),
    "huge-integer": _resource(inputs={"size": "__BIG__"}).replace('"__BIG__"', "9" * 5000),
    "big-integer": _resource(inputs={"size": 2**64}),
    "deep-nesting": _resource(inputs={"x": "__DEEP__"}).replace('"__DEEP__"', "[" * 100_000 + "]" * 100_000),
    "nesting-beyond-64": _resource(inputs={"x": "__DEEP__"}).replace('"__DEEP__"', "[" * 80 + "]" * 80),
    "latin-1": "__LATIN1__",
}


# Only cost reads the budget.
MALFORMED_BUDGETS = {
    "budget-a-string": _graph(config={**GOOD_GRAPH["config"], "llm-platform:budget": "600"}),
    "budget-amount-a-string": _graph(config={**GOOD_GRAPH["config"], "llm-platform:budget": {"amount": "lots"}}),
    "budget-tokens-true": _graph(config={**GOOD_GRAPH["config"], "llm-platform:budget": {"amount": 5, "expectedTokensPerMonth": True}}),
}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    if text == "__LATIN1__":
        path.write_bytes(json.dumps({**GOOD_GRAPH, "stack": "caf\u00e9"}, ensure_ascii=False).encode("latin-1"))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _assert_bad_input(code: int, capsys: pytest.CaptureFixture[str]) -> str:
    out = capsys.readouterr()
    assert code == 2, out.err
    assert "internal error" not in out.err and "Traceback" not in out.err
    assert out.err.startswith("error: ") and out.err.count("\n") == 1, out.err
    return out.err


@pytest.mark.parametrize("case", list(MALFORMED_GRAPHS))
@pytest.mark.parametrize("command", ["audit", "cost", "diff"])
def test_malformed_graph_exits_2(command: str, case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "graph.json", MALFORMED_GRAPHS[case])
    if command == "diff":
        good = _write(tmp_path, "good.json", _graph())
        args = ["diff", str(good), str(path)]
    else:
        args = [command, "--plan", str(path)]
    _assert_bad_input(main(args), capsys)


@pytest.mark.parametrize("case", list(MALFORMED_BUDGETS))
def test_malformed_budget_in_graph_exits_2_for_cost(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _assert_bad_input(main(["cost", "--plan", str(_write(tmp_path, "graph.json", MALFORMED_BUDGETS[case]))]), capsys)


MALFORMED_POLICY_CONFIGS = {
    "required-tags-a-string": {"all": "mandatory", "data-residency-regions": {"requiredTags": "cost-center"}},
    "required-tags-numbers": {"budget-tags": {"requiredTags": [1, 2]}},
    "entry-a-number": {"budget-tags": 5},
    "profile-a-list": {"budget-tags": {"profile": ["eu"]}},
    "custom-profiles-a-list": {"budget-tags": {"customProfiles": ["eu"]}},
    "a-list": ["budget-tags"],
}


@pytest.mark.parametrize("case", list(MALFORMED_POLICY_CONFIGS))
def test_malformed_policy_config_exits_2(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    graph = _write(tmp_path, "graph.json", _graph())
    config = _write(tmp_path, "policy.json", json.dumps(MALFORMED_POLICY_CONFIGS[case]))
    _assert_bad_input(main(["audit", "--plan", str(graph), "--policy-config", str(config)]), capsys)


@pytest.mark.parametrize("text", ["inf", "nan", "-1", "1e400", "abc", "2X", "", "Infinity", "1e14", "--"])
def test_bad_tokens_per_month_exit_2(text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    graph = _write(tmp_path, "graph.json", _graph())
    err = _assert_bad_input(main(["cost", "--plan", str(graph), f"--tokens-per-month={text}"]), capsys)
    assert "e.g." in err  # an example of what is accepted


@pytest.mark.parametrize("text", ["2000000000", "2_000_000_000", "2,000,000,000", "2e9", "2E9", "2B", "2b", "2000M", "2000000k", " 2B "])
def test_tokens_per_month_common_forms(text: str) -> None:
    assert _tokens(text) == 2e9


def test_tokens_per_month_zero_is_fine() -> None:
    assert _tokens("0") == 0


@pytest.mark.parametrize("text", ["inf", "-5", "nan"])
def test_tokens_parser_refuses(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        _tokens(text)


@pytest.mark.parametrize("args", [["plan", "poc-aws", "--stack-name", "a::b"], ["plan", "poc-aws", "--stack-name", ""], ["policy-config", "mars"]])
def test_bad_arguments_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    _assert_bad_input(main(args), capsys)
