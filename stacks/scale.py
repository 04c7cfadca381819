"""Scale: Beta + a Kubernetes cluster (EKS or AKS) with GPU node pools serving open models (vLLM)
behind an LLM gateway (LiteLLM) that routes each public model name to the self-hosted servers
first and to managed or third-party API fallbacks, with retries, cooldowns, rate limits and
budgets. The app from Beta is carried forward and pointed at the gateway; every name Beta gave
stays, so promoting a stack never replaces its databases, keys or secrets."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pulumi

from components.gateway import MASTER_KEY_ENV, Route, RouterSettings, Upstream, litellm_config, render_config
from components.lowcode import SecretName, SecretRef
from policies.llm_guard.routing import API_PROVIDERS
from stacks.config import NAMESPACE, PlatformConfig, RouteConfig, ScaleConfig
from stacks.context import StackContext

SYSTEM_POOL = "system"
DEFAULT_SYSTEM_INSTANCE = {"aws": "m6i.xlarge", "azure": "Standard_D4s_v5"}
SYSTEM_DISK_GB = 100
# Pod Security admission per namespace: the gateway (non-root LiteLLM image) meets `restricted`;
# the vLLM image runs as root, so its namespace enforces `baseline` and reports `restricted` findings.
POD_SECURITY: dict[str, dict[str, str]] = {
    "llm-gateway": {"pod-security.kubernetes.io/enforce": "restricted"},
    "llm-models": {"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/audit": "restricted"},
}


def _env_name(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", text.upper())


def vllm_base_env(model: str) -> str:
    """Env var holding a model server's API root in the gateway pod."""
    return f"VLLM_{_env_name(model)}_BASE"


def api_base_env(provider: str) -> str:
    return f"{_env_name(provider)}_API_BASE"


def api_key_env(provider: str) -> str:
    return f"{_env_name(provider)}_API_KEY"


# --------------------------------------------------------------------------- gateway routes


@dataclass
class GatewayPlan:
    """The gateway's config.yaml and what its pod must be given to run it."""

    routes: list[Route]
    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)  # plain settings (API roots, region)
    api_providers: list[str] = field(default_factory=list)  # whose keys the gateway Secret carries
    uses_bedrock: bool = False
    uses_azure_openai: bool = False


ManagedUpstream = Callable[[str, str, Mapping[str, Any]], Upstream]  # (route, target, limits)


def plan_gateway(scale: ScaleConfig, model_url: Callable[[str], str], managed: Mapping[str, ManagedUpstream]) -> GatewayPlan:
    """Typed routes from the config: self-hosted models share the public name, fallbacks follow in
    the configured order. `managed` builds Bedrock / Azure OpenAI upstreams for this cloud."""
    plan = GatewayPlan(routes=[])
    for route in scale.routes:
        primary = []
        for model in route.self_hosted:
            plan.env[vllm_base_env(model)] = model_url(model)
            primary.append(Upstream(id=f"{route.name}/vllm-{model}", litellm_model=f"hosted_vllm/{model}", tier="self-hosted", api_base=f"os.environ/{vllm_base_env(model)}"))
        fallbacks = [_fallback(route, ref, plan, managed) for ref in route.fallbacks]
        plan.routes.append(Route(route.name, primary=tuple(primary), fallbacks=tuple(fallbacks)))
    return plan


def _limits(route: RouteConfig) -> dict[str, Any]:
    limits: dict[str, Any] = {"rpm": route.rpm, "tpm": route.tpm}
    if route.max_budget is not None:
        limits.update(max_budget=route.max_budget, budget_duration=route.budget_duration)
    return limits


def _fallback(route: RouteConfig, ref: str, plan: GatewayPlan, managed: Mapping[str, ManagedUpstream]) -> Upstream:
    kind, _, target = ref.partition(":")
    if kind in ("bedrock", "azure"):
        plan.uses_bedrock |= kind == "bedrock"
        plan.uses_azure_openai |= kind == "azure"
        return managed[kind](route.name, target, _limits(route))
    provider, _, model = target.partition("/")
    api = API_PROVIDERS[provider]
    plan.env[api_base_env(provider)] = api.api_base
    if provider not in plan.api_providers:
        plan.api_providers.append(provider)
    return Upstream(
        id=f"{route.name}/api-{provider}-{model}",
        litellm_model=f"{api.litellm_prefix}/{model}",
        tier="api",
        api_base=f"os.environ/{api_base_env(provider)}",
        api_key_env=api_key_env(provider),
        **_limits(route),
    )


