"""The Scale gateway's Redis on Azure (LiteLLM spend, budgets and rate-limit counters shared by
every gateway replica and kept across restarts): the same Redis service the cloud offers the app
(components.azure.clouds `app_redis`: Azure Managed Redis where offered, with the customer-managed
key; Azure Cache for Redis in the China and US Gov clouds, which takes no customer-managed key),
built by the same components as the app's (components.azure.data), as a separate instance: the
gateway never holds the app's broker password and the app never the gateway's.

Private endpoint only, TLS only, access key authentication (LiteLLM reads REDIS_PASSWORD; its
Entra token path for Redis is a separate credential provider that Azure Managed Redis would need
an access policy assignment for, not done here). The key is written to Key Vault and reaches the
gateway pod through External Secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components.azure.clouds import AppRedis
from components.azure.data import (
    CACHE_FOR_REDIS_TLS_PORT,
    CacheForRedis,
    CacheForRedisArgs,
    EncryptionIdentity,
    ManagedRedis,
    ManagedRedisArgs,
)

# Azure Managed Redis serves its database on 10000 (components.azure.data.ManagedRedis).
MANAGED_REDIS_PORT = 10000


@dataclass
class GatewayCacheArgs:
    service: AppRedis  # the cloud's Redis service (private endpoint group id)
    resource_group_name: pulumi.Input[str]
    location: str
    endpoints_subnet_id: pulumi.Input[str]
    zone_id: pulumi.Input[str]  # the service's privatelink zone, linked to the VNet the cluster is in
    encryption: EncryptionIdentity
    workspace_id: pulumi.Input[str]
    tags: Mapping[str, str]


class GatewayCache(pulumi.ComponentResource):
    host: pulumi.Output[str]
    port: int
    access_key: pulumi.Output[str]

    def __init__(self, name: str, args: GatewayCacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:azure:GatewayCache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cache: ManagedRedis | CacheForRedis
        placement = {
            "resource_group_name": args.resource_group_name,
            "location": args.location,
            "endpoints_subnet_id": args.endpoints_subnet_id,
            "zone_id": args.zone_id,
            "workspace_id": args.workspace_id,
            "tags": args.tags,
        }
        if args.service == "redisEnterprise":
            cache = ManagedRedis(f"{name}-redis", ManagedRedisArgs(**placement, encryption=args.encryption), opts=child)
            self.port = MANAGED_REDIS_PORT
        else:
            cache = CacheForRedis(f"{name}-redis", CacheForRedisArgs(**placement), opts=child)
            self.port = CACHE_FOR_REDIS_TLS_PORT
        self.host = cache.host
        self.access_key = cache.access_key
        self.register_outputs({"host": cache.host})
