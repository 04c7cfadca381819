"""Open models on SageMaker real-time endpoints: the LMI container (DJL Serving with the vLLM
rolling-batch backend) in the VPC's private subnets, weights pre-staged in an in-region S3 prefix
and copied by SageMaker before the container starts (so the container runs network-isolated),
autoscaling between the configured bounds, and an execution role that may read exactly that
image, that prefix and its own log group.

LMI settings: deepjavalibrary/djl-serving serving/docs/lmi/deployment_guide/configurations.md
(`option.rolling_batch=vllm`, `option.tensor_parallel_degree=max`, environment form
`OPTION_<KEY>`; artifacts found in /opt/ml/model when `option.model_id` is unset). LMI 0.27+
answers the OpenAI chat-completions schema on /invocations, which LiteLLM's `sagemaker_chat`
provider sends (litellm 1.108.6 llms/sagemaker/chat/transformation.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.partition import AwsAccount
from components.aws.sagemaker_catalog import HostingInstance, lmi_account, lmi_image

VARIANT = "AllTraffic"


@dataclass(frozen=True)
class HostedModel:
    name: str  # what the gateway calls it
    endpoint_name: str  # the SageMaker endpoint (unique per account and region)
    weights_uri: str  # s3://bucket/prefix/ holding config.json, tokenizer and safetensors
    instance: HostingInstance
    min_instances: int
    max_instances: int
    max_model_len: int | None = None
    # Target of the SageMakerVariantInvocationsPerInstance tracking policy (requests per minute).
    invocations_per_instance: int = 30


@dataclass
class SageMakerModelsArgs:
    account: AwsAccount
    models: Sequence[HostedModel]
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    kms_key_arn: pulumi.Input[str]
    log_retention_days: int
    tags: Mapping[str, str]


def split_s3_uri(uri: str) -> tuple[str, str]:
    """("bucket", "prefix/") for s3://bucket/prefix (the prefix always ends in /)."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, (prefix.rstrip("/") + "/") if prefix else ""


def endpoint_arn(account: AwsAccount, endpoint_name: str) -> str:
    # SageMaker lower-cases names in ARNs (IAM reference, "Resource types defined by Amazon SageMaker").
    return account.arn("sagemaker", f"endpoint/{endpoint_name.lower()}")


