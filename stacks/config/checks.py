"""Reading and checking a stack's config: `load_config` and every rule across sections."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import (
    ValidationError,
)

from components.azure.clouds import CLOUDS, app_redis_zone
from policies.llm_guard.profiles import (
    BUILTIN_PROFILES,
    ResidencyProfile,
    UnknownProfileError,
)
from policies.llm_guard.regions import AWS_PARTITION_REGIONS, AZURE_ACCESS_RESTRICTED_REGIONS, AZURE_CLOUD_REGIONS, normalize_azure_location
from policies.llm_guard.routing import API_PROVIDERS, canonical_provider
from stacks.config.base import _AWS_TAG_CHARS, _AZURE_TAG_FORBIDDEN, _K8S_LABEL_NAME, NAMESPACE, Cloud, Phase
from stacks.config.beta import VECTOR_ENGINES, BetaConfig
from stacks.config.hygiene import PROVIDER_CREDENTIALS, _decode, _problems_from, looks_like_credential
from stacks.config.platform import KNOWN_KEYS, SECRET_KEYS, PlatformConfig
from stacks.config.poc import AppConfig, AppKind, api_key_config_key
from stacks.config.scale import RouteConfig, ScaleConfig, ServedModelConfig
from stacks.errors import ConfigError, ConfigProblem


def load_config(raw: Mapping[str, Any], secret_keys: set[str] | frozenset[str] = frozenset(), source: str = "stack config") -> PlatformConfig:
    """Validate the whole stack config, or raise one ConfigError listing every problem."""
    problems: list[ConfigProblem] = []
    data: dict[str, Any] = {}
    api_keys: dict[str, str] = {}
    hugging_face_token_key = None
    prefix = f"{NAMESPACE}:"
    for key, value in raw.items():
        if not key.startswith(prefix):
            if key not in secret_keys and (problem := _plain_credential(key, value)):
                problems.append(problem)
            continue
        name = key[len(prefix):]
        if name.endswith("ApiKey"):
            api_keys[name] = key
            continue
        if name in SECRET_KEYS:
            if key not in secret_keys:
                problems.append(ConfigProblem(key, "[redacted plain text]", f"must be a secret: run `pulumi config set --secret {key} <value>`"))
            hugging_face_token_key = key
            continue
        if name not in KNOWN_KEYS:
            problems.append(ConfigProblem(key, value, f"is not a known setting; known keys: {', '.join(KNOWN_KEYS)} and <provider>ApiKey secrets"))
            continue
        if key in secret_keys:
            problems.append(ConfigProblem(key, "[secret]", "must not be a secret: only the <provider>ApiKey keys hold secrets"))
            continue
        data[name] = _decode(value)

    try:
        # Strict types, read as the JSON the engine hands programs: `amount: true` is not 1.0,
        # `owner: 2024` is not '2024' (enums, networks and dates still parse from JSON strings).
        config = PlatformConfig.model_validate_json(json.dumps(data, default=str), strict=True)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, data))
        raise ConfigError(problems, source, secret_keys) from None
    except ValueError as exc:  # NaN or Infinity reached the model (json.dumps refuses them)
        problems.append(ConfigProblem(f"{NAMESPACE}:budget", None, f"numbers must be finite ({exc})"))
        raise ConfigError(problems, source, secret_keys) from None
    if problems:
        raise ConfigError(problems, source, secret_keys)

    problems.extend(_check_location(config, raw))
    try:
        config.profile  # noqa: B018 - an unknown profile was reported above; nothing more to check
    except UnknownProfileError:
        raise ConfigError(problems, source, secret_keys) from None
    problems.extend(_check_profile_rules(config))
    problems.extend(_check_tags(config))
    problems.extend(_check_instance_sizes(config))
    problems.extend(_check_mirrors(config))
    problems.extend(_check_beta(config))
    problems.extend(_check_scale(config))
    problems.extend(_check_api_keys(config, api_keys, secret_keys))
    if hugging_face_token_key and config.phase is not Phase.SCALE:
        problems.append(ConfigProblem(hugging_face_token_key, "[redacted]", "is read in phase scale only (model servers download weights with it); remove it"))
    if problems:
        raise ConfigError(problems, source, secret_keys)
    config.hugging_face_token_key = hugging_face_token_key
    config.api_key_keys = {p: f"{prefix}{api_key_config_key(p)}" for p in config.poc.api_providers}
    return config


def _plain_credential(key: str, value: Any) -> ConfigProblem | None:
    """A provider credential (or any setting named like one) given as plain text."""
    decoded = _decode(value)
    if key == "kubernetes:kubeconfig" and isinstance(decoded, str) and "\n" not in decoded and "apiVersion" not in decoded:
        return None  # a path to a kubeconfig file, not its content
    named = key in PROVIDER_CREDENTIALS or looks_like_credential(key)
    nested = isinstance(decoded, (dict, list)) and any(looks_like_credential(f"{key}.{sub}") for sub in _leaf_paths(decoded))
    if not (named or nested) or decoded in (None, "", [], {}):
        return None
    hints = {
        "aws": "an AWS profile (aws:profile), environment credentials or OIDC",
        "azure-native": "OIDC (azure-native:useOidc), a managed identity or the Azure CLI login",
    }
    hint = hints.get(key.split(":", 1)[0], "the provider's environment variables")
    return ConfigProblem(key, decoded, f"is a credential in plain text in the stack file; remove it and use {hint} (at the very least `pulumi config set --secret {key.split('.', 1)[0]} ...`)")


def _leaf_paths(value: Any, depth: int = 0) -> list[str]:
    if depth > 20:
        return []
    if isinstance(value, dict):
        return [f"{k}.{p}" if p else str(k) for k, v in value.items() for p in _leaf_paths(v, depth + 1) or [""]]
    if isinstance(value, list):
        return [p for v in value for p in _leaf_paths(v, depth + 1)]
    return []


def _check_tags(config: PlatformConfig) -> list[ConfigProblem]:
    """Tag keys and values every tagged resource of the stack's cloud (and cluster) accepts."""
    problems = []
    for name, value in config.tags.all().items():
        key = f"{NAMESPACE}:tags.{name}"
        if config.cloud is Cloud.AWS:
            if not _AWS_TAG_CHARS.fullmatch(name) or not _AWS_TAG_CHARS.fullmatch(value):
                problems.append(ConfigProblem(key, value, "AWS tag keys and values may hold letters, digits, spaces and + - = . _ : / @ only"))
        elif _AZURE_TAG_FORBIDDEN.search(name):
            problems.append(ConfigProblem(key, value, "Azure tag names may not contain < > % & \\ ? /"))
        if config.phase is Phase.SCALE and not _K8S_LABEL_NAME.fullmatch(name):
            problems.append(
                ConfigProblem(key, value, f"becomes the Kubernetes label key llm-platform.io/{name}: up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit")
            )
    return problems