def gateway_config_yaml(scale: ScaleConfig, plan: GatewayPlan, extra_settings: Mapping[str, Any] | None = None) -> pulumi.Output[str]:
    g = scale.gateway
    settings = RouterSettings(num_retries=g.num_retries, allowed_fails=g.allowed_fails, cooldown_seconds=g.cooldown_seconds, timeout_seconds=g.timeout_seconds)
    # Upstream fields may be outputs (ARNs, endpoints): render once they are known.
    return pulumi.Output.from_input(litellm_config(plan.routes, settings, extra_settings)).apply(render_config)


# --------------------------------------------------------------------------- on the cluster


@dataclass
class ClusterWorkloads:
    """Cloud-specific inputs for what the platform runs on any cluster."""

    provider: pulumi.ProviderResource
    secret_store: Mapping[str, Any]  # External Secrets ClusterSecretStore provider block
    secret_sync_annotations: Mapping[str, pulumi.Input[str]]
    secret_sync_pod_labels: Mapping[str, str]
    gateway_secrets: Mapping[str, pulumi.Input[str]]  # env var in the gateway -> remote secret
    hugging_face_secret: pulumi.Input[str] | None  # remote secret with the token, if configured
    gateway_plan: GatewayPlan
    gateway_config: pulumi.Input[str]
    gateway_annotations: Mapping[str, pulumi.Input[str]]
    gateway_pod_labels: Mapping[str, str]
    load_balancer_annotations: Mapping[str, str]
    allowed_cidrs: Sequence[str]
    # Pod Identity associations / federated credentials the operator and the gateway run with.
    secret_sync_identity: Sequence[pulumi.Resource] = ()
    gateway_identity: Sequence[pulumi.Resource] = ()


def deploy_workloads(ctx: StackContext, cluster: ClusterWorkloads) -> Any:
    """Namespaces, GPU support, secret sync, one vLLM server per model and the gateway. Returns
    the gateway's Service."""
    import pulumi_kubernetes as k8s

    from components.k8s.addons import GpuSupport, SecretSync, SecretSyncArgs
    from components.k8s.gpu import GPU_INSTANCES
    from components.k8s.meta import metadata
    from components.k8s.serving import (
        GATEWAY_NAMESPACE,
        GATEWAY_SECRET,
        HF_SECRET,
        MODELS_NAMESPACE,
        GatewayArgs,
        LlmGateway,
        ModelServer,
        ModelServerArgs,
        model_namespace_policies,
    )

    scale = ctx.config.scale
    assert scale is not None
    tags = ctx.tags
    opts = pulumi.ResourceOptions(providers=[cluster.provider])
    namespaces = {
        ns: k8s.core.v1.Namespace(f"namespace-{ns}", metadata=metadata(ns, tags, labels=POD_SECURITY[ns]), opts=opts) for ns in (MODELS_NAMESPACE, GATEWAY_NAMESPACE)
    }
    GpuSupport("gpu-support", tags, opts=opts)
    synced: dict[str, tuple[str, Mapping[str, pulumi.Input[str]]]] = {GATEWAY_SECRET: (GATEWAY_NAMESPACE, dict(cluster.gateway_secrets))}
    if cluster.hugging_face_secret is not None:
        synced[HF_SECRET] = (MODELS_NAMESPACE, {"HF_TOKEN": cluster.hugging_face_secret})
    SecretSync(
        "secret-sync",
        SecretSyncArgs(
            provider_spec=cluster.secret_store,
            service_account_annotations=cluster.secret_sync_annotations,
            pod_labels=cluster.secret_sync_pod_labels,
            secrets=synced,
            namespaces=list(namespaces.values()),
            tags=tags,
            identity=cluster.secret_sync_identity,
        ),
        opts=opts,
    )
    models_ns = namespaces[MODELS_NAMESPACE].metadata["name"]
    pools = {p.name: p for p in scale.gpu_pools}
    for model in scale.models:
        shape = GPU_INSTANCES[pools[model.pool].instance_type]
        at_min = sum(m.min_replicas * m.gpus_per_replica for m in scale.models if m.pool == model.pool)
        cpu, memory = shape.share(model.gpus_per_replica)
        ModelServer(
            f"model-{model.name}",
            ModelServerArgs(
                name=model.name,
                hugging_face_id=model.hugging_face_id,
                revision=model.revision,
                gpus_per_replica=model.gpus_per_replica,
                min_replicas=model.min_replicas,
                max_replicas=model.max_replicas,
                max_model_len=model.max_model_len,
                cache_size_gb=model.cache_size_gb,
                cpu=cpu,
                memory_gib=memory,
                namespace=models_ns,
                tags=tags,
                surge_fits=at_min + model.gpus_per_replica <= pools[model.pool].max_size * shape.gpus,
            ),
            opts=opts,
        )
    model_namespace_policies("models", models_ns, tags, opts)
    _warn_single_replicas(scale)
    gateway = LlmGateway(
        "gateway",
        GatewayArgs(
            config_yaml=cluster.gateway_config,
            replicas=scale.gateway.replicas,
            request_timeout_seconds=scale.gateway.timeout_seconds,
            namespace=namespaces[GATEWAY_NAMESPACE].metadata["name"],
            secret_env=sorted(cluster.gateway_secrets),
            env=cluster.gateway_plan.env,
            allowed_cidrs=list(cluster.allowed_cidrs),
            load_balancer_annotations=cluster.load_balancer_annotations,
            tags=tags,
            service_account_annotations=cluster.gateway_annotations,
            pod_labels=cluster.gateway_pod_labels,
            identity=cluster.gateway_identity,
        ),
        opts=opts,
    )
    return gateway


