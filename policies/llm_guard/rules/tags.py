"""Budget tags: every taggable resource carries the required tags; AWS tag limits hold."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from ..graph import Finding, Res, decode_json, get
from ..location import is_unknown
from ..settings import RuleSettings
from . import rule

_DATA = Path(__file__).resolve().parent.parent / "data" / "taggable.json"
_NO_DEFAULT_TAGS = _DATA.with_name("aws_no_default_tags.json")
LABEL_PREFIX = "llm-platform.io/"


@cache
def taggable_types() -> dict[str, str]:
    """type token -> "map" or "list", generated from the pinned SDKs (scripts/audit/policy_data.py)."""
    return dict(json.loads(_DATA.read_text(encoding="utf-8"))["taggable"])


@cache
def no_default_tag_types() -> frozenset[str]:
    """AWS types without tagsAll: the provider's defaultTags never reach them (e.g. Auto Scaling
    groups, whose tags are a list with propagateAtLaunch; HashiCorp tutorial "Configure default tags
    for AWS resources", section "Propagate default tags to Auto Scaling group", read 2026-05)."""
    return frozenset(json.loads(_NO_DEFAULT_TAGS.read_text(encoding="utf-8"))["types"])


def effective_tags(res: Res) -> dict[str, Any] | None:
    """Explicit tags, tagsAll and (AWS, where the type takes them) the provider's default tags;
    None when unknown. Azure tag keys are case-insensitive, so they are compared lower-cased."""
    kind = taggable_types().get(res.type)
    merged: dict[str, Any] = {}
    if res.package == "aws" and res.provider_props and res.type not in no_default_tag_types():
        default = decode_json(res.provider_props.get("defaultTags"))
        tags = get(default, "tags") if isinstance(default, Mapping) else None
        if isinstance(tags, Mapping):
            merged.update(tags)
    for key in ("tagsAll", "tags"):
        value = res.props.get(key)
        if is_unknown(value):
            return None
        if kind == "list" and isinstance(value, list):
            merged.update({str(get(t, "key")): get(t, "value") for t in value if isinstance(t, Mapping)})
        elif isinstance(value, Mapping):
            merged.update(value)
    if res.package == "azure-native":
        # Azure tag names are case-insensitive (learn.microsoft.com, "Use tags to organize your
        # Azure resources", Limitations); values are case-sensitive.
        return {str(k).lower(): v for k, v in merged.items()}
    return merged


@rule(
    "required-tags",
    description="Every taggable resource (taggability per type from the pinned SDKs) carries the required tags with non-empty values, "
    "counting explicit tags, tagsAll and the AWS provider's defaultTags; data-residency equals the profile; Kubernetes objects carry "
    "them as llm-platform.io/<tag> labels.",
    severity="high",
    scope="resource",
    remediation="Set the tags from one place (components/tags.py: the AWS provider's defaultTags and explicit tags on every resource); "
    "activate cost-center as a cost-allocation tag.",
)
def required_tags(res: Res, settings: RuleSettings) -> Iterator[Finding]:
    profile = settings.profile
    assert profile is not None
    if res.package == "kubernetes":
        yield from _kubernetes_labels(res, settings)
        return
    if res.type not in taggable_types():
        return
    tags = effective_tags(res)
    if tags is None:
        yield Finding(res.urn, "tags", res.props.get("tags"), "the tags are unknown during preview (fails closed).", "Use tag values known at preview time.")
        return
    key = (lambda k: k.lower()) if res.package == "azure-native" else (lambda k: k)
    missing = [k for k in settings.required_tags if not (isinstance(tags.get(key(k)), str) and tags[key(k)].strip())]
    if missing:
        yield Finding(res.urn, "tags", {k: tags.get(key(k)) for k in settings.required_tags}, f"missing or empty required tags: {', '.join(missing)}.", "Add the missing tags.")
    residency = tags.get(key("data-residency"))
    if "data-residency" in settings.required_tags and isinstance(residency, str) and residency.strip() and residency != profile.name:
        yield Finding(res.urn, "tags.data-residency", residency, f"the data-residency tag says '{residency}' but the profile enforced is '{profile.name}'.", f"Tag data-residency={profile.name}.")


def _kubernetes_labels(res: Res, settings: RuleSettings) -> Iterator[Finding]:
    if res.type.startswith("kubernetes:helm.sh/") or res.type.startswith("pulumi:providers:"):
        return
    metadata = res.props.get("metadata")
    if not isinstance(metadata, Mapping):
        return
    labels = metadata.get("labels") or {}
    if not isinstance(labels, Mapping) and not is_unknown(labels):
        labels = {}
    if is_unknown(labels):
        yield Finding(res.urn, "metadata.labels", labels, "labels unknown during preview (fails closed).", "Use label values known at preview time.")
        return
    missing = [k for k in settings.required_tags if not labels.get(f"{LABEL_PREFIX}{k}")]
    if missing:
        yield Finding(res.urn, "metadata.labels", labels, f"missing required labels: {', '.join(LABEL_PREFIX + k for k in missing)}.", "Label every object with components.tags.kubernetes_labels().")
    residency = labels.get(f"{LABEL_PREFIX}data-residency")
    if residency and settings.profile and residency != settings.profile.name:
        yield Finding(res.urn, f"metadata.labels.{LABEL_PREFIX}data-residency", residency, f"label says '{residency}' but the profile enforced is '{settings.profile.name}'.", "Fix the label.")


@rule(
    "aws-tag-limits",
    description="AWS tags stay within AWS limits: at most 50 tags per resource (explicit plus default tags), keys up to 128 and values "
    "up to 256 characters, no reserved `aws:` prefix.",
    severity="medium",
    scope="resource",
    remediation="Drop or shorten tags; AWS rejects the resource otherwise.",
    needs_profile=False,
)
def aws_tag_limits(res: Res, settings: RuleSettings) -> Iterator[Finding]:
    if res.package != "aws" or res.type not in taggable_types():
        return
    tags = effective_tags(res)
    if not tags:
        return
    if len(tags) > 50:
        yield Finding(res.urn, "tags", len(tags), f"{len(tags)} tags; AWS allows 50.", "Remove tags.")
    for key, value in tags.items():
        if len(key) > 128:
            yield Finding(res.urn, f"tags.{key[:40]}...", key, "tag key longer than 128 characters.", "Shorten the key.")
        if isinstance(value, str) and len(value) > 256:
            yield Finding(res.urn, f"tags.{key}", value, "tag value longer than 256 characters.", "Shorten the value.")
        if key.lower().startswith("aws:"):
            yield Finding(res.urn, f"tags.{key}", key, "the aws: prefix is reserved for AWS.", "Rename the tag.")
