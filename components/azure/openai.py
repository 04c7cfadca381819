"""Azure OpenAI the way the Azure baseline does it: local (key) auth off, no public network access,
outbound calls restricted, deployments with pinned model versions created one at a time, then the
private endpoint, with diagnostics to Log Analytics; stored data (files, fine-tunes) encrypted with
its own customer-managed key.

Customer-managed keys for Azure OpenAI ("Azure OpenAI encryption of data at rest",
learn.microsoft.com/azure/ai-foundry/openai/encrypt-data-at-rest, ms.date 11/26/2025): the account's
*system-assigned* identity only (user-assigned identities are not supported), a vault with *legacy
access policies* (get, wrapKey, unwrapKey for that identity), soft delete and purge protection,
trusted services allowed through its firewall, and an RSA or RSA-HSM key of size *2048*. The
identity exists only once the account does, so the order spans two deploys: (1) the account with
its system identity, the dedicated vault, key and access policy (`customerManagedKey: pending`);
(2) `customerManagedKey: enabled` adds the encryption block. A rotated key needs the new version
set here (the service does not follow rotations), so the key has no automatic rotation policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure

from components.azure.monitoring import send_logs_to
from components.azure.network import PrivateEndpoint, PrivateEndpointArgs, private_endpoint
from components.azure.openai_catalog import ResolvedDeployment


@dataclass
class AzureOpenAIArgs:
    account_name: str  # also the custom subdomain: globally unique
    kind: str  # OpenAI | AIServices
    resource_group_name: pulumi.Input[str]
    location: str
    deployments: Sequence[ResolvedDeployment]
    capacities: Mapping[str, int]  # deployment name -> capacity (thousand tokens per minute)
    endpoints_subnet_id: pulumi.Input[str]
    zone_id: pulumi.Input[str]
    workspace_id: pulumi.Input[str]
    openai_domain: str  # openai.azure.com (public cloud), openai.azure.cn (China)
    tenant_id: str
    key_vault_suffix: str  # vault.azure.net (public cloud), vault.azure.cn (China)
    customer_managed_key: bool  # False on the first deploy (see the module docstring)
    tags: Mapping[str, str]


OPENAI_KEY_TYPE = "RSA"
OPENAI_KEY_SIZE = 2048
OPENAI_KEY_PERMISSIONS = ("get", "wrapKey", "unwrapKey")


class AzureOpenAI(pulumi.ComponentResource):
    account_id: pulumi.Output[str]
    endpoint: str

    def __init__(self, name: str, args: AzureOpenAIArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:azure:AzureOpenAI", name, None, opts)
        vault = azure.keyvault.Vault(
            # Auto-named (global names). Access policies, not RBAC: Azure OpenAI requires them.
            f"{name}-kv",
            resource_group_name=args.resource_group_name,
            location=args.location,
            properties=azure.keyvault.VaultPropertiesArgs(
                tenant_id=args.tenant_id,
                sku=azure.keyvault.SkuArgs(family="A", name="standard"),
                enable_rbac_authorization=False,
                access_policies=[],
                enable_soft_delete=True,
                soft_delete_retention_in_days=90,
                enable_purge_protection=True,
                public_network_access="Disabled",
                network_acls=azure.keyvault.NetworkRuleSetArgs(default_action="Deny", bypass="AzureServices", ip_rules=[], virtual_network_rules=[]),
            ),
            tags=dict(args.tags),
            # The account's access policy is its own resource: a vault update must not drop it.
            opts=pulumi.ResourceOptions(parent=self, protect=True, ignore_changes=["properties.accessPolicies"]),
        )
        key = azure.keyvault.Key(
            f"{name}-key",
            key_name="openai-encryption",
            vault_name=vault.name,
            resource_group_name=args.resource_group_name,
            properties=azure.keyvault.KeyPropertiesArgs(kty=OPENAI_KEY_TYPE, key_size=OPENAI_KEY_SIZE, key_ops=["wrapKey", "unwrapKey"]),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        send_logs_to(f"{name}-kv-logs", resource_id=vault.id, workspace_id=args.workspace_id, parent=self)
        encryption = None
        if args.customer_managed_key:
            encryption = azure.cognitiveservices.EncryptionArgs(
                key_source="Microsoft.KeyVault",
                key_vault_properties=azure.cognitiveservices.KeyVaultPropertiesArgs(
                    key_name=key.name,
                    key_vault_uri=vault.name.apply(lambda n: f"https://{n}.{args.key_vault_suffix}/"),
                    key_version=key.key_uri_with_version.apply(lambda uri: uri.rstrip("/").rsplit("/", 1)[-1] if uri else uri),
                ),
            )
        account = azure.cognitiveservices.Account(
            f"{name}-account",
            account_name=args.account_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind=args.kind,
            sku=azure.cognitiveservices.SkuArgs(name="S0"),
            identity=azure.cognitiveservices.IdentityArgs(type="SystemAssigned"),
            properties=azure.cognitiveservices.AccountPropertiesArgs(
                custom_sub_domain_name=args.account_name,
                disable_local_auth=True,
                public_network_access="Disabled",
                network_acls=azure.cognitiveservices.NetworkRuleSetArgs(default_action="Deny", ip_rules=[], virtual_network_rules=[]),
                # The service may call out to nothing (no data sources, no web).
                restrict_outbound_network_access=True,
                allowed_fqdn_list=[],
                # Stored data (files, fine-tunes) encrypted with the account's own key.
                encryption=encryption,
            ),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=[key]),
        )
        azure.keyvault.AccessPolicy(
            f"{name}-key-access",
            vault_name=vault.name,
            resource_group_name=args.resource_group_name,
            policy=azure.keyvault.AccessPolicyEntryArgs(
                tenant_id=args.tenant_id,
                object_id=account.identity.apply(lambda i: i.principal_id if i else None),
                permissions=azure.keyvault.PermissionsArgs(keys=list(OPENAI_KEY_PERMISSIONS)),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        previous: pulumi.Resource = account
        for deployment in args.deployments:
            # ARM rejects concurrent deployment writes on one account: chain them.
            previous = azure.cognitiveservices.Deployment(
                f"{name}-{deployment.name}",
                account_name=account.name,
                deployment_name=deployment.name,
                resource_group_name=args.resource_group_name,
                sku=azure.cognitiveservices.SkuArgs(name=deployment.sku, capacity=args.capacities[deployment.name]),
                properties=azure.cognitiveservices.DeploymentPropertiesArgs(
                    model=azure.cognitiveservices.DeploymentModelArgs(format="OpenAI", name=deployment.model, version=deployment.version),
                    # Pinned: the platform, not Azure, decides when the model version changes.
                    version_upgrade_option="NoAutoUpgrade",
                ),
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[previous]),
            )
        PrivateEndpoint(
            f"{name}-endpoint",
            PrivateEndpointArgs(
                resource_group_name=args.resource_group_name,
                location=args.location,
                subnet_id=args.endpoints_subnet_id,
                target_id=account.id,
                group_id="account",
                zone_id=args.zone_id,
                tags=args.tags,
                after=[previous],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        send_logs_to(f"{name}-logs", resource_id=account.id, workspace_id=args.workspace_id, parent=self)
        self.account_id = account.id
        self.endpoint = f"https://{args.account_name}.{args.openai_domain}"
        self.register_outputs({"account_id": account.id, "endpoint": self.endpoint})


@dataclass
class SearchServiceArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    sku: str
    replicas: int
    endpoints_subnet_id: pulumi.Input[str]
    zone_id: pulumi.Input[str]
    workspace_id: pulumi.Input[str]
    tags: Mapping[str, str]


class SearchService(pulumi.ComponentResource):
    """Azure AI Search: private endpoint only, key auth off (Entra roles), no data exfiltration
    paths. Indexes use Microsoft-managed keys unless the app creates them with a CMK."""

    service_id: pulumi.Output[str]
    service_name: pulumi.Output[str]

    def __init__(self, name: str, args: SearchServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:azure:SearchService", name, None, opts)
        service = azure.search.Service(
            f"{name}-service",
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku=azure.search.SkuArgs(name=args.sku),
            replica_count=args.replicas,
            partition_count=1,
            public_network_access="disabled",
            disable_local_auth=True,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        private_endpoint(f"{name}-endpoint", args, target_id=service.id, group_id="searchService", zone_id=args.zone_id, parent=self)
        send_logs_to(f"{name}-logs", resource_id=service.id, workspace_id=args.workspace_id, parent=self)
        self.service_id = service.id
        self.service_name = service.name
        self.register_outputs({"service_id": service.id})
