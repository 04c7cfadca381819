"""Beta: PoC + managed inference (Bedrock / Azure OpenAI) and a vector database, on private
networks in the profile's regions, with monitoring and content filtering. The app from the PoC is
carried forward, now internal and pointed at the managed models and the vector store; the PoC's
key, secrets and database keep their names, so promoting a stack never replaces them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import pulumi

from components.lowcode import SecretName, SecretRef
from stacks.config import AppKind, PlatformConfig
from stacks.context import StackContext
from stacks.poc import (
    AppExtension,
    AwsFoundation,
    AzureFoundation,
    app_task_role_name,
    aws_foundation,
    aws_lowcode_app,
    azure_foundation,
    azure_lowcode_app,
)


def _vector_secret_refs(secret: str) -> dict[str, SecretRef]:
    return {
        "PGVECTOR_HOST": SecretRef(secret, "host"),
        "PGVECTOR_PORT": SecretRef(secret, "port"),
        "PGVECTOR_USER": SecretRef(secret, "username"),
        "PGVECTOR_PASSWORD": SecretRef(secret, "password"),
    }


# --------------------------------------------------------------------------------------- AWS


@dataclass
class BetaAws:
    """What Beta builds on AWS before the app, for Scale to extend."""

    foundation: AwsFoundation
    bedrock: Any  # BedrockAccess, or None without beta.bedrock
    models: list[Any]  # ResolvedModel
    app: AppExtension
    sagemaker: Any = None  # SageMakerModels, or None without beta.sagemaker


# Interface endpoints per managed inference source (components/aws/endpoints.py); the app's own
# (secrets, parameters, logs, image pulls) are always there. Bedrock has no endpoint in aws-cn.
_BASE_ENDPOINTS = ("secretsmanager", "ssm", "logs", "ecr.api", "ecr.dkr")
_BEDROCK_ENDPOINTS = ("bedrock-runtime", "bedrock-agent-runtime")
_SAGEMAKER_ENDPOINTS = ("sagemaker.runtime",)


def app_reads_gateway_env(cfg: PlatformConfig) -> bool:
    """Whether the app gets the gateway's URL, route names and key as env (LLM_GATEWAY_*): Flowise
    flows read them as runtime variables ($vars.<name> is process.env; FlowiseAI/Flowise
    packages/components/src/utils.ts getVars/prepareSandboxVars, read 2026-11-30). Dify reads no
    such env (its model providers are plugin credentials entered per workspace), so it gets
    neither the URL nor the key; its operators enter them in the OpenAI-API-compatible provider."""
    return cfg.poc.app.kind is AppKind.FLOWISE


def beta_endpoint_services(beta: Any) -> tuple[str, ...]:
    return (*(_BEDROCK_ENDPOINTS if beta.bedrock else ()), *_BASE_ENDPOINTS, *(_SAGEMAKER_ENDPOINTS if beta.sagemaker else ()))


def sagemaker_endpoint_name(ctx: StackContext, model: str) -> str:
    """Endpoint names are unique per account and region (63 characters, letters, digits, '-')."""
    return ctx.namer.name(model, max_len=63)


def beta_aws(ctx: StackContext) -> None:
    beta = build_beta_aws(ctx)
    cfg = ctx.config
    assert cfg.beta is not None
    if cfg.beta.sagemaker is not None or cfg.beta.api_models:
        _aws_beta_gateway(ctx, beta)
    aws_lowcode_app(ctx, beta.foundation, beta.app)


def aws_gateway_key(ctx: StackContext, key_arn: pulumi.Input[str]) -> Any:
    """The gateway master key in Secrets Manager, for the gateway and its operators only (apps get
    a team key); Scale creates the same resources (same logical names and secret name), so
    promotion keeps the key."""
    import pulumi_random as random

    from components.aws.secrets import StoredSecret, StoredSecretArgs

    master_key = random.RandomPassword("gateway-master-key", length=48, special=False, opts=ctx.opts)
    return StoredSecret(
        "gateway-master-key",
        StoredSecretArgs(
            secret_name=ctx.namer.path("app", SecretName.GATEWAY_KEY.value),
            description="LLM gateway master key (administration only; apps use their team key)",
            value=pulumi.Output.concat("sk-", master_key.result),
            kms_key_arn=key_arn,
            tags=ctx.tags,
            protect=False,
        ),
        opts=ctx.opts,
    )


def new_team_key(ctx: StackContext, team: str) -> pulumi.Output[str]:
    """A team's gateway key; Beta and Scale create it under the same logical name."""
    import pulumi_random as random

    from components.gateway import team_key_secret

    return pulumi.Output.concat("sk-", random.RandomPassword(f"{team_key_secret(team)}-value", length=48, special=False, opts=ctx.opts).result)


