"""Per-cloud DNS names and built-in role ids: one table for Azure public, China and US Gov.

Sources: learn.microsoft.com "Azure Private Endpoint private DNS zone values" and "Azure
built-in roles"; Azure China docs "Developer notes" for the *.cn suffixes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class AzureCloudNames:
    key_vault: str
    blob: str
    file: str
    postgres_private_zone: str
    private_zones: dict[str, str | None]  # service -> privatelink zone (None = not offered)
    openai: str
    search: str  # AI Search endpoints: https://<service>.<search>


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
            "account": "privatelink.openai.azure.com",
            "searchService": "privatelink.search.windows.net",
        },
        openai="openai.azure.com",
        search="search.windows.net",
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
            # Azure Managed Redis is not listed for the China cloud (verify before relying on it).
            "redisEnterprise": None,
            "account": "privatelink.openai.azure.cn",
            "searchService": "privatelink.search.azure.cn",
        },
        openai="openai.azure.cn",
        # docs.azure.cn "Azure AI Search" developer notes: *.search.azure.cn
        search="search.azure.cn",
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
            "account": "privatelink.openai.azure.us",
            "searchService": "privatelink.search.windows.us",
        },
        openai="openai.azure.us",
        search="search.azure.us",
    ),
}

# Built-in role definition ids (GUIDs are the same in every Azure cloud).
ROLE_KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
ROLE_KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
ROLE_COGNITIVE_SERVICES_OPENAI_USER = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
ROLE_SEARCH_INDEX_DATA_CONTRIBUTOR = "8ebe5a00-799e-43f5-93ac-243d3dce84a7"
ROLE_SEARCH_SERVICE_CONTRIBUTOR = "7ca78c08-252a-4471-8644-bb5ff32d4ba0"
