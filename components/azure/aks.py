"""AKS for self-hosted models: private cluster option, Entra-only access (Azure RBAC: the deployer
and the configured admin groups are cluster admins, an optional preview identity reads),
workload identity, Azure Monitor (Container insights), upgrades inside a weekly maintenance
window, a system pool and GPU pools that carry the shared GPU taint and label and autoscale
between a minimum (0 allowed) and a required maximum."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure

from components.azure.registry import grant_acr_pull
from components.azure.roles import assign_role
from components.k8s.gpu import GPU, POOL_LABEL

ROLE_NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
# Azure built-in roles for Containers (MicrosoftDocs/azure-docs
# articles/role-based-access-control/built-in-roles/containers.md, 2025-01): with Azure RBAC for
# Kubernetes and local accounts off, these are the only way into the cluster's API.
ROLE_AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
ROLE_AKS_RBAC_READER = "7f6c6a51-bcf8-42ba-9220-52d62157d7db"  # no Secrets
ROLE_AKS_CLUSTER_USER = "4abbcc35-e782-43d8-92c5-2d3f1bd2253f"  # listClusterUserCredential: the kubeconfig
# Planned maintenance (learn.microsoft.com/azure/aks/planned-maintenance): AKS binds a window to
# an auto-upgrade channel by these reserved names. Weekly, Sunday 02:00 UTC, 4 hours (the minimum).
MAINTENANCE_CONFIGS = ("aksManagedAutoUpgradeSchedule", "aksManagedNodeOSUpgradeSchedule")
# GPU pool upgrades (AgentPoolUpgradeSettings, azure-native 3.29.0 containerservice): a model
# server's PodDisruptionBudget may block a drain; after the timeout AKS cordons the node and
# replaces it with a surge node instead of failing the upgrade (undrainableNodeBehavior Cordon;
# learn.microsoft.com/azure/aks/upgrade-cluster "Optimize upgrades", read 2026-11-30). One
# surge node at a time: GPU quota is scarce.
GPU_UPGRADE_SETTINGS = {"max_surge": "1", "drain_timeout_in_minutes": 30, "undrainable_node_behavior": "Cordon"}
# Container insights with managed identity (useAADAuth) collects only what a data collection rule
# names: the DCR and its association on the cluster, as Microsoft's onboarding does
# (microsoft/Docker-Provider scripts/onboarding/aks/onboarding-msi-terraform/main.tf and
# variables.tf @0da65e58e4576c985569317e73932413977096ab, read 2026-11-30).
CONTAINER_INSIGHTS_STREAMS = (
    "Microsoft-ContainerLog",
    "Microsoft-ContainerLogV2",
    "Microsoft-KubeEvents",
    "Microsoft-KubePodInventory",
    "Microsoft-KubeNodeInventory",
    "Microsoft-KubePVInventory",
    "Microsoft-KubeServices",
    "Microsoft-KubeMonAgentEvents",
    "Microsoft-InsightsMetrics",
    "Microsoft-ContainerInventory",
    "Microsoft-ContainerNodeInventory",
    "Microsoft-Perf",
)


def deployer_principal_type() -> tuple[str, str]:
    """(principal type, why) of the identity running `pulumi up`. The provider authenticates as a
    service principal or managed identity when a client id, OIDC or MSI is configured
    (azure-native:clientId/useOidc/useMsi or ARM_CLIENT_ID/ARM_USE_OIDC/ARM_USE_MSI); otherwise it
    uses the Azure CLI login, whose `user.type` says which it is. A wrong type fails the role
    assignment with UnmatchedPrincipalType."""
    provider = pulumi.Config("azure-native")
    for key, env in (("clientId", "ARM_CLIENT_ID"), ("useOidc", "ARM_USE_OIDC"), ("useMsi", "ARM_USE_MSI")):
        value = provider.get(key) or os.environ.get(env, "")
        if value and value.lower() != "false":
            return "ServicePrincipal", f"{env} / azure-native:{key} is set"
    az = shutil.which("az")
    if az:
        try:
            kind = subprocess.run([az, "account", "show", "--query", "user.type", "-o", "tsv"], capture_output=True, text=True, timeout=30, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            kind = ""
        if kind in ("user", "servicePrincipal"):
            return ("User" if kind == "user" else "ServicePrincipal"), f"the Azure CLI is logged in as a {kind}"
    return "User", "no client id, OIDC or MSI is configured and the Azure CLI login type is unknown"


@dataclass(frozen=True)
class AgentPoolSpec:
    name: str  # up to 12 lowercase alphanumerics
    vm_size: str
    min_count: int
    max_count: int
    disk_size_gb: int
    spot: bool = False


@dataclass
class AksClusterArgs:
    cluster_name: str
    resource_group_name: pulumi.Input[str]
    location: str
    kubernetes_version: str
    subnet_id: pulumi.Input[str]
    private_cluster: bool
    authorized_ip_ranges: Sequence[str]
    workspace_id: pulumi.Input[str]
    subscription_id: str
    tenant_id: str
    system_pool: AgentPoolSpec
    gpu_pools: Sequence[AgentPoolSpec]
    tags: Mapping[str, str]
    deployer_object_id: pulumi.Input[str] = ""  # the identity running `pulumi up` (client config)
    admin_group_ids: Sequence[str] = ()
    preview_principal_id: str | None = None  # a service principal's object id
    # ARM id of the Azure Container Registry the images come from (mirrors.azureRegistryId).
    registry_id: str | None = None


class AksCluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:azure:AksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        # A user-assigned control-plane identity, allowed on the subnet before the cluster exists.
        identity = azure.managedidentity.UserAssignedIdentity(
            f"{name}-control-plane", resource_name_=f"{args.cluster_name}-control-plane", resource_group_name=args.resource_group_name, location=args.location, tags=tags, opts=child
        )
        subnet_role = assign_role(
            f"{name}-subnet-access",
            subscription_id=args.subscription_id,
            role_id=ROLE_NETWORK_CONTRIBUTOR,
            principal_id=identity.principal_id,
            scope=args.subnet_id,
            parent=self,
            description="AKS places nodes and internal load balancers in its subnet",
        )
        system = args.system_pool
        cluster = azure.containerservice.ManagedCluster(
            f"{name}-cluster",
            resource_name_=args.cluster_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            dns_prefix=args.cluster_name,
            # An alias minor ("1.35": the latest GA patch), checked against components/k8s/versions.py.
            kubernetes_version=args.kubernetes_version,
            sku=azure.containerservice.ManagedClusterSKUArgs(name="Base", tier="Standard"),
            identity=azure.containerservice.ManagedClusterIdentityArgs(type="UserAssigned", user_assigned_identities=[identity.id]),
            agent_pool_profiles=[
                azure.containerservice.ManagedClusterAgentPoolProfileArgs(
                    name=system.name,
                    mode="System",
                    vm_size=system.vm_size,
                    os_type="Linux",
                    os_sku="AzureLinux",
                    enable_auto_scaling=True,
                    min_count=system.min_count,
                    max_count=system.max_count,
                    count=system.min_count,
                    os_disk_size_gb=system.disk_size_gb,
                    vnet_subnet_id=args.subnet_id,
                    # Untainted: the gateway and the add-ons run here; GPU pools are tainted.
                    type="VirtualMachineScaleSets",
                    tags=tags,
                )
            ],
            api_server_access_profile=azure.containerservice.ManagedClusterAPIServerAccessProfileArgs(
                enable_private_cluster=args.private_cluster,
                authorized_ip_ranges=None if args.private_cluster else list(args.authorized_ip_ranges),
            ),
            network_profile=azure.containerservice.ContainerServiceNetworkProfileArgs(
                network_plugin="azure",
                network_plugin_mode="overlay",
                network_dataplane="cilium",
                network_policy="cilium",
                load_balancer_sku="standard",
                outbound_type="loadBalancer",
                pod_cidr="192.168.0.0/16",
                service_cidr="172.16.0.0/16",
                dns_service_ip="172.16.0.10",
            ),
            aad_profile=azure.containerservice.ManagedClusterAADProfileArgs(managed=True, enable_azure_rbac=True, tenant_id=args.tenant_id),
            disable_local_accounts=True,
            enable_rbac=True,
            oidc_issuer_profile=azure.containerservice.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
            security_profile=azure.containerservice.ManagedClusterSecurityProfileArgs(
                workload_identity=azure.containerservice.ManagedClusterSecurityProfileWorkloadIdentityArgs(enabled=True)
            ),
            addon_profiles={
                # Container insights into the platform's Log Analytics workspace.
                "omsagent": azure.containerservice.ManagedClusterAddonProfileArgs(enabled=True, config={"logAnalyticsWorkspaceResourceID": args.workspace_id, "useAADAuth": "true"})
            },
            auto_upgrade_profile=azure.containerservice.ManagedClusterAutoUpgradeProfileArgs(upgrade_channel="patch", node_os_upgrade_channel="NodeImage"),
            tags=tags,
            # The cluster reports every pool (and the autoscaler's node counts) in its profiles:
            # GPU pools are separate AgentPool resources, so only creation takes the system pool
            # from here (change it later with `az aks nodepool update`).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[subnet_role], ignore_changes=["agentPoolProfiles"]),
        )
        self._container_insights(name, cluster, args)
        self.pools: list[azure.containerservice.AgentPool] = []
        for pool in args.gpu_pools:
            agent_pool = azure.containerservice.AgentPool(
                f"{name}-{pool.name}",
                agent_pool_name=pool.name,
                resource_name_=cluster.name,
                resource_group_name=args.resource_group_name,
                mode="User",
                vm_size=pool.vm_size,
                os_type="Linux",
                os_sku="Ubuntu",
                enable_auto_scaling=True,
                min_count=pool.min_count,
                max_count=pool.max_count,
                count=pool.min_count,
                os_disk_size_gb=pool.disk_size_gb,
                vnet_subnet_id=args.subnet_id,
                node_taints=[GPU.aks_taint],
                node_labels={**GPU.node_labels, POOL_LABEL: pool.name},
                scale_set_priority="Spot" if pool.spot else "Regular",
                scale_set_eviction_policy="Delete" if pool.spot else None,
                spot_max_price=-1 if pool.spot else None,
                type="VirtualMachineScaleSets",
                upgrade_settings=azure.containerservice.AgentPoolUpgradeSettingsArgs(**GPU_UPGRADE_SETTINGS),
                tags=tags,
                # The cluster autoscaler owns the node count once the pool exists.
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["count"]),
            )
            self.pools.append(agent_pool)
        for config_name in MAINTENANCE_CONFIGS:
            azure.containerservice.MaintenanceConfiguration(
                f"{name}-{config_name}",
                config_name=config_name,
                resource_name_=cluster.name,
                resource_group_name=args.resource_group_name,
                maintenance_window=azure.containerservice.MaintenanceWindowArgs(
                    schedule=azure.containerservice.ScheduleArgs(weekly=azure.containerservice.WeeklyScheduleArgs(day_of_week="Sunday", interval_weeks=1)),
                    start_time="02:00",
                    duration_hours=4,
                    utc_offset="+00:00",
                ),
                opts=child,
            )
        self.access = self._grant_access(name, cluster, args)
        # The kubelet identity (AKS creates it with the cluster) pulls every pod's image.
        self.image_pull = (
            [
                grant_acr_pull(
                    f"{name}-kubelet-pulls",
                    registry_id=args.registry_id,
                    principal_id=cluster.identity_profile.apply(lambda p: p["kubeletidentity"].object_id),
                    parent=self,
                    puller="the AKS kubelet identity",
                )
            ]
            if args.registry_id
            else []
        )
        credentials = azure.containerservice.list_managed_cluster_user_credentials_output(resource_group_name=args.resource_group_name, resource_name=cluster.name, format="exec")
        self._cluster = cluster
        self._args = args
        self.cluster_name = cluster.name
        self.oidc_issuer = cluster.oidc_issuer_profile.apply(lambda p: p.issuer_url if p else "")
        # Entra ID auth: the kubeconfig calls kubelogin, as the caller of `pulumi up` (az login).
        self.kubeconfig = pulumi.Output.secret(credentials.kubeconfigs[0].value.apply(lambda v: azurecli_kubeconfig(base64.b64decode(v).decode())))
        self.register_outputs({"cluster_name": cluster.name})

    def _container_insights(self, name: str, cluster: azure.containerservice.ManagedCluster, args: AksClusterArgs) -> None:
        streams = list(CONTAINER_INSIGHTS_STREAMS)
        rule = azure.monitor.DataCollectionRule(
            f"{name}-insights-rule",
            data_collection_rule_name=f"MSCI-{args.location}-{args.cluster_name}"[:64].rstrip("-"),
            resource_group_name=args.resource_group_name,
            location=args.location,  # the workspace's region (the stack's)
            kind="Linux",
            description="DCR for Azure Monitor Container Insights",
            destinations=azure.monitor.DataCollectionRuleDestinationsArgs(
                log_analytics=[azure.monitor.LogAnalyticsDestinationArgs(name="ciworkspace", workspace_resource_id=args.workspace_id)]
            ),
            data_flows=[azure.monitor.DataFlowArgs(streams=streams, destinations=["ciworkspace"])],
            data_sources=azure.monitor.DataCollectionRuleDataSourcesArgs(
                extensions=[
                    azure.monitor.ExtensionDataSourceArgs(
                        name="ContainerInsightsExtension",
                        extension_name="ContainerInsights",
                        streams=streams,
                        extension_settings={"dataCollectionSettings": {"interval": "1m", "namespaceFilteringMode": "Off", "enableContainerLogV2": True}},
                    )
                ]
            ),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        azure.monitor.DataCollectionRuleAssociation(
            f"{name}-insights-association",
            association_name="ContainerInsightsExtension",
            resource_uri=cluster.id,
            data_collection_rule_id=rule.id,
            description="Association of container insights data collection rule. Deleting this association will break the data collection for this AKS Cluster.",
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _grant_access(self, name: str, cluster: azure.containerservice.ManagedCluster, args: AksClusterArgs) -> list[azure.authorization.RoleAssignment]:
        """Azure RBAC on the cluster: who may use its Kubernetes API."""

        def grant(suffix: str, principal: pulumi.Input[str], role: str, principal_type: str, description: str) -> azure.authorization.RoleAssignment:
            return azure.authorization.RoleAssignment(
                f"{name}-{suffix}",
                principal_id=principal,
                principal_type=principal_type,
                role_definition_id=f"/subscriptions/{args.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}",
                scope=cluster.id,
                description=description,
                opts=pulumi.ResourceOptions(parent=self),
            )

        # The plan shows the type and the reason in the grant's description.
        deployer_type, why = deployer_principal_type()
        grants = [
            grant("deployer-admin", args.deployer_object_id, ROLE_AKS_RBAC_CLUSTER_ADMIN, deployer_type, f"the identity running pulumi up ({deployer_type}: {why}) manages the cluster's Kubernetes objects")
        ]
        grants += [grant(f"admin-group-{i}", group, ROLE_AKS_RBAC_CLUSTER_ADMIN, "Group", "configured cluster admins") for i, group in enumerate(args.admin_group_ids)]
        if args.preview_principal_id:
            grants.append(grant("preview-reader", args.preview_principal_id, ROLE_AKS_RBAC_READER, "ServicePrincipal", "pulumi preview in CI reads the cluster"))
            grants.append(grant("preview-kubeconfig", args.preview_principal_id, ROLE_AKS_CLUSTER_USER, "ServicePrincipal", "pulumi preview in CI fetches the kubeconfig"))
        return grants

    def federate(self, name: str, identity_name: pulumi.Input[str], namespace: str, service_account: str) -> azure.managedidentity.FederatedIdentityCredential:
        """Lets a Kubernetes service account act as a user-assigned identity (workload identity)."""
        return azure.managedidentity.FederatedIdentityCredential(
            name,
            federated_identity_credential_resource_name=name,
            resource_name_=identity_name,
            resource_group_name=self._args.resource_group_name,
            issuer=self.oidc_issuer,
            subject=f"system:serviceaccount:{namespace}:{service_account}",
            audiences=["api://AzureADTokenExchange"],
            opts=pulumi.ResourceOptions(parent=self),
        )


def azurecli_kubeconfig(kubeconfig: str) -> str:
    """AKS hands out kubeconfigs whose kubelogin step asks for a device-code login, which would
    hang a non-interactive `pulumi up`; use the Azure CLI session instead."""
    import yaml

    config = yaml.safe_load(kubeconfig)
    for user in config.get("users") or []:
        exec_ = (user.get("user") or {}).get("exec")
        if not exec_ or exec_.get("command") != "kubelogin":
            continue
        args = list(exec_.get("args") or [])
        if "--login" in args:
            args[args.index("--login") + 1] = "azurecli"
        else:
            args += ["--login", "azurecli"]
        exec_["args"] = args
    return yaml.safe_dump(config, sort_keys=False)
