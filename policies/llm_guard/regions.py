"""Where clouds have regions, and which services have none.

One table per fact. Sources:
- AWS partitions and regions: botocore ``endpoints.json`` (boto3 1.44); a test cross-checks
  this table against the installed botocore so a stale entry is caught.
- Azure regions and region pairs: "Azure regions list" and "Cross-region replication in Azure"
  on learn.microsoft.com; China cloud regions from the Azure China 21Vianet docs.
- Global (region-less) AWS services: AWS General Reference, "Global services".
"""

from __future__ import annotations

from typing import Final

AWS_PARTITION_REGIONS: Final[dict[str, frozenset[str]]] = {
    "aws": frozenset(
        {
            "af-south-1",
            "ap-east-1",
            "ap-east-2",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-south-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "ap-southeast-5",
            "ap-southeast-6",
            "ap-southeast-7",
            "ca-central-1",
            "ca-west-1",
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "il-central-1",
            "me-central-1",
            "me-south-1",
            "mx-central-1",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
        }
    ),
    "aws-cn": frozenset({"cn-north-1", "cn-northwest-1"}),
    "aws-us-gov": frozenset({"us-gov-east-1", "us-gov-west-1"}),
}


def aws_partition_of(region: str) -> str | None:
    """The partition a region belongs to, or None for a region no partition knows."""
    for partition, regions in AWS_PARTITION_REGIONS.items():
        if region in regions:
            return partition
    return None


# azure-native provider `environment` values (see pulumi_azure_native.ProviderArgs).
AZURE_CLOUD_REGIONS: Final[dict[str, frozenset[str]]] = {
    "public": frozenset(
        {
            "australiacentral",
            "australiacentral2",
            "australiaeast",
            "australiasoutheast",
            "austriaeast",
            "belgiumcentral",
            "brazilsouth",
            "brazilsoutheast",
            "canadacentral",
            "canadaeast",
            "centralindia",
            "centralus",
            "chilecentral",
            "eastasia",
            "eastus",
            "eastus2",
            "francecentral",
            "francesouth",
            "germanynorth",
            "germanywestcentral",
            "indonesiacentral",
            "israelcentral",
            "italynorth",
            "japaneast",
            "japanwest",
            "koreacentral",
            "koreasouth",
            "malaysiawest",
            "mexicocentral",
            "newzealandnorth",
            "northcentralus",
            "northeurope",
            "norwayeast",
            "norwaywest",
            "polandcentral",
            "qatarcentral",
            "southafricanorth",
            "southafricawest",
            "southcentralus",
            "southeastasia",
            "southindia",
            "spaincentral",
            "swedencentral",
            "swedensouth",
            "switzerlandnorth",
            "switzerlandwest",
            "uaecentral",
            "uaenorth",
            "uksouth",
            "ukwest",
            "westcentralus",
            "westeurope",
            "westindia",
            "westus",
            "westus2",
            "westus3",
        }
    ),
    "china": frozenset(
        {"chinaeast", "chinaeast2", "chinaeast3", "chinanorth", "chinanorth2", "chinanorth3"}
    ),
    "usgovernment": frozenset(
        {"usgovarizona", "usgovtexas", "usgovvirginia", "usdodcentral", "usdodeast"}
    ),
}

# Access-restricted regions: "restricted to support specific customer scenarios, such as in-country
# disaster recovery". A subscription deploys there only after Microsoft (21Vianet in China) grants
# it access on request ("Azure region access request process", reserved-access regions); without
# that grant ARM refuses every resource. Sources, read 2026-11-30: China: docs.azure.cn/en-us/
# reliability/regions-list and learn.microsoft.com/azure/china/overview-regions (China East 3*;
# China North 3 is the only China region with availability zones, docs.azure.cn/en-us/reliability/
# availability-zones-region-support); public: learn.microsoft.com/azure/reliability/regions-list
# (MicrosoftDocs/reliability-docs articles/reliability/regions-list.md, ms.date 09/23/2025).
# US Government: no region is marked restricted in the documents read.
AZURE_ACCESS_RESTRICTED_REGIONS: Final[dict[str, frozenset[str]]] = {
    "public": frozenset(
        {
            "australiacentral2",
            "brazilsoutheast",
            "francesouth",
            "germanynorth",
            "norwaywest",
            "southafricawest",
            "swedensouth",
            "switzerlandwest",
            "uaecentral",
        }
    ),
    "china": frozenset({"chinaeast3"}),
    "usgovernment": frozenset(),
}