# EKS node groups of this project run the AL2023_x86_64_STANDARD AMI (components/aws/eks.py): x86
# types only. Graviton families carry a 'g' after the generation (m7g, c6gn, t4g) or are a1.
_AWS_ARM_FAMILY = re.compile(r"^(a1|[a-z]+\d+g[a-z]*)\.")
_AWS_ACCELERATED_FAMILY = re.compile(r"^(p\d|g\d|inf\d|trn\d|dl\d|f\d|vt\d)")


def _check_instance_sizes(config: PlatformConfig) -> list[ConfigProblem]:
    """The database class and the system node pool type belong to the stack's cloud."""
    problems = []
    azure = config.cloud is Cloud.AZURE
    db_class = config.poc.app.database.instance_class
    if db_class and db_class.startswith("Standard_") != azure:
        allowed = "an Azure Database for PostgreSQL Flexible Server SKU (Standard_B1ms, Standard_D2ds_v5)" if azure else "an RDS instance class (db.t4g.micro, db.m7g.large)"
        problems.append(ConfigProblem(f"{NAMESPACE}:poc.app.database.instanceClass", db_class, f"is not a database size on {config.cloud.value}; use {allowed}"))
    pool_type = config.scale.system_pool.instance_type if config.scale else None
    if pool_type:
        from components.k8s.gpu import GPU_INSTANCES

        key = f"{NAMESPACE}:scale.systemPool.instanceType"
        if azure:
            if not re.fullmatch(r"Standard_[A-Z][A-Za-z0-9_]+", pool_type) or pool_type.startswith("Standard_N") or pool_type in GPU_INSTANCES:
                problems.append(ConfigProblem(key, pool_type, "must be an Azure VM size without GPUs for the AKS system pool, e.g. Standard_D4s_v5"))
        else:
            from pulumi_aws.ec2 import InstanceType

            if pool_type not in {t.value for t in InstanceType}:
                problems.append(ConfigProblem(key, pool_type, "is not an EC2 instance type (catalog: pulumi_aws.ec2.InstanceType of pulumi-aws 7.51.1); e.g. m6i.xlarge"))
            elif _AWS_ARM_FAMILY.match(pool_type) or _AWS_ACCELERATED_FAMILY.match(pool_type):
                problems.append(ConfigProblem(key, pool_type, "the system pool runs the x86_64 EKS AMI without GPUs: use an x86 general-purpose type such as m6i.xlarge or m7i.large"))
    return problems


def _check_location(config: PlatformConfig, raw: Mapping[str, Any]) -> list[ConfigProblem]:
    try:
        profile = config.profile
    except UnknownProfileError as exc:
        return [ConfigProblem(f"{NAMESPACE}:residency", config.residency, f"unknown residency profile; known: {', '.join(exc.available)} (define your own under {NAMESPACE}:residencyProfiles)")]
    if config.residency in config.residency_profiles and config.residency in BUILTIN_PROFILES:
        return [ConfigProblem(f"{NAMESPACE}:residencyProfiles.{config.residency}", config.residency, "a custom profile may not reuse a built-in profile's name")]

    problems = []
    if config.cloud is Cloud.AWS:
        region = str(raw.get("aws:region") or "")
        config.region = region
        if not region:
            return [ConfigProblem("aws:region", None, f"is required; residency profile '{profile.name}' allows {', '.join(sorted(profile.aws_regions))}")]
        if region != region.lower() and any(region.lower() in regions for regions in AWS_PARTITION_REGIONS.values()):
            problems.append(ConfigProblem("aws:region", region, f"regions are lower case: did you mean {region.lower()}?"))
        elif region not in AWS_PARTITION_REGIONS[profile.aws_partition]:
            problems.append(
                ConfigProblem(
                    "aws:region",
                    region,
                    f"residency profile '{profile.name}' needs the {profile.aws_partition} partition; allowed regions: {', '.join(sorted(profile.aws_regions))}",
                )
            )
        elif not profile.allows_aws_region(region):
            problems.append(ConfigProblem("aws:region", region, f"is outside residency profile '{profile.name}'; allowed: {', '.join(sorted(profile.aws_regions))}"))
    else:
        environment = str(raw.get("azure-native:environment") or "public")
        config.azure_environment = environment
        if environment not in AZURE_CLOUD_REGIONS:
            problems.append(ConfigProblem("azure-native:environment", environment, "must be one of public, china, usgovernment"))
        elif environment != profile.azure_cloud:
            problems.append(
                ConfigProblem(
                    "azure-native:environment",
                    environment,
                    f"residency profile '{profile.name}' needs the Azure '{profile.azure_cloud}' cloud; set azure-native:environment to {profile.azure_cloud}",
                )
            )
        location = str(raw.get("azure-native:location") or "")
        config.region = normalize_azure_location(location)
        if not location:
            problems.append(ConfigProblem("azure-native:location", None, f"is required; residency profile '{profile.name}' allows {', '.join(sorted(profile.azure_regions))}"))
        elif not profile.allows_azure_region(location):
            problems.append(ConfigProblem("azure-native:location", location, f"is outside residency profile '{profile.name}'; allowed: {', '.join(sorted(profile.azure_regions))}"))
    return problems + _check_restricted_region(config, profile)


def _check_restricted_region(config: PlatformConfig, profile: ResidencyProfile) -> list[ConfigProblem]:
    """An access-restricted Azure region only with the team's grant named in restrictedRegionAccess."""
    key = f"{NAMESPACE}:restrictedRegionAccess"
    granted = [normalize_azure_location(r) for r in config.restricted_region_access]
    if config.cloud is not Cloud.AZURE:
        return [ConfigProblem(key, config.restricted_region_access, "applies to Azure locations only; remove it")] if granted else []
    restricted = AZURE_ACCESS_RESTRICTED_REGIONS.get(config.azure_environment, frozenset())
    location = config.region
    problems = []
    if location in restricted and location not in granted:
        open_regions = sorted(profile.azure_regions - restricted)
        problems.append(
            ConfigProblem(
                "azure-native:location",
                location,
                f"is an access-restricted region, reserved for specific customer scenarios such as in-country disaster recovery (Azure regions list); "
                f"a subscription deploys there only once the cloud's operator grants it access on request. Use an unrestricted region of residency profile '{profile.name}': "
                f"{', '.join(open_regions) or '(none)'}; or, if your subscription has been granted access, set {key}: [{location}]",
            )
        )
    for i, region in enumerate(granted):
        if region != location:
            what = "is not access restricted" if region not in restricted else "is not this stack's azure-native:location"
            problems.append(ConfigProblem(f"{key}[{i}]", config.restricted_region_access[i], f"{what}; list only the restricted location this stack deploys to ({location or 'none set'})"))
    return problems


