"""Provider contracts of the low-code app on ECS Fargate, over every plan of tests/plan_matrix.py:
task sizes Fargate accepts, no empty env values, services that wait for whatever attaches their
target groups, security groups that allow every call a container is configured to make, target
groups replaced with their ALB, and parity with Dify's / Flowise's own compose wiring."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from components.aws.ecs_app import FARGATE_TASK_SIZES
from components.lowcode import IMAGE_REPOSITORIES
from scripts.engine import Plan, RecordedResource
from scripts.engine.mocks import _EC2_ID_PREFIX, _digest
from tests.plan_matrix import AWS_CASES, AZURE_CASES, CASES, CLOUD, case_config, plan_for

FIXTURES = Path(__file__).parent / "fixtures" / "upstream"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
LOCAL_HOSTS = {"localhost", "127.0.0.1"}


def _of(plan: Plan, *types: str) -> list[RecordedResource]:
    return [r for r in plan.resources if r.type in types]


def _ec2_id(r: RecordedResource) -> str:
    """The id the offline engine gives an EC2 resource (scripts/engine/mocks.py), to follow references."""
    return f"{_EC2_ID_PREFIX[r.type]}-{_digest(r.type, r.name)[:17]}"


def _containers(task: RecordedResource) -> list[dict[str, Any]]:
    raw = task.inputs["containerDefinitions"]
    try:
        return list(json.loads(raw))
    except (TypeError, ValueError):
        pytest.fail(f"{task.urn}: container definitions are not known at preview ({raw!r}); a setting computed at deploy time must be read by ARN (SSM/Secrets Manager)")


def _task_of(plan: Plan, service: RecordedResource) -> RecordedResource:
    family = service.inputs["taskDefinition"].rsplit("/", 1)[-1].rsplit(":", 1)[0]
    return next(t for t in _of(plan, TASK) if t.inputs["family"] == family)


# ------------------------------------------------------------------------- sizes and env


@pytest.mark.parametrize("case_id", AWS_CASES)
def test_fargate_task_sizes_are_valid_and_hold_their_containers(case_id: str) -> None:
    tasks = _of(plan_for(case_id), TASK)
    assert tasks
    for task in tasks:
        cpu, memory = int(task.inputs["cpu"]), int(task.inputs["memory"])
        assert memory in FARGATE_TASK_SIZES.get(cpu, ()), f"{task.urn}: {cpu} CPU / {memory} MiB is not a Fargate size"
        containers = _containers(task)
        assert sum(c.get("cpu", 0) for c in containers) <= cpu, f"{task.urn}: container CPU exceeds the task's"
        assert sum(c.get("memory") or c.get("memoryReservation", 0) for c in containers) <= memory, f"{task.urn}: container memory exceeds the task's"


@pytest.mark.parametrize("case_id", AWS_CASES)
def test_no_empty_env_values_in_container_definitions(case_id: str) -> None:
    for task in _of(plan_for(case_id), TASK):
        for c in _containers(task):
            empty = [e["name"] for e in c.get("environment", []) if e.get("value") in ("", None)]
            assert not empty, f"{task.urn} {c['name']}: ECS drops empty values, so {empty} would change on every up"


# ------------------------------------------------------------------------- load balancer


@pytest.mark.parametrize("case_id", AWS_CASES)
def test_services_depend_on_everything_that_attaches_their_target_groups(case_id: str) -> None:
    plan = plan_for(case_id)
    attachers = _of(plan, "aws:lb/listener:Listener", "aws:lb/listenerRule:ListenerRule")
    checked = 0
    for service in _of(plan, SERVICE):
        groups = {d for d in service.dependencies if d.split("::")[-2].endswith(TARGET_GROUP)}
        assert len(groups) == len(service.inputs.get("loadBalancers") or []), service.urn
        for attacher in attachers:
            if groups & set(attacher.dependencies):
                assert attacher.urn in service.dependencies, f"{service.urn} does not wait for {attacher.urn}, which attaches its target group"
                checked += 1
    assert checked


@pytest.mark.parametrize(("poc", "beta"), [("poc-aws", "beta-aws"), ("poc-aws", "beta-aws-dify-aurora-eu")])
def test_alb_replacement_takes_its_target_groups_with_it(poc: str, beta: str, plan_of: Callable[..., Plan]) -> None:
    """PoC -> Beta turns the ALB internal, which replaces it; a target group serves one ALB only,
    so each of its target groups must change a replace-forcing input (its name) as well."""
    from tests.plan_matrix import _DIR  # the matrix's own stack files

    def plan(case_id: str) -> Plan:
        case = CASES[case_id]
        if case.id == case.base:
            return plan_of(case.id, "promoted")
        path = _DIR / f"Pulumi.{case.id}.yaml"
        path.write_text(yaml.safe_dump(case_config(case), sort_keys=False))
        return plan_of(path, "promoted")

    before, after = plan(poc), plan(beta)
    lb_before = {r.urn: r for r in _of(before, "aws:lb/loadBalancer:LoadBalancer")}
    replaced = [r for r in _of(after, "aws:lb/loadBalancer:LoadBalancer") if r.urn in lb_before and lb_before[r.urn].inputs["internal"] != r.inputs["internal"]]
    assert replaced, "the promotion does not change the ALB scheme any more: revisit this check"
    groups_before = {r.urn: r for r in _of(before, TARGET_GROUP)}
    for group in _of(after, TARGET_GROUP):
        old = groups_before.get(group.urn)
        if old is None:
            continue
        forcing = ("name", "namePrefix", "port", "protocol", "targetType", "vpcId")
        assert any(old.inputs.get(k) != group.inputs.get(k) for k in forcing), f"{group.urn} stays while its ALB is replaced: the new ALB cannot take it"


# ------------------------------------------------------------------------- network paths


@dataclass(frozen=True)
class Rule:
    from_port: int
    to_port: int
    cidrs: tuple[str, ...]
    groups: tuple[str, ...]

    def allows(self, port: int, cidrs: Iterable[str], groups: Iterable[str]) -> bool:
        if not self.from_port <= port <= self.to_port:
            return False
        wanted = [ipaddress.ip_network(c) for c in cidrs]
        by_cidr = bool(wanted) and all(any(w.subnet_of(ipaddress.ip_network(c)) for c in self.cidrs) for w in wanted)
        return by_cidr or bool(set(groups) & set(self.groups))


class Network:
    """Security group rules and subnet ranges of a plan, by the ids resources use to refer to them."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.subnets = {_ec2_id(s): s for s in _of(plan, "aws:ec2/subnet:Subnet")}
        self.ingress: dict[str, list[Rule]] = {}
        self.egress: dict[str, list[Rule]] = {}
        for group in _of(plan, SG):
            gid = _ec2_id(group)
            for direction, rules in (("ingress", self.ingress), ("egress", self.egress)):
                rules[gid] = [
                    Rule(int(r["fromPort"]), int(r["toPort"]), tuple(r.get("cidrBlocks") or ()), tuple(r.get("securityGroups") or ()))
                    for r in group.inputs.get(direction) or []
                ]
        for kind, rules in (("Ingress", self.ingress), ("Egress", self.egress)):
            for r in _of(plan, f"aws:vpc/securityGroup{kind}Rule:SecurityGroup{kind}Rule"):
                i = r.inputs
                low, high = (0, 65535) if i["ipProtocol"] == "-1" else (int(i["fromPort"]), int(i["toPort"]))
                rules.setdefault(i["securityGroupId"], []).append(Rule(low, high, tuple(filter(None, [i.get("cidrIpv4")])), tuple(filter(None, [i.get("referencedSecurityGroupId")]))))

    def cidrs(self, subnet_ids: Iterable[str]) -> list[str]:
        return [self.subnets[s].inputs["cidrBlock"] for s in subnet_ids]

    def allowed(self, rules: dict[str, list[Rule]], groups: Iterable[str], port: int, cidrs: Iterable[str], peers: Iterable[str]) -> bool:
        cidrs, peers = list(cidrs), list(peers)
        return any(rule.allows(port, cidrs, peers) for g in groups for rule in rules.get(g, []))


