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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.azure.openai_catalog import DeploymentChoiceError, resolve_deployment, retirement_warning
from policies.llm_guard.profiles import BUILTIN_PROFILES
from scripts.engine import Plan, RecordedResource
from scripts.engine.mocks import MOCK_KUBELET_OBJECT_ID
from stacks.errors import ConfigError
from tests.plan_matrix import AZURE_CASES, CASES, PHASE, case_config, plan_for, strings_in

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


BETA_SCALE_CASES = tuple(c for c in AZURE_CASES if PHASE[c] != "poc")
# Beta may serve API models only (beta.apiModels): these cases configure Azure OpenAI.
AZURE_OPENAI_CASES = tuple(c for c in BETA_SCALE_CASES if (case_config(CASES[c])["config"].get("llm-platform:beta") or {}).get("azureOpenAI"))


# ------------------------------------------------------------------------ customer-managed keys


@pytest.mark.parametrize("case_id", AZURE_OPENAI_CASES)
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
    vault_wide = [r.name for r in _of(plan, ROLE) if r.inputs["roleDefinitionId"].endswith(SECRETS_USER) and "/secrets/" not in r.inputs["scope"]]
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



@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_endpoint_suffixes_come_from_the_cloud_table(case_id: str) -> None:
    plan = _plan(case_id)
    if plan.config.get("azure-native:environment", "public") != "china":
        pytest.skip("the public cloud's own suffixes")
    found = sorted({s for r in plan.resources for s in strings_in(r.inputs) if any(suffix in s for suffix in PUBLIC_CLOUD_SUFFIXES)})
    found += sorted({s for s in strings_in(plan.outputs) if any(suffix in s for suffix in PUBLIC_CLOUD_SUFFIXES)})
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


def test_a_model_without_a_catalogued_family_is_refused_even_with_regions() -> None:
    """`regions` says where a model is served, not whether the gateway must call it as a
    reasoning model or with which API version."""
    with pytest.raises(DeploymentChoiceError) as refused:
        resolve_deployment("c", "gpt-9", "2030-01-01", "Standard", "swedencentral", EU, regions=["swedencentral"], today=TODAY)
    assert refused.value.field == "model" and "model family" in str(refused.value)


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


# ------------------------------------------------------------------ second pre-deploy review

BUDGET = "azure-native:consumption:Budget"
MANAGED_ENV = "azure-native:app:ManagedEnvironment"
CONTAINER_APP = "azure-native:app:ContainerApp"
ZONE = "azure-native:privatedns:PrivateZone"
ZONE_LINK = "azure-native:privatedns:VirtualNetworkLink"
RECORD_SET = "azure-native:privatedns:PrivateRecordSet"
CLUSTER = "azure-native:containerservice:ManagedCluster"
SCALE_AZURE_CASES = tuple(c for c in AZURE_CASES if PHASE[c] == "scale")
# "Budget can have up to five notifications" (Microsoft.Consumption budgets API 2024-08-01, the
# `notifications` docstring of pulumi_azure_native 3.29.0 consumption/budget.py).
AZURE_BUDGET_NOTIFICATIONS = 5


def _budget_config(case_id: str) -> dict[str, Any]:
    return case_config(CASES[case_id])["config"]["llm-platform:budget"]


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_budgets_fit_azure_notification_limit(case_id: str) -> None:
    """Every threshold keeps its Actual alert; Forecasted alerts only fill the slots left, and
    the 100% forecast comes first."""
    plan = _plan(case_id)
    thresholds = set(_budget_config(case_id).get("thresholds", [80, 100]))
    (budget,) = _of(plan, BUDGET)
    notes = list(budget.inputs["notifications"].values())
    assert len(notes) <= AZURE_BUDGET_NOTIFICATIONS, f"{budget.name}: {len(notes)} notifications; Azure accepts {AZURE_BUDGET_NOTIFICATIONS}"
    assert {n["threshold"] for n in notes if n["thresholdType"] == "Actual"} == thresholds
    if len(thresholds) < AZURE_BUDGET_NOTIFICATIONS:
        assert any(n["thresholdType"] == "Forecasted" and n["threshold"] == 100 for n in notes), notes


