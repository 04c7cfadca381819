"""A VNet with two Container Apps subnets (`apps` for the PoC's external environment,
`apps-internal` for the internal environment of Beta and Scale), a data subnet (PostgreSQL
Flexible Server) and a private-endpoints subnet; private DNS zones linked to it; and a helper for
private endpoints.

A subnet hosts one Container Apps environment only, and an environment's accessibility cannot
change in place (learn.microsoft.com/azure/container-apps/networking, read 2026-11-30): PoC ->
Beta creates the internal environment before it deletes the external one, so the two need
different subnets. Both subnets exist in every phase, so promotion never changes the VNet's
subnets (a subnet still in use cannot be removed)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_azure_native as azure


@dataclass
class VirtualNetworkArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    cidr: ipaddress.IPv4Network
    network_name: str
    # privatelink zones to create and link (the service key -> zone name)
    private_zones: Mapping[str, str]
    tags: Mapping[str, str]
    extra_subnets: Sequence[str] = ()  # names of further /23 subnets (e.g. "aks")


APPS_SUBNET = "apps"
INTERNAL_APPS_SUBNET = "apps-internal"


def environment_subnet(internal: bool) -> str:
    """The subnet of the Container Apps environment with that accessibility."""
    return INTERNAL_APPS_SUBNET if internal else APPS_SUBNET


@dataclass(frozen=True)
class SubnetLayout:
    apps: str
    apps_internal: str
    data: str
    endpoints: str
    extra: dict[str, str]


def plan_azure_subnets(cidr: ipaddress.IPv4Network, extra: Sequence[str] = ()) -> SubnetLayout:
    """/23 blocks: `apps` first, then data and endpoints (/24 each), then the extra subnets (e.g.
    Scale's `aks`), and `apps-internal` in the last block, so adding it moved no existing subnet.
    A workload-profiles environment needs a delegated subnet of at least /27 (Consumption-only
    environments /23; learn.microsoft.com/azure/container-apps/networking, "Environment
    selection", read 2026-11-30); /23 leaves room for replicas to scale out."""
    blocks = list(cidr.subnets(new_prefix=23))
    if 2 + len(extra) > len(blocks) - 1:
        raise ValueError(f"{cidr} has {len(blocks)} /23 blocks: too few for apps, data/endpoints, {', '.join(extra)} and {INTERNAL_APPS_SUBNET}")
    data, endpoints = list(blocks[1].subnets(new_prefix=24))
    return SubnetLayout(
        apps=str(blocks[0]),
        apps_internal=str(blocks[-1]),
        data=str(data),
        endpoints=str(endpoints),
        extra={name: str(blocks[2 + i]) for i, name in enumerate(extra)},
    )


class VirtualNetwork(pulumi.ComponentResource):
    vnet_id: pulumi.Output[str]
    data_subnet_id: pulumi.Output[str]
    endpoints_subnet_id: pulumi.Output[str]
    extra_subnet_ids: dict[str, pulumi.Output[str]]
    zone_ids: dict[str, pulumi.Output[str]]
    # service -> the zone's VNet link: a resource that registers records in the zone (PostgreSQL
    # Flexible Server) or resolves through it must wait for the link.
    zone_links: dict[str, azure.privatedns.VirtualNetworkLink]

    def __init__(self, name: str, args: VirtualNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:azure:VirtualNetwork", name, None, opts)
        layout = plan_azure_subnets(args.cidr, args.extra_subnets)
        subnets = [
            *[
                azure.network.SubnetArgs(
                    name=subnet,
                    address_prefix=prefix,
                    delegations=[azure.network.DelegationArgs(name="container-apps", service_name="Microsoft.App/environments")],
                )
                for subnet, prefix in ((APPS_SUBNET, layout.apps), (INTERNAL_APPS_SUBNET, layout.apps_internal))
            ],
            azure.network.SubnetArgs(
                name="data",
                address_prefix=layout.data,
                delegations=[
                    azure.network.DelegationArgs(name="postgres", service_name="Microsoft.DBforPostgreSQL/flexibleServers")
                ],
            ),
            azure.network.SubnetArgs(name="endpoints", address_prefix=layout.endpoints, private_endpoint_network_policies="Enabled"),
            *[azure.network.SubnetArgs(name=n, address_prefix=p) for n, p in layout.extra.items()],
        ]
        # Subnets inline: separate Subnet resources on one VNet race each other in ARM.
        vnet = azure.network.VirtualNetwork(
            f"{name}-vnet",
            virtual_network_name=args.network_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            address_space=azure.network.AddressSpaceArgs(address_prefixes=[str(args.cidr)]),
            subnets=subnets,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

        def subnet_id(subnet: str) -> pulumi.Output[str]:
            return vnet.id.apply(lambda vid: f"{vid}/subnets/{subnet}")

        self.zone_ids = {}
        self.zone_links = {}
        for service, zone_name in sorted(args.private_zones.items()):
            zone = azure.privatedns.PrivateZone(
                f"{name}-{service}-zone",
                private_zone_name=zone_name,
                resource_group_name=args.resource_group_name,
                location="global",
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.zone_links[service] = azure.privatedns.VirtualNetworkLink(
                f"{name}-{service}-link",
                private_zone_name=zone.name,
                resource_group_name=args.resource_group_name,
                location="global",
                virtual_network=azure.privatedns.SubResourceArgs(id=vnet.id),
                registration_enabled=False,
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.zone_ids[service] = zone.id

        self.vnet_id = vnet.id
        self.data_subnet_id = subnet_id("data")
        self.endpoints_subnet_id = subnet_id("endpoints")
        self.extra_subnet_ids = {n: subnet_id(n) for n in layout.extra}
        self.register_outputs({"vnet_id": vnet.id})

    def environment_subnet_id(self, internal: bool) -> pulumi.Output[str]:
        """The subnet for the Container Apps environment with that accessibility."""
        subnet = environment_subnet(internal)
        return self.vnet_id.apply(lambda vid: f"{vid}/subnets/{subnet}")


@dataclass
class PrivateEndpointArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    subnet_id: pulumi.Input[str]
    target_id: pulumi.Input[str]
    group_id: str  # vault | blob | file | redisEnterprise | account | searchService
    zone_id: pulumi.Input[str]
    tags: Mapping[str, str]
    # Resources the endpoint must wait for (a component's depends_on does not reach its children).
    after: Sequence[pulumi.Resource] = ()


class PrivateEndpoint(pulumi.ComponentResource):
    """A private endpoint with its DNS record in the privatelink zone."""

    def __init__(self, name: str, args: PrivateEndpointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:azure:PrivateEndpoint", name, None, opts)
        endpoint = azure.network.PrivateEndpoint(
            f"{name}-pe",
            resource_group_name=args.resource_group_name,
            location=args.location,
            subnet=azure.network.SubnetArgs(id=args.subnet_id),
            private_link_service_connections=[
                azure.network.PrivateLinkServiceConnectionArgs(
                    name=f"{name}-{args.group_id}",
                    private_link_service_id=args.target_id,
                    group_ids=[args.group_id],
                )
            ],
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
        )
        azure.network.PrivateDnsZoneGroup(
            f"{name}-dns",
            private_dns_zone_group_name="default",
            private_endpoint_name=endpoint.name,
            resource_group_name=args.resource_group_name,
            private_dns_zone_configs=[azure.network.PrivateDnsZoneConfigArgs(name=args.group_id, private_dns_zone_id=args.zone_id)],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})


class PrivatePlacement(Protocol):
    """What a data component's args say about where its private endpoints go."""

    resource_group_name: pulumi.Input[str]
    location: str
    endpoints_subnet_id: pulumi.Input[str]
    tags: Mapping[str, str]


def private_endpoint(name: str, placement: PrivatePlacement, *, target_id: pulumi.Input[str], group_id: str, zone_id: pulumi.Input[str], parent: pulumi.Resource) -> PrivateEndpoint:
    """The private endpoint of a component's resource, in the component's endpoints subnet."""
    return PrivateEndpoint(
        name,
        PrivateEndpointArgs(
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            subnet_id=placement.endpoints_subnet_id,
            target_id=target_id,
            group_id=group_id,
            zone_id=zone_id,
            tags=placement.tags,
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )

