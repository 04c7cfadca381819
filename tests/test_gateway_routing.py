"""Request tags and cheaper-first levels, on the REAL LiteLLM proxy (one process) running the
gateway config a stack plan generates, against loopback fakes:
- a request tagged `self-hosted` stays in the cluster: refused when the self-hosted model is
  saturated, never overflowing to an API; one tagged `api` skips the self-hosted level; untagged
  requests overflow as before; a tag that matches nothing is refused;
- tags never widen a team key's routes nor reach another route's upstreams;
- a route with `strategy: cheapest` sends a level of equivalent upstreams ("a | b") to the one
  LiteLLM's cost map prices lowest, to the other while it is down (after its cooldown) or over
  its budget.
Plan checks run over every Scale case: the tags, the per-route strategy and the prices the
cost-based router reads (the same cost-map rows the budgets use)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.bench.harness import FakeUpstream, PlannedGateway, free_port, planned_gateway, post_json, run_gateway
from scripts.engine import Plan
from stacks.config import ScaleConfig
from tests.plan_matrix import CASES, SCALE_CASES, case_config, plan_for

pytestmark = pytest.mark.timeout(600)
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

MASTER_KEY = "sk-offline-master-key"
TEAM_KEYS = {"app": "sk-offline-app-key", "analytics": "sk-offline-analytics-key"}
MISTRAL_API = "https://api.mistral.ai/v1"
OPENAI_EU_API = "https://eu.api.openai.com/v1"
COOLDOWN_SECONDS = 3  # the stack's 30 s, shortened so the test sees a cooled-down upstream return
# The cheapest level's budget (USD a month, each upstream): one answer of the OpenAI fake with
# OPENAI_BIG_USAGE tokens (gpt-4.1-nano, 0.1 + 0.4 USD per million in LiteLLM's bundled cost map)
# costs 0.08 USD and exhausts it.
CHEAP_BUDGET = 0.05
OPENAI_BIG_USAGE = (1000, 200_000)
TIERS = {"self-hosted", "managed", "api"}

# The variant: scale-aws with the routes this test drives (no Bedrock upstream: AWS is not here).
ROUTES: list[dict[str, Any]] = [
    {"name": "chat", "selfHosted": ["qwen-7b"], "fallbacks": ["api:mistral/mistral-large-latest"], "rpm": 600},
    {"name": "faq", "selfHosted": ["qwen-7b"], "fallbacks": ["api:mistral/mistral-small-latest"], "maxParallelRequests": 4},
    {"name": "code", "kind": "code", "selfHosted": ["qwen-7b"], "fallbacks": ["api:mistral/codestral-latest"]},
    {
        "name": "cheap",
        "fallbacks": ["api:mistral/mistral-small-latest | api:openai-eu/gpt-4.1-nano", "api:mistral/mistral-large-latest"],
        "strategy": "cheapest",
        "maxBudget": CHEAP_BUDGET,
    },
]
VARIANT = {
    "llm-platform:scale": {
        "routes": ROUTES,
        "gateway": {
            "replicas": 2,
            "cooldownSeconds": 30,
            "teams": [{"name": "app", "budgetPercent": 80}, {"name": "analytics", "routes": ["faq", "code"], "budgetPercent": 2}],
        },
    }
}


# ------------------------------------------------------------------------------- plan checks


def _gateway_config(plan: Plan) -> dict[str, Any]:
    return yaml.safe_load(planned_gateway(plan).config_yaml)


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_every_deployment_is_tagged_by_tier_and_service_and_untagged_requests_see_all(case_id: str) -> None:
    config = _gateway_config(plan_for(case_id))
    assert config["router_settings"]["enable_tag_filtering"] is True
    for m in config["model_list"]:
        tags = m["litellm_params"]["tags"]
        tier = m["model_info"]["platform_tier"]
        assert tags[0] == tier and set(tags[1:]).isdisjoint(TIERS), (m["model_info"]["id"], tags)
        # LiteLLM routes an untagged request only to "default"-tagged deployments when a group
        # has one (tag_based_routing.py): none may carry it, or untagged traffic would change.
        assert "default" not in tags, m["model_info"]["id"]
        if tier != "self-hosted":
            service = m["model_info"].get("api_provider") or m["litellm_params"]["model"].split("/")[0].removesuffix("_chat")
            assert tags[1:] == [service], (m["model_info"]["id"], tags)
    # Tags narrow the requested group only and no deployment may open a tag miss to the group.
    assert not any(m["model_info"].get("allow_fail_open") for m in config["model_list"])


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_cheapest_routes_get_cost_based_routing_and_every_level_member_its_limits(case_id: str) -> None:
    config = _gateway_config(plan_for(case_id))
    scale = ScaleConfig.model_validate(case_config(CASES[case_id])["config"]["llm-platform:scale"])
    cheapest = [r.name for r in scale.routes if r.strategy == "cheapest"]
    groups = config["router_settings"].get("routing_groups", [])
    assert groups == [{"group_name": n, "models": [n], "routing_strategy": "cost-based-routing"} for n in cheapest]
    budgets = json.loads(planned_gateway(plan_for(case_id)).env["LLM_PLATFORM_UPSTREAM_BUDGETS"])
    for route in scale.routes:
        deployments = [m for m in config["model_list"] if m["model_name"] == route.name]
        assert len(deployments) == len(route.self_hosted) + len(route.fallback_refs)
        levels = [d["litellm_params"].get("order", 1) for d in deployments if d["model_info"]["platform_tier"] != "self-hosted"]
        expected = [j + 1 + bool(route.self_hosted) for j, level in enumerate(route.fallback_levels()) for _ in level]
        assert levels == expected, (route.name, levels, expected)
        for d in deployments:
            params = d["litellm_params"]
            if d["model_info"]["platform_tier"] == "self-hosted":
                continue
            if route.rpm:
                assert params["rpm"] == -(-route.rpm // scale.gateway.replicas), (route.name, params)
            if route.max_budget and d["model_info"]["platform_tier"] in ("api", "managed") and not params["model"].startswith("sagemaker"):
                assert params["max_budget"] > 0 and budgets[d["model_info"]["id"]] == params["max_budget"], (
                    route.name,
                    d["model_info"]["id"],
                )


def _routing_rates(deployment: dict[str, Any]) -> tuple[float | None, float | None]:
    from litellm.router_strategy.lowest_cost import _deployment_cost_map_rates

    return _deployment_cost_map_rates(deployment)


def _budget_rates(deployment: dict[str, Any]) -> tuple[float, float]:
    """Per-token prices the budgets charge: LiteLLM's cost of one million tokens each way."""
    import litellm

    model = deployment["model_info"].get("base_model") or deployment["litellm_params"]["model"]
    prompt, completion = litellm.cost_per_token(model=model, prompt_tokens=1_000_000, completion_tokens=1_000_000)
    return prompt / 1e6, completion / 1e6


