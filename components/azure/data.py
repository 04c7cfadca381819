"""The app's state on Azure: PostgreSQL Flexible Server (VNet-integrated), Redis (Azure Managed
Redis, or Azure Cache for Redis where the cloud offers no Managed Redis) and a storage account,
all private; encrypted with the customer-managed key wherever the service takes one."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure
import pulumi_random as random

from components.azure.monitoring import send_logs_to
from components.azure.network import PrivateEndpoint, PrivateEndpointArgs, private_endpoint

POSTGRES_VERSION = "16"
# `azure.extensions` allow-list: what the apps' migrations create. Dify's first migration runs
# CREATE EXTENSION "uuid-ossp" (langgenius/dify api/migrations/versions/64b051264f32_init.py) and
# pgvector's CREATE EXTENSION vector; Flowise's tables default to uuid_generate_v4()
# (FlowiseAI/Flowise packages/server/src/database/migrations/postgres/1693891895163-Init.ts) and
# its AddPgvectorExtension migration creates `vector`.
APP_EXTENSIONS: tuple[str, ...] = ("UUID-OSSP", "VECTOR")


@dataclass
class EncryptionIdentity:
    """The user-assigned identity data stores use to reach the customer-managed key."""

    identity_id: pulumi.Input[str]
    key_vault_uri: pulumi.Input[str]
    key_name: pulumi.Input[str]
    key_uri: pulumi.Input[str]  # versionless
    key_uri_with_version: pulumi.Input[str]
    identity_client_id: pulumi.Input[str] = ""
    # The role assignment that lets the identity use the key: stores created before it fail.
    key_access: Sequence[pulumi.Resource] = ()


@dataclass
class FlexiblePostgresArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    delegated_subnet_id: pulumi.Input[str]
    private_zone_id: pulumi.Input[str]
    # The zone's VNet link: Flexible Server registers its name in the zone at creation and
    # needs the zone linked to its VNet first ("the private DNS zone should be linked to the
    # virtual network", learn.microsoft.com/azure/postgresql/flexible-server/
    # concepts-networking-private, read 2026-11-30).
    private_zone_link: pulumi.Resource
    database_names: Sequence[str]
    sku_name: str
    storage_gb: int
    backup_retention_days: int
    geo_redundant_backup: bool
    high_availability: bool
    encryption: EncryptionIdentity
    workspace_id: pulumi.Input[str]
    tags: Mapping[str, str]


class FlexiblePostgres(pulumi.ComponentResource):
    """Private access only (delegated subnet), TLS required, CMK encryption, protected."""

    host: pulumi.Output[str]
    admin_login: str
    admin_password: pulumi.Output[str]

    def __init__(self, name: str, args: FlexiblePostgresArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:azure:FlexiblePostgres", name, None, opts)
        if args.geo_redundant_backup:
            # Refused in stacks/config (components/azure/checks.py GEO_BACKUP_REFUSAL): a CMK
            # server's geo backup needs geoBackupKeyURI and a second identity in the paired region.
            raise ValueError("geo-redundant backup with the customer-managed key is not supported")
        child = pulumi.ResourceOptions(parent=self)
        password = random.RandomPassword(f"{name}-password", length=32, special=False, opts=child)
        tier = "Burstable" if args.sku_name.startswith("Standard_B") else "GeneralPurpose"
        server = azure.dbforpostgresql.Server(
            f"{name}-server",
            resource_group_name=args.resource_group_name,
            location=args.location,
            version=POSTGRES_VERSION,
            sku=azure.dbforpostgresql.SkuArgs(name=args.sku_name, tier=tier),
            storage=azure.dbforpostgresql.StorageArgs(storage_size_gb=args.storage_gb, auto_grow="Enabled"),
            administrator_login="llmadmin",
            administrator_login_password=password.result,
            auth_config=azure.dbforpostgresql.AuthConfigArgs(password_auth="Enabled", active_directory_auth="Disabled"),
            network=azure.dbforpostgresql.NetworkArgs(
                delegated_subnet_resource_id=args.delegated_subnet_id,
                private_dns_zone_arm_resource_id=args.private_zone_id,
                public_network_access="Disabled",
            ),
            backup=azure.dbforpostgresql.BackupArgs(
                backup_retention_days=args.backup_retention_days,
                geo_redundant_backup="Disabled",
            ),
            high_availability=azure.dbforpostgresql.HighAvailabilityArgs(mode="ZoneRedundant" if args.high_availability else "Disabled"),
            identity=azure.dbforpostgresql.UserAssignedIdentityArgs(
                type="UserAssigned",
                # A map keyed by the identity's resource id, which is only known as an Output.
                user_assigned_identities=pulumi.Output.from_input(args.encryption.identity_id).apply(lambda i: {i: {}}),
            ),
            data_encryption=azure.dbforpostgresql.DataEncryptionArgs(
                type="AzureKeyVault",
                # Versionless: the server picks up each rotated key version itself ("Automatic key
                # version updates", learn.microsoft.com/azure/postgresql/security/security-data-encryption).
                primary_key_uri=args.encryption.key_uri,
                primary_user_assigned_identity_id=args.encryption.identity_id,
            ),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=[*args.encryption.key_access, args.private_zone_link]),
        )
        # Extensions must be allow-listed before the apps' CREATE EXTENSION works.
        previous: pulumi.Resource = azure.dbforpostgresql.Configuration(
            f"{name}-extensions",
            configuration_name="azure.extensions",
            server_name=server.name,
            resource_group_name=args.resource_group_name,
            source="user-override",
            value=",".join(APP_EXTENSIONS),
            opts=child,
        )
        # The server takes one change at a time (parallel writes fail with ServerIsBusy): chain them.
        for database in args.database_names:
            previous = azure.dbforpostgresql.Database(
                f"{name}-{database.replace('_', '-')}",
                database_name=database,
                server_name=server.name,
                resource_group_name=args.resource_group_name,
                charset="UTF8",
                collation="en_US.utf8",
                opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=[previous]),
            )
        send_logs_to(f"{name}-logs", resource_id=server.id, workspace_id=args.workspace_id, parent=self, depends_on=[previous])
        self.host = server.fully_qualified_domain_name
        self.admin_login = "llmadmin"
        self.admin_password = password.result
        self.register_outputs({"host": server.fully_qualified_domain_name})


@dataclass
class ManagedRedisArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    endpoints_subnet_id: pulumi.Input[str]
    zone_id: pulumi.Input[str]
    encryption: EncryptionIdentity
    workspace_id: pulumi.Input[str]
    tags: Mapping[str, str]
    sku: str = "Balanced_B0"


class ManagedRedis(pulumi.ComponentResource):
    """Azure Managed Redis: TLS only, private endpoint, CMK. Access keys stay on because Dify
    authenticates with a password."""

    host: pulumi.Output[str]
    access_key: pulumi.Output[str]

    def __init__(self, name: str, args: ManagedRedisArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:azure:ManagedRedis", name, None, opts)
        cluster = azure.redisenterprise.RedisEnterprise(
            f"{name}-cluster",
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku=azure.redisenterprise.SkuArgs(name=args.sku),
            minimum_tls_version="1.2",
            public_network_access="Disabled",
            identity=azure.redisenterprise.ManagedServiceIdentityArgs(
                type="UserAssigned", user_assigned_identities=[args.encryption.identity_id]
            ),
            encryption=azure.redisenterprise.ClusterPropertiesEncryptionArgs(
                customer_managed_key_encryption=azure.redisenterprise.ClusterPropertiesCustomerManagedKeyEncryptionArgs(
                    # "versioned only" (Redis Enterprise API keyEncryptionKeyUrl): after a rotation
                    # the next `pulumi up` moves the cluster to the new version (keyUriWithVersion).
                    key_encryption_key_url=args.encryption.key_uri_with_version,
                    key_encryption_key_identity=azure.redisenterprise.ClusterPropertiesKeyEncryptionKeyIdentityArgs(
                        identity_type="userAssignedIdentity",
                        user_assigned_identity_resource_id=args.encryption.identity_id,
                    ),
                )
            ),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.encryption.key_access)),
        )
        database = azure.redisenterprise.Database(
            f"{name}-db",
            cluster_name=cluster.name,
            database_name="default",
            resource_group_name=args.resource_group_name,
            client_protocol="Encrypted",
            clustering_policy="EnterpriseCluster",  # Celery and Dify speak plain (non-cluster) Redis
            eviction_policy="NoEviction",  # it is a task broker: never drop queued tasks
            access_keys_authentication="Enabled",
            port=10000,
            opts=pulumi.ResourceOptions(parent=self),
        )
        private_endpoint(f"{name}-endpoint", args, target_id=cluster.id, group_id="redisEnterprise", zone_id=args.zone_id, parent=self)
        # The cluster has metrics only (no log categories).
        send_logs_to(f"{name}-logs", resource_id=cluster.id, workspace_id=args.workspace_id, parent=self, logs=False)
        keys = azure.redisenterprise.list_database_keys_output(
            cluster_name=cluster.name, database_name=database.name, resource_group_name=args.resource_group_name
        )
        self.host = cluster.host_name
        self.access_key = pulumi.Output.secret(keys.primary_key)
        self.register_outputs({"host": cluster.host_name})


@dataclass
class CacheForRedisArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    endpoints_subnet_id: pulumi.Input[str]
    zone_id: pulumi.Input[str]
    workspace_id: pulumi.Input[str]
    tags: Mapping[str, str]
    # Standard C1: a replicated pair with an SLA, 1 GB. Basic has no replica and may lose data
    # when its private endpoint is re-created (docs.azure.cn/en-us/azure-cache-for-redis/
    # cache-private-link, read 2026-11-30).
    sku_name: str = "Standard"
    sku_family: str = "C"
    sku_capacity: int = 1


# Azure Cache for Redis serves TLS on 6380 (the resource's `sslPort`); the plain port 6379 stays
# off (`enableNonSslPort: false`, the API default; azure-native redis.Redis, API 2024-11-01).
CACHE_FOR_REDIS_TLS_PORT = 6380


class CacheForRedis(pulumi.ComponentResource):
    """Azure Cache for Redis (Microsoft.Cache/redis), for clouds without Azure Managed Redis (the
    Azure China cloud): private endpoint only, TLS 1.2 on 6380, access keys because Dify
    authenticates with a password, `noeviction` because it is Celery's broker. Basic, Standard
    and Premium take no customer-managed key (that is an Enterprise/Managed Redis feature), so
    the data in memory is encrypted with Microsoft-managed keys."""

    host: pulumi.Output[str]
    access_key: pulumi.Output[str]
    port: int = CACHE_FOR_REDIS_TLS_PORT

    def __init__(self, name: str, args: CacheForRedisArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:azure:CacheForRedis", name, None, opts)
        cache = azure.redis.Redis(
            # Auto-named: <name>.redis.cache.<cloud suffix> is a global DNS name.
            f"{name}-redis",
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku=azure.redis.SkuArgs(name=args.sku_name, family=args.sku_family, capacity=args.sku_capacity),
            enable_non_ssl_port=False,
            minimum_tls_version="1.2",
            public_network_access="Disabled",
            redis_version="6",
            redis_configuration=azure.redis.RedisCommonPropertiesRedisConfigurationArgs(maxmemory_policy="noeviction"),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        private_endpoint(f"{name}-endpoint", args, target_id=cache.id, group_id="redisCache", zone_id=args.zone_id, parent=self)
        send_logs_to(f"{name}-logs", resource_id=cache.id, workspace_id=args.workspace_id, parent=self)
        keys = azure.redis.list_redis_keys_output(name=cache.name, resource_group_name=args.resource_group_name)
        self.host = cache.host_name
        self.access_key = pulumi.Output.secret(keys.primary_key)
        self.register_outputs({"host": cache.host_name})


@dataclass
class AppStorageArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    endpoints_subnet_id: pulumi.Input[str]
    zone_ids: Mapping[str, pulumi.Input[str]]  # blob, file
    encryption: EncryptionIdentity
    containers: Sequence[str]
    file_shares: Sequence[str]
    workspace_id: pulumi.Input[str]
    tags: Mapping[str, str]
    # Locally redundant by default: GRS replicates to the paired region, which the residency
    # profile may not allow (the policy pack checks the pair).
    sku: str = "Standard_LRS"


class AppStorage(pulumi.ComponentResource):
    """A StorageV2 account: private endpoints only, TLS 1.2, no anonymous blobs, CMK, versioning
    off the table for file shares but soft delete on. Shared-key access is on only when the
    account holds file shares: Container Apps file mounts authenticate with the account key,
    while blob users (Dify and its plugin daemon) use the app's managed identity."""

    account_name: pulumi.Output[str]
    account_id: pulumi.Output[str]
    primary_key: pulumi.Output[str]

    def __init__(self, name: str, args: AppStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:azure:AppStorage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = azure.storage.StorageAccount(
            # Auto-named (global names): logical name letters only, Pulumi appends a suffix.
            re.sub(r"[^a-z0-9]", "", f"{name}acct".lower()),
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind="StorageV2",
            sku=azure.storage.SkuArgs(name=args.sku),
            minimum_tls_version="TLS1_2",
            enable_https_traffic_only=True,
            allow_blob_public_access=False,
            allow_shared_key_access=bool(args.file_shares),
            allow_cross_tenant_replication=False,
            public_network_access="Disabled",
            network_rule_set=azure.storage.NetworkRuleSetArgs(default_action="Deny", bypass="AzureServices"),
            identity=azure.storage.IdentityArgs(type="UserAssigned", user_assigned_identities=[args.encryption.identity_id]),
            encryption=azure.storage.EncryptionArgs(
                key_source="Microsoft.Keyvault",
                key_vault_properties=azure.storage.KeyVaultPropertiesArgs(
                    key_name=args.encryption.key_name, key_vault_uri=args.encryption.key_vault_uri
                ),
                encryption_identity=azure.storage.EncryptionIdentityArgs(encryption_user_assigned_identity=args.encryption.identity_id),
                require_infrastructure_encryption=True,
            ),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=list(args.encryption.key_access)),
        )
        for container in args.containers:
            azure.storage.BlobContainer(
                f"{name}-{container}",
                container_name=container,
                account_name=account.name,
                resource_group_name=args.resource_group_name,
                public_access="None",
                opts=child,
            )
        for share in args.file_shares:
            azure.storage.FileShare(
                f"{name}-{share}",
                share_name=share,
                account_name=account.name,
                resource_group_name=args.resource_group_name,
                share_quota=100,
                enabled_protocols="SMB",
                opts=child,
            )
        for group in ("blob", "file"):
            PrivateEndpoint(
                f"{name}-{group}-endpoint",
                PrivateEndpointArgs(
                    resource_group_name=args.resource_group_name,
                    location=args.location,
                    subnet_id=args.endpoints_subnet_id,
                    target_id=account.id,
                    group_id=group,
                    zone_id=args.zone_ids[group],
                    tags=args.tags,
                ),
                opts=child,
            )
        # Account level has the Transaction metrics; the logs live on the blob and file services.
        send_logs_to(f"{name}-logs", resource_id=account.id, workspace_id=args.workspace_id, parent=self, logs=False, metrics_category="Transaction")
        for service in ("blobServices", "fileServices"):
            send_logs_to(
                f"{name}-{service.lower()}-logs",
                resource_id=account.id.apply(lambda i, s=service: f"{i}/{s}/default"),
                workspace_id=args.workspace_id,
                parent=self,
                metrics_category="Transaction",
            )
        keys = azure.storage.list_storage_account_keys_output(account_name=account.name, resource_group_name=args.resource_group_name)
        self.account_name = account.name
        self.account_id = account.id
        self.primary_key = pulumi.Output.secret(keys.keys[0].value)
        self.register_outputs({"account_name": account.name})
