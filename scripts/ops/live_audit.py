"""Residency audit of an existing AWS account, read-only, before the first deploy into it: what
already sits outside a residency profile's regions, what replicates out of them, and what lacks
the required tags. Output and exit codes as `audit`.

    python -m scripts audit-live aws --profile eu [--regions eu-central-1 us-east-1 ...]

Sources: the Resource Groups Tagging API in every scanned region (anything ever tagged), plus
service calls for what it can miss or cannot show: S3 bucket locations, Secrets Manager replica
regions, KMS multi-region replicas, Bedrock model-invocation logging destinations, OpenSearch
Serverless collections. Every call is a Describe/Get/List/Head; a guard refuses any other.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from policies.llm_guard.profiles import BUILTIN_PROFILES
from policies.llm_guard.settings import DEFAULT_REQUIRED_TAGS
from scripts.audit import AuditResult, Violation

REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
READ_ONLY_PREFIXES = ("Describe", "Get", "List", "Head", "Lookup")
RULES = [
    {"name": "live-region-outside-profile", "enforcement": "mandatory", "description": "Resources in regions outside the residency profile."},
    {"name": "live-replica-outside-profile", "enforcement": "mandatory", "description": "Secrets Manager replicas and KMS multi-region replicas outside the profile."},
    {"name": "live-bedrock-logging-outside-profile", "enforcement": "mandatory", "description": "Bedrock invocation logs written to a bucket outside the profile."},
    {"name": "live-required-tags", "enforcement": "mandatory", "description": "Resources without the required cost and residency tags."},
]


class LiveAuditInputError(Exception):
    """Bad arguments or no credentials: exit code 2."""


class ReadOnlyViolation(RuntimeError):
    pass


@dataclass
class Found:
    arn: str
    kind: str
    region: str  # "global" for none
    tags: dict[str, str] | None  # None: not known from this source


@dataclass
class Scan:
    account: str
    regions: list[str]
    resources: dict[str, Found] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def add(self, found: Found) -> Found:
        known = self.resources.get(found.arn)
        if known is None:
            self.resources[found.arn] = found
            return found
        if known.tags is None and found.tags is not None:
            known.tags = found.tags
        return known

    def violation(self, rule: str, severity: str, arn: str, prop: str, value: str, problem: str, fix: str) -> None:
        self.violations.append(Violation(rule, severity, "mandatory", arn, prop, value, problem, fix))


def read_only_guard(operation_name: str) -> None:
    if not operation_name.startswith(READ_ONLY_PREFIXES):
        raise ReadOnlyViolation(f"audit-live is read-only; refusing {operation_name}")


def _install_guard(session: Any) -> None:
    def before_call(model: Any, **_: Any) -> None:
        read_only_guard(model.name)

    session._session.register("before-call", before_call)  # botocore session under boto3's


def resolve_profile(name: str) -> Any:
    if name not in BUILTIN_PROFILES:
        raise LiveAuditInputError(f"--profile '{name}' is not a built-in residency profile; known: {', '.join(sorted(BUILTIN_PROFILES))}")
    return BUILTIN_PROFILES[name]


def audit_account(profile_name: str, regions: Sequence[str] | None = None, session: Any = None, required_tags: Iterable[str] = DEFAULT_REQUIRED_TAGS) -> tuple[AuditResult, list[str]]:
    """The audit result (as `audit` reports it) and what could not be scanned."""
    import boto3
    from botocore.exceptions import NoCredentialsError, ProfileNotFound

    started = time.monotonic()
    profile = resolve_profile(profile_name)
    for region in regions or ():
        if not REGION.match(region):
            raise LiveAuditInputError(f"--regions: '{region}' is not an AWS region name (e.g. eu-central-1)")
    home = sorted(profile.aws_regions)[0] if profile.aws_regions else "us-east-1"
    try:
        session = session or boto3.session.Session()
        _install_guard(session)
        account = session.client("sts", region_name=home).get_caller_identity()["Account"]
        if not regions:
            described = session.client("ec2", region_name=home).describe_regions(AllRegions=False)["Regions"]
            regions = sorted(r["RegionName"] for r in described)
    except NoCredentialsError:
        raise LiveAuditInputError("no AWS credentials: configure a profile (AWS_PROFILE), SSO session or environment credentials") from None
    except ProfileNotFound as exc:
        raise LiveAuditInputError(f"{exc}: check AWS_PROFILE") from None
    scan = Scan(account, list(regions))
    allowed = set(profile.aws_regions)

    def inside(region: str) -> bool:
        return region == "global" or region in allowed or profile.allow_global_processing

    partition = profile.aws_partition
    scans: list[tuple[str, str, Callable[[str], None]]] = [
        ("resourcegroupstaggingapi", "tagging API", lambda r: _tagged_resources(session, scan, r)),
        ("secretsmanager", "Secrets Manager", lambda r: _secrets(session, scan, r, inside)),
        ("kms", "KMS", lambda r: _kms_keys(session, scan, r, inside)),
        ("opensearchserverless", "OpenSearch Serverless", lambda r: _collections(session, scan, r)),
        ("bedrock", "Bedrock", lambda r: _bedrock_logging(session, scan, r, inside)),
    ]
    for service, label, scan_region in scans:
        offered = set(session.get_available_regions(service, partition_name=partition))
        for region in scan.regions:
            if region in offered:  # botocore's endpoint data: where the service exists at all
                _guarded(scan, f"{label} in {region}", lambda r=region, call=scan_region: call(r))
    _guarded(scan, "S3", lambda: _buckets(session, scan))

    for found in sorted(scan.resources.values(), key=lambda f: f.arn):
        if not inside(found.region):
            scan.violation(
                "live-region-outside-profile",
                "critical",
                found.arn,
                "region",
                found.region,
                f"{found.kind} in {found.region}, outside residency profile '{profile.name}' ({', '.join(sorted(allowed)) or 'no AWS regions'}).",
                "Move the data into a profile region (or delete it), or audit against the profile that governs it.",
            )
        if found.tags is not None:
            missing = [t for t in required_tags if t not in found.tags]
            if missing:
                scan.violation(
                    "live-required-tags",
                    "high",
                    found.arn,
                    "tags",
                    ", ".join(f"{k}={v}" for k, v in sorted(found.tags.items())) or "(none)",
                    f"{found.kind} lacks the required tag(s) {', '.join(missing)}.",
                    f"Tag it ({', '.join(f'{t}=<value>' for t in missing)}); Pulumi-managed resources get them from the stack's tags.",
                )
    rules = [{"name": r["name"], "enforcement": r["enforcement"], "description": r["description"]} for r in RULES]
    result = AuditResult(f"aws account {account}", profile.name, "live scan (boto3, read-only)", rules, scan.violations, [], len(scan.resources), time.monotonic() - started)
    return result, scan.skipped


def _guarded(scan: Scan, what: str, call: Callable[[], None]) -> None:
    """A service the caller may not read, or that a region does not offer, is reported, not fatal."""
    from botocore.exceptions import ClientError, EndpointConnectionError

    try:
        call()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        scan.skipped.append(f"{what}: {code}")
    except EndpointConnectionError:
        scan.skipped.append(f"{what}: no endpoint")


def _region_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else "global"


def _kind_of(arn: str) -> str:
    parts = arn.split(":")
    service = parts[2] if len(parts) > 2 else "?"
    resource = parts[5].split("/")[0] if len(parts) > 5 else ""
    return f"{service} {resource}".strip()


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterable[Any]:
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
    else:
        yield from getattr(client, operation)(**kwargs).get(key, [])


def _tagged_resources(session: Any, scan: Scan, region: str) -> None:
    client = session.client("resourcegroupstaggingapi", region_name=region)
    for mapping in _pages(client, "get_resources", "ResourceTagMappingList"):
        arn = mapping["ResourceARN"]
        if arn.split(":")[2] == "s3":
            continue  # bucket ARNs carry no region: the S3 scan locates them
        scan.add(Found(arn, _kind_of(arn), _region_of(arn), {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}))


def _buckets(session: Any, scan: Scan) -> None:
    from botocore.exceptions import ClientError

    s3 = session.client("s3", region_name=scan.regions[0] if scan.regions else "us-east-1")
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        region = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
        region = "eu-west-1" if region == "EU" else region
        try:
            tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name).get("TagSet", [])}
        except ClientError:
            tags = {}
        partition = "aws-cn" if region.startswith("cn-") else "aws"
        scan.add(Found(f"arn:{partition}:s3:::{name}", "s3 bucket", region, tags))


def _secrets(session: Any, scan: Scan, region: str, inside: Callable[[str], bool]) -> None:
    client = session.client("secretsmanager", region_name=region)
    for secret in _pages(client, "list_secrets", "SecretList"):
        arn = secret["ARN"]
        if secret.get("PrimaryRegion") and secret["PrimaryRegion"] != region:
            continue  # a replica: reported from its primary
        found = scan.add(Found(arn, "secretsmanager secret", region, {t["Key"]: t["Value"] for t in secret.get("Tags", [])}))
        replicas = secret.get("ReplicationStatus") or client.describe_secret(SecretId=arn).get("ReplicationStatus") or []
        for replica in replicas:
            if not inside(replica["Region"]):
                scan.violation(
                    "live-replica-outside-profile",
                    "critical",
                    found.arn,
                    "replicationStatus.region",
                    replica["Region"],
                    f"the secret is replicated to {replica['Region']}, outside the residency profile.",
                    f"Remove the replica (aws secretsmanager remove-regions-from-replication --secret-id {arn} --remove-replica-regions {replica['Region']}).",
                )


def _kms_keys(session: Any, scan: Scan, region: str, inside: Callable[[str], bool]) -> None:
    client = session.client("kms", region_name=region)
    for entry in _pages(client, "list_keys", "Keys"):
        metadata = client.describe_key(KeyId=entry["KeyId"])["KeyMetadata"]
        if metadata.get("KeyManager") != "CUSTOMER" or metadata.get("KeyState") == "PendingDeletion":
            continue
        tags = {t["TagKey"]: t["TagValue"] for t in _pages(client, "list_resource_tags", "Tags", KeyId=entry["KeyId"])}
        found = scan.add(Found(metadata["Arn"], "kms key", region, tags))
        multi = metadata.get("MultiRegionConfiguration") or {}
        if (multi.get("PrimaryKey") or {}).get("Region") != region:
            continue  # not multi-region, or a replica: reported from its primary
        for replica in multi.get("ReplicaKeys", []):
            if not inside(replica["Region"]):
                scan.violation(
                    "live-replica-outside-profile",
                    "critical",
                    found.arn,
                    "multiRegionConfiguration.replicaKeys",
                    replica["Region"],
                    f"the multi-region key has a replica in {replica['Region']}, outside the profile: data encrypted with it can be decrypted there.",
                    f"Schedule deletion of the replica key in {replica['Region']}.",
                )


def _collections(session: Any, scan: Scan, region: str) -> None:
    client = session.client("opensearchserverless", region_name=region)
    for collection in _pages(client, "list_collections", "collectionSummaries"):
        tags = {t["key"]: t["value"] for t in client.list_tags_for_resource(resourceArn=collection["arn"]).get("tags", [])}
        scan.add(Found(collection["arn"], "opensearch serverless collection", region, tags))


def _bedrock_logging(session: Any, scan: Scan, region: str, inside: Callable[[str], bool]) -> None:
    client = session.client("bedrock", region_name=region)
    config = client.get_model_invocation_logging_configuration().get("loggingConfig") or {}
    bucket = (config.get("s3Config") or {}).get("bucketName")
    if not bucket:
        return
    s3 = session.client("s3", region_name=region)
    bucket_region = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if "-gov-" in region else "aws"
    subject = f"arn:{partition}:bedrock:{region}:{scan.account}:model-invocation-logging"
    if not inside(region) or not inside(bucket_region):
        where = bucket_region if not inside(bucket_region) else region
        scan.violation(
            "live-bedrock-logging-outside-profile",
            "critical",
            subject,
            "loggingConfig.s3Config.bucketName",
            f"{bucket} ({bucket_region})",
            f"Bedrock in {region} logs prompts and answers to a bucket in {bucket_region}; {where} is outside the residency profile.",
            "Log to a bucket in a profile region (the Beta stack's logging bucket), or turn the logging off in that region.",
        )