def aws_team_key(ctx: StackContext, team: str, key_arn: pulumi.Input[str]) -> Any:
    """A team's gateway key in Secrets Manager (same resources in Beta and Scale)."""
    from components.aws.secrets import StoredSecret, StoredSecretArgs
    from components.gateway import team_key_secret

    return StoredSecret(
        team_key_secret(team),
        StoredSecretArgs(
            secret_name=ctx.namer.path("app", team_key_secret(team)),
            description=f"LLM gateway key of team '{team}' (its routes and budget only)",
            value=new_team_key(ctx, team),
            kms_key_arn=key_arn,
            tags=ctx.tags,
            protect=False,
        ),
        opts=ctx.opts,
    )


def beta_gateway_access(routes: list[Any]) -> Any:
    """Beta's gateway knows one team, the app, limited to the Beta routes. No team budget: Beta
    has no gateway Redis to share one, and the stack's cloud budget (llm-platform:budget) covers
    Beta's spend; Scale adds teams with budgets in Redis."""
    from components.gateway import APP_TEAM, GatewayAccess, Team

    return GatewayAccess((Team(APP_TEAM, tuple(r.name for r in routes)),), shared_state=False)


def sagemaker_upstream(region: str, endpoint_name: str, upstream_id: str, **limits: Any) -> Any:
    """A SageMaker endpoint as LiteLLM calls it: `sagemaker_chat/<endpoint>` sends the OpenAI chat
    body to /invocations, signed with the task's role (litellm 1.108.6 llms/sagemaker/chat/
    handler.py builds https://runtime.sagemaker.<region>.<dns suffix>/endpoints/<name>/invocations,
    amazonaws.com.cn for cn- regions via litellm_core_utils/aws_partition.py). Timeouts: at most
    the 60 s InvokeEndpoint allows an answer (components.gateway.SAGEMAKER_TIMEOUT_SECONDS), for
    a whole answer and between stream chunks (litellm/router.py reads `timeout` and
    `stream_timeout` per deployment). No `max_budget`: LiteLLM has no per-token price for an
    endpoint (billed per instance-hour), so its spend is always 0; the cloud budget covers it."""
    from components.gateway import SAGEMAKER_TIMEOUT_SECONDS, Upstream

    limits.pop("max_budget", None)
    limits.pop("budget_duration", None)
    timeouts = {k: min(float(limits.pop(k, None) or SAGEMAKER_TIMEOUT_SECONDS), SAGEMAKER_TIMEOUT_SECONDS) for k in ("timeout", "stream_timeout")}
    return Upstream(id=upstream_id, litellm_model=f"sagemaker_chat/{endpoint_name}", tier="managed", params={"aws_region_name": region}, **timeouts, **limits)


