"""Where a LiteLLM gateway route really sends a request.

A LiteLLM proxy config (`model_list`, YAML or JSON) may sit in a ConfigMap, a container's env or
args, or any file-like input. For each route this module decides, as the proxy would:
- the provider, with LiteLLM's own `get_llm_provider` (the version the gateway image pins), so a
  bare `gpt-4o` is OpenAI and `groq/...` is Groq, exactly as the proxy infers them;
- the host it calls: `api_base` / `base_url`, `os.environ/VAR` references resolved against the
  environment of the workload that runs the config, the provider's env overrides, else its
  default host;
- for Bedrock and SageMaker, the region the AWS SDK will use (`aws_region_name`, the model ARN,
  AWS_REGION_NAME, AWS_REGION, AWS_DEFAULT_REGION, else LiteLLM's us-west-2 fallback) or a
  runtime endpoint URL; for Vertex AI, `vertex_location` / VERTEXAI_LOCATION (default us-central1).
Whatever cannot be resolved is reported as unresolvable: the rule fails closed on it.

Source: litellm 1.108.6 (`litellm/litellm_core_utils/get_llm_provider_logic.py`, `litellm/main.py`
api_base defaults, `litellm/llms/bedrock/base_aws_llm.py::_get_aws_region_name`,
`litellm/proxy/proxy_server.py` `os.environ/` resolution), read 2026-05.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from .graph import items
from .location import is_secret, is_unknown

ENV_PREFIX = "os.environ/"
MAX_TEXT = 1_000_000
# Parameters whose value decides where a request goes (the others, such as api_key, do not).
DESTINATION_PARAMS = (
    "model",
    "custom_llm_provider",
    "api_base",
    "base_url",
    "aws_region_name",
    "aws_bedrock_runtime_endpoint",
    "model_id",
    "vertex_location",
    "vertex_ai_location",
    "litellm_credential_name",
)
# Native (non OpenAI-compatible) providers: env overrides of the API root, and the default root.
# litellm/main.py at 1.108.6.
NATIVE_API_BASES: dict[str, tuple[tuple[str, ...], str | None]] = {
    "openai": (("OPENAI_BASE_URL", "OPENAI_API_BASE"), "https://api.openai.com/v1"),
    "text-completion-openai": (("OPENAI_BASE_URL", "OPENAI_API_BASE"), "https://api.openai.com/v1"),
    "anthropic": (("ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"), "https://api.anthropic.com"),
    "mistral": (("MISTRAL_API_BASE",), "https://api.mistral.ai/v1"),
    "gemini": (("GEMINI_API_BASE",), "https://generativelanguage.googleapis.com"),
    "cohere": (("COHERE_API_BASE",), "https://api.cohere.com"),
    "cohere_chat": (("COHERE_API_BASE",), "https://api.cohere.com"),
    "azure": (("AZURE_API_BASE",), None),
    "azure_text": (("AZURE_API_BASE",), None),
    "azure_ai": (("AZURE_AI_API_BASE",), None),
}
AWS_REGION_PROVIDERS = frozenset({"bedrock", "sagemaker", "sagemaker_chat"})
VERTEX_PROVIDERS = frozenset({"vertex_ai", "vertex_ai_beta"})
LITELLM_BEDROCK_FALLBACK_REGION = "us-west-2"
_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:[a-z-]+:(?P<region>[a-z0-9-]+):")


class Unresolvable(Exception):
    """A route whose destination cannot be decided from the plan."""


@dataclass
class Environment:
    """A workload's environment: name -> value, None when set from a secret or unknown."""

    values: dict[str, str | None] = field(default_factory=dict)
    where: str = ""  # which workload, for messages
    open_ended: bool = False  # envFrom a Secret: any name may be set

    def lookup(self, name: str) -> str | None:
        if name in self.values:
            value = self.values[name]
            if value is None:
                raise Unresolvable(f"{name} is set in {self.where} from a secret or a value unknown at preview")
            return value
        if self.open_ended:
            raise Unresolvable(f"{name} may come from a Secret that {self.where} loads whole (envFrom)")
        return None


@dataclass(frozen=True)
class Destination:
    """kind: host | aws-region | gcp-region; value: the host or the region."""

    kind: str
    value: str
    service: str = ""  # bedrock | sagemaker for aws-region


