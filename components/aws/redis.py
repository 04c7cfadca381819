"""Redis (ElastiCache, Valkey engine): Dify's cache and Celery broker (reachable from the app
subnets) and the Scale gateway's shared budgets and rate limits (reachable from the EKS nodes'
security group). Both: TLS in transit, KMS at rest, an auth token kept in Secrets Manager."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.aws.secrets import StoredSecret, StoredSecretArgs
from components.lowcode import redis_url

REDIS_PORT = 6379
VALKEY_VERSION = "8.0"


@dataclass
class RedisArgs:
    replication_group_id: str
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    client_cidrs: Sequence[str]
    kms_key_arn: pulumi.Input[str]
    secret_name: str
    node_type: str
    tags: Mapping[str, str]


class RedisCache(pulumi.ComponentResource):
    secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: RedisArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:aws:RedisCache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        token = random.RandomPassword(f"{name}-auth-token", length=40, special=False, opts=child)
        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            name=args.replication_group_id,
            description=f"{args.replication_group_id} data subnets",
            subnet_ids=list(args.subnet_ids),
            tags=tags,
            opts=child,
        )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description=f"{args.replication_group_id}: Redis from the app subnets only",
            vpc_id=args.vpc_id,
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=6379, to_port=6379, cidr_blocks=list(args.client_cidrs), description="app subnets"
                )
            ],
            egress=[],
            tags=tags,
            opts=child,
        )
        group = _replication_group(
            f"{name}-group", args.replication_group_id, "Dify cache and task broker", args.node_type, 1, subnet_group.name, security_group.id, args.kms_key_arn, token.result, tags, child
        )
        connection = pulumi.Output.all(group.primary_endpoint_address, token.result).apply(
            lambda v: json.dumps(
                {
                    "host": v[0],
                    "port": "6379",
                    "password": v[1],
                    # Celery over TLS (rediss) with certificate verification, database 1.
                    "broker_url": redis_url("rediss", v[1], v[0], 6379, 1, "ssl_cert_reqs=required"),
                }
            )
        )
        secret = StoredSecret(
            f"{name}-connection",
            StoredSecretArgs(
                secret_name=args.secret_name,
                description=f"{args.replication_group_id} connection (host, port, password, broker_url)",
                value=connection,
                kms_key_arn=args.kms_key_arn,
                tags=args.tags,
                protect=False,
            ),
            opts=child,
        )
        self.secret_arn = secret.arn
        self.register_outputs({"secret_arn": secret.arn})


def _replication_group(
    name: str,
    group_id: str,
    description: str,
    node_type: str,
    nodes: int,
    subnet_group_name: pulumi.Input[str],
    security_group_id: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str],
    auth_token: pulumi.Input[str],
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.elasticache.ReplicationGroup:
    """Valkey without cluster mode: TLS in transit (required with an AUTH token), KMS at rest;
    with two nodes in two zones, a replica takes over automatically."""
    return aws.elasticache.ReplicationGroup(
        name,
        replication_group_id=group_id,
        description=description,
        engine="valkey",
        engine_version=VALKEY_VERSION,
        node_type=node_type,
        num_cache_clusters=nodes,
        automatic_failover_enabled=nodes > 1 or None,
        multi_az_enabled=nodes > 1 or None,
        port=REDIS_PORT,
        subnet_group_name=subnet_group_name,
        security_group_ids=[security_group_id],
        at_rest_encryption_enabled=True,
        kms_key_id=kms_key_arn,
        transit_encryption_enabled=True,
        auth_token=auth_token,
        auto_minor_version_upgrade=True,
        snapshot_retention_limit=1,
        tags=dict(tags),
        opts=opts,
    )


@dataclass
class GatewayRedisArgs:
    replication_group_id: str
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    # The EKS cluster security group: managed node groups without their own security groups get
    # it, and VPC CNI pods use their node's ENIs, so it is exactly "the cluster's nodes and pods".
    client_security_group_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    secret_name: str
    node_type: str
    tags: Mapping[str, str]


class GatewayRedis(pulumi.ComponentResource):
    """The gateway's shared state (LiteLLM spend, budgets, rate-limit counters): a primary and a
    replica in two zones, the AUTH token alone in a Secrets Manager secret (the gateway pod reads
    it as REDIS_PASSWORD through External Secrets)."""

    host: pulumi.Output[str]
    port: int = REDIS_PORT
    password_secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: GatewayRedisArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:aws:GatewayRedis", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        token = random.RandomPassword(f"{name}-auth-token", length=40, special=False, opts=child)
        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-subnets", name=args.replication_group_id, description=f"{args.replication_group_id} data subnets", subnet_ids=list(args.subnet_ids), tags=tags, opts=child
        )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description=f"{args.replication_group_id}: Redis from the EKS nodes and pods only",
            vpc_id=args.vpc_id,
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=REDIS_PORT, to_port=REDIS_PORT, security_groups=[args.client_security_group_id], description="EKS cluster security group"
                )
            ],
            egress=[],
            tags=tags,
            opts=child,
        )
        nodes = 2 if len(args.subnet_ids) > 1 else 1
        group = _replication_group(
            f"{name}-group", args.replication_group_id, "LLM gateway budgets and rate limits", args.node_type, nodes, subnet_group.name, security_group.id, args.kms_key_arn, token.result, tags, child
        )
        secret = StoredSecret(
            f"{name}-password",
            StoredSecretArgs(
                secret_name=args.secret_name,
                description=f"{args.replication_group_id} AUTH token (the gateway's REDIS_PASSWORD)",
                value=token.result,
                kms_key_arn=args.kms_key_arn,
                tags=args.tags,
                protect=False,
            ),
            opts=child,
        )
        self.host = group.primary_endpoint_address
        self.password_secret_arn = secret.arn
        self.register_outputs({"host": self.host})
