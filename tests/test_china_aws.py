"""AWS China (issue 11) and SageMaker hosting: contract checks over every AWS plan, and the config
rules for `beta.sagemaker` and `sagemaker:` fallbacks.

Expected service principals per partition are written here from the sources, not imported from
components/aws/partition.py (that would test the table against itself): terraform-provider-aws
internal/service/meta/service_principal_data_source.go (aws-cn exceptions codedeploy,
elasticmapreduce, logs; ec2 and s3 added by PR #47141, merged 2026-03-30) and the EKS error
"Following required service principals [ec2.amazonaws.com.cn] were not found"
(awslabs/cdk-eks-blueprints#558), read 2026-11-30.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from policies.llm_guard.location import UNKNOWN_SENTINELS
from policies.llm_guard.regions import aws_partition_of
from scripts.engine import Plan, RecordedResource
from stacks.config import load_config
from stacks.errors import ConfigError
from tests.plan_matrix import AWS_CASES, CASES, CLOUD, case_config, plan_for

DNS_SUFFIX = {"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn", "aws-us-gov": "amazonaws.com"}
CN_SUFFIXED_PRINCIPALS = {"ec2", "s3", "codedeploy", "elasticmapreduce"}
_ARN = re.compile(r"arn:(aws[a-z-]*):([a-z0-9-]*):([a-z0-9-]*):")
# <service>[.<region>].amazonaws.com[.cn]; the service part may hold dots (pods.eks).
_PRINCIPAL = re.compile(r"(.+?)(?:\.[a-z]{2}(?:-gov)?-[a-z]+-\d)?\.amazonaws\.com(?:\.cn)?")
_IAM_FIELDS = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/role:Role": "assumeRolePolicy",
    "aws:kms/key:Key": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
}
SAGEMAKER_CASES = tuple(c for c in AWS_CASES if "sagemaker" in json.dumps(case_config(CASES[c])["config"].get("llm-platform:beta", {})))


def region_of(plan: Plan) -> str:
    return str(plan.config["aws:region"])


def _documents(plan: Plan) -> Iterator[tuple[RecordedResource, Any]]:
    for r in plan.resources:
        field = _IAM_FIELDS.get(r.type)
        raw = r.inputs.get(field) if field else None
        if raw is None or (isinstance(raw, str) and raw in UNKNOWN_SENTINELS):
            continue
        yield r, json.loads(raw) if isinstance(raw, str) else raw


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _service_principals(document: Any) -> Iterator[str]:
    for statement in document.get("Statement", []) if isinstance(document, dict) else []:
        principal = statement.get("Principal")
        if isinstance(principal, dict) and "Service" in principal:
            yield from _strings(principal["Service"])


def expected_principal(service: str, partition: str, region: str) -> str:
    if service == "logs":
        return f"logs.{region}.{DNS_SUFFIX[partition]}"
    if partition == "aws-cn" and service in CN_SUFFIXED_PRINCIPALS:
        return f"{service}.amazonaws.com.cn"
    return f"{service}.amazonaws.com"


def partition_problems(plan: Plan) -> list[str]:
    region = region_of(plan)
    partition = aws_partition_of(region)
    assert partition is not None
    problems = []
    for resource, document in _documents(plan):
        for text in _strings(document):
            for arn in _ARN.finditer(text):
                arn_partition, _, arn_region = arn.groups()
                if arn_partition != partition:
                    problems.append(f"{resource.name}: {arn.group(0)} is not in partition {partition}")
                elif arn_region and aws_partition_of(arn_region) != partition:
                    problems.append(f"{resource.name}: {arn.group(0)} names a region outside {partition}")
        for principal in _service_principals(document):
            match = _PRINCIPAL.fullmatch(principal)
            service = match.group(1) if match else principal
            if principal != expected_principal(service, partition, region):
                problems.append(f"{resource.name}: service principal {principal}, expected {expected_principal(service, partition, region)} in {partition}")
    return problems


@pytest.mark.parametrize("case_id", AWS_CASES)
def test_iam_documents_use_the_partition_of_the_region(case_id: str) -> None:
    """Every ARN in an IAM document (policies, trust, key and bucket policies) is in the partition
    of the stack's region, and every service principal has that partition's form."""
    assert partition_problems(plan_for(case_id)) == []


def test_the_partition_check_catches_a_wrong_principal_and_arn() -> None:
    plan = plan_for("scale-aws-cn")
    role = next(r for r in plan.resources if r.type == "aws:iam/role:Role" and "ec2.amazonaws.com.cn" in r.inputs["assumeRolePolicy"])
    original = role.inputs["assumeRolePolicy"]
    try:
        role.inputs["assumeRolePolicy"] = original.replace("ec2.amazonaws.com.cn", "ec2.amazonaws.com").replace('"arn:aws-cn:', '"arn:aws:')
        assert any("service principal ec2.amazonaws.com," in p for p in partition_problems(plan))
    finally:
        role.inputs["assumeRolePolicy"] = original


# --------------------------------------------------------------------------- SageMaker


def _of_type(plan: Plan, kind: str) -> list[RecordedResource]:
    return [r for r in plan.resources if r.type == kind]


def _sagemaker_config(case_id: str) -> list[dict[str, Any]]:
    return case_config(CASES[case_id])["config"]["llm-platform:beta"]["sagemaker"]["models"]


@pytest.mark.parametrize("case_id", SAGEMAKER_CASES)
def test_sagemaker_models_are_isolated_in_the_vpc_with_the_regional_lmi_image(case_id: str) -> None:
    from components.aws.sagemaker_catalog import LMI_REPOSITORY, lmi_account

    plan = plan_for(case_id)
    region = region_of(plan)
    suffix = DNS_SUFFIX[aws_partition_of(region) or "aws"]
    models = _of_type(plan, "aws:sagemaker/model:Model")
    assert len(models) == len(_sagemaker_config(case_id))
    groups = {r.urn: r for r in _of_type(plan, "aws:ec2/securityGroup:SecurityGroup")}
    for model in models:
        inputs = model.inputs
        assert inputs["enableNetworkIsolation"] is True, model.name
        container = inputs["primaryContainer"]
        assert container["image"].startswith(f"{lmi_account(region)}.dkr.ecr.{region}.{suffix}/{LMI_REPOSITORY}:"), container["image"]
        sources = container["modelDataSource"]["s3DataSources"]
        assert [s["s3Uri"][:5] for s in sources] == ["s3://"] and sources[0]["compressionType"] == "None"
        assert container["environment"]["OPTION_ROLLING_BATCH"] == "vllm"
        vpc = inputs["vpcConfig"]
        assert vpc["subnets"] and vpc["securityGroupIds"]
        own = [g for g in groups.values() if g.name.endswith("sagemaker-sg")]
        assert own and all(not g.inputs.get("ingress") for g in own), "the endpoint's security group admits nothing"


@pytest.mark.parametrize("case_id", SAGEMAKER_CASES)
def test_sagemaker_endpoint_config_encrypts_where_the_api_allows(case_id: str) -> None:
    """CreateEndpointConfig refuses KmsKeyId for instance types with local NVMe storage; every
    other type gets the platform key."""
    from components.aws.sagemaker_catalog import HOSTING_INSTANCES

    plan = plan_for(case_id)
    configs = _of_type(plan, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    assert configs
    for config in configs:
        (variant,) = config.inputs["productionVariants"]
        local = HOSTING_INSTANCES[variant["instanceType"]].local_storage
        assert ("kmsKeyArn" in config.inputs) is not local, (config.name, variant["instanceType"])


@pytest.mark.parametrize("case_id", SAGEMAKER_CASES)
def test_sagemaker_endpoints_scale_between_the_configured_bounds(case_id: str) -> None:
    plan = plan_for(case_id)
    wanted = {m["name"]: m for m in _sagemaker_config(case_id)}
    endpoints = {r.name: r.inputs["name"] for r in _of_type(plan, "aws:sagemaker/endpoint:Endpoint")}
    targets = _of_type(plan, "aws:appautoscaling/target:Target")
    policies = _of_type(plan, "aws:appautoscaling/policy:Policy")
    for name, model in wanted.items():
        endpoint = endpoints[f"sagemaker-{name}"]
        (target,) = [t for t in targets if t.inputs["resourceId"] == f"endpoint/{endpoint}/variant/AllTraffic"]
        assert target.inputs["serviceNamespace"] == "sagemaker"
        assert target.inputs["scalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
        assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (model.get("minInstances", 1), model["maxInstances"])
        (policy,) = [p for p in policies if p.name == f"sagemaker-{name}-invocations"]
        spec = policy.inputs["targetTrackingScalingPolicyConfiguration"]
        assert spec["predefinedMetricSpecification"]["predefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"


def _policy_statements(plan: Plan, role_name_part: str) -> list[dict[str, Any]]:
    out = []
    for r, document in _documents(plan):
        if r.type == "aws:iam/rolePolicy:RolePolicy" and role_name_part in r.name:
            out += document["Statement"]
    return out


@pytest.mark.parametrize("case_id", SAGEMAKER_CASES)
def test_only_the_gateway_invokes_the_endpoints_and_only_these(case_id: str) -> None:
    plan = plan_for(case_id)
    endpoints = sorted(r.inputs["name"] for r in _of_type(plan, "aws:sagemaker/endpoint:Endpoint"))
    partition = aws_partition_of(region_of(plan))
    invokers: dict[str, set[str]] = {}
    for r, document in _documents(plan):
        if r.type != "aws:iam/rolePolicy:RolePolicy":
            continue
        for statement in document["Statement"]:
            actions = [a.lower() for a in _strings(statement.get("Action", []))]
            if any(a.startswith("sagemaker:invoke") or a in ("sagemaker:*", "*") for a in actions):
                invokers.setdefault(r.name, set()).update(_strings(statement["Resource"]))
    assert invokers, "no role may invoke the endpoints"
    for name, resources in invokers.items():
        assert "gateway" in name, f"{name} may invoke SageMaker endpoints"
        assert resources <= {f"arn:{partition}:sagemaker:{region_of(plan)}:123456789012:endpoint/{e.lower()}" for e in endpoints}, resources


@pytest.mark.parametrize("case_id", SAGEMAKER_CASES)
def test_sagemaker_execution_role_reads_only_the_weights_prefixes(case_id: str) -> None:
    plan = plan_for(case_id)
    uris = [m["modelId"].rstrip("/") for m in _sagemaker_config(case_id)]
    partition = aws_partition_of(region_of(plan))
    allowed = {f"arn:{partition}:s3:::{u.removeprefix('s3://')}/*" for u in uris}
    for statement in _policy_statements(plan, "sagemaker-execution"):
        actions = list(_strings(statement["Action"]))
        if "s3:GetObject" in actions:
            assert set(_strings(statement["Resource"])) <= allowed
        assert not any(a.endswith(":*") or a == "*" for a in actions), actions


@pytest.mark.parametrize("case_id", AWS_CASES)
def test_vpc_endpoints_exist_in_the_partition(case_id: str) -> None:
    """No Bedrock endpoint where Bedrock does not exist (aws-cn); sagemaker.runtime wherever the
    gateway calls an endpoint without NAT."""
    plan = plan_for(case_id)
    names = [r.inputs["serviceName"] for r in _of_type(plan, "aws:ec2/vpcEndpoint:VpcEndpoint")]
    if aws_partition_of(region_of(plan)) == "aws-cn":
        assert not [n for n in names if ".bedrock" in n], names
    if case_id in SAGEMAKER_CASES:
        assert any(n.endswith(".sagemaker.runtime") for n in names), names


@pytest.mark.parametrize("case_id", [c for c in AWS_CASES if CLOUD[c] == "aws"])
def test_vpc_endpoint_service_names_are_the_regions_own(case_id: str) -> None:
    """In China some endpoint services carry the cn.com.amazonaws prefix and others do not
    (scripts/data/aws_cn_endpoint_services.yaml, sourced): one prefix for all (the partition's
    reverse DNS prefix) names services that do not exist, and CreateVpcEndpoint fails with
    InvalidServiceName. Elsewhere every name is com.amazonaws.<region>.<service>."""
    from scripts.engine.mocks import CN_PREFIXED_ENDPOINT_SERVICES

    plan = plan_for(case_id)
    region = region_of(plan)
    cn_prefixed = set(CN_PREFIXED_ENDPOINT_SERVICES.get(region, ()))
    wrong = []
    for endpoint in _of_type(plan, "aws:ec2/vpcEndpoint:VpcEndpoint"):
        name = endpoint.inputs["serviceName"]
        service = name.split(f".{region}.", 1)[-1]
        expected = f"{'cn.com.amazonaws' if service in cn_prefixed else 'com.amazonaws'}.{region}.{service}"
        if name != expected:
            wrong.append((endpoint.name, name, expected))
    assert not wrong, f"endpoint service names that do not exist in {region}: {wrong}"


@pytest.mark.parametrize("case_id", SAGEMAKER_CASES)
def test_gateway_routes_sagemaker_models_with_a_provider_litellm_knows(case_id: str) -> None:
    """The real LiteLLM resolves `sagemaker_chat/<endpoint>` and signs for the region's partition."""
    from litellm import get_llm_provider
    from litellm.litellm_core_utils.aws_partition import get_aws_dns_suffix

    plan = plan_for(case_id)
    region = region_of(plan)
    endpoints = {r.inputs["name"] for r in _of_type(plan, "aws:sagemaker/endpoint:Endpoint")}
    configs = []
    for r in _of_type(plan, "aws:ecs/taskDefinition:TaskDefinition"):
        raw = r.inputs.get("containerDefinitions")
        if isinstance(raw, str) and "LITELLM_CONFIG" in raw:
            for container in json.loads(raw):
                configs += [e["value"] for e in container["environment"] if e["name"] == "LITELLM_CONFIG"]
    for r in plan.resources:
        if r.type == "kubernetes:core/v1:ConfigMap" and "config.yaml" in (r.inputs.get("data") or {}):
            configs.append(r.inputs["data"]["config.yaml"])
    import yaml

    upstreams = [m["litellm_params"] for c in configs for m in yaml.safe_load(c)["model_list"] if m["litellm_params"]["model"].startswith("sagemaker")]
    assert upstreams, "no gateway routes the SageMaker models"
    for params in upstreams:
        _, provider, _, _ = get_llm_provider(params["model"])
        assert provider == "sagemaker_chat"
        assert params["model"].split("/", 1)[1] in endpoints
        assert params["aws_region_name"] == region
    assert get_aws_dns_suffix(region) == DNS_SUFFIX[aws_partition_of(region) or "aws"]