def _check_profile_rules(config: PlatformConfig) -> list[ConfigProblem]:
    profile = config.profile
    problems = []
    allowed_apis = sorted(n for n, a in config.poc.providers().items() if profile.allows_api(a))
    for index, provider in enumerate(config.poc.api_providers):
        api = config.poc.provider(provider)
        if api is not None and not profile.allows_api(api):
            problems.append(
                ConfigProblem(
                    f"{NAMESPACE}:poc.apiProviders[{index}]",
                    provider,
                    f"sends prompts to {api.host} ({api.geography.upper()}), outside residency profile '{profile.name}'; allowed providers: {', '.join(allowed_apis) or 'none'}",
                )
            )
    app = config.poc.app
    if app.certificate_arn:
        if config.cloud is not Cloud.AWS:
            problems.append(ConfigProblem(f"{NAMESPACE}:poc.app.certificateArn", app.certificate_arn, "is an AWS ACM setting; on Azure leave it unset"))
        elif f":acm:{config.region}:" not in app.certificate_arn:
            problems.append(ConfigProblem(f"{NAMESPACE}:poc.app.certificateArn", app.certificate_arn, f"must be an ACM certificate in the stack region {config.region}"))
    if config.cloud is Cloud.AZURE and app.kind is AppKind.DIFY and CLOUDS.get(config.azure_environment) and app_redis_zone(CLOUDS[config.azure_environment]) is None:
        problems.append(
            ConfigProblem(
                f"{NAMESPACE}:poc.app.kind",
                app.kind.value,
                f"Dify needs Redis (Azure Managed Redis or Azure Cache for Redis), which the Azure '{config.azure_environment}' cloud does not offer with a private endpoint; use 'flowise' there",
            )
        )
    problems.extend(_check_icp_filing(config))
    budget = config.budget
    if config.cloud is Cloud.AWS:
        expected = "CNY" if profile.aws_partition == "aws-cn" else "USD"
        if budget.currency != expected:
            problems.append(ConfigProblem(f"{NAMESPACE}:budget.currency", budget.currency, f"AWS Budgets in the {profile.aws_partition} partition count in {expected}"))
    return problems


def _check_azure_registry_id(config: PlatformConfig) -> list[ConfigProblem]:
    """An Azure Container Registry mirror is private: the stack grants AcrPull on it to the
    identities that pull (Container Apps, AKS kubelet), so it needs the registry's resource id."""
    from components.mirrors import acr_name

    key = f"{NAMESPACE}:mirrors.azureRegistryId"
    mirrors = config.mirrors
    name = acr_name(mirrors.image_registry)
    given = mirrors.azure_registry_name()
    if config.cloud is not Cloud.AZURE or name is None:
        if mirrors.azure_registry_id is None:
            return []
        why = "applies to Azure stacks only" if config.cloud is not Cloud.AZURE else f"names the Azure Container Registry behind {NAMESPACE}:mirrors.imageRegistry, which is {mirrors.image_registry or 'not set'} (no *.azurecr.io / *.azurecr.cn host)"
        return [ConfigProblem(key, mirrors.azure_registry_id, f"{why}; remove it")]
    example = f"/subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.ContainerRegistry/registries/{name}"
    if given is None:
        return [ConfigProblem(key, None, f"is required when {NAMESPACE}:mirrors.imageRegistry is an Azure Container Registry ({mirrors.image_registry}): the stack grants its identities AcrPull there; set {example}")]
    if given != name:
        return [ConfigProblem(key, mirrors.azure_registry_id, f"names registry '{given}' but {NAMESPACE}:mirrors.imageRegistry is on '{name}'; set {example}")]
    return []


def _check_mirrors(config: PlatformConfig) -> list[ConfigProblem]:
    """Every source the stack pulls from can be reached, and under a mainland profile is in the
    country (policies/llm_guard/sources.py holds the one table of in-country sources)."""
    from policies.llm_guard.sources import (
        DOMESTIC_PYTHON_INDEXES,
        DOMESTIC_REGISTRIES,
        domestic_registry,
        is_domestic_model_source,
        is_domestic_python_index,
        is_mainland,
        is_outside_plugin_source,
        registry_host,
    )

    key = f"{NAMESPACE}:mirrors"
    mirrors = config.mirrors
    problems = []
    if config.beta is not None and config.beta.image_registry is not None:
        problems.append(ConfigProblem(f"{NAMESPACE}:beta.imageRegistry", config.beta.image_registry, f"moved to {key}.imageRegistry (one registry for the images of every phase); set it there and remove this key"))
    registry = mirrors.image_registry
    problems.extend(_check_azure_registry_id(config))
    if config.cloud is Cloud.AWS and config.nat_gateways() == 0 and config.phase is Phase.BETA:
        # Without NAT the Beta tasks reach only the VPC endpoints: ECR of the stack's own region
        # (Scale refuses natGateways 0 in _check_scale).
        own_ecr = re.compile(rf"\d{{12}}\.dkr\.ecr\.{re.escape(config.region)}\.amazonaws\.com(\.cn)?(/.*)?")
        if not registry or not own_ecr.fullmatch(registry):
            problems.append(
                ConfigProblem(
                    f"{key}.imageRegistry",
                    registry,
                    f"without NAT gateways (poc.network.natGateways: 0) the tasks pull only through the VPC endpoints of {config.region or 'the stack region'}: "
                    f"set an ECR registry path there (<account>.dkr.ecr.{config.region or '<region>'}.amazonaws.com{'.cn' if config.aws_partition == 'aws-cn' else ''}/<prefix>) holding the images, or set poc.network.natGateways: 1",
                )
            )
    profile = config.profile
    if not is_mainland(profile):
        return problems
    where = f"under residency profile '{profile.name}' (mainland China) every source must be in the country"
    registries = ", ".join(DOMESTIC_REGISTRIES)
    if not registry:
        problems.append(ConfigProblem(f"{key}.imageRegistry", None, f"{where}, and the images come from Docker Hub and ghcr.io by default; set a registry holding them on {registries} (python -m scripts images STACK lists what to copy)"))
    elif domestic_registry(registry_host(registry)) is None:
        problems.append(ConfigProblem(f"{key}.imageRegistry", registry, f"{where}; use a registry on {registries}"))
    helm = mirrors.helm_repository
    if helm and domestic_registry(registry_host(helm)) is None:
        problems.append(ConfigProblem(f"{key}.helmRepository", helm, f"{where}; use an OCI repository (oci://host/path) on {registries}"))
    elif not helm and config.phase is Phase.SCALE:
        problems.append(ConfigProblem(f"{key}.helmRepository", None, f"{where}, and the cluster add-on charts come from github.io and other hosts abroad; set an OCI repository (oci://host/path) on {registries}"))
    index = mirrors.python_index
    indexes = ", ".join(sorted(DOMESTIC_PYTHON_INDEXES))
    if index and not is_domestic_python_index(index):
        problems.append(ConfigProblem(f"{key}.pythonIndex", index, f"{where}; use a PyPI mirror on {indexes} (e.g. https://mirrors.aliyun.com/pypi/simple/)"))
    elif not index and config.poc.app.kind.value == "dify":
        problems.append(ConfigProblem(f"{key}.pythonIndex", None, f"{where}, and Dify's plugin daemon installs plugin packages from pypi.org by default; set a PyPI mirror on {indexes} (e.g. https://mirrors.aliyun.com/pypi/simple/)"))
    marketplace = mirrors.plugin_marketplace
    if marketplace and is_outside_plugin_source(marketplace):
        problems.append(ConfigProblem(f"{key}.pluginMarketplace", marketplace, f"{where}; leave it unset (Dify's marketplace is then off and plugins are installed from local .difypkg packages) or name a marketplace inside the country"))
    source = mirrors.model_source
    if (source is not None or config.phase is Phase.SCALE) and not is_domestic_model_source(source):
        problems.append(ConfigProblem(f"{key}.modelSource", source, f"{where}, and {source or 'huggingface (the default)'} serves model weights from abroad; set modelscope (model ids as published on ModelScope)"))
    return problems


