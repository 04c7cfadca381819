"""Endpoints that reveal a place: AWS/Azure hostnames carrying a region (`*.us-east-1.elb.
amazonaws.com`, `bedrock-runtime.us-west-2.amazonaws.com`, `*.westus.azurecontainerapps.io`), Azure
AI accounts outside the stack (`other.openai.azure.com`), and the region an AWS SDK in a container
uses (AWS_REGION / AWS_DEFAULT_REGION / AWS_REGION_NAME)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..endpoints import classify_host, hosts_in
from ..graph import Finding, Res, decode_json, strings
from ..location import is_secret, is_unknown
from ..routing import declared_custom_providers
from ..settings import RuleSettings
from . import StackView, rule
from .gateway import azure_account_names

# The variables the AWS SDKs (and LiteLLM's Bedrock client) read for their region.
SDK_REGION_VARIABLES = frozenset({"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_REGION_NAME"})
_FIX = "Point the setting at an endpoint in a region of the profile (or at a resource of this stack)."


def _sdk_regions(value: Any, path: str = "", depth: int = 0) -> Iterator[tuple[str, str, str]]:
    """(path, variable, region) for env entries ({name, value} lists or name: value maps)."""
    if depth > 40:
        return
    if is_secret(value):
        yield from _sdk_regions(value.get("value"), path, depth + 1)
        return
    if isinstance(value, Mapping):
        name, item = value.get("name"), value.get("value")
        if isinstance(name, str) and name in SDK_REGION_VARIABLES and isinstance(item, str) and not is_unknown(item):
            yield f"{path}.value" if path else "value", name, item
        for key, sub in value.items():
            sub_path = f"{path}.{key}" if path else str(key)
            if key in SDK_REGION_VARIABLES and isinstance(sub, str) and not is_unknown(sub):
                yield sub_path, key, sub
            elif isinstance(sub, (Mapping, list)) or (isinstance(sub, str) and sub[:1] in "[{"):
                yield from _sdk_regions(sub, sub_path, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _sdk_regions(item, f"{path}[{i}]", depth + 1)
    elif isinstance(value, str) and value[:1] in "[{" and "AWS_" in value:
        decoded = decode_json(value)
        if isinstance(decoded, (Mapping, list)):
            yield from _sdk_regions(decoded, path, depth + 1)


@rule(
    "endpoint-region",
    description="Endpoints named in settings stay in the profile: AWS and Azure hostnames that carry a region must name a profile region, "
    "Azure OpenAI / AI Services hosts must be accounts of this stack, and AWS_REGION / AWS_DEFAULT_REGION / AWS_REGION_NAME in a "
    "workload's environment must be a profile region.",
    severity="critical",
    scope="stack",
    remediation=_FIX,
)
def endpoint_region(stack: StackView, settings: RuleSettings) -> Iterator[Finding]:
    profile = settings.profile
    assert profile is not None
    if profile.allow_global_processing:
        return
    accounts = azure_account_names(stack)
    custom_apis = declared_custom_providers(stack.stack_config)
    for res in stack.resources:
        if res.type.startswith("pulumi:providers:") or not res.custom:
            continue
        yield from _endpoints_of(res, profile, accounts, custom_apis)


def _endpoints_of(res: Res, profile: Any, accounts: frozenset[str], custom_apis: Mapping[str, Any] | None = None) -> Iterator[Finding]:
    reported: set[tuple[str, str]] = set()
    for path, text in strings(res.props):
        for host in hosts_in(text):
            verdict = classify_host(host, profile, accounts, custom_apis=custom_apis)
            if verdict.status == "outside" and (path, host) not in reported:
                reported.add((path, host))
                yield Finding(res.urn, path, host, verdict.message, _FIX)
    for path, variable, region in _sdk_regions(res.props):
        if not profile.allows_aws_region(region):
            yield Finding(res.urn, path, region, f"{variable}={region}: the AWS SDKs in this workload (Bedrock clients included) call AWS in {region}, outside profile '{profile.name}'.", _FIX)