def _warn_single_replicas(scale: ScaleConfig) -> None:
    """Disruption budgets never block a drain (components.k8s.serving.disruption_budget): say
    which routes a drain interrupts."""
    singles = {m.name for m in scale.models if m.min_replicas == 1}
    for route in scale.routes:
        if not route.fallbacks and (down := [m for m in route.self_hosted if m in singles]) and len(down) == len(route.self_hosted):
            pulumi.log.warn(f"llm-platform:scale.routes '{route.name}' has no fallbacks and its models ({', '.join(down)}) run one replica: node drains and upgrades interrupt it; add a fallback or set minReplicas to 2")
    if scale.gateway.replicas == 1:
        pulumi.log.warn("llm-platform:scale.gateway.replicas is 1: node drains and upgrades interrupt the gateway; set 2 or more")


def _gateway_url(service: Any) -> pulumi.Output[str]:
    """From the internal load balancer's address (a DNS name on AWS, an IP on Azure), which
    Kubernetes reports once the cloud has created it; `pulumi up` waits for that."""
    from components.gateway import GATEWAY_PORT

    def url(status: Any) -> str:
        ingress = (status.load_balancer.ingress if status and status.load_balancer else None) or []
        if not ingress:
            # A user-facing failure, not a program bug: RunError prints without a stack trace.
            raise pulumi.RunError("the LLM gateway's LoadBalancer Service has no address yet: check `kubectl -n llm-gateway describe service litellm` (subnet tags, quotas), then run `pulumi up` again")
        return f"http://{ingress[0].hostname or ingress[0].ip}:{GATEWAY_PORT}/v1"

    return service.status.apply(url)


def _hugging_face_token(cfg: PlatformConfig) -> pulumi.Output[str] | None:
    if not cfg.hugging_face_token_key:
        return None
    return pulumi.Config(NAMESPACE).require_secret(cfg.hugging_face_token_key.split(":", 1)[1])


# External Secrets' Azure Key Vault provider authenticates against the public cloud unless told
# otherwise (environmentType, default PublicCloud; values PublicCloud, USGovernmentCloud,
# ChinaCloud, GermanCloud: external-secrets/external-secrets apis/externalsecrets/v1/
# secretstore_azurekv_types.go, read 2026-11-30). Keyed by azure-native:environment.
ESO_AZURE_ENVIRONMENT = {"public": "PublicCloud", "china": "ChinaCloud", "usgovernment": "USGovernmentCloud"}


def _warn_kubernetes_version(cfg: PlatformConfig) -> None:
    from components.k8s.versions import KUBERNETES_VERSIONS

    assert cfg.scale is not None
    if notice := KUBERNETES_VERSIONS[cfg.cloud.value].warning(cfg.scale.kubernetes_version, date.today()):
        pulumi.log.warn(f"llm-platform:scale.kubernetesVersion: {notice}")