def _aws_beta_gateway(ctx: StackContext, beta: BetaAws) -> None:
    """LiteLLM as an internal ECS service in front of the SageMaker endpoints and the Beta API
    models; the app gets its URL and key as on Azure. Only the gateway's role may invoke the
    endpoints."""
    from components.aws.ecs_app import internal_service_url
    from components.aws.sagemaker import invoke_policy
    from components.gateway import (
        APP_TEAM,
        GATEWAY_PORT,
        MASTER_KEY_ENV,
        Route,
        access_env,
        gateway_service,
        litellm_config,
        render_config,
        team_key_env,
        team_key_secret,
    )
    from components.lowcode import api_key_env_name
    from stacks.inference import beta_api_providers, beta_api_routes

    cfg, account = ctx.config, ctx.aws_account
    assert cfg.beta is not None and account is not None
    routes: list[Any] = []
    policies: dict[str, pulumi.Input[str]] = {}
    if beta.sagemaker is not None:
        names = beta.sagemaker.endpoint_names
        routes += [Route(model, primary=(sagemaker_upstream(account.region, endpoint, f"{model}/sagemaker"),)) for model, endpoint in names.items()]
        policies["invoke-sagemaker"] = invoke_policy(account, list(names.values()))
    routes += beta_api_routes(cfg)
    key = aws_gateway_key(ctx, beta.foundation.key.key_arn)
    # The app authenticates with its team key (custom auth, limited to the Beta routes); only the
    # gateway holds the master key.
    team_key = aws_team_key(ctx, APP_TEAM, beta.foundation.key.key_arn)
    access = beta_gateway_access(routes)
    secrets = {MASTER_KEY_ENV: SecretRef(SecretName.GATEWAY_KEY.value), team_key_env(APP_TEAM): SecretRef(team_key_secret(APP_TEAM))}
    secrets.update({api_key_env_name(p): SecretRef(f"api-key:{p}") for p in beta_api_providers(cfg)})
    env = {"AWS_REGION": account.region, "AWS_DEFAULT_REGION": account.region, **access_env(access)}
    gateway = gateway_service(render_config(litellm_config(routes, access=access)), secrets, env=env, with_auth_module=True)
    namespace = f"{ctx.namer.prefix}.internal"
    url = internal_service_url(gateway, namespace, "/v1")
    app = beta.app
    app.extra_secrets[SecretName.GATEWAY_KEY.value] = key.arn  # read by the gateway's task only
    app.extra_secrets[team_key_secret(APP_TEAM)] = team_key.arn
    if app_reads_gateway_env(cfg):
        app.model_env.update({"LLM_GATEWAY_URL": url, "LLM_GATEWAY_MODELS": ",".join(r.name for r in routes)})
        app.model_secrets["LLM_GATEWAY_KEY"] = SecretRef(team_key_secret(APP_TEAM))
    app.vpc_egress_ports[GATEWAY_PORT] = "LLM gateway (internal ECS service)"
    app.internal_services = (gateway,)
    app.internal_task_policies = {gateway.name: policies}
    app.internal_namespace = namespace
    pulumi.export("gatewayUrl", url)
    pulumi.export("gatewayMasterKeySecretArn", key.arn)
    pulumi.export("gatewayAppKeySecretArn", team_key.arn)  # Dify's operators enter this key


