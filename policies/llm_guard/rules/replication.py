"""Replication that copies data out of the profile: S3 replication, Secrets Manager replicas, KMS
multi-region keys (external ones included) and replicas, RDS/Aurora replicas, global clusters and
their members, snapshot copies, ECR replication, DynamoDB global tables (both versions), replicas
and witnesses, AWS Backup copies, OpenSearch outbound connections, Firehose and DataSync
destinations, log subscriptions and any other reference to a resource in another region; Azure
geo-redundant storage, database and vault backups whose paired region is outside the profile, and
Cosmos DB accounts with locations outside it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..graph import Finding, Res, get, items, strings, walk
from ..location import UNKNOWN, is_unknown
from ..regions import AZURE_REGION_PAIRS, normalize_azure_location
from ..settings import RuleSettings
from . import StackView, rule

_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:(?P<region>[a-z0-9-]*):")
_GEO_REDUNDANT_SKUS = ("_GRS", "_RAGRS", "_GZRS", "_RAGZRS")  # compared upper-cased: SKU names are case-insensitive
_ARN_IN_TEXT = re.compile(r"arn:aws[a-z-]*:(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):[^\s\"',]*")
# Services whose ARNs the Bedrock rules judge (processing regions differ from storage regions).
_ARN_SERVICES_JUDGED_ELSEWHERE = frozenset({"bedrock", "bedrock-mantle"})
# S3 ARNs have no region: where these properties point is decided by the bucket in the stack.
_S3_DESTINATIONS: dict[str, str] = {
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": "Firehose delivery",
    "aws:datasync/s3Location:S3Location": "DataSync transfer",
    "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination": "log delivery",
}
_EXTERNAL_ENDPOINTS: dict[str, tuple[str, ...]] = {
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": ("httpEndpointConfiguration.url", "splunkConfiguration.hecEndpoint"),
    "aws:datasync/locationObjectStorage:LocationObjectStorage": ("serverHostname",),
    "aws:datasync/locationAzureBlob:LocationAzureBlob": ("containerUrl",),
}
# IAM grants are judged by bedrock-iam-scope, not as data paths; Backup copies are judged above.
_NOT_DATA_FLOWS = ("aws:iam/", "aws:backup/plan:Plan")


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _geo_sku(sku: Any) -> bool:
    return isinstance(sku, str) and sku.strip().upper().endswith(_GEO_REDUNDANT_SKUS)
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
            for i, rule_ in enumerate(items(get(res.props, "rules"))):
                arn = get(rule_, "destination.bucket")
                name = arn.rsplit(":", 1)[-1] if isinstance(arn, str) else None
                target = buckets.get(name or "")
                region = check.stack.location(target).region if target else None
                yield from check.aws_target(res, f"rules[{i}].destination.bucket", region if target else (arn if is_unknown(arn) else None), "S3 replication")
        elif t in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2") and (get(res.props, "replicationConfiguration") or get(res.props, "replicationConfigurations")):
            yield Finding(res.urn, "replicationConfiguration", "(inline)", "inline S3 replication cannot be located reliably (fails closed).", "Use aws.s3.BucketReplicationConfig to a bucket of this stack in a profile region, or remove it.")
        elif t == "aws:secretsmanager/secret:Secret":
            for i, replica in enumerate(items(get(res.props, "replicas"))):
                yield from check.aws_target(res, f"replicas[{i}].region", get(replica, "region"), "Secrets Manager replica")
        elif t in ("aws:kms/key:Key", "aws:kms/externalKey:ExternalKey") and not profile.allow_global_processing and (
            _truthy(get(res.props, "multiRegion")) or is_unknown(get(res.props, "multiRegion"))
        ):
            yield Finding(res.urn, "multiRegion", get(res.props, "multiRegion"), "a multi-region key can be replicated to any region of the partition (unknown counts as yes).", "Set multiRegion to false.")
        elif t in ("aws:kms/replicaKey:ReplicaKey", "aws:kms/replicaExternalKey:ReplicaExternalKey"):
            yield from check.aws_target(res, "region", check.stack.location(res).region, "KMS replica key")
        elif t == "aws:rds/globalCluster:GlobalCluster" and not profile.allow_global_processing:
            yield Finding(res.urn, "type", t, "an Aurora global database replicates to secondary regions by design.", "Use a regional cluster with backups.")
        elif t == "aws:rds/cluster:Cluster" and get(res.props, "globalClusterIdentifier") and not profile.allow_global_processing:
            yield Finding(res.urn, "globalClusterIdentifier", get(res.props, "globalClusterIdentifier"), "a member of an Aurora global database replicates to the global cluster's other regions.", "Remove globalClusterIdentifier; use a regional cluster with backups.")
        elif t in ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster") and get(res.props, "replicateSourceDb" if t.endswith("Instance") else "replicationSourceIdentifier"):
            yield from check.aws_target(res, "region", check.stack.location(res).region, "RDS read replica")
        elif t == "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication":
            yield from check.aws_target(res, "region", check.stack.location(res).region, "RDS automated backup replication")
        elif t in ("aws:rds/snapshotCopy:SnapshotCopy", "aws:rds/clusterSnapshotCopy:ClusterSnapshotCopy") and get(res.props, "destinationRegion"):
            yield from check.aws_target(res, "destinationRegion", get(res.props, "destinationRegion"), "RDS snapshot copy")
        elif t == "aws:ecr/replicationConfiguration:ReplicationConfiguration":
            for i, rule_ in enumerate(items(get(res.props, "replicationConfiguration.rules"))):
                for j, dest in enumerate(items(get(rule_, "destinations"))):
                    yield from check.aws_target(res, f"replicationConfiguration.rules[{i}].destinations[{j}].region", get(dest, "region"), "ECR replication")
        elif t == "aws:dynamodb/table:Table":
            for i, replica in enumerate(items(get(res.props, "replicas"))):
                yield from check.aws_target(res, f"replicas[{i}].regionName", get(replica, "regionName"), "DynamoDB global table replica")
            witness = get(res.props, "globalTableWitness.regionName")
            if witness is not None:
                yield from check.aws_target(res, "globalTableWitness.regionName", witness, "DynamoDB global table witness")
        elif t == "aws:dynamodb/globalTable:GlobalTable":
            for i, replica in enumerate(items(get(res.props, "replicas"))):
                yield from check.aws_target(res, f"replicas[{i}].regionName", get(replica, "regionName"), "DynamoDB global table (2017) replica")
        elif t == "aws:dynamodb/tableReplica:TableReplica":
            yield from check.aws_target(res, "region", check.stack.location(res).region, "DynamoDB table replica")
        elif t == "aws:backup/plan:Plan":
            for i, rule_ in enumerate(items(get(res.props, "rules"))):
                for j, copy in enumerate(items(get(rule_, "copyActions"))):
                    arn = get(copy, "destinationVaultArn")
                    yield from check.aws_target(res, f"rules[{i}].copyActions[{j}].destinationVaultArn", arn if is_unknown(arn) else _region_of_arn(arn), "AWS Backup copy")
        elif t == "aws:opensearch/outboundConnection:OutboundConnection":
            yield from check.aws_target(res, "remoteDomainInfo.region", get(res.props, "remoteDomainInfo.region"), "OpenSearch cross-cluster connection")
        elif t == "azure-native:storage:StorageAccount":
            sku = get(res.props, "sku.name")
            if _geo_sku(sku):
                yield from _azure_pair(check, res, "sku.name", sku, "geo-redundant storage")
            elif is_unknown(sku) and not profile.allow_global_processing:
                yield Finding(res.urn, "sku.name", sku, "the storage redundancy is unknown (fails closed).", "Set sku.name explicitly (Standard_LRS or Standard_ZRS).")
        elif t in ("azure-native:dbforpostgresql:Server", "azure-native:dbformysql:Server") and str(get(res.props, "backup.geoRedundantBackup", "")).lower() == "enabled":
            yield from _azure_pair(check, res, "backup.geoRedundantBackup", get(res.props, "backup.geoRedundantBackup"), "database geo-redundant backup")
        elif t == "azure-native:cosmosdb:DatabaseAccount":
            yield from _cosmos(check, res)
        elif t == "azure-native:sql:Database":
            # ARM default for requestedBackupStorageRedundancy is Geo (learn.microsoft.com, Microsoft.Sql/servers/databases).
            redundancy = get(res.props, "requestedBackupStorageRedundancy", "Geo")
            if is_unknown(redundancy) or str(redundancy).lower() in ("geo", "geozone"):
                yield from _azure_pair(check, res, "requestedBackupStorageRedundancy", redundancy, "SQL database backup storage")
        elif t == "azure-native:recoveryservices:Vault":
            # A new vault's storage redundancy defaults to GeoRedundant (learn.microsoft.com, "Set storage redundancy").
            redundancy = get(res.props, "properties.redundancySettings.standardTierStorageRedundancy", "GeoRedundant")
            if str(redundancy).lower() == "georedundant" or is_unknown(redundancy):
                yield from _azure_pair(check, res, "properties.redundancySettings.standardTierStorageRedundancy", redundancy, "Recovery Services vault storage")
            if str(get(res.props, "properties.redundancySettings.crossRegionRestore", "")).lower() == "enabled":
                yield from _azure_pair(check, res, "properties.redundancySettings.crossRegionRestore", "Enabled", "cross-region restore")
        elif t == "azure-native:dataprotection:BackupVault":
            for i, store in enumerate(items(get(res.props, "properties.storageSettings"))):
                if str(get(store, "type", "")).lower() == "georedundant":
                    yield from _azure_pair(check, res, f"properties.storageSettings[{i}].type", get(store, "type"), "Backup vault storage")
        if t in _S3_DESTINATIONS:
            yield from _s3_destinations(check, res, buckets)
        for path in _EXTERNAL_ENDPOINTS.get(t, ()):
            yield from _external_endpoint(check, res, path)
        if not t.startswith(_NOT_DATA_FLOWS) and not profile.allow_global_processing:
            yield from _foreign_arns(check, res)


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


def _cosmos(check: _Checker, res: Res) -> Iterator[Finding]:
    profile = check.profile
    if profile.allow_global_processing:
        return
    for i, location in enumerate(items(get(res.props, "locations"))):
        name = get(location, "locationName")
        if is_unknown(name) or not isinstance(name, str):
            yield Finding(res.urn, f"locations[{i}].locationName", name, "a Cosmos DB location that is not known (fails closed).", "Name every location explicitly.")
        elif not profile.allows_azure_region(name):
            yield Finding(res.urn, f"locations[{i}].locationName", name, f"Cosmos DB replicates the account to {name}, outside profile '{profile.name}'.", _FIX)
    redundancy = get(res.props, "backupPolicy.periodicModeProperties.backupStorageRedundancy")
    if isinstance(redundancy, str) and redundancy.lower() == "geo":
        yield from _azure_pair(check, res, "backupPolicy.periodicModeProperties.backupStorageRedundancy", redundancy, "Cosmos DB backup storage")


def _bucket_region(check: _Checker, buckets: dict[str, Res], arn: Any) -> Any:
    """The region of an S3 bucket ARN's bucket if it is in the stack, else None (unknown)."""
    if is_unknown(arn):
        return arn
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        return None
    name = arn.split(":::", 1)[-1].split("/", 1)[0]
    target = buckets.get(name)
    return check.stack.location(target).region if target else None