def _open_to_internet(app: AppConfig) -> str | None:
    """What makes the PoC app a public website: 0.0.0.0/0 (any public network wider than /8) or
    a public domain name. Networks of a few offices or a VPN are a CIDR-limited entry."""
    for i, cidr in enumerate(app.allowed_cidrs):
        if cidr.prefixlen < 8 and not cidr.is_private:
            return f"allowedCidrs[{i}] {cidr} opens it to the internet"
    if app.domain_name:
        return f"domainName {app.domain_name} publishes it under a public domain"
    return None


def public_entry_needs_icp_filing(config: PlatformConfig) -> bool:
    """Whether the PoC app must stay off the internet for want of an ICP filing: AWS China closes
    inbound web ports (80/443/8080) account-wide until an ICP recordal or licence is approved
    (amazonaws.cn/en/support/icp/; nordcloud.com/setting-up-an-aws-landing-zone-in-china/, read
    2026-11-30: "if you want to externally open ports other than 22 (SSH) and 3389 (RDP), you need
    to have an ICP licence"), so an internet-facing ALB answers no one, not even the office CIDRs. Azure China enforces the
    filing per domain (a custom domain must be filed and resolve to a filed IP), not per port, so
    the Container Apps default domain stays reachable from the allowed networks there."""
    return config.cloud is Cloud.AWS and config.aws_partition == "aws-cn" and not config.poc.app.icp_filing


def _check_icp_filing(config: PlatformConfig) -> list[ConfigProblem]:
    """A public website on a mainland server needs an ICP filing (MIIT; the operators Sinnet / NWCD
    for AWS China and 21Vianet for Azure China enforce it). AWS China: without a filing, the PoC
    gets an internal load balancer (public_entry_needs_icp_filing), so a public domain or an
    internet-wide allowedCidrs would promise what it cannot serve. Azure China: unfiled custom
    domains are blocked. Sources read 2026-11-30: amazonaws.cn/en/support/icp/,
    alibabacloud.com/help/doc-detail/36898.htm ("Before completing the ICP Filing procedure, you
    are not allowed to make your website accessible"), 365seal.com/y/gDpX3W4wVb.html (Azure China:
    a domain must be filed and resolve to a filed IP)."""
    in_china = (config.cloud is Cloud.AWS and config.aws_partition == "aws-cn") or (config.cloud is Cloud.AZURE and config.azure_environment == "china")
    app = config.poc.app
    if config.phase is not Phase.POC or not in_china or app.icp_filing:
        return []
    reason = _open_to_internet(app)
    if reason is None:
        return []
    if config.cloud is Cloud.AWS:
        what = ("AWS China blocks inbound 80/443/8080 account-wide until an ICP filing is approved, so without one the app gets an internal load balancer "
                "reached over VPN or Direct Connect")
        fix = "file the site (ICP备案) through NWCD (Ningxia) or Sinnet (Beijing) and set the number (e.g. 京ICP备12345678号-1), or keep the app internal (allowedCidrs of your corporate networks, no domainName)"
    else:
        what = "Azure China serves a site on a public domain only with an ICP filing for it (unfiled domains are blocked)"
        fix = "file the domain (ICP备案) with 21Vianet and set the number (e.g. 京ICP备12345678号-1), or keep the app CIDR-limited (allowedCidrs of your offices or VPN, no domainName)"
    return [ConfigProblem(f"{NAMESPACE}:poc.app.icpFiling", None, f"is required: {reason}, and {what}; {fix}")]


