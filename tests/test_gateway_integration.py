"""The real LiteLLM proxy (pinned PyPI version) runs the exact config.yaml, auth module and env the
scale-aws stack deploys, against fake OpenAI-compatible upstreams on loopback and a fake Redis
(fakeredis TcpFakeServer) as the shared state of two gateway processes:
- only the public route names are listed and callable; the app's key is scoped (routes, budget);
- the self-hosted model answers first, overflows to the API when its slots are full and takes the
  traffic back as soon as it has room;
- a dead self-hosted model is skipped within 1 s, and cools down until it recovers;
- each request type (route) reaches its own upstream model;
- rate limits and budgets are enforced, budgets across both processes and a restart, with an
  alert logged before the cut-off.

The stack's Bedrock fallbacks are never reached here (the API fallbacks answer first)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from components.gateway import gateway_files
from scripts.bench.harness import (
    FakeUpstream,
    PlannedGateway,
    RunningGateway,
    answer_of,
    chat,
    free_port,
    list_models,
    planned_gateway,
    post_json,
    run_gateway,
    run_gateways,
)
from scripts.engine import Plan
from stacks.config import ScaleConfig
from tests.conftest import run_cli
from tests.plan_matrix import AWS_CASES, CASE_IDS, CASES, PHASE, SCALE_CASES, case_config, plan_for

# What the custom auth reads of a request: the path (team keys call the model endpoints only).
CHAT_REQUEST = SimpleNamespace(url=SimpleNamespace(path="/v1/chat/completions"))

pytestmark = pytest.mark.timeout(600)
# LiteLLM imported in this process (auth module, cost map) prices from its bundled map, as the
# gateway container does, instead of fetching one.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

MASTER_KEY = "sk-offline-master-key"
TEAM_KEYS = {"app": "sk-offline-app-key", "analytics": "sk-offline-analytics-key"}
METRICS_KEY = "sk-offline-metrics-key"  # Prometheus's (the ServiceMonitor's bearer secret)
API_KEY = "mistral-offline-key"
MISTRAL_API = "https://api.mistral.ai/v1"
STACK_FILE = Path(__file__).resolve().parents[1] / "stacks" / "Pulumi.scale-aws.yaml"
ROUTES = {"chat", "faq", "reasoning", "code", "long-context", "embeddings"}
TEST_COOLDOWN_SECONDS = 6


@dataclass
class Gateways:
    a: RunningGateway
    b: RunningGateway
    start: Callable[[], Any]  # another process with the same config, env and Redis


@pytest.fixture(scope="module")
def gateway_plan(plan_of: Callable[..., Plan]) -> PlannedGateway:
    """The scale-aws gateway as planned, with a short cooldown so recovery is seen in seconds
    (the behaviour is the same at the stack's 30 s; the suite has a time budget)."""
    planned = planned_gateway(plan_of("scale-aws"))
    config = yaml.safe_load(planned.config_yaml)
    assert config["router_settings"]["cooldown_time"] == yaml.safe_load(STACK_FILE.read_text())["config"]["llm-platform:scale"]["gateway"]["cooldownSeconds"]
    config["router_settings"]["cooldown_time"] = TEST_COOLDOWN_SECONDS
    planned.config_yaml = yaml.safe_dump(config, sort_keys=False)
    return planned


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, FakeUpstream]]:
    fakes = {"self-hosted": FakeUpstream("self-hosted"), "mistral": FakeUpstream("mistral")}
    yield fakes
    for fake in fakes.values():
        if not fake.down:
            fake.stop()