@dataclass(frozen=True)
class Route:
    path: str  # property path of the config, plus the model_list index
    name: str
    model: str
    provider: str | None
    destination: Destination | None
    problem: str | None = None  # set when the destination cannot be decided


# ------------------------------------------------------------------ finding configs


def _is_config(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("model_list"), list)


def parse_config_text(text: str) -> Any:
    """A LiteLLM config from text (JSON or YAML; JSON is YAML, but JSON first is faster)."""
    if "model_list" not in text or len(text) > MAX_TEXT:
        return None
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except Exception:  # noqa: BLE001 - any malformed text is simply not a config
        return None


def _decoded_base64(text: str) -> str | None:
    if len(text) < 16 or len(text) > MAX_TEXT or not re.fullmatch(r"[A-Za-z0-9+/=\s]+", text):
        return None
    try:
        raw = base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError):
        return None
    if b"model_list" not in raw:
        return None
    return raw.decode("utf-8", errors="replace")


def find_configs(value: Any, path: str = "", depth: int = 0) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path, config) for every LiteLLM config inside a resource's inputs."""
    if depth > 40:
        return
    if is_secret(value):
        yield from find_configs(value.get("value"), path, depth + 1)
        return
    if _is_config(value):
        yield path, value
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from find_configs(item, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from find_configs(item, f"{path}[{i}]", depth + 1)
    elif isinstance(value, str) and not is_unknown(value):
        parsed = parse_config_text(value)
        if parsed is None and "model_list" not in value:
            decoded = _decoded_base64(value)
            parsed = parse_config_text(decoded) if decoded else None
        if _is_config(parsed):
            yield path, parsed
        elif isinstance(parsed, (Mapping, list)) and not isinstance(parsed, str):
            yield from find_configs(parsed, path, depth + 1)


# ------------------------------------------------------------------ resolving routes


# The environment `get_llm_provider` sees: the workload's, never the pack process's.
_WORKLOAD_ENV: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("workload_env", default=None)


def _workload_secret(secret_name: str, default_value: Any = None, *_args: Any, **_kwargs: Any) -> Any:
    name = secret_name[len(ENV_PREFIX) :] if secret_name.startswith(ENV_PREFIX) else secret_name
    value = (_WORKLOAD_ENV.get() or {}).get(name)
    return value if value is not None else default_value


_PATCHED_MODULES = 0


def warm_up() -> None:
    """Import LiteLLM ahead of the first gateway config (it takes seconds); safe to run in a thread."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm  # noqa: F401


def _litellm() -> Any:
    """LiteLLM, with its secret lookups answering from the workload's environment.

    Provider inference reads API roots (GROQ_API_BASE...) through `get_secret` / `get_secret_str`,
    which each LiteLLM module imports by name (litellm 1.108.6). Every loaded module's reference is
    pointed at the workload's environment, so os.environ is never touched (the analyzer may serve
    several requests at once) and the pack's own environment never leaks into a verdict.
    """
    global _PATCHED_MODULES
    # The pack never fetches LiteLLM's remote model map: the bundled one is what it resolves with.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm
    from litellm.secret_managers import main as secrets

    if len(sys.modules) != _PATCHED_MODULES:
        originals = {getattr(secrets, "_llm_guard_original_get_secret", secrets.get_secret), getattr(secrets, "_llm_guard_original_get_secret_str", secrets.get_secret_str)}
        secrets._llm_guard_original_get_secret = getattr(secrets, "_llm_guard_original_get_secret", secrets.get_secret)  # type: ignore[attr-defined]
        secrets._llm_guard_original_get_secret_str = getattr(secrets, "_llm_guard_original_get_secret_str", secrets.get_secret_str)  # type: ignore[attr-defined]
        for name, module in list(sys.modules.items()):
            if not name.startswith("litellm") or module is None:
                continue
            for attribute in ("get_secret", "get_secret_str"):
                if getattr(module, attribute, None) in originals:
                    setattr(module, attribute, _workload_secret)
        _PATCHED_MODULES = len(sys.modules)
    return litellm


def infer_provider(model: str, custom_provider: str | None, api_base: str | None, env: Environment | None) -> tuple[str, str, str | None]:
    """(model, provider, api_base) as `litellm.get_llm_provider` decides them inside the workload."""
    known = {k: v for k, v in (env.values if env else {}).items() if v is not None}
    token = _WORKLOAD_ENV.set(known)
    try:
        for _ in range(3):  # a module LiteLLM imports lazily during the call is patched, then asked again
            litellm = _litellm()
            model_, provider, _key, base = litellm.get_llm_provider(model=model, custom_llm_provider=custom_provider, api_base=api_base)
            if len(sys.modules) == _PATCHED_MODULES:
                break
    except Exception as exc:  # noqa: BLE001 - LiteLLM raises its own BadRequestError and others
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Unresolvable(f"LiteLLM {litellm_version()} cannot infer a provider for model '{model}' ({first[:120]})") from None
    finally:
        _WORKLOAD_ENV.reset(token)
    return str(model_), str(provider), base if isinstance(base, str) and base else None


def litellm_version() -> str:
    try:
        from importlib.metadata import version

        return version("litellm")
    except Exception:  # noqa: BLE001
        return "(unknown version)"


def _param(params: Mapping[str, Any], name: str, env: Environment | None) -> str | None:
    value = params.get(name)
    if is_secret(value):
        value = value.get("value")
    if value is None:
        return None
    if is_unknown(value):
        raise Unresolvable(f"litellm_params.{name} is not known during preview")
    if not isinstance(value, str):
        return str(value)
    if value.startswith(ENV_PREFIX):
        var = value[len(ENV_PREFIX) :].strip()
        if env is None:
            raise Unresolvable(f"litellm_params.{name} comes from os.environ/{var}, and no workload of this stack runs this config, so its environment is unknown")
        resolved = env.lookup(var)
        if resolved is None:
            raise Unresolvable(f"litellm_params.{name} comes from os.environ/{var}, which {env.where} never sets")
        return resolved
    return value


def _env(env: Environment | None, *names: str) -> str | None:
    if env is None:
        return None
    for name in names:
        value = env.lookup(name)
        if value:
            return value
    return None


def aws_sdk_region(params: Mapping[str, Any], model: str, env: Environment | None) -> str:
    """The region LiteLLM's Bedrock/SageMaker client signs for (base_aws_llm._get_aws_region_name)."""
    region = _param(params, "aws_region_name", env)
    if region:
        return region
    for candidate in (_param(params, "model_id", env), model):
        match = _ARN_REGION.match(candidate or "")
        if match:
            return match.group("region")
    if env is None:
        raise Unresolvable("no aws_region_name, and no workload of this stack runs this config, so AWS_REGION is unknown")
    return _env(env, "AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION") or LITELLM_BEDROCK_FALLBACK_REGION


