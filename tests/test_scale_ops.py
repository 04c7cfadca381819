"""Scaling, metrics and the gateway's Redis, over every Scale plan of the matrix: what KEDA,
Prometheus, Grafana and LiteLLM need from the recorded graph to work once deployed.

- every model server is scaled by exactly one KEDA ScaledObject (no CPU HPA beside it), on queries
  whose metric and label names the pinned vLLM / LiteLLM export, against the Prometheus Service
  the kube-prometheus-stack release creates, created after the KEDA CRDs;
- every ServiceMonitor selects a Service port that exists, Prometheus may reach it through the
  namespace's NetworkPolicies, and the ScaledObject / ServiceMonitor inputs are valid under the
  pinned CRDs' schemas;
- the dashboard queries only metrics their exporters export;
- the gateway runs no more workers than the cores it requests, is scaled by a CPU HPA, and
  reaches its Redis (TLS, AUTH from the secret store, network path from the cluster only).
"""

from __future__ import annotations

import functools
import json
import os
import re
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from components.k8s.gpu import GPU
from scripts.engine import Plan, ProgramError, RecordedResource, plan_stack
from stacks.errors import ConfigError
from tests.plan_matrix import CLOUD, ROOT, SCALE_CASES, plan_for

FIXTURES = Path(__file__).parent / "fixtures"
METRICS = yaml.safe_load((FIXTURES / "metric_names.yaml").read_text())
AWS_SCALE = tuple(c for c in SCALE_CASES if CLOUD[c] == "aws")
AZURE_SCALE = tuple(c for c in SCALE_CASES if CLOUD[c] == "azure")
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
RELEASE = "kubernetes:helm.sh/v3:Release"
# Labels Prometheus attaches to every target of a ServiceMonitor (prometheus-operator).
TARGET_LABELS = {"namespace", "service", "pod", "container", "endpoint", "job", "instance"}
# Services a chart renders (not in the plan): chart -> (selector labels, port names), from the
# pinned template. dcgm-exporter 3.4.2 templates/service.yaml + _helpers.tpl (NVIDIA/dcgm-exporter
# @3.3.6-3.4.2): app.kubernetes.io/name = chart, app.kubernetes.io/instance = release, port
# "metrics" while service.enable (default true).
CHART_SERVICES: Mapping[str, tuple[Mapping[str, str], tuple[str, ...]]] = {
    "dcgm-exporter": ({"app.kubernetes.io/name": "dcgm-exporter", "app.kubernetes.io/instance": "{release}"}, ("metrics",)),
}


def _of(plan: Plan, token: str) -> list[RecordedResource]:
    return [r for r in plan.resources if r.type == token]


def _k8s(plan: Plan, kind: str) -> list[RecordedResource]:
    return [r for r in plan.resources if r.type.startswith("kubernetes:") and r.inputs.get("kind") == kind]


def _release(plan: Plan, chart: str) -> RecordedResource:
    (release,) = [r for r in _of(plan, RELEASE) if r.inputs["chart"].rsplit("/", 1)[-1] == chart]
    return release


def _scale(plan: Plan) -> dict[str, Any]:
    return plan.config["llm-platform:scale"]


def _gpu_deployments(plan: Plan) -> list[RecordedResource]:
    return [d for d in _k8s(plan, "Deployment") if any(GPU.resource in (c.get("resources", {}).get("limits") or {}) for c in d.inputs["spec"]["template"]["spec"]["containers"])]


def _gateway(plan: Plan) -> RecordedResource:
    (gateway,) = [d for d in _k8s(plan, "Deployment") if d.inputs["metadata"]["name"] == "litellm"]
    return gateway


# --------------------------------------------------------------------------- metric names


def wire_names(section: Mapping[str, Any]) -> set[str]:
    """Names as Prometheus stores them: counters end in _total, histograms in _bucket/_sum/_count."""
    names = set(section["gauges"])
    names |= {f"{c}_total" for c in section["counters"]}
    names |= {f"{h}{s}" for h in section["histograms"] for s in ("_bucket", "_sum", "_count")}
    return names