def _refuse_the_deployer_as_cluster_admin(ctx: StackContext) -> None:
    """EKS already makes the identity running `pulumi up` cluster admin; its own entry in
    clusterAdmins would fail the deployment (ResourceInUseException). Compared at preview."""
    import pulumi_aws as aws

    from components.aws.eks import names_the_caller
    from stacks.errors import ConfigError, ConfigProblem

    assert ctx.config.scale is not None
    (provider,) = ctx.opts.providers  # the stack's AWS provider: its identity creates the cluster
    caller = aws.get_caller_identity(opts=pulumi.InvokeOptions(provider=provider)).arn
    problems = [
        ConfigProblem(
            f"{NAMESPACE}:scale.clusterAdmins[{i}]",
            arn,
            f"names the identity running `pulumi up` ({caller}), which EKS makes cluster admin itself; a second access entry for it fails with "
            "ResourceInUseException: remove it (list only the other admins)",
        )
        for i, arn in enumerate(ctx.config.scale.cluster_admins)
        if names_the_caller(arn, caller)
    ]
    if problems:
        raise pulumi.RunError(ConfigError(problems).render())


def _system_pool_instance(cfg: PlatformConfig) -> str:
    scale = cfg.scale
    assert scale is not None
    return scale.system_pool.instance_type or DEFAULT_SYSTEM_INSTANCE[cfg.cloud.value]


# --------------------------------------------------------------------------------------- AWS