def test_budget_with_five_thresholds_keeps_the_actual_alerts() -> None:
    from components.azure.budget import budget_notifications

    five = budget_notifications([50, 80, 100, 120, 150])
    assert len(five) == AZURE_BUDGET_NOTIFICATIONS and all(kind == "Actual" for kind, _ in five)
    assert budget_notifications([80]) == [("Actual", 80), ("Forecasted", 100), ("Forecasted", 80)]


# PoC -> Beta promotion: what replaces an Azure resource, and whether the replacement can exist
# next to the old one. Pulumi creates a replacement before deleting the old resource unless the
# resource has deleteBeforeReplace, so a replacement must have another ARM resource ID (its name
# and parent names) or delete first. scripts/data/replacements.yaml holds the replace-on paths;
# these create-only inputs are not in it yet: ContainerApp.managedEnvironmentId is
# x-ms-mutability [create, read] (azure-rest-api-specs Microsoft.App ContainerApps.json), and a
# ManagedEnvironmentsStorage's ID holds its environment's name.
CREATE_ONLY_EXTRA = {
    CONTAINER_APP: ("managedEnvironmentId",),
    "azure-native:app:ManagedEnvironmentsStorage": ("environmentName", "storageName", "resourceGroupName"),
}


def _name_inputs(resource: RecordedResource) -> dict[str, Any]:
    """The ARM ID parts an input names: the resource group and every `...Name` input."""
    return {k: v for k, v in resource.inputs.items() if k.endswith("Name") or k == "resourceName"}


def _replace_paths(type_token: str) -> tuple[str, ...]:
    from scripts.ops.diff import replacement_paths

    return (*replacement_paths().get(type_token, ()), *CREATE_ONLY_EXTRA.get(type_token, ()))


def _replaced_without_room(before: Plan, after: Plan) -> list[str]:
    """Offline, an input fed by another resource's output (unknown, or an ID the mocks predict
    from the logical name) looks unchanged when that resource is replaced: such a resource is
    also replaced when a replace-on input is fed that way and a resource it depends on is
    replaced, and also renamed when such a name input may come from a renamed one."""
    from policies.llm_guard.location import is_unknown
    from scripts.ops.diff import diff_graphs

    old = _by_urn(before)
    diffs = {d.urn: d for d in diff_graphs(before.to_json(), after.to_json()).resources}

    def fed(value: Any) -> bool:
        return is_unknown(value) or (isinstance(value, str) and value.startswith("/subscriptions/"))

    replaced: set[str] = set()
    renamed: set[str] = set()
    problems = []
    for res in after.resources:  # registration order: dependencies first
        if res.urn not in old or not res.custom:
            continue
        paths = _replace_paths(res.type)
        changed = [c.path for c in diffs[res.urn].changes] if res.urn in diffs else []
        direct = any(c.split(".")[0].split("[")[0] in paths for c in changed) or (res.urn in diffs and diffs[res.urn].action == "replace")
        replaced_deps = [d for d in res.dependencies if d in replaced]
        via_dependency = bool(replaced_deps) and any(fed(res.inputs.get(p)) for p in paths)
        if not (direct or via_dependency):
            continue
        replaced.add(res.urn)
        names_before, names_after = _name_inputs(old[res.urn]), _name_inputs(res)
        new_name = names_before != names_after or (any(fed(v) for v in names_after.values()) and any(d in renamed for d in replaced_deps))
        if new_name:
            renamed.add(res.urn)
        elif not res.delete_before_replace:
            problems.append(f"{res.name} ({res.type}) is replaced ({changed[:3] or 'through ' + str([d.rsplit('::', 1)[-1] for d in replaced_deps])}) under the same name without deleteBeforeReplace")
    return problems