@dataclass
class Callee:
    what: str
    port: int
    cidrs: list[str]  # where it listens
    groups: list[str]  # its security groups ([] = not guarded by one, e.g. the internet)
    source_ranges: list[str] | None = None  # Kubernetes loadBalancerSourceRanges


def _by_urn(plan: Plan) -> dict[str, RecordedResource]:
    return {r.urn: r for r in plan.resources}


def _data_store(plan: Plan, net: Network, store: RecordedResource) -> Callee:
    index = _by_urn(plan)
    engine = str(store.inputs.get("engine", ""))
    port = int(store.inputs.get("port") or (5432 if "postgres" in engine else 0))
    groups = list(store.inputs.get("vpcSecurityGroupIds") or store.inputs.get("securityGroupIds") or [])
    subnet_groups = [index[d] for d in store.dependencies if index[d].type in ("aws:rds/subnetGroup:SubnetGroup", "aws:elasticache/subnetGroup:SubnetGroup")]
    assert port and groups and subnet_groups, f"{store.urn}: port, security groups or subnets not found in the plan"
    return Callee(store.urn, port, net.cidrs(subnet_groups[0].inputs["subnetIds"]), groups)


def _callees_of_reference(plan: Plan, net: Network, value_from: str) -> list[Callee]:
    """What a secret/parameter reference points at, followed through the graph."""
    index = _by_urn(plan)
    if ":secretsmanager:" in value_from:
        name = value_from.split(":secret:", 1)[1].split(":", 1)[0].rsplit("-", 1)[0]
        secret = next(s for s in _of(plan, "aws:secretsmanager/secret:Secret") if s.inputs["name"] == name)
        versions = [v for v in _of(plan, "aws:secretsmanager/secretVersion:SecretVersion") if secret.urn in v.dependencies]
        sources = [index[d] for v in versions for d in v.dependencies]
        stores = [s for s in sources if s.type in ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster", "aws:elasticache/replicationGroup:ReplicationGroup")]
        return [_data_store(plan, net, s) for s in stores]
    name = "/" + value_from.split(":parameter/", 1)[1]
    parameter = next(p for p in _of(plan, "aws:ssm/parameter:Parameter") if p.inputs["name"] == name)
    callees = []
    for source in (index[d] for d in parameter.dependencies):
        if source.type == "kubernetes:core/v1:Service" and source.inputs["spec"].get("type") == "LoadBalancer":
            # An internal NLB in the subnets Kubernetes may put internal load balancers in.
            lb_subnets = [s for s in _of(plan, "aws:ec2/subnet:Subnet") if (s.inputs.get("tags") or {}).get("kubernetes.io/role/internal-elb") == "1"]
            assert lb_subnets, "no subnet is tagged for internal load balancers"
            for port in source.inputs["spec"]["ports"]:
                callees.append(Callee(source.urn, int(port["port"]), [s.inputs["cidrBlock"] for s in lb_subnets], [], list(source.inputs["spec"].get("loadBalancerSourceRanges") or [])))
        if source.type == "aws:opensearch/serverlessCollection:ServerlessCollection":
            for endpoint in _of(plan, "aws:opensearch/serverlessVpcEndpoint:ServerlessVpcEndpoint"):
                callees.append(Callee(endpoint.urn, 443, net.cidrs(endpoint.inputs["subnetIds"]), list(endpoint.inputs["securityGroupIds"])))
    return callees


def _cloud_map_callee(plan: Plan, net: Network, hostname: str, port: int) -> Callee | None:
    """`<service>.<namespace>` of a Cloud Map private DNS namespace: the ECS service registered
    under that name (its subnets and security groups), e.g. the Beta model gateway on AWS."""
    label, _, domain = hostname.partition(".")
    namespaces = [n for n in _of(plan, "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace") if n.inputs.get("name") == domain]
    registries = [d for d in _of(plan, "aws:servicediscovery/service:Service") if d.inputs.get("name") == label and any(n.urn in d.dependencies for n in namespaces)]
    services = [s for s in _of(plan, SERVICE) if any(d.urn in s.dependencies for d in registries)]
    if not services:
        return None
    (service,) = services
    network = service.inputs["networkConfiguration"]
    return Callee(f"{hostname} ({service.urn})", port, net.cidrs(network["subnets"]), list(network["securityGroups"]))


@pytest.mark.parametrize("case_id", AWS_CASES)
def test_every_call_a_container_makes_is_allowed_by_both_security_groups(case_id: str) -> None:
    """Env URLs, database/cache/vector/gateway references and AWS interface endpoints: the caller's
    egress and the callee's ingress must both allow the port, derived from the plan graph."""
    plan = plan_for(case_id)
    net = Network(plan)
    interface_endpoints = [e for e in _of(plan, "aws:ec2/vpcEndpoint:VpcEndpoint") if e.inputs.get("vpcEndpointType") == "Interface"]
    checked = 0
    for service in _of(plan, SERVICE):
        network = service.inputs["networkConfiguration"]
        groups, caller_cidrs = list(network["securityGroups"]), net.cidrs(network["subnets"])
        containers = _containers(_task_of(plan, service))
        task_ports = {p["containerPort"] for c in containers for p in c.get("portMappings", [])}
        callees: list[Callee] = []
        for c in containers:
            for env in c.get("environment", []):
                url = urlsplit(str(env["value"])) if str(env["value"]).startswith(("http://", "https://")) else None
                if url is None or not url.hostname:
                    continue
                port = url.port or (443 if url.scheme == "https" else 80)
                if url.hostname in LOCAL_HOSTS:
                    assert port in task_ports, f"{service.urn} {c['name']}: {env['name']} calls localhost:{port}, which no container of the task listens on"
                    continue
                callees.append(_cloud_map_callee(plan, net, url.hostname, port) or Callee(url.geturl(), port, ["0.0.0.0/0"], []))
            for ref in c.get("secrets", []):
                callees.extend(_callees_of_reference(plan, net, ref["valueFrom"]))
        callees.extend(Callee(e.urn, 443, net.cidrs(e.inputs["subnetIds"]), list(e.inputs["securityGroupIds"])) for e in interface_endpoints)
        for callee in {(c.what, c.port): c for c in callees}.values():
            assert net.allowed(net.egress, groups, callee.port, callee.cidrs, callee.groups), f"{service.urn}: its security group does not allow egress to {callee.what} on {callee.port}"
            if callee.groups:
                assert net.allowed(net.ingress, callee.groups, callee.port, caller_cidrs, groups), f"{callee.what} does not allow ingress on {callee.port} from {service.urn}"
            if callee.source_ranges is not None:
                ranges = [ipaddress.ip_network(r) for r in callee.source_ranges]
                assert all(any(ipaddress.ip_network(c).subnet_of(r) for r in ranges) for c in caller_cidrs), f"{callee.what} loadBalancerSourceRanges exclude {service.urn}"
            checked += 1
    assert checked


# ------------------------------------------------------------------------- upstream parity


def _fixture(name: str) -> dict[str, Any]:
    return yaml.safe_load((FIXTURES / f"{name}.yaml").read_text())


@pytest.mark.parametrize("case_id", [c for c in AWS_CASES if "flowise" not in c])
def test_dify_containers_match_the_upstream_compose(case_id: str) -> None:
    plan = plan_for(case_id)
    upstream = _fixture("dify")
    containers = {c["name"]: c for t in _of(plan, TASK) for c in _containers(t)}
    if "api" not in containers:
        pytest.skip("not a Dify stack")
    for service, container in upstream["containers"].items():
        assert container in containers, f"Dify's {service} has no container"
        c = containers[container]
        repository, _, tag = c["image"].rpartition(":")
        key = next(k for k, repo in IMAGE_REPOSITORIES.items() if repository.endswith(repo))
        assert tag == upstream["images"][key], f"{container} runs {c['image']}, not Dify {upstream['release']}'s {key}:{upstream['images'][key]}"
        settings = {e["name"]: e["value"] for e in c.get("environment", [])} | {s["name"]: s["valueFrom"] for s in c.get("secrets", [])}
        missing = [k for k in upstream["required"][service] if k not in settings]
        assert not missing, f"{container} lacks {missing}"
        for key, value in (upstream["values"].get(service) or {}).items():
            assert settings.get(key) == value, f"{container}.{key} = {settings.get(key)!r}, upstream wiring needs {value!r}"
        if service in upstream["ports"]:
            assert [p["containerPort"] for p in c.get("portMappings", [])] == [upstream["ports"][service]], container
    # Routes: every upstream prefix reaches the same container through the ALB.
    index = _by_urn(plan)
    groups = {g.urn: g for g in _of(plan, TARGET_GROUP)}
    routed: dict[str, int] = {}
    for rule in _of(plan, "aws:lb/listenerRule:ListenerRule"):
        port = next(int(groups[d].inputs["port"]) for d in rule.dependencies if d in groups)
        for pattern in rule.inputs["conditions"][0]["pathPattern"]["values"]:
            routed[pattern.rstrip("*").rstrip("/")] = port
    listener = next(r for r in _of(plan, "aws:lb/listener:Listener") if r.inputs["defaultActions"][0]["type"] == "forward")
    default_port = next(int(index[d].inputs["port"]) for d in listener.dependencies if d in groups)
    for prefix, service in upstream["routes"].items():
        want = upstream["ports"][service]
        got = routed.get(prefix.rstrip("/"), default_port)
        assert got == want, f"{prefix} goes to port {got}; Dify's nginx sends it to {service}:{want}"
    for group in groups.values():
        service = next((s for s, p in upstream["ports"].items() if p == int(group.inputs["port"])), None)
        if service in upstream["health"]:
            assert group.inputs["healthCheck"]["path"] == upstream["health"][service], group.urn


def test_default_image_tags_are_the_pinned_releases() -> None:
    from components.lowcode import DEFAULT_IMAGE_TAGS

    dify, flowise = _fixture("dify"), _fixture("flowise")
    for key, tag in dify["images"].items():
        assert DEFAULT_IMAGE_TAGS[key] == tag, f"{key}: {DEFAULT_IMAGE_TAGS[key]} is not Dify {dify['release']}'s {tag}"
    assert DEFAULT_IMAGE_TAGS["flowise"] == flowise["images"]["flowise"]


@pytest.mark.parametrize("case_id", (*AWS_CASES, *AZURE_CASES))
def test_flowise_settings_and_database_tls_match_upstream(case_id: str) -> None:
    upstream = _fixture("flowise")
    plan = plan_for(case_id)
    cloud = CLOUD[case_id]
    if cloud == "aws":
        containers = [c for t in _of(plan, TASK) for c in _containers(t) if c["name"] == "flowise"]
        settings = [{e["name"]: e["value"] for e in c["environment"]} | {s["name"]: s["valueFrom"] for s in c["secrets"]} for c in containers]
    else:
        apps = [c for a in _of(plan, "azure-native:app:ContainerApp") for c in a.inputs["template"]["containers"] if c["name"] == "flowise"]
        settings = [{e["name"]: e.get("value", e.get("secretRef")) for e in c["env"]} for c in apps]
    if not settings:
        pytest.skip("not a Flowise stack")
    for s in settings:
        missing = [k for k in upstream["required"] if k not in s]
        assert not missing, f"flowise lacks {missing}"
        assert s["PORT"] == str(upstream["port"])
        for key, value in upstream["database_tls"][cloud].items():
            assert s.get(key) == value, f"flowise {key}={s.get(key)!r}: {cloud} needs {value!r} (fixture explains why)"
        other = {k for c, tls in upstream["database_tls"].items() if c != cloud for k in tls}
        assert not other & set(s), f"flowise sets {other & set(s)}, which breaks TLS on {cloud}"
        # Beta/Scale pgvector: Flowise's own setting names, and TLS like the app database.
        engine = ((case_config(CASES[case_id])["config"].get("llm-platform:beta") or {}).get("vectorStore") or {}).get("engine")
        if engine in ("aurora-pgvector", "postgres-pgvector"):
            missing = [k for k in upstream["vector_store_pgvector"] if k not in s]
            assert not missing, f"flowise lacks its pgvector settings {missing}"
            assert s.get("POSTGRES_VECTORSTORE_SSL") == ("true" if "DATABASE_SSL" in upstream["database_tls"][cloud] else None)
        assert not [k for k in s if k.startswith("PGVECTOR_") or k == "VECTOR_STORE"], "Dify's vector setting names mean nothing to Flowise"


def test_redis_urls_survive_any_password() -> None:
    """Celery's broker URL is parsed by kombu (urllib split + unquote) and redis-py: both must get
    the password, host, port and database back whatever the password holds."""
    from urllib.parse import unquote

    from redis.connection import parse_url

    from components.lowcode import redis_url

    password = "a/b@c:d%e?f#g"
    url = redis_url("rediss", password, "cache.example", 6379, 1, "ssl_cert_reqs=required")
    parsed = parse_url(url)
    assert (parsed["password"], parsed["host"], parsed["port"], parsed["db"]) == (password, "cache.example", 6379, 1)
    split = urlsplit(url)
    assert (unquote(split.password or ""), split.hostname, split.port, split.path) == (password, "cache.example", 6379, "/1")


# ------------------------------------------------------------------------- Dify hardening
# (second pre-deploy review: sandbox, first login, SSRF proxy, Redis TLS, plugin storage, IAM)

RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
CONTAINER_APP = "azure-native:app:ContainerApp"
DIFY_CASES = [c for c in AWS_CASES + AZURE_CASES if "flowise" not in c]  # others skip unless they run Dify


def _settings(plan: Plan) -> dict[str, dict[str, str]]:
    """Container name -> its settings (plain values, and secret ARNs / Key Vault secret names), on either cloud."""
    out: dict[str, dict[str, str]] = {}
    for task in _of(plan, TASK):
        for c in _containers(task):
            out[c["name"]] = {e["name"]: e["value"] for e in c.get("environment", [])} | {s["name"]: s["valueFrom"] for s in c.get("secrets", [])}
    for app in _of(plan, CONTAINER_APP):
        for c in app.inputs["template"]["containers"]:
            out[c["name"]] = {e["name"]: e.get("value", e.get("secretRef")) for e in c.get("env") or []}
    return out


@pytest.mark.parametrize("case_id", [c for c in AWS_CASES + AZURE_CASES if not c.startswith("poc-")])
def test_only_flowise_gets_the_gateway_env(case_id: str) -> None:
    """Flowise reads LLM_GATEWAY_* as runtime variables ($vars); Dify reads no such env (model
    providers are plugin credentials entered in its console), so no Dify container holds the
    gateway key (stacks/beta.py app_reads_gateway_env)."""
    settings = _settings(plan_for(case_id))
    holders = {name: sorted(k for k in env if k.startswith("LLM_GATEWAY_")) for name, env in settings.items()}
    holders = {name: keys for name, keys in holders.items() if keys}
    if "flowise" in settings:
        assert holders == {"flowise": ["LLM_GATEWAY_KEY", "LLM_GATEWAY_MODELS", "LLM_GATEWAY_URL"]}
    else:
        assert "api" in settings and holders == {}


@pytest.mark.parametrize("case_id", AWS_CASES + AZURE_CASES)
def test_no_call_home_abroad_on_any_cloud(case_id: str) -> None:
    """LiteLLM's price map, Dify's update check and templates, Grafana's update checks and usage
    reports are off everywhere (policies/llm_guard/sources.py says why and where)."""
    from policies.llm_guard.sources import DIFY_LOCAL_TEMPLATES, DIFY_UPDATE_CHECK_OFF, GRAFANA_ANALYTICS_OFF

    plan = plan_for(case_id)
    settings = _settings(plan)
    if "api" in settings:
        assert settings["api"].get("CHECK_UPDATE_URL") == DIFY_UPDATE_CHECK_OFF
        assert {k: settings["api"].get(k) for k in DIFY_LOCAL_TEMPLATES} == DIFY_LOCAL_TEMPLATES
    gateways = [env for env in settings.values() if "LITELLM_CONFIG" in env]
    gateways += [
        {e["name"]: e.get("value") for e in c.get("env") or []}
        for d in _of(plan, "kubernetes:apps/v1:Deployment")
        for c in d.inputs["spec"]["template"]["spec"]["containers"]
        if "litellm" in c.get("image", "")
    ]
    assert all(env.get("LITELLM_LOCAL_MODEL_COST_MAP") == "True" for env in gateways)
    for release in _of(plan, "kubernetes:helm.sh/v3:Release"):
        grafana = (release.inputs.get("values") or {}).get("grafana")
        if isinstance(grafana, dict) and grafana.get("enabled"):
            assert grafana["grafana.ini"]["analytics"] == GRAFANA_ANALYTICS_OFF


def _dify(case_id: str) -> tuple[Plan, dict[str, dict[str, str]]]:
    plan = plan_for(case_id)
    settings = _settings(plan)
    if "api" not in settings:
        pytest.skip("not a Dify stack")
    return plan, settings


@pytest.mark.parametrize("case_id", DIFY_CASES)
def test_sandbox_user_code_cannot_open_sockets(case_id: str) -> None:
    """The sandbox shares the task's network (API, plugin daemon, data stores, metadata endpoint):
    user code must get no socket syscalls, while ENABLE_NETWORK stays true because Dify's API asks
    for network on every run and the sandbox refuses that request when it is false."""
    plan, settings = _dify(case_id)
    upstream = _fixture("dify")["sandbox"]
    sandbox = settings["sandbox"]
    assert upstream["api_requests_network"] and sandbox.get("ENABLE_NETWORK") == "true", "ENABLE_NETWORK=false makes dify-sandbox reject every run Dify sends"
    raw = sandbox.get("ALLOWED_SYSCALLS")
    assert raw, "no ALLOWED_SYSCALLS: the sandbox adds its network syscalls and user code can open sockets to localhost, the VPC and the internet"
    allowed = {int(n) for n in raw.split(",")}
    assert not allowed & set(upstream["socket_syscalls"]), f"sandbox allows socket syscalls {sorted(allowed & set(upstream['socket_syscalls']))}"
    known = set(upstream["allow_syscalls"]["python"]) | set(upstream["allow_syscalls"]["nodejs"])
    assert allowed <= known, f"syscalls {sorted(allowed - known)} are in neither of dify-sandbox's own lists"
    assert set(upstream["allow_syscalls"]["python"]) <= allowed and set(upstream["allow_syscalls"]["nodejs"]) <= allowed, "a runtime would be killed on a syscall its own list allows"
    for task in _of(plan, TASK):
        if any(c["name"] == "sandbox" for c in _containers(task)):
            assert task.inputs["runtimePlatform"]["cpuArchitecture"] == "X86_64", "the syscall numbers are x86_64's"


@pytest.mark.parametrize("case_id", DIFY_CASES)
def test_dify_first_login_needs_a_generated_init_password(case_id: str) -> None:
    """Dify's /install is open to whoever comes first unless INIT_PASSWORD is set; the value comes
    from a generated secret short enough for Dify's form, and the stack says where to read it."""
    plan, settings = _dify(case_id)
    max_length = _fixture("dify")["init_password_max_length"]
    reference = settings["api"].get("INIT_PASSWORD")
    assert reference, "the API has no INIT_PASSWORD: the first visitor becomes the owner"
    index = _by_urn(plan)
    if reference.startswith("arn:"):
        name = reference.split(":secret:", 1)[1].rsplit("-", 1)[0]
        secret = next(s for s in _of(plan, "aws:secretsmanager/secret:Secret") if s.inputs["name"] == name)
        holders = [v for v in _of(plan, "aws:secretsmanager/secretVersion:SecretVersion") if secret.urn in v.dependencies]
        exported = plan.outputs.get("appInitPasswordSecretArn")
    else:
        holders = [s for s in _of(plan, "azure-native:keyvault:Secret") if s.inputs.get("secretName") == reference]
        exported = plan.outputs.get("appInitPasswordSecretUrl")
    sources = [index[d] for h in holders for d in h.dependencies if index[d].type == RANDOM_PASSWORD]
    assert sources, f"INIT_PASSWORD ({reference}) is not a generated secret"
    for source in sources:
        assert 12 <= int(source.inputs["length"]) <= max_length, f"{source.urn}: Dify's init form takes at most {max_length} characters"
    assert exported and str(exported).startswith(("arn:", "https://")), "the stack does not export where the first-login password is stored"


@pytest.mark.parametrize("case_id", DIFY_CASES)
def test_ssrf_proxy_refuses_internal_destinations_before_any_allow(case_id: str) -> None:
    _, settings = _dify(case_id)
    lines = [line.split() for line in settings["ssrf-proxy"]["SQUID_CONF"].splitlines() if line.strip()]
    denied: dict[str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {}
    for words in lines:
        if words[:1] == ["acl"] and words[2] == "dst":
            denied.setdefault(words[1], []).extend(ipaddress.ip_network(w) for w in words[3:])
    first_access = next(w for w in lines if w[0] == "http_access")
    assert first_access[1] == "deny" and len(first_access) == 3 and first_access[2] in denied, f"the first access rule is {' '.join(first_access)}, not a deny of internal destinations"
    networks = denied[first_access[2]]
    for cidr in _fixture("dify")["ssrf_blocked_destinations"]:
        wanted = ipaddress.ip_network(cidr)
        assert any(wanted.version == n.version and wanted.subnet_of(n) for n in networks), f"the SSRF proxy lets requests reach {cidr}"  # type: ignore[arg-type]


@pytest.mark.parametrize("case_id", DIFY_CASES)
def test_dify_redis_clients_verify_the_certificate(case_id: str) -> None:
    _, settings = _dify(case_id)
    names = _fixture("dify")["redis_ssl_cert_reqs"]
    for container in ("api", "worker", "beat"):
        value = settings[container].get("REDIS_SSL_CERT_REQS")
        assert value in names, f"{container}: REDIS_SSL_CERT_REQS={value!r} is not a name Dify maps, so it falls back to CERT_NONE"
        assert value == "CERT_REQUIRED", f"{container}: Redis TLS without certificate verification"


@pytest.mark.parametrize("case_id", DIFY_CASES)
def test_plugin_daemon_storage_settings(case_id: str) -> None:
    """AWS: virtual-hosted S3 URLs (the daemon defaults to path style). Azure: the app's managed
    identity, no account key or connection string."""
    _, settings = _dify(case_id)
    daemon = settings["plugin-daemon"]
    kind = daemon["PLUGIN_STORAGE_TYPE"]
    if kind == "aws_s3":
        assert daemon.get("S3_USE_PATH_STYLE") == "false", "plugin daemon S3 client uses path-style URLs (its default)"
    elif kind == "azure_blob":
        assert daemon.get("AZURE_BLOB_STORAGE_USE_MANAGED_IDENTITY") == "true"
        assert str(daemon.get("AZURE_BLOB_STORAGE_ACCOUNT_URL", "")).startswith("https://"), "managed identity needs the account URL"
        assert daemon.get("AZURE_CLIENT_ID"), "DefaultAzureCredential needs AZURE_CLIENT_ID to pick the user-assigned identity"
        assert not [k for k in daemon if "CONNECTION_STRING" in k or "ACCOUNT_KEY" in k], "the plugin daemon still reads the storage account key"
    else:
        pytest.fail(f"unexpected plugin storage {kind}")


@pytest.mark.parametrize("case_id", AWS_CASES)
def test_plain_http_is_warned_about(case_id: str) -> None:
    """Internet-facing (PoC) or internal (Beta, Scale): a load balancer without HTTPS carries
    logins, API keys and prompts in clear text, and the plan says so."""
    plan = plan_for(case_id)
    balancers = _of(plan, "aws:lb/loadBalancer:LoadBalancer")
    https = [li for li in _of(plan, "aws:lb/listener:Listener") if li.inputs.get("protocol") == "HTTPS"]
    warned = any("llm-platform:poc.app.certificateArn" in w for w in plan.warnings)
    assert warned == bool(balancers and not https), f"load balancer without HTTPS: {bool(balancers and not https)}, warned: {warned}"


@pytest.mark.parametrize("case_id", AWS_CASES)
def test_container_overrides_replace_the_image_entrypoint(case_id: str) -> None:
    """ECS `command` only replaces the image's CMD: an image with an entrypoint script (ubuntu/squid)
    would run the override as arguments of its own program. Overrides go to `entryPoint`."""
    for task in _of(plan_for(case_id), TASK):
        for c in _containers(task):
            assert "command" not in c, f"{task.name}/{c['name']}: override in `command` reaches the image's entrypoint as arguments"
            if c["name"] == "ssrf-proxy":
                assert c.get("entryPoint", [])[:2] == ["/bin/sh", "-c"], f"{task.name}/ssrf-proxy does not replace the squid entrypoint"


@pytest.mark.parametrize("case_id", AWS_CASES)
def test_ecs_services_wait_for_every_policy_of_their_roles(case_id: str) -> None:
    """A service starts tasks as soon as it exists; a role policy still being created then means
    AccessDenied (secrets, image pull, logs) and a tripped circuit breaker."""
    plan = plan_for(case_id)
    policies = _of(plan, "aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    checked = 0
    for service in _of(plan, SERVICE):
        task = _task_of(plan, service)
        roles = {d for d in task.dependencies if d.split("::")[-2].endswith("aws:iam/role:Role")}
        assert len(roles) == 2, f"{task.urn}: execution and task role not found"
        for policy in policies:
            if roles & set(policy.dependencies):
                assert policy.urn in service.dependencies, f"{service.urn} does not wait for {policy.urn}"
                checked += 1
    assert checked


# A pull-through cache at the registry root: images live under the per-upstream prefixes
# (docker-hub/, ghcr/) that components/mirrors.py puts them at.
ECR_CACHE = "111122223333.dkr.ecr.eu-central-1.amazonaws.com"


def test_pull_through_cache_may_create_its_repositories(tmp_path: Path, plan_of: Callable[..., Plan]) -> None:
    """With an ECR pull-through cache the first pull creates the repository: the execution role
    needs CreateRepository and BatchImportUpstreamImage on the cache prefix, where the images are."""
    from fnmatch import fnmatchcase

    from tests.plan_matrix import Case

    stack = tmp_path / "Pulumi.beta-aws-ecr-cache.yaml"
    stack.write_text(yaml.safe_dump(case_config(Case("beta-aws-ecr-cache", "beta-aws", {"llm-platform:mirrors": {"imageRegistry": ECR_CACHE}})), sort_keys=False))
    plan = plan_of(stack)
    images = {c["image"] for t in _of(plan, TASK) for c in _containers(t)}
    assert images and all(i.startswith(ECR_CACHE + "/") for i in images), images
    statements = [s for p in _of(plan, "aws:iam/rolePolicy:RolePolicy") for s in json.loads(p.inputs["policy"])["Statement"]]
    for action in ("ecr:CreateRepository", "ecr:BatchImportUpstreamImage", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"):
        for image in images:
            repository = image.split("/", 1)[1].rsplit(":", 1)[0]
            arn = f"arn:aws:ecr:eu-central-1:111122223333:repository/{repository}"
            granted = [s for s in statements if action in s["Action"] and any(fnmatchcase(arn, r) for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"]))]
            assert granted, f"no statement grants {action} on {arn}"
            assert all(s["Resource"] != "*" for s in granted), f"{action} is granted on every repository"