def _check_beta(config: PlatformConfig) -> list[ConfigProblem]:
    from components.aws.bedrock_catalog import ModelChoiceError, resolve_model
    from components.azure.checks import vector_store_problems
    from components.azure.openai_catalog import DeploymentChoiceError, resolve_deployment
    from components.lowcode import UNUSABLE_VECTOR_ENGINES

    key = f"{NAMESPACE}:beta"
    beta = config.beta
    if config.phase is Phase.POC:
        return [ConfigProblem(key, "(set)", "takes effect from phase beta; set llm-platform:phase to beta or remove the section")] if beta else []
    if beta is None:
        return [ConfigProblem(key, None, f"is required for phase {config.phase.value}: vectorStore and at least one managed inference source ({_beta_sources_allowed(config)})")]
    profile = config.profile
    problems = _beta_source_problems(config, beta)
    cloud = config.cloud.value
    engine = beta.vector_store.engine
    if engine not in VECTOR_ENGINES[cloud]:
        problems.append(ConfigProblem(f"{key}.vectorStore.engine", engine, f"is not available on {cloud}; allowed: {', '.join(VECTOR_ENGINES[cloud])}"))
    elif engine == "opensearch-serverless" and profile.aws_partition == "aws-cn":
        problems.append(ConfigProblem(f"{key}.vectorStore.engine", engine, "OpenSearch Serverless is not offered in the aws-cn partition; use aurora-pgvector"))
    elif (config.poc.app.kind.value, engine) in UNUSABLE_VECTOR_ENGINES:
        problems.append(ConfigProblem(f"{key}.vectorStore.engine", engine, f"{config.poc.app.kind.value} cannot use it: {UNUSABLE_VECTOR_ENGINES[(config.poc.app.kind.value, engine)]}"))
    if config.cloud is Cloud.AWS:
        if beta.azure_openai is not None:
            problems.append(ConfigProblem(f"{key}.azureOpenAI", "(set)", "is an Azure setting; on AWS configure beta.bedrock"))
        problems.extend(_sagemaker_problems(config, beta))
        if beta.bedrock is None:
            pass
        elif not profile.bedrock_allowed:
            problems.append(ConfigProblem(f"{key}.bedrock", "(set)", f"Bedrock has no endpoint in {profile.aws_partition} (residency profile '{profile.name}'); use {_beta_sources_allowed(config)}"))
        else:
            for i, m in enumerate(beta.bedrock.models):
                try:
                    resolve_model(m.name, m.model, m.routing, config.region, profile, m.in_regions, m.profile_prefixes)
                except ModelChoiceError as exc:
                    problems.append(ConfigProblem(f"{key}.bedrock.models[{i}].model", m.model, str(exc)))
    else:
        if beta.bedrock is not None:
            problems.append(ConfigProblem(f"{key}.bedrock", "(set)", "is an AWS setting; on Azure configure beta.azureOpenAI"))
        if beta.sagemaker is not None:
            problems.append(ConfigProblem(f"{key}.sagemaker", "(set)", "is an AWS setting; on Azure configure beta.azureOpenAI or beta.apiModels"))
        if beta.azure_openai is not None:
            for i, d in enumerate(beta.azure_openai.deployments):
                try:
                    resolve_deployment(d.name, d.model, d.version, d.sku, config.region, profile, d.regions, cloud=config.azure_environment)
                except DeploymentChoiceError as exc:
                    problems.append(ConfigProblem(f"{key}.azureOpenAI.deployments[{i}].{exc.field}", exc.value, str(exc)))
        problems.extend(ConfigProblem(f"{key}.{suffix}", value, message) for suffix, value, message in vector_store_problems(engine, beta.vector_store.geo_redundant_backup))
    return problems


def _beta_sources_allowed(config: PlatformConfig) -> str:
    """The managed inference sources a Beta stack of this cloud and profile may use, as advice."""
    profile = config.profile
    sources = []
    if config.cloud is Cloud.AWS:
        if profile.bedrock_allowed:
            sources.append("beta.bedrock")
        sources.append("beta.sagemaker")
    else:
        sources.append("beta.azureOpenAI")
    apis = sorted(name for name, api in config.poc.providers().items() if profile.allows_api(api))
    if apis:
        sources.append(f"beta.apiModels with one of {', '.join(apis)}")
    return " or ".join(sources)


def _beta_source_problems(config: PlatformConfig, beta: BetaConfig) -> list[ConfigProblem]:
    """Beta needs at least one managed inference source the profile allows; each API model names
    a provider the PoC section configured (its key is in the secret store) and the profile allows."""
    key = f"{NAMESPACE}:beta"
    profile = config.profile
    problems = []
    sagemaker = getattr(beta, "sagemaker", None)
    if beta.bedrock is None and beta.azure_openai is None and sagemaker is None and not beta.api_models:
        problems.append(ConfigProblem(key, "(no inference source)", f"needs at least one managed inference source allowed by residency profile '{profile.name}' in {config.region or 'this region'}: {_beta_sources_allowed(config)}"))
    for i, m in enumerate(beta.api_models):
        api = config.poc.provider(m.provider)
        where = f"{key}.apiModels[{i}].provider"
        if api is None:
            canonical = canonical_provider(m.provider)
            hint = f"'{m.provider}' is {API_PROVIDERS[canonical].display_name}: write '{canonical}'" if canonical in API_PROVIDERS else f"'{m.provider}' is not a known provider"
            problems.append(ConfigProblem(where, m.provider, f"{hint}; known: {', '.join(config.poc.providers())}"))
        elif not profile.allows_api(api):
            allowed = sorted(n for n, a in config.poc.providers().items() if profile.allows_api(a))
            problems.append(ConfigProblem(where, m.provider, f"{api.host} processes prompts in {api.geography.upper()}, outside residency profile '{profile.name}'; allowed: {', '.join(allowed) or 'none'}"))
        elif m.provider not in config.poc.api_providers:
            problems.append(ConfigProblem(where, m.provider, f"add '{m.provider}' to {NAMESPACE}:poc.apiProviders (and set its key {api_key_config_key(m.provider)}) to serve it in Beta"))
    names = [m.name for m in beta.api_models]
    other = [*(m.name for m in (beta.bedrock.models if beta.bedrock else [])), *(d.name for d in (beta.azure_openai.deployments if beta.azure_openai else []))]
    other += [m.name for m in getattr(sagemaker, "models", [])]
    for i, name in enumerate(names):
        if names.index(name) != i or name in other:
            problems.append(ConfigProblem(f"{key}.apiModels[{i}].name", name, "is already the name of another Beta model; names are what the app calls, one each"))
    return problems


def _check_gateway_access(config: PlatformConfig, scale: ScaleConfig, key: str) -> list[ConfigProblem]:
    """Teams name existing routes, the app has its team, and budgets can be converted to USD."""
    from components.fx import RATES

    problems: list[ConfigProblem] = []
    routes = [r.name for r in scale.routes]
    teams = scale.gateway.teams
    names = [t.name for t in teams]
    if "app" not in names:
        problems.append(ConfigProblem(f"{key}.gateway.teams", names, "needs a team named 'app': its key is the one the stack's app calls the gateway with"))
    if len(set(names)) != len(names):
        problems.append(ConfigProblem(f"{key}.gateway.teams", names, "team names must be unique"))
    for i, team in enumerate(teams):
        for j, route in enumerate(team.routes):
            if route not in routes:
                problems.append(ConfigProblem(f"{key}.gateway.teams[{i}].routes[{j}]", route, f"no route has that name; routes: {', '.join(routes)}"))
    budgeted = any(t.budget_percent is not None for t in teams) or any(r.max_budget is not None for r in scale.routes)
    if budgeted and config.budget is not None and config.budget.currency not in RATES:
        problems.append(
            ConfigProblem(
                f"{NAMESPACE}:budget.currency",
                config.budget.currency,
                f"gateway budgets are counted in USD and there is no exchange rate for it; use one of {', '.join(sorted(RATES))} (components/fx.py)",
            )
        )
    return problems