@functools.cache
def litellm_metrics() -> tuple[set[str], dict[str, set[str]]]:
    """Every metric the installed LiteLLM (the gateway image's release) defines, with its labels."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network on import
    from litellm.types.integrations.prometheus import DEFINED_PROMETHEUS_METRICS, PrometheusMetricLabels

    names = set(typing.get_args(DEFINED_PROMETHEUS_METRICS))
    # Metrics without a label list in PrometheusMetricLabels carry no labels.
    labels = {n: set(PrometheusMetricLabels.get_labels(n)) if hasattr(PrometheusMetricLabels, n) else set() for n in names}
    wire: set[str] = set()
    for n in names:  # type is not listed: accept every form a counter or histogram takes
        wire |= {n, f"{n}_total", f"{n}_bucket", f"{n}_sum", f"{n}_count"}
    return wire, {w: labels[n] for n in names for w in (n, f"{n}_total", f"{n}_bucket", f"{n}_sum", f"{n}_count")}


_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{[^}]*\})?")
_FUNCTIONS = {"sum", "avg", "max", "min", "rate", "increase", "histogram_quantile", "by", "without", "count", "irate", "le"}


def promql_series(query: str) -> list[tuple[str, set[str]]]:
    """(metric, label names used) for each series selector in a query; `by (...)` labels too."""
    grouping = {label.strip() for group in re.findall(r"\bby\s*\(([^)]*)\)", query) for label in group.split(",") if label.strip()}
    stripped = re.sub(r"\bby\s*\([^)]*\)", "", query)
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)
    stripped = re.sub(r'"[^"]*"', '""', stripped)
    found = []
    for name, matchers in _SELECTOR.findall(stripped):
        if name in _FUNCTIONS or re.fullmatch(r"[0-9.]+", name):
            continue
        labels = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=~?", matchers or ""))
        found.append((name, labels | grouping - {"le"}))
    return found


def unknown_series(query: str) -> list[str]:
    """Metric or label names in a query that no pinned exporter defines."""
    vllm, dcgm = wire_names(METRICS["vllm"]), wire_names(METRICS["dcgm"])
    litellm, litellm_labels = litellm_metrics()
    problems = []
    for metric, labels in promql_series(query):
        if metric in vllm:
            allowed = set(METRICS["vllm"]["labels"])
        elif metric in dcgm:
            allowed = set(METRICS["dcgm"]["labels"])
        elif metric in litellm:
            allowed = litellm_labels[metric]
        else:
            problems.append(f"metric {metric}")
            continue
        problems += [f"{metric} label {label}" for label in sorted(labels - allowed - TARGET_LABELS)]
    return problems


def test_the_metric_name_check_catches_a_renamed_metric_and_label() -> None:
    assert unknown_series('sum(vllm:num_requests_waiting{model_name="a"})') == []
    assert unknown_series("sum(vllm:gpu_cache_usage_percent)") == ["metric vllm:gpu_cache_usage_percent"]
    assert unknown_series('sum(vllm:num_requests_waiting{model="a"})') == ["vllm:num_requests_waiting label model"]
    assert unknown_series("sum by (le, model) (rate(litellm_llm_api_time_to_first_token_metric_bucket[5m]))") == []
    assert unknown_series("sum(rate(litellm_request_count_total[5m]))") == ["metric litellm_request_count_total"]


# --------------------------------------------------------------------------- KEDA


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_every_model_server_is_scaled_by_one_scaled_object_on_its_queue(case_id: str) -> None:
    plan = plan_for(case_id)
    models = {m["name"]: m for m in _scale(plan)["models"]}
    deployments = {(d.inputs["metadata"]["namespace"], d.inputs["metadata"]["name"]): d for d in _gpu_deployments(plan)}
    scalers = _of(plan, SCALED_OBJECT)
    targets = [(s.inputs["metadata"]["namespace"], s.inputs["spec"]["scaleTargetRef"]["name"]) for s in scalers]
    assert sorted(targets) == sorted(deployments), "each model Deployment has exactly one ScaledObject and each ScaledObject a Deployment"
    hpas = {(h.inputs["metadata"]["namespace"], h.inputs["spec"]["scaleTargetRef"]["name"]) for h in _k8s(plan, "HorizontalPodAutoscaler")}
    assert not hpas & set(deployments), "a CPU HPA beside KEDA's would fight it (and KEDA's webhook refuses the ScaledObject)"
    for scaler in scalers:
        spec, target = scaler.inputs["spec"], scaler.inputs["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
        deployment = deployments[(scaler.inputs["metadata"]["namespace"], target["name"])]
        assert "replicas" not in deployment.inputs["spec"], "Pulumi would reset the replicas KEDA sets"
        model = models[deployment.inputs["metadata"]["labels"]["llm-platform.io/model"]]
        assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (model.get("minReplicas", 1), model["maxReplicas"])
        # Upgrades from the CPU HPA (named like the Deployment): KEDA takes it over by name.
        assert spec["advanced"]["horizontalPodAutoscalerConfig"]["name"] == target["name"]
        assert scaler.inputs["metadata"]["annotations"].get("scaledobject.keda.sh/transfer-hpa-ownership") == "true"
        queries = [t["metadata"]["query"] for t in spec["triggers"] if t["type"] == "prometheus"]
        for metric in ("vllm:num_requests_waiting", "vllm:num_requests_running"):
            assert any(metric in q and f'model_name="{model["name"]}"' in q for q in queries), f"no {metric} trigger for this model"
        if spec["minReplicaCount"] == 0:
            routes = [r["name"] for r in _scale(plan)["routes"] if model["name"] in r.get("selfHosted", [])]
            assert any(all(r in q for r in routes) and "litellm_" in q for q in queries), "a model at zero has no vLLM series: gateway demand must wake it"


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_scale_triggers_query_the_stacks_prometheus_with_metrics_that_exist(case_id: str) -> None:
    plan = plan_for(case_id)
    stack = _release(plan, "kube-prometheus-stack")
    values = stack.inputs["values"]
    assert values["prometheus"].get("enabled", True) and values["prometheus"].get("service", {}).get("enabled", True)
    port = values["prometheus"].get("service", {}).get("port", 9090)  # chart 88.5.3 default
    prometheus = f"http://{values['fullnameOverride']}-prometheus.{stack.inputs['namespace']}.svc.cluster.local:{port}"
    for scaler in _of(plan, SCALED_OBJECT):
        for trigger in scaler.inputs["spec"]["triggers"]:
            assert trigger["type"] == "prometheus"
            assert trigger["metadata"]["serverAddress"] == prometheus, f"{scaler.name}: no such Prometheus Service"
            assert unknown_series(trigger["metadata"]["query"]) == [], f"{scaler.name}: {trigger['metadata']['query']}"
            float(trigger["metadata"]["threshold"])


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_custom_resources_wait_for_the_release_that_installs_their_crd(case_id: str) -> None:
    plan = plan_for(case_id)
    keda, prometheus = _release(plan, "keda"), _release(plan, "kube-prometheus-stack")
    assert keda.inputs["values"]["crds"]["install"] is True
    assert prometheus.inputs["values"]["crds"]["enabled"] is True
    for resource in _of(plan, SCALED_OBJECT):
        assert keda.urn in resource.dependencies, f"{resource.name} may be created before the ScaledObject CRD and KEDA's webhook"
    for resource in _of(plan, SERVICE_MONITOR):
        assert prometheus.urn in resource.dependencies, f"{resource.name} may be created before the ServiceMonitor CRD"


def strict(schema: Any) -> Any:
    """The CRD schema as the API server applies it with strict field validation (Pulumi's
    server-side apply): a field the schema does not declare is an error, not silently pruned."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if "properties" in out and not out.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


