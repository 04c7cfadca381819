"""Gateway overhead in steady state: the same chat-completion load sent straight to a fake
OpenAI-compatible upstream and through the real LiteLLM proxy running the stack's config.yaml,
interleaved in one run, at concurrency 1 and 8 (by default).

    python -m scripts.bench.gateway [--stack scale-aws] [--requests 300] [--concurrency 1 8]
        [--latency-ms 20] [--workers 1] [--setting litellm_settings.KEY=VALUE ...] [--env K=V ...]
        [--no-route-limits] [--legacy]

Prints, per concurrency, direct vs gateway p50/p99 latency and throughput, what the gateway adds,
and the gateway's CPU time per request (its whole process group, from /proc), and the answers
that were not 200 by status. `--no-route-limits` removes the benched route's own caps (in-flight
cap, rpm, tpm, budget) so a high concurrency measures the gateway, not the limits it enforces.

How it measures (and why the first version reported +54 ms at concurrency 1):
- Both paths use kept-alive connections, one per client thread, with TCP_NODELAY, after a
  warm-up on every connection; the first version opened a new connection per direct request
  but the gateway kept its upstream connection alive.
- The fake upstream answers in one write with TCP_NODELAY. The first version's fake
  (BaseHTTPRequestHandler) wrote the headers and the body in two writes with Nagle on: on a
  kept-alive connection the body waits for the ACK of the headers, which the gateway's kernel
  delays (Linux delayed ACK, ~40 ms), so every gateway request paid ~40 ms that a real vLLM
  (uvicorn/asyncio sets TCP_NODELAY) never charges. `--legacy` runs that harness beside the
  steady-state one to show it.
- Direct and gateway requests alternate in blocks, so a busy machine slows both alike.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from scripts.bench.harness import (
    MASTER_KEY,
    FakeUpstream,
    PlannedGateway,
    RunningGateway,
    chat,
    free_port,
    launch_gateway,
    planned_gateway,
)
from scripts.bench.harness import _stop as stop
from scripts.bench.harness import _wait_ready as wait_ready
from scripts.engine import plan_stack

APP_KEY_ENV = "LLM_PLATFORM_TEAM_KEY_APP"  # the app's scoped key, when the gateway has team keys

# --------------------------------------------------------------------------- the fake upstream


class _SteadyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY, as uvicorn (vLLM) sets it
    latency_s = 0.0

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._reply({"object": "list", "data": [{"id": "bench", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.latency_s:
            time.sleep(self.latency_s)
        self._reply(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or "bench",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "answer"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
            }
        )

    def _reply(self, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        self.wfile.write(head + data)  # one write: headers and body in one segment


@dataclass
class SteadyUpstream:
    latency_s: float
    server: ThreadingHTTPServer = field(init=False)

    def __post_init__(self) -> None:
        handler = type("Handler", (_SteadyHandler,), {"latency_s": self.latency_s})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- the client


class KeepAliveClient:
    """One kept-alive HTTP/1.1 connection per thread, TCP_NODELAY, reconnecting if dropped."""

    def __init__(self, base_url: str, model: str, key: str | None) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = f"{parts.path.rstrip('/')}/v1/chat/completions"
        self.body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}).encode()
        self.headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
        self.local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.local.conn = conn
        return conn

    def send(self) -> int:
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request("POST", self.path, body=self.body, headers=self.headers)
                response = conn.getresponse()
                response.read()
                return response.status
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
        return 0


# --------------------------------------------------------------------------- load and CPU


@dataclass
class LoadResult:
    label: str
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)  # HTTP status -> answers
    cpu_s: float | None = None  # gateway process-group CPU time during the load

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200)

    def error_breakdown(self) -> str:
        """The non-200 answers by status, e.g. "429 x 150, 500 x 5"."""
        return ", ".join(f"{status} x {n}" for status, n in sorted(self.statuses.items()) if status != 200)

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

    @property
    def cpu_ms_per_request(self) -> float | None:
        return None if self.cpu_s is None else 1000 * self.cpu_s / len(self.latencies_ms)


def group_cpu_seconds(pgid: int) -> float:
    """utime + stime of every live process in a process group (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 (pgrp) after the command
            total += int(fields[11]) + int(fields[12])  # fields 14 and 15: utime, stime
    return total / ticks


def run_block(send: Callable[[], int], requests: int, concurrency: int, into: LoadResult, cpu: Callable[[], float] | None = None) -> None:
    def one(_: int) -> tuple[float, int]:
        start = time.perf_counter()
        status = send()
        return (time.perf_counter() - start) * 1000, status

    cpu_before = cpu() if cpu else 0.0
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(requests)))
    into.wall_s += time.perf_counter() - start
    if cpu:
        into.cpu_s = (into.cpu_s or 0.0) + cpu() - cpu_before
    into.latencies_ms += [ms for ms, _ in results]
    into.statuses.update(status for _, status in results)


