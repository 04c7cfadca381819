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


@dataclass
class EncryptionKeyArgs:
    account: AwsAccount
    description: str
    tags: Mapping[str, str]
    # Services that encrypt through the key with their own principal (e.g. "logs" for
    # CloudWatch Logs, "bedrock" for invocation logging). Scoped to this account and region.
    service_principals: Sequence[str] = field(default_factory=lambda: ["logs"])
    deletion_window_days: int = 30


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
            policy=json.dumps(_key_policy(account, args.service_principals)),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        alias = aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{name}",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.key_arn = key.arn
        self.key_id = key.key_id
        self.alias_name = alias.name
        self.register_outputs({"key_arn": key.arn, "alias": alias.name})


def _key_policy(account: AwsAccount, services: Sequence[str]) -> dict[str, object]:
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
        condition: dict[str, object] = {"StringEquals": {"aws:SourceAccount": account.account_id}}
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
    return {"Version": "2012-10-17", "Statement": statements}