def scale_aws(ctx: StackContext) -> None:
    import pulumi_aws as aws
    import pulumi_kubernetes as k8s

    from components.aws.eks import EksCluster, EksClusterArgs, NodePool, autoscaler_policy
    from components.aws.secrets import StoredSecret, StoredSecretArgs
    from components.gateway import GATEWAY_PORT
    from components.k8s.addons import SecretSync, cluster_autoscaler
    from components.k8s.serving import GATEWAY_NAMESPACE, LlmGateway, model_service_url
    from stacks.beta import build_beta_aws
    from stacks.poc import aws_lowcode_app

    cfg, namer, account = ctx.config, ctx.namer, ctx.aws_account
    scale = cfg.scale
    assert scale is not None and account is not None
    beta = build_beta_aws(ctx)
    foundation = beta.foundation
    key_arn = foundation.key.key_arn
    cluster_name = namer.name("eks", max_len=100)
    _warn_kubernetes_version(cfg)
    _refuse_the_deployer_as_cluster_admin(ctx)

    pools = [NodePool(SYSTEM_POOL, _system_pool_instance(cfg), scale.system_pool.min_size, scale.system_pool.max_size, SYSTEM_DISK_GB, gpu=False)]
    pools += [NodePool(p.name, p.instance_type, p.min_size, p.max_size, p.disk_size_gb, gpu=True, spot=p.capacity == "spot") for p in scale.gpu_pools]
    cluster = EksCluster(
        "eks",
        EksClusterArgs(
            account=account,
            cluster_name=cluster_name,
            kubernetes_version=scale.kubernetes_version,
            vpc_id=foundation.network.vpc_id,
            subnet_ids=foundation.network.private_subnet_ids,
            api_cidrs=[foundation.network.vpc_cidr, *(str(c) for c in scale.admin_cidrs)],
            private_endpoint=scale.private_endpoint,
            public_access_cidrs=[str(c) for c in scale.public_access_cidrs],
            kms_key_arn=key_arn,
            log_retention_days=cfg.poc.app.log_retention_days,
            pools=pools,
            tags=ctx.tags,
            cluster_admins=scale.cluster_admins,
            preview_principal=scale.preview_principal,
        ),
        opts=ctx.opts,
    )

    # Secrets the cluster reads from Secrets Manager (synced by External Secrets, never in state
    # as Kubernetes objects).
    import pulumi_random as random

    master_key = random.RandomPassword("gateway-master-key", length=48, special=False, opts=ctx.opts)
    gateway_key = StoredSecret(
        "gateway-master-key",
        StoredSecretArgs(
            secret_name=namer.path("app", SecretName.GATEWAY_KEY.value),
            description="LLM gateway master key (apps send it as their bearer token)",
            value=pulumi.Output.concat("sk-", master_key.result),
            kms_key_arn=key_arn,
            tags=ctx.tags,
            protect=False,
        ),
        opts=ctx.opts,
    )
    hf_arn: pulumi.Output[str] | None = None
    if (token := _hugging_face_token(cfg)) is not None:
        hf_arn = StoredSecret(
            "hugging-face-token",
            StoredSecretArgs(secret_name=namer.path("models", "hugging-face-token"), description="Hugging Face token for model downloads", value=token, kms_key_arn=key_arn, tags=ctx.tags),
            opts=ctx.opts,
        ).arn

    def bedrock_upstream(route: str, target: str, limits: Mapping[str, Any]) -> Upstream:
        model = next(m for m in beta.models if m.name == target)
        return Upstream(
            id=f"{route}/bedrock-{target}",
            litellm_model=f"bedrock/{model.invoke_id}",
            tier="managed",
            # Invoke through the stack's application inference profile: cost tags and the alarms apply.
            params={
                "model_id": beta.bedrock.profile_arns[target],
                "aws_region_name": account.region,
                "guardrailConfig": {"guardrailIdentifier": beta.bedrock.guardrail_id, "guardrailVersion": beta.bedrock.guardrail_version},
            },
            **limits,
        )

    plan = plan_gateway(scale, model_service_url, {"bedrock": bedrock_upstream})
    if plan.uses_bedrock:
        plan.env.update({"AWS_REGION": account.region, "AWS_DEFAULT_REGION": account.region})
    gateway_secrets: dict[str, pulumi.Input[str]] = {MASTER_KEY_ENV: gateway_key.arn}
    gateway_secrets.update({api_key_env(p): foundation.api_keys.arns[p] for p in plan.api_providers})

    synced_arns = [*gateway_secrets.values(), *([hf_arn] if hf_arn is not None else [])]
    read_policy = pulumi.Output.all(key_arn, *synced_arns).apply(lambda v: _secrets_read_policy(v[1:], v[0], account.region, account.dns_suffix))
    secret_sync_identity = cluster.workload_role("secret-sync", SecretSync.NAMESPACE, SecretSync.SERVICE_ACCOUNT, {"read-platform-secrets": read_policy})
    gateway_policies: dict[str, pulumi.Input[str]] = {}
    if plan.uses_bedrock:
        gateway_policies = {
            "bedrock-models": beta.bedrock.models_policy,
            # Also grants kms:Decrypt (via Bedrock) on the key that encrypts the guardrail.
            "bedrock-profiles": beta.bedrock.profiles_policy,
        }
    gateway_identity = [cluster.workload_role("gateway", GATEWAY_NAMESPACE, LlmGateway.SERVICE_ACCOUNT, gateway_policies).association] if gateway_policies else []
    autoscaler_sa = "cluster-autoscaler"
    autoscaler_identity = cluster.workload_role("cluster-autoscaler", "kube-system", autoscaler_sa, {"resize-node-groups": autoscaler_policy(cluster_name, account)})

    provider = k8s.Provider(
        "eks",
        kubeconfig=cluster.kubeconfig,
        enable_server_side_apply=True,
        opts=pulumi.ResourceOptions(depends_on=[*cluster.node_groups, *cluster.addons.values()]),
    )
    cluster_autoscaler(
        "cluster-autoscaler", cluster.cluster_name, account.region, scale.kubernetes_version, autoscaler_sa, pulumi.ResourceOptions(provider=provider, depends_on=[autoscaler_identity.association])
    )
    gateway = deploy_workloads(
        ctx,
        ClusterWorkloads(
            provider=provider,
            secret_store={"aws": {"service": "SecretsManager", "region": account.region}},
            secret_sync_annotations={},
            secret_sync_pod_labels={},
            gateway_secrets=gateway_secrets,
            hugging_face_secret=hf_arn,
            gateway_plan=plan,
            gateway_config=gateway_config_yaml(scale, plan),
            gateway_annotations={},
            gateway_pod_labels={},
            load_balancer_annotations={
                "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
            },
            allowed_cidrs=[str(cfg.poc.network.cidr), *(str(c) for c in scale.gateway.allowed_cidrs)],
            secret_sync_identity=[secret_sync_identity.association],
            gateway_identity=gateway_identity,
        ),
    )
    gateway_url = _gateway_url(gateway.service)
    app = beta.app
    # The gateway's address exists once its internal NLB does: the app reads it from an SSM
    # parameter (by ARN), so its task definition is complete at preview and not re-rendered.
    gateway_url_parameter = aws.ssm.Parameter(
        "gateway-url",
        name=f"/{ctx.project}/{ctx.stack}/app/gateway-url",
        type="String",
        description="Base URL of the LLM gateway (internal NLB) the app calls",
        value=gateway_url,
        tags=ctx.tags,
        opts=ctx.opts,
    )
    app.extra_parameters["gateway-url"] = gateway_url_parameter.arn
    app.model_secrets["LLM_GATEWAY_URL"] = SecretRef("gateway-url")
    app.model_env["LLM_GATEWAY_MODELS"] = ",".join(r.name for r in scale.routes)
    app.model_secrets["LLM_GATEWAY_KEY"] = SecretRef(SecretName.GATEWAY_KEY.value)
    app.extra_secrets[SecretName.GATEWAY_KEY.value] = gateway_key.arn
    # The NLB sits in the private subnets: the app's tasks may call its port inside the VPC.
    app.vpc_egress_ports[GATEWAY_PORT] = "LLM gateway (internal NLB)"
    aws_lowcode_app(ctx, foundation, app)
    pulumi.export("clusterName", cluster.cluster_name)
    pulumi.export("gatewayUrl", gateway_url)
    pulumi.export("gatewayMasterKeySecretArn", gateway_key.arn)
    pulumi.export("kubeconfigCommand", f"aws eks update-kubeconfig --name {cluster_name} --region {account.region}")