def interleaved(
    direct: Callable[[], int], gateway: Callable[[], int], requests: int, concurrency: int, cpu: Callable[[], float], block: int = 50
) -> tuple[LoadResult, LoadResult]:
    """Alternate blocks of direct and gateway requests until each has `requests`."""
    d, g = LoadResult("direct"), LoadResult("gateway")
    warm = max(20, 4 * concurrency)
    run_block(direct, warm, concurrency, LoadResult("warm"))  # every pooled connection opened
    run_block(gateway, warm, concurrency, LoadResult("warm"))
    done = 0
    while done < requests:
        n = min(block, requests - done)
        run_block(direct, n, concurrency, d)
        run_block(gateway, n, concurrency, g, cpu)
        done += n
    return d, g


# --------------------------------------------------------------------------- the gateway


def _parse_value(text: str) -> Any:
    return yaml.safe_load(text)


def tuned_config(config_yaml: str, settings: Sequence[str]) -> str:
    """The planned config.yaml with `section.key=value` overrides (YAML values)."""
    config = yaml.safe_load(config_yaml)
    for item in settings:
        path, _, value = item.partition("=")
        section, _, key = path.partition(".")
        if not key:
            raise SystemExit(f"--setting {item!r}: expected SECTION.KEY=VALUE, e.g. litellm_settings.callbacks=[]")
        config.setdefault(section, {})[key] = _parse_value(value)
    return yaml.safe_dump(config, sort_keys=False)


def without_content_filters(config_yaml: str) -> tuple[str, list[str]]:
    """The config without its guardrails: they call the cloud's moderation API (Bedrock
    ApplyGuardrail), which a loopback benchmark cannot reach and whose latency is the cloud's,
    not the gateway's. Returns the names left out, which the report prints."""
    config = yaml.safe_load(config_yaml)
    names = [str((g or {}).get("guardrail_name")) for g in config.pop("guardrails", None) or []]
    return yaml.safe_dump(config, sort_keys=False), names


@contextmanager
def bench_gateway(
    planned: PlannedGateway, upstream_url: str, config_yaml: str, extra_env: Mapping[str, str], cli_args: Sequence[str]
) -> Iterator[tuple[RunningGateway, str]]:
    """`litellm --config` on a loopback port with the plan's env (every upstream pointed at the
    fake; the shared Redis, when the plan has one, a fakeredis server in this process), like
    scripts.bench.harness.run_gateway but with the given CLI arguments. Yields the gateway and
    the key a client uses: the app's scoped team key when the plan has one, else the master key."""
    env = dict(planned.env)
    for name in env:
        if name.startswith("VLLM_") or name.endswith("_API_BASE"):
            env[name] = upstream_url  # every upstream is the same fake: only overhead differs
    env.update(
        {name: f"sk-bench-{name.lower()}" for name in planned.secret_env},
        LITELLM_MASTER_KEY=MASTER_KEY,
        AWS_ACCESS_KEY_ID="AKIAOFFLINE",
        AWS_SECRET_ACCESS_KEY="offline",
    )
    key = env.get(APP_KEY_ENV, MASTER_KEY)
    redis = None
    if "REDIS_HOST" in env:
        from fakeredis import TcpFakeServer

        redis = TcpFakeServer(("127.0.0.1", free_port()), server_type="redis")
        threading.Thread(target=redis.serve_forever, daemon=True).start()
        env.update(REDIS_HOST="127.0.0.1", REDIS_PORT=str(redis.server_address[1]), REDIS_SSL="False", REDIS_PASSWORD="")
    env.update(extra_env)
    running, workdir = launch_gateway(config_yaml, env, planned.files, cli_args)
    try:
        wait_ready(running, 180.0)
        yield running, key
    finally:
        stop(running.process)
        shutil.rmtree(workdir, ignore_errors=True)
        if redis is not None:
            redis.shutdown()
            redis.server_close()