@pytest.mark.parametrize("app", ["flowise", "dify"])
def test_poc_to_beta_promotion_replaces_only_under_new_names(app: str, make_variant: Callable[..., Path], plan_of: Callable[..., Plan]) -> None:
    kind = {"llm-platform:poc": {"app": {"kind": app}}}
    poc = make_variant("poc-azure", f"promote-poc-azure-{app}", kind)
    beta = make_variant("beta-azure", f"promote-beta-azure-{app}", kind)
    before, after = plan_of(poc, "promoted-azure"), plan_of(beta, "promoted-azure")
    envs = {r.urn: r for r in _of(after, MANAGED_ENV)}
    assert any(not r.inputs["vnetConfiguration"].get("internal") for r in _of(before, MANAGED_ENV)) and all(e.inputs["vnetConfiguration"]["internal"] for e in envs.values())
    problems = _replaced_without_room(before, after)
    assert not problems, "; ".join(problems)
    # Pulumi creates a replacement before it deletes the original, and a subnet hosts one
    # Container Apps environment (learn.microsoft.com/azure/container-apps/networking): the
    # replacement needs another subnet, and the original's subnet must stay in the VNet until
    # the original is gone.
    old_envs = {r.urn: r for r in _of(before, MANAGED_ENV)}
    after_subnets = {name for vnet in _of(after, VNET) for name in _subnets(vnet)}
    for urn, env in envs.items():
        old = old_envs.get(urn)
        if old is None or _name_inputs(old) == _name_inputs(env):
            continue
        old_subnet, new_subnet = _environment_subnet(old), _environment_subnet(env)
        assert new_subnet != old_subnet, f"{env.name}: the replacement environment lands in {old_subnet}, which {old.inputs['environmentName']} still occupies"
        assert old_subnet.rsplit("/", 1)[-1] in after_subnets, f"{old_subnet} leaves the VNet while {old.inputs['environmentName']} still occupies it"


VNET = "azure-native:network:VirtualNetwork"
# A workload-profiles environment (every environment here declares workload profiles) needs a
# subnet of at least /27 delegated to Microsoft.App/environments (learn.microsoft.com/azure/
# container-apps/networking, "Environment selection" and "Subnet", read 2026-11-30).
WORKLOAD_PROFILES_MAX_PREFIX = 27


def _environment_subnet(env: RecordedResource) -> str:
    return str(env.inputs["vnetConfiguration"]["infrastructureSubnetId"])


def _subnets(vnet: RecordedResource) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in vnet.inputs.get("subnets", [])}


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_each_environment_has_its_own_delegated_subnet(case_id: str) -> None:
    plan = _plan(case_id)
    vnets = {v.inputs["virtualNetworkName"]: v for v in _of(plan, VNET)}
    users: dict[str, list[str]] = {}
    for env in _of(plan, MANAGED_ENV):
        subnet_id = _environment_subnet(env)
        vnet_name, subnet_name = re.fullmatch(r".*/virtualNetworks/([^/]+)/subnets/([^/]+)", subnet_id).groups()  # type: ignore[union-attr]
        subnet = _subnets(vnets[vnet_name]).get(subnet_name)
        assert subnet is not None, f"{env.name}: subnet {subnet_name} is not in {vnet_name}"
        assert [d["serviceName"] for d in subnet.get("delegations", [])] == ["Microsoft.App/environments"], subnet
        assert env.inputs.get("workloadProfiles"), f"{env.name}: the /27 minimum holds for workload-profiles environments only"
        assert int(subnet["addressPrefix"].split("/")[1]) <= WORKLOAD_PROFILES_MAX_PREFIX, subnet
        users.setdefault(subnet_id, []).append(env.name)
    node_subnets = {str(p.get("vnetSubnetID")) for c in _of(plan, CLUSTER) for p in c.inputs.get("agentPoolProfiles", [])}
    node_subnets |= {str(p.inputs.get("vnetSubnetID")) for p in _of(plan, "azure-native:containerservice:AgentPool")}
    shared = {s: names for s, names in users.items() if len(names) > 1 or s in node_subnets}
    assert not shared, f"environment subnets shared with another environment or AKS nodes: {shared}"