def host_of(url: str) -> str | None:
    match = re.match(r"^\s*(?:[a-zA-Z][a-zA-Z0-9+.-]*://)?(?:[^@/\s]*@)?(\[[^\]]+\]|[^:/?#\s]+)", url)
    return match.group(1).lower().strip("[]") if match else None


def _credential_params(config: Mapping[str, Any], params: Mapping[str, Any], env: Environment | None) -> dict[str, Any]:
    name = _param(params, "litellm_credential_name", env)
    if not name:
        return dict(params)
    for credential in items(config.get("credential_list")):
        if isinstance(credential, Mapping) and credential.get("credential_name") == name:
            values = credential.get("credential_values")
            return {**(dict(values) if isinstance(values, Mapping) else {}), **dict(params)}
    raise Unresolvable(f"litellm_credential_name '{name}' is not in the config's credential_list")


def resolve_route(config: Mapping[str, Any], entry: Any, env: Environment | None) -> tuple[str, str, str | None, Destination]:
    """(route name, model, provider, destination) of one model_list entry, or Unresolvable."""
    if not isinstance(entry, Mapping):
        raise Unresolvable("a model_list entry that is not an object")
    raw_params = entry.get("litellm_params")
    if not isinstance(raw_params, Mapping):
        raise Unresolvable("a model_list entry without litellm_params")
    params = _credential_params(config, raw_params, env)
    model = _param(params, "model", env)
    if not model:
        raise Unresolvable("litellm_params.model is missing")
    custom = _param(params, "custom_llm_provider", env)
    api_base = _param(params, "api_base", env) or _param(params, "base_url", env)
    model_, provider, inferred_base = infer_provider(model, custom, api_base, env)
    if provider in AWS_REGION_PROVIDERS:
        endpoint = (_param(params, "aws_bedrock_runtime_endpoint", env) or _env(env, "AWS_BEDROCK_RUNTIME_ENDPOINT")) if provider == "bedrock" else None
        if endpoint:
            host = host_of(endpoint)
            if not host:
                raise Unresolvable(f"aws_bedrock_runtime_endpoint '{endpoint[:80]}' has no host")
            return str(entry.get("model_name", "")), model_, provider, Destination("host", host, provider)
        return str(entry.get("model_name", "")), model_, provider, Destination("aws-region", aws_sdk_region(params, model_, env), provider)
    if provider in VERTEX_PROVIDERS:
        location = _param(params, "vertex_location", env) or _param(params, "vertex_ai_location", env) or _env(env, "VERTEXAI_LOCATION") or "us-central1"
        return str(entry.get("model_name", "")), model_, provider, Destination("gcp-region", location, provider)
    base = api_base or inferred_base
    if base is None and provider in NATIVE_API_BASES:
        names, default = NATIVE_API_BASES[provider]
        base = _env(env, *names) or default
    if base is None:
        raise Unresolvable(f"LiteLLM provider '{provider}' has no api_base here and no default host this pack knows")
    host = host_of(base)
    if not host:
        raise Unresolvable(f"api_base '{base[:80]}' has no host")
    return str(entry.get("model_name", "")), model_, provider, Destination("host", host, provider)