# A deployment's own limits (LiteLLM litellm_params): in-flight cap, rate limits, spend budget.
ROUTE_LIMITS = ("max_parallel_requests", "rpm", "tpm", "max_budget", "budget_duration")


def without_route_limits(config_yaml: str, route: str) -> tuple[str, list[str]]:
    """The config with the route's deployments stripped of ROUTE_LIMITS: at a concurrency above
    the self-hosted in-flight cap or the fallbacks' rpm, the route refuses or overflows by design,
    and a benchmark of the gateway must not count that. Returns the limits removed."""
    config = yaml.safe_load(config_yaml)
    removed = []
    for deployment in config["model_list"]:
        if deployment["model_name"] == route:
            params = deployment["litellm_params"]
            removed += [f"{deployment['model_info']['id']}.{key}={params.pop(key)}" for key in ROUTE_LIMITS if key in params]
    return yaml.safe_dump(config, sort_keys=False), removed


def with_loopback_apis(config_yaml: str, upstream_url: str) -> tuple[str, list[str]]:
    """The config with every literal API root (an `api:` fallback's https host, which the policy
    pack judges and the loopback benchmark cannot reach) pointed at the fake upstream, so an
    overflow at a concurrency above the self-hosted cap is served as it would be, not counted as
    a 500. Managed upstreams (Bedrock, Azure OpenAI) have no literal root and stay unreachable.
    Returns the deployments redirected."""
    config = yaml.safe_load(config_yaml)
    moved = []
    for deployment in config["model_list"]:
        params = deployment["litellm_params"]
        if str(params.get("api_base", "")).startswith("https://"):
            params["api_base"] = upstream_url
            moved.append(str(deployment["model_info"]["id"]))
    return yaml.safe_dump(config, sort_keys=False), moved


