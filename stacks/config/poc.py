"""The `poc` section: the low-code app, API providers (built-in, aliases, custom), the network."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from policies.llm_guard.profiles import (
    Geography,
)
from policies.llm_guard.routing import API_PROVIDERS, PROVIDER_ALIASES, ApiProvider, canonical_provider, custom_api_provider, known_api_host
from stacks.config.base import CLOUDWATCH_RETENTION_DAYS, _Model

# --------------------------------------------------------------------------- PoC section


class AppKind(StrEnum):
    DIFY = "dify"
    FLOWISE = "flowise"


class DatabaseConfig(_Model):
    # AWS RDS instance class (db.*) or Azure Flexible Server SKU (Standard_*); None = small default.
    instance_class: str | None = Field(None, alias="instanceClass", pattern=r"^(db\.[a-z0-9]+\.[a-z0-9]+|Standard_[A-Za-z0-9_]+)$")
    storage_gb: int = Field(32, alias="storageGb", ge=20, le=16384)
    backup_retention_days: int = Field(7, alias="backupRetentionDays", ge=1, le=35)
    # A standby in a second zone; None = off in PoC, on from Beta.
    multi_az: bool | None = Field(None, alias="multiAz")


class AppConfig(_Model):
    kind: AppKind
    allowed_cidrs: list[ipaddress.IPv4Network] = Field(alias="allowedCidrs", min_length=1, max_length=20)
    certificate_arn: str | None = Field(
        None,
        alias="certificateArn",
        pattern=r"^arn:aws(-cn|-us-gov)?:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$",
    )
    domain_name: str | None = Field(None, alias="domainName", max_length=253, pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$")
    log_retention_days: int = Field(30, alias="logRetentionDays")
    image_tags: dict[str, str] = Field(default_factory=dict, alias="imageTags")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    # The ICP filing (备案) number of the site, needed to serve it publicly from mainland China:
    # <province abbreviation>ICP备<digits>号[-<site>] (or ICP证 for a commercial licence), e.g.
    # 京ICP备12345678号-1 (MIIT ICP filing system beian.miit.gov.cn; format as in Alibaba Cloud's
    # "ICP备案号与备案服务码" FAQ, read 2026-11-30).
    icp_filing: str | None = Field(None, alias="icpFiling", max_length=40)

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        if v not in CLOUDWATCH_RETENTION_DAYS:
            raise ValueError(f"must be one of {', '.join(map(str, CLOUDWATCH_RETENTION_DAYS))}")
        return v

    @field_validator("icp_filing")
    @classmethod
    def _icp_number(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[\u4e00-\u9fff]ICP[备证]\d{6,10}号(-\d{1,4})?", v):
            raise ValueError("must be the ICP filing number as issued: province abbreviation, ICP备 (or ICP证), digits, 号, optional -<site>, e.g. 京ICP备12345678号-1")
        return v

    @field_validator("allowed_cidrs", mode="before")
    @classmethod
    def _strict_cidrs(cls, v: Any) -> Any:
        # "10.0.0.1/24" has host bits set: almost always a typo for 10.0.0.0/24.
        if isinstance(v, list):
            for item in v:
                try:
                    ipaddress.IPv4Network(str(item), strict=True)
                except ValueError as exc:
                    raise ValueError(f"'{item}' is not an IPv4 network in CIDR form ({exc})") from None
        return v

    @field_validator("image_tags")
    @classmethod
    def _image_tags(cls, v: dict[str, str]) -> dict[str, str]:
        from components.lowcode import DEFAULT_IMAGE_TAGS

        for name, tag in v.items():
            if name not in DEFAULT_IMAGE_TAGS:
                raise ValueError(f"imageTags.{name} is not an image of the platform; known: {', '.join(DEFAULT_IMAGE_TAGS)}")
            if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", str(tag)):
                raise ValueError(f"imageTags.{name} '{tag}' is not a valid image tag")
        return v


class NetworkConfig(_Model):
    cidr: ipaddress.IPv4Network = Field(ipaddress.IPv4Network("10.40.0.0/16"))
    # NAT gateways for outbound internet from private subnets (third-party APIs, image pulls).
    # None = 1 in PoC, 0 in Beta and Scale.
    nat_gateways: int | None = Field(None, alias="natGateways", ge=0, le=2)

    @field_validator("cidr")
    @classmethod
    def _size(cls, v: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if v.prefixlen > 20 or v.prefixlen < 16:
            raise ValueError("needs a prefix between /16 and /20 so every subnet fits")
        if not v.is_private:
            raise ValueError("must be a private (RFC 1918) range")
        return v


ProviderName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
MAX_CUSTOM_PROVIDERS = 10


class CustomProviderConfig(_Model):
    """An OpenAI-compatible API the platform does not know, declared with where it processes prompts."""

    name: ProviderName
    base_url: str = Field(alias="baseUrl", max_length=2048)
    geography: Geography

    @field_validator("name")
    @classmethod
    def _not_builtin(cls, v: str) -> str:
        if v in API_PROVIDERS or v in PROVIDER_ALIASES:
            raise ValueError(f"'{v}' is a built-in provider{_alias_hint(v)}; list it in apiProviders instead of declaring it")
        return v

    @field_validator("base_url")
    @classmethod
    def _https(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme != "https" or not parts.hostname or parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("must be the https:// root of an OpenAI-compatible API, without credentials, query or fragment (e.g. https://llm.example.cn/v1)")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _not_relabelled(self) -> CustomProviderConfig:
        # A declaration never re-labels where a known API processes prompts.
        host = urlsplit(self.base_url).hostname or ""
        known = known_api_host(host)
        if known is not None and known.name in API_PROVIDERS:
            raise ValueError(f"baseUrl {host} is {known.display_name}; list '{known.name}' in apiProviders instead of declaring it")
        if known is not None and known.geography != self.geography:
            raise ValueError(f"baseUrl {host} is {known.display_name}, which processes prompts in {known.geography.upper()}, not {self.geography.upper()}")
        return self


def _alias_hint(name: str) -> str:
    canonical = canonical_provider(name)
    return f" (write '{canonical}')" if canonical != name and canonical in API_PROVIDERS else ""


class PocConfig(_Model):
    app: AppConfig
    # Declared before apiProviders: that validator reads them.
    custom_providers: list[CustomProviderConfig] = Field(default_factory=list, alias="customProviders", max_length=MAX_CUSTOM_PROVIDERS)
    api_providers: list[str] = Field(default_factory=list, alias="apiProviders", max_length=len(API_PROVIDERS) + MAX_CUSTOM_PROVIDERS)
    network: NetworkConfig = Field(default_factory=NetworkConfig)

    @field_validator("custom_providers")
    @classmethod
    def _unique_custom(cls, v: list[CustomProviderConfig]) -> list[CustomProviderConfig]:
        names = [c.name for c in v]
        if len(set(names)) != len(names):
            raise ValueError("custom provider names must be unique")
        return v

    @field_validator("api_providers")
    @classmethod
    def _known(cls, v: list[str], info: ValidationInfo) -> list[str]:
        custom = [c.name for c in info.data.get("custom_providers") or []]
        for name in v:
            if name in API_PROVIDERS or name in custom:
                continue
            canonical = canonical_provider(name)
            if canonical in API_PROVIDERS:
                raise ValueError(f"'{name}' is {API_PROVIDERS[canonical].display_name}: write '{canonical}' (its key is {api_key_config_key(canonical)})")
            raise ValueError(f"'{name}' is not a known LLM API provider; known: {', '.join(API_PROVIDERS)}; declare others under customProviders ({{name, baseUrl, geography}})")
        if len(set(v)) != len(v):
            raise ValueError("providers must be listed once each")
        return v

    def provider(self, name: str) -> ApiProvider | None:
        """The API a provider name stands for: a built-in one or one declared in customProviders."""
        if name in API_PROVIDERS:
            return API_PROVIDERS[name]
        for custom in self.custom_providers:
            if custom.name == name:
                return custom_api_provider(custom.name, custom.base_url, custom.geography)
        return None

    def providers(self) -> dict[str, ApiProvider]:
        """Built-in and declared providers by name."""
        return {**API_PROVIDERS, **{c.name: p for c in self.custom_providers if (p := self.provider(c.name))}}


def api_key_config_key(provider: str) -> str:
    """openai -> openaiApiKey, openai-eu -> openaiEuApiKey."""
    head, *rest = provider.split("-")
    return head + "".join(part.capitalize() for part in rest) + "ApiKey"
