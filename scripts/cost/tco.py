"""Three-year TCO: the seed report's section 6 table next to the same scenarios recomputed with
this project's price data and a Scale stack's GPU pool, the monthly token volume where
self-hosting becomes cheaper than the API (the inflection point), and a plot.

    python -m scripts tco [--stack scale-aws] [--plot tco.png] [--ops-usd-per-month 0] [--json]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scripts.cost import PriceBook, price_book, reference_model, replica_throughput_of

REPORT_FILE = Path(__file__).resolve().parents[1] / "data" / "report_tco.yaml"


class TcoInputError(Exception):
    """Bad input (a stack without a Scale section, unknown prices): exit code 2."""


def report_data() -> dict[str, Any]:
    return yaml.safe_load(REPORT_FILE.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------ the report


@dataclass
class ReportReproduction:
    tokens_per_month: list[float]
    implied_cny_per_million: float  # all-in, as the row is printed
    implied_usd_per_million: float
    token_only_cny_per_million: float  # if the 10% other costs are inside the row
    reproduced: list[float]
    printed: list[float]
    table_5_1_1_mean_cny_per_million: float

    @property
    def matches(self) -> bool:
        return all(abs(a - b) < 0.5 for a, b in zip(self.reproduced, self.printed, strict=True))


def reproduce_pure_api(book: PriceBook | None = None) -> ReportReproduction:
    """The row grows linearly with tokens: year 1 / tokens of year 1 is the price it implies."""
    book = book or price_book()
    data = report_data()
    tokens = [r * data["tokens_per_request"] for r in data["requests_per_month"]]
    printed = [float(x) for x in data["table"]["Pure API"]]
    per_million = printed[0] / (12 * tokens[0] / 1e6)
    reproduced = [round(per_million * t / 1e6 * 12, 2) for t in tokens]
    items = book.data["tokens"]["report-api"]["items"]
    mean = sum((float(v["input"]) + float(v["output"])) / 2 for v in items.values()) / len(items)
    return ReportReproduction(
        tokens, per_million, per_million / float(data["report_cny_per_usd"]), per_million / (1 + data["other_costs_share"]), reproduced, printed, mean
    )


# ------------------------------------------------------------------------------ our recomputation


@dataclass
class Strategy:
    """Monthly cost (USD) as a function of tokens per month, before other costs."""

    api_usd_per_million: float
    api_model: str
    node_usd_per_hour: float
    node_type: str
    node_tokens_per_month: float  # capacity of one node at the assumed throughput and utilisation
    min_nodes: int  # nodes for the stack's minimum replicas (the hybrid baseline)
    fixed_usd_per_month: float  # control plane + system nodes
    ops_usd_per_month: float
    hours: float
    max_nodes: int  # the pool's maxSize

    def api(self, tokens: float) -> float:
        return tokens / 1e6 * self.api_usd_per_million

    def nodes_for(self, tokens: float) -> int:
        return max(self.min_nodes, math.ceil(tokens / self.node_tokens_per_month)) if self.node_tokens_per_month else self.min_nodes

    def self_hosted(self, tokens: float) -> float:
        return self.fixed_usd_per_month + self.ops_usd_per_month + self.nodes_for(tokens) * self.node_usd_per_hour * self.hours

    def hybrid(self, tokens: float) -> float:
        capacity = self.min_nodes * self.node_tokens_per_month
        base = self.fixed_usd_per_month + self.ops_usd_per_month + self.min_nodes * self.node_usd_per_hour * self.hours
        return base + self.api(max(0.0, tokens - capacity))

    def inflection(self, limit_nodes: int = 100_000) -> float | None:
        """Smallest monthly token volume from which self-hosting costs no more than the API."""
        price = self.api_usd_per_million / 1e6
        if price <= 0:
            return None
        fixed = self.fixed_usd_per_month + self.ops_usd_per_month
        node_month = self.node_usd_per_hour * self.hours
        for nodes in range(max(self.min_nodes, 1), limit_nodes):
            low = 0.0 if nodes == self.min_nodes else (nodes - 1) * self.node_tokens_per_month
            high = nodes * self.node_tokens_per_month
            crossing = max(low, (fixed + nodes * node_month) / price)
            if crossing <= high:
                return crossing
        return None


def strategy_for(graph: Mapping[str, Any], book: PriceBook, ops_usd_per_month: float = 0.0) -> Strategy:
    from components.k8s.gpu import instance_of

    config = graph.get("config") or {}
    scale = config.get("llm-platform:scale")
    cloud = config.get("llm-platform:cloud")
    if not isinstance(scale, dict):
        raise TcoInputError(f"stack '{graph.get('stack')}' has no llm-platform:scale section: give a Scale stack (e.g. --stack scale-aws)")
    model = scale["models"][0]
    pool = next(p for p in scale["gpuPools"] if p["name"] == model["pool"])
    shape = instance_of(pool["instanceType"])
    node_price = book.price("aws-ec2" if cloud == "aws" else "azure-vm", pool["instanceType"])
    if node_price is None or shape is None:
        raise TcoInputError(f"no price or shape for GPU instance type {pool['instanceType']} in scripts/data/prices.yaml")
    throughput = replica_throughput_of(model, pool["instanceType"], book)
    if throughput is None:
        raise TcoInputError(f"no throughput model for {model.get('huggingFaceId')} on {pool['instanceType']}: the model needs `architecture` and the GPU a chip in components/k8s/gpu.py")
    seconds = book.hours_per_month * 3600
    replicas_per_node = shape.gpus // int(model.get("gpusPerReplica", 1))
    node_capacity = throughput.mixed_tokens_s * replicas_per_node * float(book.data["self_hosting"]["utilisation"]) * seconds
    gpus_min = float(model.get("gpusPerReplica", 1)) * float(model.get("minReplicas", 1))
    min_nodes = max(int(pool.get("minSize", 0)), math.ceil(gpus_min / shape.gpus))
    system = scale.get("systemPool") or {}
    system_type = system.get("instanceType") or ("m6i.xlarge" if cloud == "aws" else "Standard_D4s_v5")
    system_price = book.price("aws-ec2" if cloud == "aws" else "azure-vm", system_type)
    control = book.price("aws-eks", "cluster") if cloud == "aws" else book.price("azure-aks", "Standard")
    fixed = (control.usd if control else 0.0) * book.hours_per_month + (system_price.usd if system_price else 0.0) * float(system.get("minSize", 2)) * book.hours_per_month
    reference = reference_model(graph)
    if reference is None:
        raise TcoInputError("the Scale stack's routes name no API or managed fallback to price the API strategy with")
    found = book.token_price(*reference)
    if found is None:
        raise TcoInputError(f"no token price for {reference[1]} in scripts/data/prices.yaml")
    return Strategy(
        api_usd_per_million=(found[0] + found[1]) / 2,
        api_model=reference[1],
        node_usd_per_hour=node_price.usd,
        node_type=pool["instanceType"],
        node_tokens_per_month=node_capacity,
        min_nodes=min_nodes,
        fixed_usd_per_month=fixed,
        ops_usd_per_month=ops_usd_per_month,
        hours=book.hours_per_month,
        max_nodes=int(pool["maxSize"]),
    )


@dataclass
class Scenario:
    year: int
    tokens_per_month: float
    api: float  # yearly, CNY, other costs included
    self_hosted: float
    hybrid: float
    nodes: int


def scenarios(strategy: Strategy, book: PriceBook) -> list[Scenario]:
    data = report_data()
    uplift = 1 + data["other_costs_share"]
    cny = book.rates["CNY"]
    rows = []
    for year, requests in enumerate(data["requests_per_month"], start=1):
        tokens = requests * data["tokens_per_request"]
        yearly = [12 * uplift * cny * f(tokens) for f in (strategy.api, strategy.self_hosted, strategy.hybrid)]
        rows.append(Scenario(year, tokens, *[round(v) for v in yearly], strategy.nodes_for(tokens)))
    return rows


# ------------------------------------------------------------------------------ plot and output


def plot(strategy: Strategy, inflection: float | None, path: Path, scenario_tokens: Sequence[float]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = max([*scenario_tokens, (inflection or 0) * 3, 1e9]) * 1.5
    xs = [10 ** (6 + i * (math.log10(top) - 6) / 400) for i in range(401)]
    figure, axes = plt.subplots(figsize=(9, 5.5), dpi=110)
    axes.plot(xs, [strategy.api(x) for x in xs], label=f"API ({strategy.api_model}, ${strategy.api_usd_per_million:.2f}/M tokens)")
    axes.plot(xs, [strategy.self_hosted(x) for x in xs], label=f"Self-hosted ({strategy.node_type} nodes)", drawstyle="steps-post")
    axes.plot(xs, [strategy.hybrid(x) for x in xs], label="Hybrid (minimum replicas + API overflow)", linestyle="--")
    if inflection:
        axes.axvline(inflection, color="grey", linestyle=":")
        axes.annotate(f"inflection ≈ {inflection / 1e6:,.0f}M tokens/month", (inflection, strategy.api(inflection)), textcoords="offset points", xytext=(8, -28), fontsize=9)
        axes.plot([inflection], [strategy.api(inflection)], "o", color="black")
    for tokens in scenario_tokens:
        axes.axvline(tokens, color="#cccccc", linewidth=0.8)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("tokens per month")
    axes.set_ylabel("USD per month (before other costs)")
    axes.set_title("LLM serving cost by strategy (list prices; grey lines: the report's year 1-3 volumes)")
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
    except (OSError, ValueError) as exc:  # unwritable path, or a suffix matplotlib cannot write
        raise TcoInputError(f"cannot write the plot to '{path}': {exc}") from None
    finally:
        plt.close(figure)
    return path


def render(repro: ReportReproduction, strategy: Strategy, rows: Sequence[Scenario], inflection: float | None, plot_path: Path | None, stack: str) -> str:
    data = report_data()
    out = ["The seed report's three-year TCO (section 6), ¥ per year:"]
    out.append(f"  {'scheme':<40}{'year 1':>14}{'year 2':>14}{'year 3':>14}{'3 years':>15}")
    for scheme, values in data["table"].items():
        out.append(f"  {scheme:<40}" + "".join(f"{v:>14,.0f}" for v in values) + f"{sum(values):>15,.0f}")
    out += [
        "",
        "Pure API reproduced from the report's assumptions (1,000 tokens per request; 1B, 10B, 30B tokens a month):",
        f"  implied average price: ¥{repro.implied_cny_per_million:.3f} per 1M tokens all-in (= ${repro.implied_usd_per_million:.2f} at {1 / (repro.implied_usd_per_million / repro.implied_cny_per_million):.2f} ¥/$); "
        f"¥{repro.token_only_cny_per_million:.3f} if the 10% other costs are inside it",
        f"  reproduced: {', '.join(f'{v:,.0f}' for v in repro.reproduced)}  -> {'matches the printed row' if repro.matches else 'DOES NOT match'}",
        f"  for comparison, the mean of section 5.1.1's prices (input+output)/2 over its {len(price_book().data['tokens']['report-api']['items'])} models is ¥{repro.table_5_1_1_mean_cny_per_million:.2f} per 1M tokens",
        "",
        f"The same volumes with this project's price data and stack '{stack}' (¥ per year, 10% other costs included; list prices, no staff costs unless --ops-usd-per-month):",
        f"  API: {strategy.api_model} at ${strategy.api_usd_per_million:.3f}/M tokens; self-hosted: {strategy.node_type} at ${strategy.node_usd_per_hour:g}/h, "
        f"{strategy.node_tokens_per_month / 1e6:,.0f}M tokens per node-month (throughput x utilisation assumptions in prices.yaml), "
        f"fixed ${strategy.fixed_usd_per_month:,.0f}/month (control plane, system nodes)" + (f" + ops ${strategy.ops_usd_per_month:,.0f}/month" if strategy.ops_usd_per_month else ""),
        f"  {'scheme':<40}{'year 1':>14}{'year 2':>14}{'year 3':>14}{'3 years':>15}",
    ]
    for label, attr in (("Pure API", "api"), ("Self-hosted (stack GPU pool)", "self_hosted"), ("Hybrid (min replicas + API overflow)", "hybrid")):
        values = [getattr(r, attr) for r in rows]
        out.append(f"  {label:<40}" + "".join(f"{v:>14,.0f}" for v in values) + f"{sum(values):>15,.0f}")
    out.append(f"  GPU nodes needed: {', '.join(f'year {r.year}: {r.nodes}' for r in rows)} (pool maxSize {strategy.max_nodes})")
    if any(r.nodes > strategy.max_nodes for r in rows):
        out.append("  note: later years need more nodes than the pool's maxSize allows; raise it before that traffic arrives")
    if inflection:
        out.append(f"\nInflection point: self-hosting is cheaper than the API from about {inflection / 1e6:,.0f}M tokens per month ({inflection / 1e9:.2f}B).")
    else:
        out.append("\nInflection point: none: at these prices the API stays cheaper at every volume.")
    if plot_path:
        out.append(f"Plot written to {plot_path}")
    return "\n".join(out)