@pytest.mark.parametrize("case_id", SCALE_AZURE_CASES)
def test_container_insights_has_a_data_collection_rule_on_the_cluster(case_id: str) -> None:
    """omsagent with useAADAuth sends nothing without a DCR (Container Insights streams -> the
    workspace) associated with the cluster (microsoft/Docker-Provider onboarding-msi-terraform)."""
    plan = _plan(case_id)
    by_urn = _by_urn(plan)
    for cluster in _of(plan, CLUSTER):
        oms = cluster.inputs["addonProfiles"]["omsagent"]
        if not oms.get("enabled"):
            continue
        workspace = oms["config"]["logAnalyticsWorkspaceResourceID"]
        associations = [a for a in _of(plan, "azure-native:monitor:DataCollectionRuleAssociation") if cluster.urn in a.dependencies]
        assert associations, f"{cluster.name}: no data collection rule association"
        for association in associations:
            (rule,) = [by_urn[u] for u in association.dependencies if by_urn.get(u) and by_urn[u].type == "azure-native:monitor:DataCollectionRule"]
            (destination,) = rule.inputs["destinations"]["logAnalytics"]
            assert destination["workspaceResourceId"] == workspace
            (flow,) = rule.inputs["dataFlows"]
            (extension,) = rule.inputs["dataSources"]["extensions"]
            assert extension["extensionName"] == "ContainerInsights" and flow["destinations"] == [destination["name"]]
            assert {"Microsoft-ContainerLogV2", "Microsoft-KubePodInventory", "Microsoft-Perf"} <= set(flow["streams"]) == set(extension["streams"])


def _synced_secret_names(plan: Plan) -> set[str]:
    return {
        d["remoteRef"]["key"]
        for r in plan.resources
        if r.type.startswith("kubernetes:") and "ExternalSecret" in r.type
        for d in (r.inputs.get("spec") or {}).get("data", [])
    }


@pytest.mark.parametrize("case_id", SCALE_AZURE_CASES)
def test_secret_sync_reads_exactly_the_secrets_it_syncs(case_id: str) -> None:
    plan = _plan(case_id)
    synced = _synced_secret_names(plan)
    assert synced, "the cluster syncs the gateway's secrets"
    sync_identity = next(i for i in _of(plan, IDENTITY) if i.name == "secret-sync-identity")
    readable = {g.inputs["scope"].rsplit("/secrets/", 1)[-1] for g in _of(plan, ROLE) if sync_identity.urn in g.dependencies and g.inputs["roleDefinitionId"].endswith(SECRETS_USER)}
    assert readable == synced, f"External Secrets may read {sorted(readable)}; it syncs {sorted(synced)}"


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_postgres_waits_for_its_private_zone_link(case_id: str) -> None:
    plan = _plan(case_id)
    zones = {z.urn: z for z in _of(plan, ZONE)}
    for server in _of(plan, PG_SERVER):
        (zone,) = [z for z in zones.values() if z.urn in _ancestors(plan, server) and "postgres" in z.inputs["privateZoneName"]]
        links = [link for link in _of(plan, ZONE_LINK) if zone.urn in link.dependencies and link.urn in server.dependencies]
        assert links, f"{server.name} does not wait for the VNet link of {zone.inputs['privateZoneName']}"


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_internal_environment_app_names_resolve_in_the_vnet(case_id: str) -> None:
    """An internal environment publishes no DNS (learn.microsoft.com/azure/container-apps/
    networking#dns): a private zone named after its default domain, `*` A -> its static IP,
    linked to the VNet of its subnet."""
    plan = _plan(case_id)
    for env in _of(plan, MANAGED_ENV):
        if not env.inputs["vnetConfiguration"].get("internal"):
            continue
        # Its name is the environment's default domain, so the zone depends on the environment.
        zones = [z for z in _of(plan, ZONE) if env.urn in z.dependencies]
        assert len(zones) == 1, f"{env.name}: no private zone for its default domain"
        zone = zones[0]
        records = [r for r in _of(plan, RECORD_SET) if zone.urn in r.dependencies and env.urn in r.dependencies]
        assert any(r.inputs["relativeRecordSetName"] == "*" and r.inputs["recordType"] == "A" and r.inputs["aRecords"] for r in records), [r.inputs for r in records]
        vnet = env.inputs["vnetConfiguration"]["infrastructureSubnetId"].rsplit("/subnets/", 1)[0]
        assert any(zone.urn in link.dependencies and link.inputs["virtualNetwork"]["id"] == vnet for link in _of(plan, ZONE_LINK)), f"{env.name}: zone not linked to {vnet}"


