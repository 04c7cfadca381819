"""IAM grants that let a workload send prompts to Bedrock beyond the profile: `*`, region or
service wildcards, NotResource, NotAction, and AWS managed policies that grant bedrock:* —
inline or attached, on roles, users, groups, policies and SSO permission sets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..graph import Finding, Res, get
from ..iam import decode_document, is_aws_managed_policy_arn, managed_policy_verdict, statement_reach, statements
from ..location import UNKNOWN, is_unknown, reveal
from ..settings import RuleSettings
from . import StackView, rule

# type -> property paths holding identity policy documents ("[]" = every item of a list).
_DOCUMENTS: dict[str, tuple[str, ...]] = {
    "aws:iam/policy:Policy": ("policy",),
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:iam/userPolicy:UserPolicy": ("policy",),
    "aws:iam/groupPolicy:GroupPolicy": ("policy",),
    "aws:iam/role:Role": ("inlinePolicies[].policy",),
    "aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy": ("inlinePolicy",),
}
# type -> property paths holding attached policy ARNs.
_ATTACHMENTS: dict[str, tuple[str, ...]] = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("policyArn",),
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": ("policyArn",),
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": ("policyArn",),
    "aws:iam/policyAttachment:PolicyAttachment": ("policyArn",),
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": ("policyArns[]",),
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive": ("policyArns[]",),
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive": ("policyArns[]",),
    "aws:iam/role:Role": ("managedPolicyArns[]",),
    "aws:ssoadmin/managedPolicyAttachment:ManagedPolicyAttachment": ("managedPolicyArn",),
}
IAM_POLICY_TYPES = frozenset(_DOCUMENTS) | frozenset(_ATTACHMENTS)
_FIX = "Grant bedrock:Invoke* only on explicit model / inference-profile ARNs in the profile's regions (no `*`, no region wildcard, no NotResource/NotAction)."


def values_at(props: dict[str, Any], path: str) -> Iterator[tuple[str, Any]]:
    """(concrete path, value) for a path whose `[]` parts expand over lists."""
    head, sep, rest = path.partition("[]")
    value = get(props, head) if head else props
    if not sep:
        if value is not None:
            yield head, value
        return
    if is_unknown(value):
        yield head, value
        return
    for i, item in enumerate(reveal(value) if isinstance(reveal(value), list) else []):
        if not rest:
            yield f"{head}[{i}]", item
        else:
            for sub, found in values_at(item if isinstance(item, dict) else {}, rest.lstrip(".")):
                yield f"{head}[{i}].{sub}", found


@rule(
    "bedrock-iam-scope",
    description="IAM identity policies grant Bedrock prompt actions (InvokeModel, Converse, agents, flows, batch, guardrails...) only "
    "on resources the profile allows: no `*`, no region or service wildcard, no NotResource, no NotAction that leaves Bedrock in, and "
    "no AWS managed policy that grants them everywhere (AmazonBedrockFullAccess, PowerUserAccess...); an attached policy the pack cannot "
    "read fails closed.",
    severity="critical",
    scope="stack",
    remediation=_FIX,
)
def bedrock_iam_scope(stack: StackView, settings: RuleSettings) -> Iterator[Finding]:
    profile = settings.profile
    assert profile is not None
    if profile.allow_global_processing:
        return
    policy_names = {str(reveal(get(p.props, "name"))) for p in stack.of_type("aws:iam/policy:Policy")}
    stack_has_policies = bool(stack.of_type("aws:iam/policy:Policy"))
    for res in stack.resources:
        for path in _DOCUMENTS.get(res.type, ()):
            for concrete, value in values_at(res.props, path):
                yield from _document(res, concrete, value, profile)
        for path in _ATTACHMENTS.get(res.type, ()):
            for concrete, value in values_at(res.props, path):
                yield from _attachment(res, concrete, value, profile, policy_names, stack_has_policies)


def _document(res: Res, path: str, value: Any, profile: Any) -> Iterator[Finding]:
    if is_unknown(value):
        return  # residency-inputs-known reports it
    document, problem = decode_document(value)
    if problem:
        yield Finding(res.urn, path, value, f"{problem} (fails closed).", "Write the policy as a JSON object.")
        return
    for i, statement in statements(document):
        reach = statement_reach(statement, profile)
        if reach is None:
            continue
        how = "NotAction leaves Bedrock prompt actions allowed" if "NotAction" in statement else "it allows Bedrock prompt actions"
        yield Finding(
            res.urn,
            f"{path}.Statement[{i}].{reach.element}",
            reach.pattern,
            f"{how} on a resource pattern that matches {reach.example}, outside profile '{profile.name}'.",
            _FIX,
        )


def _attachment(res: Res, path: str, arn: Any, profile: Any, policy_names: set[str], stack_has_policies: bool) -> Iterator[Finding]:
    arn = reveal(arn)
    if is_unknown(arn):
        if not stack_has_policies:
            yield Finding(res.urn, path, UNKNOWN, "the attached policy is not known during preview and no policy of this stack can be it (fails closed).", "Attach a policy defined in this stack.")
        return
    if not isinstance(arn, str):
        return
    if is_aws_managed_policy_arn(arn):
        verdict = managed_policy_verdict(arn)
        if verdict == "prompts":
            yield Finding(res.urn, path, arn, f"this AWS managed policy allows Bedrock prompt actions on every region's models, outside profile '{profile.name}'.", _FIX)
        elif verdict == "unknown":
            yield Finding(res.urn, path, arn, "an AWS managed policy this pack has no document for, so what it grants cannot be checked (fails closed).", "Use a policy defined in this stack, or update the pack's managed-policy data.")
        return
    name = arn.rsplit("/", 1)[-1]
    if name not in policy_names:
        yield Finding(res.urn, path, arn, "a customer managed policy that is not defined in this stack, so what it grants cannot be checked (fails closed).", "Define the policy in this stack so its document is audited.")