# --------------------------------------------------------------------------- config rules


def _config(case_id: str, beta: dict[str, Any] | None = None, scale: dict[str, Any] | None = None) -> dict[str, Any]:
    config = case_config(CASES[case_id])["config"]
    if beta is not None:
        config["llm-platform:beta"] = {**config["llm-platform:beta"], **beta}
    if scale is not None:
        config["llm-platform:scale"] = {**config["llm-platform:scale"], **scale}
    raw = {k: (json.dumps(v) if isinstance(v, (dict, list)) else str(v)) for k, v in config.items() if not (isinstance(v, dict) and "secure" in v)}
    secrets = {k for k, v in config.items() if isinstance(v, dict) and "secure" in v}
    raw.update({k: "placeholder" for k in secrets})
    return {"raw": raw, "secrets": secrets}


def _problems(case_id: str, **changes: Any) -> dict[str, str]:
    c = _config(case_id, **changes)
    try:
        load_config(c["raw"], c["secrets"])
    except ConfigError as exc:
        return {p.key: p.message for p in exc.problems}
    return {}


def _model(**fields: Any) -> dict[str, Any]:
    return {"sagemaker": {"models": [{"name": "qwen", "modelId": "s3://example-llm-weights-cn/qwen", "instanceType": "ml.g5.2xlarge", "maxInstances": 2, **fields}]}}