class FakeGuardrail:
    """Bedrock's ApplyGuardrail API on loopback: blocks any text containing `blocked_word`, and
    records (source, text) of every call (source INPUT: the prompt, OUTPUT: the answer)."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.blocked_word = "forbidden"
        self.calls: list[tuple[str, str]] = []
        guardrail = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                texts = " ".join(c.get("text", {}).get("text", "") for c in body.get("content", []))
                guardrail.calls.append((body.get("source", ""), texts))
                blocked = guardrail.blocked_word in texts
                answer = {
                    "action": "GUARDRAIL_INTERVENED" if blocked else "NONE",
                    "outputs": [{"text": "Blocked by the platform's content filter."}] if blocked else [],
                    "assessments": [{"contentPolicy": {"filters": [{"type": "VIOLENCE", "confidence": "HIGH", "action": "BLOCKED"}]}}] if blocked else [],
                }
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(scope="module")
def guardrail() -> Iterator[FakeGuardrail]:
    fake = FakeGuardrail()
    yield fake
    fake.server.shutdown()


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    from fakeredis import TcpFakeServer

    port = free_port()
    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port
    server.shutdown()
    server.server_close()


def _env(gateway_plan: PlannedGateway, upstreams: dict[str, FakeUpstream], redis_port: int) -> dict[str, str]:
    env = dict(gateway_plan.env)
    # Exactly the settings the Deployment defines, pointed at the loopback fakes.
    assert {"VLLM_QWEN_7B_BASE", "REDIS_HOST", "REDIS_PORT", "REDIS_SSL"} <= set(env)
    env.update(VLLM_QWEN_7B_BASE=upstreams["self-hosted"].base_url, REDIS_HOST="127.0.0.1", REDIS_PORT=str(redis_port), REDIS_SSL="False")
    secrets = {"LITELLM_MASTER_KEY": MASTER_KEY, "LLM_PLATFORM_METRICS_KEY": METRICS_KEY, "MISTRAL_API_KEY": API_KEY, "REDIS_PASSWORD": "", **{f"LLM_PLATFORM_TEAM_KEY_{t.upper()}": k for t, k in TEAM_KEYS.items()}}
    assert set(gateway_plan.secret_env) == set(secrets)
    env.update(secrets, AWS_ACCESS_KEY_ID="AKIAOFFLINETEST", AWS_SECRET_ACCESS_KEY="offline")
    return env


@pytest.fixture(scope="module")
def gateways(gateway_plan: PlannedGateway, upstreams: dict[str, FakeUpstream], redis_port: int, guardrail: FakeGuardrail) -> Iterator[Gateways]:
    # The API root is a literal in the config (the policy pack judges it): only its host changes.
    assert MISTRAL_API in gateway_plan.config_yaml
    config = yaml.safe_load(gateway_plan.config_yaml.replace(MISTRAL_API, upstreams["mistral"].base_url))
    # The content filter calls the fake ApplyGuardrail API instead of Bedrock's.
    (content_filter,) = config["guardrails"]
    content_filter["litellm_params"]["aws_bedrock_runtime_endpoint"] = guardrail.url
    config = yaml.safe_dump(config, sort_keys=False)
    env = _env(gateway_plan, upstreams, redis_port)

    def start() -> Any:
        return run_gateway(config, env, files=gateway_plan.files)

    with run_gateways(2, config, env, files=gateway_plan.files) as (a, b):
        yield Gateways(a, b, start)


@pytest.fixture(autouse=True)
def healthy(upstreams: dict[str, FakeUpstream], guardrail: FakeGuardrail) -> Iterator[None]:
    guardrail.blocked_word, guardrail.calls[:] = "forbidden", []
    for fake in upstreams.values():
        fake.mode, fake.latency_s, fake.usage = "ok", 0.0, (5, 4)
        if fake.down:
            fake.start()
        fake.requests.clear()
    yield


def _models(fake: FakeUpstream) -> list[str]:
    return [r["model"] for r in fake.requests]


# ------------------------------------------------------------------------------- plan


def test_config_is_one_group_per_route_self_hosted_first(gateway_plan: PlannedGateway) -> None:
    config = yaml.safe_load(gateway_plan.config_yaml)
    chat_levels = [(m["litellm_params"].get("order"), m["litellm_params"]["model"]) for m in config["model_list"] if m["model_name"] == "chat"]
    assert chat_levels == [(1, "hosted_vllm/qwen-7b"), (2, "mistral/mistral-large-latest"), (3, "bedrock/eu.anthropic.claude-sonnet-4-6")]
    assert {m["model_name"] for m in config["model_list"]} == ROUTES
    assert "fallbacks" not in config["router_settings"]
    assert config["general_settings"]["custom_auth"] == "llm_platform_auth.user_api_key_auth"
    assert set(gateway_plan.files) == {"llm_platform_auth.py"}


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_the_app_gets_its_team_key_not_the_master_key(case_id: str) -> None:
    plan = plan_for(case_id)
    (external,) = [r for r in plan.resources if r.type == "kubernetes:external-secrets.io/v1:ExternalSecret" and r.inputs["metadata"]["name"] == "gateway-secrets"]
    synced = {d["secretKey"]: d["remoteRef"]["key"] for d in external.inputs["spec"]["data"]}
    app_keys = set()
    for task in (r for r in plan.resources if r.type == "aws:ecs/taskDefinition:TaskDefinition"):
        for container in json.loads(task.inputs["containerDefinitions"]):
            secrets = {s["name"]: s["valueFrom"] for s in container.get("secrets", [])}
            assert not any("gateway-master-key" in v for v in secrets.values()), (task.name, container["name"])
            if "LLM_GATEWAY_KEY" in secrets:
                app_keys.add(secrets["LLM_GATEWAY_KEY"])
    for app in (r for r in plan.resources if r.type == "azure-native:app:ContainerApp"):
        for container in app.inputs["template"]["containers"]:
            refs = {e["name"]: e.get("secretRef") for e in container.get("env", [])}
            if "LLM_GATEWAY_KEY" in refs:
                # The Key Vault secret of the same name is the one the gateway syncs as team `app`.
                app_keys.add(refs["LLM_GATEWAY_KEY"])
    # The app's key is the one the gateway knows as team `app`, never the master key (Dify reads
    # no gateway env: its operators enter the team key in its OpenAI-compatible provider).
    flowise = case_config(CASES[case_id])["config"]["llm-platform:poc"]["app"]["kind"] == "flowise"
    assert app_keys == ({synced["LLM_PLATFORM_TEAM_KEY_APP"]} if flowise else set()), (app_keys, synced)
    assert synced["LLM_PLATFORM_TEAM_KEY_APP"] != synced["LITELLM_MASTER_KEY"]


# ------------------------------------------------------------------------------- names and keys


def test_only_public_aliases_are_listed_and_callable(gateways: Gateways, upstreams: dict[str, FakeUpstream]) -> None:
    for key in (MASTER_KEY, TEAM_KEYS["app"]):
        status, body = list_models(gateways.a.url, key)
        assert status == 200, body
        assert {m["id"] for m in body["data"]} == ROUTES
    status, body = list_models(gateways.a.url, TEAM_KEYS["analytics"])
    assert {m["id"] for m in body["data"]} == {"faq", "code"}
    for internal in ("chat--fallback-1", "hosted_vllm/qwen-7b", "mistral/mistral-large-latest", "chat/api-mistral-mistral-large-latest"):
        status, body = chat(gateways.a.url, internal, TEAM_KEYS["app"])
        assert status in (400, 401, 403, 404), (internal, body)
    assert not upstreams["self-hosted"].requests and not upstreams["mistral"].requests


def test_team_keys_are_scoped_and_other_keys_refused(gateways: Gateways, upstreams: dict[str, FakeUpstream]) -> None:
    status, body = chat(gateways.a.url, "chat", TEAM_KEYS["app"])
    assert status == 200 and answer_of(body) == "answer from self-hosted", body
    status, body = chat(gateways.a.url, "chat", TEAM_KEYS["analytics"])
    assert status == 403 and "key_model_access_denied" in str(body), body
    for key in (None, "sk-not-a-key", TEAM_KEYS["app"] + "x"):
        status, body = chat(gateways.a.url, "faq", key)
        assert status == 401, body
    assert _models(upstreams["self-hosted"]) == ["qwen-7b"] and not upstreams["mistral"].requests


def _get(url: str, key: str | None) -> int:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_prometheus_reads_metrics_with_its_key_only(gateways: Gateways, upstreams: dict[str, FakeUpstream]) -> None:
    # The key the ServiceMonitor sends (tests/test_scale_ops.py checks the wiring in every plan).
    assert _get(f"{gateways.a.url}/metrics", METRICS_KEY) == 200
    for key in (None, "sk-not-a-key", TEAM_KEYS["app"]):
        assert _get(f"{gateways.a.url}/metrics", key) == 401, key
    # The metrics key is no model key, nor an admin's.
    status, body = chat(gateways.a.url, "faq", METRICS_KEY)
    assert status == 401, body
    assert _get(f"{gateways.a.url}/v1/models", METRICS_KEY) == 401
    assert not upstreams["self-hosted"].requests and not upstreams["mistral"].requests


# ------------------------------------------------------------------------------- live load


def _concurrently(url: str, model: str, key: str, n: int) -> list[tuple[int, dict[str, Any]]]:
    results: list[tuple[int, dict[str, Any]]] = []
    threads = [threading.Thread(target=lambda: results.append(chat(url, model, key))) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_saturated_self_hosted_overflows_then_takes_traffic_back(gateways: Gateways, upstreams: dict[str, FakeUpstream]) -> None:
    # The faq route's share of the model's slots in one gateway pod (stacks.scale.self_hosted_caps).
    config = yaml.safe_load(gateways.a.log_path.parent.joinpath("config.yaml").read_text())
    (slots,) = [m["litellm_params"]["max_parallel_requests"] for m in config["model_list"] if m["model_info"]["id"] == "faq/vllm-qwen-7b"]
    upstreams["self-hosted"].latency_s = 1.5
    results = _concurrently(gateways.a.url, "faq", TEAM_KEYS["app"], slots + 2)
    answers = sorted(answer_of(body) for status, body in results if status == 200)
    assert answers == ["answer from mistral"] * 2 + ["answer from self-hosted"] * slots, results
    assert _models(upstreams["mistral"]) == ["mistral-small-latest"] * 2
    # Room again: the next request is the self-hosted model's (no cooldown from saturation).
    upstreams["self-hosted"].latency_s = 0.0
    status, body = chat(gateways.a.url, "faq", TEAM_KEYS["app"])
    assert status == 200 and answer_of(body) == "answer from self-hosted", body


def test_dead_self_hosted_is_skipped_within_a_second_per_request_type(gateways: Gateways, upstreams: dict[str, FakeUpstream]) -> None:
    upstreams["self-hosted"].mode = "error"
    expected = {"chat": "mistral-large-latest", "faq": "mistral-small-latest", "code": "codestral-latest"}
    elapsed: list[tuple[str, float]] = []
    for _ in range(3):
        for route, model in expected.items():
            started = time.monotonic()
            status, body = chat(gateways.a.url, route, TEAM_KEYS["app"])
            elapsed.append((route, round(time.monotonic() - started, 3)))
            assert status == 200 and answer_of(body) == "answer from mistral", (route, body)
            assert upstreams["mistral"].requests[-1]["model"] == model
            assert upstreams["mistral"].requests[-1]["authorization"] == f"Bearer {API_KEY}"
    # Each request, the failing attempt included, is answered by the fallback within 1 s (measured
    # 2026-11-30 on 2 shared cores: 0.58 s for the first, with LiteLLM's first call to the provider,
    # then 0.14-0.20 s; the fakes answer in one write with TCP_NODELAY, no delayed-ACK wait).
    assert max(t for _, t in elapsed) < 1.0, elapsed
    # The cooldown tripped (allowed_fails 1: on the second failure) and is shared: the other
    # process skips the failing model too.
    assert len(upstreams["self-hosted"].requests) == 2 * len(expected), _models(upstreams["self-hosted"])
    status, body = chat(gateways.b.url, "chat", TEAM_KEYS["app"])
    assert status == 200 and answer_of(body) == "answer from mistral"
    assert len(upstreams["self-hosted"].requests) == 2 * len(expected)


def test_rate_limit_of_an_api_upstream_is_enforced(gateways: Gateways, upstreams: dict[str, FakeUpstream]) -> None:
    config = yaml.safe_load(gateways.a.log_path.parent.joinpath("config.yaml").read_text())
    (rpm,) = [m["litellm_params"]["rpm"] for m in config["model_list"] if m["model_info"]["id"] == "code/api-mistral-codestral-latest"]
    if time.gmtime().tm_sec > 52:  # LiteLLM counts per clock minute: the burst (about 2 s) stays within one
        time.sleep(61 - time.gmtime().tm_sec)
    upstreams["self-hosted"].stop()  # (also cooling down since the previous test)
    statuses = [chat(gateways.a.url, "code", TEAM_KEYS["app"])[0] for _ in range(rpm + 3)]
    served = len(_models(upstreams["mistral"]))
    # Requests of the previous test this minute count too: never more than rpm in the minute.
    assert served <= rpm and statuses.count(429) >= 3, statuses
    assert statuses[-1] == 429


def test_a_client_cannot_switch_spend_counting_off(gateways: Gateways, upstreams: dict[str, FakeUpstream], redis_port: int) -> None:
    """`"no-log": true` in a request would skip LiteLLM's success callbacks, the team spend
    tracker and the deployment budgets among them: the gateway counts the answer anyway, and to
    the key's own team whatever the request's metadata says."""
    import redis

    upstreams["self-hosted"].stop()  # the chat route's priced Mistral fallback answers
    store = redis.Redis(host="127.0.0.1", port=redis_port)
    key = f"llm-platform:spend:team:app:{time.strftime('%Y-%m', time.gmtime())}"
    before = float(store.get(key) or 0.0)
    other = key.replace(":app:", ":analytics:")
    other_before = float(store.get(other) or 0.0)
    # ... nor charge it to another team by naming that team in its metadata.
    metadata = {"user_api_key_team_id": "analytics", "user_api_key_team_alias": "analytics"}
    body = {"model": "chat", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8, "no-log": True, "metadata": metadata}
    status, answer = post_json(gateways.a.url, "/v1/chat/completions", body, TEAM_KEYS["app"], headers={"x-litellm-disable-callbacks": "llm_platform_auth"})
    assert status == 200, answer
    assert _models(upstreams["mistral"]) == ["mistral-large-latest"]
    deadline = time.monotonic() + 5
    while float(store.get(key) or 0.0) <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert float(store.get(key) or 0.0) > before, "the team's spend was not counted"
    assert float(store.get(other) or 0.0) == other_before, "the spend was charged to the team the client named"


@pytest.mark.parametrize(
    "hostile",
    [
        {"api_base": "{fake}"},
        {"base_url": "{fake}"},
        {"user_config": {"model_list": [{"model_name": "chat", "litellm_params": {"model": "openai/stolen", "api_base": "{fake}", "api_key": "os.environ/MISTRAL_API_KEY"}}]}},
    ],
    ids=["api_base", "base_url", "user_config"],
)
def test_a_client_cannot_redirect_a_route_to_its_own_host(gateways: Gateways, upstreams: dict[str, FakeUpstream], hostile: dict[str, Any]) -> None:
    """Request-body overrides of where a route goes (and with which of the gateway's keys) are
    refused: they would send prompts, and the provider key, to a host the pack never judged."""
    import json

    thief = FakeUpstream("thief")
    try:
        extra = json.loads(json.dumps(hostile).replace("{fake}", thief.base_url))
        body = {"model": "chat", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8, **extra}
        status, _ = post_json(gateways.a.url, "/v1/chat/completions", body, TEAM_KEYS["app"])
        assert thief.requests == [], f"{list(hostile)} reached the client's host (status {status})"
        assert status >= 400, status
    finally:
        thief.stop()


def test_recovered_self_hosted_takes_traffic_back_after_the_cooldown(gateways: Gateways, upstreams: dict[str, FakeUpstream]) -> None:
    deadline = time.monotonic() + TEST_COOLDOWN_SECONDS + 15
    while time.monotonic() < deadline:
        status, body = chat(gateways.a.url, "chat", TEAM_KEYS["app"])
        if status == 200 and answer_of(body) == "answer from self-hosted":
            break
        time.sleep(1)
    else:
        pytest.fail("the recovered self-hosted model never got traffic back")
    status, body = chat(gateways.b.url, "chat", TEAM_KEYS["app"])
    assert status == 200 and answer_of(body) == "answer from self-hosted"


# ------------------------------------------------------------------------------- content filter


def test_prompts_and_answers_of_self_hosted_routes_are_filtered(gateways: Gateways, upstreams: dict[str, FakeUpstream], guardrail: FakeGuardrail) -> None:
    status, body = chat(gateways.a.url, "faq", TEAM_KEYS["app"], content="hello")
    assert status == 200 and answer_of(body) == "answer from self-hosted", body
    assert [source for source, _ in guardrail.calls] == ["INPUT", "OUTPUT"], guardrail.calls
    # A blocked prompt never reaches a model.
    status, body = chat(gateways.a.url, "faq", TEAM_KEYS["app"], content="something forbidden")
    assert status == 400, body
    assert len(upstreams["self-hosted"].requests) == 1 and not upstreams["mistral"].requests
    # A blocked answer is not returned.
    guardrail.blocked_word = "answer from self-hosted"
    status, body = chat(gateways.a.url, "faq", TEAM_KEYS["app"], content="hello again")
    assert status == 400 and "answer from self-hosted" not in str(body), body


# ------------------------------------------------------------------------------- budgets


def _cost_usage(model: str, usd: float) -> tuple[int, int]:
    """Completion tokens that LiteLLM prices at `usd` for `model`."""
    import os

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # the bundled price list, as the gateway uses
    import litellm

    _, per_token = litellm.cost_per_token(model=model, prompt_tokens=0, completion_tokens=1)
    return 0, int(usd / per_token) + 1


def _route_budget(gateway_plan: PlannedGateway, upstream_id: str) -> float:
    config = yaml.safe_load(gateway_plan.config_yaml)
    (budget,) = [m["litellm_params"]["max_budget"] for m in config["model_list"] if m["model_info"]["id"] == upstream_id]
    return float(budget)


def test_budgets_are_shared_by_replicas_kept_across_restarts_and_alerted(gateways: Gateways, gateway_plan: PlannedGateway, upstreams: dict[str, FakeUpstream]) -> None:
    import json

    upstreams["self-hosted"].stop()
    mistral = upstreams["mistral"]
    # The faq route's API upstream: each answer costs 45% of its monthly budget.
    budget = _route_budget(gateway_plan, "faq/api-mistral-mistral-small-latest")
    mistral.usage = _cost_usage("mistral/mistral-small-latest", 0.45 * budget)
    statuses: list[int] = []
    while len(statuses) < 5 and 429 not in statuses:
        statuses.append(chat(gateways.a.url, "faq", TEAM_KEYS["app"])[0])
        time.sleep(0.3)  # the spend is counted by a callback after the answer
    # Refused once spend >= budget; the callback counts after the answer, so on a loaded machine
    # one more answer may start before the third one's spend is counted.
    assert statuses[:3] == [200, 200, 200] and statuses[-1] == 429, statuses
    time.sleep(2)  # the router writes spend to Redis about every second
    served = len(mistral.requests)
    status, body = chat(gateways.b.url, "faq", TEAM_KEYS["app"])
    assert status == 429 and "budget" in str(body), body
    # The analytics team: 2% of llm-platform:budget a month; one code answer costs more.
    team_budget = json.loads(gateway_plan.env["LLM_PLATFORM_TEAMS"])["analytics"]["monthly_budget_usd"]
    mistral.usage = _cost_usage("mistral/codestral-latest", 1.2 * team_budget)
    # (on B: A's per-replica rpm for codestral may be used up this minute by the test before)
    status, body = chat(gateways.b.url, "code", TEAM_KEYS["analytics"])
    assert status == 200, body
    time.sleep(0.5)
    status, body = chat(gateways.a.url, "code", TEAM_KEYS["analytics"])
    assert status == 429 and "budget_exceeded" in str(body), body
    logs = gateways.a.log_path.read_text(errors="replace") + gateways.b.log_path.read_text(errors="replace")
    assert "LLM_PLATFORM_BUDGET_ALERT team=analytics percent=80" in logs
    served = len(mistral.requests)
    # A restarted process (a roll) keeps both cuts: nothing reaches the API.
    with gateways.start() as c:
        assert chat(c.url, "faq", TEAM_KEYS["app"])[0] == 429
        status, body = chat(c.url, "code", TEAM_KEYS["analytics"])
        assert status == 429 and "budget_exceeded" in str(body), body
    assert len(mistral.requests) == served


# ------------------------------------------------------------------------------- every Scale plan


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_every_scale_gateway_serves_public_routes_self_hosted_first_with_scoped_keys(case_id: str) -> None:
    plan = plan_for(case_id)
    gateway = planned_gateway(plan)
    config = yaml.safe_load(gateway.config_yaml)
    scale = ScaleConfig.model_validate(case_config(CASES[case_id])["config"]["llm-platform:scale"])
    routes = {r.name: r for r in scale.routes}
    # One group per route, nothing else to list or call.
    assert {m["model_name"] for m in config["model_list"]} == set(routes)
    assert "fallbacks" not in config["router_settings"]
    for name, route in routes.items():
        levels = [(m["litellm_params"].get("order", 1), m["model_info"]["platform_tier"], m["litellm_params"]) for m in config["model_list"] if m["model_name"] == name]
        assert len(levels) == len(route.self_hosted) + len(route.fallback_refs)
        for order, tier, params in levels:
            assert (tier == "self-hosted") == (order == 1 and bool(route.self_hosted)), (name, order, tier)
            if tier == "self-hosted":
                assert params["max_parallel_requests"] >= 1 and params["stream_timeout"] <= 60, (name, params)
    assert config["router_settings"]["enable_pre_call_checks"] is True
    assert config["router_settings"]["num_retries"] == scale.gateway.num_retries
    # Scoped keys and shared state.
    assert config["general_settings"]["custom_auth"] == "llm_platform_auth.user_api_key_auth"
    assert config["general_settings"]["custom_auth_run_common_checks"] is True
    assert config["litellm_settings"]["enable_post_custom_auth_checks"] is True
    assert "llm_platform_auth.spend_tracker" in config["litellm_settings"]["callbacks"]
    # The guard module ships only where the stack has a content filter (no roll elsewhere).
    assert set(gateway.files) == {"llm_platform_auth.py", *(["llm_platform_guard.py"] if scale.content_filter else [])}
    assert {"REDIS_HOST", "REDIS_PORT", "REDIS_SSL"} <= set(gateway.env) and gateway.env["REDIS_SSL"] == "True"
    assert {"REDIS_PASSWORD", "LITELLM_MASTER_KEY"} | {f"LLM_PLATFORM_TEAM_KEY_{t.name.upper().replace('-', '_')}" for t in scale.gateway.teams} <= set(gateway.secret_env)
    teams = json.loads(gateway.env["LLM_PLATFORM_TEAMS"])
    assert set(teams) == {t.name for t in scale.gateway.teams}
    # Content filter on prompts and answers of every route where the cloud offers one.
    config_of_case = case_config(CASES[case_id])["config"]
    if config_of_case["llm-platform:cloud"] == "aws" and (config_of_case["llm-platform:beta"] or {}).get("bedrock"):
        (params,) = [g["litellm_params"] for g in config["guardrails"] if g["litellm_params"]["guardrail"] == "bedrock"]
        assert params["guardrail"] == "bedrock" and params["default_on"] is True and set(params["mode"]) == {"pre_call", "post_call"}
    if scale.content_filter is not None:
        (guard,) = [g["litellm_params"] for g in config["guardrails"] if g["litellm_params"]["guardrail"] == "llm_platform_guard.SelfHostedGuard"]
        assert guard["default_on"] is True and guard["guard_model"] == scale.content_filter.model
    assert all(set(t["models"]) <= set(routes) for t in teams.values())


BAD_GATEWAY_CONFIGS: list[tuple[str, str, dict[str, Any], str]] = [
    ("team-route-unknown", "scale-aws", {"llm-platform:scale": {"gateway": {"teams": [{"name": "app"}, {"name": "batch", "routes": ["nope"]}]}}}, "llm-platform:scale.gateway.teams[1].routes[0]"),
    ("no-app-team", "scale-aws", {"llm-platform:scale": {"gateway": {"teams": [{"name": "batch"}]}}}, "llm-platform:scale.gateway.teams"),
    ("budget-currency-without-rate", "scale-azure", {"llm-platform:budget": {"currency": "GBP"}}, "llm-platform:budget.currency"),
    ("budget-duration-weeks", "scale-aws", {"llm-platform:scale": {"routes": [{"name": "chat", "selfHosted": ["qwen-7b"], "maxBudget": 5, "budgetDuration": "1w"}]}}, "llm-platform:scale.routes[0].budgetDuration"),
    ("unknown-route-kind", "scale-aws", {"llm-platform:scale": {"routes": [{"name": "chat", "selfHosted": ["qwen-7b"], "kind": "vision"}]}}, "llm-platform:scale.routes[0].kind"),
]


@pytest.mark.parametrize(("case", "base", "override", "key"), BAD_GATEWAY_CONFIGS, ids=[c[0] for c in BAD_GATEWAY_CONFIGS])
def test_bad_gateway_config_exits_2_naming_the_key(case: str, base: str, override: dict[str, Any], key: str, make_variant: Callable[..., Path]) -> None:
    if case != "team-route-unknown" and case != "no-app-team" and case != "budget-currency-without-rate":
        override = {"llm-platform:scale": {**override["llm-platform:scale"], "gateway": {"teams": [{"name": "app"}]}}}
    result = run_cli("plan", str(make_variant(base, f"bad-gateway-{case}", override)))
    assert result.returncode == 2, result.stdout + result.stderr
    message = result.stderr.strip()
    assert key in message and "\n" not in message and "Traceback" not in message, message


# ------------------------------------------------------------------------------- Beta gateways

BETA_CASES = tuple(c for c in CASE_IDS if PHASE[c] == "beta")
GATEWAY_CONTAINER = "litellm"


@dataclass
class PlannedContainer:
    resource: str
    name: str
    env: dict[str, str]  # plain values
    secrets: dict[str, str]  # env var -> secret reference (AWS: valueFrom ARN; Azure: Key Vault secret name)
    command: list[str]


def _containers(plan: Plan) -> list[PlannedContainer]:
    """Every container of the plan's ECS task definitions and Container Apps."""
    out = []
    for task in (r for r in plan.resources if r.type == "aws:ecs/taskDefinition:TaskDefinition"):
        for c in json.loads(task.inputs["containerDefinitions"]):
            env = {e["name"]: e["value"] for e in c.get("environment", [])}
            out.append(PlannedContainer(task.name, c["name"], env, {s["name"]: s["valueFrom"] for s in c.get("secrets", [])}, [*c.get("entryPoint", []), *c.get("command", [])]))
    for app in (r for r in plan.resources if r.type == "azure-native:app:ContainerApp"):
        for c in app.inputs["template"]["containers"]:
            env = {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}
            secrets = {e["name"]: e["secretRef"] for e in c.get("env", []) if e.get("secretRef")}
            out.append(PlannedContainer(app.name, c["name"], env, secrets, [*c.get("command", []), *c.get("args", [])]))
    return out


@pytest.mark.parametrize("case_id", BETA_CASES)
def test_beta_only_the_gateway_holds_the_master_key_and_the_app_calls_with_its_team_key(case_id: str) -> None:
    containers = _containers(plan_for(case_id))
    master = {(c.resource, c.name, env) for c in containers for env, ref in c.secrets.items() if MASTER_KEY_SECRET in ref}
    gateways = [c for c in containers if c.name == GATEWAY_CONTAINER]
    assert master == {(g.resource, g.name, "LITELLM_MASTER_KEY") for g in gateways}, master
    app_keys = {c.secrets["LLM_GATEWAY_KEY"] for c in containers if "LLM_GATEWAY_KEY" in c.secrets}
    flowise = case_config(CASES[case_id])["config"]["llm-platform:poc"]["app"]["kind"] == "flowise"
    if not gateways:
        assert not app_keys
        return
    (gateway,) = gateways
    # The gateway knows the app's key as team `app` (the same secret, the name Scale keeps).
    team_key = gateway.secrets["LLM_PLATFORM_TEAM_KEY_APP"]
    assert APP_KEY_SECRET in team_key
    assert app_keys == ({team_key} if flowise else set()), app_keys
    # Custom auth scoped to the Beta routes, shipped beside the config; no Redis in Beta.
    config = yaml.safe_load(gateway.env["LITELLM_CONFIG"])
    assert config["general_settings"]["custom_auth"] == "llm_platform_auth.user_api_key_auth"
    assert config["litellm_settings"]["enable_post_custom_auth_checks"] is True
    assert "coordination_redis" not in config["general_settings"] and "redis_host" not in config["router_settings"]
    teams = json.loads(gateway.env["LLM_PLATFORM_TEAMS"])
    assert teams == {"app": {"models": sorted({m["model_name"] for m in config["model_list"]}, key=[m["model_name"] for m in config["model_list"]].index), "monthly_budget_usd": None}}
    assert gateway.env["LLM_PLATFORM_AUTH_MODULE"] == gateway_files()["llm_platform_auth.py"]
    assert "/tmp/llm_platform_auth.py" in " ".join(gateway.command)


MASTER_KEY_SECRET = "gateway-master-key"
APP_KEY_SECRET = "gateway-team-key-app"
BETA_GATEWAY_CASE = "beta-aws-sagemaker-us"  # SageMaker and an OpenAI API model
OPENAI_API = "https://api.openai.com/v1"


def test_beta_gateway_without_redis_accepts_the_team_key_for_beta_routes_only() -> None:
    """The Beta gateway as the plan runs it (config, auth module, env; no REDIS_*), real proxy."""
    (gateway,) = [c for c in _containers(plan_for(BETA_GATEWAY_CASE)) if c.name == GATEWAY_CONTAINER]
    assert not {"REDIS_HOST", "REDIS_PORT"} & set(gateway.env)
    openai = FakeUpstream("openai")
    env = {k: v for k, v in gateway.env.items() if k not in ("LITELLM_CONFIG", "LLM_PLATFORM_AUTH_MODULE")}
    secrets = {"LITELLM_MASTER_KEY": MASTER_KEY, "LLM_PLATFORM_TEAM_KEY_APP": TEAM_KEYS["app"], "OPENAI_API_KEY": "sk-openai-offline"}
    assert set(gateway.secrets) == set(secrets)
    env.update(secrets, AWS_ACCESS_KEY_ID="AKIAOFFLINETEST", AWS_SECRET_ACCESS_KEY="offline")
    assert OPENAI_API in gateway.env["LITELLM_CONFIG"]
    config_yaml = gateway.env["LITELLM_CONFIG"].replace(OPENAI_API, openai.base_url)
    try:
        with run_gateway(config_yaml, env, files={"llm_platform_auth.py": gateway.env["LLM_PLATFORM_AUTH_MODULE"]}) as running:
            status, body = chat(running.url, "chat", TEAM_KEYS["app"])
            assert status == 200 and answer_of(body) == "answer from openai", body
            assert openai.requests[-1]["authorization"] == "Bearer sk-openai-offline"
            status, body = list_models(running.url, TEAM_KEYS["app"])
            assert status == 200 and {m["id"] for m in body["data"]} == {"qwen", "chat"}, body
            for key in (None, "sk-not-a-key", MASTER_KEY + "x"):
                status, body = chat(running.url, "chat", key)
                assert status == 401, body
            status, body = chat(running.url, "gpt-4o", TEAM_KEYS["app"])
            assert status in (400, 401, 403, 404), body
            assert len(openai.requests) == 1
            assert "LLM_PLATFORM_BUDGET_UNAVAILABLE" not in running.log() and "LLM_PLATFORM_SPEND_NOT_RECORDED" not in running.log()
    finally:
        openai.stop()


def test_team_budget_without_redis_is_counted_in_the_process_not_refused(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """No REDIS_HOST (Beta): a budgeted team is served and cut at its budget by the process's own
    counters, with a warning at start; never a 503 for a store that does not exist."""
    import asyncio
    import importlib.util

    from litellm.proxy._types import ProxyException

    for name in ("REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLM_PLATFORM_TEAMS", json.dumps({"app": {"models": ["chat"], "monthly_budget_usd": 1.0}}))
    monkeypatch.setenv("LLM_PLATFORM_TEAM_KEY_APP", TEAM_KEYS["app"])
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    spec = importlib.util.spec_from_file_location("llm_platform_auth_local", Path(__file__).resolve().parents[1] / "components" / "gateway_auth.py")
    assert spec is not None and spec.loader is not None
    auth = importlib.util.module_from_spec(spec)
    with caplog.at_level("WARNING"):
        spec.loader.exec_module(auth)
    assert "LLM_PLATFORM_BUDGET_LOCAL" in caplog.text

    async def scenario() -> None:
        key = await auth.user_api_key_auth(CHAT_REQUEST, TEAM_KEYS["app"])
        assert key.team_id == "app" and key.models == ["chat"]
        event = {"standard_logging_object": {"response_cost": 0.6, "metadata": {"user_api_key_team_id": "app"}, "model_id": "chat/api"}}
        await auth.spend_tracker.async_log_success_event(event, None, None, None)
        await auth.user_api_key_auth(CHAT_REQUEST, TEAM_KEYS["app"])  # 0.6 of 1.0: still served
        await auth.spend_tracker.async_log_success_event(event, None, None, None)
        with pytest.raises(ProxyException) as refused:
            await auth.user_api_key_auth(CHAT_REQUEST, TEAM_KEYS["app"])
        assert refused.value.code == "429" and refused.value.type == "budget_exceeded"

    asyncio.run(scenario())


# ------------------------------------------------------------------------------- instance-billed upstreams

INSTANCE_BILLED = ("hosted_vllm/", "sagemaker/", "sagemaker_chat/")
SAGEMAKER_CASES = tuple(c for c in AWS_CASES if (case_config(CASES[c])["config"].get("llm-platform:beta") or {}).get("sagemaker"))


def _gateway_configs(plan: Plan) -> list[dict[str, Any]]:
    """Every gateway config.yaml of a plan: Beta's in the gateway container, Scale's in its ConfigMap."""
    configs = [yaml.safe_load(c.env["LITELLM_CONFIG"]) for c in _containers(plan) if c.name == GATEWAY_CONTAINER]
    configs += [yaml.safe_load(r.inputs["data"]["config.yaml"]) for r in plan.resources if r.type == "kubernetes:core/v1:ConfigMap" and r.inputs["metadata"]["name"] == "litellm-config"]
    return configs


@pytest.mark.parametrize("case_id", SAGEMAKER_CASES)
def test_sagemaker_upstreams_time_out_within_invoke_endpoint_limit(case_id: str) -> None:
    """InvokeEndpoint answers within 60 s or fails (API reference): a longer gateway timeout only
    delays the failover."""
    deployments = [m["litellm_params"] for config in _gateway_configs(plan_for(case_id)) for m in config["model_list"] if m["litellm_params"]["model"].startswith("sagemaker")]
    assert deployments, case_id
    for params in deployments:
        assert 0 < params["timeout"] <= 60 and 0 < params["stream_timeout"] <= 60, params


@pytest.mark.parametrize("case_id", [c for c in CASE_IDS if PHASE[c] in ("beta", "scale")])
def test_budgets_only_on_upstreams_litellm_prices(case_id: str) -> None:
    """A max_budget on an instance-billed upstream never trips (LiteLLM prices its answers at 0)."""
    for config in _gateway_configs(plan_for(case_id)):
        for m in config["model_list"]:
            params = m["litellm_params"]
            if params["model"].startswith(INSTANCE_BILLED):
                assert "max_budget" not in params, (m["model_info"]["id"], params)


def test_litellm_prices_instance_billed_upstreams_at_zero() -> None:
    """Why they get no budget: LiteLLM 1.108.6 has no per-token price for them."""
    import litellm

    for model in ("hosted_vllm/qwen-7b", "sagemaker_chat/llm-beta-qwen"):
        with pytest.raises(Exception, match=r"isn't mapped"):
            litellm.get_model_info(model)


def test_route_budget_on_unpriced_upstreams_only_is_warned() -> None:
    from stacks.config import RouteConfig
    from stacks.scale import unpriced_budget_warning

    unpriced = RouteConfig.model_validate({"name": "chat", "selfHosted": ["qwen-7b"], "fallbacks": ["sagemaker:qwen"], "maxBudget": 500})
    message = unpriced_budget_warning(unpriced)
    assert message is not None and "maxBudget" in message and "'chat'" in message and "llm-platform:budget" in message
    priced = RouteConfig.model_validate({"name": "chat", "selfHosted": ["qwen-7b"], "fallbacks": ["sagemaker:qwen", "api:dashscope/qwen-plus"], "maxBudget": 500})
    assert unpriced_budget_warning(priced) is None
    assert unpriced_budget_warning(RouteConfig.model_validate({"name": "chat", "fallbacks": ["sagemaker:qwen"]})) is None


def test_plan_warns_of_a_route_budget_no_upstream_can_spend(make_variant: Callable[..., Path]) -> None:
    routes = [{"name": "chat", "selfHosted": ["qwen-7b"], "fallbacks": ["sagemaker:qwen"], "maxBudget": 500, "budgetDuration": "30d"}]
    result = run_cli("plan", str(make_variant("scale-aws-cn", "unpriced-budget", {"llm-platform:scale": {"routes": routes}})))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "llm-platform:scale.routes 'chat' maxBudget 500 limits nothing" in result.stdout + result.stderr


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_example_gateways_fail_over_without_retries(case_id: str) -> None:
    """A retry goes back to the failing order level after a backoff; the next level is the retry."""
    (config,) = _gateway_configs(plan_for(case_id))
    assert config["router_settings"]["num_retries"] == 0