def _check_scale(config: PlatformConfig) -> list[ConfigProblem]:
    from components.k8s.gpu import GPU_INSTANCES, instance_of, is_azure_size
    from components.k8s.serving import MODEL_SCRATCH_GIB, NODE_IMAGES_GIB, NODEFS_EVICTION_FRACTION, model_pod_disk_gib

    key = f"{NAMESPACE}:scale"
    scale = config.scale
    if config.phase is not Phase.SCALE:
        return [ConfigProblem(key, "(set)", "takes effect in phase scale; set llm-platform:phase to scale or remove the section")] if scale else []
    if scale is None:
        return [ConfigProblem(key, None, "is required for phase scale: gpuPools, models and routes")]
    problems = []
    azure = config.cloud is Cloud.AZURE
    cloud = config.cloud.value
    pools = {}
    for i, pool in enumerate(scale.gpu_pools):
        shape = instance_of(pool.instance_type)
        if shape is None or is_azure_size(pool.instance_type) != azure:
            known = ", ".join(t for t in GPU_INSTANCES if is_azure_size(t) == azure)
            problems.append(ConfigProblem(f"{key}.gpuPools[{i}].instanceType", pool.instance_type, f"is not a known {cloud} GPU instance type; known: {known}"))
        else:
            pools[pool.name] = (pool, shape)
        if azure and not re.fullmatch(r"[a-z][a-z0-9]{0,11}", pool.name):
            problems.append(ConfigProblem(f"{key}.gpuPools[{i}].name", pool.name, "AKS node pool names are 1-12 lowercase letters and digits, starting with a letter"))
        if azure and pool.capacity == "spot":
            problems.append(
                ConfigProblem(f"{key}.gpuPools[{i}].capacity", pool.capacity, "spot GPU pools are supported on EKS only (AKS adds its own spot taint that the model servers do not tolerate); use on-demand")
            )
        if pool.name == "system":
            problems.append(ConfigProblem(f"{key}.gpuPools[{i}].name", pool.name, "is the name of the system pool; choose another"))
    models = {m.name: m for m in scale.models}
    for i, model in enumerate(scale.models):
        if model.pool not in {p.name for p in scale.gpu_pools}:
            problems.append(ConfigProblem(f"{key}.models[{i}].pool", model.pool, f"no GPU pool has that name; pools: {', '.join(p.name for p in scale.gpu_pools)}"))
            continue
        if model.pool not in pools:
            continue
        pool, shape = pools[model.pool]
        gpus = shape.gpus
        pods_per_node = max(1, gpus // model.gpus_per_replica)
        if pods_per_node * model_pod_disk_gib(model.cache_size_gb) + NODE_IMAGES_GIB > pool.disk_size_gb * (1 - NODEFS_EVICTION_FRACTION):
            problems.append(
                ConfigProblem(
                    f"{key}.models[{i}].cacheSizeGb",
                    model.cache_size_gb,
                    f"{pods_per_node} pod(s) per node, each with its cache plus {MODEL_SCRATCH_GIB} GB scratch, and {NODE_IMAGES_GIB} GB for images must fit "
                    f"{100 - int(NODEFS_EVICTION_FRACTION * 100)}% of pool '{pool.name}' disks ({pool.disk_size_gb} GB; the kubelet evicts below 10% free); raise diskSizeGb or lower cacheSizeGb",
                )
            )
        if model.gpus_per_replica > gpus:
            problems.append(
                ConfigProblem(f"{key}.models[{i}].gpusPerReplica", model.gpus_per_replica, f"exceeds the {gpus} GPU(s) of a {pool.instance_type} in pool '{pool.name}'; use a larger instance type or fewer GPUs")
            )
        elif model.max_replicas * model.gpus_per_replica > pool.max_size * gpus:
            problems.append(
                ConfigProblem(
                    f"{key}.models[{i}].maxReplicas",
                    model.max_replicas,
                    f"{model.max_replicas} x {model.gpus_per_replica} GPUs exceed pool '{pool.name}' at its maxSize ({pool.max_size} x {gpus} GPUs)",
                )
            )
        if model.gpus_per_replica <= gpus:
            problems.extend(_model_fit_problems(model, pool.instance_type, f"{key}.models[{i}]"))
    profile = config.profile
    beta = config.beta
    for i, route in enumerate(scale.routes):
        if not route.self_hosted and not route.fallbacks:
            problems.append(ConfigProblem(f"{key}.routes[{i}]", route.name, "needs selfHosted models or fallbacks"))
        for j, name in enumerate(route.self_hosted):
            if name not in models:
                problems.append(ConfigProblem(f"{key}.routes[{i}].selfHosted[{j}]", name, f"no served model has that name; models: {', '.join(models)}"))
            elif models[name].min_replicas == 0 and not route.fallbacks:
                problems.append(
                    ConfigProblem(
                        f"{key}.models[{list(models).index(name)}].minReplicas",
                        0,
                        f"scales '{name}' to zero, but route '{route.name}' has no fallbacks to serve it while a replica starts (a GPU node, the image and the "
                        "weights: minutes); add fallbacks to the route or set minReplicas to 1 or more",
                    )
                )
        for j, level in enumerate(route.fallback_levels()):
            for ref in level:
                problem = _fallback_problem(ref, config, beta, profile)
                if problem:
                    problems.append(ConfigProblem(f"{key}.routes[{i}].fallbacks[{j}]", route.fallbacks[j], f"'{ref}': {problem}" if len(level) > 1 else problem))
        problems.extend(_route_levels_problems(route, f"{key}.routes[{i}]"))
    problems.extend(_check_gateway_access(config, scale, key))
    problems.extend(_check_content_filter(scale, key))
    from datetime import date

    from components.k8s.versions import KUBERNETES_VERSIONS

    if version_problem := KUBERNETES_VERSIONS[cloud].problem(scale.kubernetes_version, date.today()):
        problems.append(ConfigProblem(f"{key}.kubernetesVersion", scale.kubernetes_version, version_problem))
    problems.extend(_check_cluster_access(scale, azure, key))
    if not scale.private_endpoint and not scale.public_access_cidrs:
        what = "EKS endpoint" if not azure else "AKS API server"
        problems.append(ConfigProblem(f"{key}.publicAccessCidrs", [], f"a public {what} needs the CIDRs allowed to reach it (never 0.0.0.0/0 by default)"))
    if not azure and config.nat_gateways() == 0:
        problems.append(
            ConfigProblem(
                f"{NAMESPACE}:poc.network.natGateways",
                0,
                "Scale on AWS needs outbound internet for the nodes (model weights from Hugging Face, vLLM and chart images); set 1 (or one per zone)",
            )
        )
    return problems


def _check_content_filter(scale: ScaleConfig, key: str) -> list[ConfigProblem]:
    """The guard model must be served, always up (a guard at zero replicas blocks every request
    with onUnavailable block, or checks nothing with allow) and of a family whose verdict format
    the gateway's guardrail reads (components/gateway.py GUARD_FAMILIES)."""
    from components.gateway import GUARD_FAMILIES, guard_family

    guard = scale.content_filter
    if guard is None:
        return []
    models = {m.name: (i, m) for i, m in enumerate(scale.models)}
    if guard.model not in models:
        return [ConfigProblem(f"{key}.contentFilter.model", guard.model, f"no served model has that name; models: {', '.join(models)} (add the guard model to scale.models)")]
    i, model = models[guard.model]
    problems = []
    if guard_family(model.hugging_face_id) is None:
        known = "; ".join(f"{f.label}: {', '.join(f.examples)}" for f in GUARD_FAMILIES.values())
        problems.append(
            ConfigProblem(
                f"{key}.models[{i}].huggingFaceId",
                model.hugging_face_id,
                f"is the content filter's model but not a guard model whose verdicts the gateway can read; use one of these families ({known})",
            )
        )
    if model.min_replicas == 0:
        problems.append(
            ConfigProblem(
                f"{key}.models[{i}].minReplicas",
                0,
                f"scales the content filter's model '{model.name}' to zero: nothing wakes it (no route sends it traffic) and while it is down every request is "
                f"{'refused (onUnavailable block)' if guard.on_unavailable == 'block' else 'passed unchecked (onUnavailable allow)'}; set minReplicas to 1 or more",
            )
        )
    if any(model.name in r.self_hosted for r in scale.routes):
        routes = ", ".join(r.name for r in scale.routes if model.name in r.self_hosted)
        problems.append(ConfigProblem(f"{key}.contentFilter.model", guard.model, f"is also served by route(s) {routes}: a guard model answers verdicts, not chats; give the routes another model"))
    return problems


def model_serving(model: ServedModelConfig, instance_type: str) -> Any:
    """The model's serving choice (components.k8s.model_fit.ServingChoice) on its pool's instance
    type, or None for a model outside the catalog without `architecture`, or an unknown type."""
    from components.k8s.gpu import chip_of, instance_of
    from components.k8s.model_fit import ModelArchitecture, ServingChoice, architecture_of

    shape = instance_of(instance_type)
    given = model.architecture
    arch = (
        ModelArchitecture(given.parameters, given.layers, given.attention_heads, given.kv_heads, given.head_dim, given.context_length, given.weight_bits, model.hugging_face_id)
        if given
        else architecture_of(model.hugging_face_id)
    )
    if shape is None or arch is None:
        return None
    chip = chip_of(instance_type)
    return ServingChoice(
        model.hugging_face_id,
        arch,
        model.gpus_per_replica,
        float(shape.gpu_memory_gib),
        chip.name if chip else instance_type,
        model.max_model_len,
        model.max_num_seqs,
        model.gpu_memory_utilization,
        model.quantization,
        model.kv_cache_dtype,
    )


def _model_fit_problems(model: ServedModelConfig, instance_type: str, key: str) -> list[ConfigProblem]:
    from components.k8s.gpu import chip_of
    from components.k8s.model_fit import MODEL_CATALOG, check_fit, weight_bits

    choice = model_serving(model, instance_type)
    if choice is None:
        return [
            ConfigProblem(
                f"{key}.architecture",
                None,
                f"is required for '{model.hugging_face_id}', which is not in the model catalog ({len(MODEL_CATALOG)} ids in components/k8s/model_fit.py): set parameters "
                "(billions), layers, attentionHeads, kvHeads, headDim, contextLength from its config.json and weightBits (16, 8 or 4), so the plan can check it fits its GPUs",
            )
        ]
    problems = [ConfigProblem(key, model.hugging_face_id, problem) for problem in check_fit(choice).problems]
    chip = chip_of(instance_type)
    if model.quantization == "fp8" and choice.architecture.weight_bits != 16:
        problems.append(ConfigProblem(f"{key}.quantization", model.quantization, f"quantizes a 16-bit checkpoint on load; '{model.hugging_face_id}' is already {weight_bits(choice)}-bit: remove quantization"))
    if weight_bits(choice) == 8 and chip is not None and chip.compute_capability < 8.0:
        field, value = ("quantization", model.quantization) if model.quantization else ("huggingFaceId", model.hugging_face_id)
        problems.append(
            ConfigProblem(
                f"{key}.{field}",
                value,
                f"FP8 weights need an NVIDIA GPU of compute capability 8.0 or later in vLLM; {chip.name} ({instance_type}) is {chip.compute_capability:g}: use a 16-bit or 4-bit checkpoint there",
            )
        )
    return problems


_IAM_PRINCIPAL_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}$")
_ENTRA_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _check_cluster_access(scale: ScaleConfig, azure: bool, key: str) -> list[ConfigProblem]:
    problems = []
    if azure and scale.admin_cidrs:
        problems.append(ConfigProblem(f"{key}.adminCidrs", [str(c) for c in scale.admin_cidrs], "applies to EKS only; an AKS private API server is reached through the VNet (peer or VPN into it)"))
    for i, cidr in enumerate(scale.admin_cidrs):
        if cidr.prefixlen < 8:
            problems.append(ConfigProblem(f"{key}.adminCidrs[{i}]", str(cidr), "is too wide for API server access; name the VPN or runner networks (a /8 or narrower)"))
    pattern, what = (_ENTRA_OBJECT_ID, "an Entra object id (GUID)") if azure else (_IAM_PRINCIPAL_ARN, "an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)")
    for i, principal in enumerate(scale.cluster_admins):
        if not pattern.fullmatch(principal):
            problems.append(ConfigProblem(f"{key}.clusterAdmins[{i}]", principal, f"must be {what}{'; AKS admins are Entra groups' if azure else ''}"))
    if len(set(scale.cluster_admins)) != len(scale.cluster_admins):
        problems.append(ConfigProblem(f"{key}.clusterAdmins", scale.cluster_admins, "lists a principal twice"))
    if scale.preview_principal is not None:
        if not pattern.fullmatch(scale.preview_principal):
            problems.append(ConfigProblem(f"{key}.previewPrincipal", scale.preview_principal, f"must be {what}"))
        elif scale.preview_principal in scale.cluster_admins:
            problems.append(ConfigProblem(f"{key}.previewPrincipal", scale.preview_principal, "is also in clusterAdmins; the preview identity should only read"))
    return problems


