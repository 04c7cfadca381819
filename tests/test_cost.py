"""Cost before deploy: the estimator on the recorded plan of every example stack, the report's TCO
and scoring models."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.cost import PRICES_FILE, estimate
from scripts.engine import Plan
from tests.conftest import ROOT, run_cli
from tests.plan_matrix import CASE_IDS, plan_for

STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
PRICES = yaml.safe_load(PRICES_FILE.read_text())


def _rate(currency: str) -> float:
    from components.fx import RATES

    return RATES[currency].per_usd


def _unit_price(ref: str, currency: str) -> float:
    """What the price file says for a line's price_ref (<list>/<item>), in `currency`, converted
    by hand from the list's own currency."""
    list_name, item = ref.split("/", 1)
    if list_name in PRICES["lists"]:
        entry = PRICES["lists"][list_name]
        amount = float(entry["items"][item])
    else:
        entry = PRICES["tokens"][list_name]
        amount = (float(entry["items"][item]["input"]) + float(entry["items"][item]["output"])) / 2
    listed_in = entry.get("currency", PRICES["currency"])
    return amount if listed_in == currency else amount / _rate(listed_in) * _rate(currency)


@pytest.mark.parametrize("stack", STACKS)
def test_each_priced_line_is_quantity_times_the_listed_price(stack: str, plan_of: Callable[..., Plan]) -> None:
    graph = plan_of(stack).to_json()
    est = estimate(graph, 2e9)
    budget_currency = (graph["config"].get("llm-platform:budget") or {}).get("currency") or PRICES["currency"]
    assert est.currency == budget_currency, "the estimate is in the stack's budget currency"
    assert len(est.lines) >= 5
    for line in est.lines:
        assert line.unit_price == pytest.approx(_unit_price(line.price_ref, est.currency)), line
        assert line.monthly == pytest.approx(line.quantity * line.unit_price, abs=0.01), line
    assert est.total == pytest.approx(sum(line.monthly for line in est.lines))
    # Resources billed by usage are listed, not counted as zero.
    assert est.unpriced, "every example stack has usage-billed resources (logs, storage)"
    priced = {(line.resource, line.type) for line in est.lines}
    assert not priced & {(u.resource, u.type) for u in est.unpriced}


def test_quantities_follow_the_plan(plan_of: Callable[..., Plan]) -> None:
    est = estimate(plan_of("beta-aws").to_json(), 0)
    database = [line for line in est.lines if line.resource == "app-db-instance"]
    assert {line.price_ref for line in database} == {"aws-rds/db.t4g.micro", "aws-rds/storage-gp3-gb-month"}
    instance = next(line for line in database if line.price_ref == "aws-rds/db.t4g.micro")
    assert instance.quantity == 2 * PRICES["hours_per_month"], "Multi-AZ runs two instances"
    api = [line for line in est.lines if line.resource == "app-api"]
    assert {line.price_ref for line in api} == {"aws-fargate/vcpu-hour", "aws-fargate/gb-hour"}
    assert next(line for line in api if line.price_ref.endswith("vcpu-hour")).quantity == 2 * PRICES["hours_per_month"]
    endpoints = [line for line in est.lines if line.price_ref == "aws-vpc/interface-endpoint-az-hour"]
    assert endpoints and all(line.quantity % PRICES["hours_per_month"] == 0 for line in endpoints)
    scale = estimate(plan_of("scale-aws").to_json(), 0)
    gpu = next(line for line in scale.lines if line.price_ref == "aws-ec2/g6.2xlarge")
    assert gpu.quantity == 1 * PRICES["hours_per_month"], "one L4 node for qwen-7b's single minimum replica"


def test_token_cost_of_the_expected_traffic(plan_of: Callable[..., Plan]) -> None:
    graph = plan_of("beta-aws").to_json()
    est = estimate(graph, 2e9)
    (line,) = [x for x in est.lines if x.type == "tokens"]
    assert line.price_ref == "bedrock/anthropic.claude-sonnet-4-6"
    assert line.quantity == 2000 and line.unit_price == pytest.approx((3.0 + 15.0) / 2)
    # Scale serves what its GPUs can first: 1B tokens fit qwen-7b's replica, 20B do not.
    scale = plan_of("scale-aws").to_json()
    assert not [x for x in estimate(scale, 1e9).lines if x.type == "tokens"]
    (overflow,) = [x for x in estimate(scale, 20e9).lines if x.type == "tokens"]
    assert overflow.price_ref == "report-api/mistral/mistral-large-latest" and 0 < overflow.quantity < 20_000


def test_unknown_sizes_are_listed_unpriced(make_variant: Callable[..., Path], plan_of: Callable[..., Plan]) -> None:
    path = make_variant("poc-aws", "poc-big-db", {"llm-platform:poc": {"app": {"database": {"instanceClass": "db.r7g.2xlarge"}}}})
    est = estimate(plan_of(path).to_json(), 0)
    (unpriced,) = [u for u in est.unpriced if u.resource == "app-db-instance"]
    assert "db.r7g.2xlarge" in unpriced.reason
    assert not [line for line in est.lines if line.resource == "app-db-instance"]


