"""Provider contracts of the Scale clusters, over every Scale plan of the matrix: what `pulumi up`
needs from EKS/AKS and Kubernetes to finish and to serve, checked on the recorded graph.

- the private API server is reachable from the VPC and the declared admin networks;
- the deployer (and a preview identity, if configured) may use the cluster it creates;
- GPU workloads are awaited long enough to load a model;
- every GPU DaemonSet can schedule on a GPU node (chart defaults merged as Helm merges them);
- Cluster Autoscaler node-template tags describe each EKS node group exactly, and every model pod
  fits the node the autoscaler simulates from them (scale from zero);
- clusters run a version their platform (EKS, AKS) creates and will not upgrade under the stack;
- no EKS clusterAdmins entry names the deployer (EKS made that access entry already);
- rollouts and PodDisruptionBudgets cannot deadlock at the pool's maximum or drop the last replica;
- probes have timeouts, pods meet their namespace's Pod Security level, the gateway keeps client
  addresses and drains, vLLM sends no usage statistics.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.aws.eks import names_the_caller
from components.k8s.gpu import GPU, GPU_INSTANCES, POOL_LABEL
from components.k8s.versions import KUBERNETES_VERSIONS, MinorRelease
from scripts.engine import Plan, ProgramError, RecordedResource, plan_stack
from scripts.engine.mocks import MOCK_ACCOUNT_ID, MOCK_PRINCIPAL_ID
from stacks.errors import ConfigError
from tests.plan_matrix import CLOUD, ROOT, SCALE_CASES, plan_for

AWS_SCALE = tuple(c for c in SCALE_CASES if CLOUD[c] == "aws")
AZURE_SCALE = tuple(c for c in SCALE_CASES if CLOUD[c] == "azure")
CHART_DEFAULTS = yaml.safe_load((Path(__file__).parent / "fixtures" / "gpu_chart_defaults.yaml").read_text())
MIN_MODEL_AWAIT_SECONDS = 30 * 60
ROLE_AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
ROLE_AKS_RBAC_READER = "7f6c6a51-bcf8-42ba-9220-52d62157d7db"
ROLE_AKS_CLUSTER_USER = "4abbcc35-e782-43d8-92c5-2d3f1bd2253f"


def _of(plan: Plan, token: str) -> list[RecordedResource]:
    return [r for r in plan.resources if r.type == token]


def _scale(plan: Plan) -> dict[str, Any]:
    return plan.config["llm-platform:scale"]


def _deployments(plan: Plan) -> Iterator[RecordedResource]:
    yield from _of(plan, "kubernetes:apps/v1:Deployment")


def _uses_gpu(deployment: RecordedResource) -> bool:
    pod = deployment.inputs["spec"]["template"]["spec"]
    return any(GPU.resource in ((c.get("resources") or {}).get("limits") or {}) for c in pod["containers"])


def _seconds(duration: str) -> float:
    """A Go duration as the Pulumi engine parses customTimeouts ("60m", "1h30m", "90s")."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a duration: {duration!r}"
    return sum(float(n) * units[u] for n, u in parts)


# --------------------------------------------------------------------------- cluster access


