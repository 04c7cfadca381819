"""A VNet with an apps subnet (Container Apps), a data subnet (PostgreSQL Flexible Server) and a
private-endpoints subnet; private DNS zones linked to it; and a helper for private endpoints."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class SubnetLayout:
    apps: str
    data: str
    endpoints: str
    extra: dict[str, str]


def plan_azure_subnets(cidr: ipaddress.IPv4Network, extra: Sequence[str] = ()) -> SubnetLayout:
    """/23 for Container Apps (its minimum with workload profiles), /24 data, /24 endpoints."""
    blocks = list(cidr.subnets(new_prefix=23))
    data, endpoints = list(blocks[1].subnets(new_prefix=24))
    return SubnetLayout(
        apps=str(blocks[0]),
        data=str(data),
        endpoints=str(endpoints),
        extra={name: str(blocks[2 + i]) for i, name in enumerate(extra)},
    )


class VirtualNetwork(pulumi.ComponentResource):
    vnet_id: pulumi.Output[str]
    apps_subnet_id: pulumi.Output[str]
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
            azure.network.SubnetArgs(
                name="apps",
                address_prefix=layout.apps,
                delegations=[azure.network.DelegationArgs(name="container-apps", service_name="Microsoft.App/environments")],
            ),
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
        self.apps_subnet_id = subnet_id("apps")
        self.data_subnet_id = subnet_id("data")
        self.endpoints_subnet_id = subnet_id("endpoints")
        self.extra_subnet_ids = {n: subnet_id(n) for n in layout.extra}
        self.register_outputs({"vnet_id": vnet.id})


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