SCHEMAS = {
    SCALED_OBJECT: strict(json.loads((FIXTURES / "keda_2.20.2_scaledobject_schema.json").read_text())["schema"]),
    SERVICE_MONITOR: strict(json.loads((FIXTURES / "kps_88.5.3_servicemonitor_schema.json").read_text())["schema"]),
}


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_scaled_objects_and_service_monitors_are_valid_under_the_pinned_crds(case_id: str) -> None:
    plan = plan_for(case_id)
    for token, schema in SCHEMAS.items():
        for resource in _of(plan, token):
            jsonschema.validate({k: v for k, v in resource.inputs.items() if k not in ("apiVersion", "kind", "metadata")}, schema)


def test_the_crd_check_rejects_a_misspelled_field() -> None:
    spec = {"scaleTargetRef": {"name": "vllm-x"}, "minReplicasCount": 1, "triggers": [{"type": "prometheus", "metadata": {}}]}
    with pytest.raises(jsonschema.ValidationError, match="minReplicasCount"):
        jsonschema.validate({"spec": spec}, SCHEMAS[SCALED_OBJECT])


# --------------------------------------------------------------------------- scraping


def _network_policies(plan: Plan, namespace: str) -> list[dict[str, Any]]:
    return [p.inputs for p in _k8s(plan, "NetworkPolicy") if p.inputs["metadata"].get("namespace") == namespace]


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def prometheus_may_reach(plan: Plan, namespace: str, pod_labels: Mapping[str, str], port: int, monitoring_namespace: str) -> bool:
    """True when no ingress policy selects the pods, or one admits the monitoring namespace."""
    policies = [p for p in _network_policies(plan, namespace) if "Ingress" in p["spec"].get("policyTypes", []) and _selects(p["spec"]["podSelector"], pod_labels)]
    if not policies:
        return True
    for policy in policies:
        for rule in policy["spec"].get("ingress") or []:
            ports = [p.get("port") for p in rule.get("ports") or []]
            sources = rule.get("from") or []
            from_monitoring = any(
                (s.get("namespaceSelector") or {}).get("matchLabels") == {"kubernetes.io/metadata.name": monitoring_namespace} and not s.get("podSelector") for s in sources
            )
            if from_monitoring and (not ports or port in ports):
                return True
    return False


