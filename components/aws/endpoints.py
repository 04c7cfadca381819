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
    # InvokeEndpoint goes to runtime.sagemaker.<region>.<suffix>: the sagemaker.runtime service.
    "sagemaker": ("sagemaker.runtime",),
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


def endpoint_service_name(account: AwsAccount, service: str, service_type: str, parent: pulumi.Resource) -> pulumi.Input[str]:
    """The endpoint service's name. Outside China it is com.amazonaws.<region>.<service>. In
    cn-north-1 and cn-northwest-1 some services are named cn.com.amazonaws.<region>.<service>
    (ecr, sts, sagemaker.runtime, ...) and others com.amazonaws.<region>.<service> (logs,
    secretsmanager, kms, ssm, ...), and the list changes as services launch (DescribeVpcEndpoint-
    Services output in aws/aws-cdk#25329 and PR #25333; the exception table of aws-cdk-lib
    aws-ec2/lib/vpc-endpoint.ts, read 2026-11-30). So in aws-cn the provider looks it up: the
    data source's `service` argument builds com.amazonaws.* and fails there
    (hashicorp/terraform-provider-aws#17640, terraform-aws-modules/terraform-aws-vpc#1121), so
    the lookup filters on both candidate names and the API returns the one that exists."""
    if account.partition != "aws-cn":
        return f"{account.reverse_dns_prefix}.{account.region}.{service}"
    candidates = [f"com.amazonaws.{account.region}.{service}", f"cn.com.amazonaws.{account.region}.{service}"]
    found = aws.ec2.get_vpc_endpoint_service_output(
        service_type=service_type,
        filters=[aws.ec2.GetVpcEndpointServiceFilterArgs(name="service-name", values=candidates)],
        opts=pulumi.InvokeOutputOptions(parent=parent),
    )
    return found.service_name


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
                service_name=endpoint_service_name(args.account, service, "Interface", self),
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
            service_name=endpoint_service_name(args.account, "s3", "Gateway", self),
            vpc_endpoint_type="Gateway",
            route_table_ids=list(args.route_table_ids),
            tags={**tags, "Name": f"{name}-s3"},
            opts=child,
        )
        self.endpoint_ids["s3"] = s3.id
        self.security_group_id = security_group.id
        self.register_outputs({"endpoint_ids": self.endpoint_ids})
