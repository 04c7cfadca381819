"""Replication that copies data out of the profile: S3 replication, Secrets Manager replicas, KMS
multi-region and replica keys, RDS/Aurora replicas, global clusters and snapshot copies, ECR
replication, DynamoDB replicas, AWS Backup copies, OpenSearch outbound connections, and Azure
geo-redundant storage and PostgreSQL geo-backups whose paired region is outside the profile."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..graph import Finding, Res, get
from ..location import UNKNOWN, is_unknown
from ..regions import AZURE_REGION_PAIRS, normalize_azure_location
from ..settings import RuleSettings
from . import StackView, rule

_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:(?P<region>[a-z0-9-]*):")
_GEO_REDUNDANT_SKUS = ("_GRS", "_RAGRS", "_GZRS", "_RAGZRS")
_FIX = "Replicate only to regions of the profile, or not at all."


def _region_of_arn(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    match = _ARN_REGION.match(value)
    return match.group("region") if match else None


class _Checker:
    def __init__(self, stack: StackView, settings: RuleSettings) -> None:
        assert settings.profile is not None
        self.stack = stack
        self.profile = settings.profile

    def aws_target(self, res: Res, prop: str, region: Any, what: str) -> Iterator[Finding]:
        """A replication target region: unknown fails closed, outside the profile fails."""
        if self.profile.allow_global_processing:
            return
        if region is None or is_unknown(region) or region == "":
            yield Finding(res.urn, prop, UNKNOWN if region is None else region, f"{what} goes to a region that cannot be determined (fails closed under '{self.profile.name}').", _FIX)
        elif not self.profile.allows_aws_region(str(region)):
            yield Finding(res.urn, prop, region, f"{what} copies data to {region}, outside profile '{self.profile.name}'.", _FIX)


@rule(
    "no-replication-out-of-profile",
    description="No replication, replica or backup copy sends data to a region outside the profile (AWS: S3, Secrets Manager, KMS, "
    "RDS/Aurora, ECR, DynamoDB, Backup, OpenSearch; Azure: geo-redundant storage, PostgreSQL geo-backup to the paired region).",
    severity="critical",
    scope="stack",
    remediation="Remove the replication or point it at a region of the profile; on Azure use LRS/ZRS storage and local backups when "
    "the paired region is outside the profile.",
)
def no_replication_out_of_profile(stack: StackView, settings: RuleSettings) -> Iterator[Finding]:
    check = _Checker(stack, settings)
    profile = check.profile
    buckets = {}
    for bucket in stack.of_type("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
        name = get(bucket.props, "bucket")
        if isinstance(name, str):
            buckets[name] = bucket
    for res in stack.resources:
        t = res.type
        if t in ("aws:s3/bucketReplicationConfig:BucketReplicationConfig",):
            for i, rule_ in enumerate(get(res.props, "rules", []) or []):
                arn = get(rule_, "destination.bucket")
                name = arn.rsplit(":", 1)[-1] if isinstance(arn, str) else None
                target = buckets.get(name or "")
                region = check.stack.location(target).region if target else None
                yield from check.aws_target(res, f"rules[{i}].destination.bucket", region if target else (arn if is_unknown(arn) else None), "S3 replication")
        elif t in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2") and (get(res.props, "replicationConfiguration") or get(res.props, "replicationConfigurations")):
            yield Finding(res.urn, "replicationConfiguration", "(inline)", "inline S3 replication cannot be located reliably (fails closed).", "Use aws.s3.BucketReplicationConfig to a bucket of this stack in a profile region, or remove it.")
        elif t == "aws:secretsmanager/secret:Secret":
            for i, replica in enumerate(get(res.props, "replicas", []) or []):
                yield from check.aws_target(res, f"replicas[{i}].region", get(replica, "region"), "Secrets Manager replica")
        elif t == "aws:kms/key:Key" and get(res.props, "multiRegion") is True and not profile.allow_global_processing:
            yield Finding(res.urn, "multiRegion", True, "a multi-region key can be replicated to any region of the partition.", "Set multiRegion to false.")
        elif t == "aws:kms/replicaKey:ReplicaKey":
            yield from check.aws_target(res, "region", check.stack.location(res).region, "KMS replica key")
        elif t == "aws:rds/globalCluster:GlobalCluster" and not profile.allow_global_processing:
            yield Finding(res.urn, "type", t, "an Aurora global database replicates to secondary regions by design.", "Use a regional cluster with backups.")
        elif t in ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster") and get(res.props, "replicateSourceDb" if t.endswith("Instance") else "replicationSourceIdentifier"):
            yield from check.aws_target(res, "region", check.stack.location(res).region, "RDS read replica")
        elif t == "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication":
            yield from check.aws_target(res, "region", check.stack.location(res).region, "RDS automated backup replication")
        elif t in ("aws:rds/snapshotCopy:SnapshotCopy", "aws:rds/clusterSnapshotCopy:ClusterSnapshotCopy") and get(res.props, "destinationRegion"):
            yield from check.aws_target(res, "destinationRegion", get(res.props, "destinationRegion"), "RDS snapshot copy")
        elif t == "aws:ecr/replicationConfiguration:ReplicationConfiguration":
            for i, rule_ in enumerate(get(res.props, "replicationConfiguration.rules", []) or []):
                for j, dest in enumerate(get(rule_, "destinations", []) or []):
                    yield from check.aws_target(res, f"replicationConfiguration.rules[{i}].destinations[{j}].region", get(dest, "region"), "ECR replication")
        elif t == "aws:dynamodb/table:Table":
            for i, replica in enumerate(get(res.props, "replicas", []) or []):
                yield from check.aws_target(res, f"replicas[{i}].regionName", get(replica, "regionName"), "DynamoDB global table replica")
        elif t == "aws:dynamodb/tableReplica:TableReplica":
            yield from check.aws_target(res, "region", check.stack.location(res).region, "DynamoDB table replica")
        elif t == "aws:backup/plan:Plan":
            for i, rule_ in enumerate(get(res.props, "rules", []) or []):
                for j, copy in enumerate(get(rule_, "copyActions", []) or []):
                    arn = get(copy, "destinationVaultArn")
                    yield from check.aws_target(res, f"rules[{i}].copyActions[{j}].destinationVaultArn", arn if is_unknown(arn) else _region_of_arn(arn), "AWS Backup copy")
        elif t == "aws:opensearch/outboundConnection:OutboundConnection":
            yield from check.aws_target(res, "remoteDomainInfo.region", get(res.props, "remoteDomainInfo.region"), "OpenSearch cross-cluster connection")
        elif t == "azure-native:storage:StorageAccount":
            sku = get(res.props, "sku.name")
            if isinstance(sku, str) and sku.endswith(_GEO_REDUNDANT_SKUS):
                yield from _azure_pair(check, res, "sku.name", sku, "geo-redundant storage")
            elif is_unknown(sku) and not profile.allow_global_processing:
                yield Finding(res.urn, "sku.name", sku, "the storage redundancy is unknown (fails closed).", "Set sku.name explicitly (Standard_LRS or Standard_ZRS).")
        elif t == "azure-native:dbforpostgresql:Server" and get(res.props, "backup.geoRedundantBackup") == "Enabled":
            yield from _azure_pair(check, res, "backup.geoRedundantBackup", "Enabled", "PostgreSQL geo-redundant backup")


def _azure_pair(check: _Checker, res: Res, prop: str, value: Any, what: str) -> Iterator[Finding]:
    profile = check.profile
    if profile.allow_global_processing:
        return
    loc = check.stack.location(res)
    pair = AZURE_REGION_PAIRS.get(normalize_azure_location(loc.region)) if loc.region else None
    if pair is None:
        yield Finding(res.urn, prop, value, f"{what} replicates to the paired region of {loc.region or 'an unknown region'}, which is not known (fails closed).", "Use locally or zone-redundant options.")
    elif not profile.allows_azure_region(pair):
        yield Finding(res.urn, prop, value, f"{what} replicates to {pair}, the pair of {loc.region}, outside profile '{profile.name}'.", "Use locally or zone-redundant options.")
