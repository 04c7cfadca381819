"""Which Azure OpenAI models (at pinned versions) a region serves with regional (Standard)
deployments, and how a stack picks the deployment type under a residency profile.

Source: learn.microsoft.com "Azure OpenAI model availability" (Standard deployment tables), as
of late 2025. Availability changes often: a stack may override it per deployment (`regions`).
(verify) before relying on an entry for a new region. Data-zone SKUs are offered in the regions
of their zone (routing.AZURE_DATA_ZONE_REGIONS).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from policies.llm_guard.profiles import ResidencyProfile
from policies.llm_guard.regions import normalize_azure_location
from policies.llm_guard.routing import AZURE_DATA_ZONE_REGIONS, AZURE_OPENAI_SKU_SCOPE

_EU_STANDARD = ("swedencentral", "francecentral", "westeurope", "germanywestcentral", "northeurope", "italynorth", "polandcentral", "spaincentral")
_US_STANDARD = ("eastus", "eastus2", "northcentralus", "southcentralus", "westus", "westus3")

# (model, version) -> regions serving a Standard deployment
STANDARD_REGIONS: Final[dict[tuple[str, str], frozenset[str]]] = {
    ("gpt-4o", "2024-11-20"): frozenset({"swedencentral", *_US_STANDARD}),
    ("gpt-4o-mini", "2024-07-18"): frozenset({"swedencentral", *_US_STANDARD}),
    ("gpt-4.1", "2025-04-14"): frozenset({"swedencentral", "eastus2", "northcentralus", "southcentralus", "westus3"}),
    ("gpt-4.1-mini", "2025-04-14"): frozenset({"swedencentral", "eastus2", "northcentralus", "southcentralus", "westus3"}),
    ("text-embedding-3-large", "1"): frozenset({*_EU_STANDARD, *_US_STANDARD, "uksouth", "switzerlandnorth", "norwayeast", "japaneast", "canadaeast"}),
    ("text-embedding-3-small", "1"): frozenset({*_EU_STANDARD, *_US_STANDARD, "uksouth", "switzerlandnorth", "norwayeast", "japaneast", "canadaeast"}),
    ("text-embedding-ada-002", "2"): frozenset({*_EU_STANDARD, *_US_STANDARD, "uksouth", "switzerlandnorth", "norwayeast", "japaneast", "canadaeast", "chinaeast2", "chinanorth3"}),
}


class DeploymentChoiceError(ValueError):
    def __init__(self, field: str, value: object, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


@dataclass(frozen=True)
class ResolvedDeployment:
    name: str
    model: str
    version: str
    sku: str


def resolve_deployment(
    name: str,
    model: str,
    version: str,
    sku: str,
    location: str,
    profile: ResidencyProfile,
    regions: Iterable[str] | None = None,
) -> ResolvedDeployment:
    """`auto` picks Standard: processed in the resource's geography, the strictest type."""
    location = normalize_azure_location(location)
    chosen = "Standard" if sku == "auto" else sku
    scope = AZURE_OPENAI_SKU_SCOPE.get(chosen)
    if scope is None:
        raise DeploymentChoiceError("sku", sku, f"is not an Azure OpenAI deployment type; known: auto, {', '.join(AZURE_OPENAI_SKU_SCOPE)}")
    if chosen not in profile.allowed_azure_openai_skus():
        raise DeploymentChoiceError("sku", sku, f"processes prompts outside residency profile '{profile.name}'; allowed: {', '.join(profile.allowed_azure_openai_skus())}")
    if scope == "datazone":
        zone = profile.azure_openai_data_zone
        if zone is None or location not in AZURE_DATA_ZONE_REGIONS.get(zone, frozenset()):
            raise DeploymentChoiceError("sku", sku, f"the account's region {location} is not in the {str(zone).upper()} data zone of profile '{profile.name}'")
        return ResolvedDeployment(name, model, version, chosen)
    if scope == "regional":
        offered = frozenset(normalize_azure_location(r) for r in regions) if regions is not None else STANDARD_REGIONS.get((model, version))
        if offered is None:
            known = ", ".join(f"{m} {v}" for m, v in sorted(STANDARD_REGIONS))
            raise DeploymentChoiceError("model", model, f"version {version} is not in the Azure OpenAI catalog (components/azure/openai_catalog.py; known: {known}); declare where it is served with `regions`")
        if location not in offered:
            raise DeploymentChoiceError("model", model, f"{model} {version} has no {chosen} deployments in {location}; regions serving it: {', '.join(sorted(offered))}")
    return ResolvedDeployment(name, model, version, chosen)