def test_cost_cli_compares_with_the_budget(make_variant: Callable[..., Path]) -> None:
    result = run_cli("cost", "poc-aws", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["budget"]["amount"] == 600 and report["budget"]["over"] is False
    assert report["total"] == pytest.approx(sum(line["monthly"] for line in report["lines"]), abs=0.02)
    tight = make_variant("poc-aws", "poc-tight-budget", {"llm-platform:budget": {"amount": 50}})
    result = run_cli("cost", str(tight))
    assert result.returncode == 1
    assert "OVER BUDGET" in result.stdout and "Unpriced" in result.stdout and "Assumptions" in result.stdout
    report = json.loads(run_cli("cost", "beta-azure", "--json").stdout)
    eur = report["budget"]
    assert report["currency"] == eur["currency"] == "EUR" and eur["estimate_in_budget_currency"] == pytest.approx(report["total"], abs=0.02)
    assert "EUR/USD" in " ".join(report["assumptions"]), "the conversion and its rate are stated"


@pytest.mark.parametrize("case_id", [c for c in CASE_IDS if "cn" in c])
def test_cny_stacks_are_estimated_in_cny(case_id: str) -> None:
    """A CNY budget gets a CNY estimate: USD list prices converted at the file's dated rate, and
    prices listed in CNY (the domestic APIs) taken as they are, not converted twice."""
    graph = plan_for(case_id).to_json()
    est = estimate(graph, 2e9)
    assert est.currency == "CNY"
    usd_lines = [line for line in est.lines if line.list_currency == "USD"]
    for line in usd_lines:
        assert line.unit_price == pytest.approx(_unit_price(line.price_ref, "USD") * _rate("CNY")), line
    for line in est.lines:
        if line.list_currency == "CNY":
            assert line.unit_price == pytest.approx(_unit_price(line.price_ref, "CNY")), line
    if usd_lines:
        assert any("CNY/USD" in a for a in est.assumptions)


def test_report_api_prices_in_cny_stay_in_cny(plan_of: Callable[..., Plan]) -> None:
    graph = copy.deepcopy(plan_of("poc-aws").to_json())
    graph["config"]["llm-platform:budget"] = {**graph["config"]["llm-platform:budget"], "currency": "CNY"}
    graph["config"]["llm-platform:poc"] = {**graph["config"]["llm-platform:poc"], "apiProviders": ["deepseek"]}
    (tokens,) = [line for line in estimate(graph, 2e9).lines if line.type == "tokens"]
    assert tokens.price_ref == "report-api/deepseek/deepseek-chat" and tokens.unit_price == pytest.approx((2.0 + 8.0) / 2)
    assert tokens.monthly == pytest.approx(2000 * 5.0)


# ------------------------------------------------------------------------------ throughput


def _replica(model_id: str, instance_type: str, gpus: int = 1, **extra: Any) -> Any:
    from scripts.cost import price_book, replica_throughput_of

    model = {"name": "m", "huggingFaceId": model_id, "pool": "p", "gpusPerReplica": gpus, "maxReplicas": 1, **extra}
    return replica_throughput_of(model, instance_type, price_book())


def test_throughput_scales_with_model_size_and_gpu() -> None:
    small = _replica("Qwen/Qwen2.5-7B-Instruct", "g6.2xlarge", maxModelLen=16384)
    big = _replica("meta-llama/Llama-3.1-70B-Instruct", "g6e.12xlarge", gpus=4, maxModelLen=32768)
    fast = _replica("Qwen/Qwen2.5-7B-Instruct", "Standard_NC24ads_A100_v4")
    # A 70B model on 4 GPUs delivers less per GPU than a 7B model on one smaller GPU ...
    assert big.mixed_tokens_s / 4 < small.mixed_tokens_s / 2
    # ... and the same 7B model is faster on an A100 (1,935 GB/s) than on an L4 (300 GB/s).
    assert fast.decode_tokens_s > 3 * small.decode_tokens_s
    # Order of magnitude of published vLLM figures: a 7B model on one L4 serves hundreds to a few
    # thousand tokens/s, not tens of thousands.
    assert 300 < small.mixed_tokens_s < 3000
    assert _replica("acme/unknown-model", "g6.2xlarge") is None


@pytest.mark.parametrize(("args", "fragment"), [(("poc-aws", "--tokens-per-month", "lots"), "not a token count"), (("no-such-stack",), "no-such-stack"), ((), "name a STACK")])
def test_cost_bad_input_exits_2(args: tuple[str, ...], fragment: str) -> None:
    result = run_cli("cost", *args)
    assert result.returncode == 2 and fragment in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------------------------ TCO


def test_tco_reproduces_the_pure_api_row_and_writes_the_plot(tmp_path: Path) -> None:
    plot = tmp_path / "tco.png"
    result = run_cli("tco", "--plot", str(plot), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    pure = report["report_pure_api"]
    assert pure["matches"] is True
    assert pure["reproduced"] == [130500, 1305000, 3915000]
    assert pure["implied_cny_per_million"] == pytest.approx(10.875)
    assert pure["implied_usd_per_million"] == pytest.approx(1.50)
    assert plot.stat().st_size > 10_000 and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    inflection = report["inflection_tokens_per_month"]
    assert 1e7 < inflection < 1e11
    years = report["scenarios"]
    assert [y["tokens_per_month"] for y in years] == [1e9, 1e10, 3e10]
    assert all(y["api"] > y["self_hosted"] for y in years if y["tokens_per_month"] > inflection)


def test_inflection_is_where_the_costs_cross() -> None:
    from scripts.cost import price_book
    from scripts.cost.tco import strategy_for
    from scripts.engine import plan_stack

    strategy = strategy_for(plan_stack("scale-aws").to_json(), price_book())
    point = strategy.inflection()
    assert point is not None
    assert strategy.self_hosted(point) == pytest.approx(strategy.api(point), rel=1e-6)
    assert strategy.self_hosted(point * 0.9) > strategy.api(point * 0.9)
    assert strategy.self_hosted(point * 1.1) <= strategy.api(point * 1.1)


def test_tco_needs_a_scale_stack() -> None:
    result = run_cli("tco", "--stack", "poc-aws", "--plot", "")
    assert result.returncode == 2 and "scale" in result.stderr


def test_tco_unwritable_plot_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_cli("tco", "--plot", str(blocker / "tco.png"))
    assert result.returncode == 2 and "cannot write the plot" in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------------------------ scoring


def test_score_reproduces_the_report_table() -> None:
    result = run_cli("score", "--json")
    assert result.returncode == 0, result.stderr
    totals = json.loads(result.stdout)["totals"]
    assert totals == {"API Calls + Low Code": 4.30, "Cloud-Hosted Inference": 4.00, "Hybrid deployment (API + local)": 3.55, "Self-developed / self-hosted GPU": 2.95}
    text = run_cli("score").stdout
    assert [line.split()[-1] for line in text.splitlines()[2:]] == ["4.30", "4.00", "3.55", "2.95"]


def test_custom_weights_rerank(tmp_path: Path) -> None:
    weights = {"speed": 10, "performance": 20, "cost": 30, "maintenance": 5, "expansion": 10, "ecosystem": 5, "compliance": 15, "usability": "5%"}
    path = tmp_path / "weights.yaml"
    path.write_text(yaml.safe_dump({"weights": weights}))
    totals = json.loads(run_cli("score", "--weights", str(path), "--json").stdout)["totals"]
    expected_self = (2 * 10 + 5 * 20 + 2 * 30 + 2 * 5 + 3 * 10 + 3 * 5 + 5 * 15 + 2 * 5) / 100
    assert totals["Self-developed / self-hosted GPU"] == pytest.approx(expected_self)


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({"weights": {"speed": 40, "performance": 20, "cost": 10, "maintenance": 10, "expansion": 10, "ecosystem": 10, "compliance": 5, "usability": 5}}, "sum to 110%, not 100%"),
        ({"weights": {"speed": 30, "performance": 20, "cost": 10, "maintenance": 10, "expansion": 10, "ecosystem": 10, "compliance": 5}}, "missing: usability"),
        ({"weights": {"speed": 30, "performance": 20, "cost": 10, "maintenance": 10, "expansion": 10, "ecosystem": 10, "compliance": 5, "usability": 5, "vibes": 0}}, "unknown: vibes"),
        ({"weights": {"speed": "thirty", "performance": 20, "cost": 10, "maintenance": 10, "expansion": 10, "ecosystem": 10, "compliance": 5, "usability": 5}}, "weights.speed"),
        ({"weights": {"speed": 50, "performance": -20, "cost": 10, "maintenance": 10, "expansion": 10, "ecosystem": 10, "compliance": 15, "usability": 15}}, "must not be negative"),
        ({"scores": {"Mine": {"speed": 9, "performance": 4, "cost": 4, "maintenance": 5, "expansion": 3, "ecosystem": 4, "compliance": 3, "usability": 5}}}, "outside 0-5"),
        ({"wieghts": {}}, "unknown key"),
    ],
)
def test_bad_weights_exit_2(document: dict[str, Any], fragment: str, tmp_path: Path) -> None:
    path = tmp_path / "weights.json"
    path.write_text(json.dumps(document))
    result = run_cli("score", "--weights", str(path))
    assert result.returncode == 2 and fragment in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------------------------ gateway benchmark


def test_benchmark_upstream_answers_kept_alive_connections_without_delay() -> None:
    """The benchmark's fake upstream must not charge the gateway's pooled connection a Nagle /
    delayed-ACK wait (~40 ms a request on Linux): the first benchmark's fake did, and that, not
    the gateway, was most of its +54 ms."""
    import statistics
    import time

    from scripts.bench.gateway import KeepAliveClient, SteadyUpstream

    upstream = SteadyUpstream(0.0)
    try:
        client = KeepAliveClient(upstream.base_url.removesuffix("/v1"), "m", None)
        latencies = []
        for _ in range(15):
            start = time.perf_counter()
            assert client.send() == 200
            latencies.append((time.perf_counter() - start) * 1000)
    finally:
        upstream.stop()
    assert statistics.median(latencies) < 15, latencies
