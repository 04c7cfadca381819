"""Provider contracts of the Azure plans: what Azure itself requires of Azure OpenAI, PostgreSQL,
Redis, Key Vault, Storage and Container Apps for `pulumi up` to succeed and the apps to start.
Each check runs over every Azure plan of tests/plan_matrix.py, so it proves a class of defect
absent, not one stack. The constraints are written here from Microsoft's documentation (cited
per check), independently of the component code they check.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from components.azure.openai_catalog import DeploymentChoiceError, resolve_deployment, retirement_warning
from policies.llm_guard.profiles import BUILTIN_PROFILES
from scripts.engine import Plan, RecordedResource
from stacks.errors import ConfigError
from tests.plan_matrix import AZURE_CASES, CASES, case_config, plan_for

SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"  # Key Vault Secrets User (built-in role)
VAULT = "azure-native:keyvault:Vault"
KEY = "azure-native:keyvault:Key"
SECRET = "azure-native:keyvault:Secret"
ROLE = "azure-native:authorization:RoleAssignment"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
PG_SERVER = "azure-native:dbforpostgresql:Server"
PG_CHILDREN = ("azure-native:dbforpostgresql:Configuration", "azure-native:dbforpostgresql:Database")
DIAGNOSTICS = "azure-native:monitor:DiagnosticSetting"

# Azure OpenAI CMK: system-assigned identity only, legacy access policies (get, wrapKey,
# unwrapKey), RSA/RSA-HSM 2048 (learn.microsoft.com/azure/ai-foundry/openai/encrypt-data-at-rest,
# ms.date 11/26/2025).
OPENAI_KEY_SIZES = {2048}
OPENAI_KEY_PERMISSIONS = {"get", "wrapKey", "unwrapKey"}
# PostgreSQL Flexible Server CMK: RSA 2048/3072/4096, user-assigned identity, versionless key URI
# for automatic key version updates (learn.microsoft.com/azure/postgresql/security/
# security-data-encryption, ms.date 06/02/2026). Storage CMK: RSA 2048/3072/4096
# (learn.microsoft.com/azure/storage/common/customer-managed-keys-overview).
DATA_KEY_SIZES = {2048, 3072, 4096}
# What the apps' migrations create: Dify api/migrations/versions/64b051264f32_init.py
# (CREATE EXTENSION "uuid-ossp") and pgvector; Flowise postgres migrations 1693891895163-Init.ts
# (uuid_generate_v4()) and 1752614575000-AddPgvectorExtension.ts (CREATE EXTENSION vector).
APP_EXTENSIONS = {"dify": {"uuid-ossp", "vector"}, "flowise": {"uuid-ossp", "vector"}}
# Resources holding data or keys: each sends its logs to Log Analytics.
DATA_TYPES = (
    VAULT,
    PG_SERVER,
    "azure-native:storage:StorageAccount",
    "azure-native:redisenterprise:RedisEnterprise",
    "azure-native:cognitiveservices:Account",
    "azure-native:search:Service",
)
# publicNetworkAccess per type (AI Search spells it in lower case).
PRIVATE_TYPES = {
    VAULT: ("properties", "publicNetworkAccess", "Disabled"),
    "azure-native:storage:StorageAccount": ("", "publicNetworkAccess", "Disabled"),
    "azure-native:cognitiveservices:Account": ("properties", "publicNetworkAccess", "Disabled"),
    "azure-native:search:Service": ("", "publicNetworkAccess", "disabled"),
    "azure-native:redisenterprise:RedisEnterprise": ("", "publicNetworkAccess", "Disabled"),
}
PUBLIC_CLOUD_SUFFIXES = (".windows.net", ".azure.com", ".azure.net")

_REFUSED: dict[str, ConfigError] = {}


def _plan(case_id: str) -> Plan:
    """The case's plan; a case the config refuses is skipped here and checked by
    test_refused_cases_are_refused_for_ai_search_only."""
    if case_id in _REFUSED:
        pytest.skip(f"refused by the stack config: {_REFUSED[case_id]}")
    try:
        return plan_for(case_id)
    except ConfigError as exc:
        _REFUSED[case_id] = exc
        pytest.skip(f"refused by the stack config: {exc}")


def _of(plan: Plan, type_token: str) -> list[RecordedResource]:
    return [r for r in plan.resources if r.type == type_token]


def _by_urn(plan: Plan) -> dict[str, RecordedResource]:
    return {r.urn: r for r in plan.resources}


def _ancestors(plan: Plan, resource: RecordedResource) -> set[str]:
    """Every urn the resource waits for, directly or through other resources."""
    by_urn = _by_urn(plan)
    seen: set[str] = set()
    todo = list(resource.dependencies)
    while todo:
        urn = todo.pop()
        if urn in seen:
            continue
        seen.add(urn)
        if urn in by_urn:
            todo.extend(by_urn[urn].dependencies)
    return seen


def _depends_on_type(plan: Plan, resource: RecordedResource, type_token: str) -> list[RecordedResource]:
    by_urn = _by_urn(plan)
    return [by_urn[u] for u in resource.dependencies if u in by_urn and by_urn[u].type == type_token]


def _vault_of_key_uri(plan: Plan, uri: str) -> RecordedResource:
    host = re.match(r"https://([^./]+)\.", uri)
    assert host, f"not a Key Vault URI: {uri!r}"
    vaults = [v for v in _of(plan, VAULT) if v.inputs.get("vaultName", host.group(1)) == host.group(1) and host.group(1).startswith(v.name)]
    assert len(vaults) == 1, f"{uri!r} names no vault of the plan"
    return vaults[0]


def _keys_in(plan: Plan, vault: RecordedResource) -> list[RecordedResource]:
    return [k for k in _of(plan, KEY) if vault.urn in k.dependencies]


BETA_SCALE_CASES = tuple(c for c in AZURE_CASES if not CASES[c].base.startswith("poc-"))


# ------------------------------------------------------------------------ customer-managed keys


@pytest.mark.parametrize("case_id", BETA_SCALE_CASES)
def test_openai_cmk_uses_system_identity_access_policy_vault_and_rsa_2048(case_id: str) -> None:
    plan = _plan(case_id)
    accounts = _of(plan, "azure-native:cognitiveservices:Account")
    assert accounts, "a Beta plan has an Azure OpenAI account"
    for account in accounts:
        identity = account.inputs.get("identity", {})
        assert identity.get("type") == "SystemAssigned" and not identity.get("userAssignedIdentities"), f"{account.name}: Azure OpenAI CMK needs the system-assigned identity, got {identity}"
        # The key access the CMK needs exists for this account's identity, in an access-policy vault.
        policies = [p for p in _of(plan, "azure-native:keyvault:AccessPolicy") if account.urn in p.dependencies]
        assert policies, f"{account.name}: no Key Vault access policy for its system identity"
        for policy in policies:
            assert set(policy.inputs["policy"]["permissions"]["keys"]) >= OPENAI_KEY_PERMISSIONS, policy.inputs["policy"]
            (vault,) = _depends_on_type(plan, policy, VAULT)
            props = vault.inputs["properties"]
            assert props.get("enableRbacAuthorization") is False, f"{vault.name}: Azure OpenAI needs a vault with legacy access policies"
            assert props.get("enableSoftDelete") and props.get("enablePurgeProtection"), f"{vault.name}: soft delete and purge protection are required"
            keys = _keys_in(plan, vault)
            assert keys and all(k.inputs["properties"]["kty"] in ("RSA", "RSA-HSM") and k.inputs["properties"]["keySize"] in OPENAI_KEY_SIZES for k in keys), [k.inputs["properties"] for k in keys]
        encryption = account.inputs["properties"].get("encryption")
        if encryption:
            kv = encryption["keyVaultProperties"]
            assert "identityClientId" not in kv, "user-assigned identities are not supported for Azure OpenAI CMK"
            vault = _vault_of_key_uri(plan, kv["keyVaultUri"])
            assert vault.inputs["properties"].get("enableRbacAuthorization") is False
            assert any(account.urn in p.dependencies for p in _of(plan, "azure-native:keyvault:AccessPolicy") if vault.urn in p.dependencies)


def test_openai_cmk_enabled_points_at_its_own_2048_key(make_variant: Callable[..., Path], plan_of: Callable[..., Plan]) -> None:
    """The second deploy (customerManagedKey: enabled) wires the encryption block."""
    plan = plan_of(make_variant("beta-azure", "beta-azure-openai-cmk", {"llm-platform:beta": {"azureOpenAI": {"customerManagedKey": "enabled"}}}))
    (account,) = _of(plan, "azure-native:cognitiveservices:Account")
    kv = account.inputs["properties"]["encryption"]["keyVaultProperties"]
    assert account.inputs["properties"]["encryption"]["keySource"] == "Microsoft.KeyVault"
    vault = _vault_of_key_uri(plan, kv["keyVaultUri"])
    assert vault.inputs["properties"]["enableRbacAuthorization"] is False
    (key,) = [k for k in _keys_in(plan, vault) if k.inputs["keyName"] == kv["keyName"]]
    assert key.inputs["properties"]["keySize"] in OPENAI_KEY_SIZES and "identityClientId" not in kv
    assert not any("warning" in w and "customerManagedKey is pending" in w for w in plan.warnings)


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_data_store_cmk_follows_each_service(case_id: str) -> None:
    plan = _plan(case_id)
    for server in _of(plan, PG_SERVER):
        enc = server.inputs["dataEncryption"]
        assert enc["type"] == "AzureKeyVault" and enc["primaryUserAssignedIdentityId"]
        # Versionless: .../keys/<name>, so rotations reach the server.
        assert re.fullmatch(r"https://[^/]+/keys/[^/]+", enc["primaryKeyURI"]), f"{server.name}: pinned key version {enc['primaryKeyURI']!r}"
        vault = _vault_of_key_uri(plan, enc["primaryKeyURI"])
        assert all(k.inputs["properties"]["keySize"] in DATA_KEY_SIZES for k in _keys_in(plan, vault))
        if server.inputs["backup"].get("geoRedundantBackup") == "Enabled":
            assert enc.get("geoBackupKeyURI") and enc.get("geoBackupUserAssignedIdentityId"), f"{server.name}: geo-redundant backup with a CMK needs geoBackupKeyURI and its identity"
            assert enc["geoBackupUserAssignedIdentityId"] != enc["primaryUserAssignedIdentityId"]
    for account in _of(plan, "azure-native:storage:StorageAccount"):
        enc = account.inputs["encryption"]
        assert enc["keySource"] == "Microsoft.Keyvault" and enc["encryptionIdentity"]["encryptionUserAssignedIdentity"]
        assert "keyVersion" not in enc["keyVaultProperties"], "storage follows key rotations only without a pinned keyVersion"
        vault = _vault_of_key_uri(plan, enc["keyVaultProperties"]["keyVaultUri"])
        assert all(k.inputs["properties"]["keySize"] in DATA_KEY_SIZES for k in _keys_in(plan, vault))
    for cluster in _of(plan, "azure-native:redisenterprise:RedisEnterprise"):
        cmk = cluster.inputs["encryption"]["customerManagedKeyEncryption"]
        # Azure Managed Redis: user-assigned identities only.
        assert cmk["keyEncryptionKeyIdentity"]["identityType"] == "userAssignedIdentity" and cluster.inputs["identity"]["type"] == "UserAssigned"
    for key in _of(plan, KEY):
        assert key.inputs["properties"]["kty"] in ("RSA", "RSA-HSM"), key.inputs["properties"]


# ------------------------------------------------------------------------------------ PostgreSQL


def _app_kind(case_id: str) -> str:
    return str(case_config(CASES[case_id])["config"]["llm-platform:poc"]["app"]["kind"])


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_postgres_extensions_cover_what_the_apps_create(case_id: str) -> None:
    plan = _plan(case_id)
    needed = APP_EXTENSIONS[_app_kind(case_id)]
    servers = _of(plan, PG_SERVER)
    assert servers
    for server in servers:
        configs = [c for c in _of(plan, PG_CHILDREN[0]) if server.urn in c.dependencies and c.inputs["configurationName"] == "azure.extensions"]
        assert len(configs) == 1, f"{server.name}: no azure.extensions allow-list"
        allowed = {e.strip().lower() for e in configs[0].inputs["value"].split(",")}
        assert needed <= allowed, f"{server.name}: azure.extensions {sorted(allowed)} misses {sorted(needed - allowed)}"


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_postgres_child_writes_are_serialized(case_id: str) -> None:
    """Flexible Server rejects concurrent configuration/database writes (ServerIsBusy)."""
    plan = _plan(case_id)
    for server in _of(plan, PG_SERVER):
        children = [c for t in PG_CHILDREN for c in _of(plan, t) if server.urn in c.dependencies]
        assert len(children) >= 2
        for i, a in enumerate(children):
            for b in children[i + 1:]:
                assert a.urn in _ancestors(plan, b) or b.urn in _ancestors(plan, a), f"{a.name} and {b.name} on {server.name} may be written in parallel"


# ----------------------------------------------------------------------------- Container Apps


def _secret_named(plan: Plan, url: str) -> RecordedResource:
    name = url.rstrip("/").rsplit("/secrets/", 1)[-1]
    (secret,) = [s for s in _of(plan, SECRET) if s.inputs["secretName"] == name]
    return secret


def _identities_of(plan: Plan, resource: RecordedResource) -> set[str]:
    return {r.urn for r in _depends_on_type(plan, resource, IDENTITY)}


def _readers(plan: Plan, secret: RecordedResource) -> list[RecordedResource]:
    name = secret.inputs["secretName"]
    return [r for r in _of(plan, ROLE) if r.inputs["roleDefinitionId"].endswith(SECRETS_USER) and secret.urn in r.dependencies and r.inputs["scope"].endswith(f"/secrets/{name}")]


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_container_apps_wait_for_each_secret_and_its_role_assignment(case_id: str) -> None:
    plan = _plan(case_id)
    apps = _of(plan, "azure-native:app:ContainerApp")
    assert apps
    for app in apps:
        identities = _identities_of(plan, app)
        for ref in app.inputs["configuration"].get("secrets", []):
            secret = _secret_named(plan, ref["keyVaultUrl"])
            assert secret.urn in app.dependencies, f"{app.name} does not wait for secret {secret.name}"
            grants = [g for g in _readers(plan, secret) if g.urn in app.dependencies and _identities_of(plan, g) & identities]
            assert grants, f"{app.name} does not wait for a Secrets User role of its own identity on {secret.inputs['secretName']}"
    for storage in _of(plan, "azure-native:app:ManagedEnvironmentsStorage"):
        url = storage.inputs["properties"]["azureFile"]["accountKeyVaultProperties"]["keyVaultUrl"]
        secret = _secret_named(plan, url)
        assert secret.urn in storage.dependencies and any(g.urn in storage.dependencies for g in _readers(plan, secret))


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_secret_readers_are_scoped_to_single_secrets(case_id: str) -> None:
    plan = _plan(case_id)
    vault_wide = [r.name for r in _of(plan, ROLE) if r.inputs["roleDefinitionId"].endswith(SECRETS_USER) and "/secrets/" not in r.inputs["scope"] and r.name != "secret-sync-reads-secrets"]
    assert not vault_wide, f"vault-wide Key Vault Secrets User assignments: {vault_wide}"


# ----------------------------------------------------------------------- diagnostics and network


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_every_data_resource_sends_its_logs_to_log_analytics(case_id: str) -> None:
    plan = _plan(case_id)
    settings = _of(plan, DIAGNOSTICS)
    for type_token in DATA_TYPES:
        for resource in _of(plan, type_token):
            own = [s for s in settings if resource.urn in s.dependencies and s.inputs["workspaceId"]]
            assert own, f"{resource.name} ({type_token}) has no diagnostic setting"
    for account in _of(plan, "azure-native:storage:StorageAccount"):
        logged = {s.inputs["resourceUri"].rsplit("/", 2)[-2] for s in settings if account.urn in s.dependencies and s.inputs.get("logs")}
        assert {"blobServices", "fileServices"} <= logged, f"{account.name}: storage logs live on the blob and file services; got {logged}"


def _get(inputs: dict[str, Any], path: str, key: str) -> Any:
    node = inputs.get(path, {}) if path else inputs
    return node.get(key)


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_no_public_data_plane(case_id: str) -> None:
    plan = _plan(case_id)
    beta_or_scale = case_id in BETA_SCALE_CASES
    for type_token, (path, key, closed) in PRIVATE_TYPES.items():
        if type_token != VAULT and not beta_or_scale:
            continue  # PoC: only the vault is held to it
        for resource in _of(plan, type_token):
            assert _get(resource.inputs, path, key) == closed, f"{resource.name}: {key} = {_get(resource.inputs, path, key)!r}"


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_endpoint_suffixes_come_from_the_cloud_table(case_id: str) -> None:
    plan = _plan(case_id)
    if plan.config.get("azure-native:environment", "public") != "china":
        pytest.skip("the public cloud's own suffixes")
    found = sorted({s for r in plan.resources for s in _strings(r.inputs) if any(suffix in s for suffix in PUBLIC_CLOUD_SUFFIXES)})
    found += sorted({s for s in _strings(plan.outputs) if any(suffix in s for suffix in PUBLIC_CLOUD_SUFFIXES)})
    assert not found, f"public-cloud endpoints in a China plan: {found[:5]}"


# --------------------------------------------------------------------------- refused combinations


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_refused_cases_are_refused_for_ai_search_only(case_id: str) -> None:
    """AI Search has no Entra-authenticated consumer (neither app can use it): refused, never unused."""
    engine = (case_config(CASES[case_id])["config"].get("llm-platform:beta") or {}).get("vectorStore", {}).get("engine")
    if engine == "ai-search":
        with pytest.raises(ConfigError) as exc:
            plan_for(case_id)
        assert "llm-platform:beta.vectorStore.engine = 'ai-search'" in str(exc.value)
    else:
        plan_for(case_id)


def test_geo_redundant_backup_with_the_cmk_is_refused(make_variant: Callable[..., Path], plan_of: Callable[..., Plan]) -> None:
    with pytest.raises(ConfigError, match=r"llm-platform:beta.vectorStore.geoRedundantBackup = 'enabled': .*paired region"):
        plan_of(make_variant("beta-azure", "beta-azure-geo", {"llm-platform:beta": {"vectorStore": {"geoRedundantBackup": "enabled"}}}))


# -------------------------------------------------------------------------- Azure OpenAI catalog

EU = BUILTIN_PROFILES["eu"]
US = BUILTIN_PROFILES["us"]
TODAY = dt.date(2026, 11, 30)


def test_catalog_refuses_a_sku_microsoft_does_not_offer_in_the_region() -> None:
    # Data Zone Standard lists text-embedding-3-large for US regions only (datazone-standard.md).
    with pytest.raises(DeploymentChoiceError) as exc:
        resolve_deployment("e", "text-embedding-3-large", "1", "DataZoneStandard", "swedencentral", EU, today=TODAY)
    assert exc.value.field == "sku" and "DataZoneStandard in centralus" in str(exc.value) and "Standard in " in str(exc.value)
    assert resolve_deployment("e", "text-embedding-3-large", "1", "Standard", "swedencentral", EU, today=TODAY).sku == "Standard"
    assert resolve_deployment("e", "text-embedding-3-large", "1", "DataZoneStandard", "eastus2", US, today=TODAY).sku == "DataZoneStandard"
    # A declared region never widens a catalogued row.
    with pytest.raises(DeploymentChoiceError):
        resolve_deployment("e", "text-embedding-3-large", "1", "DataZoneStandard", "swedencentral", EU, regions=["swedencentral"], today=TODAY)


def test_config_error_names_the_key_the_combination_and_where_it_is_offered(make_variant: Callable[..., Path], plan_of: Callable[..., Plan]) -> None:
    deployments = [{"name": "embeddings", "model": "text-embedding-3-large", "version": "1", "sku": "DataZoneStandard"}]
    with pytest.raises(ConfigError) as exc:
        plan_of(make_variant("beta-azure", "beta-azure-dz-embeddings", {"llm-platform:beta": {"azureOpenAI": {"deployments": deployments}}}))
    message = str(exc.value)
    assert "llm-platform:beta.azureOpenAI.deployments[0].sku = 'DataZoneStandard'" in message and "swedencentral" in message and "eastus" in message


def test_retired_versions_are_refused_and_near_retirements_warned() -> None:
    with pytest.raises(DeploymentChoiceError) as exc:
        resolve_deployment("c", "gpt-4o", "2024-11-20", "Standard", "swedencentral", EU, today=dt.date(2026, 10, 1))
    assert exc.value.field == "version" and "retired on 2026-10-01" in str(exc.value) and "gpt-5.1" in str(exc.value)
    assert resolve_deployment("c", "gpt-4o", "2024-11-20", "Standard", "swedencentral", EU, today=dt.date(2026, 9, 30)).version == "2024-11-20"
    assert retirement_warning("gpt-4o", "2024-11-20", dt.date(2026, 9, 1)) is not None
    assert retirement_warning("gpt-4o", "2024-11-20", dt.date(2026, 6, 1)) is None  # 122 days out
    assert retirement_warning("gpt-5.1", "2025-11-13", TODAY) is None


def test_example_deployments_are_current() -> None:
    """The example stacks deploy today: no retired version, no warning."""
    for case_id in ("beta-azure", "scale-azure"):
        plan = plan_for(case_id)
        assert not [w for w in plan.warnings if "retire" in w], plan.warnings
        assert json.dumps(plan.outputs.get("azureOpenAIDeployments"))