@pytest.mark.parametrize("case_id", [c for c in SCALE_CASES if "aws" in c])
def test_cost_based_routing_reads_the_prices_the_budgets_charge(
    case_id: str, plan_of: Callable[..., Plan], make_variant: Callable[..., Path]
) -> None:
    """Every upstream of a cheapest route's levels, in every Scale case (scale-aws has one) and in
    this test's variant: LiteLLM's cost-based router (lowest_cost.py) looks each one up in the
    cost map verbatim and ranks a miss at 5 USD per token each way; the budgets price `openai/`
    and `bedrock/` names without their prefix. The plan's base_model makes both read one row."""
    configs = [_gateway_config(plan_for(case_id))]
    if case_id == "scale-aws":
        configs.append(_gateway_config(plan_of(make_variant("scale-aws", "routing-variant", VARIANT))))
    checked = 0
    for config in configs:
        cheapest = {g["group_name"] for g in config["router_settings"].get("routing_groups", [])}
        for d in (m for m in config["model_list"] if m["model_name"] in cheapest and m["model_info"]["platform_tier"] != "self-hosted"):
            routing = _routing_rates(d)
            assert None not in routing, (d["model_info"]["id"], "unpriced for cost-based routing")
            assert routing == pytest.approx(_budget_rates(d), rel=1e-6), d["model_info"]["id"]
            checked += 1
    assert checked or case_id != "scale-aws"