def _s3_destinations(check: _Checker, res: Res, buckets: dict[str, Res]) -> Iterator[Finding]:
    what = _S3_DESTINATIONS[res.type]
    for path, value in walk(res.props):
        key = path.rsplit(".", 1)[-1]
        if key in ("bucketArn", "s3BucketArn", "destinationResourceArn") and (is_unknown(value) or (isinstance(value, str) and value.startswith("arn:aws") and ":s3:::" in value)):
            region = _bucket_region(check, buckets, value)
            yield from check.aws_target(res, path, region, f"{what} to S3" if region else f"{what} to an S3 bucket that is not in this stack")


def _external_endpoint(check: _Checker, res: Res, path: str) -> Iterator[Finding]:
    from ..endpoints import classify_host
    from ..gateway import host_of

    profile = check.profile
    value = get(res.props, path)
    if value is None or profile.allow_global_processing:
        return
    host = host_of(value) if isinstance(value, str) and not is_unknown(value) else None
    verdict = classify_host(host, profile, frozenset()) if host else None
    if verdict is None or verdict.status in ("outside", "unknown"):
        message = verdict.message if verdict else "the destination is not known during preview (fails closed)."
        yield Finding(res.urn, path, value, f"data is sent to an endpoint outside the stack: {message}", "Deliver to a destination of this stack in a profile region.")


def _foreign_arns(check: _Checker, res: Res) -> Iterator[Finding]:
    """Any ARN of a resource in a region outside the profile: a subscription, delivery, target or
    replica there moves data out, whatever property names it."""
    profile = check.profile
    reported = set()
    for path, text in strings(res.props):
        if "arn:" not in text:
            continue
        for match in _ARN_IN_TEXT.finditer(text):
            region, service = match.group("region"), match.group("service")
            if not region or "*" in region or "?" in region or service in _ARN_SERVICES_JUDGED_ELSEWHERE:
                continue
            if profile.allows_aws_region(region) or (path, region) in reported:
                continue
            reported.add((path, region))
            yield Finding(res.urn, path, match.group(0), f"refers to a {service} resource in {region}, outside profile '{profile.name}': data sent to it (subscription, delivery, target, copy) leaves the profile.", _FIX)
