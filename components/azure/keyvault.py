"""Key Vault (RBAC, purge protection, private only) holding the platform's secrets and the
customer-managed key that encrypts its data stores."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure

from components.azure.clouds import CLOUDS
from components.azure.network import PrivateEndpoint, PrivateEndpointArgs


@dataclass
class SecretVaultArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    tenant_id: str
    azure_cloud: str
    endpoints_subnet_id: pulumi.Input[str]
    vault_zone_id: pulumi.Input[str]
    tags: Mapping[str, str]


class SecretVault(pulumi.ComponentResource):
    vault_id: pulumi.Output[str]
    vault_name: pulumi.Output[str]
    vault_uri: pulumi.Output[str]
    key_name: pulumi.Output[str]
    key_uri_with_version: pulumi.Output[str]

    def __init__(self, name: str, args: SecretVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:azure:SecretVault", name, None, opts)
        self._args = args
        self._suffix = CLOUDS[args.azure_cloud].key_vault
        vault = azure.keyvault.Vault(
            # Auto-named: vault names are global; Pulumi adds a random suffix once and keeps it.
            f"{name}-kv",
            resource_group_name=args.resource_group_name,
            location=args.location,
            properties=azure.keyvault.VaultPropertiesArgs(
                tenant_id=args.tenant_id,
                sku=azure.keyvault.SkuArgs(family="A", name="standard"),
                enable_rbac_authorization=True,
                enable_soft_delete=True,
                soft_delete_retention_in_days=90,
                enable_purge_protection=True,
                # The firewall denies every network; apps come through the private endpoint and
                # ARM (a trusted service) writes the secrets Pulumi manages.
                public_network_access="Enabled",
                network_acls=azure.keyvault.NetworkRuleSetArgs(default_action="Deny", bypass="AzureServices", ip_rules=[], virtual_network_rules=[]),
            ),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        PrivateEndpoint(
            f"{name}-endpoint",
            PrivateEndpointArgs(
                resource_group_name=args.resource_group_name,
                location=args.location,
                subnet_id=args.endpoints_subnet_id,
                target_id=vault.id,
                group_id="vault",
                zone_id=args.vault_zone_id,
                tags=args.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        key = azure.keyvault.Key(
            f"{name}-data-key",
            key_name="data-encryption",
            vault_name=vault.name,
            resource_group_name=args.resource_group_name,
            properties=azure.keyvault.KeyPropertiesArgs(
                kty="RSA",
                key_size=3072,
                key_ops=["wrapKey", "unwrapKey"],
                rotation_policy=azure.keyvault.RotationPolicyArgs(
                    attributes=azure.keyvault.KeyRotationPolicyAttributesArgs(expiry_time="P2Y"),
                    lifetime_actions=[
                        azure.keyvault.LifetimeActionArgs(
                            trigger=azure.keyvault.TriggerArgs(time_after_create="P1Y"),
                            action=azure.keyvault.ActionArgs(type="rotate"),
                        )
                    ],
                ),
            ),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self.vault_id = vault.id
        self.vault_name = vault.name
        self.vault_uri = vault.name.apply(lambda n: f"https://{n}.{self._suffix}/")
        self.key_name = key.name
        self.key_uri_with_version = key.key_uri_with_version
        self.register_outputs({"vault_id": vault.id, "key": key.name})

    def secret(self, name: str, value: pulumi.Input[str], *, protect: bool = True, content_type: str = "text/plain") -> pulumi.Output[str]:
        """Store a secret; returns its versionless URL, which apps follow to the latest version."""
        azure.keyvault.Secret(
            f"secret-{name}",
            secret_name=name,
            vault_name=self.vault_name,
            resource_group_name=self._args.resource_group_name,
            properties=azure.keyvault.SecretPropertiesArgs(value=pulumi.Output.secret(value), content_type=content_type),
            tags=dict(self._args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        return self.vault_name.apply(lambda n: f"https://{n}.{self._suffix}/secrets/{name}")
