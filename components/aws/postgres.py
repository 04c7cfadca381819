"""The app's PostgreSQL: RDS in the isolated data subnets, KMS-encrypted, TLS enforced,
deletion-protected, backed up; credentials generated and kept in Secrets Manager."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.aws.secrets import StoredSecret, StoredSecretArgs

ENGINE_VERSION = "16"
PARAMETER_FAMILY = "postgres16"
LOG_EXPORTS = ("postgresql",)


def rds_log_group_name(kind: str, identifier: str, log: str) -> str:
    """Where RDS (kind "instance") and Aurora (kind "cluster") export a database log."""
    return f"/aws/rds/{kind}/{identifier}/{log}"


def rds_log_groups(
    name: str,
    kind: str,
    identifier: str,
    *,
    retention_days: int,
    kms_key_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> list[aws.cloudwatch.LogGroup]:
    """The log groups RDS/Aurora export to, created first with the platform key and a retention:
    the service would otherwise create them itself, without a key or retention ("Publishing
    PostgreSQL logs to Amazon CloudWatch Logs", docs.aws.amazon.com/AmazonRDS/latest/UserGuide/
    USER_LogAccess.Concepts.PostgreSQL.html; read 2026-11-30). The database depends on them."""
    return [
        aws.cloudwatch.LogGroup(
            f"{name}-log-{log}",
            name=rds_log_group_name(kind, identifier, log),
            retention_in_days=retention_days,
            kms_key_id=kms_key_arn,
            tags=dict(tags),
            opts=opts,
        )
        for log in LOG_EXPORTS
    ]


@dataclass
class PostgresArgs:
    identifier: str
    database_name: str
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    client_cidrs: Sequence[str]  # networks allowed to connect on 5432
    kms_key_arn: pulumi.Input[str]
    secret_name: str
    instance_class: str
    storage_gb: int
    backup_retention_days: int
    multi_az: bool
    tags: Mapping[str, str]
    log_retention_days: int  # of the log groups RDS exports to


class PostgresDatabase(pulumi.ComponentResource):
    """The instance and its credentials are protected: promoting or editing the stack never
    replaces them without an explicit `pulumi state unprotect`."""

    secret_arn: pulumi.Output[str]
    address: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:aws:PostgresDatabase", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        username = "llmadmin"
        password = random.RandomPassword(
            f"{name}-password",
            length=32,
            special=False,  # RDS forbids / @ " and space; alphanumerics avoid URL-escaping issues
            opts=child,
        )
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            description=f"{args.identifier} data subnets",
            subnet_ids=list(args.subnet_ids),
            tags=tags,
            opts=child,
        )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description=f"{args.identifier}: PostgreSQL from the app subnets only",
            vpc_id=args.vpc_id,
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=5432, to_port=5432, cidr_blocks=list(args.client_cidrs), description="app subnets"
                )
            ],
            egress=[],
            tags=tags,
            opts=child,
        )
        parameters = aws.rds.ParameterGroup(
            f"{name}-params",
            family=PARAMETER_FAMILY,
            description=f"{args.identifier}: TLS only, connection logging",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
                aws.rds.ParameterGroupParameterArgs(name="log_connections", value="1"),
            ],
            tags=tags,
            opts=child,
        )
        log_groups = rds_log_groups(
            name, "instance", args.identifier, retention_days=args.log_retention_days, kms_key_arn=args.kms_key_arn, tags=tags, opts=child
        )
        instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=args.identifier,
            engine="postgres",
            engine_version=ENGINE_VERSION,
            instance_class=args.instance_class,
            allocated_storage=args.storage_gb,
            max_allocated_storage=args.storage_gb * 4,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            db_name=args.database_name,
            username=username,
            password=password.result,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[security_group.id],
            parameter_group_name=parameters.name,
            publicly_accessible=False,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=True,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{args.identifier}-final",
            auto_minor_version_upgrade=True,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.kms_key_arn,
            iam_database_authentication_enabled=True,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=log_groups),
        )
        credentials = pulumi.Output.all(instance.address, password.result).apply(
            lambda v: json.dumps(
                {"username": username, "password": v[1], "host": v[0], "port": "5432", "dbname": args.database_name}
            )
        )
        secret = StoredSecret(
            f"{name}-credentials",
            StoredSecretArgs(
                secret_name=args.secret_name,
                description=f"{args.identifier} connection (username, password, host, port, dbname)",
                value=credentials,
                kms_key_arn=args.kms_key_arn,
                tags=args.tags,
            ),
            opts=child,
        )
        self.secret_arn = secret.arn
        self.address = instance.address
        self.security_group_id = security_group.id
        self.register_outputs({"secret_arn": secret.arn, "address": instance.address})
