"""AKS for self-hosted models: private cluster option, Entra-only access, workload identity, Azure
Monitor (Container insights), a system pool and GPU pools that carry the shared GPU taint and
label and autoscale between a minimum (0 allowed) and a required maximum."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure

from components.azure.roles import assign_role
from components.k8s.gpu import GPU

ROLE_NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"


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
                node_labels={**GPU.node_labels, "llm-platform.io/pool": pool.name},
                scale_set_priority="Spot" if pool.spot else "Regular",
                scale_set_eviction_policy="Delete" if pool.spot else None,
                spot_max_price=-1 if pool.spot else None,
                type="VirtualMachineScaleSets",
                tags=tags,
                # The cluster autoscaler owns the node count once the pool exists.
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["count"]),
            )
            self.pools.append(agent_pool)
        credentials = azure.containerservice.list_managed_cluster_user_credentials_output(resource_group_name=args.resource_group_name, resource_name=cluster.name, format="exec")
        self._cluster = cluster
        self._args = args
        self.cluster_name = cluster.name
        self.oidc_issuer = cluster.oidc_issuer_profile.apply(lambda p: p.issuer_url if p else "")
        # Entra ID auth: the kubeconfig calls kubelogin, as the caller of `pulumi up` (az login).
        self.kubeconfig = pulumi.Output.secret(credentials.kubeconfigs[0].value.apply(lambda v: azurecli_kubeconfig(base64.b64decode(v).decode())))
        self.register_outputs({"cluster_name": cluster.name})

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
