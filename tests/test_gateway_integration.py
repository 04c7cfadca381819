"""The real LiteLLM proxy (pinned PyPI version) runs the exact config.yaml and env the scale-aws
stack deploys, against fake OpenAI-compatible upstreams on loopback: the self-hosted model
answers first, errors and outages fall back to the API upstream, and unauthenticated requests and
unknown models are refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import yaml

from scripts.engine import Plan
from scripts.gateway_harness import MASTER_KEY, FakeUpstream, PlannedGateway, RunningGateway, answer_of, chat, planned_gateway, run_gateway

pytestmark = pytest.mark.timeout(300)

API_KEY = "mistral-offline-key"


@pytest.fixture(scope="module")
def gateway_plan(plan_of: Callable[..., Plan]) -> PlannedGateway:
    return planned_gateway(plan_of("scale-aws"))


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, FakeUpstream]]:
    fakes = {"self-hosted": FakeUpstream("self-hosted"), "mistral": FakeUpstream("mistral")}
    yield fakes
    for fake in fakes.values():
        if not fake.down:
            fake.stop()


@pytest.fixture(scope="module")
def gateway(gateway_plan: PlannedGateway, upstreams: dict[str, FakeUpstream]) -> Iterator[RunningGateway]:
    env = dict(gateway_plan.env)
    # Point exactly the upstream settings the Deployment defines at the loopback fakes.
    assert {"VLLM_QWEN_7B_BASE", "MISTRAL_API_BASE"} <= set(env)
    env["VLLM_QWEN_7B_BASE"] = upstreams["self-hosted"].base_url
    env["MISTRAL_API_BASE"] = upstreams["mistral"].base_url
    secrets = {"LITELLM_MASTER_KEY": MASTER_KEY, "MISTRAL_API_KEY": API_KEY}
    assert set(gateway_plan.secret_env) == set(secrets)
    # Bedrock (the last fallback) is never reached here; fake credentials keep boto3 offline.
    env.update(secrets, AWS_ACCESS_KEY_ID="AKIAOFFLINETEST", AWS_SECRET_ACCESS_KEY="offline")
    with run_gateway(gateway_plan.config_yaml, env) as running:
        yield running


@pytest.fixture(autouse=True)
def healthy(upstreams: dict[str, FakeUpstream]) -> Iterator[None]:
    for fake in upstreams.values():
        fake.mode = "ok"
        if fake.down:
            fake.start()
        fake.requests.clear()
    yield


def test_config_routes_self_hosted_first_then_the_api(gateway_plan: PlannedGateway) -> None:
    config = yaml.safe_load(gateway_plan.config_yaml)
    groups = {m["model_name"]: m["litellm_params"]["model"] for m in config["model_list"]}
    assert groups["chat"] == "hosted_vllm/qwen-7b"
    assert config["router_settings"]["fallbacks"] == [{"chat": ["chat--fallback-1", "chat--fallback-2"]}]
    assert groups["chat--fallback-1"] == "mistral/mistral-large-latest"


def test_requests_reach_the_self_hosted_model(gateway: RunningGateway, upstreams: dict[str, FakeUpstream]) -> None:
    status, body = chat(gateway.url, "chat", MASTER_KEY)
    assert status == 200, body
    assert answer_of(body) == "answer from self-hosted"
    assert [r["model"] for r in upstreams["self-hosted"].requests] == ["qwen-7b"]
    assert upstreams["mistral"].requests == []


def test_upstream_errors_fall_back_to_the_api(gateway: RunningGateway, upstreams: dict[str, FakeUpstream]) -> None:
    upstreams["self-hosted"].mode = "error"
    status, body = chat(gateway.url, "chat", MASTER_KEY)
    assert status == 200, body
    assert answer_of(body) == "answer from mistral"
    assert upstreams["self-hosted"].requests, "the self-hosted model is tried first"
    (api_call,) = upstreams["mistral"].requests
    assert api_call["model"] == "mistral-large-latest"
    assert api_call["authorization"] == f"Bearer {API_KEY}"
    # Once it recovers, traffic goes back to the self-hosted model.
    upstreams["self-hosted"].mode = "ok"
    status, body = chat(gateway.url, "chat", MASTER_KEY)
    assert status == 200 and answer_of(body) == "answer from self-hosted"


def test_a_down_upstream_falls_back_to_the_api(gateway: RunningGateway, upstreams: dict[str, FakeUpstream]) -> None:
    upstreams["self-hosted"].stop()
    status, body = chat(gateway.url, "chat", MASTER_KEY)
    assert status == 200, body
    assert answer_of(body) == "answer from mistral"


# Without a database LiteLLM cannot look up virtual keys, so any key but the master key is
# refused with 400 "No connected db" rather than 401.
@pytest.mark.parametrize(("key", "statuses"), [(None, {401}), ("sk-not-the-master-key", {400, 401})], ids=["no-key", "wrong-key"])
def test_requests_without_the_key_are_refused(key: str | None, statuses: set[int], gateway: RunningGateway, upstreams: dict[str, FakeUpstream]) -> None:
    status, body = chat(gateway.url, "chat", key)
    assert status in statuses, body
    assert "error" in body
    assert all(not fake.requests for fake in upstreams.values())


def test_models_outside_the_routes_are_refused(gateway: RunningGateway, upstreams: dict[str, FakeUpstream]) -> None:
    status, body = chat(gateway.url, "gpt-4o", MASTER_KEY)
    assert status in (400, 404), body
    assert "gpt-4o" in str(body)
    assert all(not fake.requests for fake in upstreams.values())