def build_beta_aws(ctx: StackContext) -> BetaAws:
    """Everything Beta adds on AWS except the app and its gateway; the app's settings come back in `app`."""
    import pulumi_aws as aws

    from components.aws.endpoints import VpcEndpoints, VpcEndpointsArgs
    from components.aws.network import plan_subnets
    from components.aws.vector import AuroraVectorStore, AuroraVectorStoreArgs, OpenSearchVectorStore, OpenSearchVectorStoreArgs

    cfg, namer, account = ctx.config, ctx.namer, ctx.aws_account
    beta = cfg.beta
    assert account is not None and beta is not None
    app = cfg.poc.app
    foundation = aws_foundation(ctx, public_subnets=cfg.nat_gateways() > 0)
    network = foundation.network
    key_arn = foundation.key.key_arn

    VpcEndpoints(
        "endpoints",
        VpcEndpointsArgs(account, network.vpc_id, network.vpc_cidr, network.private_subnet_ids, network.private_route_table_ids, ctx.tags, services=beta_endpoint_services(beta)),
        opts=ctx.opts,
    )
    task_role_arn = f"arn:{account.partition}:iam::{account.account_id}:role/{app_task_role_name(ctx)}"
    policies: dict[str, pulumi.Input[str]] = {}
    model_env: dict[str, Any] = {"AWS_REGION": account.region, "AWS_DEFAULT_REGION": account.region}
    bedrock, models = _beta_bedrock(ctx, foundation, policies, model_env) if beta.bedrock is not None else (None, [])
    sagemaker = _beta_sagemaker(ctx, foundation) if beta.sagemaker is not None else None
    vector_env: dict[str, Any]
    vector_secrets: dict[str, SecretRef] = {}
    extra_secrets: dict[str, pulumi.Input[str]] = {}
    extra_parameters: dict[str, pulumi.Input[str]] = {}
    store_engine = beta.vector_store.engine
    if store_engine == "opensearch-serverless":
        collection = OpenSearchVectorStore(
            "vectors",
            OpenSearchVectorStoreArgs(
                collection_name=namer.name("vectors", max_len=32),
                vpc_id=network.vpc_id,
                vpc_cidr=network.vpc_cidr,
                subnet_ids=network.private_subnet_ids,
                kms_key_arn=key_arn,
                reader_writer_arns=[task_role_arn],
                standby_replicas=beta.vector_store.standby_replicas,
                tags=ctx.tags,
            ),
            opts=ctx.opts,
        )
        policies["vectors"] = collection.collection_arn.apply(
            lambda arn: json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "UseVectorCollection", "Effect": "Allow", "Action": ["aoss:APIAccessAll"], "Resource": [arn]}]})
        )
        host = aws.ssm.Parameter(
            "vectors-host",
            name=f"/{ctx.project}/{ctx.stack}/app/opensearch-host",
            type="String",
            description="Endpoint host of the vector collection (known after it is created)",
            value=collection.endpoint.apply(lambda url: url.removeprefix("https://")),
            tags=ctx.tags,
            opts=ctx.opts,
        )
        extra_parameters["opensearch-host"] = host.arn
        vector_secrets = {"OPENSEARCH_HOST": SecretRef("opensearch-host")}
        vector_env = {
            "VECTOR_STORE": "opensearch",
            "OPENSEARCH_PORT": "443",
            "OPENSEARCH_SECURE": "true",
            "OPENSEARCH_VERIFY_CERTS": "true",
            "OPENSEARCH_AUTH_METHOD": "aws_managed_iam",
            "OPENSEARCH_AWS_REGION": account.region,
            "OPENSEARCH_AWS_SERVICE": "aoss",
        }
        pulumi.export("vectorEndpoint", collection.endpoint)
    else:
        aurora = AuroraVectorStore(
            "vectors",
            AuroraVectorStoreArgs(
                cluster_identifier=namer.name("vectors"),
                vpc_id=network.vpc_id,
                subnet_ids=network.data_subnet_ids,
                client_cidrs=plan_subnets(cfg.poc.network.cidr, 2).private,
                kms_key_arn=key_arn,
                secret_name=namer.path("app", SecretName.VECTOR_DATABASE.value),
                min_capacity=beta.vector_store.min_capacity,
                max_capacity=beta.vector_store.max_capacity,
                backup_retention_days=app.database.backup_retention_days,
                tags=ctx.tags,
                log_retention_days=app.log_retention_days,
            ),
            opts=ctx.opts,
        )
        extra_secrets[SecretName.VECTOR_DATABASE.value] = aurora.secret_arn
        vector_env = {"VECTOR_STORE": "pgvector", "PGVECTOR_DATABASE": "vectors"}
        vector_secrets = _vector_secret_refs(SecretName.VECTOR_DATABASE.value)

    app_ext = AppExtension(
        internet_facing=False,
        model_env=model_env,
        vector_env=vector_env,
        vector_secrets=vector_secrets,
        extra_secrets=extra_secrets,
        extra_parameters=extra_parameters,
        task_policies=policies,
    )
    return BetaAws(foundation, bedrock, models, app_ext, sagemaker)