# Consumption workload profile: per container 0.25-vCPU steps with 2 GiB per vCPU, per app at most
# 4 vCPU / 8 GiB (learn.microsoft.com/azure/container-apps/containers#allocations). Memory floors
# from the app review: Dify's plugin daemon >= 1 GiB, worker and API >= 1.5 GiB.
MEMORY_FLOOR_GIB = {"plugin-daemon": 1.0, "worker": 1.5, "api": 1.5}


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_container_resources_are_consumption_pairs_sized_by_memory(case_id: str) -> None:
    plan = _plan(case_id)
    for app in _of(plan, CONTAINER_APP):
        total = 0.0
        for container in app.inputs["template"]["containers"]:
            cpu, memory = float(container["resources"]["cpu"]), container["resources"]["memory"]
            assert cpu * 4 == int(cpu * 4) and 0.25 <= cpu <= 4, f"{app.name}/{container['name']}: cpu {cpu}"
            assert memory == f"{cpu * 2:g}Gi", f"{app.name}/{container['name']}: {cpu} vCPU needs {cpu * 2:g}Gi, got {memory}"
            assert cpu * 2 >= MEMORY_FLOOR_GIB.get(container["name"], 0), f"{app.name}/{container['name']}: {memory} is below its memory floor"
            total += cpu
        assert total <= 4, f"{app.name}: {total} vCPU in one Consumption app"


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_role_assignments_name_the_principal_type_of_their_principal(case_id: str) -> None:
    """UnmatchedPrincipalType otherwise: identities of the stack are service principals,
    configured admin groups are groups, the CI preview principal is a service principal."""
    from components.azure.aks import deployer_principal_type

    plan = _plan(case_id)
    scale = case_config(CASES[case_id])["config"].get("llm-platform:scale") or {}
    groups, preview = set(scale.get("clusterAdmins", [])), scale.get("previewPrincipal")
    by_urn = _by_urn(plan)
    for grant in _of(plan, ROLE):
        kind = grant.inputs.get("principalType")
        assert kind, f"{grant.name}: principalType not set"
        from_stack = any(by_urn[u].type in (IDENTITY, "azure-native:cognitiveservices:Account") for u in grant.dependencies if u in by_urn)
        # The AKS kubelet identity (a managed identity the cluster creates) pulls from a registry mirror.
        from_stack = from_stack or grant.inputs["principalId"] == MOCK_KUBELET_OBJECT_ID
        if from_stack:
            expected = "ServicePrincipal"
        elif grant.inputs["principalId"] in groups:
            expected = "Group"
        elif grant.inputs["principalId"] == preview:
            expected = "ServicePrincipal"
        else:
            expected = deployer_principal_type()[0]
        assert kind == expected, f"{grant.name}: principalType {kind}, its principal is a {expected}"


def test_deployer_grant_is_a_service_principal_under_ci_login(monkeypatch: pytest.MonkeyPatch, make_variant: Callable[..., Path], plan_of: Callable[..., Plan]) -> None:
    """CI logs in with OIDC as a service principal; the deployer's cluster-admin grant follows."""
    monkeypatch.setenv("ARM_USE_OIDC", "true")
    plan = plan_of(make_variant("scale-azure", "scale-azure-oidc", {}))
    (grant,) = [g for g in _of(plan, ROLE) if g.name == "aks-deployer-admin"]
    assert grant.inputs["principalType"] == "ServicePrincipal" and "ARM_USE_OIDC" in grant.inputs["description"]