def _route(config_yaml: str) -> str:
    return str(yaml.safe_load(config_yaml)["model_list"][0]["model_name"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="scale-aws", help="a Scale stack whose gateway config to run (default scale-aws)")
    parser.add_argument("--requests", type=int, default=300, help="measured requests per path and concurrency (default 300)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--latency-ms", type=float, default=20.0, help="upstream answer delay (default 20)")
    parser.add_argument("--workers", type=int, default=1, help="litellm --num_workers (default 1)")
    parser.add_argument("--cli", action="append", default=[], help="extra litellm CLI argument (repeatable, e.g. --cli=--run_granian)")
    parser.add_argument("--setting", action="append", default=[], help="config.yaml override SECTION.KEY=YAML (repeatable)")
    parser.add_argument("--env", action="append", default=[], help="gateway env override K=V (repeatable); default LITELLM_LOG=ERROR")
    parser.add_argument(
        "--no-route-limits",
        action="store_true",
        help="remove the route's own in-flight cap, rpm, tpm and budget (measure the gateway, not its limits)",
    )
    parser.add_argument(
        "--legacy", action="store_true", help="also run the first version's harness (new connection per direct request, Nagle on the fake)"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the gateway on the way out

    planned = planned_gateway(plan_stack(args.stack))
    config_yaml, filters = without_content_filters(tuned_config(planned.config_yaml, args.setting))
    extra_env = {"LITELLM_LOG": "ERROR", **dict(item.partition("=")[::2] for item in args.env)}
    route = _route(config_yaml)
    removed: list[str] = []
    if args.no_route_limits:
        config_yaml, removed = without_route_limits(config_yaml, route)
    cli = ["--num_workers", str(args.workers), *args.cli]
    upstream = SteadyUpstream(args.latency_ms / 1000)
    config_yaml, redirected = with_loopback_apis(config_yaml, upstream.base_url)
    rows: list[tuple[int, LoadResult, LoadResult]] = []
    legacy_rows: list[tuple[int, LoadResult, LoadResult]] = []
    try:
        with bench_gateway(planned, upstream.base_url, config_yaml, extra_env, cli) as (gateway, key):
            pgid = gateway.process.pid

            def cpu() -> float:
                return group_cpu_seconds(pgid)

            direct = KeepAliveClient(upstream.base_url.removesuffix("/v1"), route, None)
            through = KeepAliveClient(gateway.url, route, key)
            for concurrency in args.concurrency:
                rows.append((concurrency, *interleaved(direct.send, through.send, args.requests, concurrency, cpu)))
        if args.legacy:
            legacy = FakeUpstream("self-hosted", latency_s=args.latency_ms / 1000)
            try:
                with bench_gateway(planned, legacy.base_url, config_yaml, extra_env, cli) as (gateway, key):
                    legacy_direct = legacy.base_url.removesuffix("/v1")
                    for concurrency in args.concurrency:
                        rows_legacy = interleaved(
                            lambda: chat(legacy_direct, route, None)[0],
                            lambda: chat(gateway.url, route, key)[0],
                            args.requests,
                            concurrency,
                            lambda: group_cpu_seconds(gateway.process.pid),
                        )
                        legacy_rows.append((concurrency, *rows_legacy))
            finally:
                legacy.stop()
    finally:
        upstream.stop()

    settings = ", ".join(args.setting) or "as planned"
    print(
        f"stack {args.stack}, route '{route}', {args.requests} requests per path, upstream delay {args.latency_ms:.0f} ms, litellm {' '.join(cli)}, {os.cpu_count()} cores"
    )
    print(
        f"gateway env {', '.join(f'{k}={v}' for k, v in extra_env.items())}; config overrides: {settings}; load average {os.getloadavg()[0]:.2f} at the end"
    )
    print(f"route limits: {'removed (' + ', '.join(removed) + ')' if args.no_route_limits else 'as planned'}")
    if redirected:
        print(f"API fallbacks answered by the fake upstream: {', '.join(redirected)}")
    if filters:
        print(f"content filters left out (they call the cloud's moderation API): {', '.join(filters)}")
    print(
        f"client key: {'the app team key (custom auth)' if APP_KEY_ENV in planned.secret_env else 'the master key'}; shared Redis: {'fakeredis in the benchmark process' if 'REDIS_HOST' in planned.env else 'none'}"
    )
    failed = _table("steady state (kept-alive connections, TCP_NODELAY, interleaved)", rows)
    if legacy_rows:
        failed |= _table("first version's harness (new connection per direct request; fake upstream with Nagle, two writes)", legacy_rows)
    return 1 if failed else 0


def _table(title: str, rows: Sequence[tuple[int, LoadResult, LoadResult]]) -> bool:
    print(f"\n{title}")
    print(f"{'conc':>4} {'path':<8} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>7} {'gw CPU ms/req':>14}")
    failed = False
    for concurrency, direct, through in rows:
        for result in (direct, through):
            cpu = "" if result.cpu_ms_per_request is None else f"{result.cpu_ms_per_request:.1f}"
            print(
                f"{concurrency:>4} {result.label:<8} {result.p50:>8.1f} {result.p99:>8.1f} {result.throughput:>8.1f} {result.errors:>7} {cpu:>14}"
            )
        print(
            f"{concurrency:>4} {'added':<8} {through.p50 - direct.p50:>8.1f} {through.p99 - direct.p99:>8.1f} {'x' + format(through.throughput / direct.throughput, '.2f'):>8}"
        )
        for result in (direct, through):
            if result.errors:
                print(f"{'':>4} {result.label:<8} not 200: {result.error_breakdown()}")
        failed |= bool(direct.errors or through.errors)
    return failed


if __name__ == "__main__":
    sys.exit(main())
