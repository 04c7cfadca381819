"""Key Vault (RBAC, purge protection, private only) holding the platform's secrets and the
customer-managed key that encrypts its data stores; readers get one role assignment per secret."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure

from components.azure.clouds import CLOUDS, ROLE_KEY_VAULT_SECRETS_USER
from components.azure.monitoring import send_logs_to
from components.azure.network import private_endpoint
from components.azure.roles import assign_role

# The shared data key: PostgreSQL Flexible Server and Storage accept RSA 2048/3072/4096
# (learn.microsoft.com/azure/postgresql/security/security-data-encryption, 2026-06-02;
# learn.microsoft.com/azure/storage/common/customer-managed-keys-overview). Azure OpenAI takes
# 2048 only and an access-policy vault, so it has its own key (components/azure/openai.py).
DATA_KEY_TYPE = "RSA"
DATA_KEY_SIZE = 3072


@dataclass
class SecretVaultArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    tenant_id: str
    azure_cloud: str
    endpoints_subnet_id: pulumi.Input[str]
    vault_zone_id: pulumi.Input[str]
    workspace_id: pulumi.Input[str]
    subscription_id: str
    tags: Mapping[str, str]


class SecretVault(pulumi.ComponentResource):
    vault_id: pulumi.Output[str]
    vault_name: pulumi.Output[str]
    vault_uri: pulumi.Output[str]
    key_name: pulumi.Output[str]
    key_uri: pulumi.Output[str]  # versionless: services that support it follow rotations
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
                # No public data plane: apps come through the private endpoint; services that
                # wrap their keys here (PostgreSQL, Storage, Redis) are trusted services, which
                # `Disabled` still admits with bypass=AzureServices (Key Vault API, property
                # publicNetworkAccess). Secrets and keys below are ARM writes
                # (Microsoft.KeyVault/vaults/secrets, /keys): control plane, not behind the firewall.
                public_network_access="Disabled",
                network_acls=azure.keyvault.NetworkRuleSetArgs(default_action="Deny", bypass="AzureServices", ip_rules=[], virtual_network_rules=[]),
            ),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        private_endpoint(f"{name}-endpoint", args, target_id=vault.id, group_id="vault", zone_id=args.vault_zone_id, parent=self)
        key = azure.keyvault.Key(
            f"{name}-data-key",
            key_name="data-encryption",
            vault_name=vault.name,
            resource_group_name=args.resource_group_name,
            properties=azure.keyvault.KeyPropertiesArgs(
                kty=DATA_KEY_TYPE,
                key_size=DATA_KEY_SIZE,
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
        send_logs_to(f"{name}-logs", resource_id=vault.id, workspace_id=args.workspace_id, parent=self)
        self.vault_id = vault.id
        self.vault_name = vault.name
        self.vault_uri = vault.name.apply(lambda n: f"https://{n}.{self._suffix}/")
        self.key_name = key.name
        self.key_uri = pulumi.Output.all(self.vault_uri, key.name).apply(lambda v: f"{v[0]}keys/{v[1]}")
        self.key_uri_with_version = key.key_uri_with_version
        self.secret_ids: dict[str, pulumi.Output[str]] = {}
        self.register_outputs({"vault_id": vault.id, "key": key.name})

    def secret(self, name: str, value: pulumi.Input[str], *, protect: bool = True, content_type: str = "text/plain") -> pulumi.Output[str]:
        """Store a secret; returns its versionless URL, which apps follow to the latest version.
        The URL is derived from the secret resource, so whatever reads it waits for the secret."""
        stored = azure.keyvault.Secret(
            f"secret-{name}",
            secret_name=name,
            vault_name=self.vault_name,
            resource_group_name=self._args.resource_group_name,
            properties=azure.keyvault.SecretPropertiesArgs(value=pulumi.Output.secret(value), content_type=content_type),
            tags=dict(self._args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        self.secret_ids[name] = stored.id
        return pulumi.Output.all(self.vault_name, stored.id).apply(lambda v: f"https://{v[0]}.{self._suffix}/secrets/{name}")

    def grant_read(self, name: str, *, principal_id: pulumi.Input[str], secret_names: Sequence[str], parent: pulumi.Resource, reader: str) -> list[pulumi.Resource]:
        """Key Vault Secrets User on each named secret (scope: the secret), nothing vault-wide."""
        grants: list[pulumi.Resource] = []
        for secret_name in sorted(set(secret_names)):
            secret_id = self.secret_ids.get(secret_name)
            if secret_id is None:
                raise ValueError(f"Key Vault secret '{secret_name}' is read by {reader} but was not created")
            grants.append(
                assign_role(
                    f"{name}-{secret_name}",
                    subscription_id=self._args.subscription_id,
                    role_id=ROLE_KEY_VAULT_SECRETS_USER,
                    principal_id=principal_id,
                    scope=secret_id,
                    parent=parent,
                    description=f"{reader} reads secret {secret_name}",
                )
            )
        return grants
