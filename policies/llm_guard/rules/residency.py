"""Where resources live: the region allow-list of the profile, per cloud and partition."""

from __future__ import annotations

from collections.abc import Iterator

from ..graph import Finding, Res, get
from ..location import UNKNOWN, is_unknown
from ..settings import RuleSettings
from . import StackView, rule

_PROPERTY_BY_SOURCE = {
    "input region": "region",
    "provider region": "provider.region",
    "stack aws:region": "aws:region",
    "input location": "location",
}


@rule(
    "residency-region",
    description="Every resource lives in a region of the residency profile (AWS partition / Azure cloud included); "
    "a location unknown during preview fails closed except under `global`.",
    severity="critical",
    scope="stack",
    remediation="Deploy the stack in a region the residency profile allows (aws:region / azure-native:location), "
    "or set an explicit region on the resource or its provider. For a China profile use the aws-cn partition or "
    "the Azure China cloud (azure-native:environment: china).",
)
def residency_region(stack: StackView, settings: RuleSettings) -> Iterator[Finding]:
    profile = settings.profile
    assert profile is not None
    for res in stack.resources:
        if not res.custom or res.type.startswith("pulumi:providers:"):
            continue
        loc = stack.location(res)
        if loc.status in ("global", "unlocated"):
            continue
        prop = _PROPERTY_BY_SOURCE.get(loc.source, "location" if loc.cloud == "azure" else "region")
        if loc.status == "unknown":
            if profile.allow_global_processing:
                continue
            yield Finding(
                res.urn,
                prop,
                UNKNOWN,
                f"where this resource lives is unknown ({loc.source}); under profile '{profile.name}' an unknown location fails closed.",
                "Give the resource (or its provider) a region/location known at preview time.",
            )
            continue
        region = str(loc.region)
        if loc.cloud == "aws":
            if loc.partition != profile.aws_partition:
                yield Finding(
                    res.urn,
                    prop,
                    region,
                    f"region {region} is in the {loc.partition or 'unknown'} partition; profile '{profile.name}' needs {profile.aws_partition}.",
                    f"Deploy to one of: {', '.join(sorted(profile.aws_regions))}.",
                )
            elif not profile.allows_aws_region(region):
                yield Finding(
                    res.urn,
                    prop,
                    region,
                    f"region {region} is outside residency profile '{profile.name}'.",
                    f"Deploy to one of: {', '.join(sorted(profile.aws_regions))}.",
                )
        elif loc.cloud == "azure":
            if loc.partition != profile.azure_cloud:
                yield Finding(
                    res.urn,
                    prop,
                    region,
                    f"location {region} belongs to the Azure '{loc.partition or 'unknown'}' cloud; profile '{profile.name}' needs '{profile.azure_cloud}'.",
                    f"Use azure-native:environment {profile.azure_cloud} and one of: {', '.join(sorted(profile.azure_regions))}.",
                )
            elif not profile.allows_azure_region(region):
                yield Finding(
                    res.urn,
                    prop,
                    region,
                    f"location {region} is outside residency profile '{profile.name}'.",
                    f"Use one of: {', '.join(sorted(profile.azure_regions))}.",
                )
        # Kubernetes objects live where their cluster lives; the cluster itself is checked.


_EDGE = "terminates traffic at edge locations worldwide"
_EDGE_TYPES = {
    "aws:cloudfront/distribution:Distribution": f"CloudFront {_EDGE}",
    "aws:globalaccelerator/accelerator:Accelerator": f"Global Accelerator {_EDGE}",
    "aws:globalaccelerator/customRoutingAccelerator:CustomRoutingAccelerator": f"Global Accelerator {_EDGE}",
    "aws:lightsail/distribution:Distribution": f"a Lightsail distribution (CloudFront) {_EDGE}",
    "azure-native:frontdoor:FrontDoor": f"Front Door (classic) {_EDGE}",
    "azure-native:cdn:AFDEndpoint": f"Front Door {_EDGE}",
    "azure-native:cdn:Endpoint": f"an Azure CDN endpoint {_EDGE}",
    # Every SKU of a CDN profile is an edge: Front Door Standard/Premium and the classic
    # Standard_Microsoft / Akamai / Verizon CDNs alike (learn.microsoft.com, Microsoft.Cdn/profiles).
    "azure-native:cdn:Profile": f"an Azure CDN / Front Door profile {_EDGE}",
    # Static Web Apps serve their content from a global edge (learn.microsoft.com, "Azure Static Web Apps overview").
    "azure-native:web:StaticSite": f"Static Web Apps content is served from a global edge and {_EDGE}",
}


def _edge_reason(res: Res) -> tuple[str, str] | None:
    """(property, reason) when the resource serves from the edge."""
    if res.type in _EDGE_TYPES:
        return "type", _EDGE_TYPES[res.type]
    if res.type in ("aws:apigateway/restApi:RestApi", "aws:apigateway/domainName:DomainName"):
        # REST APIs and their custom domains are edge-optimized (CloudFront) unless told otherwise
        # (API Gateway developer guide, "API endpoint types for REST APIs"; AWS CDK EndpointConfiguration
        # "Default: EndpointType.EDGE", docs.aws.amazon.com, read 2026-05). Case is not trusted.
        types = get(res.props, "endpointConfiguration.types")
        names = [str(t).upper() for t in types] if isinstance(types, list) else []
        if is_unknown(types) or not names or "EDGE" in names:
            return "endpointConfiguration.types", f"an edge-optimized API Gateway endpoint (the default without endpointConfiguration) {_EDGE}"
    if res.type == "aws:s3/bucketAccelerateConfiguration:BucketAccelerateConfiguration" and str(get(res.props, "status", "")).lower() == "enabled":
        return "status", f"S3 Transfer Acceleration {_EDGE}"
    return None


@rule(
    "no-global-edge",
    description="No global edge (CloudFront, Global Accelerator, Lightsail distributions, edge-optimized API Gateway, S3 Transfer "
    "Acceleration, Azure Front Door, Azure CDN of any SKU, Static Web Apps) in front of the platform unless the profile is `global`: "
    "edges terminate TLS, and see prompts, worldwide.",
    severity="high",
    scope="resource",
    remediation="Serve the app from a regional load balancer (ALB, Application Gateway, Container Apps ingress, a REGIONAL or PRIVATE "
    "API Gateway endpoint) in a profile region.",
)
def no_global_edge(res: Res, settings: RuleSettings) -> Iterator[Finding]:
    profile = settings.profile
    assert profile is not None
    if profile.allow_global_processing:
        return
    found = _edge_reason(res)
    if found:
        prop, reason = found
        yield Finding(res.urn, prop, get(res.props, prop, res.type) if prop != "type" else res.type, f"{reason}, outside profile '{profile.name}'.", "Remove the global edge; use a regional entry point.")
