"""A VPC across two AZs: public subnets (load balancer, NAT), private app subnets, and isolated
data subnets with no route to the internet. Flow logs go to a KMS-encrypted log group."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.partition import AwsAccount


@dataclass
class NetworkArgs:
    account: AwsAccount
    cidr: ipaddress.IPv4Network
    availability_zones: Sequence[str]
    nat_gateways: int
    public_subnets: bool
    kms_key_arn: pulumi.Input[str]
    log_retention_days: int
    log_group_name: str
    tags: Mapping[str, str]
    # e.g. the tag that lets Kubernetes place internal load balancers in the private subnets
    private_subnet_tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SubnetPlan:
    public: list[str]
    private: list[str]
    data: list[str]


def plan_subnets(cidr: ipaddress.IPv4Network, zones: int) -> SubnetPlan:
    """Sixteen equal slices of the VPC: 0-1 public, 2-3 private, 4-5 data; the rest stay free."""
    slices = list(cidr.subnets(new_prefix=cidr.prefixlen + 4))
    return SubnetPlan(
        public=[str(s) for s in slices[0:zones]],
        private=[str(s) for s in slices[2 : 2 + zones]],
        data=[str(s) for s in slices[4 : 4 + zones]],
    )


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    vpc_cidr: str
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    data_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:aws:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        zones = list(args.availability_zones)[:2]
        if len(zones) < 2:
            raise ValueError(f"the region offers {len(zones)} availability zone(s); the network needs two")
        if args.nat_gateways and not args.public_subnets:
            raise ValueError("NAT gateways need public subnets")
        subnets = plan_subnets(args.cidr, len(zones))

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(args.cidr),
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**tags, "Name": f"{name}-vpc"},
            opts=child,
        )
        # Nothing may use the default security group: strip its rules (CIS AWS 5.4).
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[], tags=tags, opts=child)
        self._flow_logs(name, args, vpc.id, tags)

        self.public_subnet_ids = []
        nat_ids: list[pulumi.Output[str]] = []
        if args.public_subnets:
            igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tags, opts=child)
            # Routes are separate resources, never inline: removing one then really removes it.
            public_rt = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc.id, tags={**tags, "Name": f"{name}-public"}, opts=child)
            aws.ec2.Route(f"{name}-public-default", route_table_id=public_rt.id, destination_cidr_block="0.0.0.0/0", gateway_id=igw.id, opts=child)
            for i, (zone, cidr) in enumerate(zip(zones, subnets.public, strict=True)):
                subnet = aws.ec2.Subnet(
                    f"{name}-public-{i}",
                    vpc_id=vpc.id,
                    cidr_block=cidr,
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags={**tags, "Name": f"{name}-public-{zone}", "tier": "public"},
                    opts=child,
                )
                aws.ec2.RouteTableAssociation(f"{name}-public-{i}", subnet_id=subnet.id, route_table_id=public_rt.id, opts=child)
                self.public_subnet_ids.append(subnet.id)
            for i in range(args.nat_gateways):
                eip = aws.ec2.Eip(f"{name}-nat-{i}", domain="vpc", tags=tags, opts=child)
                nat = aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.id,
                    subnet_id=self.public_subnet_ids[i],
                    tags={**tags, "Name": f"{name}-nat-{zones[i]}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
                nat_ids.append(nat.id)

        self.private_subnet_ids = []
        self.private_route_table_ids = []
        for i, (zone, cidr) in enumerate(zip(zones, subnets.private, strict=True)):
            rt = aws.ec2.RouteTable(f"{name}-private-rt-{i}", vpc_id=vpc.id, tags={**tags, "Name": f"{name}-private-{zone}"}, opts=child)
            if nat_ids:
                aws.ec2.Route(
                    f"{name}-private-default-{i}",
                    route_table_id=rt.id,
                    destination_cidr_block="0.0.0.0/0",
                    nat_gateway_id=nat_ids[i % len(nat_ids)],
                    opts=child,
                )
            subnet = aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                tags={**tags, "Name": f"{name}-private-{zone}", "tier": "private", **args.private_subnet_tags},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(f"{name}-private-{i}", subnet_id=subnet.id, route_table_id=rt.id, opts=child)
            self.private_subnet_ids.append(subnet.id)
            self.private_route_table_ids.append(rt.id)

        # Data subnets have a route table with the local route only: databases never reach out.
        data_rt = aws.ec2.RouteTable(f"{name}-data-rt", vpc_id=vpc.id, tags={**tags, "Name": f"{name}-data"}, opts=child)
        self.data_subnet_ids = []
        for i, (zone, cidr) in enumerate(zip(zones, subnets.data, strict=True)):
            subnet = aws.ec2.Subnet(
                f"{name}-data-{i}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                tags={**tags, "Name": f"{name}-data-{zone}", "tier": "data"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(f"{name}-data-{i}", subnet_id=subnet.id, route_table_id=data_rt.id, opts=child)
            self.data_subnet_ids.append(subnet.id)
        self.private_route_table_ids.append(data_rt.id)

        self.vpc_id = vpc.id
        self.vpc_cidr = str(args.cidr)
        self.register_outputs(
            {
                "vpc_id": vpc.id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "data_subnet_ids": self.data_subnet_ids,
            }
        )

    def _flow_logs(self, name: str, args: NetworkArgs, vpc_id: pulumi.Output[str], tags: dict[str, str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=args.log_group_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child,
        )
        account = args.account
        role = aws.iam.Role(
            f"{name}-flow-logs",
            description="VPC flow logs delivery to CloudWatch Logs",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}},
                        }
                    ],
                }
            ),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=log_group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc_id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=600,
            tags=tags,
            opts=child,
        )
