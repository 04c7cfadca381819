"""Gateway overhead: the same chat-completion load sent straight to a fake OpenAI-compatible
upstream and through the real LiteLLM proxy running the stack's config.yaml, in one run.

    python -m scripts.bench_gateway [--stack scale-aws] [--requests 400] [--concurrency 8] [--latency-ms 20]

Prints p50/p99 latency and throughput for both paths and their ratio. The upstream answers after
a fixed delay (a stand-in for model time), so the difference is what the gateway adds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from scripts.engine import plan_stack
from scripts.gateway_harness import MASTER_KEY, FakeUpstream, chat, planned_gateway, run_gateway


@dataclass
class LoadResult:
    label: str
    latencies_ms: list[float]
    wall_s: float
    errors: int

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.wall_s


def run_load(label: str, send: Callable[[], int], requests: int, concurrency: int) -> LoadResult:
    def one(_: int) -> tuple[float, int]:
        start = time.perf_counter()
        status = send()
        return (time.perf_counter() - start) * 1000, status

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(requests)))
    wall = time.perf_counter() - start
    return LoadResult(label, [ms for ms, _ in results], wall, sum(1 for _, status in results if status != 200))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="scale-aws", help="a Scale stack whose gateway config to run (default scale-aws)")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="upstream answer delay (default 20)")
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args(argv)

    gateway_plan = planned_gateway(plan_stack(args.stack))
    upstream = FakeUpstream("self-hosted", latency_s=args.latency_ms / 1000)
    env = dict(gateway_plan.env)
    for name in env:
        if name.startswith("VLLM_") or name.endswith("_API_BASE"):
            env[name] = upstream.base_url  # every upstream is the same fake: only overhead differs
    env.update({name: "offline-key" for name in gateway_plan.secret_env}, LITELLM_MASTER_KEY=MASTER_KEY, AWS_ACCESS_KEY_ID="AKIAOFFLINE", AWS_SECRET_ACCESS_KEY="offline")
    env["LITELLM_LOG"] = "ERROR"  # request logging is not what is being measured
    route = next(line.split(":", 1)[1].strip() for line in gateway_plan.config_yaml.splitlines() if line.startswith("- model_name:"))

    direct_url = upstream.base_url.removesuffix("/v1")
    try:
        with run_gateway(gateway_plan.config_yaml, env) as gateway:
            for _ in range(args.warmup):
                chat(gateway.url, route, MASTER_KEY)
                chat(direct_url, route, None)
            direct = run_load("direct", lambda: chat(direct_url, route, None)[0], args.requests, args.concurrency)
            through = run_load("gateway", lambda: chat(gateway.url, route, MASTER_KEY)[0], args.requests, args.concurrency)
    finally:
        upstream.stop()

    print(f"stack {args.stack}, route '{route}', {args.requests} requests, concurrency {args.concurrency}, upstream delay {args.latency_ms:.0f} ms")
    print(f"{'path':<8} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>7}")
    for result in (direct, through):
        print(f"{result.label:<8} {result.p50:>8.1f} {result.p99:>8.1f} {result.throughput:>8.1f} {result.errors:>7}")
    print(
        f"ratio    p50 x{through.p50 / direct.p50:.2f}, p99 x{through.p99 / direct.p99:.2f}, throughput x{through.throughput / direct.throughput:.2f}; "
        f"added p50 {through.p50 - direct.p50:.1f} ms"
    )
    return 1 if direct.errors or through.errors else 0


if __name__ == "__main__":
    sys.exit(main())
