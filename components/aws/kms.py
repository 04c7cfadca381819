"""A customer-managed KMS key with rotation, for everything the platform stores."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.partition import AwsAccount

# Explicit admin and usage actions for the account root instead of "kms:*": the root statement
# delegates to IAM (without it the key is unmanageable), but no statement grants a bare wildcard.
_ROOT_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:CreateGrant",
]
_SERVICE_USE_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]

# CloudWatch alarms publishing to an SNS topic encrypted with this key. AWS doc "Encrypting SNS
# topics for alarm actions" / SNS "Key management: enable compatibility between event sources
# from AWS services and encrypted topics" (docs.aws.amazon.com/sns/latest/dg/
# sns-key-management.html#compatibility-with-aws-services, read 2026-11-30): the publishing
# service principal needs kms:Decrypt and kms:GenerateDataKey*.
CLOUDWATCH_ALARMS_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey*"]

# EBS volumes of EC2 Auto Scaling groups (EKS managed node groups) encrypted with this key. AWS doc
# "Required AWS KMS key policy for use with encrypted volumes" (docs.aws.amazon.com/autoscaling/
# ec2/userguide/key-policy-requirements-EBS-encryption.html, read 2026-11-30): the service-linked
# role AWSServiceRoleForAutoScaling needs these actions, and CreateGrant for AWS resources.
AUTOSCALING_SLR_USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
AUTOSCALING_SLR_GRANT_ACTIONS = ["kms:CreateGrant"]


def bedrock_service_needed(partition: str, invocation_logging: bool) -> bool:
    """Bedrock uses the key with its own principal only to write invocation logs (S3 objects and
    the log group's large-data deliveries); guardrails and profiles use the caller's grants. There
    is no Bedrock in aws-cn."""
    return invocation_logging and partition != "aws-cn"


def autoscaling_service_linked_role_arn(partition: str, account_id: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"


@dataclass
class EncryptionKeyArgs:
    account: AwsAccount
    description: str
    # KMS aliases are unique per account and region: derive it from the stack (Namer).
    alias_name: str
    tags: Mapping[str, str]
    # Services that encrypt through the key with their own principal (e.g. "logs" for
    # CloudWatch Logs, "bedrock" for invocation logging: see bedrock_service_needed). Scoped to
    # this account and region.
    service_principals: Sequence[str] = field(default_factory=lambda: ["logs"])
    deletion_window_days: int = 30
    # CloudWatch alarm actions publish to SNS topics encrypted with this key.
    cloudwatch_alarms: bool = True
    # EC2 Auto Scaling launches instances whose EBS volumes this key encrypts (EKS node groups).
    ebs_for_autoscaling: bool = False


class EncryptionKey(pulumi.ComponentResource):
    """KMS key + alias. Protected: losing the key loses every secret and database it encrypts."""

    key_arn: pulumi.Output[str]
    key_id: pulumi.Output[str]
    alias_name: pulumi.Output[str]

    def __init__(self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:aws:EncryptionKey", name, None, opts)
        account = args.account
        key = aws.kms.Key(
            f"{name}-key",
            description=args.description,
            enable_key_rotation=True,
            deletion_window_in_days=args.deletion_window_days,
            multi_region=False,
            policy=json.dumps(key_policy(account, args.service_principals, cloudwatch_alarms=args.cloudwatch_alarms, ebs_for_autoscaling=args.ebs_for_autoscaling)),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        alias = aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{args.alias_name}",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.key_arn = key.arn
        self.key_id = key.key_id
        self.alias_name = alias.name
        self.register_outputs({"key_arn": key.arn, "alias": alias.name})


def key_policy(account: AwsAccount, services: Sequence[str], *, cloudwatch_alarms: bool = True, ebs_for_autoscaling: bool = False) -> dict[str, object]:
    root = f"arn:{account.partition}:iam::{account.account_id}:root"
    statements: list[dict[str, object]] = [
        {
            "Sid": "AccountAdministrationAndUse",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": _ROOT_ACTIONS,
            "Resource": "*",
        }
    ]
    for service in services:
        # Confused-deputy guard: the service acting for this account's resources in this region
        # (Bedrock invocation logging: "Monitor model invocation using CloudWatch Logs and Amazon
        # S3", docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html, key
        # policy with aws:SourceAccount and aws:SourceArn arn:aws:bedrock:<region>:<account>:*;
        # read 2026-11-30).
        condition: dict[str, object] = {"StringEquals": {"aws:SourceAccount": account.account_id}, "ArnLike": {"aws:SourceArn": account.arn(service, "*")}}
        if service == "logs":
            # CloudWatch Logs sends an encryption context naming the log group instead.
            condition = {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": f"arn:{account.partition}:logs:{account.region}:{account.account_id}:*"
                }
            }
        statements.append(
            {
                "Sid": f"Allow{service.capitalize()}Service",
                "Effect": "Allow",
                "Principal": {"Service": account.service_principal(service)},
                "Action": _SERVICE_USE_ACTIONS,
                "Resource": "*",
                "Condition": condition,
            }
        )
    if cloudwatch_alarms:
        statements.append(
            {
                "Sid": "AllowCloudWatchAlarmsToEncryptedTopics",
                "Effect": "Allow",
                "Principal": {"Service": account.service_principal("cloudwatch")},
                "Action": CLOUDWATCH_ALARMS_ACTIONS,
                "Resource": "*",
                # Confused-deputy guard: only alarms of this account and region.
                "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}, "ArnLike": {"aws:SourceArn": account.arn("cloudwatch", "alarm:*")}},
            }
        )
    if ebs_for_autoscaling:
        # Principal "*" narrowed to this account's service-linked role by aws:PrincipalArn: a
        # key policy naming the role directly is rejected (MalformedPolicyDocument) until the role
        # exists, and AWS creates it only with the first Auto Scaling group, after this key.
        slr = {"StringEquals": {"aws:PrincipalArn": autoscaling_service_linked_role_arn(account.partition, account.account_id), "aws:PrincipalAccount": account.account_id}}
        statements.append({"Sid": "AllowAutoScalingEbsUse", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": AUTOSCALING_SLR_USE_ACTIONS, "Resource": "*", "Condition": slr})
        statements.append(
            {
                "Sid": "AllowAutoScalingEbsGrants",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": AUTOSCALING_SLR_GRANT_ACTIONS,
                "Resource": "*",
                "Condition": {**slr, "Bool": {"kms:GrantIsForAWSResource": "true"}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
