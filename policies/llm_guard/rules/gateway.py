"""Where each LiteLLM gateway route really sends prompts: the provider LiteLLM infers, the host
it calls (os.environ references resolved against the workload that runs the config) and the
region the AWS SDK signs for. A route whose destination cannot be decided fails closed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..endpoints import classify_host
from ..gateway import (
    Destination,
    Environment,
    Route,
    container_environment,
    env_from_list,
    find_configs,
    pod_containers,
    routes,
)
from ..graph import Finding, Res, decode_json, get, items
from ..location import is_unknown, reveal
from ..routing import BEDROCK_PROFILE_DESTINATIONS, declared_custom_providers, parse_bedrock_reference
from ..settings import RuleSettings
from . import StackView, rule

_FIX = "Route to a model the profile allows: a self-hosted model, a managed endpoint in a profile region, or an API of the profile's geography, with api_base and region written out (or set in the workload's env)."


def _namespace(props: Mapping[str, Any]) -> str:
    return str(reveal(get(props, "metadata.namespace")) or "default")


def config_map_data(stack: StackView) -> dict[tuple[str, str], Mapping[str, Any]]:
    found: dict[tuple[str, str], Mapping[str, Any]] = {}
    for cm in stack.of_type("kubernetes:core/v1:ConfigMap"):
        name = reveal(get(cm.props, "metadata.name"))
        data = reveal(get(cm.props, "data"))
        if isinstance(name, str) and not is_unknown(name):
            found[(_namespace(cm.props), name)] = data if isinstance(data, Mapping) else {}
    return found


def azure_account_names(stack: StackView) -> frozenset[str]:
    names = set()
    for account in stack.of_type("azure-native:cognitiveservices:Account"):
        for key in ("properties.customSubDomainName", "accountName"):
            value = reveal(get(account.props, key))
            if isinstance(value, str) and not is_unknown(value):
                names.add(value.lower())
    return frozenset(names)


def _workload_envs(res: Res, path: str, stack: StackView, config_maps: Mapping[tuple[str, str], Mapping[str, Any]]) -> list[Environment | None]:
    """The environments a config found at `path` of `res` runs with ([None]: unknown)."""
    pod = pod_containers(res.type, res.props)
    if pod is not None:
        spec_path, spec = pod
        for i, container in enumerate(items(spec.get("containers"))):
            if isinstance(container, Mapping) and path.startswith(f"{spec_path}.containers[{i}]"):
                return [container_environment(container, f"container '{container.get('name')}' of {res.name}", config_maps, _namespace(res.props))]
    if res.type == "aws:ecs/taskDefinition:TaskDefinition":
        containers = decode_json(reveal(res.props.get("containerDefinitions")))
        for i, container in enumerate(containers if isinstance(containers, list) else []):
            if isinstance(container, Mapping) and path.startswith(f"containerDefinitions[{i}]"):
                env = env_from_list(container.get("environment"), f"container '{container.get('name')}' of {res.name}")
                for secret in items(container.get("secrets")):
                    if isinstance(secret, Mapping) and isinstance(secret.get("name"), str):
                        env.values[secret["name"]] = None
                return [env]
    if res.type in ("azure-native:app:ContainerApp", "azure-native:app:Job"):
        for i, container in enumerate(items(get(res.props, "template.containers"))):
            if isinstance(container, Mapping) and path.startswith(f"template.containers[{i}]"):
                return [env_from_list(container.get("env"), f"container '{container.get('name')}' of {res.name}")]
    if res.type == "kubernetes:core/v1:ConfigMap":
        return _config_map_consumers(res, stack, config_maps) or [None]
    return [None]


def _config_map_consumers(cm: Res, stack: StackView, config_maps: Mapping[tuple[str, str], Mapping[str, Any]]) -> list[Environment | None]:
    name = reveal(get(cm.props, "metadata.name"))
    namespace = _namespace(cm.props)
    envs: list[Environment | None] = []
    for res in stack.resources:
        pod = pod_containers(res.type, res.props)
        if pod is None or _namespace(res.props) != namespace:
            continue
        _, spec = pod
        volumes = set()
        for volume in items(spec.get("volumes")):
            if not isinstance(volume, Mapping):
                continue
            sources = [volume.get("configMap")] + [s.get("configMap") for s in items(get(volume, "projected.sources")) if isinstance(s, Mapping)]
            if any(isinstance(s, Mapping) and s.get("name") == name for s in sources) and isinstance(volume.get("name"), str):
                volumes.add(volume["name"])
        for container in items(spec.get("containers")):
            if not isinstance(container, Mapping):
                continue
            mounts = {m.get("name") for m in items(container.get("volumeMounts")) if isinstance(m, Mapping) and isinstance(m.get("name"), str)}
            env_from = any(isinstance(get(s, "configMapRef"), Mapping) and get(s, "configMapRef.name") == name for s in items(container.get("envFrom")))
            if mounts & volumes or env_from:
                envs.append(container_environment(container, f"container '{container.get('name')}' of {res.name}", config_maps, namespace))
    return envs


def _route_problem(route: Route, profile: Any, accounts: frozenset[str], custom_apis: Mapping[str, Any] | None = None) -> str | None:
    if route.problem is not None:
        return f"the destination of route '{route.name}' cannot be decided: {route.problem} (fails closed)."
    destination = route.destination
    assert destination is not None
    if profile.allow_global_processing:
        return None
    if destination.kind == "host":
        verdict = classify_host(destination.value, profile, accounts, destination.service, custom_apis)
        if verdict.status in ("outside", "unknown"):
            return f"route '{route.name}' ({route.provider}/{route.model}) calls {destination.value}: {verdict.message}"
        return None
    if destination.kind == "gcp-region":
        return f"route '{route.name}' ({route.provider}/{route.model}) is processed by Google Cloud in {destination.value}; profile '{profile.name}' has no Google Cloud regions."
    return _aws_region_problem(route, destination, profile)


def _aws_region_problem(route: Route, destination: Destination, profile: Any) -> str | None:
    region = destination.value
    label = f"route '{route.name}' ({route.provider}/{route.model})"
    if destination.service == "bedrock":
        if not profile.bedrock_allowed:
            return f"{label} calls Bedrock, which profile '{profile.name}' does not allow."
        if not profile.allows_processing_in(frozenset({region})):
            return f"{label} calls Bedrock in {region}, outside profile '{profile.name}'."
        ref = parse_bedrock_reference(route.model)
        if ref is not None and ref.prefix is not None:
            destinations = BEDROCK_PROFILE_DESTINATIONS.get(ref.prefix)
            if ref.prefix not in BEDROCK_PROFILE_DESTINATIONS or not profile.allows_processing_in(destinations):
                return f"{label} uses the cross-region prefix '{ref.prefix}.', which may process prompts outside profile '{profile.name}'."
        return None
    if not profile.allows_aws_region(region):
        return f"{label} calls {destination.service or 'AWS'} in {region}, outside profile '{profile.name}'."
    return None


@rule(
    "gateway-routes",
    description="Every LiteLLM gateway route (config as YAML or JSON, in a ConfigMap, a container env value or a file) sends prompts only "
    "where the profile allows: the provider LiteLLM infers from the model string, the host it calls (api_base, os.environ/ references "
    "resolved against the workload's env, provider defaults) and the region the AWS SDK uses; an undecidable route fails closed.",
    severity="critical",
    scope="stack",
    remediation=_FIX,
)
def gateway_routes(stack: StackView, settings: RuleSettings) -> Iterator[Finding]:
    profile = settings.profile
    assert profile is not None
    config_maps: dict[tuple[str, str], Mapping[str, Any]] | None = None
    accounts: frozenset[str] | None = None
    custom_apis = declared_custom_providers(stack.stack_config)
    for res in stack.resources:
        if res.type.startswith("pulumi:providers:") or not res.custom:
            continue
        for path, config in find_configs(res.props):
            if config_maps is None:
                config_maps, accounts = config_map_data(stack), azure_account_names(stack)
            assert accounts is not None
            reported: set[tuple[str, str]] = set()
            for env in _workload_envs(res, path, stack, config_maps):
                for route in routes(config, env, path):
                    problem = _route_problem(route, profile, accounts, custom_apis)
                    if problem and (route.path, problem) not in reported:
                        reported.add((route.path, problem))
                        value = route.destination.value if route.destination else route.name
                        yield Finding(res.urn, route.path, value, problem, _FIX)