@pytest.mark.parametrize("case_id", SCALE_AZURE_CASES)
def test_gpu_pools_cordon_nodes_a_pdb_keeps_from_draining(case_id: str) -> None:
    plan = _plan(case_id)
    pools = [p for p in _of(plan, "azure-native:containerservice:AgentPool") if p.inputs.get("mode") == "User"]
    assert pools
    for pool in pools:
        settings = pool.inputs.get("upgradeSettings") or {}
        assert settings.get("undrainableNodeBehavior") == "Cordon" and settings.get("drainTimeoutInMinutes"), f"{pool.name}: {settings}"
        assert settings.get("maxSurge") not in (None, "0", "0%"), f"{pool.name}: Cordon replaces blocked nodes with surge nodes; maxSurge {settings.get('maxSurge')!r}"


@pytest.mark.parametrize("case_id", AZURE_CASES)
def test_storage_shared_keys_only_where_a_file_mount_needs_them(case_id: str) -> None:
    """Blob users authenticate with managed identity; only Container Apps file mounts need the key."""
    plan = _plan(case_id)
    for account in _of(plan, "azure-native:storage:StorageAccount"):
        shares = [s for s in _of(plan, "azure-native:storage:FileShare") if account.urn in s.dependencies]
        assert account.inputs.get("allowSharedKeyAccess") is bool(shares), f"{account.name}: shared-key access {account.inputs.get('allowSharedKeyAccess')} with {len(shares)} file share(s)"


@pytest.mark.parametrize("case_id", [c for c in AZURE_CASES if _app_kind(c) == "dify"])
def test_dify_plugin_hooks_are_called_back_over_https(case_id: str) -> None:
    """Container Apps terminate TLS at the ingress, so nginx's $scheme is http: hook URLs must be https."""
    texts = [json.dumps(r.inputs) for r in _of(_plan(case_id), "azure-native:app:ContainerApp")]
    hooks = [t for t in texts if "Dify-Hook-Url" in t]
    assert hooks and all("Dify-Hook-Url https://$host" in t and "Dify-Hook-Url $scheme" not in t for t in hooks)


# ------------------------------------------------------------------------ gateway -> Azure OpenAI

OPENAI_DEPLOYMENT = "azure-native:cognitiveservices:Deployment"
# Data-plane API versions Microsoft documents per model, written here independently of the
# catalog. GPT-5 series reasoning models: `v1` only ("Azure OpenAI reasoning models", API &
# feature support, API Version row; MicrosoftDocs/azure-ai-docs articles/foundry/openai/how-to/
# reasoning.md, read 2026-11-30). Other chat and embedding models: GA 2024-10-21 or v1
# (learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle).
REASONING_MODELS = {"gpt-5.1", "gpt-5", "gpt-5-mini"}
DATED_GA = {"2024-10-21", "v1"}
API_VERSIONS = {
    **{m: {"v1"} for m in REASONING_MODELS},
    **{m: DATED_GA for m in ("gpt-4.1", "gpt-4.1-mini", "gpt-4o", "gpt-4o-mini")},
    **{m: DATED_GA for m in ("text-embedding-3-large", "text-embedding-3-small", "text-embedding-ada-002")},
}


def _gateway_configs(plan: Plan) -> list[dict[str, Any]]:
    """Every LiteLLM config.yaml of the plan: the Scale ConfigMap and the Beta Container App env."""
    import yaml

    texts = [r.inputs["data"]["config.yaml"] for r in _of(plan, "kubernetes:core/v1:ConfigMap") if r.inputs["metadata"]["name"] == "litellm-config"]
    for app in _of(plan, CONTAINER_APP):
        for container in app.inputs.get("template", {}).get("containers", []):
            texts += [e["value"] for e in container.get("env", []) if e.get("name") == "LITELLM_CONFIG"]
    return [yaml.safe_load(t) for t in texts]