def invoke_policy(account: AwsAccount, endpoint_names: Sequence[str]) -> str:
    """What a caller (the model gateway) needs to call exactly these endpoints."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "InvokeHostedModels",
                    "Effect": "Allow",
                    "Action": ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"],
                    "Resource": sorted(endpoint_arn(account, n) for n in endpoint_names),
                }
            ],
        }
    )


def execution_policy(account: AwsAccount, models: Sequence[HostedModel], kms_key_arn: str, subnet_ids: Sequence[str], security_group_id: str) -> str:
    """CreateModel execution role permissions (SageMaker developer guide, "How to use SageMaker
    AI execution roles", CreateModel API: ECR pull, S3 model data, CloudWatch Logs, and the EC2
    network-interface actions a VpcConfig needs). The ENIs are created in the endpoint's subnets
    with its security group only; the Describe* actions take no resource (IAM reference)."""
    region, partition = account.region, account.partition
    registry = lmi_account(region)
    buckets = sorted({split_s3_uri(m.weights_uri)[0] for m in models})
    objects = sorted({f"arn:{partition}:s3:::{b}/{p}*" for b, p in (split_s3_uri(m.weights_uri) for m in models)})
    prefixes = sorted({f"{p}*" for _, p in (split_s3_uri(m.weights_uri) for m in models)})
    statements: list[dict[str, object]] = [
        {"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {
            "Sid": "PullServingImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": account.arn("ecr", "repository/djl-inference", account=registry),
        },
        {"Sid": "ListWeights", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [f"arn:{partition}:s3:::{b}" for b in buckets], "Condition": {"StringLike": {"s3:prefix": prefixes}}},
        {"Sid": "ReadWeights", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": objects},
        {
            "Sid": "DecryptWeights",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": kms_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.{account.dns_suffix}"}},
        },
        {
            "Sid": "WriteEndpointLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [account.arn("logs", f"log-group:/aws/sagemaker/Endpoints/{m.endpoint_name}:*") for m in models],
        },
        {
            "Sid": "CreateEndpointInterfaces",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterface"],
            "Resource": [
                account.arn("ec2", "network-interface/*"),
                account.arn("ec2", f"security-group/{security_group_id}"),
                *(account.arn("ec2", f"subnet/{s}") for s in subnet_ids),
            ],
        },
        {
            "Sid": "ManageEndpointInterfaces",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"],
            "Resource": account.arn("ec2", "network-interface/*"),
        },
        {
            "Sid": "DescribeNetwork",
            "Effect": "Allow",
            "Action": ["ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"],
            "Resource": "*",
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


class SageMakerModels(pulumi.ComponentResource):
    """One model, endpoint configuration, endpoint and scaling policy per hosted model."""

    endpoint_names: dict[str, str]
    security_group_id: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: SageMakerModelsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:aws:SageMakerModels", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account, tags = args.account, dict(args.tags)
        image = lmi_image(account.region, account.dns_suffix)
        if image is None:
            raise ValueError(f"no LMI serving image is catalogued for {account.region} (components/aws/sagemaker_catalog.py)")
        trust = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": account.service_principal("sagemaker")},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}},
                    }
                ],
            }
        )
        role = aws.iam.Role(f"{name}-execution", description="SageMaker endpoints: pull the LMI image, read the weights, write logs", assume_role_policy=trust, tags=tags, opts=child)
        # The endpoint's network interfaces: no inbound (SageMaker fronts the endpoint with its
        # own runtime API), HTTPS out to the S3 gateway and the interface endpoints only (Beta
        # has no NAT, so 0.0.0.0/0:443 reaches nothing else).
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description="SageMaker endpoints: HTTPS to VPC endpoints only",
            vpc_id=args.vpc_id,
            egress=[aws.ec2.SecurityGroupEgressArgs(protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"], description="S3 gateway and interface endpoints")],
            tags=tags,
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-execution",
            role=role.id,
            policy=pulumi.Output.all(args.kms_key_arn, security_group.id, *args.subnet_ids).apply(lambda v: execution_policy(account, args.models, v[0], v[2:], v[1])),
            opts=child,
        )
        self.endpoint_names = {}
        for m in args.models:
            aws.cloudwatch.LogGroup(
                f"{name}-{m.name}-logs",
                # SageMaker writes here; created first so retention and the key apply.
                name=f"/aws/sagemaker/Endpoints/{m.endpoint_name}",
                retention_in_days=args.log_retention_days,
                kms_key_id=args.kms_key_arn,
                tags=tags,
                opts=child,
            )
            env = {"OPTION_ROLLING_BATCH": "vllm", "OPTION_TENSOR_PARALLEL_DEGREE": "max"}
            if m.max_model_len:
                env["OPTION_MAX_MODEL_LEN"] = str(m.max_model_len)
            model = aws.sagemaker.Model(
                f"{name}-{m.name}",
                execution_role_arn=role.arn,
                primary_container=aws.sagemaker.ModelPrimaryContainerArgs(
                    image=image,
                    mode="SingleModel",
                    environment=env,
                    # Uncompressed weights: SageMaker copies the prefix to /opt/ml/model.
                    model_data_source=aws.sagemaker.ModelPrimaryContainerModelDataSourceArgs(
                        s3_data_sources=[
                            aws.sagemaker.ModelPrimaryContainerModelDataSourceS3DataSourceArgs(
                                s3_uri=m.weights_uri.rstrip("/") + "/", s3_data_type="S3Prefix", compression_type="None"
                            )
                        ]
                    ),
                ),
                enable_network_isolation=True,
                vpc_config=aws.sagemaker.ModelVpcConfigArgs(subnets=list(args.subnet_ids), security_group_ids=[security_group.id]),
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
            )
            config = aws.sagemaker.EndpointConfiguration(
                f"{name}-{m.name}",
                production_variants=[
                    aws.sagemaker.EndpointConfigurationProductionVariantArgs(
                        variant_name=VARIANT,
                        model_name=model.name,
                        instance_type=m.instance.name,
                        initial_instance_count=m.min_instances,
                        # Weights download and vLLM warm-up take minutes for 7B+ models.
                        model_data_download_timeout_in_seconds=1800,
                        container_startup_health_check_timeout_in_seconds=1800,
                    )
                ],
                # Instance types with local NVMe may not name a key (CreateEndpointConfig KmsKeyId):
                # their volumes are encrypted by the instance's hardware module.
                kms_key_arn=None if m.instance.local_storage else args.kms_key_arn,
                tags=tags,
                opts=child,
            )
            endpoint = aws.sagemaker.Endpoint(f"{name}-{m.name}", name=m.endpoint_name, endpoint_config_name=config.name, tags=tags, opts=child)
            target = aws.appautoscaling.Target(
                f"{name}-{m.name}-scaling",
                service_namespace="sagemaker",
                resource_id=endpoint.name.apply(lambda n: f"endpoint/{n}/variant/{VARIANT}"),
                scalable_dimension="sagemaker:variant:DesiredInstanceCount",
                min_capacity=m.min_instances,
                max_capacity=m.max_instances,
                tags=tags,
                opts=child,
            )
            aws.appautoscaling.Policy(
                f"{name}-{m.name}-invocations",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                resource_id=target.resource_id,
                scalable_dimension=target.scalable_dimension,
                target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                    predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                        predefined_metric_type="SageMakerVariantInvocationsPerInstance"
                    ),
                    target_value=m.invocations_per_instance,
                    # A new GPU instance needs minutes to download and load the weights.
                    scale_out_cooldown=300,
                    scale_in_cooldown=900,
                ),
                opts=child,
            )
            self.endpoint_names[m.name] = m.endpoint_name
        self.security_group_id = security_group.id
        self.role_arn = role.arn
        self.register_outputs({"endpoint_names": self.endpoint_names})
