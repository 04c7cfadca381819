"""What output may show: redaction of config values in every message, known and credential-like keys."""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ValidationError,
)

from stacks.config.base import NAMESPACE
from stacks.config.platform import SECRET_KEYS, PlatformConfig
from stacks.errors import ConfigProblem

# --------------------------------------------------------------------------- what output may show

SECRET_TEXT = "[secret]"  # a `secure:` value, as the engine records secrets
REDACTED = "[redacted]"  # a value under a key not known to hold something shareable
# Provider settings that carry no credential, from the config schemas of the pinned SDKs:
# pulumi_aws/config/vars.py (7.51.1), pulumi_azure_native/config/vars.py (3.29.0),
# pulumi_kubernetes/provider.py ProviderArgs (4.34.2); `pulumi:` project settings.
PROVIDER_SETTINGS: dict[str, frozenset[str]] = {
    "aws": frozenset(
        {"ec2MetadataServiceEndpoint", "ec2MetadataServiceEndpointMode", "s3UsEast1RegionalEndpoint", "s3UsePathStyle", "allowedAccountIds", "assumeRoleWithWebIdentity", "assumeRoles", "customCaBundle", "defaultTags", "endpoints", "forbiddenAccountIds", "httpProxy", "httpsProxy", "ignoreTags", "insecure", "maxRetries", "noProxy", "profile", "region", "retryMode", "sharedConfigFiles", "sharedCredentialsFiles", "skipCredentialsValidation", "skipMetadataApiCheck", "skipRegionValidation", "skipRequestingAccountId", "stsRegion", "tagPolicyCompliance", "tokenBucketRateLimiterCapacity", "useDualstackEndpoint", "useFipsEndpoint", "userAgents"}
    ),
    "azure-native": frozenset(
        {"auxiliaryTenantIds", "clientCertificatePath", "clientId", "disableInstanceDiscovery", "disablePulumiPartnerId", "environment", "location", "metadataHost", "msiEndpoint", "oidcRequestUrl", "oidcTokenFilePath", "partnerId", "subscriptionId", "tenantId", "useDefaultAzureCredential", "useMsi", "useOidc"}
    ),
    "kubernetes": frozenset(
        {"cluster", "clusterIdentifier", "context", "deleteUnreachable", "enableConfigMapMutable", "enableSecretMutable", "enableServerSideApply", "namespace", "renderYamlToDirectory", "skipUpdateUnreachable", "suppressDeprecationWarnings", "suppressHelmHookWarnings"}
    ),
    "pulumi": frozenset({"tags", "template", "disable-default-providers", "disableDefaultProviders"}),
}
# Credentials in those schemas. As plain text in a stack file they are refused: the file is
# committed, and the engine copies provider config into the state (set them with
# `pulumi config set --secret`, or better use OIDC / a credentials profile).
PROVIDER_CREDENTIALS = (
    "aws:accessKey",
    "aws:secretKey",
    "aws:token",
    "aws:assumeRoleWithWebIdentity.webIdentityToken",
    "azure-native:clientSecret",
    "azure-native:clientCertificatePassword",
    "azure-native:oidcToken",
    "azure-native:oidcRequestToken",
    "kubernetes:kubeconfig",
)
# A setting name that says it holds a credential ("Tokens" in expectedTokensPerMonth counts traffic).
_CREDENTIAL_NAME = re.compile(
    r"secret|passw|passphrase|token(?!s)|credential|bearer|cookie|signature|connection_?string|kubeconfig|"
    r"(api|access|secret|private|shared|account|master|signing|storage|subscription|client|sas)_?key",
    re.IGNORECASE,
)
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _path_parts(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _PATH_PART.findall(path)]


def looks_like_credential(key: str) -> bool:
    """Whether any part of a config key is named like a credential (aws:secretKey, tags.apiToken)."""
    return any(isinstance(part, str) and _CREDENTIAL_NAME.search(part) for part in _path_parts(key.replace(":", ".", 1)))


def _known_under(annotation: Any, parts: list[str | int]) -> bool:
    """Whether `parts` names a setting of the typed model `annotation` (aliases as in the stack file)."""
    if not parts:
        return True
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _known_under(args[0], parts)
    if origin in (typing.Union, types.UnionType):
        return any(_known_under(arg, parts) for arg in args if arg is not type(None))
    head, rest = parts[0], parts[1:]
    if origin in (list, tuple, set, frozenset):
        return isinstance(head, int) and bool(args) and _known_under(args[0], rest)
    if origin is dict:
        return isinstance(head, str) and _known_under(args[1], rest)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(head, str):
        for name, info in annotation.model_fields.items():
            if head in (name, info.alias):
                return _known_under(info.annotation, rest)
        # Extra keys a model admits (tags) are the user's own settings.
        return annotation.model_config.get("extra") == "allow" and not rest
    return False


def is_known_setting(key: str) -> bool:
    """A key of the typed model, a <provider>ApiKey/huggingFaceToken secret, or a provider setting."""
    namespace, _, path = key.partition(":")
    parts = _path_parts(path)
    if not parts or not isinstance(parts[0], str):
        return False
    if namespace == NAMESPACE:
        if parts[0].endswith("ApiKey") or parts[0] in SECRET_KEYS:
            return len(parts) == 1
        return parts[0] not in ("region", "azure_environment", "api_key_keys", "hugging_face_token_key") and _known_under(PlatformConfig, parts)
    return parts[0] in PROVIDER_SETTINGS.get(namespace, frozenset())


def redact(key: str, value: Any, secret_keys: set[str] | frozenset[str] = frozenset()) -> Any:
    """THE function through which every message, log line and output shows a config value.

    A `secure:` value becomes [secret]; a value under a key this model does not know, or under a
    key named like a credential, becomes [redacted]; structured values are redacted key by key.
    """
    if value is None:
        return None
    top = key.split(".", 1)[0].split("[", 1)[0]
    if key in secret_keys or top in secret_keys:
        return SECRET_TEXT
    if looks_like_credential(key) or not is_known_setting(key):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): redact(f"{key}.{k}", v, secret_keys) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(f"{key}[{i}]", v, secret_keys) for i, v in enumerate(value)]
    return value


def _decode(value: Any) -> Any:
    """Pulumi hands structured config to programs as JSON strings."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "[{":
            try:
                return json.loads(text, parse_constant=_no_constant)
            except (ValueError, RecursionError):
                return value
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _loc_to_key(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return f"{NAMESPACE}:{path}"


def _value_at(data: Mapping[str, Any], loc: tuple[Any, ...]) -> Any:
    current: Any = data
    for part in loc:
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            return None
    return current


def _problems_from(exc: ValidationError, data: Mapping[str, Any]) -> list[ConfigProblem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        # pydantic appends the validator-specific tail for unions/literals; keep the field path.
        message = err["msg"]
        if err["type"] == "missing":
            message = "is required"
        elif err["type"] == "extra_forbidden":
            message = "is not a known setting here"
        elif message.startswith("Value error, "):
            message = message[len("Value error, "):]
        value = err.get("input") if err["type"] != "missing" else None
        if isinstance(value, dict) and err["type"] != "extra_forbidden":
            value = _value_at(data, loc)
        problems.append(ConfigProblem(_loc_to_key(loc), value, message))
    return problems
