"""An S3 bucket for data: KMS-encrypted, versioned, private, TLS-only, protected."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass
class DataBucketArgs:
    purpose: str
    kms_key_arn: pulumi.Input[str]
    tags: Mapping[str, str]
    # Services allowed to write (e.g. bedrock.amazonaws.com for invocation logs), by principal.
    writer_service: str | None = None
    writer_prefix: str = ""
    account_id: str | None = None
    partition: str = "aws"
    protect: bool = True


class DataBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DataBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:aws:DataBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Auto-named: bucket names are global, so Pulumi adds a random suffix once and keeps it.
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            force_destroy=False,
            tags={**args.tags, "purpose": args.purpose},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=args.kms_key_arn
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=bucket.arn.apply(lambda arn: json.dumps(_bucket_policy(arn, args))),
            opts=child,
        )
        self.bucket_name = bucket.id
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucket_name": bucket.id, "bucket_arn": bucket.arn})


def deny_insecure_transport(arn: str) -> dict[str, object]:
    """The bucket-policy statement that refuses every request not made over TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _bucket_policy(arn: str, args: DataBucketArgs) -> dict[str, object]:
    statements: list[dict[str, object]] = [deny_insecure_transport(arn)]
    if args.writer_service:
        statements.append(
            {
                "Sid": "AllowServiceDelivery",
                "Effect": "Allow",
                "Principal": {"Service": args.writer_service},
                "Action": ["s3:PutObject"],
                "Resource": f"{arn}/{args.writer_prefix}*",
                "Condition": {"StringEquals": {"aws:SourceAccount": args.account_id}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
