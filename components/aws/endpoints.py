"""VPC endpoints so private subnets reach AWS services without the internet: interface
endpoints (private DNS) for the services the app and ECS use, and the S3 gateway endpoint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.partition import AwsAccount

# bedrock-runtime / bedrock-agent-runtime: model calls; secretsmanager: task secrets; ssm: task
# settings published as SSM parameters (e.g. OPENSEARCH_HOST), read by the ECS agent at task
# start; logs: awslogs driver; ecr.api + ecr.dkr: image pulls (layers come through the S3 gateway).
# AWS doc "Amazon ECS interface VPC endpoints" (docs.aws.amazon.com/AmazonECS/latest/developerguide/
# vpc-endpoints.html, read 2026-11-30): Fargate tasks without internet need ecr.api, ecr.dkr, the
# S3 gateway, logs, and secretsmanager / ssm when task definitions reference secrets / parameters.
DEFAULT_INTERFACE_SERVICES = ("bedrock-runtime", "bedrock-agent-runtime", "secretsmanager", "ssm", "logs", "ecr.api", "ecr.dkr")

# The endpoint services an IAM action prefix calls from inside the VPC ("s3" = the S3 gateway;
# "aoss" = the OpenSearch Serverless VPC endpoint of the vector store). Actions a service performs
# on the caller's behalf (a kms:ViaService condition) need no endpoint of their own. Used to check
# that every service a workload role may call is reachable without NAT.
ENDPOINT_SERVICES_BY_ACTION_PREFIX: dict[str, tuple[str, ...]] = {
    "bedrock": ("bedrock-runtime",),
    "secretsmanager": ("secretsmanager",),
    "ssm": ("ssm",),
    "logs": ("logs",),
    "ecr": ("ecr.api", "ecr.dkr", "s3"),
    "s3": ("s3",),
    "kms": ("kms",),
    "sts": ("sts",),
    "aoss": ("aoss",),
    "rds-db": (),  # IAM database auth: a token signed locally, sent to the database
}
# bedrock actions served by another endpoint than bedrock-runtime.
BEDROCK_AGENT_RUNTIME_ACTIONS = ("bedrock:Retrieve", "bedrock:RetrieveAndGenerate", "bedrock:InvokeAgent")


@dataclass
class VpcEndpointsArgs:
    account: AwsAccount
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    subnet_ids: Sequence[pulumi.Input[str]]
    route_table_ids: Sequence[pulumi.Input[str]]
    tags: Mapping[str, str]
    services: Sequence[str] = DEFAULT_INTERFACE_SERVICES


class VpcEndpoints(pulumi.ComponentResource):
    security_group_id: pulumi.Output[str]
    endpoint_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: VpcEndpointsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:aws:VpcEndpoints", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        prefix = args.account.reverse_dns_prefix
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description="Interface endpoints: HTTPS from inside the VPC only",
            vpc_id=args.vpc_id,
            ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=443, to_port=443, cidr_blocks=[args.vpc_cidr], description="VPC")],
            egress=[],
            tags=tags,
            opts=child,
        )
        self.endpoint_ids = {}
        for service in args.services:
            endpoint = aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=args.vpc_id,
                service_name=f"{prefix}.{args.account.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=list(args.subnet_ids),
                security_group_ids=[security_group.id],
                tags={**tags, "Name": f"{name}-{service}"},
                opts=child,
            )
            self.endpoint_ids[service] = endpoint.id
        s3 = aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=args.vpc_id,
            service_name=f"{prefix}.{args.account.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=list(args.route_table_ids),
            tags={**tags, "Name": f"{name}-s3"},
            opts=child,
        )
        self.endpoint_ids["s3"] = s3.id
        self.security_group_id = security_group.id
        self.register_outputs({"endpoint_ids": self.endpoint_ids})