# Upstreams of one fallback level ("a | b"); more equivalents add little but config to audit.
MAX_LEVEL_UPSTREAMS = 4
# Fallback kinds LiteLLM prices per token (stacks/scale.py PRICED_FALLBACK_KINDS): the only ones
# cost-based routing can rank (litellm 1.108.6 router_strategy/lowest_cost.py prices an upstream
# missing from the cost map at 5 USD per token each way, so it would always come last).
CHEAPEST_PRICED_KINDS = ("api", "bedrock", "azure")


def _route_levels_problems(route: RouteConfig, where: str) -> list[ConfigProblem]:
    """Fallback levels of equivalent upstreams ("a | b") and the route's strategy."""
    problems = []
    seen: set[str] = set()
    for j, level in enumerate(route.fallback_levels()):
        if not all(level) or len(level) > MAX_LEVEL_UPSTREAMS:
            problems.append(
                ConfigProblem(
                    f"{where}.fallbacks[{j}]",
                    route.fallbacks[j],
                    f"one fallback level is 1 to {MAX_LEVEL_UPSTREAMS} upstreams separated by '|', each bedrock:<model>, azure:<deployment>, sagemaker:<model> or api:<provider>/<model>",
                )
            )
            continue
        if repeated := sorted({ref for ref in level if ref in seen} | {ref for ref in level if level.count(ref) > 1}):
            problems.append(ConfigProblem(f"{where}.fallbacks[{j}]", route.fallbacks[j], f"repeats {', '.join(repeated)}: each upstream may appear once per route"))
        seen.update(level)
        if route.strategy == "cheapest" and len(level) > 1 and (unpriced := [ref for ref in level if ref.partition(":")[0] not in CHEAPEST_PRICED_KINDS]):
            problems.append(
                ConfigProblem(
                    f"{where}.fallbacks[{j}]",
                    route.fallbacks[j],
                    f"strategy cheapest ranks a level's upstreams by their per-token price, and {', '.join(unpriced)} has none (billed per instance-hour); "
                    "put it in a level of its own or use strategy least-busy",
                )
            )
    # (A cheapest route without a level of several upstreams is only a plan warning, stacks/scale.py:
    # `new-stack` may drop the providers of a level that another profile forbids.)
    if route.strategy == "cheapest" and len(route.self_hosted) > 1:
        problems.append(
            ConfigProblem(
                f"{where}.strategy",
                route.strategy,
                f"self-hosted models have no per-token price, so cheapest would always send to '{route.self_hosted[0]}' and never balance "
                f"{', '.join(route.self_hosted)}; use strategy least-busy or one selfHosted model",
            )
        )
    return problems


