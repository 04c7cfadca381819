"""What a self-managed Pulumi backend on AWS needs, created idempotently with boto3: an S3 state
bucket (versioning, SSE-KMS with a customer-managed key, public access blocked, owner-enforced
objects, TLS-only bucket policy) and that KMS key (rotation on), aliased for the `awskms://`
secrets provider. A second run changes nothing and says so.

    python -m scripts bootstrap aws --region eu-central-1 --name acme-pulumi-state
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

BUCKET_NAME = re.compile(r"^(?!xn--)(?!sthree-)(?!.*-s3alias$)(?!.*--ol-s3$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")


class BootstrapInputError(Exception):
    """Bad arguments: exit code 2."""


class BootstrapError(Exception):
    """AWS refused or the names are taken: exit code 1."""


@dataclass
class BootstrapResult:
    bucket: str
    region: str
    key_arn: str
    alias: str
    steps: list[tuple[str, str]] = field(default_factory=list)  # (what, created | updated | unchanged)

    @property
    def changed(self) -> bool:
        return any(state != "unchanged" for _, state in self.steps)

    @property
    def login_url(self) -> str:
        return f"s3://{self.bucket}?region={self.region}&awssdk=v2"

    @property
    def secrets_provider(self) -> str:
        return f"awskms://{self.alias}?region={self.region}"


def validate(region: str, name: str) -> None:
    if not REGION.match(region or ""):
        raise BootstrapInputError(f"--region '{region}' is not an AWS region name (e.g. eu-central-1)")
    if not BUCKET_NAME.match(name or "") or ".." in name or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        raise BootstrapInputError(
            f"--name '{name}' is not a valid S3 bucket name: 3-63 characters, lowercase letters, digits, '.' and '-', starting and ending with a letter or digit"
        )


def key_alias(name: str) -> str:
    return f"alias/{name}-pulumi-secrets"


def bootstrap_aws(region: str, name: str, session: Any = None) -> BootstrapResult:
    """Create or confirm the backend; raises BootstrapError with AWS's reason on failure."""
    import boto3
    from botocore.exceptions import ClientError, NoCredentialsError, ProfileNotFound

    validate(region, name)
    try:
        session = session or boto3.session.Session()
        kms = session.client("kms", region_name=region)
        s3 = session.client("s3", region_name=region)
        session.client("sts", region_name=region).get_caller_identity()  # fail early without credentials
        partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if "-gov-" in region else "aws"
        result = BootstrapResult(name, region, "", key_alias(name))
        bucket_exists = _bucket_exists(s3, name, region)  # fail on a foreign bucket before creating anything
        result.key_arn = _ensure_key(kms, result)
        if bucket_exists:
            result.steps.append((f"S3 bucket {name}", "unchanged"))
        else:
            create: dict[str, Any] = {"Bucket": name, "ObjectOwnership": "BucketOwnerEnforced"}
            if region != "us-east-1":
                create["CreateBucketConfiguration"] = {"LocationConstraint": region}
            s3.create_bucket(**create)
            result.steps.append((f"S3 bucket {name}", "created"))
        _ensure_bucket_settings(s3, result, partition)
        return result
    except NoCredentialsError:
        raise BootstrapInputError("no AWS credentials: configure a profile (AWS_PROFILE), SSO session or environment credentials") from None
    except ProfileNotFound as exc:
        raise BootstrapInputError(f"{exc}: check AWS_PROFILE") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise BootstrapError(f"{exc.operation_name} failed: {error.get('Code')}: {error.get('Message')}") from None


def _ensure_key(kms: Any, result: BootstrapResult) -> str:
    from botocore.exceptions import ClientError

    try:
        metadata = kms.describe_key(KeyId=result.alias)["KeyMetadata"]
        key_id = metadata["KeyId"]
        if metadata.get("KeyState") != "Enabled":
            raise BootstrapError(f"KMS key {result.alias} exists but is {metadata.get('KeyState')}; enable it or choose another --name")
        result.steps.append((f"KMS key {result.alias}", "unchanged"))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NotFoundException":
            raise
        key = kms.create_key(
            Description=f"Pulumi state and secrets for backend s3://{result.bucket}",
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
            Tags=[{"TagKey": "purpose", "TagValue": "pulumi-state"}, {"TagKey": "managed-by", "TagValue": "llm-platform-bootstrap"}],
        )
        key_id = key["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=result.alias, TargetKeyId=key_id)
        result.steps.append((f"KMS key {result.alias}", "created"))
    if not kms.get_key_rotation_status(KeyId=key_id).get("KeyRotationEnabled"):
        kms.enable_key_rotation(KeyId=key_id)
        result.steps.append(("KMS key rotation", "updated"))
    else:
        result.steps.append(("KMS key rotation", "unchanged"))
    return str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])


def _bucket_exists(s3: Any, bucket: str, region: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code"))
        if code in ("403", "AccessDenied", "Forbidden"):
            raise BootstrapError(f"bucket '{bucket}' exists but belongs to another account (or you may not read it); choose another --name") from None
        if code in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise
    location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
    if location != region:
        raise BootstrapError(f"bucket '{bucket}' already exists in {location}, not {region}; use --region {location} or another --name")
    return True


def _ensure_bucket_settings(s3: Any, result: BootstrapResult, partition: str) -> None:
    from botocore.exceptions import ClientError

    bucket = result.bucket

    def step(what: str, current: Any, wanted: Any, apply: Any) -> None:
        if current == wanted:
            result.steps.append((what, "unchanged"))
        else:
            apply()
            result.steps.append((what, "updated"))

    versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    step("versioning", versioning, "Enabled", lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}))

    wanted_rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": result.key_arn}, "BucketKeyEnabled": True}
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError:
        rules = []
    current_rule = rules[0] if rules else {}
    step(
        "default encryption (SSE-KMS, bucket key)",
        (current_rule.get("ApplyServerSideEncryptionByDefault"), bool(current_rule.get("BucketKeyEnabled"))),
        (wanted_rule["ApplyServerSideEncryptionByDefault"], True),
        lambda: s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [wanted_rule]}),
    )

    blocked = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    try:
        current_block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError:
        current_block = {}
    step("public access block", current_block, blocked, lambda: s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=blocked))

    policy = tls_only_policy(bucket, partition)
    try:
        current_policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError:
        current_policy = None
    step("TLS-only bucket policy", current_policy, policy, lambda: s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy)))


def tls_only_policy(bucket: str, partition: str) -> dict[str, Any]:
    from components.aws.storage import deny_insecure_transport

    return {"Version": "2012-10-17", "Statement": [deny_insecure_transport(f"arn:{partition}:s3:::{bucket}")]}


def render(result: BootstrapResult) -> str:
    lines = [f"Pulumi backend in {result.region}:"]
    width = max(len(what) for what, _ in result.steps) + 2
    lines += [f"  {what:<{width}} {state}" for what, state in result.steps]
    lines.append("")
    lines.append("Created or updated what was missing." if result.changed else "Nothing to change: the backend is already set up.")
    lines += [
        "",
        "Use it:",
        f"  pulumi login '{result.login_url}'",
        f"  pulumi stack init <stack> --secrets-provider '{result.secrets_provider}'",
        f"  # existing stacks: pulumi stack change-secrets-provider '{result.secrets_provider}'",
    ]
    return "\n".join(lines)
