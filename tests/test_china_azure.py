"""Azure China (operated by 21Vianet) end to end: every plan names only its own cloud's hosts,
every private DNS zone of a China plan is the one the China cloud documents for its service, Dify
gets the Redis service the China cloud offers (private, TLS, password), identities log in at the
China cloud's Entra ID, the Azure OpenAI catalog never applies the public cloud's matrix to the
China cloud, and Beta serves domestic API models through the gateway.

The China DNS table below is the fixture the checks compare with: "Azure Private Endpoint private
DNS zone values", China section (docs.azure.cn/en-us/private-link/private-endpoint-dns; the same
table in MicrosoftDocs/azure-docs articles/private-link/private-endpoint-dns.md, ms.date
10/11/2023), read 2026-11-30.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.azure.clouds import CLOUDS
from components.azure.openai_catalog import DeploymentChoiceError, declared_availability_warning, resolve_deployment
from policies.llm_guard.profiles import BUILTIN_PROFILES
from scripts.engine import Plan, RecordedResource
from stacks.errors import ConfigError
from tests.plan_matrix import AZURE_CASES, CASES, PHASE, case_config, plan_for, strings_in

# Subresource (private endpoint group id) -> China private DNS zone, as the China table lists it.
CHINA_DNS_TABLE = {
    "vault": "privatelink.vaultcore.azure.cn",
    "blob": "privatelink.blob.core.chinacloudapi.cn",
    "file": "privatelink.file.core.chinacloudapi.cn",
    "redisCache": "privatelink.redis.cache.chinacloudapi.cn",
}
# Not in the China table (Azure AI services, Azure AI Search): the zone follows the service's China
# host (*.openai.azure.cn, *.search.azure.cn). Listed so a new unlisted zone fails until checked.
CHINA_UNLISTED_ZONES = {"account": "privatelink.openai.azure.cn", "searchService": "privatelink.search.azure.cn"}
# A VNet-integrated PostgreSQL Flexible Server's zone ends in the cloud's postgres suffix.
CHINA_POSTGRES_ZONE_SUFFIX = ".postgres.database.chinacloudapi.cn"

CN = BUILTIN_PROFILES["cn"]
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi.runtime's placeholder for a value known after apply
TODAY = dt.date(2026, 11, 30)
_HOST = re.compile(r"(?<![A-Za-z0-9-])((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})(?![A-Za-z0-9-])")
_REFUSED: dict[str, ConfigError] = {}


def _plan(case_id: str) -> Plan:
    if case_id in _REFUSED:
        pytest.skip(f"refused by the stack config: {_REFUSED[case_id]}")
    try:
        return plan_for(case_id)
    except ConfigError as exc:
        _REFUSED[case_id] = exc
        pytest.skip(f"refused by the stack config: {exc}")


def _cloud(plan: Plan) -> str:
    return str(plan.config.get("azure-native:environment") or "public")


def _of(plan: Plan, type_token: str) -> list[RecordedResource]:
    return [r for r in plan.resources if r.type == type_token]


def _hosts(value: Any) -> set[str]:
    return {m.lower() for s in strings_in(value) for m in _HOST.findall(s)}


def _belongs_to(host: str, suffixes: tuple[str, ...]) -> bool:
    return any(host == s or host.endswith("." + s) for s in suffixes)


def _env(app: RecordedResource) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("secretRef")) for c in app.inputs["template"]["containers"] for e in c.get("env", [])}


# ---------------------------------------------------------------- hosts belong to the plan's cloud


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_an_azure_plan_names_no_host_of_another_azure_cloud(case_id: str) -> None:
    """A China plan holds no *.windows.net, *.azure.com, *.azure.net, login.microsoftonline.com,
    *.azurecr.io...; a public-cloud plan no *.chinacloudapi.cn or *.azure.cn; likewise US Gov."""
    plan = _plan(case_id)
    cloud = _cloud(plan)
    foreign = tuple(s for name, names in CLOUDS.items() if name != cloud for s in names.own_host_suffixes)
    found = {h for r in plan.resources for h in _hosts(r.inputs) if _belongs_to(h, foreign)}
    found |= {h for h in _hosts(plan.outputs) if _belongs_to(h, foreign)}
    assert not found, f"{case_id} ({cloud} cloud) names hosts of another Azure cloud: {sorted(found)[:8]}"


# --------------------------------------------------------------------------- private DNS zones


def _china_plans() -> list[str]:
    """Cases whose config puts them in the Azure China cloud (read without planning)."""
    return [c for c in AZURE_CASES if case_config(CASES[c])["config"].get("azure-native:environment") == "china"]


@pytest.mark.parametrize("case_id", _china_plans())
def test_every_private_zone_of_a_china_plan_is_the_china_clouds_zone_for_its_service(case_id: str) -> None:
    plan = _plan(case_id)
    assert _cloud(plan) == "china"
    expected = {**CHINA_DNS_TABLE, **CHINA_UNLISTED_ZONES}
    zones = {r.urn: r.inputs["privateZoneName"] for r in _of(plan, "azure-native:privatedns:PrivateZone")}
    assert zones
    # The internal Container Apps environment's zone is its default domain, known after apply.
    for name in (n for n in zones.values() if n != UNKNOWN):
        assert name in expected.values() or name.endswith(CHINA_POSTGRES_ZONE_SUFFIX), f"{name}: not a zone the China cloud documents"
    # Each private endpoint's DNS zone group puts its record in the zone of its own subresource.
    endpoints = _of(plan, "azure-native:network:PrivateEndpoint")
    assert endpoints
    for endpoint in endpoints:
        (group_id,) = endpoint.inputs["privateLinkServiceConnections"][0]["groupIds"]
        dns_group = next(g for g in _of(plan, "azure-native:network:PrivateDnsZoneGroup") if endpoint.urn in g.dependencies)
        zone_urns = [u for u in dns_group.dependencies if u in zones]
        assert [zones[u] for u in zone_urns] == [expected[group_id]], f"{endpoint.name} ({group_id}) registers in {[zones[u] for u in zone_urns]}"


def test_the_cloud_table_holds_the_china_dns_table() -> None:
    china = CLOUDS["china"]
    for group_id, zone in CHINA_DNS_TABLE.items():
        assert china.private_zones[group_id] == zone
    assert china.postgres_private_zone.endswith(CHINA_POSTGRES_ZONE_SUFFIX)
    assert china.private_zones["redisEnterprise"] is None, "Azure Managed Redis is not documented for the China cloud"


# ------------------------------------------------------------------------- Dify's Redis in China


@pytest.mark.parametrize("case_id", _china_plans())
def test_dify_on_azure_china_gets_a_private_tls_azure_cache_for_redis(case_id: str) -> None:
    plan = _plan(case_id)
    # Dify's cache (Scale may add a gateway cache of its own).
    caches = [r for r in _of(plan, "azure-native:redis:Redis") if r.name.startswith("app-cache")]
    dify = any(r.inputs.get("containerName") == "dify" for r in _of(plan, "azure-native:storage:BlobContainer"))
    if not dify:
        assert not caches
        pytest.skip("Flowise needs no Redis")
    assert not _of(plan, "azure-native:redisenterprise:RedisEnterprise"), "Azure Managed Redis is not offered in the China cloud"
    (cache,) = caches
    assert cache.inputs["enableNonSslPort"] is False
    assert cache.inputs["minimumTlsVersion"] == "1.2"
    assert cache.inputs["publicNetworkAccess"] == "Disabled"
    assert cache.inputs.get("disableAccessKeyAuthentication") in (None, False), "Dify authenticates with the access key"
    assert cache.inputs["redisConfiguration"]["maxmemoryPolicy"] == "noeviction", "Celery's broker must never drop queued tasks"
    endpoint = next(e for e in _of(plan, "azure-native:network:PrivateEndpoint") if cache.urn in e.dependencies)
    assert endpoint.inputs["privateLinkServiceConnections"][0]["groupIds"] == ["redisCache"]


def test_dify_is_refused_only_where_no_redis_service_is_offered() -> None:
    from components.azure.clouds import app_redis_zone

    assert {name: app_redis_zone(names) is not None for name, names in CLOUDS.items()} == {"public": True, "china": True, "usgovernment": True}


# ------------------------------------------------------------------------------ Entra ID and tokens


@pytest.mark.parametrize("case_id", _china_plans())
def test_china_identities_log_in_at_the_china_clouds_entra_id(case_id: str) -> None:
    plan = _plan(case_id)
    apps = _of(plan, "azure-native:app:ContainerApp")
    assert apps
    for app in apps:
        for container in app.inputs["template"]["containers"]:
            env = {e["name"]: e.get("value", e.get("secretRef")) for e in container.get("env", [])}
            where = f"{app.name}/{container['name']}"
            if "AZURE_CLIENT_ID" in env:
                assert env.get("AZURE_AUTHORITY_HOST") == "https://login.chinacloudapi.cn", f"{where}: azure-identity would log in at login.microsoftonline.com"
            if "AZURE_SCOPE" in env:
                assert env["AZURE_SCOPE"] == "https://cognitiveservices.azure.cn/.default", where


# --------------------------------------------------------------------- Azure OpenAI in Azure China


def test_the_public_matrix_never_decides_china_availability() -> None:
    # gpt-4o-mini 2024-07-18 has a public Standard row (US regions and Sweden): in China it is
    # unknown, so the stack must declare it, and the declaration is honoured.
    with pytest.raises(DeploymentChoiceError) as exc:
        resolve_deployment("chat", "gpt-4o-mini", "2024-07-18", "Standard", "chinaeast3", CN, today=TODAY, cloud="china")
    assert "docs.azure.cn" in str(exc.value) and "regions: [chinaeast3]" in str(exc.value)
    chat = resolve_deployment("chat", "gpt-4o-mini", "2024-07-18", "Standard", "chinaeast3", CN, regions=["chinaeast3"], today=TODAY, cloud="china")
    assert chat.declared_only and chat.family.name.startswith("GPT-4o")
    warning = declared_availability_warning(chat, "china", "chinaeast3")
    assert warning and "docs.azure.cn" in warning
    embeddings = resolve_deployment("e", "text-embedding-3-small", "1", "auto", "chinanorth3", CN, regions=["chinanorth3"], today=TODAY, cloud="china")
    assert embeddings.sku == "Standard"
    with pytest.raises(DeploymentChoiceError):
        resolve_deployment("chat", "gpt-4o-mini", "2024-07-18", "Standard", "chinaeast3", CN, regions=["chinanorth3"], today=TODAY, cloud="china")


@pytest.mark.parametrize("sku", ["DataZoneStandard", "DataZoneProvisionedManaged", "GlobalStandard", "GlobalProvisionedManaged", "GlobalBatch", "DeveloperTier"])
def test_data_zone_and_global_deployments_are_refused_under_cn(sku: str) -> None:
    with pytest.raises(DeploymentChoiceError) as exc:
        resolve_deployment("chat", "gpt-4o-mini", "2024-07-18", sku, "chinaeast3", CN, regions=["chinaeast3"], today=TODAY, cloud="china")
    assert exc.value.field == "sku"


def test_beta_on_azure_china_plans_a_declared_chat_model_privately(make_variant: Callable[..., Path], plan_of: Callable[..., Plan]) -> None:
    path = make_variant(
        "beta-azure-cn",
        "beta-azure-cn-aoai",
        {
            "llm-platform:beta": {
                "azureOpenAI": {
                    "deployments": [
                        {"name": "chat-aoai", "model": "gpt-4o-mini", "version": "2024-07-18", "sku": "Standard", "capacity": 10, "regions": ["chinanorth3"]},
                    ]
                }
            }
        },
    )
    plan = plan_of(path)
    (account,) = _of(plan, "azure-native:cognitiveservices:Account")
    assert account.inputs["properties"]["publicNetworkAccess"] == "Disabled"
    (deployment,) = _of(plan, "azure-native:cognitiveservices:Deployment")
    assert deployment.inputs["sku"]["name"] == "Standard"
    assert any("planned on the stack's `regions` alone" in w for w in plan.warnings)
    zones = {r.inputs["privateZoneName"] for r in _of(plan, "azure-native:privatedns:PrivateZone")}
    assert "privatelink.openai.azure.cn" in zones
    gateway = next(a for a in _of(plan, "azure-native:app:ContainerApp") if "gateway" in a.name)
    env = _env(gateway)
    assert env["AZURE_SCOPE"] == "https://cognitiveservices.azure.cn/.default"
    config = str(env["LITELLM_CONFIG"])
    assert "azure/chat-aoai" in config and "dashscope/qwen-plus" in config


# ------------------------------------------------------------------- API models through the gateway


@pytest.mark.parametrize("case_id", [c for c in AZURE_CASES if PHASE[c] == "beta"])
def test_beta_api_models_reach_the_gateway_with_their_keys(case_id: str) -> None:
    plan = _plan(case_id)
    api_models = (case_config(CASES[case_id])["config"].get("llm-platform:beta") or {}).get("apiModels") or []
    if not api_models:
        pytest.skip("no beta.apiModels")
    gateway = next(a for a in _of(plan, "azure-native:app:ContainerApp") if "gateway" in a.name)
    env = _env(gateway)
    config = str(env["LITELLM_CONFIG"])
    for model in api_models:
        assert f"model_name: {model['name']}" in config
        key_env = model["provider"].upper().replace("-", "_") + "_API_KEY"
        assert f"os.environ/{key_env}" in config
        assert env.get(key_env) == f"api-key-{model['provider']}", f"{key_env} must come from the provider's Key Vault secret"
    # Flowise reads LLM_GATEWAY_* as runtime variables; Dify reads no such env (the gateway is a
    # plugin credential entered in its console), so it gets none of them (stacks/beta.py app_reads_gateway_env).
    app_envs = [_env(a) for a in _of(plan, "azure-native:app:ContainerApp") if "gateway" not in a.name]
    if case_config(CASES[case_id])["config"]["llm-platform:poc"]["app"]["kind"] == "flowise":
        app_env = next(e for e in app_envs if "LLM_GATEWAY_MODELS" in e)
        assert set(app_env["LLM_GATEWAY_MODELS"].split(",")) >= {m["name"] for m in api_models}
    else:
        assert not any(k.startswith("LLM_GATEWAY_") for e in app_envs for k in e)


# ------------------------------------------------------------------ access-restricted regions


def _load(path: Path) -> Any:
    from scripts.engine import read_stack_file
    from stacks.config import load_config

    stack = read_stack_file(str(path))
    return load_config(stack.config, stack.secret_keys)


def test_azure_restricted_region_table_names_regions_of_their_cloud() -> None:
    from policies.llm_guard.regions import AZURE_ACCESS_RESTRICTED_REGIONS, AZURE_CLOUD_REGIONS

    assert AZURE_ACCESS_RESTRICTED_REGIONS["china"] == {"chinaeast3"}, "docs.azure.cn/en-us/reliability/regions-list marks China East 3 only"
    for cloud, regions in AZURE_ACCESS_RESTRICTED_REGIONS.items():
        assert regions <= AZURE_CLOUD_REGIONS[cloud], f"{cloud}: {sorted(regions - AZURE_CLOUD_REGIONS[cloud])}"


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_azure_cases_deploy_to_regions_open_to_every_subscription(case_id: str) -> None:
    from policies.llm_guard.regions import is_access_restricted

    config = case_config(CASES[case_id])["config"]
    location = config["azure-native:location"]
    assert not is_access_restricted(location) or location in config.get("llm-platform:restrictedRegionAccess", []), f"{case_id}: {location} is access restricted"


@pytest.mark.parametrize(
    ("base", "location", "open_region"),
    [("poc-azure-cn", "chinaeast3", "chinanorth3"), ("scale-azure-cn", "China East 3", "chinaeast2"), ("poc-azure", "germanynorth", "swedencentral")],
)
def test_azure_access_restricted_region_is_refused_without_a_grant(make_variant: Callable[..., Path], base: str, location: str, open_region: str) -> None:
    path = make_variant(base, f"{base}-restricted", {"azure-native:location": location})
    with pytest.raises(ConfigError) as exc:
        _load(path)
    (problem,) = [p for p in exc.value.problems if p.key == "azure-native:location"]
    restricted = location.replace(" ", "").lower()
    assert (problem.key, problem.value) == ("azure-native:location", restricted)
    message = str(exc.value)
    alternatives = message.split("residency profile", 1)[1].split(";", 1)[0]
    assert open_region in alternatives and restricted not in alternatives, alternatives
    assert f"llm-platform:restrictedRegionAccess: [{restricted}]" in message


def test_azure_restricted_region_with_the_teams_grant_is_accepted_and_a_stale_grant_is_not(make_variant: Callable[..., Path]) -> None:
    granted = make_variant("poc-azure-cn", "poc-azure-cn-granted", {"azure-native:location": "chinaeast3", "llm-platform:restrictedRegionAccess": ["chinaeast3"]})
    assert _load(granted).region == "chinaeast3"
    stale = make_variant("poc-azure-cn", "poc-azure-cn-stale", {"llm-platform:restrictedRegionAccess": ["chinaeast3"]})
    with pytest.raises(ConfigError) as exc:
        _load(stale)
    assert [p.key for p in exc.value.problems] == ["llm-platform:restrictedRegionAccess[0]"]
    assert "chinanorth3" in str(exc.value)
    on_aws = make_variant("poc-aws-cn", "poc-aws-cn-grant", {"llm-platform:restrictedRegionAccess": ["chinaeast3"]})
    with pytest.raises(ConfigError, match=r"restrictedRegionAccess.*Azure locations only"):
        _load(on_aws)