def test_the_cn_examples_load() -> None:
    for case_id in ("beta-aws-cn", "scale-aws-cn"):
        assert _problems(case_id) == {}


def test_hub_weights_are_refused_for_sagemaker() -> None:
    problems = _problems("beta-aws-cn", beta=_model(modelId="Qwen/Qwen2.5-7B-Instruct"))
    assert "network-isolated" in problems["llm-platform:beta.sagemaker.models[0].modelId"]


def test_instance_types_outside_the_region_catalog_are_refused() -> None:
    problems = _problems("beta-aws-cn", beta=_model(instanceType="ml.p5.48xlarge"))
    message = problems["llm-platform:beta.sagemaker.models[0].instanceType"]
    assert "cn-northwest-1" in message and "ml.g5.2xlarge" in message


def test_sagemaker_fallbacks_name_a_beta_model() -> None:
    problems = _problems("scale-aws-cn", scale={"routes": [{"name": "chat", "selfHosted": ["qwen-7b"], "fallbacks": ["sagemaker:llama"]}]})
    assert "no beta.sagemaker model is called 'llama'" in problems["llm-platform:scale.routes[0].fallbacks[0]"]


def test_sagemaker_is_refused_on_azure() -> None:
    problems = _problems("beta-azure", beta=_model())
    assert "is an AWS setting" in problems["llm-platform:beta.sagemaker"]