def is_access_restricted(location: str) -> bool:
    loc = normalize_azure_location(location)
    return any(loc in regions for regions in AZURE_ACCESS_RESTRICTED_REGIONS.values())

# Geo-redundant storage and Postgres geo-backups replicate to the paired region. Regions absent
# from this table have no pair (GRS there is either unavailable or uses a non-paired secondary),
# so a geo-redundant option in them is treated as leaving to an unknown place.
AZURE_REGION_PAIRS: Final[dict[str, str]] = {
    "australiacentral": "australiacentral2",
    "australiacentral2": "australiacentral",
    "australiaeast": "australiasoutheast",
    "australiasoutheast": "australiaeast",
    "brazilsouth": "southcentralus",
    "brazilsoutheast": "brazilsouth",
    "canadacentral": "canadaeast",
    "canadaeast": "canadacentral",
    "centralindia": "southindia",
    "southindia": "centralindia",
    "westindia": "southindia",
    "centralus": "eastus2",
    "eastus2": "centralus",
    "eastus": "westus",
    "westus": "eastus",
    "northcentralus": "southcentralus",
    "southcentralus": "northcentralus",
    "westus2": "westcentralus",
    "westcentralus": "westus2",
    "westus3": "eastus",
    "eastasia": "southeastasia",
    "southeastasia": "eastasia",
    "francecentral": "francesouth",
    "francesouth": "francecentral",
    "germanywestcentral": "germanynorth",
    "germanynorth": "germanywestcentral",
    "japaneast": "japanwest",
    "japanwest": "japaneast",
    "koreacentral": "koreasouth",
    "koreasouth": "koreacentral",
    "northeurope": "westeurope",
    "westeurope": "northeurope",
    "norwayeast": "norwaywest",
    "norwaywest": "norwayeast",
    "southafricanorth": "southafricawest",
    "southafricawest": "southafricanorth",
    "swedencentral": "swedensouth",
    "swedensouth": "swedencentral",
    "switzerlandnorth": "switzerlandwest",
    "switzerlandwest": "switzerlandnorth",
    "uaenorth": "uaecentral",
    "uaecentral": "uaenorth",
    "uksouth": "ukwest",
    "ukwest": "uksouth",
    "chinaeast": "chinanorth",
    "chinanorth": "chinaeast",
    "chinaeast2": "chinanorth2",
    "chinanorth2": "chinaeast2",
    "chinaeast3": "chinanorth3",
    "chinanorth3": "chinaeast3",
    "usgovvirginia": "usgovtexas",
    "usgovtexas": "usgovvirginia",
    "usgovarizona": "usgovtexas",
}


def normalize_azure_location(location: str) -> str:
    """'West Europe' and 'westeurope' are the same place to Azure."""
    return "".join(location.split()).lower()


def azure_cloud_of(location: str) -> str | None:
    loc = normalize_azure_location(location)
    for cloud, regions in AZURE_CLOUD_REGIONS.items():
        if loc in regions:
            return cloud
    return None


# Pulumi type-token prefixes of AWS services that have no region. Route 53 Resolver is regional,
# hence the explicit exception below; WAFv2 is global only with scope CLOUDFRONT (decided on the
# resource's inputs, see `location.resolve_location`).
AWS_GLOBAL_TYPE_PREFIXES: Final[tuple[str, ...]] = (
    "aws:iam/",
    "aws:organizations/",
    "aws:budgets/",
    "aws:costexplorer/",
    "aws:cur/",
    "aws:cloudfront/",
    "aws:route53/",
    "aws:route53domains/",
    "aws:globalaccelerator/",
    "aws:shield/",
    "aws:waf/",
    "aws:account/",
    "aws:health/",
    "aws:support/",
)
AWS_REGIONAL_EXCEPTIONS: Final[tuple[str, ...]] = ("aws:route53/resolver",)


def is_aws_global_type(type_token: str) -> bool:
    if any(type_token.startswith(p) for p in AWS_REGIONAL_EXCEPTIONS):
        return False
    return type_token.startswith(AWS_GLOBAL_TYPE_PREFIXES)


# ------------------------------------------------------------------ regions revealed by hostnames

