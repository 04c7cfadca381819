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
from scripts.mocks import _EC2_ID_PREFIX, _digest
from tests.plan_matrix import AWS_CASES, AZURE_CASES, plan_for

FIXTURES = Path(__file__).parent / "fixtures" / "upstream"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
LOCAL_HOSTS = {"localhost", "127.0.0.1"}


def _of(plan: Plan, *types: str) -> list[RecordedResource]:
    return [r for r in plan.resources if r.type in types]


def _ec2_id(r: RecordedResource) -> str:
    """The id the offline engine gives an EC2 resource (scripts/mocks.py), to follow references."""
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


@pytest.mark.parametrize(("poc", "beta"), [("poc-aws", "beta-aws"), ("poc-aws-flowise-us", "beta-aws-flowise-aurora-us")])
def test_alb_replacement_takes_its_target_groups_with_it(poc: str, beta: str, plan_of: Callable[..., Plan]) -> None:
    """PoC -> Beta turns the ALB internal, which replaces it; a target group serves one ALB only,
    so each of its target groups must change a replace-forcing input (its name) as well."""
    from tests.plan_matrix import _DIR, CASES, case_config  # the matrix's own stack files

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
                callees.append(Callee(url.geturl(), port, ["0.0.0.0/0"], []))
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


@pytest.mark.parametrize("case_id", [c for c in AWS_CASES + AZURE_CASES if "flowise" in c or c in ("poc-azure", "beta-azure")])
def test_flowise_settings_and_database_tls_match_upstream(case_id: str) -> None:
    upstream = _fixture("flowise")
    plan = plan_for(case_id)
    cloud = "aws" if "-aws" in case_id else "azure"
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