@pytest.mark.parametrize("case_id", AWS_SCALE)
def test_private_eks_endpoint_admits_the_vpc_and_admin_networks_on_443(case_id: str) -> None:
    plan = plan_for(case_id)
    (cluster,) = _of(plan, "aws:eks/cluster:Cluster")
    groups = {r.urn for r in _of(plan, "aws:ec2/securityGroup:SecurityGroup") if r.urn in cluster.dependencies}
    assert cluster.inputs["vpcConfig"].get("securityGroupIds") and groups, "no security group on the cluster's endpoint ENIs"
    required = [ipaddress.ip_network(plan.config["llm-platform:poc"]["network"]["cidr"])]
    required += [ipaddress.ip_network(c) for c in _scale(plan).get("adminCidrs", [])]
    rules = [r.inputs for r in _of(plan, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") if set(r.dependencies) & groups]
    rules += [rule for r in _of(plan, "aws:ec2/securityGroup:SecurityGroup") if r.urn in groups for rule in r.inputs.get("ingress") or []]

    def admits(rule: Mapping[str, Any], network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
        protocol = str(rule.get("ipProtocol") or rule.get("protocol"))
        ports = protocol == "-1" or (protocol in ("tcp", "6") and rule.get("fromPort", 0) <= 443 <= rule.get("toPort", 0))
        cidrs = [rule["cidrIpv4"]] if rule.get("cidrIpv4") else list(rule.get("cidrBlocks") or [])
        return ports and any(network.subnet_of(ipaddress.ip_network(c)) for c in cidrs)  # type: ignore[arg-type]

    for network in required:
        assert any(admits(rule, network) for rule in rules), f"{case_id}: nothing admits {network} to the API server on 443"


@pytest.mark.parametrize("case_id", AWS_SCALE)
def test_eks_deployer_admins_and_preview_principal_can_use_the_cluster(case_id: str) -> None:
    plan = plan_for(case_id)
    (cluster,) = _of(plan, "aws:eks/cluster:Cluster")
    access = cluster.inputs["accessConfig"]
    # The identity running `pulumi up` creates the cluster: the bootstrap entry makes it admin.
    assert access["bootstrapClusterCreatorAdminPermissions"] is True
    assert access["authenticationMode"] in ("API", "API_AND_CONFIG_MAP")
    entries = {r.inputs["principalArn"]: r for r in _of(plan, "aws:eks/accessEntry:AccessEntry")}
    policies = {(r.inputs["principalArn"], r.inputs["policyArn"].rsplit("/", 1)[1], r.inputs["accessScope"]["type"]) for r in _of(plan, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")}
    scale = _scale(plan)
    expected = {(arn, "AmazonEKSClusterAdminPolicy", "cluster") for arn in scale.get("clusterAdmins", [])}
    if scale.get("previewPrincipal"):
        expected.add((scale["previewPrincipal"], "AmazonEKSViewPolicy", "cluster"))
    assert policies == expected
    assert set(entries) == {p for p, _, _ in expected}
    for association in _of(plan, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"):
        assert entries[association.inputs["principalArn"]].urn in association.dependencies, "the policy needs its access entry first"


@pytest.mark.parametrize("case_id", AZURE_SCALE)
def test_aks_deployer_admins_and_preview_principal_can_use_the_cluster(case_id: str) -> None:
    plan = plan_for(case_id)
    (cluster,) = _of(plan, "azure-native:containerservice:ManagedCluster")
    assert cluster.inputs["aadProfile"]["enableAzureRBAC"] is True and cluster.inputs["disableLocalAccounts"] is True
    # Grants scoped to the cluster (others, such as the kubelet's AcrPull on a registry mirror, only
    # depend on it for the kubelet identity).
    on_cluster = [r for r in _of(plan, "azure-native:authorization:RoleAssignment") if cluster.urn in r.dependencies and "Microsoft.ContainerRegistry" not in str(r.inputs.get("scope"))]
    grants = {(r.inputs["principalId"], r.inputs["roleDefinitionId"].rsplit("/", 1)[1]) for r in on_cluster}
    scale = _scale(plan)
    expected = {(MOCK_PRINCIPAL_ID, ROLE_AKS_RBAC_CLUSTER_ADMIN)} | {(g, ROLE_AKS_RBAC_CLUSTER_ADMIN) for g in scale.get("clusterAdmins", [])}
    if scale.get("previewPrincipal"):
        expected |= {(scale["previewPrincipal"], ROLE_AKS_RBAC_READER), (scale["previewPrincipal"], ROLE_AKS_CLUSTER_USER)}
    assert grants == expected
    # Kubernetes objects are created only once the deployer's grant exists (otherwise 403).
    deployer = next(r for r in on_cluster if r.inputs["principalId"] == MOCK_PRINCIPAL_ID)
    (provider,) = [r for r in plan.resources if r.type == "pulumi:providers:kubernetes"]
    assert deployer.urn in provider.dependencies


@pytest.mark.parametrize("case_id", AZURE_SCALE)
def test_aks_upgrades_run_inside_a_maintenance_window(case_id: str) -> None:
    plan = plan_for(case_id)
    (cluster,) = _of(plan, "azure-native:containerservice:ManagedCluster")
    channels = cluster.inputs.get("autoUpgradeProfile") or {}
    needed = set()
    if channels.get("upgradeChannel", "none") != "none":
        needed.add("aksManagedAutoUpgradeSchedule")
    if channels.get("nodeOSUpgradeChannel", "None") not in ("None", "Unmanaged"):
        needed.add("aksManagedNodeOSUpgradeSchedule")
    windows = {r.inputs["configName"]: r.inputs for r in _of(plan, "azure-native:containerservice:MaintenanceConfiguration")}
    assert needed <= set(windows)
    for name in needed:
        window = windows[name]["maintenanceWindow"]
        assert 4 <= window["durationHours"] <= 24 and re.fullmatch(r"\d{2}:\d{2}", window["startTime"]), name


# --------------------------------------------------------------------------- GPU scheduling


def _gpu_pools(plan: Plan) -> list[tuple[str, dict[str, str], list[dict[str, str]]]]:
    """(pool, node labels, node taints) of every GPU pool, as the pools themselves set them."""
    pools = []
    for group in _of(plan, "aws:eks/nodeGroup:NodeGroup"):
        if group.inputs["amiType"].endswith("NVIDIA"):
            effects = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
            taints = [{"key": t["key"], "value": t.get("value", ""), "effect": effects[t["effect"]]} for t in group.inputs.get("taints") or []]
            pools.append((group.inputs["labels"]["llm-platform.io/pool"], dict(group.inputs.get("labels") or {}), taints))
    for pool in _of(plan, "azure-native:containerservice:AgentPool"):
        if pool.inputs["vmSize"] in GPU_INSTANCES:
            taints = []
            for text in pool.inputs.get("nodeTaints") or []:
                key_value, effect = text.rsplit(":", 1)
                key, _, value = key_value.partition("=")
                taints.append({"key": key, "value": value, "effect": effect})
            pools.append((pool.inputs["agentPoolName"], dict(pool.inputs.get("nodeLabels") or {}), taints))
    assert pools, "a Scale plan has GPU pools"
    return pools


def _helm_merge(defaults: Any, override: Any) -> Any:
    """Helm's values merge: maps merge key by key, anything else (lists too) replaces; null deletes."""
    if isinstance(defaults, dict) and isinstance(override, dict):
        out = copy.deepcopy(defaults)
        for key, value in override.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = _helm_merge(out.get(key), value)
        return out
    return copy.deepcopy(override)


def _term_matches(term: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    for expr in term.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(op, False)
        if not ok:
            return False
    return not term.get("matchFields")


def schedulable(pod: Mapping[str, Any], labels: Mapping[str, str], taints: list[dict[str, str]]) -> str | None:
    """None when a pod with this placement can run on a node with these labels and taints."""
    for key, value in (pod.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return f"nodeSelector {key}={value} is not a label of the node"
    required = (((pod.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms")
    if required is not None and not any(_term_matches(t, labels) for t in required):
        return f"no required nodeAffinity term matches the node labels {sorted(labels)}"
    for taint in taints:
        if taint["effect"] not in ("NoSchedule", "NoExecute"):
            continue
        tolerated = False
        for tol in pod.get("tolerations") or []:
            if tol.get("effect") and tol["effect"] != taint["effect"]:
                continue
            if tol.get("operator", "Equal") == "Exists":
                tolerated = tol.get("key") in (None, "", taint["key"])
            else:
                tolerated = tol.get("key") == taint["key"] and tol.get("value", "") == taint["value"]
            if tolerated:
                break
        if not tolerated:
            return f"taint {taint['key']}={taint['value']}:{taint['effect']} is not tolerated"
    return None


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_every_gpu_daemonset_and_model_server_can_schedule_on_every_gpu_pool(case_id: str) -> None:
    plan = plan_for(case_id)
    pools = _gpu_pools(plan)
    # Keyed by chart name: a mirrored release installs oci://<helmRepository>/<chart>.
    releases = {r.inputs["chart"].rsplit("/", 1)[-1]: r for r in _of(plan, "kubernetes:helm.sh/v3:Release")}
    placements: list[tuple[str, Mapping[str, Any]]] = []
    for chart, defaults in CHART_DEFAULTS.items():
        release = releases[chart]
        assert release.inputs["version"] == defaults["version"], f"{chart}: refresh tests/fixtures/gpu_chart_defaults.yaml for the new version"
        placements.append((chart, _helm_merge(defaults["values"], release.inputs.get("values") or {})))
    for what, pod in placements:
        for pool, labels, taints in pools:
            problem = schedulable(pod, labels, taints)
            assert problem is None, f"{case_id}: {what} cannot run on GPU pool '{pool}': {problem}"


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_every_model_server_schedules_on_its_own_gpu_pool_only(case_id: str) -> None:
    """A model pod that fits any GPU pool lets the autoscaler grow another model's pool for it
    (a guard on the A100s leaves the 14B model Pending), and breaks the per-pool sizing and cost."""
    plan = plan_for(case_id)
    pools = [(labels.get(POOL_LABEL), labels, taints) for _, labels, taints in _gpu_pools(plan)]
    models = {m["name"]: m for m in _scale(plan)["models"]}
    checked = 0
    for name, deployment in _model_deployments(plan):
        pod = deployment.inputs["spec"]["template"]["spec"]
        fits = sorted(str(pool) for pool, labels, taints in pools if schedulable(pod, labels, taints) is None)
        assert fits == [models[name]["pool"]], f"{case_id}: model '{name}' of pool '{models[name]['pool']}' can be scheduled on GPU pools {fits}"
        checked += 1
    assert checked, "a Scale plan serves models"


AUTOSCALER_TEMPLATE = "k8s.io/cluster-autoscaler/node-template"
_QUANTITY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "m": 1e-3, "": 1}


def quantity(text: str) -> float:
    """A Kubernetes resource quantity (the forms this platform writes: 100Gi, 500m, 8, 20G)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T|m|)", text)
    assert match, f"not a Kubernetes quantity: {text!r}"
    return float(match[1]) * _QUANTITY_SUFFIXES[match[2]]


def _autoscaler_tags(plan: Plan) -> dict[str, dict[str, str]]:
    """ASG tags per node group urn."""
    tags_by_group: dict[str, dict[str, str]] = {}
    for tag in _of(plan, "aws:autoscaling/tag:Tag"):
        (group,) = [d for d in tag.dependencies if "aws:eks/nodeGroup:NodeGroup::" in d]
        assert tag.inputs["tag"]["propagateAtLaunch"] is False
        tags_by_group.setdefault(group, {})[tag.inputs["tag"]["key"]] = tag.inputs["tag"]["value"]
    return tags_by_group


def _root_volume_gib(plan: Plan, group: RecordedResource) -> int:
    (template,) = [r for r in _of(plan, "aws:ec2/launchTemplate:LaunchTemplate") if r.urn in group.dependencies]
    (volume,) = [m["ebs"]["volumeSize"] for m in template.inputs["blockDeviceMappings"] if m["deviceName"] == "/dev/xvda"]
    return int(volume)


@pytest.mark.parametrize("case_id", AWS_SCALE)
def test_autoscaler_node_templates_describe_every_eks_node_group(case_id: str) -> None:
    plan = plan_for(case_id)
    template = AUTOSCALER_TEMPLATE
    tags_by_group = _autoscaler_tags(plan)
    for group in _of(plan, "aws:eks/nodeGroup:NodeGroup"):
        inputs = group.inputs
        gpu = inputs["amiType"].endswith("NVIDIA")
        # Every group says how much disk its nodes offer pods: at most the root volume less the
        # kubelet's 10% nodefs eviction threshold and its 1Gi reserve (nodeadm defaults).
        tags = dict(tags_by_group.get(group.urn, {}))
        disk = quantity(tags.pop(f"{template}/resources/ephemeral-storage", "0"))
        assert 0 < disk <= (_root_volume_gib(plan, group) * 0.9 - 1) * 2**30, f"{group.urn}: ephemeral-storage template {disk / 2**30:.1f} GiB"
        if not gpu and inputs["scalingConfig"]["minSize"] > 0:
            continue  # never at zero nodes: the autoscaler learns from its nodes
        expected = {f"{template}/label/{k}": v for k, v in (inputs.get("labels") or {}).items()}
        effects = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
        expected |= {f"{template}/taint/{t['key']}": f"{t.get('value', '')}:{effects[t['effect']]}" for t in inputs.get("taints") or []}
        if gpu:
            (instance_type,) = inputs["instanceTypes"]
            shape = GPU_INSTANCES[instance_type]
            expected[f"{template}/resources/{GPU.resource}"] = str(shape.gpus)
            # Labelled by the kubelet so the autoscaler waits for the device plugin, not adds nodes.
            assert inputs["labels"].get("k8s.amazonaws.com/accelerator") == shape.accelerator, group.urn
        assert tags == expected, group.urn


def autoscaler_template_node(instance_type: str, tags: Mapping[str, str]) -> tuple[dict[str, float], dict[str, str], list[dict[str, str]]]:
    """(allocatable, labels, taints) of the node the Cluster Autoscaler simulates for an EKS node
    group at zero nodes (cloudprovider/aws/aws_manager.go buildNodeFromTemplate at the
    cluster-autoscaler-1.35.0 / -1.36.0 tags): the instance type's vCPUs, memory and GPUs, then every
    `resources/<name>` tag; allocatable equals that capacity. Nothing else: no ephemeral storage
    unless a tag names it."""
    shape = GPU_INSTANCES[instance_type]
    allocatable = {"cpu": float(shape.vcpus), "memory": float(shape.memory_gib * 2**30), GPU.resource: float(shape.gpus), "pods": 110.0}
    labels, taints = {}, []
    for key, value in tags.items():
        kind, _, name = key.removeprefix(AUTOSCALER_TEMPLATE + "/").partition("/")
        if kind == "resources":
            allocatable[name] = quantity(value)
        elif kind == "label":
            labels[name] = value
        elif kind == "taint":
            taint_value, _, effect = value.rpartition(":")
            taints.append({"key": name, "value": taint_value, "effect": effect})
    return allocatable, labels, taints


def _model_deployments(plan: Plan) -> Iterator[tuple[str, RecordedResource]]:
    for deployment in _deployments(plan):
        if name := deployment.inputs["metadata"]["labels"].get("llm-platform.io/model"):
            yield name, deployment


@pytest.mark.parametrize("case_id", AWS_SCALE)
def test_every_model_pod_fits_the_node_the_autoscaler_simulates_for_its_pool(case_id: str) -> None:
    """Scale from zero: the autoscaler adds a node only if the pending pod fits the template node it
    builds from the group's ASG tags and the instance catalog (requests of cpu, memory,
    ephemeral-storage and GPUs; labels and taints)."""
    plan = plan_for(case_id)
    tags_by_group = _autoscaler_tags(plan)
    groups = {g.inputs["labels"]["llm-platform.io/pool"]: g for g in _of(plan, "aws:eks/nodeGroup:NodeGroup")}
    models = {m["name"]: m for m in _scale(plan)["models"]}
    checked = 0
    for name, deployment in _model_deployments(plan):
        group = groups[models[name]["pool"]]
        (instance_type,) = group.inputs["instanceTypes"]
        allocatable, labels, taints = autoscaler_template_node(instance_type, tags_by_group.get(group.urn, {}))
        pod = deployment.inputs["spec"]["template"]["spec"]
        assert schedulable(pod, labels, taints) is None, f"{deployment.urn}: {schedulable(pod, labels, taints)} on the template of {group.urn}"
        requests: dict[str, float] = {}
        for container in pod["containers"]:
            for resource, value in ((container.get("resources") or {}).get("requests") or {}).items():
                requests[resource] = requests.get(resource, 0.0) + quantity(str(value))
        assert {"cpu", "memory", "ephemeral-storage", GPU.resource} <= set(requests), deployment.urn
        for resource, wanted in requests.items():
            offered = allocatable.get(resource, 0.0)
            assert wanted <= offered, f"{deployment.urn}: requests {resource} {wanted:g}, the autoscaler's template node for {group.urn} offers {offered:g}: the pool cannot scale from zero"
        checked += 1
    assert checked, "a Scale plan serves models"


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_gpu_workloads_are_awaited_long_enough_to_load_a_model(case_id: str) -> None:
    plan = plan_for(case_id)
    servers = [d for d in _deployments(plan) if _uses_gpu(d)]
    assert servers
    for deployment in servers:
        annotations = deployment.inputs["metadata"].get("annotations") or {}
        if annotations.get("pulumi.com/skipAwait") == "true":
            continue
        container = deployment.inputs["spec"]["template"]["spec"]["containers"][0]
        startup = container.get("startupProbe") or {}
        startup_window = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
        if "pulumi.com/timeoutSeconds" in annotations:
            waits = {"create": float(annotations["pulumi.com/timeoutSeconds"]), "update": float(annotations["pulumi.com/timeoutSeconds"])}
        else:
            waits = {op: _seconds(deployment.custom_timeouts[op]) for op in ("create", "update") if op in deployment.custom_timeouts}
        for op in ("create", "update"):
            assert op in waits, f"{deployment.urn}: {op} waits the 10-minute default"
            assert waits[op] >= max(MIN_MODEL_AWAIT_SECONDS, startup_window), f"{deployment.urn}: {op} waits {waits[op]}s"


# --------------------------------------------------------------------------- rollouts and disruptions


# Rollouts and disruption budgets: see test_disruption_budgets_never_block_a_drain and
# test_model_rollouts_surge_only_with_room_at_min_replicas_and_fail_visibly below (the former
# check here required minAvailable: 1 for one replica, which blocks every node drain).


# --------------------------------------------------------------------------- pods


def _containers(deployment: RecordedResource) -> list[dict[str, Any]]:
    return list(deployment.inputs["spec"]["template"]["spec"]["containers"])


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_every_probe_has_a_timeout_longer_than_the_default(case_id: str) -> None:
    for deployment in _deployments(plan_for(case_id)):
        for container in _containers(deployment):
            probes = {k: v for k, v in container.items() if k.endswith("Probe")}
            assert {"readinessProbe", "livenessProbe"} <= set(probes), deployment.urn
            for kind, probe in probes.items():
                assert probe.get("timeoutSeconds", 1) >= 2, f"{deployment.urn} {kind}: the 1 s default fails under load"


_BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}


def pod_security_problems(pod: Mapping[str, Any], level: str) -> list[str]:
    """Violations of the Pod Security Standards (kubernetes.io/docs/concepts/security/pod-security-standards)."""
    problems: list[str] = []
    if level == "privileged":
        return problems
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        problems.append("host namespaces")
    if any("hostPath" in v for v in pod.get("volumes") or []):
        problems.append("hostPath volume")
    pod_ctx = pod.get("securityContext") or {}
    for c in [*pod.get("containers", []), *pod.get("initContainers", [])]:
        ctx = c.get("securityContext") or {}
        caps = ctx.get("capabilities") or {}
        if ctx.get("privileged"):
            problems.append(f"{c['name']}: privileged")
        if set(caps.get("add") or []) - _BASELINE_CAPS:
            problems.append(f"{c['name']}: adds {caps['add']}")
        if level != "restricted":
            continue
        if ctx.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{c['name']}: allowPrivilegeEscalation is not false")
        if "ALL" not in (caps.get("drop") or []) or set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{c['name']}: capabilities must drop ALL (add at most NET_BIND_SERVICE)")
        if not ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")):
            problems.append(f"{c['name']}: runAsNonRoot is not true")
        uid = ctx.get("runAsUser", pod_ctx.get("runAsUser"))
        if uid is None:
            # The kubelet refuses runAsNonRoot for an image whose USER is a name (litellm-non_root:
            # `nobody`): a restricted pod names its uid.
            problems.append(f"{c['name']}: no runAsUser")
        elif uid == 0:
            problems.append(f"{c['name']}: runAsUser 0")
        seccomp = (ctx.get("seccompProfile") or pod_ctx.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{c['name']}: seccompProfile {seccomp}")
    return problems


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_pods_meet_the_pod_security_level_their_namespace_enforces(case_id: str) -> None:
    plan = plan_for(case_id)
    levels = {r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") for r in _of(plan, "kubernetes:core/v1:Namespace")}
    assert all(levels.values()), f"namespaces without an enforced Pod Security level: {[n for n, v in levels.items() if not v]}"
    assert levels["llm-gateway"] == "restricted"
    for deployment in _deployments(plan):
        namespace = deployment.inputs["metadata"]["namespace"]
        pod = deployment.inputs["spec"]["template"]["spec"]
        assert pod_security_problems(pod, levels[namespace]) == [], deployment.urn
        for container in _containers(deployment):
            caps = (container.get("securityContext") or {}).get("capabilities") or {}
            assert "ALL" in (caps.get("drop") or []), f"{deployment.urn}: capabilities are not dropped"
        assert (pod.get("securityContext") or {}).get("seccompProfile", {}).get("type") == "RuntimeDefault"


def test_the_pod_security_check_catches_a_root_gateway() -> None:
    pod = {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}, "containers": [{"name": "x", "securityContext": {"allowPrivilegeEscalation": False}}]}
    assert pod_security_problems(pod, "baseline") == []
    assert len(pod_security_problems(pod, "restricted")) == 3


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_gateway_keeps_client_addresses_and_drains_streams(case_id: str) -> None:
    plan = plan_for(case_id)
    (service,) = [r for r in _of(plan, "kubernetes:core/v1:Service") if r.inputs["spec"].get("type") == "LoadBalancer"]
    policies = [r.inputs["spec"] for r in _of(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy") if r.inputs["metadata"]["namespace"] == service.inputs["metadata"]["namespace"]]
    by_ip = any("ipBlock" in peer for p in policies for rule in p.get("ingress") or [] for peer in rule.get("from") or [])
    if by_ip:
        # With `Cluster`, node-hopped traffic arrives from a node address (SNAT), not the client's.
        assert service.inputs["spec"].get("externalTrafficPolicy") == "Local"
    (gateway,) = [d for d in _deployments(plan) if d.inputs["metadata"]["namespace"] == service.inputs["metadata"]["namespace"]]
    pod = gateway.inputs["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pre_stop = ((container.get("lifecycle") or {}).get("preStop") or {}).get("sleep", {}).get("seconds", 0)
    assert pre_stop >= 5, "endpoints and load balancers keep sending for a few seconds after termination starts"
    timeout = _scale(plan).get("gateway", {}).get("timeoutSeconds", 600)
    assert pod.get("terminationGracePeriodSeconds", 30) >= pre_stop + timeout, "in-flight streams are cut at shutdown"


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_model_servers_use_the_current_cli_and_send_no_usage_statistics(case_id: str) -> None:
    plan = plan_for(case_id)
    models = {m["name"]: m for m in _scale(plan)["models"]}
    for deployment in _deployments(plan):
        name = deployment.inputs["metadata"]["labels"].get("llm-platform.io/model")
        if not name:
            continue
        (container,) = _containers(deployment)
        assert container["command"] == ["vllm", "serve"] and container["args"][0] == models[name]["huggingFaceId"]
        assert "--model" not in container["args"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env.get("VLLM_NO_USAGE_STATS") == "1" and env.get("DO_NOT_TRACK") == "1", deployment.urn


# --------------------------------------------------------------------------- cloud identity first


def _identity_bindings(plan: Plan) -> dict[tuple[str, str], str]:
    """(namespace, service account) -> urn of what gives it a cloud identity."""
    out = {}
    for r in plan.resources:
        if r.type == "aws:eks/podIdentityAssociation:PodIdentityAssociation":
            out[(r.inputs["namespace"], r.inputs["serviceAccount"])] = r.urn
        elif r.type == "azure-native:managedidentity:FederatedIdentityCredential":
            _, _, namespace, account = r.inputs["subject"].split(":")
            out[(namespace, account)] = r.urn
    return out


def _service_accounts(values: Any) -> Iterator[str]:
    """Service account names a Helm release's values set (serviceAccount.name at any depth)."""
    if isinstance(values, dict):
        for key, value in values.items():
            if key == "serviceAccount" and isinstance(value, dict) and isinstance(value.get("name"), str):
                yield value["name"]
            yield from _service_accounts(value)
    elif isinstance(values, list):
        for item in values:
            yield from _service_accounts(item)


def workload_service_accounts(plan: Plan) -> list[tuple[RecordedResource, str, str]]:
    out = []
    for r in plan.resources:
        if r.type == "kubernetes:helm.sh/v3:Release":
            out += [(r, r.inputs.get("namespace", "default"), sa) for sa in _service_accounts(r.inputs.get("values"))]
        elif r.type.startswith("kubernetes:apps/v1:"):
            pod = r.inputs["spec"]["template"]["spec"]
            out.append((r, r.inputs["metadata"].get("namespace", "default"), pod.get("serviceAccountName", "default")))
    return out


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_workloads_start_after_their_cloud_identity_exists(case_id: str) -> None:
    """EKS Pod Identity and AKS workload identity act on pods as they are created: a pod started
    before its association / federated credential runs without cloud credentials."""
    plan = plan_for(case_id)
    bindings = _identity_bindings(plan)
    users = [(w, ns, sa) for w, ns, sa in workload_service_accounts(plan) if (ns, sa) in bindings]
    assert len({(ns, sa) for _, ns, sa in users}) == len(bindings), f"every identity has its workload: {bindings}"
    for workload, ns, sa in users:
        assert bindings[(ns, sa)] in workload.dependencies, f"{workload.urn} ({ns}/{sa}) does not wait for {bindings[(ns, sa)]}"


# --------------------------------------------------------------------------- drains and rollouts


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_disruption_budgets_never_block_a_drain(case_id: str) -> None:
    """EKS node-group updates and AKS node-image upgrades drain nodes; a budget allowing no
    disruption at the normal replica count fails them (PodEvictionFailure / upgrade failure)."""
    plan = plan_for(case_id)
    scale = _scale(plan)
    models = {m["name"]: m for m in scale["models"]}
    budgets = {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r.inputs["spec"] for r in _of(plan, "kubernetes:policy/v1:PodDisruptionBudget")}
    for deployment in _deployments(plan):
        meta, spec = deployment.inputs["metadata"], deployment.inputs["spec"]
        model = meta["labels"].get("llm-platform.io/model")
        normal = models[model].get("minReplicas", 1) if model else spec.get("replicas", 1)
        budget = budgets[(meta["namespace"], meta["name"])]
        allowed = normal - budget["minAvailable"] if "minAvailable" in budget else budget["maxUnavailable"]
        assert allowed >= 1, f"{deployment.urn}: at {normal} replica(s) the budget allows no eviction"


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_model_rollouts_surge_only_with_room_at_min_replicas_and_fail_visibly(case_id: str) -> None:
    plan = plan_for(case_id)
    scale = _scale(plan)
    pools = {p["name"]: p for p in scale["gpuPools"]}
    models = {m["name"]: m for m in scale["models"]}
    for deployment in _deployments(plan):
        name = deployment.inputs["metadata"]["labels"].get("llm-platform.io/model")
        if not name:
            continue
        spec = deployment.inputs["spec"]
        pool = pools[models[name]["pool"]]
        gpus = GPU_INSTANCES[pool["instanceType"]].gpus
        at_min = sum(m.get("minReplicas", 1) * m.get("gpusPerReplica", 1) for m in scale["models"] if m["pool"] == pool["name"])
        fits = at_min + models[name].get("gpusPerReplica", 1) <= pool["maxSize"] * gpus
        assert spec["strategy"]["rollingUpdate"]["maxSurge"] == (1 if fits else 0), f"{deployment.urn}: surge decision at minReplicas"
        probe = spec["template"]["spec"]["containers"][0]["startupProbe"]
        deadline = spec.get("progressDeadlineSeconds")
        awaited = _seconds(deployment.custom_timeouts.get("update", "10m"))
        assert deadline is not None and probe["periodSeconds"] * probe["failureThreshold"] < deadline < awaited, f"{deployment.urn}: progressDeadlineSeconds {deadline}"


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_model_pods_request_the_disk_they_write_and_it_fits_the_node(case_id: str) -> None:
    plan = plan_for(case_id)
    pools = {p["name"]: p for p in _scale(plan)["gpuPools"]}
    models = {m["name"]: m for m in _scale(plan)["models"]}
    for deployment in _deployments(plan):
        name = deployment.inputs["metadata"]["labels"].get("llm-platform.io/model")
        if not name:
            continue
        pod = deployment.inputs["spec"]["template"]["spec"]
        disk_backed = sum(float(v["emptyDir"]["sizeLimit"].removesuffix("Gi")) for v in pod["volumes"] if "emptyDir" in v and v["emptyDir"].get("medium") != "Memory")
        resources = pod["containers"][0]["resources"]
        request = float(resources["requests"]["ephemeral-storage"].removesuffix("Gi"))
        assert float(resources["limits"]["ephemeral-storage"].removesuffix("Gi")) == request > disk_backed, deployment.urn
        pool = pools[models[name]["pool"]]
        per_node = GPU_INSTANCES[pool["instanceType"]].gpus // models[name].get("gpusPerReplica", 1)
        # Images (50 GB) besides; the kubelet evicts below 10% free (nodefs.available default).
        assert per_node * request + 50 <= 0.9 * pool.get("diskSizeGb", 200), f"{deployment.urn}: {per_node} pods x {request} GiB"


@pytest.mark.parametrize("case_id", AZURE_SCALE)
def test_key_vault_secret_store_uses_the_stacks_azure_cloud(case_id: str) -> None:
    plan = plan_for(case_id)
    expected = {"public": "PublicCloud", "china": "ChinaCloud", "usgovernment": "USGovernmentCloud"}[plan.config.get("azure-native:environment", "public")]
    stores = [r for r in plan.resources if r.type == "kubernetes:external-secrets.io/v1:ClusterSecretStore"]
    assert stores and all(r.inputs["spec"]["provider"]["azurekv"]["environmentType"] == expected for r in stores)


# --------------------------------------------------------------------------- version lifecycle

EXAMPLE_SCALE_STACK = {"aws": "scale-aws", "azure": "scale-azure"}


def _stack_with_scale(tmp_path: Path, cloud: str, name: str, **scale: Any) -> str:
    config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{EXAMPLE_SCALE_STACK[cloud]}.yaml").read_text())
    config["config"]["llm-platform:scale"].update(scale)
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _cluster_versions(plan: Plan) -> list[tuple[str, str, str]]:
    """(cloud, resource urn, Kubernetes version) of every cluster and pinned node pool. An EKS
    cluster with extended support is not upgraded by EKS at the end of standard support."""
    found = []
    for r in _of(plan, "aws:eks/cluster:Cluster"):
        if (r.inputs.get("upgradePolicy") or {}).get("supportType", "EXTENDED") == "STANDARD":
            found.append(("aws", r.urn, r.inputs["version"]))
    for r in _of(plan, "azure-native:containerservice:ManagedCluster"):
        found.append(("azure", r.urn, r.inputs["kubernetesVersion"]))
    for r in _of(plan, "azure-native:containerservice:AgentPool"):
        if r.inputs.get("orchestratorVersion"):
            found.append(("azure", r.urn, r.inputs["orchestratorVersion"]))
    return found


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_clusters_run_a_version_their_platform_creates_and_will_not_upgrade_under_them(case_id: str) -> None:
    """EKS (upgrade policy STANDARD) upgrades a cluster at the end of standard support; AKS stops
    creating clusters at end of life and later upgrades them. A stack still naming the old version
    would then try to downgrade."""
    versions = _cluster_versions(plan_for(case_id))
    assert versions, "a Scale plan has a cluster"
    for cloud, urn, version in versions:
        release = KUBERNETES_VERSIONS[cloud].releases.get(version)
        assert release is not None and release.ga <= date.today() < release.end, f"{urn}: {version} is not in {KUBERNETES_VERSIONS[cloud].platform} support today"


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_versions_past_support_or_before_ga_are_refused_and_near_ones_warned(cloud: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = KUBERNETES_VERSIONS[cloud]
    oldest = min(catalog.releases, key=lambda v: int(v.split(".")[1]))
    release = catalog.releases[oldest]
    assert catalog.problem(oldest, release.end) and not catalog.problem(oldest, release.end - timedelta(days=1))
    assert catalog.problem(oldest, release.ga - timedelta(days=1)) and not catalog.problem(oldest, release.ga)
    assert catalog.problem("1.20", date.today()), "older than the catalog"
    assert not catalog.problem("1.99", date.today()) and catalog.warning("1.99", date.today()), "newer than the catalog: a warning"
    past = next(v for v, r in catalog.releases.items() if r.end <= date.today())
    with pytest.raises(ConfigError) as err:
        plan_stack(_stack_with_scale(tmp_path, cloud, f"old-{cloud}", kubernetesVersion=past))
    assert f"llm-platform:scale.kubernetesVersion = '{past}'" in str(err.value)
    version = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{EXAMPLE_SCALE_STACK[cloud]}.yaml").read_text())["config"]["llm-platform:scale"]["kubernetesVersion"]
    monkeypatch.setitem(catalog.releases, version, MinorRelease(ga=catalog.releases[version].ga, end=date.today() + timedelta(days=30)))
    assert any("kubernetesVersion" in w and f"leaves {catalog.support}" in w for w in plan_stack(EXAMPLE_SCALE_STACK[cloud]).warnings)


def test_version_catalogs_follow_each_platforms_calendar_rules() -> None:
    """EKS: standard support is 14 months from the EKS release. AKS: an end of life given as a
    month is that month's last day. Both: sourced and read on a date."""
    for version, release in KUBERNETES_VERSIONS["aws"].releases.items():
        months = (release.end.year - release.ga.year) * 12 + release.end.month - release.ga.month
        assert months == 14 and release.end.day == release.ga.day, version
    for version, release in KUBERNETES_VERSIONS["azure"].releases.items():
        assert (release.end + timedelta(days=1)).day == 1 and release.ga < release.end, version
    for catalog in KUBERNETES_VERSIONS.values():
        assert catalog.source.startswith("https://") and catalog.read <= date.today()


# --------------------------------------------------------------------------- EKS cluster admins


def test_the_deployer_is_recognised_from_its_session_arn() -> None:
    session = f"arn:aws:sts::{MOCK_ACCOUNT_ID}:assumed-role/Deployer/ci-42"
    assert names_the_caller(f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/Deployer", session)
    assert names_the_caller(f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/platform/deployer", session), "the session ARN drops the role's path; names ignore case"
    assert not names_the_caller(f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/Deployer-2", session)
    assert not names_the_caller(f"arn:aws:iam::{MOCK_ACCOUNT_ID}:user/Deployer", session)
    assert not names_the_caller("arn:aws:iam::210987654321:role/Deployer", session)
    user = f"arn:aws:iam::{MOCK_ACCOUNT_ID}:user/ops/alice"
    assert names_the_caller(f"arn:aws:iam::{MOCK_ACCOUNT_ID}:user/alice", user) and not names_the_caller(f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/alice", user)


def test_a_cluster_admin_naming_the_deployer_is_refused_before_deploy(tmp_path: Path) -> None:
    """EKS makes the creator's access entry itself: a second one fails with ResourceInUseException.
    The offline engine's caller is the mock user (scripts/engine/mocks.py)."""
    other = f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/platform-admins"
    deployer = f"arn:aws:iam::{MOCK_ACCOUNT_ID}:user/offline-plan"
    with pytest.raises(ProgramError) as err:
        plan_stack(_stack_with_scale(tmp_path, "aws", "creator-admin", clusterAdmins=[other, deployer]))
    assert "llm-platform:scale.clusterAdmins[1]" in str(err.value) and "ResourceInUseException" in str(err.value)
    assert "clusterAdmins[0]" not in str(err.value)
    plan = plan_stack(_stack_with_scale(tmp_path, "aws", "other-admin", clusterAdmins=[other]))
    assert [r.inputs["principalArn"] for r in _of(plan, "aws:eks/accessEntry:AccessEntry")] == [other]
