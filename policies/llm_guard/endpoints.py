"""Where a hostname sends data: inside the network, a region, an Azure AI account, a known API.

One classifier for gateway routes (where an unknown host fails closed) and for every other
endpoint a resource names (where only hosts that reveal a place are judged).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .regions import AWS_DNS_SUFFIXES, AZURE_AI_ACCOUNT_HOST_SUFFIXES, AZURE_DNS_SUFFIXES, region_of_hostname
from .routing import ApiProvider, api_host_provider

# Names that resolve inside the cluster / VPC / VNet: they never leave the network by name.
_PRIVATE_SUFFIXES = (".svc", ".svc.cluster.local", ".cluster.local", ".local", ".localdomain", ".internal")


@dataclass(frozen=True)
class Verdict:
    """status: inside | allowed | outside | unknown."""

    status: str
    message: str


def is_private_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or "." not in host:
        return True  # a bare Kubernetes service name or localhost
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.endswith(_PRIVATE_SUFFIXES) and region_of_hostname(host) is None
    return address.is_private or address.is_loopback or address.is_link_local


def azure_account_of_host(host: str) -> str | None:
    """The account of `<account>[.privatelink].openai.azure.com`; None for the private DNS zone
    `privatelink.openai.azure.com` itself, which names no account."""
    for suffix in AZURE_AI_ACCOUNT_HOST_SUFFIXES:
        if host.endswith(suffix):
            labels = [label for label in host[: -len(suffix)].split(".") if label and label != "privatelink"]
            return labels[-1] if labels else None
    return None


def classify_host(host: str, profile: Any, azure_accounts: frozenset[str], service: str = "", custom_apis: Mapping[str, ApiProvider] | None = None) -> Verdict:
    """`custom_apis`: providers the stack declared, by host (routing.declared_custom_providers)."""
    host = host.lower().rstrip(".")
    if profile.allow_global_processing:
        return Verdict("allowed", "")
    located = region_of_hostname(host)
    if located is not None:
        cloud, region = located
        if cloud == "aws":
            bedrock = service == "bedrock" or host.startswith(("bedrock", "bedrock-runtime"))
            ok = profile.allows_aws_region(region) or (bedrock and profile.bedrock_allowed and profile.allows_processing_in(frozenset({region})))
        else:
            ok = profile.allows_azure_region(region)
        if ok:
            return Verdict("allowed", "")
        return Verdict("outside", f"the host {host} is an {cloud.upper() if cloud == 'aws' else 'Azure'} endpoint in {region}, outside profile '{profile.name}'.")
    if is_private_host(host):
        return Verdict("inside", "")
    account = azure_account_of_host(host)
    if account is not None:
        if account in azure_accounts:
            return Verdict("allowed", "")
        return Verdict("outside", f"{host} is an Azure AI account that is not defined in this stack, so where it processes prompts cannot be checked (fails closed).")
    api = api_host_provider(host, custom_apis)
    if api is not None:
        if profile.allows_api(api):
            return Verdict("allowed", "")
        return Verdict("outside", f"{api.display_name} ({host}) processes prompts in {api.geography.upper()}, outside profile '{profile.name}'.")
    return Verdict("unknown", f"{host} is not an endpoint of the stack or a known API, so where it processes prompts is unknown (fails closed under '{profile.name}').")


_CLOUD_SUFFIX = "|".join(re.escape(s) for s in sorted((*AWS_DNS_SUFFIXES, *AZURE_DNS_SUFFIXES), key=len, reverse=True))
_URL_HOST = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/\s\"']*@)?([A-Za-z0-9.-]+)")
_CLOUD_HOST = re.compile(rf"(?<![A-Za-z0-9.-])((?:[A-Za-z0-9-]+\.)+(?:{_CLOUD_SUFFIX}))(?![A-Za-z0-9-])", re.IGNORECASE)
_EC2_INTERNAL = re.compile(r"(?<![A-Za-z0-9.-])((?:[A-Za-z0-9-]+\.)+(?:ec2\.internal|compute\.internal))(?![A-Za-z0-9-])", re.IGNORECASE)


def hosts_in(text: str) -> Iterator[str]:
    """Hostnames in a string: URL hosts, and bare AWS/Azure endpoint names."""
    if "." not in text:
        return
    seen = set()
    for pattern in (_URL_HOST, _CLOUD_HOST, _EC2_INTERNAL):
        for match in pattern.finditer(text):
            host = match.group(1).lower().rstrip(".")
            if host not in seen:
                seen.add(host)
                yield host
