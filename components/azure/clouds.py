"""Per-cloud DNS names, login hosts and built-in role ids: one table for Azure public, China
(operated by 21Vianet) and US Gov.

Sources (read 2026-11-30):
- Private DNS zones: "Azure Private Endpoint private DNS zone values", the public, Government and
  China tables (docs.azure.cn/en-us/private-link/private-endpoint-dns for the China cloud; same
  tables in MicrosoftDocs/azure-docs articles/private-link/private-endpoint-dns.md, ms.date
  10/11/2023). The China table lists: vault -> privatelink.vaultcore.azure.cn, blob/file ->
  privatelink.{blob,file}.core.chinacloudapi.cn, Azure Cache for Redis (redisCache) ->
  privatelink.redis.cache.chinacloudapi.cn. It lists neither Azure AI services nor Azure AI
  Search nor Azure Managed Redis (Microsoft.Cache/redisEnterprise): the China values for those
  two services below follow the services' China hosts (*.openai.azure.cn, *.search.azure.cn) and
  are marked (verify) until docs.azure.cn lists them.
- Login and token hosts: docs.azure.cn "Azure China developer guide" (developer notes): Entra ID
  login.chinacloudapi.cn, Key Vault *.vault.azure.cn, storage *.core.chinacloudapi.cn, Azure
  OpenAI / Cognitive Services *.openai.azure.cn / cognitiveservices.azure.cn.
- PostgreSQL Flexible Server private DNS zone: the zone of a VNet-integrated server must end in
  `.postgres.database.azure.com` on the public cloud (learn.microsoft.com/azure/postgresql/
  flexible-server/concepts-networking-private); the China cloud's servers are
  <name>.postgres.database.chinacloudapi.cn (docs.azure.cn developer notes), so its zone ends in
  `.postgres.database.chinacloudapi.cn` (verify: the China page's wording was not available offline).
- Built-in role ids: learn.microsoft.com "Azure built-in roles" (the same GUIDs in every cloud).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

# Which Redis service Dify gets in a cloud: Azure Managed Redis (Microsoft.Cache/redisEnterprise)
# or Azure Cache for Redis (Microsoft.Cache/redis).
AppRedis = Literal["redisEnterprise", "redisCache"]


@dataclass(frozen=True)
class AzureCloudNames:
    key_vault: str
    blob: str
    file: str
    postgres_private_zone: str
    private_zones: dict[str, str | None]  # private endpoint group id -> privatelink zone (None = not offered)
    openai: str
    search: str  # AI Search endpoints: https://<service>.<search>
    authority_host: str  # Entra ID: where azure-identity gets tokens (AZURE_AUTHORITY_HOST)
    cognitive_services: str  # Entra token audience of Azure OpenAI: https://<this>/.default
    # The Redis service the app uses in this cloud (None: neither is offered or documented).
    app_redis: AppRedis | None
    # Host suffixes that belong to this cloud only: a plan for another cloud must name none.
    own_host_suffixes: tuple[str, ...]


CLOUDS: Final[dict[str, AzureCloudNames]] = {
    "public": AzureCloudNames(
        key_vault="vault.azure.net",
        blob="blob.core.windows.net",
        file="file.core.windows.net",
        postgres_private_zone="private.postgres.database.azure.com",
        private_zones={
            "vault": "privatelink.vaultcore.azure.net",
            "blob": "privatelink.blob.core.windows.net",
            "file": "privatelink.file.core.windows.net",
            "redisEnterprise": "privatelink.redis.azure.net",
            "redisCache": "privatelink.redis.cache.windows.net",
            "account": "privatelink.openai.azure.com",
            "searchService": "privatelink.search.windows.net",
        },
        openai="openai.azure.com",
        search="search.windows.net",
        authority_host="login.microsoftonline.com",
        cognitive_services="cognitiveservices.azure.com",
        app_redis="redisEnterprise",
        own_host_suffixes=("windows.net", "azure.com", "azure.net", "microsoftonline.com", "azurecr.io", "azmk8s.io"),
    ),
    "china": AzureCloudNames(
        key_vault="vault.azure.cn",
        blob="blob.core.chinacloudapi.cn",
        file="file.core.chinacloudapi.cn",
        postgres_private_zone="private.postgres.database.chinacloudapi.cn",
        private_zones={
            "vault": "privatelink.vaultcore.azure.cn",
            "blob": "privatelink.blob.core.chinacloudapi.cn",
            "file": "privatelink.file.core.chinacloudapi.cn",
            # Azure Managed Redis: not in the China DNS table nor documented on docs.azure.cn.
            "redisEnterprise": None,
            # Azure Cache for Redis: China DNS table; private endpoints on Basic/Standard/Premium
            # (docs.azure.cn/en-us/azure-cache-for-redis/cache-private-link).
            "redisCache": "privatelink.redis.cache.chinacloudapi.cn",
            "account": "privatelink.openai.azure.cn",  # (verify): not in the China DNS table
            "searchService": "privatelink.search.azure.cn",  # (verify): not in the China DNS table
        },
        openai="openai.azure.cn",
        # docs.azure.cn "Azure AI Search" developer notes: *.search.azure.cn
        search="search.azure.cn",
        authority_host="login.chinacloudapi.cn",
        cognitive_services="cognitiveservices.azure.cn",
        app_redis="redisCache",
        own_host_suffixes=("chinacloudapi.cn", "azure.cn", "azurecr.cn"),
    ),
    "usgovernment": AzureCloudNames(
        key_vault="vault.usgovcloudapi.net",
        blob="blob.core.usgovcloudapi.net",
        file="file.core.usgovcloudapi.net",
        postgres_private_zone="private.postgres.database.usgovcloudapi.net",
        private_zones={
            "vault": "privatelink.vaultcore.usgovcloudapi.net",
            "blob": "privatelink.blob.core.usgovcloudapi.net",
            "file": "privatelink.file.core.usgovcloudapi.net",
            "redisEnterprise": None,
            "redisCache": "privatelink.redis.cache.usgovcloudapi.net",
            "account": "privatelink.openai.azure.us",
            "searchService": "privatelink.search.windows.us",
        },
        openai="openai.azure.us",
        search="search.azure.us",
        authority_host="login.microsoftonline.us",
        cognitive_services="cognitiveservices.azure.us",
        app_redis="redisCache",
        own_host_suffixes=("usgovcloudapi.net", "azure.us", "microsoftonline.us", "windows.us", "azurecr.us"),
    ),
}


def app_redis_zone(names: AzureCloudNames) -> tuple[str, str] | None:
    """The private endpoint group id and privatelink zone of the app's Redis in a cloud."""
    if names.app_redis is None:
        return None
    zone = names.private_zones.get(names.app_redis)
    return (names.app_redis, zone) if zone else None


def identity_env(names: AzureCloudNames) -> dict[str, str]:
    """What azure-identity needs outside the public cloud: its default authority is
    login.microsoftonline.com (azure-identity reads AZURE_AUTHORITY_HOST; AzureAuthorityHosts)."""
    return {} if names.authority_host == "login.microsoftonline.com" else {"AZURE_AUTHORITY_HOST": f"https://{names.authority_host}"}


# Built-in role definition ids (GUIDs are the same in every Azure cloud).
ROLE_KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
ROLE_KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
ROLE_COGNITIVE_SERVICES_OPENAI_USER = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
ROLE_SEARCH_INDEX_DATA_CONTRIBUTOR = "8ebe5a00-799e-43f5-93ac-243d3dce84a7"
ROLE_SEARCH_SERVICE_CONTRIBUTOR = "7ca78c08-252a-4471-8644-bb5ff32d4ba0"