def _secrets_read_policy(arns: Sequence[str], key_arn: str, region: str, dns_suffix: str) -> str:
    """Exactly the secrets the cluster syncs, and the platform key only through Secrets Manager."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "ReadPlatformSecrets", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Resource": sorted(set(arns))},
                {
                    "Sid": "DecryptThroughSecretsManager",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": key_arn,
                    "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.{dns_suffix}"}},
                },
            ],
        }
    )


# ------------------------------------------------------------------------------------- Azure


def scale_azure(ctx: StackContext) -> None:
    import pulumi_azure_native as azure
    import pulumi_kubernetes as k8s

    from components.azure.aks import AgentPoolSpec, AksCluster, AksClusterArgs
    from components.azure.clouds import ROLE_COGNITIVE_SERVICES_OPENAI_USER
    from components.azure.roles import assign_role
    from components.k8s.addons import SecretSync
    from components.k8s.serving import GATEWAY_NAMESPACE, LlmGateway, model_service_url
    from stacks.beta import azure_openai_upstream, azure_scope_env, build_beta_azure
    from stacks.poc import azure_lowcode_app

    cfg, namer, location = ctx.config, ctx.namer, ctx.config.region
    scale = cfg.scale
    assert scale is not None
    beta = build_beta_azure(ctx, extra_subnets=("aks",))
    foundation = beta.foundation
    rg_name = foundation.resource_group.name
    vault = foundation.vault
    client = azure.authorization.get_client_config()
    _warn_kubernetes_version(cfg)

    cluster = AksCluster(
        "aks",
        AksClusterArgs(
            cluster_name=namer.name("aks", max_len=63),
            resource_group_name=rg_name,
            location=location,
            kubernetes_version=scale.kubernetes_version,
            subnet_id=foundation.network.extra_subnet_ids["aks"],
            private_cluster=scale.private_endpoint,
            authorized_ip_ranges=[str(c) for c in scale.public_access_cidrs],
            workspace_id=foundation.workspace.workspace_id,
            subscription_id=foundation.subscription_id,
            tenant_id=client.tenant_id,
            system_pool=AgentPoolSpec(SYSTEM_POOL, _system_pool_instance(cfg), scale.system_pool.min_size, scale.system_pool.max_size, SYSTEM_DISK_GB),
            gpu_pools=[AgentPoolSpec(p.name, p.instance_type, p.min_size, p.max_size, p.disk_size_gb) for p in scale.gpu_pools],
            tags=ctx.tags,
            deployer_object_id=client.object_id,
            admin_group_ids=scale.cluster_admins,
            preview_principal_id=scale.preview_principal,
        ),
        opts=ctx.opts,
    )

    federations: dict[str, pulumi.Resource] = {}  # workloads start after their federated credential

    def identity(name: str, namespace: str, service_account: str) -> Any:
        uai = azure.managedidentity.UserAssignedIdentity(f"{name}-identity", resource_name_=namer.name(name), resource_group_name=rg_name, location=location, tags=ctx.tags, opts=ctx.opts)
        federations[name] = cluster.federate(f"{name}-federation", uai.name, namespace, service_account)
        return uai

    sync_identity = identity("secret-sync", SecretSync.NAMESPACE, SecretSync.SERVICE_ACCOUNT)
    gateway_identity = identity("gateway", GATEWAY_NAMESPACE, LlmGateway.SERVICE_ACCOUNT)

    def azure_upstream(route: str, target: str, limits: Mapping[str, Any]) -> Upstream:
        return azure_openai_upstream(beta, target, upstream_id=f"{route}/azure-{target}", **limits)

    plan = plan_gateway(scale, model_service_url, {"azure": azure_upstream})
    if plan.uses_azure_openai:
        assign_role(
            "gateway-calls-openai",
            subscription_id=foundation.subscription_id,
            role_id=ROLE_COGNITIVE_SERVICES_OPENAI_USER,
            principal_id=gateway_identity.principal_id,
            scope=beta.openai.account_id,
            parent=beta.openai,
            description="the LLM gateway falls back to the Azure OpenAI deployments",
        )
        plan.env.update(azure_scope_env(cfg.azure_environment))
    hf_secret = None
    if (token := _hugging_face_token(cfg)) is not None:
        vault.secret("hugging-face-token", token)
        hf_secret = "hugging-face-token"
    gateway_secrets: dict[str, pulumi.Input[str]] = {MASTER_KEY_ENV: SecretName.GATEWAY_KEY.value}
    gateway_secrets.update({api_key_env(p): f"api-key-{p}" for p in plan.api_providers})
    # External Secrets reads exactly the secrets it copies into the cluster, one grant each.
    synced_secrets = [str(n) for n in gateway_secrets.values()] + ([hf_secret] if hf_secret else [])
    vault.grant_read("secret-sync-reads", principal_id=sync_identity.principal_id, secret_names=synced_secrets, parent=vault, reader="External Secrets")

    # Kubernetes calls need the pools (for workloads) and the deployer's RBAC grant (or get 403).
    provider = k8s.Provider("aks", kubeconfig=cluster.kubeconfig, enable_server_side_apply=True, opts=pulumi.ResourceOptions(depends_on=[*cluster.pools, *cluster.access]))
    workload_identity = {"azure.workload.identity/use": "true"}
    gateway = deploy_workloads(
        ctx,
        ClusterWorkloads(
            provider=provider,
            secret_store={
                "azurekv": {
                    "authType": "WorkloadIdentity",
                    "environmentType": ESO_AZURE_ENVIRONMENT[cfg.azure_environment],
                    "vaultUrl": vault.vault_uri,
                    "serviceAccountRef": {"name": SecretSync.SERVICE_ACCOUNT, "namespace": SecretSync.NAMESPACE},
                }
            },
            secret_sync_annotations={"azure.workload.identity/client-id": sync_identity.client_id, "azure.workload.identity/tenant-id": client.tenant_id},
            secret_sync_pod_labels=workload_identity,
            gateway_secrets=gateway_secrets,
            hugging_face_secret=hf_secret,
            gateway_plan=plan,
            gateway_config=gateway_config_yaml(scale, plan, {"enable_azure_ad_token_refresh": True} if plan.uses_azure_openai else None),
            gateway_annotations={"azure.workload.identity/client-id": gateway_identity.client_id},
            gateway_pod_labels=workload_identity,
            load_balancer_annotations={"service.beta.kubernetes.io/azure-load-balancer-internal": "true"},
            allowed_cidrs=[str(cfg.poc.network.cidr), *(str(c) for c in scale.gateway.allowed_cidrs)],
            secret_sync_identity=[federations["secret-sync"]],
            gateway_identity=[federations["gateway"]],
        ),
    )
    gateway_url = _gateway_url(gateway.service)
    app = beta.app
    app.model_env.update({"LLM_GATEWAY_URL": gateway_url, "LLM_GATEWAY_MODELS": ",".join(r.name for r in scale.routes)})
    azure_lowcode_app(ctx, foundation, app)
    pulumi.export("clusterName", cluster.cluster_name)
    pulumi.export("gatewayUrl", gateway_url)
    pulumi.export("kubeconfigCommand", pulumi.Output.concat("az aks get-credentials --resource-group ", rg_name, " --name ", cluster.cluster_name, " && kubelogin convert-kubeconfig -l azurecli"))