def _fallback_problem(ref: str, config: PlatformConfig, beta: BetaConfig | None, profile: ResidencyProfile) -> str | None:
    kind, _, target = ref.partition(":")
    if kind == "bedrock":
        if config.cloud is not Cloud.AWS or beta is None or beta.bedrock is None:
            return "Bedrock fallbacks need cloud aws and beta.bedrock"
        names = [m.name for m in beta.bedrock.models]
        return None if target in names else f"no beta.bedrock model is called '{target}'; models: {', '.join(names)}"
    if kind == "azure":
        if config.cloud is not Cloud.AZURE or beta is None or beta.azure_openai is None:
            return "Azure OpenAI fallbacks need cloud azure and beta.azureOpenAI"
        names = [d.name for d in beta.azure_openai.deployments]
        return None if target in names else f"no beta.azureOpenAI deployment is called '{target}'; deployments: {', '.join(names)}"
    if kind == "sagemaker":
        if config.cloud is not Cloud.AWS or beta is None or beta.sagemaker is None:
            return "SageMaker fallbacks need cloud aws and beta.sagemaker"
        names = [m.name for m in beta.sagemaker.models]
        return None if target in names else f"no beta.sagemaker model is called '{target}'; models: {', '.join(names)}"
    if kind == "api":
        provider, _, model = target.partition("/")
        api = config.poc.provider(provider)
        if api is None or not model:
            canonical = canonical_provider(provider)
            hint = f"'{provider}' is {API_PROVIDERS[canonical].display_name}, write api:{canonical}/<model>; " if api is None and canonical in API_PROVIDERS else ""
            return f"{hint}write api:<provider>/<model> with a provider of {', '.join(config.poc.providers())}"
        if not profile.allows_api(api):
            allowed = sorted(n for n, a in config.poc.providers().items() if profile.allows_api(a))
            return f"{api.host} processes prompts in {api.geography.upper()}, outside residency profile '{profile.name}'; allowed: {', '.join(allowed) or 'none'}"
        if provider not in config.poc.api_providers:
            return f"add '{provider}' to llm-platform:poc.apiProviders (and its API key) to use it as a fallback"
        return None
    return "write bedrock:<model>, azure:<deployment>, sagemaker:<model> or api:<provider>/<model>"


def _check_api_keys(config: PlatformConfig, api_keys: dict[str, str], secret_keys: set[str] | frozenset[str]) -> list[ConfigProblem]:
    problems = []
    wanted = {api_key_config_key(p): p for p in config.poc.api_providers}
    for name, full_key in sorted(api_keys.items()):
        if name not in wanted:
            problems.append(
                ConfigProblem(full_key, "[redacted]", f"no provider in {NAMESPACE}:poc.apiProviders uses this key; configured providers: {', '.join(config.poc.api_providers) or 'none'}")
            )
        elif full_key not in secret_keys:
            problems.append(
                ConfigProblem(full_key, "[redacted plain text]", f"API keys must be secrets: run `pulumi config set --secret {full_key} <key>`")
            )
    for name, provider in wanted.items():
        if name not in api_keys:
            full_key = f"{NAMESPACE}:{name}"
            problems.append(
                ConfigProblem(full_key, None, f"the API key of provider '{provider}' is required: run `pulumi config set --secret {full_key} <key>`")
            )
    return problems


def _sagemaker_problems(config: PlatformConfig, beta: BetaConfig) -> list[ConfigProblem]:
    """SageMaker models: an instance type the region hosts, weights pre-staged in S3."""
    from components.aws.sagemaker_catalog import HostingChoiceError, lmi_image, resolve_instance

    if beta.sagemaker is None:
        return []
    key = f"{NAMESPACE}:beta.sagemaker"
    problems = []
    if lmi_image(config.region, "amazonaws.com") is None:
        problems.append(ConfigProblem(key, "(set)", f"no LMI serving image is catalogued for {config.region} (components/aws/sagemaker_catalog.py)"))
    for i, m in enumerate(beta.sagemaker.models):
        try:
            resolve_instance(m.instance_type, config.region)
        except HostingChoiceError as exc:
            problems.append(ConfigProblem(f"{key}.models[{i}].instanceType", m.instance_type, str(exc)))
        if not m.model_id.startswith("s3://"):
            problems.append(
                ConfigProblem(
                    f"{key}.models[{i}].modelId",
                    m.model_id,
                    "SageMaker endpoints run network-isolated in a VPC without NAT and cannot download from a model hub: stage the weights in an S3 "
                    f"prefix in {config.region or 'the stack region'} (e.g. `modelscope download --model {m.model_id} --local_dir w && aws s3 sync w s3://<bucket>/{m.model_id}/`) and set s3://<bucket>/<prefix>",
                )
            )
    return problems
