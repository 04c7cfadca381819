"""Domestic model APIs, Beta inference sources, custom providers, ICP filing and user stacks.

The provider catalog is checked against LiteLLM 1.108.6 itself (the gateway image's version): the
prefix each row names must make LiteLLM call the row's mainland host, and LiteLLM's own defaults
for some domestic vendors are their international hosts (so the gateway always sets api_base).
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from components.lowcode import api_key_env_name
from policies.llm_guard.endpoints import classify_host
from policies.llm_guard.gateway import Environment, find_configs, infer_provider, routes
from policies.llm_guard.profiles import BUILTIN_PROFILES
from policies.llm_guard.routing import (
    API_PROVIDERS,
    OUTSIDE_MAINLAND_HOSTS,
    PROVIDER_ALIASES,
    api_host_provider,
    canonical_provider,
    declared_custom_providers,
)
from scripts.audit import PolicyPackProcess
from stacks.config import api_key_config_key, load_config
from stacks.errors import ConfigError
from stacks.inference import api_model_upstream, beta_api_routes
from tests.conftest import ROOT, load_stack
from tests.plan_matrix import AWS_CASES, CASE_IDS, CASES, case_config, plan_for
from tests.policy_harness import Auditor, assert_no_violations, assert_violation, graph, resource, tags

DOMESTIC = ("dashscope", "deepseek", "qianfan", "hunyuan", "volcengine", "moonshot", "zhipu")
CN = BUILTIN_PROFILES["cn"]


def _load(document: dict[str, Any]) -> Any:
    raw = {k: v if isinstance(v, str) else json.dumps(v) for k, v in document.items()}
    secret_keys = {k for k, v in document.items() if isinstance(v, dict) and set(v) == {"secure"}}
    return load_config(raw, secret_keys)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _config(base: str, override: dict[str, Any] | None = None) -> dict[str, Any]:
    return _merge(load_stack(base)["config"], override or {})


def _refusal(document: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(document)
    return str(caught.value)


# ------------------------------------------------------------------ the catalog against LiteLLM


@pytest.mark.parametrize("name", DOMESTIC)
def test_domestic_provider_is_mainland_and_litellm_calls_its_host(name: str) -> None:
    api = API_PROVIDERS[name]
    assert api.geography == "cn" and CN.allows_api(api)
    parts = urlsplit(api.api_base)
    assert parts.scheme == "https" and parts.hostname == api.host
    assert "read 2026-" in api.source, "each row names the vendor document and when it was read"
    model, provider, base = infer_provider(f"{api.litellm_prefix}/some-model", None, api.api_base, Environment())
    assert model == "some-model" and provider == api.litellm_prefix
    assert base is not None and urlsplit(base).hostname == api.host


@pytest.mark.parametrize("prefix", ["moonshot", "zai"])
def test_litellm_defaults_for_domestic_vendors_leave_the_mainland(prefix: str) -> None:
    """Why every API upstream names its api_base: without it LiteLLM 1.108.6 calls the vendor's
    international platform, which the pack knows and the cn profile refuses."""
    _model, _provider, base = infer_provider(f"{prefix}/m", None, None, Environment())
    assert base is not None
    api = api_host_provider(urlsplit(base).hostname or "")
    assert api is not None and api.host in OUTSIDE_MAINLAND_HOSTS and not CN.allows_api(api)


def test_aliases_name_existing_providers() -> None:
    assert not set(PROVIDER_ALIASES) & set(API_PROVIDERS)
    assert {canonical_provider(a) for a in ("qwen", "Tongyi", "bailian", "kimi", "glm", "bigmodel", "zhipuai", "ernie", "wenxin", "doubao", "ark")} <= set(DOMESTIC)
    assert canonical_provider("kimi") == "moonshot" and canonical_provider("QWEN") == "dashscope" and canonical_provider("glm") == "zhipu"


@pytest.mark.parametrize("name", DOMESTIC)
def test_api_model_upstream_names_the_mainland_root_and_the_key_env(name: str) -> None:
    cfg = _load(_config("poc-aws-cn"))
    upstream = api_model_upstream(cfg, name, "m-1", f"chat/api-{name}", rpm=10)
    api = API_PROVIDERS[name]
    assert upstream.api_base == api.api_base and upstream.litellm_model == f"{api.litellm_prefix}/m-1"
    assert upstream.api_key_env == api_key_env_name(name) and upstream.tier == "api" and upstream.rpm == 10


# ------------------------------------------------------------------ config: aliases, Beta sources


@pytest.mark.parametrize(("alias", "right"), [("qwen", "dashscope"), ("kimi", "moonshot"), ("glm", "zhipu"), ("doubao", "volcengine"), ("ernie", "qianfan")])
def test_alias_in_api_providers_is_answered_with_the_right_name(alias: str, right: str) -> None:
    message = _refusal(_config("poc-aws-cn", {"llm-platform:poc": {"apiProviders": [alias]}}))
    assert "llm-platform:poc.apiProviders" in message and f"write '{right}'" in message and api_key_config_key(right) in message


def test_beta_on_aws_china_without_a_source_names_the_allowed_alternatives() -> None:
    document = _config("beta-aws-cn")
    document["llm-platform:beta"] = {"vectorStore": document["llm-platform:beta"]["vectorStore"]}
    message = _refusal(document)
    assert "llm-platform:beta =" in message and "beta.sagemaker" in message and "beta.bedrock" not in message
    assert "beta.apiModels with one of dashscope, deepseek, hunyuan, moonshot, qianfan, volcengine, zhipu" in message


def test_bedrock_under_cn_names_the_alternatives() -> None:
    document = _config("beta-aws-cn", {"llm-platform:beta": {"bedrock": {"models": [{"name": "x", "model": "amazon.nova-pro-v1:0"}]}}})
    message = _refusal(document)
    assert "llm-platform:beta.bedrock" in message and "aws-cn" in message and "beta.sagemaker or beta.apiModels with one of dashscope" in message


def test_beta_on_azure_china_without_a_source_names_azure_openai_and_apis() -> None:
    document = _config("beta-azure-cn")
    document["llm-platform:beta"] = {"vectorStore": document["llm-platform:beta"]["vectorStore"]}
    message = _refusal(document)
    assert "beta.azureOpenAI or beta.apiModels with one of" in message and "beta.sagemaker" not in message


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ({"name": "c", "provider": "qwen", "model": "qwen-plus"}, "write 'dashscope'"),
        ({"name": "c", "provider": "moonshot", "model": "kimi-k2"}, "add 'moonshot' to llm-platform:poc.apiProviders"),
        ({"name": "c", "provider": "nobody", "model": "x"}, "'nobody' is not a known provider"),
    ],
)
def test_api_model_provider_is_known_configured_and_allowed(model: dict[str, str], expected: str) -> None:
    message = _refusal(_config("beta-aws-cn", {"llm-platform:beta": {"apiModels": [model]}}))
    assert "llm-platform:beta.apiModels[0].provider" in message and expected in message


def test_api_model_outside_the_profile_is_refused() -> None:
    document = _config("beta-aws", {"llm-platform:beta": {"apiModels": [{"name": "gpt", "provider": "openai-eu", "model": "gpt-4o"}, {"name": "ds", "provider": "deepseek", "model": "deepseek-chat"}]}})
    message = _refusal(document)
    assert "apiModels[1].provider = 'deepseek'" in message and "api.deepseek.com processes prompts in CN" in message
    assert "apiModels[0]" not in message


def test_beta_api_routes_serve_each_api_model() -> None:
    cfg = _load(_config("beta-aws-cn"))
    routes_ = {r.name: r for r in beta_api_routes(cfg)}
    assert set(routes_) == {m.name for m in cfg.beta.api_models}
    for m in cfg.beta.api_models:
        (upstream,) = routes_[m.name].primary
        assert upstream.api_base == API_PROVIDERS[m.provider].api_base and upstream.litellm_model.endswith(f"/{m.model}")


# ------------------------------------------------------------------ custom providers

_INHOUSE = {"name": "inhouse", "baseUrl": "https://llm.example.cn/v1", "geography": "cn"}


def _with_custom(custom: dict[str, Any], providers: list[str]) -> dict[str, Any]:
    document = _config("poc-aws-cn", {"llm-platform:poc": {"customProviders": [custom], "apiProviders": providers}})
    for key in [k for k in document if k.endswith("ApiKey")]:
        del document[key]
    for p in providers:
        document[f"llm-platform:{api_key_config_key(p)}"] = {"secure": "v1:x"}
    return document


def test_custom_provider_in_the_profile_is_served_like_a_builtin() -> None:
    cfg = _load(_with_custom(_INHOUSE, ["inhouse"]))
    upstream = api_model_upstream(cfg, "inhouse", "qwen3-32b", "chat/api-inhouse")
    assert upstream.api_base == "https://llm.example.cn/v1" and upstream.litellm_model == "openai/qwen3-32b" and upstream.api_key_env == "INHOUSE_API_KEY"
    # A Model Studio workspace domain in Beijing may be declared (its region says mainland).
    _load(_with_custom(dict(_INHOUSE, baseUrl="https://ws1.cn-beijing.maas.aliyuncs.com/compatible-mode/v1"), ["inhouse"]))


@pytest.mark.parametrize(
    ("host", "allowed_in_cn"),
    [("ws1.cn-beijing.maas.aliyuncs.com", True), ("ws1.ap-southeast-1.maas.aliyuncs.com", False), ("ws1.cn-hongkong.maas.aliyuncs.com", False), ("cn-hongkong.dashscope.aliyuncs.com", False), ("dashscope-intl.aliyuncs.com", False), ("dashscope-us.aliyuncs.com", False)],
)
def test_model_studio_domains_are_judged_by_their_region(host: str, allowed_in_cn: bool) -> None:
    """Model Studio serves Beijing, Singapore, Virginia and Hong Kong from look-alike domains
    (alibabacloud.com/help/en/model-studio/base-url): only mainland ones pass under cn."""
    api = api_host_provider(host)
    assert api is not None and CN.allows_api(api) is allowed_in_cn
    assert classify_host(host, CN, frozenset()).status == ("allowed" if allowed_in_cn else "outside")


@pytest.mark.parametrize(
    ("custom", "key", "expected"),
    [
        (dict(_INHOUSE, geography="us"), "poc.apiProviders[0]", "outside residency profile 'cn'"),
        (dict(_INHOUSE, baseUrl="http://llm.example.cn/v1"), "poc.customProviders[0].baseUrl", "https://"),
        (dict(_INHOUSE, baseUrl="https://api.openai.com/v1"), "poc.customProviders[0]", "list 'openai' in apiProviders"),
        (dict(_INHOUSE, baseUrl="https://api.moonshot.ai/v1"), "poc.customProviders[0]", "processes prompts in GLOBAL, not CN"),
        (dict(_INHOUSE, baseUrl="https://ws1.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1"), "poc.customProviders[0]", "not CN"),
        (dict(_INHOUSE, baseUrl="https://cn-hongkong.dashscope.aliyuncs.com/compatible-mode/v1"), "poc.customProviders[0]", "China (Hong Kong)"),
        (dict(_INHOUSE, name="qwen"), "poc.customProviders[0].name", "write 'dashscope'"),
        (dict(_INHOUSE, geography="apac"), "poc.customProviders[0].geography", ""),
    ],
)
def test_custom_provider_mistakes_are_refused(custom: dict[str, Any], key: str, expected: str) -> None:
    message = _refusal(_with_custom(custom, ["inhouse"] if custom["name"] == "inhouse" else []))
    assert f"llm-platform:{key}" in message and expected in message


# ------------------------------------------------------------------ the policy pack judges custom providers


def test_declared_custom_providers_never_relabel_a_known_host() -> None:
    declared = declared_custom_providers(
        {"llm-platform:poc": json.dumps({"customProviders": [_INHOUSE, {"name": "sneaky", "baseUrl": "https://api.openai.com/v1", "geography": "cn"}, {"name": "plain", "baseUrl": "http://x.example.cn", "geography": "cn"}]})}
    )
    assert set(declared) == {"llm.example.cn"}
    assert classify_host("llm.example.cn", CN, frozenset(), custom_apis=declared).status == "allowed"
    assert classify_host("llm.example.cn", CN, frozenset()).status == "unknown"
    assert classify_host("api.openai.com", CN, frozenset(), custom_apis=declared).status == "outside"


@pytest.fixture(scope="module")
def audit_with_custom() -> Iterator[Auditor]:
    poc = {"customProviders": [_INHOUSE, {"name": "usllm", "baseUrl": "https://llm.example.com/v1", "geography": "us"}]}
    with PolicyPackProcess({"aws:region": "cn-north-1", "llm-platform:poc": poc}, "llm-platform", "test") as pack:
        yield Auditor(pack)


def _gateway_config_map(api_base: str) -> dict[str, Any]:
    config_yaml = f"model_list:\n  - model_name: chat\n    litellm_params:\n      model: openai/qwen3\n      api_base: {api_base}\n"
    labels = {f"llm-platform.io/{k}": v for k, v in tags("cn").items()}
    return resource("kubernetes:core/v1:ConfigMap", "gw", {"metadata": {"name": "gw", "labels": labels}, "data": {"config.yaml": config_yaml}})


def test_pack_allows_a_declared_cn_custom_provider(audit_with_custom: Auditor) -> None:
    result = audit_with_custom(graph([_gateway_config_map("https://llm.example.cn/v1")], {"aws:region": "cn-north-1"}), "cn")
    assert_no_violations(result, "gateway-routes")
    assert_no_violations(result, "llm-api-upstreams")


def test_pack_refuses_a_declared_custom_provider_outside_the_profile(audit_with_custom: Auditor) -> None:
    cm = _gateway_config_map("https://llm.example.com/v1")
    result = audit_with_custom(graph([cm], {"aws:region": "cn-north-1"}), "cn")
    v = assert_violation(result, "gateway-routes", cm["urn"], "data.config.yaml.model_list[0]")
    assert "US" in v.problem and "custom provider 'usllm'" in v.problem
    assert_violation(result, "llm-api-upstreams", cm["urn"])


def test_pack_fails_closed_on_an_undeclared_host(audit_with_custom: Auditor) -> None:
    cm = _gateway_config_map("https://llm.other.cn/v1")
    assert_violation(audit_with_custom(graph([cm], {"aws:region": "cn-north-1"}), "cn"), "gateway-routes", cm["urn"])


# ------------------------------------------------------------------ every plan: API upstreams


def _gateway_configs(case_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for res in plan_for(case_id).resources:
        for path, config in find_configs(res.inputs):
            yield f"{res.name}:{path}", dict(config)


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_api_upstreams_name_an_allowed_root_and_their_key(case_id: str) -> None:
    """Every API route of every plan calls a literal https root of a provider the stack's profile
    allows (never LiteLLM's default host, never an env indirection the pack cannot read), with the
    provider's key env var."""
    cfg = _load(case_config(CASES[case_id])["config"])
    providers = cfg.poc.providers()
    by_base = {api.api_base: (name, api) for name, api in providers.items()}
    for where, config in _gateway_configs(case_id):
        for entry in config["model_list"]:
            if entry.get("model_info", {}).get("platform_tier") != "api":
                continue
            params = entry["litellm_params"]
            base = params.get("api_base")
            assert isinstance(base, str) and base in by_base, (case_id, where, params.get("model"), base)
            name, api = by_base[base]
            assert cfg.profile.allows_api(api), (case_id, where, base)
            assert params["model"].startswith(f"{api.litellm_prefix}/") and params["api_key"] == f"os.environ/{api_key_env_name(name)}"
        for route in routes(config, None, where):
            if route.destination is not None and route.destination.kind == "host":
                api = api_host_provider(route.destination.value, {a.host: a for a in providers.values()})
                assert api is None or cfg.profile.allows_api(api), (case_id, where, route.destination.value)


# ------------------------------------------------------------------ ICP filing


@pytest.mark.parametrize("base", ["poc-aws-cn", "poc-azure-cn"])
def test_public_poc_in_china_needs_an_icp_filing(base: str) -> None:
    message = _refusal(_config(base, {"llm-platform:poc": {"app": {"allowedCidrs": ["0.0.0.0/0"]}}}))
    assert "llm-platform:poc.app.icpFiling" in message and "ICP" in message
    message = _refusal(_config(base, {"llm-platform:poc": {"app": {"domainName": "ai.example.cn"}}}))
    assert "llm-platform:poc.app.icpFiling" in message and "domainName ai.example.cn" in message
    _load(_config(base, {"llm-platform:poc": {"app": {"allowedCidrs": ["0.0.0.0/0"], "icpFiling": "京ICP备12345678号-1"}}}))
    _load(_config(base))  # CIDR-limited: no filing needed


def test_icp_filing_number_format() -> None:
    message = _refusal(_config("poc-aws-cn", {"llm-platform:poc": {"app": {"icpFiling": "ICP-12345"}}}))
    assert "llm-platform:poc.app.icpFiling" in message and "京ICP备12345678号-1" in message
    _load(_config("poc-aws-cn", {"llm-platform:poc": {"app": {"icpFiling": "沪ICP证030173号"}}}))


def test_icp_filing_is_not_required_outside_china() -> None:
    _load(_config("poc-aws", {"llm-platform:poc": {"app": {"allowedCidrs": ["0.0.0.0/0"]}}}))


def _aws_china(case_id: str) -> bool:
    config = case_config(CASES[case_id])["config"]
    return config.get("llm-platform:residency") == "cn" and str(config.get("aws:region", "")).startswith("cn-")


def _internet_facing_load_balancers(plan: Any) -> list[str]:
    return [r.name for r in plan.resources if r.type == "aws:lb/loadBalancer:LoadBalancer" and not r.inputs.get("internal")]


@pytest.mark.parametrize("case_id", [c for c in AWS_CASES if _aws_china(c)])
def test_aws_china_without_an_icp_filing_has_no_internet_facing_load_balancer(case_id: str) -> None:
    """AWS China closes inbound 80/443/8080 until an ICP filing is approved: an internet-facing
    ALB there answers no one, so every phase without poc.app.icpFiling is internal."""
    assert not case_config(CASES[case_id])["config"]["llm-platform:poc"]["app"].get("icpFiling")
    plan = plan_for(case_id)
    assert any(r.type == "aws:lb/loadBalancer:LoadBalancer" for r in plan.resources)
    assert _internet_facing_load_balancers(plan) == []


def test_aws_china_poc_with_an_icp_filing_is_internet_facing(tmp_path: Path) -> None:
    from scripts.engine import plan_stack

    document = load_stack("poc-aws-cn")
    document["config"]["llm-platform:poc"]["app"]["icpFiling"] = "宁ICP备12345678号-1"
    path = tmp_path / "Pulumi.poc-aws-cn-filed.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    plan = plan_stack(str(path))
    assert _internet_facing_load_balancers(plan) == ["app-lb"]


# ------------------------------------------------------------------ stacks users add


def test_a_user_stack_with_its_own_name_profile_and_currency_plans_and_is_matrixed(tmp_path: Path) -> None:
    """A stack a user adds (custom profile, EUR budget on Azure, a name outside the examples) is
    planned by the program and listed by the CI matrix, with no example-specific assumption."""
    from scripts.engine import plan_stack
    from scripts.ops.ci_matrix import matrix

    (tmp_path / "stacks").mkdir()
    (tmp_path / "policies" / "config").mkdir(parents=True)
    document = load_stack("poc-azure")
    config = document["config"]
    config["llm-platform:residency"] = "nordics"
    config["llm-platform:residencyProfiles"] = {"nordics": {"awsRegions": ["eu-north-1"], "azureRegions": ["swedencentral"], "apiGeographies": ["eu"]}}
    config["azure-native:location"] = "swedencentral"
    config["llm-platform:budget"] = dict(config["llm-platform:budget"], currency="EUR")
    config["llm-platform:tags"] = dict(config["llm-platform:tags"])
    path = tmp_path / "stacks" / "Pulumi.team-nordics-poc.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    shutil.copy(ROOT / "stacks" / "Pulumi.poc-aws-cn.yaml", tmp_path / "stacks" / "Pulumi.china-lab.yaml")
    plan = plan_stack(str(path))
    assert any(r.type == "azure-native:resources:ResourceGroup" for r in plan.resources)
    entries = {e["stack"]: e for e in matrix(tmp_path)["all"]}
    assert entries["team-nordics-poc"] == {"stack": "team-nordics-poc", "cloud": "azure", "phase": "poc", "profile": "nordics", "china": False, "policy_config": ""}
    assert entries["china-lab"]["china"] is True and entries["china-lab"]["cloud"] == "aws"