def routes(config: Mapping[str, Any], env: Environment | None, path: str) -> Iterator[Route]:
    entries = config.get("model_list")
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        where = f"{path}.model_list[{i}]"
        name = str(entry.get("model_name", "")) if isinstance(entry, Mapping) else ""
        try:
            name, model, provider, destination = resolve_route(config, entry, env)
        except Unresolvable as exc:
            yield Route(where, name, "", None, None, str(exc))
            continue
        yield Route(where, name, model, provider, destination)


# ------------------------------------------------------------------ workloads and their environment

POD_SPEC_PATHS: dict[str, str] = {
    "kubernetes:apps/v1:Deployment": "spec.template.spec",
    "kubernetes:apps/v1:StatefulSet": "spec.template.spec",
    "kubernetes:apps/v1:DaemonSet": "spec.template.spec",
    "kubernetes:apps/v1:ReplicaSet": "spec.template.spec",
    "kubernetes:batch/v1:Job": "spec.template.spec",
    "kubernetes:batch/v1:CronJob": "spec.jobTemplate.spec.template.spec",
    "kubernetes:core/v1:Pod": "spec",
}


def _dig(value: Any, path: str) -> Any:
    for part in path.split("."):
        if is_secret(value):
            value = value.get("value")
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def env_from_list(entries: Any, where: str, config_maps: Mapping[tuple[str, str], Mapping[str, Any]] | None = None, namespace: str = "") -> Environment:
    """Kubernetes/ECS/Container Apps style [{name, value | valueFrom | secretRef}] lists."""
    env = Environment(where=where)
    for item in items(entries):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            continue
        value = item.get("value")
        if is_secret(value):
            value = value.get("value")
        if isinstance(value, str) and not is_unknown(value):
            env.values[item["name"]] = value
            continue
        ref = _dig(item, "valueFrom.configMapKeyRef")
        if isinstance(ref, Mapping) and config_maps is not None:
            data = config_maps.get((namespace, str(ref.get("name"))))
            found = data.get(str(ref.get("key"))) if isinstance(data, Mapping) else None
            env.values[item["name"]] = found if isinstance(found, str) else None
            continue
        env.values[item["name"]] = None
    return env


def pod_containers(res_type: str, props: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    path = POD_SPEC_PATHS.get(res_type)
    if path is None:
        return None
    spec = _dig(props, path)
    return (path, spec) if isinstance(spec, Mapping) else None


def container_environment(container: Mapping[str, Any], where: str, config_maps: Mapping[tuple[str, str], Mapping[str, Any]], namespace: str) -> Environment:
    env = env_from_list(container.get("env"), where, config_maps, namespace)
    for source in items(container.get("envFrom")):
        if not isinstance(source, Mapping):
            continue
        ref = source.get("configMapRef")
        prefix = str(source.get("prefix") or "")
        data = config_maps.get((namespace, str(ref.get("name")))) if isinstance(ref, Mapping) else None
        if isinstance(data, Mapping):
            for key, value in data.items():
                env.values.setdefault(prefix + str(key), value if isinstance(value, str) else None)
        else:
            env.open_ended = True  # a Secret (or an unknown ConfigMap): any name may be set
    return env