def _services(plan: Plan, namespace: str) -> Iterator[tuple[Mapping[str, str], dict[str, int], Mapping[str, str]]]:
    """(labels, port name -> target port, pod selector) of each Service in a namespace, chart-rendered ones included."""
    for service in _k8s(plan, "Service"):
        if service.inputs["metadata"].get("namespace") == namespace:
            ports = {p["name"]: int(p.get("targetPort", p["port"])) for p in service.inputs["spec"]["ports"]}
            yield service.inputs["metadata"]["labels"], ports, service.inputs["spec"]["selector"]
    for release in _of(plan, RELEASE):
        chart = release.inputs["chart"].rsplit("/", 1)[-1]
        if release.inputs["namespace"] == namespace and chart in CHART_SERVICES and release.inputs["values"].get("service", {}).get("enable", True):
            labels, names = CHART_SERVICES[chart]
            resolved = {k: v.format(release=release.inputs["name"]) for k, v in labels.items()}
            yield resolved, {n: int(release.inputs["values"].get("service", {}).get("port", 9400)) for n in names}, resolved


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_every_scrape_target_is_a_service_port_prometheus_may_reach(case_id: str) -> None:
    plan = plan_for(case_id)
    monitoring_namespace = _release(plan, "kube-prometheus-stack").inputs["namespace"]
    monitors = {m.inputs["metadata"]["name"]: m.inputs for m in _of(plan, SERVICE_MONITOR)}
    assert {"vllm", "litellm", "dcgm-exporter"} <= set(monitors)
    for name, monitor in monitors.items():
        namespaces = monitor["spec"]["namespaceSelector"]["matchNames"]
        matched = [
            (ports, selector)
            for ns in namespaces
            for labels, ports, selector in _services(plan, ns)
            if _selects(monitor["spec"]["selector"], labels)
        ]
        assert matched, f"ServiceMonitor {name} selects no Service"
        for endpoint in monitor["spec"]["endpoints"]:
            for ports, selector in matched:
                assert endpoint["port"] in ports, f"ServiceMonitor {name}: no Service port named {endpoint['port']!r} ({sorted(ports)})"
                for ns in namespaces:
                    assert prometheus_may_reach(plan, ns, selector, ports[endpoint["port"]], monitoring_namespace), f"{name}: NetworkPolicies in {ns} keep Prometheus out"


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_litellm_serves_metrics_and_grafana_stays_internal(case_id: str) -> None:
    plan = plan_for(case_id)
    (config_map,) = [c for c in _k8s(plan, "ConfigMap") if c.inputs["metadata"]["name"] == "litellm-config"]
    config = yaml.safe_load(config_map.inputs["data"]["config.yaml"])
    assert "prometheus" in (config.get("litellm_settings") or {}).get("callbacks", []), "LiteLLM mounts /metrics only with its prometheus callback"
    values = _release(plan, "kube-prometheus-stack").inputs["values"]["grafana"]
    assert values.get("service", {}).get("type", "ClusterIP") == "ClusterIP" and not values.get("ingress", {}).get("enabled")
    assert "adminPassword" not in values, "the chart generates a random admin password only when none is given"


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_dashboards_query_only_metrics_their_exporters_export(case_id: str) -> None:
    plan = plan_for(case_id)
    dashboards = [c for c in _k8s(plan, "ConfigMap") if c.inputs["metadata"]["labels"].get("grafana_dashboard") == "1"]
    assert dashboards
    titles = set()
    for config_map in dashboards:
        for text in config_map.inputs["data"].values():
            for panel in json.loads(text)["panels"]:
                titles.add(panel["title"])
                for target in panel["targets"]:
                    assert unknown_series(target["expr"]) == [], f"{panel['title']}: {target['expr']}"
    for needed in ("GPU utilisation", "Queue depth (requests waiting)", "Generated tokens/s", "TTFT p95", "Cost per upstream (per hour)"):
        assert needed in titles


