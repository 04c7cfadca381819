"""Run the LLM gateway exactly as a stack deploys it, on this machine: the real LiteLLM proxy
(the pinned PyPI version) started from the config.yaml in the plan's ConfigMap, with the env the
plan's Deployment sets, against fake OpenAI-compatible upstreams on loopback. Used by the
gateway integration tests and `scripts/bench/gateway.py`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from scripts.engine import Plan

MASTER_KEY = "sk-offline-gateway-test"


# --------------------------------------------------------------------------- the plan's gateway


@dataclass
class PlannedGateway:
    config_yaml: str
    env: dict[str, str]  # plain env of the gateway container, as the Deployment sets it
    secret_env: list[str]  # env vars the Deployment fills from the gateway Secret
    files: dict[str, str] = field(default_factory=dict)  # the ConfigMap's other files (beside config.yaml)


def planned_gateway(plan: Plan) -> PlannedGateway:
    """The gateway ConfigMap's config.yaml and the gateway container's env, from a Scale plan."""
    config_maps = [r for r in plan.resources if r.type == "kubernetes:core/v1:ConfigMap" and r.inputs["metadata"]["name"] == "litellm-config"]
    deployments = [r for r in plan.resources if r.type == "kubernetes:apps/v1:Deployment" and r.inputs["metadata"]["name"] == "litellm"]
    if len(config_maps) != 1 or len(deployments) != 1:
        raise ValueError(f"expected one gateway ConfigMap and Deployment in stack {plan.stack}")
    data = dict(config_maps[0].inputs["data"])
    config_yaml = data.pop("config.yaml")
    if not isinstance(config_yaml, str) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError("the gateway config.yaml is not known at preview")
    container = deployments[0].inputs["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    secret_env = [e["name"] for e in container["env"] if "valueFrom" in e]
    return PlannedGateway(config_yaml, env, secret_env, data)


# --------------------------------------------------------------------------- fake upstreams


@dataclass
class FakeUpstream:
    """An OpenAI-compatible chat-completions server. `mode` is "ok", "error" (HTTP 500) or "too-long" (HTTP 400, as vLLM over its context);
    `stop()` takes it down (new connections are refused, kept-alive ones are dropped without an
    answer) until `start()`. Every answered request is recorded (path, model, Authorization header).

    Like a real server (uvicorn/asyncio sets TCP_NODELAY) it answers in one write with Nagle off:
    headers and body in two writes with Nagle on wait for the client's delayed ACK, ~40 ms per
    request on a kept-alive connection, which LiteLLM's pooled client uses. `nagle=True` brings
    that back (for scripts/bench/gateway.py --legacy)."""

    label: str
    latency_s: float = 0.0
    mode: str = "ok"
    usage: tuple[int, int] = (5, 4)  # prompt and completion tokens each answer reports (what LiteLLM prices)
    requests: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False
    nagle: bool = False
    # The answer's text from the request body (default "answer from <label>"); a request with
    # `stream: true` gets it as server-sent events, one word per chunk; /embeddings gets a vector.
    reply: Callable[[Mapping[str, Any]], str] | None = None

    def __post_init__(self) -> None:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = not upstream.nagle  # TCP_NODELAY (socketserver.StreamRequestHandler.setup)

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # /v1/models and health checks
                self._reply(200, {"object": "list", "data": [{"id": upstream.label, "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if upstream.down:
                    self.close_connection = True  # like a crashed server: no answer
                    return
                upstream.requests.append({"path": self.path, "model": body.get("model"), "authorization": self.headers.get("Authorization"), "body": body})
                if upstream.mode == "error":
                    self._reply(500, {"error": {"message": f"{upstream.label} is failing", "type": "server_error"}})
                    return
                if upstream.mode == "too-long":  # vLLM's answer to a prompt longer than --max-model-len
                    self._reply(400, {"error": {"message": "This model's maximum context length is 8192 tokens.", "type": "BadRequestError", "code": 400}})
                    return
                if upstream.latency_s:
                    time.sleep(upstream.latency_s)
                text = upstream.reply(body) if upstream.reply else f"answer from {upstream.label}"
                if self.path.endswith("/embeddings"):
                    inputs = body.get("input")
                    count = len(inputs) if isinstance(inputs, list) else 1
                    data = [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i in range(count)]
                    self._reply(200, {"object": "list", "data": data, "model": body.get("model"), "usage": {"prompt_tokens": upstream.usage[0], "total_tokens": upstream.usage[0]}})
                    return
                if body.get("stream"):
                    self._stream(body, text)
                    return
                self._reply(
                    200,
                    {
                        "id": "chatcmpl-offline",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model") or upstream.label,
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": upstream.usage[0], "completion_tokens": upstream.usage[1], "total_tokens": sum(upstream.usage)},
                    },
                )

            def _stream(self, body: Mapping[str, Any], text: str) -> None:
                words = [w + " " for w in text.split(" ")]
                events = [{"index": 0, "delta": {"role": "assistant", "content": w}, "finish_reason": None} for w in words]
                events.append({"index": 0, "delta": {}, "finish_reason": "stop"})
                frames = b"".join(
                    b"data: " + json.dumps({"id": "chatcmpl-offline", "object": "chat.completion.chunk", "created": int(time.time()), "model": body.get("model") or upstream.label, "choices": [e]}).encode() + b"\n\n"
                    for e in events
                )
                head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\n\r\n"
                data = frames + b"data: [DONE]\n\n"
                self.wfile.write(head.format(len(data)).encode() + data)

            def _reply(self, status: int, payload: Mapping[str, Any]) -> None:
                data = json.dumps(payload).encode()
                head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                if upstream.nagle:  # the first version: headers and body in two writes
                    self.wfile.write(head)
                    self.wfile.write(data)
                else:
                    self.wfile.write(head + data)

        self._handler = Handler
        self.port = 0
        self.start()

    def start(self) -> None:
        """Listen (again, on the same port after `stop()`)."""
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.down = False
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.down = True
        self._server.shutdown()
        self._server.server_close()


# --------------------------------------------------------------------------- the proxy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def litellm_executable() -> str:
    candidate = Path(sys.executable).parent / "litellm"
    found = str(candidate) if candidate.exists() else shutil.which("litellm")
    if not found:
        raise FileNotFoundError("the litellm CLI is not installed: pip install -r requirements-dev.txt")
    return found


@dataclass
class RunningGateway:
    url: str  # http://127.0.0.1:<port>
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


@contextmanager
def run_gateway(config_yaml: str, env: Mapping[str, str], startup_timeout_s: float = 120.0, files: Mapping[str, str] | None = None) -> Iterator[RunningGateway]:
    """Start `litellm --config` on a free loopback port, with `files` beside the config as the
    ConfigMap mounts them; stop it (and its children) on exit."""
    with run_gateways(1, config_yaml, env, startup_timeout_s, files) as (running,):
        yield running


@contextmanager
def run_gateways(
    count: int, config_yaml: str, env: Mapping[str, str], startup_timeout_s: float = 120.0, files: Mapping[str, str] | None = None
) -> Iterator[tuple[RunningGateway, ...]]:
    """`count` gateway processes of one config (replicas sharing the env's Redis), started
    together and awaited together: a proxy spends most of its start importing."""
    launched: list[tuple[RunningGateway, Path]] = []
    try:
        for _ in range(count):
            launched.append(launch_gateway(config_yaml, env, files))
        for running, _ in launched:
            _wait_ready(running, startup_timeout_s)
        yield tuple(running for running, _ in launched)
    finally:
        for running, workdir in launched:
            _stop(running.process)
            shutil.rmtree(workdir, ignore_errors=True)


def launch_gateway(
    config_yaml: str, env: Mapping[str, str], files: Mapping[str, str] | None, cli_args: Sequence[str] = ("--num_workers", "1")
) -> tuple[RunningGateway, Path]:
    """Start (not await) `litellm --config` in a fresh working directory with `files` beside the
    config; returns the gateway and the directory, both the caller's to stop and remove."""
    workdir = Path(tempfile.mkdtemp(prefix="litellm-"))
    config = workdir / "config.yaml"
    config.write_text(config_yaml)
    for name, text in (files or {}).items():
        (workdir / name).write_text(text)
    log_path = workdir / "litellm.log"
    port = free_port()
    process_env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # never fetch the price list
        "LITELLM_TELEMETRY": "False",
        "NO_DOCS": "True",
        "AWS_EC2_METADATA_DISABLED": "true",
        **env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [litellm_executable(), "--config", str(config), "--host", "127.0.0.1", "--port", str(port), *cli_args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=process_env,
            cwd=workdir,
            start_new_session=True,
        )
    return RunningGateway(f"http://127.0.0.1:{port}", process, log_path), workdir


def _wait_ready(gateway: RunningGateway, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise RuntimeError(f"litellm exited with {gateway.process.returncode}:\n{gateway.log()}")
        try:
            with urllib.request.urlopen(f"{gateway.url}/health/liveliness", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"litellm did not become ready within {timeout_s:.0f}s:\n{gateway.log()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    import signal

    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def chat(base_url: str, model: str, key: str | None, timeout_s: float = 60.0, content: str = "hello") -> tuple[int, dict[str, Any]]:
    """POST /v1/chat/completions; returns (status, JSON body)."""
    return post_json(base_url, "/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": 8}, key, timeout_s=timeout_s)


def post_json(
    base_url: str, path: str, body: Mapping[str, Any], key: str | None, headers: Mapping[str, str] | None = None, timeout_s: float = 60.0
) -> tuple[int, dict[str, Any]]:
    """POST a JSON body; returns (status, JSON body), an error's body too ({"raw": text} if not JSON)."""
    request = urllib.request.Request(
        f"{base_url}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {}), **dict(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return exc.code, {"raw": raw.decode(errors="replace")}


def list_models(base_url: str, key: str) -> tuple[int, Any]:
    """GET /v1/models; returns (status, JSON body)."""
    request = urllib.request.Request(f"{base_url}/v1/models", headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def answer_of(body: Mapping[str, Any]) -> str:
    return str(body["choices"][0]["message"]["content"])
