"""PoC: third-party LLM API keys in a secret store, a low-code LLM app (Dify or Flowise) the
team can reach, and the budget. Later phases reuse these builders, so promoting a stack keeps
every name (and so every stateful resource) it already has."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.lowcode import AppSpec, Backends, SecretName, SecretRef, Service, build_app_spec, generated_secret_length
from components.mirrors import dify_marketplace, python_index_env
from policies.llm_guard.sources import is_mainland
from stacks.config import AppKind, Phase, public_entry_needs_icp_filing
from stacks.context import StackContext
from stacks.program import secret_api_key

# Default sizes when the stack config does not name one.
AWS_DEFAULT_DB_CLASS = "db.t4g.micro"
AWS_DEFAULT_CACHE_NODE = "cache.t4g.micro"
AZURE_DEFAULT_DB_SKU = "Standard_B1ms"


@dataclass
class AppExtension:
    """What a later phase changes in the low-code app it carries forward."""

    internet_facing: bool = True
    model_env: dict[str, Any] = field(default_factory=dict)
    model_secrets: dict[str, SecretRef] = field(default_factory=dict)
    vector_env: dict[str, Any] = field(default_factory=dict)
    vector_secrets: dict[str, SecretRef] = field(default_factory=dict)
    # Secrets the phase created (name -> AWS secret ARN or Azure Key Vault URL).
    extra_secrets: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    # AWS: settings published as SSM parameters (name -> parameter ARN).
    extra_parameters: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    # AWS: extra task-role policies (name -> JSON); Azure: extra role assignments are made by the phase.
    task_policies: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    # Azure: services reachable only inside the app environment (e.g. the model gateway), and the
    # identity each runs as (service name -> components.azure.container_apps.AppIdentity).
    internal_services: tuple[Service, ...] = ()
    internal_identities: dict[str, Any] = field(default_factory=dict)
    # AWS: each internal service's task-role policies (service -> name -> JSON) and the private
    # DNS namespace the app finds them in (components/aws/ecs_app.py internal_service_url).
    internal_task_policies: dict[str, dict[str, pulumi.Input[str]]] = field(default_factory=dict)
    internal_namespace: str | None = None
    # AWS: ports the app tasks call inside the VPC besides its data stores (port -> what).
    vpc_egress_ports: dict[int, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------- AWS


@dataclass
class AwsFoundation:
    key: Any  # EncryptionKey
    network: Any  # Network
    api_keys: Any  # ApiKeySecrets


def aws_foundation(ctx: StackContext, *, public_subnets: bool) -> AwsFoundation:
    import pulumi_aws as aws

    from components.aws.budget import MonthlyBudget, MonthlyBudgetArgs
    from components.aws.kms import EncryptionKey, EncryptionKeyArgs, bedrock_service_needed
    from components.aws.network import Network, NetworkArgs
    from components.aws.secrets import ApiKeySecrets, ApiKeySecretsArgs

    cfg, account, namer = ctx.config, ctx.aws_account, ctx.namer
    assert account is not None
    key = EncryptionKey(
        "platform-key",
        EncryptionKeyArgs(
            account=account,
            description=f"{namer.prefix}: secrets, databases, logs and buckets of the LLM platform",
            # Aliases are unique per account and region; only the alias carries the stack name,
            # the key itself (logical name platform-key) is never renamed.
            alias_name=namer.name("platform-key", max_len=250),
            tags=ctx.tags,
            service_principals=["logs", *(["bedrock"] if bedrock_service_needed(account.partition, cfg.bedrock_invocation_logging) else [])],
            # Scale's EKS node groups launch through EC2 Auto Scaling with root volumes encrypted by
            # this key; promotion from Beta only updates the key policy.
            ebs_for_autoscaling=cfg.phase is Phase.SCALE,
        ),
        opts=ctx.opts,
    )
    zones = aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(provider=ctx.opts.providers[0]))  # type: ignore[index]
    nat_gateways = cfg.nat_gateways()
    network = Network(
        "network",
        NetworkArgs(
            account=account,
            cidr=cfg.poc.network.cidr,
            availability_zones=zones.names,
            nat_gateways=nat_gateways,
            public_subnets=public_subnets or nat_gateways > 0,
            kms_key_arn=key.key_arn,
            log_retention_days=cfg.poc.app.log_retention_days,
            log_group_name=f"/{ctx.project}/{ctx.stack}/vpc-flow-logs",
            tags=ctx.tags,
            # Scale: the Kubernetes cloud controller puts internal load balancers (the gateway) here.
            private_subnet_tags={"kubernetes.io/role/internal-elb": "1"} if cfg.phase is Phase.SCALE else {},
        ),
        opts=ctx.opts,
    )
    api_keys = ApiKeySecrets(
        "api-keys",
        ApiKeySecretsArgs(
            api_keys={p: secret_api_key(k) for p, k in cfg.api_key_keys.items()},
            secret_name_prefix=namer.path("api-keys"),
            kms_key_arn=key.key_arn,
            tags=ctx.tags,
        ),
        opts=ctx.opts,
    )
    budget = cfg.budget
    MonthlyBudget(
        "budget",
        MonthlyBudgetArgs(
            budget_name=namer.name("monthly"),
            amount=budget.amount,
            currency=budget.currency,
            cost_center=cfg.tags.cost_center,
            thresholds=budget.thresholds,
            emails=budget.emails,
            start_date=budget.start_date(),
            tags=ctx.tags,
        ),
        opts=ctx.opts,
    )
    pulumi.export("kmsKeyArn", key.key_arn)
    pulumi.export("apiKeySecretArns", api_keys.arns)
    return AwsFoundation(key, network, api_keys)


def _aws_generated_secret(ctx: StackContext, secret: SecretName, key_arn: pulumi.Input[str], *, critical: bool) -> pulumi.Output[str]:
    import pulumi_random as random

    from components.aws.secrets import StoredSecret, StoredSecretArgs

    # The app key encrypts what the app stores: regenerating it would make that unreadable.
    value = random.RandomPassword(
        f"app-{secret.value}",
        length=generated_secret_length(secret),
        special=False,
        opts=pulumi.ResourceOptions.merge(ctx.opts, pulumi.ResourceOptions(protect=critical)),
    )
    stored = StoredSecret(
        f"app-{secret.value}",
        StoredSecretArgs(
            secret_name=ctx.namer.path("app", secret.value),
            description=f"low-code app: {secret.value}",
            value=value.result,
            kms_key_arn=key_arn,
            tags=ctx.tags,
            protect=critical,
        ),
        opts=ctx.opts,
    )
    return stored.arn


def aws_lowcode_app(ctx: StackContext, foundation: AwsFoundation, ext: AppExtension) -> Any:
    from components.aws.ecs_app import EcsApp, EcsAppArgs
    from components.aws.network import plan_subnets
    from components.aws.postgres import PostgresArgs, PostgresDatabase
    from components.aws.redis import RedisArgs, RedisCache
    from components.aws.storage import DataBucket, DataBucketArgs

    cfg, namer, account = ctx.config, ctx.namer, ctx.aws_account
    assert account is not None
    app = cfg.poc.app
    key_arn = foundation.key.key_arn
    network = foundation.network
    # Databases accept connections from the private app subnets only.
    client_cidrs = plan_subnets(cfg.poc.network.cidr, 2).private

    bucket = DataBucket("app-files", DataBucketArgs(purpose=f"{app.kind.value} files", kms_key_arn=key_arn, tags=ctx.tags), opts=ctx.opts)
    storage_env: dict[str, Any]
    plugin_storage_env: dict[str, Any] = {}
    if app.kind is AppKind.DIFY:
        storage_env = {"STORAGE_TYPE": "s3", "S3_BUCKET_NAME": bucket.bucket_name, "S3_REGION": account.region, "S3_USE_AWS_MANAGED_IAM": "true"}
        # The daemon reads these names without the PLUGIN_ prefix that Dify's .env uses.
        plugin_storage_env = {
            "PLUGIN_STORAGE_TYPE": "aws_s3",
            "PLUGIN_STORAGE_OSS_BUCKET": bucket.bucket_name,
            "S3_USE_AWS": "true",
            "S3_USE_AWS_MANAGED_IAM": "true",
            # The daemon defaults to path-style URLs (S3_USE_PATH_STYLE default "true",
            # dify-plugin-daemon 0.6.1 internal/types/app/config.go); AWS serves virtual-hosted style.
            "S3_USE_PATH_STYLE": "false",
            "AWS_REGION": account.region,
        }
    else:
        storage_env = {"STORAGE_TYPE": "s3", "S3_STORAGE_BUCKET_NAME": bucket.bucket_name, "S3_STORAGE_REGION": account.region}
    backends = Backends(
        storage_env=storage_env,
        plugin_storage_env=plugin_storage_env,
        public_url=f"https://{app.domain_name}" if app.domain_name else None,
        api_keys=tuple(cfg.poc.api_providers),
        vector_env=ext.vector_env,
        vector_secrets=ext.vector_secrets,
        model_env=ext.model_env,
        model_secrets=ext.model_secrets,
        package_index_env=python_index_env(cfg.mirrors.for_components()),
        marketplace_url=dify_marketplace(cfg.mirrors.for_components(), is_mainland(cfg.profile)),
        # RDS certificates chain to the Amazon RDS CA, which is not in Node's trust store, so
        # Flowise's `DATABASE_SSL=true` (TypeORM `ssl: true`) fails the handshake. With
        # DATABASE_SSL unset, node-postgres reads PGSSLMODE: `no-verify` encrypts without
        # checking the chain (what rds.force_ssl needs; same as Dify's psycopg sslmode).
        # Flowise 3.1.3 packages/server/src/DataSource.ts getDatabaseSSLFromEnv; pg 8.11
        # connection-parameters.js readSSLConfigFromEnvironment.
        flowise_database_tls_env={"PGSSLMODE": "no-verify"},
    )
    spec: AppSpec = build_app_spec(app.kind.value, backends)

    database = PostgresDatabase(
        "app-db",
        PostgresArgs(
            identifier=namer.name("app-db"),
            database_name=spec.database_names[0],
            vpc_id=network.vpc_id,
            subnet_ids=network.data_subnet_ids,
            client_cidrs=client_cidrs,
            kms_key_arn=key_arn,
            secret_name=namer.path("app", SecretName.DATABASE.value),
            instance_class=app.database.instance_class or AWS_DEFAULT_DB_CLASS,
            storage_gb=app.database.storage_gb,
            backup_retention_days=app.database.backup_retention_days,
            multi_az=app.database.multi_az if app.database.multi_az is not None else cfg.phase is not Phase.POC,
            tags=ctx.tags,
            log_retention_days=app.log_retention_days,
        ),
        opts=ctx.opts,
    )
    secret_arns: dict[str, pulumi.Input[str]] = {SecretName.DATABASE.value: database.secret_arn}
    if spec.needs_redis:
        redis = RedisCache(
            "app-cache",
            RedisArgs(
                replication_group_id=namer.name("app-cache", max_len=40),
                vpc_id=network.vpc_id,
                subnet_ids=network.data_subnet_ids,
                client_cidrs=client_cidrs,
                kms_key_arn=key_arn,
                secret_name=namer.path("app", SecretName.REDIS.value),
                node_type=AWS_DEFAULT_CACHE_NODE,
                tags=ctx.tags,
            ),
            opts=ctx.opts,
        )
        secret_arns[SecretName.REDIS.value] = redis.secret_arn
    for secret in spec.secrets:
        if secret.value not in secret_arns:
            secret_arns[secret.value] = _aws_generated_secret(ctx, secret, key_arn, critical=secret is SecretName.APP_KEY)
    for provider, arn in foundation.api_keys.arns.items():
        secret_arns[f"api-key:{provider}"] = arn
    secret_arns.update(ext.extra_secrets)
    if app.certificate_arn is None:
        where = "the internet (from the allowed networks)" if ext.internet_facing else "the internal networks allowed to reach it"
        pulumi.log.warn(
            f"llm-platform:poc.app.certificateArn is not set: the app is served over plain HTTP to {where}, "
            "so logins, API keys and prompts cross them unencrypted; set an ACM certificate ARN"
        )

    ecs = EcsApp(
        "app",
        EcsAppArgs(
            spec=spec,
            account=account,
            cluster_name=namer.name("apps"),
            task_role_name=app_task_role_name(ctx),
            vpc_id=network.vpc_id,
            vpc_cidr=network.vpc_cidr,
            service_subnet_ids=network.private_subnet_ids,
            lb_subnet_ids=network.public_subnet_ids if ext.internet_facing else network.private_subnet_ids,
            internet_facing=ext.internet_facing,
            allowed_cidrs=[str(c) for c in app.allowed_cidrs],
            certificate_arn=app.certificate_arn,
            secret_arns=secret_arns,
            kms_key_arn=key_arn,
            log_group_name=f"/{ctx.project}/{ctx.stack}/app",
            log_retention_days=app.log_retention_days,
            tags=ctx.tags,
            image_tags=app.image_tags,
            image_registry=cfg.mirrors.image_registry,
            bucket_arn=bucket.bucket_arn,
            task_policies=ext.task_policies,
            parameter_arns=ext.extra_parameters,
            vpc_egress_ports=ext.vpc_egress_ports,
            parameter_path_prefix=f"/{ctx.project}/{ctx.stack}/app",
            internal_services=ext.internal_services,
            internal_task_policies=ext.internal_task_policies,
            internal_namespace=ext.internal_namespace,
        ),
        opts=ctx.opts,
    )
    pulumi.export("appUrl", ecs.url)
    pulumi.export("appDatabaseSecretArn", database.secret_arn)
    if SecretName.INIT_PASSWORD.value in secret_arns:
        # Where the operator reads Dify's first-login password (never the value itself).
        pulumi.export("appInitPasswordSecretArn", secret_arns[SecretName.INIT_PASSWORD.value])
    return ecs


def app_task_role_name(ctx: StackContext) -> str:
    """Named, so later phases can grant it access (e.g. a vector collection) before it exists."""
    return ctx.namer.name("app-task", max_len=64)


def poc_aws(ctx: StackContext) -> None:
    foundation = aws_foundation(ctx, public_subnets=True)
    internet_facing = not public_entry_needs_icp_filing(ctx.config)
    if not internet_facing:
        pulumi.log.warn(
            "AWS China blocks inbound 80/443/8080 until an ICP filing is approved, so the app gets an INTERNAL load balancer in the private subnets: "
            "reach appUrl over a VPN or Direct Connect into the VPC, from the networks in llm-platform:poc.app.allowedCidrs. "
            "To serve it publicly, file the ICP recordal through NWCD (Ningxia) or Sinnet (Beijing) (amazonaws.cn/en/support/icp/), "
            "then set llm-platform:poc.app.icpFiling (this replaces the load balancer: appUrl changes)"
        )
    aws_lowcode_app(ctx, foundation, AppExtension(internet_facing=internet_facing))


# ------------------------------------------------------------------------------------- Azure


@dataclass
class AzureFoundation:
    resource_group: Any
    workspace: Any
    network: Any
    vault: Any
    app_identity: Any
    encryption: Any  # EncryptionIdentity
    subscription_id: str
    api_key_urls: dict[str, pulumi.Output[str]]


def azure_foundation(ctx: StackContext, *, extra_zones: dict[str, str] | None = None, extra_subnets: tuple[str, ...] = ()) -> AzureFoundation:
    import pulumi_azure_native as azure

    from components.azure.budget import ResourceGroupBudget, ResourceGroupBudgetArgs
    from components.azure.clouds import CLOUDS, ROLE_KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER, app_redis_zone
    from components.azure.data import EncryptionIdentity
    from components.azure.keyvault import SecretVault, SecretVaultArgs
    from components.azure.monitoring import LogWorkspace, LogWorkspaceArgs
    from components.azure.network import VirtualNetwork, VirtualNetworkArgs
    from components.azure.roles import assign_role

    cfg, namer, location = ctx.config, ctx.namer, ctx.config.region
    names = CLOUDS[cfg.azure_environment]
    client = azure.authorization.get_client_config()
    resource_group = azure.resources.ResourceGroup(
        "platform-rg",
        resource_group_name=namer.name("rg", max_len=90),
        location=location,
        tags=ctx.tags,
        opts=pulumi.ResourceOptions.merge(ctx.opts, pulumi.ResourceOptions(protect=True)),
    )
    rg_name = resource_group.name
    workspace = LogWorkspace(
        "logs",
        LogWorkspaceArgs(rg_name, location, namer.name("logs"), cfg.poc.app.log_retention_days, ctx.tags),
        opts=ctx.opts,
    )
    zones = {
        "vault": names.private_zones["vault"],
        "blob": names.private_zones["blob"],
        "file": names.private_zones["file"],
        "postgres": f"{namer.prefix}.{names.postgres_private_zone}",
        **(extra_zones or {}),
    }
    redis_zone = app_redis_zone(names)
    if cfg.poc.app.kind is AppKind.DIFY and redis_zone is not None:
        # stacks.config refuses Dify in a cloud without a Redis service (redis_zone None).
        zones[redis_zone[0]] = redis_zone[1]
    network = VirtualNetwork(
        "network",
        VirtualNetworkArgs(rg_name, location, cfg.poc.network.cidr, namer.name("vnet"), zones, ctx.tags, extra_subnets=extra_subnets),
        opts=ctx.opts,
    )
    vault = SecretVault(
        "vault",
        SecretVaultArgs(
            resource_group_name=rg_name,
            location=location,
            tenant_id=client.tenant_id,
            azure_cloud=cfg.azure_environment,
            endpoints_subnet_id=network.endpoints_subnet_id,
            vault_zone_id=network.zone_ids["vault"],
            workspace_id=workspace.workspace_id,
            subscription_id=client.subscription_id,
            tags=ctx.tags,
        ),
        opts=ctx.opts,
    )
    app_identity = azure.managedidentity.UserAssignedIdentity(
        "app-identity", resource_name_=namer.name("app"), resource_group_name=rg_name, location=location, tags=ctx.tags, opts=ctx.opts
    )
    data_identity = azure.managedidentity.UserAssignedIdentity(
        "data-identity", resource_name_=namer.name("data-encryption"), resource_group_name=rg_name, location=location, tags=ctx.tags, opts=ctx.opts
    )
    # The app identity reads only the secrets its containers reference (ContainerApps grants them).
    key_role = assign_role(
        "data-uses-key",
        subscription_id=client.subscription_id,
        role_id=ROLE_KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER,
        principal_id=data_identity.principal_id,
        scope=pulumi.Output.concat(vault.vault_id, "/keys/", vault.key_name),
        parent=vault,
        description="data stores wrap their keys with the platform key",
    )
    encryption = EncryptionIdentity(
        identity_id=data_identity.id,
        key_vault_uri=vault.vault_uri,
        key_name=vault.key_name,
        key_uri=vault.key_uri,
        key_uri_with_version=vault.key_uri_with_version,
        identity_client_id=data_identity.client_id,
        key_access=[key_role],
    )
    api_key_urls = {p: vault.secret(f"api-key-{p}", secret_api_key(k)) for p, k in sorted(cfg.api_key_keys.items())}
    budget = cfg.budget
    ResourceGroupBudget(
        "budget",
        ResourceGroupBudgetArgs(
            budget_name=namer.name("monthly"),
            scope=resource_group.id,
            amount=budget.amount,
            thresholds=budget.thresholds,
            emails=budget.emails,
            start_date=budget.start_date(),
        ),
        opts=ctx.opts,
    )
    pulumi.export("resourceGroupName", rg_name)
    pulumi.export("keyVaultName", vault.vault_name)
    pulumi.export("apiKeySecretUrls", api_key_urls)
    return AzureFoundation(resource_group, workspace, network, vault, app_identity, encryption, client.subscription_id, api_key_urls)


def azure_lowcode_app(ctx: StackContext, foundation: AzureFoundation, ext: AppExtension) -> Any:
    import pulumi_random as random

    from components.azure.clouds import CLOUDS, ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR, identity_env
    from components.azure.container_apps import AppFileShare, AppIdentity, ContainerApps, ContainerAppsArgs, key_vault_secret_name
    from components.azure.data import (
        AppStorage,
        AppStorageArgs,
        CacheForRedis,
        CacheForRedisArgs,
        FlexiblePostgres,
        FlexiblePostgresArgs,
        ManagedRedis,
        ManagedRedisArgs,
    )
    from components.azure.roles import assign_role
    from components.lowcode import SecretRef, redis_url

    cfg, namer, location = ctx.config, ctx.namer, ctx.config.region
    names = CLOUDS[cfg.azure_environment]
    app = cfg.poc.app
    rg_name = foundation.resource_group.name
    vault = foundation.vault
    network = foundation.network
    dify = app.kind is AppKind.DIFY

    storage = AppStorage(
        "appfiles",
        AppStorageArgs(
            resource_group_name=rg_name,
            location=location,
            endpoints_subnet_id=network.endpoints_subnet_id,
            zone_ids={"blob": network.zone_ids["blob"], "file": network.zone_ids["file"]},
            encryption=foundation.encryption,
            containers=["dify", "dify-plugins"] if dify else [],
            file_shares=[] if dify else ["flowise"],
            workspace_id=foundation.workspace.workspace_id,
            tags=ctx.tags,
        ),
        opts=ctx.opts,
    )
    urls: dict[str, pulumi.Input[str]] = {}
    file_share = None
    plugin_storage_env: dict[str, Any] = {}
    if dify:
        assign_role(
            "app-writes-files",
            subscription_id=foundation.subscription_id,
            role_id=ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR,
            principal_id=foundation.app_identity.principal_id,
            scope=storage.account_id,
            parent=storage,
            description="Dify stores uploads in the dify container",
        )
        storage_env: dict[str, Any] = {
            "STORAGE_TYPE": "azure-blob",
            "AZURE_BLOB_ACCOUNT_NAME": storage.account_name,
            "AZURE_BLOB_CONTAINER_NAME": "dify",
            "AZURE_BLOB_ACCOUNT_URL": storage.account_name.apply(lambda n: f"https://{n}.{names.blob}"),
            # Managed identity: AUTH_TYPE for newer Dify releases, the key sentinel for older ones.
            "AZURE_BLOB_AUTH_TYPE": "managed_identity",
            "AZURE_BLOB_ACCOUNT_KEY": "managedidentity",
            "AZURE_CLIENT_ID": foundation.app_identity.client_id,
            # Outside the public cloud azure-identity must log in at that cloud's Entra ID.
            **identity_env(names),
        }
        # The daemon authenticates with the app's managed identity (DefaultAzureCredential picks
        # the user-assigned one by AZURE_CLIENT_ID), not the account key: dify-plugin-daemon 0.6.1
        # internal/types/app/config.go AZURE_BLOB_STORAGE_USE_MANAGED_IDENTITY/_ACCOUNT_URL,
        # dify-cloud-kit v0.1.3 oss/azureblob/blob.go.
        plugin_storage_env = {
            "PLUGIN_STORAGE_TYPE": "azure_blob",
            "AZURE_BLOB_STORAGE_CONTAINER_NAME": "dify-plugins",
            "AZURE_BLOB_STORAGE_USE_MANAGED_IDENTITY": "true",
            "AZURE_BLOB_STORAGE_ACCOUNT_URL": storage_env["AZURE_BLOB_ACCOUNT_URL"],
            "AZURE_CLIENT_ID": foundation.app_identity.client_id,
            **identity_env(names),
        }
    else:
        storage_env = {"STORAGE_TYPE": "local", "BLOB_STORAGE_PATH": "/root/.flowise/storage"}
        key_url = vault.secret("storage-account-key", storage.primary_key, protect=False)
        file_share = AppFileShare(account_name=storage.account_name, share_name="flowise", key_secret_name="storage-account-key", key_secret_url=key_url)

    backends = Backends(
        storage_env=storage_env,
        plugin_storage_env=plugin_storage_env,
        public_url=f"https://{app.domain_name}" if app.domain_name else None,
        api_keys=tuple(cfg.poc.api_providers),
        vector_env=ext.vector_env,
        vector_secrets=ext.vector_secrets,
        model_env=ext.model_env,
        model_secrets=ext.model_secrets,
        package_index_env=python_index_env(cfg.mirrors.for_components()),
        marketplace_url=dify_marketplace(cfg.mirrors.for_components(), is_mainland(cfg.profile)),
        # Flexible Server certificates chain to DigiCert / Microsoft roots in Node's trust store.
        flowise_database_tls_env={"DATABASE_SSL": "true"},
    )
    spec = build_app_spec(app.kind.value, backends)

    database = FlexiblePostgres(
        "app-db",
        FlexiblePostgresArgs(
            resource_group_name=rg_name,
            location=location,
            delegated_subnet_id=network.data_subnet_id,
            private_zone_id=network.zone_ids["postgres"],
            private_zone_link=network.zone_links["postgres"],
            database_names=spec.database_names,
            sku_name=app.database.instance_class or AZURE_DEFAULT_DB_SKU,
            storage_gb=app.database.storage_gb,
            backup_retention_days=app.database.backup_retention_days,
            geo_redundant_backup=False,
            high_availability=bool(app.database.multi_az),
            encryption=foundation.encryption,
            workspace_id=foundation.workspace.workspace_id,
            tags=ctx.tags,
        ),
        opts=ctx.opts,
    )
    db_fields = {"username": database.admin_login, "password": database.admin_password, "host": database.host, "port": "5432"}
    for field_name, value in db_fields.items():
        ref = SecretRef(SecretName.DATABASE.value, field_name)
        urls[key_vault_secret_name(ref)] = vault.secret(key_vault_secret_name(ref), value, protect=field_name == "password")
    if spec.needs_redis and names.app_redis == "redisCache":
        # Azure Cache for Redis, where the cloud has no Azure Managed Redis (Azure China).
        pulumi.log.warn(
            "the app's Redis is Azure Cache for Redis, which takes no customer-managed key: Dify's cache and task queue "
            "are encrypted at rest with Microsoft-managed keys (the cloud offers no Azure Managed Redis)"
        )
        cache = CacheForRedis(
            "app-cache",
            CacheForRedisArgs(
                resource_group_name=rg_name,
                location=location,
                endpoints_subnet_id=network.endpoints_subnet_id,
                zone_id=network.zone_ids["redisCache"],
                workspace_id=foundation.workspace.workspace_id,
                tags=ctx.tags,
            ),
            opts=ctx.opts,
        )
        redis_host, redis_key, redis_port, broker_db = cache.host, cache.access_key, cache.port, 1
    elif spec.needs_redis:
        redis = ManagedRedis(
            "app-cache",
            ManagedRedisArgs(
                resource_group_name=rg_name,
                location=location,
                endpoints_subnet_id=network.endpoints_subnet_id,
                zone_id=network.zone_ids["redisEnterprise"],
                encryption=foundation.encryption,
                workspace_id=foundation.workspace.workspace_id,
                tags=ctx.tags,
            ),
            opts=ctx.opts,
        )
        # Azure Managed Redis serves database 0 only.
        redis_host, redis_key, redis_port, broker_db = redis.host, redis.access_key, 10000, 0
    if spec.needs_redis:
        redis_fields = {
            "host": redis_host,
            "port": str(redis_port),
            "password": redis_key,
            "broker_url": pulumi.Output.all(redis_host, redis_key).apply(
                lambda v: redis_url("rediss", v[1], v[0], redis_port, broker_db, "ssl_cert_reqs=required")
            ),
        }
        for field_name, value in redis_fields.items():
            ref = SecretRef(SecretName.REDIS.value, field_name)
            urls[key_vault_secret_name(ref)] = vault.secret(key_vault_secret_name(ref), value, protect=False)
    for secret in spec.secrets:
        if secret in (SecretName.DATABASE, SecretName.REDIS):
            continue
        critical = secret is SecretName.APP_KEY
        value = random.RandomPassword(
            f"app-{secret.value}",
            length=generated_secret_length(secret),
            special=False,
            opts=pulumi.ResourceOptions.merge(ctx.opts, pulumi.ResourceOptions(protect=critical)),
        )
        urls[secret.value] = vault.secret(secret.value, value.result, protect=critical)
    for provider, url in foundation.api_key_urls.items():
        urls[f"api-key-{provider}"] = url
    urls.update(ext.extra_secrets)

    apps = ContainerApps(
        "app",
        ContainerAppsArgs(
            spec=spec,
            resource_group_name=rg_name,
            location=location,
            environment_name=namer.name("apps"),
            app_name_prefix=namer.prefix,
            apps_subnet_id=network.environment_subnet_id(internal=not ext.internet_facing),
            workspace_id=foundation.workspace.workspace_id,
            vault=vault,
            app_identity=AppIdentity(foundation.app_identity.id, foundation.app_identity.principal_id, foundation.app_identity.client_id),
            secret_urls=urls,
            allowed_cidrs=[str(c) for c in app.allowed_cidrs],
            internal=not ext.internet_facing,
            vnet_id=network.vnet_id,
            tags=ctx.tags,
            image_tags=app.image_tags,
            image_registry=cfg.mirrors.image_registry,
            registry_id=cfg.mirrors.azure_registry_id,
            file_share=file_share,
            internal_services=ext.internal_services,
            internal_identities=ext.internal_identities,
        ),
        opts=ctx.opts,
    )
    pulumi.export("appUrl", apps.url)
    if SecretName.INIT_PASSWORD.value in urls:
        # Where the operator reads Dify's first-login password (never the value itself).
        pulumi.export("appInitPasswordSecretUrl", urls[SecretName.INIT_PASSWORD.value])
    return apps


def poc_azure(ctx: StackContext) -> None:
    foundation = azure_foundation(ctx)
    azure_lowcode_app(ctx, foundation, AppExtension(internet_facing=True))