def _beta_bedrock(ctx: StackContext, foundation: AwsFoundation, policies: dict[str, pulumi.Input[str]], model_env: dict[str, Any]) -> tuple[Any, list[Any]]:
    """Bedrock models, guardrail and invocation logging; the app's task role may call them."""
    from components.aws.bedrock import BedrockAccess, BedrockAccessArgs
    from components.aws.bedrock_catalog import lifecycle_warning, resolve_model

    cfg, account = ctx.config, ctx.aws_account
    beta = cfg.beta
    assert beta is not None and beta.bedrock is not None and account is not None
    app = cfg.poc.app
    models = [resolve_model(m.name, m.model, m.routing, cfg.region, cfg.profile, m.in_regions, m.profile_prefixes) for m in beta.bedrock.models]
    for m in models:
        notice = lifecycle_warning(m.model_id, date.today())
        if notice:
            pulumi.log.warn(f"llm-platform:beta.bedrock model '{m.name}': {notice}")
    bedrock = BedrockAccess(
        "bedrock",
        BedrockAccessArgs(
            account=account,
            models=models,
            name_prefix=ctx.namer.prefix,
            kms_key_arn=foundation.key.key_arn,
            log_group_name=f"/{ctx.project}/{ctx.stack}/bedrock-invocations",
            log_retention_days=app.log_retention_days,
            content_filter_strength=beta.bedrock.guardrail.content_filter_strength,
            pii_action=beta.bedrock.guardrail.pii_action,
            invocation_logging=beta.bedrock.invocation_logging,
            alarm_emails=cfg.budget.emails,
            alarm_thresholds={"server_errors": beta.alarms.server_errors, "throttles": beta.alarms.throttles, "latency_p90_ms": beta.alarms.latency_p90_ms},
            tags=ctx.tags,
        ),
        opts=ctx.opts,
    )
    policies.update({"bedrock-models": bedrock.models_policy, "bedrock-profiles": bedrock.profiles_policy})
    if app.kind is AppKind.FLOWISE:
        # Flowise flows read these as runtime variables ($vars.BEDROCK_CHAT_MODEL, ...).
        model_env.update({f"BEDROCK_{m.name.upper().replace('-', '_')}_MODEL": bedrock.profile_arns[m.name] for m in models})
        model_env.update({"BEDROCK_GUARDRAIL_ID": bedrock.guardrail_id, "BEDROCK_GUARDRAIL_VERSION": bedrock.guardrail_version})
    pulumi.export("bedrockModels", {m.name: m.invoke_id for m in models})
    pulumi.export("bedrockInferenceProfileArns", bedrock.profile_arns)
    pulumi.export("guardrail", {"id": bedrock.guardrail_id, "version": bedrock.guardrail_version})
    return bedrock, models


def _beta_sagemaker(ctx: StackContext, foundation: AwsFoundation) -> Any:
    from components.aws.sagemaker import HostedModel, SageMakerModels, SageMakerModelsArgs
    from components.aws.sagemaker_catalog import resolve_instance

    cfg, account = ctx.config, ctx.aws_account
    assert cfg.beta is not None and cfg.beta.sagemaker is not None and account is not None
    hosted = [
        HostedModel(
            name=m.name,
            endpoint_name=sagemaker_endpoint_name(ctx, m.name),
            weights_uri=m.model_id,
            instance=resolve_instance(m.instance_type, cfg.region),
            min_instances=m.min_instances,
            max_instances=m.max_instances,
            max_model_len=m.max_model_len,
            invocations_per_instance=m.invocations_per_instance,
        )
        for m in cfg.beta.sagemaker.models
    ]
    network = foundation.network
    sagemaker = SageMakerModels(
        "sagemaker",
        SageMakerModelsArgs(
            account=account,
            models=hosted,
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            kms_key_arn=foundation.key.key_arn,
            log_retention_days=cfg.poc.app.log_retention_days,
            tags=ctx.tags,
        ),
        opts=ctx.opts,
    )
    pulumi.export("sagemakerEndpoints", sagemaker.endpoint_names)
    return sagemaker


# ------------------------------------------------------------------------------------- Azure


@dataclass
class BetaAzure:
    """What Beta builds on Azure before the model gateway and the app, for Scale to extend."""

    foundation: AzureFoundation
    openai: Any  # AzureOpenAI, or None when Beta serves API models only
    deployments: list[Any]  # ResolvedDeployment
    gateway_key_url: pulumi.Output[str]  # Key Vault secret holding the gateway master key
    app: AppExtension


