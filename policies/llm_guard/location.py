"""Where a resource lives: one resolver for the offline plan and for every rule.

AWS: the resource's `region` input, else its explicit provider's `region`, else the stack's
`aws:region` (what the default provider uses). Azure: the resource's `location`, normalised,
else its ARM parent's (a deployment inherits its account's), else its resource group's.
Kubernetes objects live where their cluster lives, which the cluster resource says.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .regions import AZURE_GLOBAL_TYPES, aws_partition_of, azure_cloud_of, is_aws_global_type, normalize_azure_location

# The engine's sentinels for values that are not known during preview.
UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58",
        "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWN_SENTINELS


def is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get(SIG_KEY) == SECRET_SIG


def reveal(value: Any) -> Any:
    """The value inside a (possibly secret-wrapped) property, recursively; unknowns stay unknown."""
    if is_secret(value):
        return reveal(value.get("value"))
    if isinstance(value, Mapping):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [reveal(v) for v in value]
    return value


@dataclass(frozen=True)
class Location:
    """cloud: aws | azure | kubernetes | none; status: located | global | unknown | unlocated."""

    cloud: str
    status: str
    region: str | None = None
    source: str = ""
    partition: str | None = None  # aws partition or azure cloud the region belongs to

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


NOT_LOCATED = Location("none", "unlocated", source="not a cloud resource")


def cloud_of_type(type_token: str) -> str:
    package = type_token.split(":", 1)[0]
    if type_token.startswith("pulumi:providers:"):
        return "provider"
    return {
        "aws": "aws",
        "azure-native": "azure",
        "kubernetes": "kubernetes",
    }.get(package, "none")


def _provider_value(provider_inputs: Mapping[str, Any] | None, key: str) -> Any:
    if not provider_inputs:
        return None
    value = reveal(provider_inputs.get(key))
    return value


PROVIDER_NOT_FOUND = "its provider reference names no provider of the stack"


def aws_location(
    type_token: str,
    inputs: Mapping[str, Any],
    provider_inputs: Mapping[str, Any] | None,
    stack_config: Mapping[str, Any],
    default_provider: bool = False,
    provider_missing: bool = False,
) -> Location:
    if is_aws_global_type(type_token):
        return Location("aws", "global", source="global service")
    if type_token.startswith("aws:wafv2/") and reveal(inputs.get("scope")) == "CLOUDFRONT":
        return Location("aws", "global", source="WAFv2 scope CLOUDFRONT")
    if provider_missing and reveal(inputs.get("region")) in (None, ""):
        # A dangling provider reference is not the default provider: never fall back to aws:region.
        return Location("aws", "unknown", source=PROVIDER_NOT_FOUND)
    candidates = (
        (reveal(inputs.get("region")), "input region"),
        # The default provider is configured from the stack's aws:region.
        (_provider_value(provider_inputs, "region"), "stack aws:region" if default_provider else "provider region"),
    )
    for value, source in candidates:
        if value is None or value == "":
            continue
        if is_unknown(value):
            return Location("aws", "unknown", source=f"{source} not known during preview")
        return Location("aws", "located", str(value), source, aws_partition_of(str(value)))
    if provider_inputs is None:
        stack_region = stack_config.get("aws:region")
        if stack_region:
            region = str(stack_region)
            return Location("aws", "located", region, "stack aws:region", aws_partition_of(region))
    return Location("aws", "unknown", source="no region on the resource, its provider or the stack")


def azure_own_location(inputs: Mapping[str, Any], type_token: str = "") -> Location | None:
    value = reveal(inputs.get("location"))
    if value is None or value == "":
        return None
    if is_unknown(value):
        return Location("azure", "unknown", source="input location not known during preview")
    normalized = normalize_azure_location(str(value))
    if normalized == "global":
        if type_token in AZURE_GLOBAL_TYPES:
            return Location("azure", "global", source="location global")
        return Location("azure", "unknown", source=f"location 'global' on {type_token or 'a type'} that is a regional service, so it names no place")
    return Location("azure", "located", normalized, "input location", azure_cloud_of(normalized))


@dataclass
class GraphResource:
    """The parts of a resource the resolver needs, whatever it came from."""

    urn: str
    type: str
    inputs: Mapping[str, Any]
    provider_inputs: Mapping[str, Any] | None  # None = no provider information (the stack's config applies)
    custom: bool = True
    parent: str | None = None
    default_provider: bool = False
    provider_missing: bool = False  # a provider reference that resolves to nothing (fails closed)


class LocationResolver:
    """Resolves every resource of a graph, so children can inherit from their ARM parents."""

    def __init__(self, resources: list[GraphResource], stack_config: Mapping[str, Any]) -> None:
        self._resources = resources
        self._config = stack_config
        self._azure_by_name: dict[tuple[str, str], GraphResource] = {}
        self._cache: dict[str, Location] = {}
        for res in resources:
            if cloud_of_type(res.type) != "azure":
                continue
            if azure_own_location(res.inputs, res.type) is None:
                continue
            for key, value in res.inputs.items():
                value = reveal(value)
                if key.endswith("Name") and isinstance(value, str) and not is_unknown(value):
                    self._azure_by_name.setdefault((key, value), res)
        self._clusters = [r for r in resources if r.type in _CLUSTER_TYPES]

    def resolve(self, res: GraphResource) -> Location:
        if res.urn in self._cache:
            return self._cache[res.urn]
        location = self._resolve(res)
        self._cache[res.urn] = location
        return location

    def _resolve(self, res: GraphResource) -> Location:
        cloud = cloud_of_type(res.type)
        if not res.custom or cloud in ("none", "provider"):
            return NOT_LOCATED
        if cloud == "aws":
            return aws_location(res.type, res.inputs, res.provider_inputs, self._config, res.default_provider, res.provider_missing)
        if cloud == "azure":
            return self._azure(res)
        return self._kubernetes()

    def _azure(self, res: GraphResource) -> Location:
        own = azure_own_location(res.inputs, res.type)
        if own is not None:
            return own
        # An ARM child names its parent by the parent's own name input (accountName, vaultName...).
        for key, value in sorted(res.inputs.items(), key=lambda kv: kv[0] == "resourceGroupName"):
            value = reveal(value)
            if not (key.endswith("Name") and isinstance(value, str)):
                continue
            parent = self._azure_by_name.get((key, value))
            if parent is not None and parent.urn != res.urn:
                inherited = azure_own_location(parent.inputs, parent.type)
                if inherited is not None:
                    source = f"inherited from {parent.type.rsplit(':', 1)[-1]} '{value}'"
                    return Location("azure", inherited.status, inherited.region, source, inherited.partition)
        if res.type in _AZURE_LOCATIONLESS_TYPES:
            return Location("azure", "global", source="extension resource without a location")
        return Location("azure", "unknown", source="no location on the resource or a parent in the stack")

    def _kubernetes(self) -> Location:
        regions = {self.resolve(c) for c in self._clusters}
        if len(regions) == 1:
            loc = next(iter(regions))
            return Location("kubernetes", loc.status, loc.region, "cluster location", loc.partition)
        return Location("kubernetes", "unknown", source="cluster not found in the stack")


_CLUSTER_TYPES = frozenset({"aws:eks/cluster:Cluster", "azure-native:containerservice:ManagedCluster"})

# Extension resources that Azure places on another resource and that have no location of their
# own: they live with their scope.
_AZURE_LOCATIONLESS_TYPES = frozenset(
    {
        "azure-native:authorization:RoleAssignment",
        "azure-native:monitor:DiagnosticSetting",
        "azure-native:monitor:DataCollectionRuleAssociation",  # on its resourceUri (the AKS cluster)
        "azure-native:consumption:Budget",
        "azure-native:authorization:ManagementLockAtResourceGroupLevel",
    }
)


def provider_inputs_from_json(value: Any) -> Any:
    """Provider resources JSON-encode their non-string inputs (e.g. aws defaultTags)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
