"""Where Microsoft offers each Azure OpenAI model version, per deployment type (SKU) and region,
when each version retires, and how a stack picks and checks a deployment under a residency
profile.

Sources (read 2026-11-30; Microsoft changes these tables often, re-check before adding a row):
- Model summary tables, "Azure OpenAI in Foundry Models" > model availability, kept in
  MicrosoftDocs/azure-ai-docs articles/ai-foundry/openai/includes/model-matrix/:
  standard-models.md (ms.date 08/12/2025, commit 3551178f), standard-embeddings.md (ms.date
  04/01/2025, commit 0e6b208c), datazone-standard.md (commit 8f2b68ee, the table with the gpt-5.x
  and embedding columns). https://learn.microsoft.com/azure/ai-foundry/openai/concepts/models
- Retirements: "Azure OpenAI model deprecations and retirements", the table in
  articles/ai-foundry/openai/includes/retirement/models.md (commit 31c50ba1).
  https://learn.microsoft.com/azure/ai-foundry/openai/concepts/model-retirements

A stack may declare availability for a model version or SKU this table does not hold
(`regions` on the deployment); it never loosens a row the table does hold.

The tables are per Azure cloud: Microsoft's matrix above describes the public cloud only. The
Azure China cloud (operated by 21Vianet) publishes its own model list on docs.azure.cn; the
sovereign clouds' rows live in SOVEREIGN_AVAILABILITY and nothing from the public matrix is
assumed there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from policies.llm_guard.profiles import ResidencyProfile
from policies.llm_guard.regions import normalize_azure_location
from policies.llm_guard.routing import AZURE_DATA_ZONE_REGIONS, AZURE_OPENAI_SKU_SCOPE

# A deployment whose model retires within this many days still plans, with a warning.
RETIREMENT_WARNING_DAYS = 90

_DZ_US = frozenset({"centralus", "eastus", "eastus2", "northcentralus", "southcentralus", "westus", "westus3"})
_DZ_EU_ALL = frozenset({"francecentral", "germanywestcentral", "italynorth", "polandcentral", "spaincentral", "swedencentral", "westeurope"})
_DZ_ALL = _DZ_US | _DZ_EU_ALL
_STD_GPT4O_2024_11_20 = frozenset(
    {"australiaeast", "canadaeast", "eastus", "eastus2", "francecentral", "japaneast", "northcentralus", "norwayeast", "southcentralus", "southindia", "swedencentral", "switzerlandnorth", "uksouth", "westus", "westus3"}
)
_STD_US_SWEDEN = frozenset({"eastus", "eastus2", "northcentralus", "southcentralus", "swedencentral", "westus", "westus3"})

# (model, version) -> SKU -> regions offering it. A SKU missing from a row is not catalogued: a
# stack may declare its regions with `regions`.
AVAILABILITY: Final[dict[tuple[str, str], dict[str, frozenset[str]]]] = {
    ("gpt-5.1", "2025-11-13"): {"DataZoneStandard": frozenset({"eastus", "eastus2", "francecentral", "swedencentral"})},
    ("gpt-5", "2025-08-07"): {"DataZoneStandard": _DZ_ALL},
    ("gpt-5-mini", "2025-08-07"): {"DataZoneStandard": _DZ_ALL},
    ("gpt-4.1", "2025-04-14"): {"DataZoneStandard": _DZ_ALL},
    ("gpt-4.1-mini", "2025-04-14"): {"DataZoneStandard": _DZ_ALL},
    ("gpt-4o", "2024-11-20"): {"Standard": _STD_GPT4O_2024_11_20, "DataZoneStandard": _DZ_ALL},
    ("gpt-4o-mini", "2024-07-18"): {"Standard": _STD_US_SWEDEN, "DataZoneStandard": _DZ_ALL},
    ("text-embedding-3-large", "1"): {
        "Standard": frozenset(
            {"australiaeast", "canadaeast", "eastus", "eastus2", "francecentral", "germanywestcentral", "japaneast", "koreacentral", "norwayeast", "polandcentral", "southafricanorth", "southeastasia", "southindia", "spaincentral", "swedencentral", "switzerlandnorth", "uaenorth", "uksouth", "westus3"}
        ),
        # The Data Zone table lists the embedding models for US regions only (no EU region).
        "DataZoneStandard": _DZ_US,
    },
    ("text-embedding-3-small", "1"): {
        "Standard": frozenset({"australiaeast", "canadaeast", "eastus", "eastus2", "japaneast", "switzerlandnorth", "uaenorth", "westus"}),
        "DataZoneStandard": _DZ_US,
    },
    ("text-embedding-ada-002", "2"): {
        "Standard": frozenset(
            {"australiaeast", "brazilsouth", "canadaeast", "eastus", "eastus2", "francecentral", "japaneast", "northcentralus", "norwayeast", "southafricanorth", "southcentralus", "southindia", "swedencentral", "switzerlandnorth", "uaenorth", "uksouth", "westeurope", "westus", "westus3"}
        ),
        "DataZoneStandard": _DZ_US,
    },
}


# Sovereign clouds: (model, version) -> SKU -> regions, from that cloud's own documentation.
# Azure China: NO row is catalogued. The China cloud's Azure OpenAI model page
# (https://docs.azure.cn/en-us/ai-foundry/openai/concepts/models) was not available to verify
# on 2026-11-30 (no stored copy of its model/region table; searched the docs.azure.cn corpus for
# the model summary, China North 3 / China East 2 rows and deployment types), so every China
# deployment is "unknown": refused unless the stack declares where it is served with `regions`
# (after checking that page or the portal's model list for its region), and then planned with a
# warning. Only regional deployment types (Standard, ProvisionedManaged) keep prompts in the
# China cloud's region; the `cn` profile refuses Data Zone and Global types (Data Zones are US
# and EU only). Add rows here, with the page and read date, once verified.
SOVEREIGN_AVAILABILITY: Final[dict[str, dict[tuple[str, str], dict[str, frozenset[str]]]]] = {
    "china": {},
    "usgovernment": {},
}
SOVEREIGN_MODEL_PAGES: Final[dict[str, str]] = {
    "china": "https://docs.azure.cn/en-us/ai-foundry/openai/concepts/models",
    "usgovernment": "https://learn.microsoft.com/azure/ai-foundry/openai/azure-government",
}


def availability_table(cloud: str) -> dict[tuple[str, str], dict[str, frozenset[str]]]:
    """The availability rows of an Azure cloud (public: Microsoft's global model matrix)."""
    return AVAILABILITY if cloud == "public" else SOVEREIGN_AVAILABILITY.get(cloud, {})


@dataclass(frozen=True)
class ModelFamily:
    """How a model is called: reasoning models (GPT-5 series, o-series) take
    `max_completion_tokens` and reject `max_tokens` and sampling parameters (`temperature`,
    `top_p`, penalties, `logprobs`), and Microsoft documents them on the v1 API only."""

    name: str
    reasoning: bool
    api_version: str  # the data-plane API version the gateway calls the deployment with


# Sources (read 2026-11-30): "Azure OpenAI reasoning models", MicrosoftDocs/azure-ai-docs
# articles/foundry/openai/how-to/reasoning.md (ms.date 02/24/2026): the "API & feature support"
# table's API Version row lists only `v1` for every GPT-5 series model (gpt-5, gpt-5-mini,
# gpt-5.1, ...), and "Not Supported" lists temperature, top_p, presence_penalty,
# frequency_penalty, logprobs, top_logprobs, logit_bias, max_tokens.
# https://learn.microsoft.com/azure/ai-foundry/openai/how-to/reasoning
# Other chat and embedding models: the GA data-plane version 2024-10-21
# (https://learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle).
# Limited access: the same article's Availability table says "Access is no longer restricted"
# for gpt-5.1, gpt-5 and "No access request needed" for gpt-5-mini; newer ones (gpt-5.2, gpt-5.4)
# need the limited-access application (aka.ms/oai/gpt5access) before a deployment can be created.
GPT5_REASONING = ModelFamily("GPT-5 series (reasoning)", reasoning=True, api_version="v1")
GPT4_CHAT = ModelFamily("GPT-4o / GPT-4.1 chat", reasoning=False, api_version="2024-10-21")
EMBEDDINGS = ModelFamily("embeddings", reasoning=False, api_version="2024-10-21")

MODEL_FAMILIES: Final[dict[str, ModelFamily]] = {
    "gpt-5.1": GPT5_REASONING,
    "gpt-5": GPT5_REASONING,
    "gpt-5-mini": GPT5_REASONING,
    "gpt-4.1": GPT4_CHAT,
    "gpt-4.1-mini": GPT4_CHAT,
    "gpt-4o": GPT4_CHAT,
    "gpt-4o-mini": GPT4_CHAT,
    "text-embedding-3-large": EMBEDDINGS,
    "text-embedding-3-small": EMBEDDINGS,
    "text-embedding-ada-002": EMBEDDINGS,
}


@dataclass(frozen=True)
class Retirement:
    on: dt.date
    firm: bool  # False: "no earlier than" (Microsoft has not scheduled it yet)
    replacement: str | None = None


# (model, version) -> retirement. For gpt-4o 2024-11-20 the table gives one date for every
# deployment type; for 2024-05-13/08-06 and gpt-4o-mini Standard retired on 2026-03-31.
RETIREMENTS: Final[dict[tuple[str, str], Retirement]] = {
    ("gpt-5.1", "2025-11-13"): Retirement(dt.date(2027, 5, 15), True),
    ("gpt-5", "2025-08-07"): Retirement(dt.date(2027, 2, 6), True),
    ("gpt-5-mini", "2025-08-07"): Retirement(dt.date(2027, 2, 6), True),
    ("gpt-4.1", "2025-04-14"): Retirement(dt.date(2026, 10, 14), True, "gpt-5"),
    ("gpt-4.1-mini", "2025-04-14"): Retirement(dt.date(2026, 10, 14), True, "gpt-5-mini"),
    ("gpt-4o", "2024-11-20"): Retirement(dt.date(2026, 10, 1), True, "gpt-5.1"),
    ("gpt-4o-mini", "2024-07-18"): Retirement(dt.date(2026, 10, 1), True, "gpt-4.1-mini"),
    ("text-embedding-3-large", "1"): Retirement(dt.date(2027, 4, 15), False),
    ("text-embedding-3-small", "1"): Retirement(dt.date(2027, 4, 15), False),
    ("text-embedding-ada-002", "2"): Retirement(dt.date(2027, 4, 15), False),
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
    family: ModelFamily
    # Served where the stack's `regions` says, not where a documented catalog row says.
    declared_only: bool = False


def _where_offered(model: str, version: str, table: dict[tuple[str, str], dict[str, frozenset[str]]] | None = None) -> str:
    row = (AVAILABILITY if table is None else table).get((model, version), {})
    return "; ".join(f"{sku} in {', '.join(sorted(regions))}" for sku, regions in sorted(row.items()) if regions) or "nowhere"


def resolve_deployment(
    name: str,
    model: str,
    version: str,
    sku: str,
    location: str,
    profile: ResidencyProfile,
    regions: Iterable[str] | None = None,
    today: dt.date | None = None,
    cloud: str = "public",
) -> ResolvedDeployment:
    """`auto` picks Standard: processed in the resource's geography, the strictest type.
    `cloud` is the Azure cloud of the account (azure-native:environment): each cloud has its own
    availability table, and a sovereign cloud never inherits the public matrix."""
    location = normalize_azure_location(location)
    today = today or dt.datetime.now(dt.UTC).date()
    chosen = "Standard" if sku == "auto" else sku
    scope = AZURE_OPENAI_SKU_SCOPE.get(chosen)
    if scope is None:
        raise DeploymentChoiceError("sku", sku, f"is not an Azure OpenAI deployment type; known: auto, {', '.join(AZURE_OPENAI_SKU_SCOPE)}")
    if chosen not in profile.allowed_azure_openai_skus():
        raise DeploymentChoiceError("sku", sku, f"processes prompts outside residency profile '{profile.name}'; allowed: {', '.join(profile.allowed_azure_openai_skus())}")
    if scope == "datazone" and not profile.allow_global_processing:
        zone = profile.azure_openai_data_zone
        if zone is None or location not in AZURE_DATA_ZONE_REGIONS.get(zone, frozenset()):
            raise DeploymentChoiceError("sku", sku, f"the account's region {location} is not in the {str(zone).upper()} data zone of profile '{profile.name}'")
    # RETIREMENTS is the public cloud's schedule; sovereign clouds publish their own.
    retirement = RETIREMENTS.get((model, version)) if cloud == "public" else None
    if retirement is not None and retirement.firm and retirement.on <= today:
        instead = f"; Microsoft names {retirement.replacement} as its replacement" if retirement.replacement else ""
        raise DeploymentChoiceError("version", version, f"{model} {version} retired on {retirement.on.isoformat()} (Azure OpenAI model retirements){instead}")
    table = availability_table(cloud)
    row = table.get((model, version))
    if row is not None and chosen in row:
        # Catalogued: the cloud's own documentation decides; a stack cannot declare more regions.
        if location not in row[chosen]:
            raise DeploymentChoiceError("sku", chosen, f"{model} {version} is not offered as {chosen} in {location}; the {cloud} cloud's model list gives {_where_offered(model, version, table)}")
    elif regions is None:
        if cloud != "public":
            page = SOVEREIGN_MODEL_PAGES.get(cloud, "that cloud's documentation")
            raise DeploymentChoiceError(
                "model",
                model,
                f"{model} {version} ({chosen}) has no verified availability row for the Azure {cloud} cloud (components/azure/openai_catalog.py "
                f"SOVEREIGN_AVAILABILITY; the public cloud's matrix does not apply there): check {page} for {location} and declare it with "
                f"`regions: [{location}]` on the deployment",
            )
        what = f"has no {chosen} row" if row is not None else "is not"
        known = ", ".join(f"{m} {v}" for m, v in sorted(table))
        raise DeploymentChoiceError("model", model, f"version {version} {what} in the Azure OpenAI catalog (components/azure/openai_catalog.py; known: {known}); declare where it is served with `regions`")
    elif location not in {normalize_azure_location(r) for r in regions}:
        raise DeploymentChoiceError("model", model, f"{model} {version} has no {chosen} deployments in {location}; regions declared: {', '.join(sorted(regions))}")
    family = MODEL_FAMILIES.get(model)
    if family is None:
        # `regions` can declare where a model is served, not how it is called.
        raise DeploymentChoiceError("model", model, f"has no model family in the Azure OpenAI catalog (components/azure/openai_catalog.py MODEL_FAMILIES; known: {', '.join(sorted(MODEL_FAMILIES))}): the gateway must know whether it is a reasoning model and which API version serves it")
    declared_only = not (row is not None and chosen in row)
    return ResolvedDeployment(name, model, version, chosen, family, declared_only=declared_only)


def declared_availability_warning(deployment: ResolvedDeployment, cloud: str, location: str) -> str | None:
    """A warning for a deployment planned on the stack's word (`regions`) alone."""
    if not deployment.declared_only:
        return None
    page = SOVEREIGN_MODEL_PAGES.get(cloud, "https://learn.microsoft.com/azure/ai-foundry/openai/concepts/models")
    return (
        f"Azure OpenAI {deployment.model} {deployment.version} as {deployment.sku} in {location} ({cloud} cloud) is planned on the stack's "
        f"`regions` alone, not on a catalogued row: if the model is not offered there, `pulumi up` fails creating the deployment; see {page}"
    )


def retirement_warning(model: str, version: str, today: dt.date | None = None) -> str | None:
    """A warning when a (not yet retired) version retires within RETIREMENT_WARNING_DAYS."""
    today = today or dt.datetime.now(dt.UTC).date()
    retirement = RETIREMENTS.get((model, version))
    if retirement is None or (retirement.on <= today and retirement.firm):
        return None
    days = (retirement.on - today).days
    if days >= RETIREMENT_WARNING_DAYS:
        return None
    when = f"retires on {retirement.on.isoformat()}" if retirement.firm else f"may retire from {retirement.on.isoformat()}"
    return f"Azure OpenAI {model} {version} {when} ({days} days): plan the move to a newer version"