def beta_azure(ctx: StackContext) -> None:
    import pulumi_azure_native as azure

    from components.azure.clouds import ROLE_COGNITIVE_SERVICES_OPENAI_USER
    from components.azure.container_apps import AppIdentity, container_app_name
    from components.azure.roles import assign_role
    from components.gateway import (
        APP_TEAM,
        MASTER_KEY_ENV,
        access_env,
        gateway_service,
        litellm_config,
        render_config,
        team_key_env,
        team_key_secret,
    )
    from components.lowcode import api_key_env_name
    from stacks.inference import beta_api_providers, beta_api_routes

    cfg, namer = ctx.config, ctx.namer
    beta = build_beta_azure(ctx)
    foundation = beta.foundation
    # The model gateway: Azure OpenAI takes no keys (local auth off), so LiteLLM calls it with its
    # own managed identity (the only one allowed to call the deployments), and third-party API
    # models (beta.apiModels) with their keys from Key Vault; it offers the app one
    # OpenAI-compatible endpoint inside the VNet.
    identity = azure.managedidentity.UserAssignedIdentity(
        "gateway-identity", resource_name_=namer.name("gateway"), resource_group_name=foundation.resource_group.name, location=cfg.region, tags=ctx.tags, opts=ctx.opts
    )
    if beta.openai is not None:
        assign_role(
            "gateway-app-calls-openai",
            subscription_id=foundation.subscription_id,
            role_id=ROLE_COGNITIVE_SERVICES_OPENAI_USER,
            principal_id=identity.principal_id,
            scope=beta.openai.account_id,
            parent=beta.openai,
            description="the model gateway calls the Azure OpenAI deployments",
        )
    routes = [*azure_openai_routes(beta), *beta_api_routes(cfg)]
    extra_settings = {"enable_azure_ad_token_refresh": True} if beta.openai is not None else None
    # The app authenticates with its team key (custom auth, limited to the Beta routes); only the
    # gateway holds the master key.
    access = beta_gateway_access(routes)
    config_yaml = render_config(litellm_config(routes, extra_settings=extra_settings, access=access))
    # The identity and token scope LiteLLM's Entra token refresh uses for Azure OpenAI.
    gateway_env: dict[str, Any] = {"AZURE_CLIENT_ID": identity.client_id, **azure_scope_env(cfg.azure_environment)} if beta.openai is not None else {}
    gateway_env.update(access_env(access))
    team_key_url = foundation.vault.secret(team_key_secret(APP_TEAM), new_team_key(ctx, APP_TEAM), protect=False)
    beta.app.extra_secrets[team_key_secret(APP_TEAM)] = team_key_url
    gateway_secrets = {MASTER_KEY_ENV: SecretRef(SecretName.GATEWAY_KEY.value), team_key_env(APP_TEAM): SecretRef(team_key_secret(APP_TEAM))}
    # The API keys poc.apiProviders put in Key Vault (secret api-key-<provider>).
    gateway_secrets.update({api_key_env_name(p): SecretRef(f"api-key:{p}") for p in beta_api_providers(cfg)})
    gateway = gateway_service(config_yaml, gateway_secrets, env=gateway_env, with_auth_module=True)
    gateway_url = f"http://{container_app_name(ctx.namer.prefix, gateway.name, internal=not beta.app.internet_facing)}/v1"
    if app_reads_gateway_env(cfg):
        beta.app.model_env.update({"LLM_GATEWAY_URL": gateway_url, "LLM_GATEWAY_MODELS": ",".join(r.name for r in routes)})
        beta.app.model_secrets["LLM_GATEWAY_KEY"] = SecretRef(team_key_secret(APP_TEAM))
    beta.app.internal_services = (gateway,)
    beta.app.internal_identities = {gateway.name: AppIdentity(identity.id, identity.principal_id, identity.client_id)}
    azure_lowcode_app(ctx, beta.foundation, beta.app)
    pulumi.export("gatewayUrl", gateway_url)
    pulumi.export("gatewayAppKeySecretUrl", team_key_url)  # Dify's operators enter this key


def azure_scope_env(azure_environment: str) -> dict[str, str]:
    """Outside the public cloud: the Entra token scope for Azure OpenAI (LiteLLM reads
    AZURE_SCOPE, default https://cognitiveservices.azure.com/.default) and the cloud's Entra ID
    authority for azure-identity (AZURE_AUTHORITY_HOST), both from components/azure/clouds.py."""
    from components.azure.clouds import CLOUDS, identity_env

    if azure_environment == "public":
        return {}
    names = CLOUDS[azure_environment]
    return {"AZURE_SCOPE": f"https://{names.cognitive_services}/.default", **identity_env(names)}


