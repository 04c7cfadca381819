"""Ways prompts leave the profile without a region field changing: Bedrock cross-region
profiles and model ARNs, Azure OpenAI deployment types and spillover, third-party API hosts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..graph import Finding, Res, get, strings
from ..location import UNKNOWN
from ..routing import (
    API_HOSTS,
    API_PROVIDERS,
    AZURE_DATA_ZONE_REGIONS,
    AZURE_OPENAI_SKU_SCOPE,
    BEDROCK_PROFILE_DESTINATIONS,
    OUTSIDE_MAINLAND_HOSTS,
    BedrockTarget,
    api_host_provider,
    declared_custom_providers,
    parse_bedrock_reference,
)
from ..settings import RuleSettings
from . import StackView, rule

_PROVIDERS = "ai21|amazon|anthropic|cohere|deepseek|google|meta|minimax|mistral|moonshot|nvidia|openai|qwen|stability|twelvelabs|writer"
_ARN = re.compile(r"arn:aws[a-z-]*:bedrock:[^:\s\"',]*:[^:\s\"',]*:[a-z-]+/[^\s\"',;)]+")
# <prefix>.<provider>.<model-with-a-dash>: a dash keeps "api.openai.com" from looking like a model.
_PROFILE = re.compile(rf"(?<![A-Za-z0-9.-])(?:(?P<prefix>[a-z]{{2,8}}(?:-[a-z]{{2,4}})?)\.)?(?P<model>(?:{_PROVIDERS})\.[a-z0-9][a-z0-9.]*-[A-Za-z0-9.:_-]*)")


_GUARDRAIL = re.compile(r"(?<![A-Za-z0-9.-])[a-z]{2,8}(?:-[a-z]{2,4})?\.guardrail\.v\d+(?::\d+)?")


def bedrock_references(text: str) -> Iterator[BedrockTarget]:
    """Bedrock ARNs, cross-region profile ids (models and guardrails) and model ids in a string."""
    for match in _ARN.finditer(text):
        ref = parse_bedrock_reference(match.group(0))
        if ref:
            yield ref
    rest = _ARN.sub(" ", text)
    for pattern in (_PROFILE, _GUARDRAIL):
        for match in pattern.finditer(rest):
            ref = parse_bedrock_reference(match.group(0))
            if ref:
                yield ref


@rule(
    "bedrock-not-in-profile",
    description="No Bedrock resource or Bedrock model reference under a profile without Bedrock (mainland China: Bedrock has no endpoint in aws-cn).",
    severity="critical",
    scope="resource",
    remediation="Under `cn`, use SageMaker in aws-cn, Azure OpenAI in the Azure China cloud, or a domestic API (DashScope, DeepSeek, Qianfan, Hunyuan, Volcengine, Moonshot, Zhipu).",
)
def bedrock_not_in_profile(res: Res, settings: RuleSettings) -> Iterator[Finding]:
    profile = settings.profile
    assert profile is not None
    if profile.bedrock_allowed:
        return
    if res.type.startswith("aws:bedrock"):
        yield Finding(res.urn, "type", res.type, f"Bedrock is not available under profile '{profile.name}'.", "Remove the Bedrock resource.")
        return
    for path, text in strings(res.props):
        for ref in bedrock_references(text):
            yield Finding(res.urn, path, ref.text, f"Bedrock model reference under profile '{profile.name}', which has no Bedrock.", "Route to a model the profile allows.")


@rule(
    "bedrock-cross-region-routing",
    description="Bedrock model ids, cross-region inference profiles and model ARNs (in inference profiles, IAM policies, guardrails, "
    "app settings, gateway config) may only send prompts to regions of the profile: `global.` only under `global`, unknown "
    "prefixes fail closed, and model ARNs never use a region wildcard.",
    severity="critical",
    scope="resource",
    remediation="Use the in-region model id, or the cross-region prefix of the profile's geography (eu. for eu, us. for us); "
    "in IAM policies name each model/profile ARN with an explicit region.",
)
def bedrock_routing(res: Res, settings: RuleSettings) -> Iterator[Finding]:
    profile = settings.profile
    assert profile is not None
    if not profile.bedrock_allowed:
        return  # bedrock-not-in-profile reports these
    seen: set[tuple[str, str]] = set()
    for path, text in strings(res.props):
        for ref in bedrock_references(text):
            if (path, ref.text) in seen:
                continue
            seen.add((path, ref.text))
            yield from _check_reference(res, path, ref, profile)


def _check_reference(res: Res, path: str, ref: BedrockTarget, profile: Any) -> Iterator[Finding]:
    partition = ref.text.split(":")[1] if ref.text.startswith("arn:") else None
    if partition and partition != profile.aws_partition:
        yield Finding(res.urn, path, ref.text, f"ARN in partition {partition}; profile '{profile.name}' uses {profile.aws_partition}.", "Use an ARN of the profile's partition.")
        return
    if ref.region is not None and ref.region_wildcard:
        yield Finding(
            res.urn,
            path,
            ref.text,
            "Bedrock ARN with a region wildcard lets callers invoke the model in any region.",
            "Name each region explicitly (one ARN per allowed region).",
        )
        return
    allowed_prefixes = ", ".join(profile.allowed_bedrock_prefixes()) or "none: in-region ids only"
    if ref.prefix is not None and ref.prefix not in BEDROCK_PROFILE_DESTINATIONS:
        if not profile.allow_global_processing:
            yield Finding(
                res.urn,
                path,
                ref.text,
                f"unknown cross-region prefix '{ref.prefix}.': its destination regions are unknown, so it fails closed under '{profile.name}'.",
                f"Use one of the allowed prefixes ({allowed_prefixes}) or the in-region model id.",
            )
        return
    if ref.prefix is not None:
        destinations = BEDROCK_PROFILE_DESTINATIONS[ref.prefix]
        if not profile.allows_processing_in(destinations):
            where = "any commercial region" if destinations is None else ", ".join(sorted(destinations - profile.aws_regions - profile.bedrock_processing_regions))
            yield Finding(
                res.urn,
                path,
                ref.text,
                f"cross-region profile '{ref.prefix}.' may process prompts in {where}, outside profile '{profile.name}'.",
                f"Use one of the allowed prefixes ({allowed_prefixes}) or the in-region model id.",
            )
            return
    # The ARN's own region: where the call is made (profiles) or the model runs (models).
    if ref.region and not profile.allows_processing_in(frozenset({ref.region})):
        yield Finding(
            res.urn,
            path,
            ref.text,
            f"Bedrock {ref.kind} in {ref.region}, outside profile '{profile.name}'.",
            f"Use the ARN in a profile region ({', '.join(sorted(profile.aws_regions))}).",
        )


@rule(
    "azure-openai-deployment-type",
    description="Azure OpenAI deployments keep processing in the profile: Global* only under `global`, DeveloperTier (no residency "
    "guarantee) only under `global`, DataZone* only when the data zone is the profile's and the account sits in it; spillover "
    "targets obey the same rule.",
    severity="critical",
    scope="stack",
    remediation="Use sku Standard (or ProvisionedManaged) for in-geography processing, or the DataZone* SKU of the profile's zone "
    "(EU/US); point spillover at a deployment that passes this rule.",
)
def azure_openai_deployment_type(stack: StackView, settings: RuleSettings) -> Iterator[Finding]:
    profile = settings.profile
    assert profile is not None
    deployments = stack.of_type("azure-native:cognitiveservices:Deployment")
    by_name = {(str(get(d.props, "accountName")), str(get(d.props, "deploymentName"))): d for d in deployments}
    for deployment in deployments:
        problem = _sku_problem(deployment, stack, profile)
        if problem:
            yield Finding(deployment.urn, "sku.name", get(deployment.props, "sku.name", UNKNOWN), problem, "Use Standard, ProvisionedManaged or the profile's DataZone* SKU.")
        target = get(deployment.props, "properties.spilloverDeploymentName")
        if target is None:
            continue
        other = by_name.get((str(get(deployment.props, "accountName")), str(target)))
        if other is None:
            yield Finding(
                deployment.urn,
                "properties.spilloverDeploymentName",
                target,
                "spillover target is not a deployment of this stack, so where overflow goes cannot be checked (fails closed).",
                "Point spillover at a deployment defined in this stack.",
            )
        elif (target_problem := _sku_problem(other, stack, profile)) is not None:
            yield Finding(
                deployment.urn,
                "properties.spilloverDeploymentName",
                target,
                f"overflow spills to '{target}', which breaks the profile: {target_problem}",
                "Spill over to a deployment with an allowed SKU, or remove spillover.",
            )


def _sku_problem(deployment: Res, stack: StackView, profile: Any) -> str | None:
    sku = get(deployment.props, "sku.name")
    scope = AZURE_OPENAI_SKU_SCOPE.get(str(sku)) if isinstance(sku, str) else None
    if profile.allow_global_processing:
        return None
    if scope is None:
        return f"deployment type {sku!r} is not known, so where it processes prompts is unknown (fails closed under '{profile.name}')."
    if scope == "global":
        return f"{sku} processes prompts in any Azure region, outside profile '{profile.name}'."
    if scope == "none":
        return f"{sku} has no data-residency guarantee."
    if scope == "datazone":
        zone = profile.azure_openai_data_zone
        if zone is None:
            return f"{sku} processes prompts anywhere in a data zone; profile '{profile.name}' allows no data zone."
        loc = stack.location(deployment)
        if loc.status != "located" or loc.region not in AZURE_DATA_ZONE_REGIONS[zone]:
            return f"{sku} uses the data zone of the account's region ({loc.region or 'unknown'}), not the {zone.upper()} zone of profile '{profile.name}'."
    return None


_URL_HOST = re.compile(r"https?://([A-Za-z0-9.-]+)")
# Known API hosts written bare; the lookbehind keeps api.openai.com from matching eu.api.openai.com.
_KNOWN_HOSTS = (*API_HOSTS, *OUTSIDE_MAINLAND_HOSTS)
_BARE_HOST = re.compile(r"(?<![A-Za-z0-9.-])(" + "|".join(re.escape(h) for h in sorted(_KNOWN_HOSTS, key=len, reverse=True)) + r")(?![A-Za-z0-9-])")


def _hosts_in(text: str) -> set[str]:
    hosts = {m.group(1).lower() for m in _URL_HOST.finditer(text)}
    hosts.update(m.group(1) for m in _BARE_HOST.finditer(text))
    return hosts


@rule(
    "llm-api-upstreams",
    description="Gateway and app settings send prompts only to third-party LLM APIs whose processing geography the profile allows "
    "(e.g. api.openai.com is US, api.deepseek.com is mainland China).",
    severity="critical",
    scope="resource",
    remediation="Route to an API of the profile's geography (see `allowed providers` in the message), a managed endpoint in a "
    "profile region, or a self-hosted model.",
)
def llm_api_upstreams(res: Res, settings: RuleSettings) -> Iterator[Finding]:
    profile = settings.profile
    assert profile is not None
    if profile.allow_global_processing:
        return
    reported: set[tuple[str, str]] = set()
    custom = declared_custom_providers(settings.stack_config)
    for path, text in strings(res.props):
        for host in _hosts_in(text):
            api = api_host_provider(host, custom)
            if api is None or profile.allows_api(api) or (path, host) in reported:
                continue
            reported.add((path, host))
            allowed = [API_PROVIDERS[p].host for p in profile.allowed_api_providers()] + sorted(h for h, c in custom.items() if profile.allows_api(c))
            yield Finding(
                res.urn,
                path,
                host,
                f"{api.display_name} ({host}) processes prompts in {api.geography.upper()}, outside profile '{profile.name}'.",
                f"Use an allowed API ({', '.join(allowed) or 'none under this profile'}), a managed endpoint in a profile region, or a self-hosted model.",
            )