def _azure_routes(plan: Plan) -> list[tuple[dict[str, Any], str]]:
    """(model_list entry, model the deployment serves) for every route to an Azure OpenAI deployment."""
    models = {d.inputs["deploymentName"]: d.inputs["properties"]["model"]["name"] for d in _of(plan, OPENAI_DEPLOYMENT)}
    routes = []
    for config in _gateway_configs(plan):
        for entry in config["model_list"]:
            model = entry["litellm_params"]["model"]
            if model.startswith("azure/"):
                routes.append((entry, models[model.rsplit("/", 1)[-1]]))
    return routes


@pytest.mark.parametrize("case_id", AZURE_OPENAI_CASES)
def test_azure_openai_routes_use_an_api_version_of_their_model_and_declare_reasoning_models(case_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the price list
    from litellm.llms.azure.chat.gpt_5_transformation import AzureOpenAIGPT5Config

    routes = _azure_routes(_plan(case_id))
    assert routes, "the gateway routes to no Azure OpenAI deployment"
    for entry, model in routes:
        params = entry["litellm_params"]
        assert model in API_VERSIONS, f"{model}: no documented API versions in this test's table"
        assert params.get("api_version") in API_VERSIONS[model], f"{entry['model_name']} ({model}) is called with api_version {params.get('api_version')}; Microsoft documents {sorted(API_VERSIONS[model])}"
        # LiteLLM picks its GPT-5 request shape from base_model (else the deployment name).
        base_model = entry.get("model_info", {}).get("base_model") or params.get("base_model")
        assert base_model is None or base_model.removeprefix("azure/") == model, f"{entry['model_name']}: base_model {base_model} but the deployment serves {model}"
        detected = base_model or params["model"]
        assert AzureOpenAIGPT5Config.is_model_gpt_5_model(detected) == (model in REASONING_MODELS), f"{entry['model_name']} serves {model}, but LiteLLM sees {detected}"


@pytest.mark.timeout(120)
def test_litellm_sends_a_reasoning_request_to_the_v1_api(plan_of: Callable[..., Plan], monkeypatch: pytest.MonkeyPatch) -> None:
    """The real LiteLLM router, with the beta-azure gateway's model list, against a fake Azure
    OpenAI endpoint: a client's max_tokens and temperature reach a GPT-5.1 deployment as
    max_completion_tokens on /openai/v1 (an API key stands in for the Entra token here)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the price list
    import litellm

    seen: list[tuple[str, dict[str, Any]]] = []

    class FakeAzure(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            seen.append((self.path, json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")))
            usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
            data = json.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "gpt-5.1", "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}], "usage": usage}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAzure)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        plan = plan_of("beta-azure")
        reasoning = [(e, m) for e, m in _azure_routes(plan) if m in REASONING_MODELS]
        assert reasoning, "beta-azure routes to no reasoning deployment"
        (config,) = _gateway_configs(plan)
        model_list = [
            {**entry, "litellm_params": {**entry["litellm_params"], "api_base": f"http://127.0.0.1:{server.server_address[1]}", "api_key": "offline"}}
            for entry, _ in reasoning
        ]
        monkeypatch.setattr(litellm, "drop_params", bool(config["litellm_settings"].get("drop_params")))
        router = litellm.Router(model_list=model_list)
        for entry, model in reasoning:
            seen.clear()
            router.completion(model=entry["model_name"], messages=[{"role": "user", "content": "hi"}], max_tokens=8)
            # With reasoning on, sampling parameters are refused (Microsoft's "Not Supported" list);
            # gpt-5.1 reasons only when asked (its reasoning_effort defaults to none).
            router.completion(model=entry["model_name"], messages=[{"role": "user", "content": "hi"}], max_tokens=8, temperature=0.2, reasoning_effort="medium")
            for path, body in seen:
                assert path.startswith("/openai/v1/chat/completions"), path
                assert body["model"] == entry["litellm_params"]["model"].removeprefix("azure/")
                assert body.get("max_completion_tokens") == 8 and "max_tokens" not in body, f"{model}: {body}"
            assert seen[1][1].get("reasoning_effort") == "medium" and "temperature" not in seen[1][1], f"{model}: {seen[1][1]}"
    finally:
        server.shutdown()
        server.server_close()