# DNS suffixes of AWS and Azure endpoints. A region name that appears as a label (or as the tail
# of a label, like `s3-us-west-2` or `s3-website-eu-west-1`) of a host under one of these suffixes
# is where that endpoint lives: `*.us-east-1.elb.amazonaws.com`, `bedrock-runtime.us-west-2.
# amazonaws.com`, `*.westus.azurecontainerapps.io`, `*.hcp.eastus.azmk8s.io`,
# `westus.api.cognitive.microsoft.com`. Sources: AWS General Reference "Service endpoints" and
# "Amazon EC2 instance hostname types"; Azure "Azure services DNS zone configuration" (private DNS
# zone values) on learn.microsoft.com, both read 2026-05.
AWS_DNS_SUFFIXES: Final[tuple[str, ...]] = ("amazonaws.com", "amazonaws.com.cn", "api.aws", "on.aws", "aws.dev")
AZURE_DNS_SUFFIXES: Final[tuple[str, ...]] = (
    "azure.com",
    "azure.net",
    "windows.net",
    "microsoft.com",
    "azmk8s.io",
    "azurecontainerapps.io",
    "azurewebsites.net",
    "cloudapp.net",
    "azurecr.io",
    "azure.cn",
    "chinacloudapi.cn",
    "usgovcloudapi.net",
)
# Hostnames that carry a region by convention rather than by name: the us-east-1 EC2 DNS names.
_AWS_IMPLICIT_REGION_DOMAINS: Final[dict[str, str]] = {"compute-1.amazonaws.com": "us-east-1", "ec2.internal": "us-east-1"}

_ALL_AWS_REGIONS: Final[frozenset[str]] = frozenset().union(*AWS_PARTITION_REGIONS.values())
_ALL_AZURE_REGIONS: Final[frozenset[str]] = frozenset().union(*AZURE_CLOUD_REGIONS.values())


def _region_labels(host: str, suffix: str, regions: frozenset[str]) -> str | None:
    labels = host[: -len(suffix)].rstrip(".").split(".")
    for label in reversed(labels):  # the region sits nearest the suffix
        if label in regions:
            return label
        for region in regions:
            if label.endswith("-" + region):
                return region
    return None


def region_of_hostname(host: str) -> tuple[str, str] | None:
    """("aws"|"azure", region) when an AWS/Azure endpoint hostname says where it lives."""
    host = host.strip().rstrip(".").lower()
    for domain, region in _AWS_IMPLICIT_REGION_DOMAINS.items():
        if host == domain or host.endswith("." + domain):
            return "aws", region
    if host.endswith(".compute.internal"):
        region = _region_labels(host, "compute.internal", _ALL_AWS_REGIONS)
        return ("aws", region) if region else None
    for suffix in AWS_DNS_SUFFIXES:
        if host.endswith("." + suffix):
            region = _region_labels(host, suffix, _ALL_AWS_REGIONS)
            return ("aws", region) if region else None
    for suffix in AZURE_DNS_SUFFIXES:
        if host.endswith("." + suffix):
            region = _region_labels(host, suffix, _ALL_AZURE_REGIONS)
            return ("azure", region) if region else None
    return None


# Azure OpenAI / AI Services endpoints name the account, not the region: the account must be one of
# the stack (matched on customSubDomainName), whose location the region rule checks.
AZURE_AI_ACCOUNT_HOST_SUFFIXES: Final[tuple[str, ...]] = (
    ".openai.azure.com",
    ".cognitiveservices.azure.com",
    ".services.ai.azure.com",
    ".openai.azure.cn",
    ".cognitiveservices.azure.cn",
)


# ------------------------------------------------------------------ Azure location "global"

# azure-native types whose ARM resource provider only accepts location "global": they hold no
# customer data in a region (DNS, alerting metadata) or are edges (checked by no-global-edge).
# A `global` location on any other type is not a place: it fails closed. Sources: the ARM
# templates reference on learn.microsoft.com for each type ("location: 'global'"), read 2026-05.
AZURE_GLOBAL_TYPES: Final[frozenset[str]] = frozenset(
    {
        "azure-native:privatedns:PrivateZone",
        "azure-native:privatedns:VirtualNetworkLink",
        "azure-native:dns:Zone",
        "azure-native:trafficmanager:Profile",  # DNS only
        "azure-native:frontdoor:FrontDoor",
        "azure-native:frontdoor:Policy",  # Front Door WAF policy
        "azure-native:cdn:Profile",
        "azure-native:cdn:AFDEndpoint",
        "azure-native:cdn:Endpoint",
        "azure-native:monitor:ActionGroup",
        "azure-native:monitor:ActivityLogAlert",
        "azure-native:monitor:MetricAlert",
    }
)