# ------------------------------------------------------------------------------- the real proxy


def _post(
    url: str, key: str, model: str, tags: list[str] | None = None, header_tags: str | None = None, metadata_tags: list[str] | None = None
) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}
    if tags is not None:
        body["tags"] = tags
    if metadata_tags is not None:
        body["metadata"] = {"tags": metadata_tags}
    return post_json(url, "/v1/chat/completions", body, key, headers={"x-litellm-tags": header_tags} if header_tags else None)


def _answered_by(result: tuple[int, dict[str, Any]]) -> str:
    status, body = result
    return str(body["choices"][0]["message"]["content"]).removeprefix("answer from ") if status == 200 else f"HTTP {status}"


@pytest.fixture(scope="module")
def variant_gateway(plan_of: Callable[..., Plan], make_variant: Callable[..., Path]) -> PlannedGateway:
    return planned_gateway(plan_of(make_variant("scale-aws", "routing-variant", VARIANT)))


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, FakeUpstream]]:
    made = {"self-hosted": FakeUpstream("self-hosted"), "mistral": FakeUpstream("mistral"), "openai-eu": FakeUpstream("openai-eu")}
    yield made
    for fake in made.values():
        if not fake.down:
            fake.stop()


@pytest.fixture(scope="module")
def gateway(variant_gateway: PlannedGateway, fakes: dict[str, FakeUpstream]) -> Iterator[Any]:
    from fakeredis import TcpFakeServer

    redis_port = free_port()
    redis = TcpFakeServer(("127.0.0.1", redis_port), server_type="redis")
    threading.Thread(target=redis.serve_forever, daemon=True).start()
    text = variant_gateway.config_yaml
    # The API roots are literals in the config (the policy pack judges them): only hosts change.
    assert MISTRAL_API in text and OPENAI_EU_API in text
    config = yaml.safe_load(text.replace(MISTRAL_API, fakes["mistral"].base_url).replace(OPENAI_EU_API, fakes["openai-eu"].base_url))
    config["router_settings"]["cooldown_time"] = COOLDOWN_SECONDS
    config.pop("guardrails", None)  # Beta's Bedrock content filter calls AWS; not what this test is about
    env = dict(variant_gateway.env)
    env.update(VLLM_QWEN_7B_BASE=fakes["self-hosted"].base_url, REDIS_HOST="127.0.0.1", REDIS_PORT=str(redis_port), REDIS_SSL="False")
    secrets = {
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "LLM_PLATFORM_METRICS_KEY": "sk-offline-metrics-key",
        "MISTRAL_API_KEY": "mistral-offline-key",
        "OPENAI_EU_API_KEY": "openai-offline-key",
        "REDIS_PASSWORD": "",
        **{f"LLM_PLATFORM_TEAM_KEY_{t.upper()}": k for t, k in TEAM_KEYS.items()},
    }
    assert set(variant_gateway.secret_env) <= set(secrets), variant_gateway.secret_env
    env.update(
        {k: v for k, v in secrets.items() if k in variant_gateway.secret_env},
        AWS_ACCESS_KEY_ID="AKIAOFFLINETEST",
        AWS_SECRET_ACCESS_KEY="offline",
    )
    with run_gateway(yaml.safe_dump(config, sort_keys=False), env, files=variant_gateway.files) as running:
        yield running
    redis.shutdown()
    redis.server_close()


