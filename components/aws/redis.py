"""Redis (ElastiCache, Valkey engine) for Dify's cache and Celery broker: TLS in transit,
KMS at rest, an auth token kept in Secrets Manager, reachable from the app subnets only."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.aws.secrets import StoredSecret, StoredSecretArgs
from components.lowcode import redis_url


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
        group = aws.elasticache.ReplicationGroup(
            f"{name}-group",
            replication_group_id=args.replication_group_id,
            description="Dify cache and task broker",
            engine="valkey",
            engine_version="8.0",
            node_type=args.node_type,
            num_cache_clusters=1,
            port=6379,
            subnet_group_name=subnet_group.name,
            security_group_ids=[security_group.id],
            at_rest_encryption_enabled=True,
            kms_key_id=args.kms_key_arn,
            transit_encryption_enabled=True,
            auth_token=token.result,
            auto_minor_version_upgrade=True,
            snapshot_retention_limit=1,
            tags=tags,
            opts=child,
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