# --------------------------------------------------------------------------- the gateway


def _cores(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_gateway_workers_fit_its_cpu_request_and_a_cpu_hpa_scales_it(case_id: str) -> None:
    plan = plan_for(case_id)
    gateway = _gateway(plan)
    (container,) = gateway.inputs["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    workers = int(args[args.index("--num_workers") + 1]) if "--num_workers" in args else 1
    cores = _cores(container["resources"]["requests"]["cpu"])
    assert 1 <= workers <= max(1, cores), f"{workers} workers on {cores} requested cores"
    assert "replicas" not in gateway.inputs["spec"], "Pulumi would reset the replicas the HPA sets"
    (hpa,) = [h for h in _k8s(plan, "HorizontalPodAutoscaler") if h.inputs["spec"]["scaleTargetRef"]["name"] == "litellm"]
    spec, gateway_config = hpa.inputs["spec"], _scale(plan).get("gateway", {})
    assert spec["scaleTargetRef"]["kind"] == "Deployment" and hpa.inputs["metadata"]["namespace"] == gateway.inputs["metadata"]["namespace"]
    assert spec["minReplicas"] == gateway_config.get("replicas", 2) <= spec["maxReplicas"]
    assert [m["resource"]["name"] for m in spec["metrics"]] == ["cpu"]
    (pdb,) = [p for p in _k8s(plan, "PodDisruptionBudget") if p.inputs["metadata"]["name"] == "litellm"]
    assert pdb.inputs["spec"].get("maxUnavailable") == 1 and "minAvailable" not in pdb.inputs["spec"], "a drain must never be blocked at the HPA's minimum"


def _gateway_env(plan: Plan) -> tuple[dict[str, Any], dict[str, Any]]:
    (container,) = _gateway(plan).inputs["spec"]["template"]["spec"]["containers"]
    plain = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    secret = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    return plain, secret


def _gateway_remote_secret(plan: Plan, key: str) -> str:
    (external,) = [e for e in _k8s(plan, "ExternalSecret") if e.inputs["spec"]["target"]["name"] == "gateway-secrets"]
    (remote,) = [d["remoteRef"]["key"] for d in external.inputs["spec"]["data"] if d["secretKey"] == key]
    return remote


@pytest.mark.parametrize("case_id", AWS_SCALE)
def test_gateway_reaches_its_elasticache_over_tls_with_auth_from_the_cluster_only(case_id: str) -> None:
    plan = plan_for(case_id)
    plain, secret = _gateway_env(plan)
    (group,) = [g for g in _of(plan, "aws:elasticache/replicationGroup:ReplicationGroup") if "gateway" in g.name]
    inputs = group.inputs
    assert inputs["transitEncryptionEnabled"] and inputs["atRestEncryptionEnabled"] and inputs.get("kmsKeyId") and inputs.get("authToken")
    assert (plain["REDIS_PORT"], plain["REDIS_SSL"]) == (str(int(inputs["port"])), "True")
    assert secret["REDIS_PASSWORD"]["name"] == "gateway-secrets"
    (stored,) = [s for s in _of(plan, "aws:secretsmanager/secret:Secret") if s.parent and "gateway-cache" in s.parent]
    assert _gateway_remote_secret(plan, "REDIS_PASSWORD").startswith("arn:aws") and stored.inputs["name"] in _gateway_remote_secret(plan, "REDIS_PASSWORD")
    groups = {g.urn: g for g in _of(plan, "aws:ec2/securityGroup:SecurityGroup")}
    (sg,) = [groups[u] for u in group.dependencies if u in groups]
    (rule,) = sg.inputs["ingress"]
    assert int(rule["fromPort"]) == int(rule["toPort"]) == int(inputs["port"])
    assert not rule.get("cidrBlocks") and len(rule.get("securityGroups") or []) == 1, "Redis admits the cluster's security group only"
    (cluster,) = _of(plan, "aws:eks/cluster:Cluster")
    assert cluster.urn in sg.dependencies, "the admitted security group is not the EKS cluster's"


@pytest.mark.parametrize("case_id", AZURE_SCALE)
def test_gateway_reaches_its_azure_redis_over_a_private_endpoint_with_tls(case_id: str) -> None:
    plan = plan_for(case_id)
    plain, secret = _gateway_env(plan)
    assert plain["REDIS_SSL"] == "True" and secret["REDIS_PASSWORD"]["name"] == "gateway-secrets"
    managed = [r for r in _of(plan, "azure-native:redisenterprise:RedisEnterprise") if "gateway-cache" in r.name]
    classic = [r for r in _of(plan, "azure-native:redis:Redis") if "gateway-cache" in r.name]
    assert len(managed + classic) == 1
    if managed:
        (database,) = [d for d in _of(plan, "azure-native:redisenterprise:Database") if "gateway-cache" in d.name]
        assert managed[0].inputs["publicNetworkAccess"] == "Disabled" and database.inputs["clientProtocol"] == "Encrypted"
        assert plain["REDIS_PORT"] == str(int(database.inputs["port"]))
        assert managed[0].inputs.get("encryption", {}).get("customerManagedKeyEncryption"), "Azure Managed Redis takes the customer-managed key"
        group_id = "redisEnterprise"
    else:
        cache = classic[0].inputs
        assert cache["publicNetworkAccess"] == "Disabled" and cache["enableNonSslPort"] is False and cache["minimumTlsVersion"] == "1.2"
        assert plain["REDIS_PORT"] == "6380"  # Azure Cache for Redis: TLS port
        group_id = "redisCache"
    (endpoint,) = [e for e in _of(plan, "azure-native:network:PrivateEndpoint") if "gateway-cache" in e.name]
    assert endpoint.inputs["privateLinkServiceConnections"][0]["groupIds"] == [group_id]
    (vnet,) = _of(plan, "azure-native:network:VirtualNetwork")
    subnets = {s["name"] for s in vnet.inputs["subnets"]}
    assert {"aks", "endpoints"} <= subnets and endpoint.inputs["subnet"]["id"].endswith("/subnets/endpoints"), "the endpoint is not in the cluster's VNet"
    (zone_group,) = [z for z in _of(plan, "azure-native:network:PrivateDnsZoneGroup") if "gateway-cache" in z.name]
    zone_id = zone_group.inputs["privateDnsZoneConfigs"][0]["privateDnsZoneId"]
    links = [link for link in _of(plan, "azure-native:privatedns:VirtualNetworkLink") if zone_id.endswith("/" + str(link.inputs["privateZoneName"]))]
    assert links, "the cache's private DNS zone is not linked to the VNet: the pods would resolve its public address"
    remote = _gateway_remote_secret(plan, "REDIS_PASSWORD")
    assert any(s.inputs["secretName"] == remote for s in _of(plan, "azure-native:keyvault:Secret")), "REDIS_PASSWORD names no Key Vault secret"


# --------------------------------------------------------------------------- config


def _stack(tmp_path: Path, base: str, name: str, scale: Mapping[str, Any]) -> str:
    from tests.conftest import deep_merge

    document = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{base}.yaml").read_text())
    document["config"] = deep_merge(document["config"], {"llm-platform:scale": dict(scale)})
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return str(path)


def test_scale_to_zero_needs_fallbacks_and_wakes_on_gateway_demand(tmp_path: Path) -> None:
    base = yaml.safe_load((ROOT / "stacks" / "Pulumi.scale-aws.yaml").read_text())["config"]["llm-platform:scale"]
    zero = base["models"][0]["name"]
    models = [{**m, "minReplicas": 0} if m["name"] == zero else m for m in base["models"]]
    routes = [{**r, "fallbacks": []} if zero in r.get("selfHosted", []) else r for r in base["routes"]]
    with pytest.raises((ConfigError, ProgramError)) as refused:
        plan_stack(_stack(tmp_path, "scale-aws", "zero-alone", {"models": models, "routes": routes}))
    assert "minReplicas" in str(refused.value) and "no fallbacks" in str(refused.value)
    plan = plan_stack(_stack(tmp_path, "scale-aws", "zero", {"models": models}))
    (scaler,) = [s for s in _of(plan, SCALED_OBJECT) if s.inputs["metadata"]["name"] == f"vllm-{zero}"]
    assert scaler.inputs["spec"]["minReplicaCount"] == 0
    (demand,) = [t for t in scaler.inputs["spec"]["triggers"] if t["name"] == "gateway-demand"]
    serving = sorted(r["name"] for r in base["routes"] if zero in r.get("selfHosted", []))
    assert f'requested_model=~"{"|".join(serving)}"' in demand["metadata"]["query"] and demand["metadata"]["activationThreshold"] == "0"


def test_gateway_max_replicas_below_replicas_is_refused(tmp_path: Path) -> None:
    with pytest.raises((ConfigError, ProgramError)) as refused:
        plan_stack(_stack(tmp_path, "scale-azure", "gateway-max", {"gateway": {"replicas": 3, "maxReplicas": 2}}))
    assert "maxReplicas" in str(refused.value)


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_keda_and_prometheus_charts_and_images_come_from_the_stacks_mirrors(case_id: str) -> None:
    from policies.llm_guard.sources import chart_value_images

    plan = plan_for(case_id)
    mirrors = plan.config.get("llm-platform:mirrors") or {}
    for release in (_release(plan, "keda"), _release(plan, "kube-prometheus-stack")):
        images = [ref for _, ref in chart_value_images(release.inputs["values"])]
        assert len(images) >= 3, f"{release.name}: images left to chart defaults escape the mirror"
        for ref in images:
            if mirrors.get("imageRegistry"):
                assert ref.startswith(mirrors["imageRegistry"].rstrip("/") + "/"), f"{release.name} pulls {ref} from outside the mirror"
            else:
                assert ref.split("/", 1)[0] in ("ghcr.io", "quay.io", "docker.io"), ref
        if mirrors.get("helmRepository"):
            assert release.inputs["chart"].startswith(mirrors["helmRepository"].rstrip("/") + "/")
            # An OCI chart names no repository; its options carry at most the registry login.
            assert not (release.inputs.get("repositoryOpts") or {}).get("repo"), f"{release.name}: an OCI chart with a repository"


# --------------------------------------------------------------------------- gateway metrics and caps


def _gateway_config(plan: Plan) -> dict[str, Any]:
    (config_map,) = [c for c in _k8s(plan, "ConfigMap") if c.inputs["metadata"]["name"] == "litellm-config"]
    return yaml.safe_load(config_map.inputs["data"]["config.yaml"])


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_prometheus_scrapes_the_gateway_with_its_own_key(case_id: str) -> None:
    """LiteLLM 1.108.6 answers /metrics 401 without a key (require_auth_for_metrics_endpoint
    defaults to True): the ServiceMonitor sends a key the gateway's auth module knows, kept in
    the secret store apart from the master and team keys (tests/test_gateway_integration.py
    test_prometheus_reads_metrics_with_its_key_only runs the real proxy with it)."""
    plan = plan_for(case_id)
    (monitor,) = [m for m in _of(plan, SERVICE_MONITOR) if m.inputs["metadata"]["name"] == "litellm"]
    namespace = monitor.inputs["metadata"]["namespace"]
    (endpoint,) = monitor.inputs["spec"]["endpoints"]
    auth = endpoint.get("authorization") or {}
    assert auth.get("type", "Bearer") == "Bearer" and auth.get("credentials", {}).get("name"), f"Prometheus scrapes LiteLLM without a key: 401 ({endpoint})"
    secret, key = auth["credentials"]["name"], auth["credentials"]["key"]
    # The Secret the operator reads is synced into the ServiceMonitor's own namespace...
    (external,) = [e for e in _k8s(plan, "ExternalSecret") if e.inputs["metadata"]["namespace"] == namespace and e.inputs["spec"]["target"]["name"] == secret]
    remote = {d["secretKey"]: d["remoteRef"]["key"] for d in external.inputs["spec"]["data"]}
    assert key in remote, f"{secret} has no {key}"
    # ... and the gateway's auth module gets the same key (components.gateway_auth reads the env).
    _, secret_env = _gateway_env(plan)
    assert secret_env.get("LLM_PLATFORM_METRICS_KEY") == {"name": secret, "key": key}
    assert _gateway_config(plan)["general_settings"]["custom_auth"] == "llm_platform_auth.user_api_key_auth"
    others = {k: v for k, v in remote.items() if k == "LITELLM_MASTER_KEY" or k.startswith("LLM_PLATFORM_TEAM_KEY_")}
    assert remote[key] not in others.values(), "Prometheus must get its own key, not the master's or a team's"


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_self_hosted_caps_admit_no_more_than_the_model_serves_at_min_replicas(case_id: str) -> None:
    """LiteLLM counts max_parallel_requests per deployment (each route's entry) in each gateway
    pod: summed over the routes and the gateway's maximum pods, the self-hosted caps stay within
    32 per model replica at minReplicas (one when it rests at zero), which stays above KEDA's
    batch-size target so an admitted replica still reads as pressure."""
    from stacks.scale import SELF_HOSTED_CONCURRENCY_PER_REPLICA, SELF_HOSTED_TIMEOUT_SECONDS

    plan = plan_for(case_id)
    (hpa,) = [h for h in _k8s(plan, "HorizontalPodAutoscaler") if h.inputs["spec"]["scaleTargetRef"]["name"] == "litellm"]
    gateway_pods = hpa.inputs["spec"]["maxReplicas"]
    entries = [m["litellm_params"] for m in _gateway_config(plan)["model_list"] if m["model_info"]["platform_tier"] == "self-hosted"]
    scalers = {s.inputs["spec"]["scaleTargetRef"]["name"]: s.inputs["spec"] for s in _of(plan, SCALED_OBJECT)}
    for model in _scale(plan)["models"]:
        caps = [e["max_parallel_requests"] for e in entries if e["model"] == f"hosted_vllm/{model['name']}"]
        if not caps:
            continue
        admitted = SELF_HOSTED_CONCURRENCY_PER_REPLICA * max(1, model.get("minReplicas", 1))
        assert sum(caps) * gateway_pods <= admitted, f"{model['name']}: routes admit {caps} per gateway pod x {gateway_pods} pods > {admitted} served at minReplicas"
        assert all(c >= 1 for c in caps)
        (spec,) = [s for s in scalers.values() if any(f'model_name="{model["name"]}"' in t["metadata"]["query"] for t in s["triggers"])]
        (batch,) = [t for t in spec["triggers"] if t["name"] == "batch-size"]
        assert float(batch["metadata"]["threshold"]) < SELF_HOSTED_CONCURRENCY_PER_REPLICA, "KEDA would never see pressure from a full replica"
    assert all(e["timeout"] <= SELF_HOSTED_TIMEOUT_SECONDS for e in entries), "a stuck self-hosted answer holds the request for the gateway's whole timeout"
