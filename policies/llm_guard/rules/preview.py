"""Inputs that decide residency but are unknown at preview: reported as unverifiable (fail closed),
never skipped. A rule that looks inside a value cannot see what it will be, so the audit must say
so instead of passing silently."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ..graph import Finding, Res, get
from ..location import UNKNOWN, is_unknown, reveal
from ..settings import RuleSettings
from . import rule

# type -> properties whose value decides where prompts or data go.
DECIDING_INPUTS: dict[str, tuple[str, ...]] = {
    "aws:ecs/taskDefinition:TaskDefinition": ("containerDefinitions",),
    "aws:iam/policy:Policy": ("policy",),
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:iam/userPolicy:UserPolicy": ("policy",),
    "aws:iam/groupPolicy:GroupPolicy": ("policy",),
    "aws:iam/role:Role": ("inlinePolicies", "managedPolicyArns"),
    "aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy": ("inlinePolicy",),
    "aws:lambda/function:Function": ("environment",),
    "aws:secretsmanager/secret:Secret": ("replicas",),
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": ("rules",),
    "aws:dynamodb/table:Table": ("replicas",),
    "aws:bedrock/inferenceProfile:InferenceProfile": ("modelSource",),
    "aws:bedrock/guardrail:Guardrail": ("crossRegionConfig",),
    "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": ("destinationArn",),
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": ("destination",),
    "kubernetes:core/v1:ConfigMap": ("data", "binaryData"),
    "kubernetes:apps/v1:Deployment": ("spec.template.spec.containers",),
    "kubernetes:apps/v1:StatefulSet": ("spec.template.spec.containers",),
    "kubernetes:apps/v1:DaemonSet": ("spec.template.spec.containers",),
    "azure-native:app:ContainerApp": ("template",),
    "azure-native:cosmosdb:DatabaseAccount": ("locations",),
    "azure-native:cognitiveservices:Deployment": ("sku",),
}


def _unknown_part(value: object) -> str | None:
    """'' when the value itself is unknown, '.key' / '[i]' for an unknown direct member."""
    value = reveal(value)
    if is_unknown(value):
        return ""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if is_unknown(reveal(item)):
                return f".{key}"
    if isinstance(value, list):
        for i, item in enumerate(value):
            if is_unknown(reveal(item)):
                return f"[{i}]"
    return None


@rule(
    "residency-inputs-known",
    description="Inputs that decide where prompts or data go (container definitions, gateway config, IAM documents, replicas, "
    "cross-region settings) are known at preview; an unknown one cannot be verified and fails closed instead of being skipped.",
    severity="high",
    scope="resource",
    remediation="Build the input from values known at preview (config, literals), or audit the stack after the resources it depends on "
    "exist (`pulumi preview` after a first `pulumi up` of those).",
)
def residency_inputs_known(res: Res, settings: RuleSettings) -> Iterator[Finding]:
    profile = settings.profile
    assert profile is not None
    if profile.allow_global_processing:
        return
    for path in DECIDING_INPUTS.get(res.type, ()):
        value = get(res.props, path)
        if value is None:
            continue
        part = _unknown_part(value)
        if part is not None:
            yield Finding(res.urn, path + part, UNKNOWN, f"this input decides where prompts or data go and is unknown during preview, so residency under '{profile.name}' cannot be verified (fails closed).", "Use values known at preview time for it.")