def azure_openai_routes(beta: BetaAzure) -> list[Any]:
    """One gateway route per Azure OpenAI deployment (none when Beta has no azureOpenAI)."""
    from components.gateway import Route

    return [Route(d.name, primary=(azure_openai_upstream(beta, d.name),)) for d in beta.deployments]


def azure_openai_upstream(beta: BetaAzure, deployment: str, upstream_id: str | None = None, **limits: Any) -> Any:
    from components.gateway import azure_openai_upstream as upstream

    (resolved,) = [d for d in beta.deployments if d.name == deployment]
    return upstream(upstream_id or f"azure-{deployment}", resolved, beta.openai.endpoint, **limits)


def build_beta_azure(ctx: StackContext, *, extra_subnets: tuple[str, ...] = (), extra_zones: dict[str, str] | None = None) -> BetaAzure:
    """Everything Beta adds on Azure except the model gateway and the app."""
    import pulumi_random as random

    from components.azure.clouds import (
        CLOUDS,
        ROLE_SEARCH_INDEX_DATA_CONTRIBUTOR,
        ROLE_SEARCH_SERVICE_CONTRIBUTOR,
    )
    from components.azure.container_apps import key_vault_secret_name
    from components.azure.data import FlexiblePostgres, FlexiblePostgresArgs
    from components.azure.openai import SearchService, SearchServiceArgs
    from components.azure.openai_catalog import declared_availability_warning, resolve_deployment, retirement_warning
    from components.azure.roles import assign_role
    from stacks.poc import AZURE_DEFAULT_DB_SKU

    cfg, location = ctx.config, ctx.config.region
    beta = cfg.beta
    assert beta is not None
    names = CLOUDS[cfg.azure_environment]
    engine = beta.vector_store.engine
    # Beta may serve API models only (beta.apiModels): then there is no Azure OpenAI account.
    zones = {"account": str(names.private_zones["account"])} if beta.azure_openai is not None else {}
    if engine == "ai-search":
        zones["searchService"] = str(names.private_zones["searchService"])
    foundation = azure_foundation(ctx, extra_zones={**zones, **(extra_zones or {})}, extra_subnets=extra_subnets)
    rg_name = foundation.resource_group.name
    network = foundation.network
    vault = foundation.vault
    identity = foundation.app_identity

    aoai = beta.azure_openai
    deployments = [
        resolve_deployment(d.name, d.model, d.version, d.sku, location, cfg.profile, d.regions, cloud=cfg.azure_environment) for d in (aoai.deployments if aoai else [])
    ]
    for i, d in enumerate(deployments):
        # The retirement table is the public cloud's; sovereign clouds retire on their own schedule.
        retiring = retirement_warning(d.model, d.version) if cfg.azure_environment == "public" else None
        for notice in (retiring, declared_availability_warning(d, cfg.azure_environment, location)):
            if notice:
                pulumi.log.warn(f"llm-platform:beta.azureOpenAI.deployments[{i}] '{d.name}': {notice}")
    openai = None if aoai is None else _azure_openai_account(ctx, foundation, aoai, deployments)

    vector_env: dict[str, Any] = {}
    vector_secrets: dict[str, SecretRef] = {}
    extra_secrets: dict[str, pulumi.Input[str]] = {}
    if engine == "ai-search":
        search = SearchService(
            "search",
            SearchServiceArgs(rg_name, location, beta.vector_store.sku, beta.vector_store.replicas, network.endpoints_subnet_id, network.zone_ids["searchService"], foundation.workspace.workspace_id, ctx.tags),
            opts=ctx.opts,
        )
        for role, what in ((ROLE_SEARCH_INDEX_DATA_CONTRIBUTOR, "documents"), (ROLE_SEARCH_SERVICE_CONTRIBUTOR, "indexes")):
            assign_role(
                f"app-search-{what}",
                subscription_id=foundation.subscription_id,
                role_id=role,
                principal_id=identity.principal_id,
                scope=search.service_id,
                parent=search,
                description=f"the app manages {what} of the vector index",
            )
        vector_env = {"AZURE_AI_SEARCH_ENDPOINT": search.service_name.apply(lambda n: f"https://{n}.{names.search}")}
    else:
        vectors = FlexiblePostgres(
            "vector-db",
            FlexiblePostgresArgs(
                resource_group_name=rg_name,
                location=location,
                delegated_subnet_id=network.data_subnet_id,
                private_zone_id=network.zone_ids["postgres"],
                private_zone_link=network.zone_links["postgres"],
                database_names=["vectors"],
                sku_name=cfg.poc.app.database.instance_class or AZURE_DEFAULT_DB_SKU,
                storage_gb=cfg.poc.app.database.storage_gb,
                backup_retention_days=cfg.poc.app.database.backup_retention_days,
                # Refused with the CMK (components/azure/checks.py GEO_BACKUP_REFUSAL); `auto` = off.
                geo_redundant_backup=False,
                high_availability=bool(cfg.poc.app.database.multi_az),
                encryption=foundation.encryption,
                workspace_id=foundation.workspace.workspace_id,
                tags=ctx.tags,
            ),
            opts=ctx.opts,
        )
        fields = {"username": vectors.admin_login, "password": vectors.admin_password, "host": vectors.host, "port": "5432"}
        for field_name, value in fields.items():
            ref = SecretRef(SecretName.VECTOR_DATABASE.value, field_name)
            extra_secrets[key_vault_secret_name(ref)] = vault.secret(key_vault_secret_name(ref), value, protect=field_name == "password")
        vector_env = {"VECTOR_STORE": "pgvector", "PGVECTOR_DATABASE": "vectors"}
        vector_secrets = _vector_secret_refs(SecretName.VECTOR_DATABASE.value)

    gateway_key = random.RandomPassword("gateway-master-key", length=48, special=False, opts=ctx.opts)
    gateway_key_url = vault.secret(SecretName.GATEWAY_KEY.value, pulumi.Output.concat("sk-", gateway_key.result), protect=False)
    extra_secrets[SecretName.GATEWAY_KEY.value] = gateway_key_url
    if openai is not None:
        pulumi.export("azureOpenAIEndpoint", openai.endpoint)
        pulumi.export("azureOpenAIDeployments", {d.name: {"model": d.model, "version": d.version, "sku": d.sku} for d in deployments})
    app_ext = AppExtension(
        internet_facing=False,
        vector_env=vector_env,
        vector_secrets=vector_secrets,
        extra_secrets=extra_secrets,
    )
    return BetaAzure(foundation, openai, deployments, gateway_key_url, app_ext)


