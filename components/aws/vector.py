"""Vector databases for RAG on AWS, private and encrypted with the platform key:
OpenSearch Serverless (vector collection) or Aurora PostgreSQL Serverless v2 with pgvector."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.aws.postgres import LOG_EXPORTS, rds_log_groups
from components.aws.secrets import StoredSecret, StoredSecretArgs

# The major only. Aurora applies minor upgrades itself (auto minor version upgrade, and forced
# upgrades when a minor reaches end of standard support); a pinned minor ("16.6") would then make
# every later `up` try to downgrade, and new clusters fail once AWS stops offering that minor.
# CreateDBCluster resolves a bare major to the region's default minor, and the provider keeps a
# prefix pin without drift: terraform-provider-aws internal/service/rds/engine_version.go
# compareActualEngineVersion ("old=1.3, new=1.3.27 will not trigger a set"; read 2026-11-30).
# Major upgrades stay deliberate: change this and the parameter family together, with
# allow_major_version_upgrade for that one update.
AURORA_ENGINE_VERSION = "16"
AURORA_PARAMETER_FAMILY = f"aurora-postgresql{AURORA_ENGINE_VERSION}"


@dataclass
class OpenSearchVectorStoreArgs:
    collection_name: str  # 3-32 lowercase characters
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    subnet_ids: Sequence[pulumi.Input[str]]
    kms_key_arn: pulumi.Input[str]
    reader_writer_arns: Sequence[pulumi.Input[str]]  # IAM principals of the app
    standby_replicas: bool
    tags: Mapping[str, str]


class OpenSearchVectorStore(pulumi.ComponentResource):
    """Unlike the common default (AWS-owned key, public network access), the collection is
    encrypted with the platform key and reachable only through its VPC endpoint."""

    collection_arn: pulumi.Output[str]
    endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: OpenSearchVectorStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:aws:OpenSearchVectorStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        collection = args.collection_name
        resource_rule = [{"ResourceType": "collection", "Resource": [f"collection/{collection}"]}]
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description=f"{collection}: HTTPS from inside the VPC only",
            vpc_id=args.vpc_id,
            ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=443, to_port=443, cidr_blocks=[args.vpc_cidr], description="VPC")],
            egress=[],
            tags=dict(args.tags),
            opts=child,
        )
        endpoint = aws.opensearch.ServerlessVpcEndpoint(
            f"{name}-vpce",
            name=f"{collection}-vpce"[:32],
            vpc_id=args.vpc_id,
            subnet_ids=list(args.subnet_ids),
            security_group_ids=[security_group.id],
            opts=child,
        )
        encryption = aws.opensearch.ServerlessSecurityPolicy(
            f"{name}-encryption",
            name=f"{collection}-enc"[:32],
            type="encryption",
            description="Customer-managed key for the vector collection",
            policy=pulumi.Output.from_input(args.kms_key_arn).apply(lambda key: json.dumps({"Rules": resource_rule, "AWSOwnedKey": False, "KmsARN": key})),
            opts=child,
        )
        network = aws.opensearch.ServerlessSecurityPolicy(
            f"{name}-network",
            name=f"{collection}-net"[:32],
            type="network",
            description="No public access: the VPC endpoint only",
            policy=endpoint.id.apply(lambda vpce: json.dumps([{"Rules": resource_rule, "AllowFromPublic": False, "SourceVPCEs": [vpce]}])),
            opts=child,
        )
        aws.opensearch.ServerlessAccessPolicy(
            f"{name}-data-access",
            name=f"{collection}-data"[:32],
            type="data",
            description="The app may manage indexes and documents of this collection only",
            policy=pulumi.Output.all(*args.reader_writer_arns).apply(
                lambda principals: json.dumps(
                    [
                        {
                            "Rules": [
                                {
                                    "ResourceType": "index",
                                    "Resource": [f"index/{collection}/*"],
                                    "Permission": ["aoss:CreateIndex", "aoss:DescribeIndex", "aoss:UpdateIndex", "aoss:DeleteIndex", "aoss:ReadDocument", "aoss:WriteDocument"],
                                },
                                {
                                    "ResourceType": "collection",
                                    "Resource": [f"collection/{collection}"],
                                    "Permission": ["aoss:DescribeCollectionItems", "aoss:CreateCollectionItems", "aoss:UpdateCollectionItems"],
                                },
                            ],
                            "Principal": sorted(principals),
                        }
                    ]
                )
            ),
            opts=child,
        )
        store = aws.opensearch.ServerlessCollection(
            f"{name}-collection",
            name=collection,
            type="VECTORSEARCH",
            description="RAG vectors of the llm-platform app",
            standby_replicas="ENABLED" if args.standby_replicas else "DISABLED",
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=[encryption, network]),
        )
        self.collection_arn = store.arn
        self.endpoint = store.collection_endpoint
        self.register_outputs({"collection_arn": store.arn, "endpoint": store.collection_endpoint})


@dataclass
class AuroraVectorStoreArgs:
    cluster_identifier: str
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    client_cidrs: Sequence[str]
    kms_key_arn: pulumi.Input[str]
    secret_name: str
    min_capacity: float
    max_capacity: float
    backup_retention_days: int
    tags: Mapping[str, str]
    log_retention_days: int


class AuroraVectorStore(pulumi.ComponentResource):
    """Aurora PostgreSQL Serverless v2 (pgvector ships with it; the app runs CREATE EXTENSION)."""

    secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AuroraVectorStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:aws:AuroraVectorStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        password = random.RandomPassword(f"{name}-password", length=32, special=False, opts=child)
        subnet_group = aws.rds.SubnetGroup(f"{name}-subnets", description=f"{args.cluster_identifier} data subnets", subnet_ids=list(args.subnet_ids), tags=tags, opts=child)
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description=f"{args.cluster_identifier}: PostgreSQL from the app subnets only",
            vpc_id=args.vpc_id,
            ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=5432, to_port=5432, cidr_blocks=list(args.client_cidrs), description="app subnets")],
            egress=[],
            tags=tags,
            opts=child,
        )
        parameters = aws.rds.ClusterParameterGroup(
            f"{name}-params",
            family=AURORA_PARAMETER_FAMILY,
            description=f"{args.cluster_identifier}: TLS only",
            parameters=[aws.rds.ClusterParameterGroupParameterArgs(name="rds.force_ssl", value="1")],
            tags=tags,
            opts=child,
        )
        log_groups = rds_log_groups(
            name, "cluster", args.cluster_identifier, retention_days=args.log_retention_days, kms_key_arn=args.kms_key_arn, tags=tags, opts=child
        )
        cluster = aws.rds.Cluster(
            f"{name}-cluster",
            cluster_identifier=args.cluster_identifier,
            engine="aurora-postgresql",
            engine_mode="provisioned",
            engine_version=AURORA_ENGINE_VERSION,
            database_name="vectors",
            master_username="llmadmin",
            master_password=password.result,
            db_subnet_group_name=subnet_group.name,
            db_cluster_parameter_group_name=parameters.name,
            vpc_security_group_ids=[security_group.id],
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            serverlessv2_scaling_configuration=aws.rds.ClusterServerlessv2ScalingConfigurationArgs(min_capacity=args.min_capacity, max_capacity=args.max_capacity),
            backup_retention_period=args.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=True,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{args.cluster_identifier}-final",
            iam_database_authentication_enabled=True,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=log_groups),
        )
        aws.rds.ClusterInstance(
            f"{name}-writer",
            identifier=f"{args.cluster_identifier}-writer",
            cluster_identifier=cluster.id,
            instance_class="db.serverless",
            engine="aurora-postgresql",  # the version is the cluster's
            publicly_accessible=False,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child,
        )
        credentials = pulumi.Output.all(cluster.endpoint, password.result).apply(
            lambda v: json.dumps({"username": "llmadmin", "password": v[1], "host": v[0], "port": "5432", "dbname": "vectors"})
        )
        secret = StoredSecret(
            f"{name}-credentials",
            StoredSecretArgs(
                secret_name=args.secret_name,
                description=f"{args.cluster_identifier} connection (username, password, host, port, dbname)",
                value=credentials,
                kms_key_arn=args.kms_key_arn,
                tags=args.tags,
            ),
            opts=child,
        )
        self.secret_arn = secret.arn
        self.register_outputs({"secret_arn": secret.arn})
