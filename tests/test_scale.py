"""Scale plans: GPU pools and workloads agree on the shared taint and label, every Kubernetes object
is valid for the cluster version, the gateway only reaches upstreams the residency profile allows,
no secret value sits in a ConfigMap or env literal, and promotion from Beta keeps every stateful
resource."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import kubernetes_validate
import pytest
import yaml

from components.k8s.gpu import GPU, GPU_INSTANCES, POOL_LABEL
from policies.llm_guard.location import is_secret
from policies.llm_guard.profiles import BUILTIN_PROFILES
from policies.llm_guard.routing import API_HOSTS, parse_bedrock_reference
from scripts.bench.harness import planned_gateway
from scripts.engine import Plan
from tests.conftest import load_stack, resources_of, run_cli
from tests.sdk_schema import check_inputs, taggable
from tests.test_beta import STATEFUL

STACKS = ("scale-aws", "scale-azure")
# Custom resources of charts the platform installs: no schema in kubernetes-validate.
# Custom resources: ScaledObjects and ServiceMonitors are checked against their CRDs' schemas in
# tests/test_scale_ops.py.
CUSTOM_KINDS = {"external-secrets.io/v1", "keda.sh/v1alpha1", "monitoring.coreos.com/v1"}


@pytest.fixture(scope="module", params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _k8s_objects(plan: Plan) -> list[Any]:
    return [r for r in plan.resources if r.custom and r.type.startswith("kubernetes:") and not r.type.startswith("kubernetes:helm.sh")]


def _pod_specs(plan: Plan) -> Iterator[tuple[str, dict[str, Any]]]:
    for r in resources_of(plan, "kubernetes:apps/v1:Deployment"):
        yield r.urn, r.inputs["spec"]["template"]["spec"]


def _requests_gpu(pod: dict[str, Any]) -> bool:
    return any(GPU.resource in (c.get("resources", {}).get("limits") or {}) for c in pod["containers"])


def _scale_config(stack: str) -> dict[str, Any]:
    return load_stack(stack)["config"]["llm-platform:scale"]


# ------------------------------------------------------------------------------ plan and audit


# Values the API takes that the SDK's Known* enums do not list: Container insights streams
# (microsoft/Docker-Provider scripts/onboarding/aks/onboarding-msi-terraform/variables.tf
# @0da65e58e4576c985569317e73932413977096ab; DCR streams are strings, KnownDataFlowStreams lists
# only the VM-agent ones).
# A log search alert's criterion operator (Equals, GreaterThan, ...: the scheduledQueryRules API's
# ConditionOperator, e.g. Ankvi/pulumi-azure-native packages/insights/v20200501preview/types/
# enums.ts): pulumi_azure_native 3.29.0 monitor/_enums.py ConditionOperator holds another API's
# filter operators (eq, gt, ...) under the same name; the input is Union[str, enum].
_KNOWN_OUTSIDE_SDK_ENUMS = re.compile(
    r"^azure-native:monitor:DataCollectionRule\.(dataFlows|dataSources\.extensions)\[\d+\]\.streams\[\d+\]: 'Microsoft-(Container|Kube)[A-Za-z0-9]*' is not a value the SDK knows"
    r"|^azure-native:monitor:ScheduledQueryRule\.criteria\.allOf\[\d+\]\.operator: '(Equals|GreaterThan|GreaterThanOrEqual|LessThan|LessThanOrEqual)' is not a value the SDK knows"
)


def test_plan_passes_sdk_schema_tags_and_audit(stack: str, plan_of: Callable[..., Plan]) -> None:
    plan = plan_of(stack)
    problems = [p for r in plan.resources if r.custom and not r.type.startswith("kubernetes:") for p in check_inputs(r.type, r.inputs)]
    problems = [p for p in problems if not _KNOWN_OUTSIDE_SDK_ENUMS.match(p)]
    assert problems == []
    for r in plan.resources:
        if r.custom and not r.type.startswith("kubernetes:") and taggable(r.type):
            assert (r.inputs.get("tags") or {}).get("phase") == "scale", r.urn
    result = run_cli("audit", stack, "--json")
    assert result.returncode == 0, result.stdout[-3000:]
    assert json.loads(result.stdout)["summary"]["violations"] == 0


def test_every_kubernetes_object_validates_against_the_cluster_version(stack: str, plan_of: Callable[..., Plan]) -> None:
    plan = plan_of(stack)
    version = _scale_config(stack)["kubernetesVersion"]
    objects = _k8s_objects(plan)
    kinds = {r.inputs["kind"] for r in objects}
    assert {"Namespace", "Deployment", "Service", "ConfigMap", "NetworkPolicy", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ServiceAccount"} <= kinds
    validated = 0
    for r in objects:
        if r.inputs["apiVersion"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(dict(r.inputs), version, strict=True)
        validated += 1
    assert validated >= 10


def test_the_schema_check_rejects_a_broken_object(plan_of: Callable[..., Plan]) -> None:
    deployment = next(r for r in resources_of(plan_of("scale-aws"), "kubernetes:apps/v1:Deployment"))
    broken = json.loads(json.dumps(deployment.inputs))
    broken["spec"]["template"]["spec"]["containers"][0]["resources"]["requets"] = {"cpu": "1"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.34", strict=True)


def test_every_object_carries_the_required_tags_as_labels(stack: str, plan_of: Callable[..., Plan]) -> None:
    for r in _k8s_objects(plan_of(stack)):
        labels = r.inputs["metadata"]["labels"]
        for key in ("cost-center", "owner", "application", "data-residency", "phase"):
            value = labels.get(f"llm-platform.io/{key}")
            assert value, (r.urn, key)
            assert re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?", value), (r.urn, value)
        assert labels["llm-platform.io/phase"] == "scale"
        assert r.inputs["metadata"]["annotations"]["llm-platform.io/owner"] == "platform-team@example.com"


# ------------------------------------------------------------------------------ GPU pools and workloads


def test_eks_gpu_node_groups_have_max_sizes_and_the_shared_taint_and_label(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("scale-aws")
    configured = {p["name"]: p for p in _scale_config("scale-aws")["gpuPools"]}
    groups = {r.inputs["labels"]["llm-platform.io/pool"]: r for r in resources_of(plan, "aws:eks/nodeGroup:NodeGroup")}
    assert set(configured) | {"system"} == set(groups)
    for name, pool in configured.items():
        group = groups[name].inputs
        assert group["scalingConfig"]["maxSize"] == pool["maxSize"]
        assert group["scalingConfig"]["minSize"] == pool.get("minSize", 0)
        assert group["amiType"] == "AL2023_x86_64_NVIDIA"
        assert group["instanceTypes"] == [pool["instanceType"]]
        assert group["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
        assert group["labels"]["accelerator"] == "nvidia"
    system = groups["system"].inputs
    assert not system.get("taints") and "accelerator" not in system["labels"]
    # Cost tags reach the instances and volumes through the launch templates.
    for template in resources_of(plan, "aws:ec2/launchTemplate:LaunchTemplate"):
        kinds = {spec["resourceType"]: spec["tags"] for spec in template.inputs["tagSpecifications"]}
        assert {"instance", "volume"} <= set(kinds)
        assert all(tags["cost-center"] == "ai-platform" for tags in kinds.values())
        assert template.inputs["metadataOptions"]["httpTokens"] == "required"


def test_eks_cluster_is_private_encrypted_and_logs_everything(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("scale-aws")
    (cluster,) = resources_of(plan, "aws:eks/cluster:Cluster")
    vpc = cluster.inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is False and vpc["endpointPrivateAccess"] is True
    private = {r.urn for r in resources_of(plan, "aws:ec2/subnet:Subnet") if r.inputs["tags"].get("tier") == "private"}
    subnets = {d for d in cluster.dependencies if ":ec2/subnet:Subnet::" in d}
    assert subnets == private and len(vpc["subnetIds"]) == len(private)
    for subnet in resources_of(plan, "aws:ec2/subnet:Subnet"):
        if subnet.urn in private:
            assert subnet.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1"
    assert cluster.inputs["encryptionConfig"]["resources"] == ["secrets"]
    assert cluster.inputs["encryptionConfig"]["provider"]["keyArn"].startswith("arn:aws:kms:")
    assert set(cluster.inputs["enabledClusterLogTypes"]) == {"api", "audit", "authenticator", "controllerManager", "scheduler"}


def test_aks_gpu_pools_have_max_counts_and_the_shared_taint_and_label(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("scale-azure")
    configured = {p["name"]: p for p in _scale_config("scale-azure")["gpuPools"]}
    pools = {r.inputs["agentPoolName"]: r.inputs for r in resources_of(plan, "azure-native:containerservice:AgentPool")}
    assert set(pools) == set(configured)
    for name, pool in configured.items():
        assert pools[name]["enableAutoScaling"] is True
        assert pools[name]["maxCount"] == pool["maxSize"]
        assert pools[name]["nodeTaints"] == ["nvidia.com/gpu=true:NoSchedule"]
        assert pools[name]["nodeLabels"]["accelerator"] == "nvidia"
    (cluster,) = resources_of(plan, "azure-native:containerservice:ManagedCluster")
    inputs = cluster.inputs
    assert inputs["apiServerAccessProfile"]["enablePrivateCluster"] is True
    assert inputs["securityProfile"]["workloadIdentity"]["enabled"] is True
    assert inputs["oidcIssuerProfile"]["enabled"] is True
    assert inputs["disableLocalAccounts"] is True
    assert inputs["addonProfiles"]["omsagent"]["enabled"] is True
    (system,) = inputs["agentPoolProfiles"]
    assert system["mode"] == "System" and "accelerator" not in (system.get("nodeLabels") or {})
    assert not system.get("nodeTaints"), "the gateway and add-ons tolerate no taint: the system pool must take them"


def test_gpu_workloads_tolerate_and_select_exactly_the_shared_constant(stack: str, plan_of: Callable[..., Plan]) -> None:
    plan = plan_of(stack)
    gpu_pods = [(urn, pod) for urn, pod in _pod_specs(plan) if _requests_gpu(pod)]
    assert len(gpu_pods) == len(_scale_config(stack)["models"])
    for urn, pod in gpu_pods:
        assert pod["tolerations"] == [GPU.toleration], urn
        # The GPU label, and the model's own pool (test_contracts_k8s: it schedules there only).
        assert {k: v for k, v in pod["nodeSelector"].items() if k != POOL_LABEL} == GPU.node_selector, urn
        assert pod["nodeSelector"].get(POOL_LABEL), urn
    for urn, pod in _pod_specs(plan):
        if not _requests_gpu(pod):
            assert GPU.toleration not in (pod.get("tolerations") or []), f"{urn} would take GPU nodes without using a GPU"
    # The device plugin and DCGM exporter run on exactly the GPU nodes.
    for release in resources_of(plan, "kubernetes:helm.sh/v3:Release"):
        if release.inputs["chart"].rsplit("/", 1)[-1] in ("nvidia-device-plugin", "dcgm-exporter"):
            assert release.inputs["values"]["tolerations"] == [GPU.toleration]
            assert release.inputs["values"]["nodeSelector"] == GPU.node_selector


def test_model_servers_fit_their_instances(stack: str, plan_of: Callable[..., Plan]) -> None:
    scale = _scale_config(stack)
    pools = {p["name"]: GPU_INSTANCES[p["instanceType"]] for p in scale["gpuPools"]}
    models = {m["name"]: m for m in scale["models"]}
    for r in resources_of(plan_of(stack), "kubernetes:apps/v1:Deployment"):
        name = r.inputs["metadata"]["labels"].get("llm-platform.io/model")
        if not name:
            continue
        shape, container = pools[models[name]["pool"]], r.inputs["spec"]["template"]["spec"]["containers"][0]
        requests = container["resources"]["requests"]
        assert int(requests[GPU.resource]) == models[name].get("gpusPerReplica", 1) <= shape.gpus
        assert int(requests["cpu"]) < shape.vcpus
        assert int(requests["memory"].removesuffix("Gi")) < shape.memory_gib
        assert container["image"].split(":")[1] not in ("", "latest")
        assert "--tensor-parallel-size" in container["args"]
        scaler = next(h for h in resources_of(plan_of(stack), "kubernetes:keda.sh/v1alpha1:ScaledObject") if h.inputs["metadata"]["name"] == f"vllm-{name}")
        assert (scaler.inputs["spec"]["minReplicaCount"], scaler.inputs["spec"]["maxReplicaCount"]) == (models[name].get("minReplicas", 1), models[name]["maxReplicas"])


def test_only_the_gateway_reaches_the_model_servers(stack: str, plan_of: Callable[..., Plan]) -> None:
    policies = {r.inputs["metadata"]["name"]: r.inputs for r in resources_of(plan_of(stack), "kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    deny = policies["default-deny-ingress"]
    assert deny["metadata"]["namespace"] == "llm-models" and deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    allow = policies["allow-from-gateway"]["spec"]["ingress"]
    assert len(allow) == 1 and len(allow[0]["from"]) == 1
    peer = allow[0]["from"][0]
    assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "llm-gateway"}}
    assert peer["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "litellm"}}


def test_gateway_is_on_an_internal_load_balancer(stack: str, plan_of: Callable[..., Plan]) -> None:
    plan = plan_of(stack)
    (service,) = [r for r in resources_of(plan, "kubernetes:core/v1:Service") if r.inputs["metadata"]["name"] == "litellm"]
    annotations = service.inputs["metadata"]["annotations"]
    internal = "service.beta.kubernetes.io/aws-load-balancer-internal" if stack.endswith("aws") else "service.beta.kubernetes.io/azure-load-balancer-internal"
    assert annotations[internal] == "true"
    ranges = service.inputs["spec"]["loadBalancerSourceRanges"]
    assert ranges and "0.0.0.0/0" not in ranges


# ------------------------------------------------------------------------------ routing and secrets


def _upstream_hosts(plan: Plan) -> list[tuple[str, str]]:
    """(model entry, where it sends prompts): hosts after resolving os.environ/ from the Deployment."""
    gateway = planned_gateway(plan)
    config = yaml.safe_load(gateway.config_yaml)
    found = []
    for entry in config["model_list"]:
        params = entry["litellm_params"]
        base = params.get("api_base")
        if isinstance(base, str) and base.startswith("os.environ/"):
            base = gateway.env[base.removeprefix("os.environ/")]
        model = params["model"]
        if model.startswith("bedrock/"):
            found.append((model, params.get("model_id") or model.removeprefix("bedrock/")))
        else:
            assert base, f"{model} has no api_base: it would go to the provider's default host"
            found.append((model, urlparse(base).hostname or ""))
    return found


def test_no_gateway_upstream_outside_the_residency_profile(stack: str, plan_of: Callable[..., Plan]) -> None:
    plan = plan_of(stack)
    profile = BUILTIN_PROFILES[load_stack(stack)["config"]["llm-platform:residency"]]
    region = plan.config.get("aws:region") or plan.config.get("azure-native:location")
    upstreams = _upstream_hosts(plan)
    assert {m.split("/")[0] for m, _ in upstreams} >= {"hosted_vllm", "mistral"}
    for model, target in upstreams:
        if model.startswith("bedrock/"):
            for ref in (parse_bedrock_reference(target), parse_bedrock_reference(model.removeprefix("bedrock/"))):
                assert ref is not None
                assert profile.allows_processing_in(ref.destinations() or frozenset({str(region)})), (model, ref)
        elif target.endswith(".svc.cluster.local"):
            assert target.endswith(".llm-models.svc.cluster.local")
        elif target in API_HOSTS:
            assert profile.allows_api_provider(API_HOSTS[target].name), (model, target)
        else:
            assert stack.endswith("azure") and target.endswith(".openai.azure.com"), (model, target)


def _secret_values(plan: Plan) -> list[str]:
    """What the program is handed for each `secure:` key of the stack file (the engine's placeholders)."""
    from scripts.engine import _placeholder

    stack = load_stack(plan.stack)["config"]
    return [_placeholder(k) for k, v in stack.items() if isinstance(v, dict) and "secure" in v]


def test_no_secret_value_in_any_config_map_or_env_literal(stack: str, plan_of: Callable[..., Plan]) -> None:
    plan = plan_of(stack)
    secrets = _secret_values(plan)
    assert secrets, "the example stack has secret config to look for"
    literals: list[tuple[str, Any]] = []
    for r in resources_of(plan, "kubernetes:core/v1:ConfigMap"):
        literals += [(r.urn, v) for v in r.inputs["data"].values()]
    for urn, pod in _pod_specs(plan):
        for container in pod["containers"]:
            for env in container.get("env", []):
                if "value" in env:
                    literals.append((urn, env["value"]))
                    assert not re.search(r"(KEY|TOKEN|PASSWORD|SECRET)$", env["name"]), f"{urn}: {env['name']} is a literal"
    assert literals
    for urn, value in literals:
        # Pulumi keeps secretness through outputs, so a leaked secret is recorded as a secret
        # value (masked by the engine): no literal may be one.
        assert not is_secret(value), f"{urn}: a secret value in a ConfigMap or env literal"
        text = str(value)
        for secret in secrets:
            assert secret not in text, urn
        assert not re.search(r"\bsk-[A-Za-z0-9]{20,}", text), urn
    config = yaml.safe_load(planned_gateway(plan).config_yaml)
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    for entry in config["model_list"]:
        key = entry["litellm_params"].get("api_key")
        assert key is None or key.startswith("os.environ/")


def test_gateway_keys_come_from_the_synced_secret(stack: str, plan_of: Callable[..., Plan]) -> None:
    plan = plan_of(stack)
    gateway = planned_gateway(plan)
    (external,) = [r for r in resources_of(plan, "kubernetes:external-secrets.io/v1:ExternalSecret") if r.inputs["metadata"]["name"] == "gateway-secrets"]
    synced = {d["secretKey"] for d in external.inputs["spec"]["data"]}
    assert set(gateway.secret_env) == synced
    assert {"LITELLM_MASTER_KEY", "MISTRAL_API_KEY"} <= synced


def test_secret_sync_reads_exactly_the_synced_secrets(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("scale-aws")
    (policy,) = [r for r in resources_of(plan, "aws:iam/rolePolicy:RolePolicy") if r.name == "secret-sync-read-platform-secrets"]
    document = json.loads(policy.inputs["policy"])
    read = next(s for s in document["Statement"] if s["Sid"] == "ReadPlatformSecrets")
    remote = {d["remoteRef"]["key"] for r in resources_of(plan, "kubernetes:external-secrets.io/v1:ExternalSecret") for d in r.inputs["spec"]["data"]}
    assert set(read["Resource"]) == remote
    assert "*" not in json.dumps(read["Resource"])


def test_pod_identity_roles_are_scoped(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("scale-aws")
    associations = {(r.inputs["namespace"], r.inputs["serviceAccount"]) for r in resources_of(plan, "aws:eks/podIdentityAssociation:PodIdentityAssociation")}
    assert associations == {("external-secrets", "external-secrets"), ("llm-gateway", "litellm"), ("kube-system", "cluster-autoscaler")}
    names = {r.name for r in resources_of(plan, "aws:iam/rolePolicy:RolePolicy")}
    assert {"gateway-bedrock-models", "gateway-bedrock-profiles"} <= names
    autoscaler = json.loads(next(r for r in resources_of(plan, "aws:iam/rolePolicy:RolePolicy") if r.name == "cluster-autoscaler-resize-node-groups").inputs["policy"])
    resize = next(s for s in autoscaler["Statement"] if s["Sid"] == "ResizeOwnGroups")
    assert "Condition" in resize


# ------------------------------------------------------------------------------ promotion and variants


@pytest.mark.parametrize(("beta", "scale"), [("beta-aws", "scale-aws"), ("beta-azure", "scale-azure")])
def test_promotion_from_beta_keeps_every_stateful_resource(beta: str, scale: str, plan_of: Callable[..., Plan]) -> None:
    before = plan_of(beta, "promoted")
    after = {r.urn: r for r in plan_of(scale, "promoted").resources}
    kept = 0
    for res in before.resources:
        if res.type not in STATEFUL and not res.protect:
            continue
        assert res.urn in after, f"promotion would delete and recreate {res.urn}"
        twin = after[res.urn]
        for key in STATEFUL.get(res.type, ()):
            assert res.inputs.get(key) == twin.inputs.get(key), f"{res.urn}.{key} changes on promotion"
        assert twin.protect == res.protect
        kept += 1
    assert kept >= 8


def test_fallback_outside_the_profile_is_a_config_error(make_variant: Callable[..., Path]) -> None:
    routes = [{"name": "chat", "selfHosted": ["qwen-7b"], "fallbacks": ["api:openai/gpt-4o"]}]
    path = make_variant("scale-aws", "scale-us-fallback", {"llm-platform:scale": {"routes": routes}})
    result = run_cli("plan", str(path))
    assert result.returncode == 2
    assert "llm-platform:scale.routes[0].fallbacks[0]" in result.stderr and "api.openai.com" in result.stderr