def _azure_openai_account(ctx: StackContext, foundation: AzureFoundation, aoai: Any, deployments: list[Any]) -> Any:
    """The Azure OpenAI account (local auth off, private endpoint, CMK once `enabled`)."""
    import pulumi_azure_native as azure

    from components.azure.clouds import CLOUDS
    from components.azure.openai import AzureOpenAI, AzureOpenAIArgs
    from components.naming import short_hash

    cfg, namer = ctx.config, ctx.namer
    names = CLOUDS[cfg.azure_environment]
    cmk = aoai.customer_managed_key == "enabled"
    if not cmk:
        pulumi.log.warn(
            "llm-platform:beta.azureOpenAI.customerManagedKey is pending: the Azure OpenAI account keeps Microsoft-managed keys "
            "until its system identity holds the key (this deploy); then set it to enabled and deploy again. Never start a new "
            "stack with enabled: the account's system identity does not exist before the first deploy, so Azure cannot read the key "
            "and the account update fails"
        )
    # The custom subdomain is global: stable per subscription and stack, never random.
    account_name = f"{namer.prefix}-oai-{short_hash(foundation.subscription_id, ctx.stack)}"[:64]
    return AzureOpenAI(
        "openai",
        AzureOpenAIArgs(
            account_name=account_name,
            kind=aoai.kind,
            resource_group_name=foundation.resource_group.name,
            location=cfg.region,
            deployments=deployments,
            capacities={d.name: d.capacity for d in aoai.deployments},
            endpoints_subnet_id=foundation.network.endpoints_subnet_id,
            zone_id=foundation.network.zone_ids["account"],
            workspace_id=foundation.workspace.workspace_id,
            openai_domain=names.openai,
            tenant_id=azure.authorization.get_client_config().tenant_id,
            key_vault_suffix=names.key_vault,
            customer_managed_key=cmk,
            tags=ctx.tags,
        ),
        opts=ctx.opts,
    )
