"""Where resources live: the region allow-list of the profile, per cloud and partition."""

from __future__ import annotations

from collections.abc import Iterator

from ..graph import Finding, Res
from ..location import UNKNOWN
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


_EDGE_TYPES = {
    "aws:cloudfront/distribution:Distribution": "CloudFront terminates traffic at edge locations worldwide",
    "aws:globalaccelerator/accelerator:Accelerator": "Global Accelerator terminates traffic at edge locations worldwide",
    "azure-native:network:FrontDoor": "Front Door terminates traffic at edge locations worldwide",
    "azure-native:cdn:AFDEndpoint": "Front Door terminates traffic at edge locations worldwide",
}


@rule(
    "no-global-edge",
    description="No global edge (CloudFront, Global Accelerator, Azure Front Door) in front of the platform unless the profile is `global`: "
    "edges terminate TLS, and see prompts, worldwide.",
    severity="high",
    scope="resource",
    remediation="Serve the app from a regional load balancer (ALB, Application Gateway, Container Apps ingress) in a profile region.",
)
def no_global_edge(res: Res, settings: RuleSettings) -> Iterator[Finding]:
    profile = settings.profile
    assert profile is not None
    if profile.allow_global_processing:
        return
    reason = _EDGE_TYPES.get(res.type)
    if res.type == "azure-native:cdn:Profile":
        sku = str((res.props.get("sku") or {}).get("name", ""))
        if "AzureFrontDoor" in sku:
            reason = "Front Door terminates traffic at edge locations worldwide"
    if reason:
        yield Finding(res.urn, "type", res.type, f"{reason}, outside profile '{profile.name}'.", "Remove the global edge; use a regional entry point.")
