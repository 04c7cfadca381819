"""Benchmark: offline audit time for recorded graphs of 100, 1,000 and 10,000 resources.

    python -m scripts.bench.audit [--sizes 100 1000 10000] [--repeat 3]

Graphs are made by replicating the resources of the poc-aws plan under fresh names, so the
mix of types is the real one. Prints wall time (best of --repeat) per size, the time per
resource, and the ratio between consecutive sizes (linear growth: ratio ~ size ratio).
"""

from __future__ import annotations

import argparse
import copy
import time
from typing import Any

from scripts.audit import PolicyPackProcess, analyze
from scripts.engine import plan_stack


def scaled_graph(base: dict[str, Any], size: int) -> dict[str, Any]:
    template = [r for r in base["resources"]]
    resources: list[dict[str, Any]] = []
    copy_index = 0
    while len(resources) < size:
        for res in template:
            if len(resources) >= size:
                break
            clone = copy.deepcopy(res)
            if copy_index:
                suffix = f"-c{copy_index}"
                clone["urn"] = clone["urn"] + suffix
                clone["name"] = clone["name"] + suffix
                if clone.get("parent"):
                    clone["parent"] = clone["parent"] + suffix
            resources.append(clone)
        copy_index += 1
    return {**base, "resources": resources}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.audit")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    base = plan_stack("poc-aws").to_json()
    print(f"template: poc-aws plan, {len(base['resources'])} resources; best of {args.repeat} runs per size")
    print(f"{'resources':>10} {'seconds':>9} {'ms/resource':>12} {'ratio':>7}")
    previous = None
    with PolicyPackProcess(base["config"], base["project"], base["stack"]) as pack:
        analyze(scaled_graph(base, 50), "eu", {}, pack=pack)  # warm-up: imports, first requests
        for size in args.sizes:
            graph = scaled_graph(base, size)
            best = float("inf")
            for _ in range(args.repeat):
                started = time.perf_counter()
                result = analyze(graph, "eu", {}, pack=pack)
                best = min(best, time.perf_counter() - started)
            ratio = f"{best / previous:6.1f}x" if previous else "      -"
            print(f"{size:>10} {best:>9.2f} {best / size * 1000:>12.3f} {ratio}   ({len(result.violations)} violations)")
            previous = best


if __name__ == "__main__":
    main()