def _concurrently(url: str, model: str, n: int, **kwargs: Any) -> list[str]:
    results: list[tuple[int, dict[str, Any]]] = []
    threads = [threading.Thread(target=lambda: results.append(_post(url, TEAM_KEYS["app"], model, **kwargs))) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(_answered_by(r) for r in results)


def _models(fake: FakeUpstream) -> list[str]:
    return [r["model"] for r in fake.requests]


def test_tags_choose_the_tier_within_the_route_and_cheapest_first(
    gateway: Any, fakes: dict[str, FakeUpstream], variant_gateway: PlannedGateway
) -> None:
    """One proxy process for the whole story (the suite's time budget): each step names what it shows."""
    url, app = gateway.url, TEAM_KEYS["app"]
    config = yaml.safe_load(variant_gateway.config_yaml)
    (slots,) = [m["litellm_params"]["max_parallel_requests"] for m in config["model_list"] if m["model_info"]["id"] == "faq/vllm-qwen-7b"]

    # Untagged: as before tags existed, the self-hosted model first, overflowing when saturated.
    assert _answered_by(_post(url, app, "faq")) == "self-hosted"
    fakes["self-hosted"].latency_s = 1.0
    assert _concurrently(url, "faq", slots + 2) == ["mistral"] * 2 + ["self-hosted"] * slots
    # Tagged self-hosted: never leaves the cluster; the requests beyond its slots are refused (429).
    fakes["mistral"].requests.clear()
    refused = _concurrently(url, "faq", slots + 2, tags=["self-hosted"])
    assert refused == ["HTTP 429"] * 2 + ["self-hosted"] * slots, refused
    assert not fakes["mistral"].requests and not fakes["openai-eu"].requests
    fakes["self-hosted"].latency_s = 0.0

    # Tagged api (body, metadata or header): the self-hosted level is skipped, the route's own API answers.
    fakes["self-hosted"].requests.clear()
    for kwargs in ({"tags": ["api"]}, {"metadata_tags": ["api"]}, {"header_tags": "api"}, {"tags": ["mistral"]}):
        assert _answered_by(_post(url, app, "faq", **kwargs)) == "mistral", kwargs
    assert _models(fakes["mistral"]) == ["mistral-small-latest"] * 4 and not fakes["self-hosted"].requests

    # A tag matching none of the route's upstreams is refused (LiteLLM: 401 "Not allowed to access
    # model due to tags configuration"), even one naming another route's upstream (openai-eu).
    for tags in (["managed"], ["openai-eu"], ["no-such-tag"]):
        status, body = _post(url, app, "faq", tags=tags)
        assert status == 401 and "tags configuration" in json.dumps(body), (tags, status, body)
    # Tags never widen a key: analytics may call faq and code only, whatever it tags.
    for tags in (["api"], ["self-hosted"], ["mistral"], ["openai-eu"]):
        status, body = _post(url, TEAM_KEYS["analytics"], "chat", tags=tags)
        assert status == 403 and "key_model_access_denied" in json.dumps(body), (tags, body)
        status, body = _post(url, TEAM_KEYS["analytics"], "cheap", tags=tags)
        assert status == 403, (tags, body)
    assert not fakes["openai-eu"].requests, "a tag reached another route's upstream"
    assert _models(fakes["mistral"]) == ["mistral-small-latest"] * 4

    # Cheapest: gpt-4.1-nano (0.1 + 0.4 USD per million tokens) before mistral-small (0.15 + 0.6).
    fakes["mistral"].requests.clear()
    assert [_answered_by(_post(url, app, "cheap")) for _ in range(5)] == ["openai-eu"] * 5
    assert _models(fakes["openai-eu"]) == ["gpt-4.1-nano"] * 5 and not fakes["mistral"].requests

    # The cheaper one down: its failing requests go on to the next level (mistral-large) at once;
    # on the second failure it cools down (allowed_fails 1) and its level's other upstream serves.
    fakes["openai-eu"].stop()
    fakes["mistral"].requests.clear()
    served = [_answered_by(_post(url, app, "cheap")) for _ in range(4)]
    assert served == ["mistral"] * 4 and _models(fakes["mistral"]) == ["mistral-large-latest"] * 2 + ["mistral-small-latest"] * 2, _models(
        fakes["mistral"]
    )
    # Back after its cooldown: the cheaper one takes the traffic again.
    fakes["openai-eu"].start()
    deadline = time.monotonic() + COOLDOWN_SECONDS + 10
    while _answered_by(_post(url, app, "cheap")) != "openai-eu":
        assert time.monotonic() < deadline, "the cheaper upstream never came back after its cooldown"
        time.sleep(0.5)

    # Over its budget: one answer of OPENAI_BIG_USAGE tokens exhausts it; mistral-small serves.
    fakes["openai-eu"].usage = OPENAI_BIG_USAGE
    assert _answered_by(_post(url, app, "cheap")) == "openai-eu"
    # (the spend is counted by a callback after the answer: the next requests may still see it under)
    deadline = time.monotonic() + 10
    while _answered_by(_post(url, app, "cheap")) != "mistral":
        assert time.monotonic() < deadline, "the cheaper upstream over its budget was still called"
        time.sleep(0.2)
    fakes["mistral"].requests.clear()
    assert [_answered_by(_post(url, app, "cheap")) for _ in range(3)] == ["mistral"] * 3
    assert _models(fakes["mistral"]) == ["mistral-small-latest"] * 3


# ------------------------------------------------------------------------------- config errors


@pytest.mark.parametrize(
    ("route", "key", "words"),
    [
        (
            {"fallbacks": ["api:mistral/mistral-small-latest | sagemaker:llama"], "strategy": "cheapest"},
            "fallbacks[0]",
            "sagemaker:llama has none",
        ),
        ({"fallbacks": ["api:mistral/mistral-small-latest | bedrock:nope"]}, "fallbacks[0]", "'bedrock:nope': no beta.bedrock model"),
        (
            {
                "selfHosted": ["qwen-7b", "qwen-7b-b"],
                "fallbacks": ["api:mistral/mistral-small-latest | bedrock:chat"],
                "strategy": "cheapest",
            },
            "strategy",
            "never balance",
        ),
        ({"fallbacks": ["api:mistral/mistral-small-latest | api:mistral/mistral-small-latest"]}, "fallbacks[0]", "repeats"),
        ({"fallbacks": ["bedrock:chat", "api:mistral/mistral-small-latest | bedrock:chat"]}, "fallbacks[1]", "repeats bedrock:chat"),
        ({"fallbacks": ["api:mistral/mistral-small-latest | "]}, "fallbacks[0]", "1 to 4 upstreams"),
        ({"fallbacks": [" | ".join(f"api:mistral/m{i}" for i in range(5))]}, "fallbacks[0]", "1 to 4 upstreams"),
    ],
)
def test_levels_and_strategy_are_validated_with_the_key_named(route: dict[str, Any], key: str, words: str) -> None:
    from stacks.config import load_config
    from stacks.errors import ConfigError
    from tests.conftest import deep_merge, load_stack

    document = load_stack("scale-aws")
    scale = document["config"]["llm-platform:scale"]
    models = [*scale["models"], {**scale["models"][0], "name": "qwen-7b-b"}]
    config = deep_merge(
        document["config"],
        {"llm-platform:scale": {"models": models, "routes": [{"name": "probe", **route}], "gateway": {"teams": [{"name": "app"}]}}},
    )
    secret_keys = {k for k, v in config.items() if isinstance(v, dict) and "secure" in v}
    with pytest.raises(ConfigError) as raised:
        load_config(config, secret_keys)
    message = str(raised.value)
    assert f"llm-platform:scale.routes[0].{key}" in message and words in message, message


def test_a_cheapest_level_of_priced_upstreams_is_accepted() -> None:
    from stacks.config import load_config
    from tests.conftest import deep_merge, load_stack

    document = load_stack("scale-aws")
    route = {
        "name": "probe",
        "fallbacks": ["api:mistral/mistral-small-latest | bedrock:chat | api:openai-eu/gpt-4.1-nano"],
        "strategy": "cheapest",
    }
    config = deep_merge(document["config"], {"llm-platform:scale": {"routes": [route], "gateway": {"teams": [{"name": "app"}]}}})
    loaded = load_config(config, {k for k, v in config.items() if isinstance(v, dict) and "secure" in v})
    assert loaded.scale is not None and loaded.scale.routes[0].fallback_levels() == [
        ["api:mistral/mistral-small-latest", "bedrock:chat", "api:openai-eu/gpt-4.1-nano"]
    ]
