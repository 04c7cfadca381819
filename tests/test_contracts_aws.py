"""Provider contracts of the AWS platform resources, over every AWS plan of tests/plan_matrix.py:
names that AWS scopes to an account and region carry the stack, every principal that uses the
platform key is granted it, every AWS service the workloads call is reachable without NAT, and
engine versions are never pinned to a minor that AWS upgrades by itself."""

from __future__ import annotations

import copy
import json
import re
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import components.aws.bedrock_catalog as catalog
from components.aws.endpoints import BEDROCK_AGENT_RUNTIME_ACTIONS, ENDPOINT_SERVICES_BY_ACTION_PREFIX
from components.aws.kms import AUTOSCALING_SLR_GRANT_ACTIONS, AUTOSCALING_SLR_USE_ACTIONS, CLOUDWATCH_ALARMS_ACTIONS
from scripts.engine import Plan, RecordedResource, plan_stack
from stacks.errors import ConfigError
from tests.plan_matrix import _DIR, AWS_CASES, CASES, PHASE, ROOT, Case, case_config, plan_for, strings_in

OTHER_STACK = "contract-twin"

# Inputs holding a physical name that AWS keeps unique per account (IAM, budgets) or per account
# and region (everything else).
NAME_FIELDS = ("name", "namePrefix", "identifier", "clusterIdentifier", "replicationGroupId", "bucket", "bucketPrefix", "nodeGroupName", "functionName", "roleName")
# Fields that name the resource itself only on these types; elsewhere they refer to it.
REFERENCE_FIELDS = {"bucket": {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}, "clusterIdentifier": {"aws:rds/cluster:Cluster"}}
# Types whose name is unique only inside a parent (a cluster, a role, a load balancer).
PARENT_SCOPED = {
    "aws:ecs/service:Service",
    # Cloud Map service names are unique within their namespace (which carries the stack).
    "aws:servicediscovery/service:Service",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:eks/addon:Addon",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:lb/listener:Listener",
    "aws:lb/listenerRule:ListenerRule",
}
# Account-and-region singletons (no name at all): each must be switchable off by the config key
# named here, so that exactly one stack per account and region owns it.
SINGLETONS = {
    "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration": ("llm-platform:beta", ("bedrock", "invocationLogging")),
}


def _is_unknown(value: Any) -> bool:
    from policies.llm_guard.location import UNKNOWN_SENTINELS

    return isinstance(value, str) and value in UNKNOWN_SENTINELS


def _stack_file(case_id: str) -> Path:
    plan_for(case_id)  # writes the variant's stack file
    case = CASES[case_id]
    return ROOT / "stacks" / f"Pulumi.{case.id}.yaml" if case.id == case.base else _DIR / f"Pulumi.{case.id}.yaml"


def _physical_names(plan: Plan) -> dict[tuple[str, str, str], str]:
    names = {}
    for r in plan.resources:
        if not r.custom or not r.type.startswith("aws:") or r.type in PARENT_SCOPED:
            continue
        for field in NAME_FIELDS:
            if field in REFERENCE_FIELDS and r.type not in REFERENCE_FIELDS[field]:
                continue  # names another resource (the bucket of a bucket policy)
            value = r.inputs.get(field)
            if isinstance(value, str) and not _is_unknown(value):
                names[(r.type, r.name, field)] = value
    return names


@pytest.mark.parametrize("case_id", AWS_CASES)
def test_account_and_region_scoped_names_carry_the_stack(case_id: str) -> None:
    """Two stacks of the same config in one account and region must not claim the same name."""
    ours = _physical_names(plan_for(case_id))
    twin = _physical_names(plan_stack(str(_stack_file(case_id)), OTHER_STACK))
    assert ours and ours.keys() == twin.keys()
    clashes = {k: v for k, v in ours.items() if twin[k] == v}
    assert not clashes, f"names the same in stack {OTHER_STACK!r}: {clashes}"
    for r in plan_for(case_id).resources:
        if r.custom and r.type.startswith("aws:") and r.type not in PARENT_SCOPED and r.type in SINGLETONS:
            section, path = SINGLETONS[r.type]
            node: Any = plan_for(case_id).config.get(section, {})
            for part in path:
                node = node.get(part) if isinstance(node, dict) else None
            assert node is not False, f"{r.urn} exists although {section}.{'.'.join(path)} is false"


def test_singletons_are_owned_by_config() -> None:
    """Every nameless account-region singleton disappears when its owning key is false."""
    found = {r.type for case_id in AWS_CASES for r in plan_for(case_id).resources if r.type in SINGLETONS}
    assert found, "the matrix exercises the singletons"
    document = yaml.safe_load(_stack_file("beta-aws").read_text())
    config = copy.deepcopy(document["config"])
    for section, path in SINGLETONS.values():
        node = config.setdefault(section, {})
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = False
    path_ = _DIR / "Pulumi.beta-aws-no-singletons.yaml"
    path_.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    plan = plan_stack(str(path_))
    assert not [r.urn for r in plan.resources if r.type in SINGLETONS]


# ----------------------------------------------------------------------------- the platform key


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _key(plan: Plan) -> tuple[str, list[dict[str, Any]]]:
    (key,) = [r for r in plan.resources if r.type == "aws:kms/key:Key"]
    statements = _json(key.inputs["policy"])["Statement"]
    arns = {v for r in plan.resources for v in strings_in(r.inputs) if re.match(r"^arn:aws(-cn)?:kms:[^:]+:\d{12}:key/", v)}
    assert len(arns) == 1, arns
    return arns.pop(), statements



def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return action if isinstance(action, list) else [action]


def _allows(pattern_actions: list[str], action: str) -> bool:
    return any(re.fullmatch(p.replace("*", ".*"), action) for p in pattern_actions)


def _key_grants(statements: list[dict[str, Any]], principal: dict[str, Any], actions: list[str]) -> list[dict[str, Any]]:
    """Key-policy statements that allow `actions` to a principal (service or role ARN)."""
    out = []
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        granted = st.get("Principal", {})
        if "Service" in principal:
            match = principal["Service"] in (granted.get("Service") if isinstance(granted.get("Service"), list) else [granted.get("Service")])
        else:
            conditions = {k: v for pairs in (st.get("Condition") or {}).values() for k, v in pairs.items()}
            match = granted.get("AWS") == principal["AWS"] or (granted.get("AWS") == "*" and conditions.get("aws:PrincipalArn") == principal["AWS"])
        if match and all(_allows(_actions(st), a) for a in actions):
            out.append(st)
    return out


def _role_policies(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    by_role: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in plan.resources:
        if r.type == "aws:iam/rolePolicy:RolePolicy" and not _is_unknown(r.inputs.get("policy")):
            by_role[str(r.inputs["role"])].extend(_json(r.inputs["policy"])["Statement"])
    return by_role


def _role_allows(statements: list[dict[str, Any]], action: str, resource: str, via: str) -> bool:
    """Whether a statement allows `action` on `resource` for calls made through service `via`
    (a kms:ViaService condition naming another service does not count)."""
    for st in statements:
        resources = st.get("Resource", [])
        resources = resources if isinstance(resources, list) else [resources]
        services = [v for pairs in (st.get("Condition") or {}).values() for k, v in pairs.items() if k == "kms:ViaService"]
        through = all(str(v).startswith(f"{via}.") for v in services)
        if st.get("Effect") == "Allow" and through and _allows(_actions(st), action) and any(re.fullmatch(re.escape(x).replace(r"\*", ".*"), resource) for x in resources):
            return True
    return False


def _encrypted_with(plan: Plan, key_arn: str, type_: str) -> list[RecordedResource]:
    return [r for r in plan.resources if r.type == type_ and key_arn in set(strings_in(r.inputs))]


@pytest.mark.parametrize("case_id", AWS_CASES)
def test_every_principal_using_the_platform_key_is_granted_it(case_id: str) -> None:
    plan = plan_for(case_id)
    key_arn, key_policy = _key(plan)
    partition = key_arn.split(":")[1]
    region, account = key_arn.split(":")[3:5]
    missing: list[str] = []

    # Log groups: CloudWatch Logs' regional principal, for this account's log groups.
    if _encrypted_with(plan, key_arn, "aws:cloudwatch/logGroup:LogGroup"):
        grants = _key_grants(key_policy, {"Service": f"logs.{region}.amazonaws.com{'.cn' if partition == 'aws-cn' else ''}"}, ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"])
        if not grants:
            missing.append("log groups: logs.<region> service principal")

    # SNS topics that CloudWatch alarms publish to.
    topics = _encrypted_with(plan, key_arn, "aws:sns/topic:Topic")
    alarms = [r for r in plan.resources if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm" and r.inputs.get("alarmActions")]
    if topics and alarms and not _key_grants(key_policy, {"Service": "cloudwatch.amazonaws.com"}, CLOUDWATCH_ALARMS_ACTIONS):
        missing.append("SNS topics: cloudwatch.amazonaws.com (alarm notifications)")

    # EBS volumes of launch templates: EC2 Auto Scaling's service-linked role.
    if _encrypted_with(plan, key_arn, "aws:ec2/launchTemplate:LaunchTemplate"):
        slr = {"AWS": f"arn:{partition}:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"}
        if not _key_grants(key_policy, slr, AUTOSCALING_SLR_USE_ACTIONS):
            missing.append("launch templates: AWSServiceRoleForAutoScaling use")
        grants = _key_grants(key_policy, slr, AUTOSCALING_SLR_GRANT_ACTIONS)
        if not any((st.get("Condition") or {}).get("Bool", {}).get("kms:GrantIsForAWSResource") == "true" for st in grants):
            missing.append("launch templates: AWSServiceRoleForAutoScaling CreateGrant for AWS resources")

    # Services that create grants with the deployer's rights (RDS, Aurora, EKS, OpenSearch
    # Serverless, Secrets Manager, guardrail creation): the key delegates to the account's IAM.
    root = {"AWS": f"arn:{partition}:iam::{account}:root"}
    if not _key_grants(key_policy, root, ["kms:CreateGrant", "kms:DescribeKey", "kms:Decrypt", "kms:GenerateDataKey"]):
        missing.append("account root delegation (CreateGrant, DescribeKey, Decrypt, GenerateDataKey)")

    # Callers: a role that reads a secret, applies the guardrail or uses the bucket decrypts too.
    guardrails = _encrypted_with(plan, key_arn, "aws:bedrock/guardrail:Guardrail")
    for role, statements in _role_policies(plan).items():
        uses = {"bedrock": guardrails and any(_allows(_actions(st), "bedrock:ApplyGuardrail") for st in statements)}
        uses["secretsmanager"] = any(_allows(_actions(st), "secretsmanager:GetSecretValue") for st in statements)
        for via in (v for v, used in uses.items() if used):
            if not _role_allows(statements, "kms:Decrypt", key_arn, via):
                missing.append(f"role {role} uses the key through {via} without kms:Decrypt on it")
    assert not missing, "\n".join(missing)


# ------------------------------------------------------------------- services without NAT


NO_NAT_CASE = Case(
    "beta-aws-no-nat",
    "beta-aws",
    {
        "llm-platform:poc": {"network": {"natGateways": 0}},
        "llm-platform:mirrors": {"imageRegistry": "123456789012.dkr.ecr.eu-central-1.amazonaws.com"},
    },
)
ENDPOINT_CASES = (*[c for c in AWS_CASES if PHASE[c] != "poc"], NO_NAT_CASE.id)


def _plan(case_id: str) -> Plan:
    if case_id != NO_NAT_CASE.id:
        return plan_for(case_id)
    path = _DIR / f"Pulumi.{NO_NAT_CASE.id}.yaml"
    path.write_text(yaml.safe_dump(case_config(NO_NAT_CASE), sort_keys=False))
    return plan_stack(str(path))


def required_endpoint_services(statements: list[dict[str, Any]]) -> set[str]:
    """The endpoint services the actions a workload may call need (see ENDPOINT_SERVICES_BY_ACTION_PREFIX)."""
    out: set[str] = set()
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        via_service = any("kms:ViaService" in pairs for pairs in (st.get("Condition") or {}).values())
        for action in _actions(st):
            prefix = action.split(":", 1)[0]
            if prefix == "kms" and via_service:
                continue  # the service named in kms:ViaService calls KMS, not the workload
            if action in BEDROCK_AGENT_RUNTIME_ACTIONS:
                out.add("bedrock-agent-runtime")
                continue
            assert prefix in ENDPOINT_SERVICES_BY_ACTION_PREFIX, f"no endpoint mapping for {action}"
            out.update(ENDPOINT_SERVICES_BY_ACTION_PREFIX[prefix])
    return out


@pytest.mark.parametrize("case_id", ENDPOINT_CASES)
def test_every_service_the_workloads_call_has_an_endpoint(case_id: str) -> None:
    """Beta and Scale promise private subnets that reach AWS without the internet: the ECS app's
    roles always, and the EKS workload roles too when the stack has no NAT gateway."""
    plan = _plan(case_id)
    nat = any(r.type == "aws:ec2/natGateway:NatGateway" for r in plan.resources)
    statements = [
        st
        for r in plan.resources
        if r.type == "aws:iam/rolePolicy:RolePolicy" and ("EcsApp$" in r.urn or ("EksCluster$" in r.urn and not nat))
        for st in _json(r.inputs["policy"])["Statement"]
    ]
    assert statements
    endpoints = {str(r.inputs["serviceName"]).split(".", 3)[-1] if not str(r.inputs["serviceName"]).startswith("cn.") else str(r.inputs["serviceName"]).split(".", 4)[-1] for r in plan.resources if r.type == "aws:ec2/vpcEndpoint:VpcEndpoint"}
    if any(r.type == "aws:opensearch/serverlessVpcEndpoint:ServerlessVpcEndpoint" for r in plan.resources):
        endpoints.add("aoss")
    missing = required_endpoint_services(statements) - endpoints
    assert not missing, f"workloads call {sorted(missing)} without an endpoint (endpoints: {sorted(endpoints)})"


# ---------------------------------------------------------------------------- engine versions

# Engines whose minors AWS upgrades by itself: a pin must name the major only.
_MAJOR_ONLY = {"postgres": r"^\d+$", "aurora-postgresql": r"^\d+$", "mysql": r"^\d+\.\d+$", "aurora-mysql": r"^\d+\.\d+$"}


@pytest.mark.parametrize("case_id", AWS_CASES)
def test_engine_versions_are_not_minor_pinned(case_id: str) -> None:
    plan = plan_for(case_id)
    checked = 0
    for r in plan.resources:
        if r.type in ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster", "aws:rds/clusterInstance:ClusterInstance"):
            engine, version = r.inputs.get("engine"), r.inputs.get("engineVersion")
            if version is None:
                continue  # the cluster's, or AWS's default
            assert re.match(_MAJOR_ONLY[str(engine)], str(version)), f"{r.urn}: engineVersion {version!r} pins a minor of {engine}"
            checked += 1
    assert checked


# ----------------------------------------------------------------------------- model lifecycle


def test_a_retired_model_is_a_config_error(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.beta-aws.yaml").read_text())
    config["config"]["llm-platform:beta"]["bedrock"]["models"][0]["model"] = "anthropic.claude-3-7-sonnet-20250219-v1:0"
    path = tmp_path / "Pulumi.retired.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as err:
        plan_stack(str(path))
    assert "llm-platform:beta.bedrock.models[0].model" in str(err.value) and "end-of-life on Bedrock on 2026-04-28" in str(err.value)


def test_a_model_retiring_within_90_days_is_a_plan_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    model = "anthropic.claude-sonnet-4-6"
    soon = catalog.CATALOG[model]
    life = catalog.Lifecycle(soon.lifecycle.launched, legacy=date.today() - timedelta(days=100), eol=date.today() + timedelta(days=30))
    monkeypatch.setitem(catalog.CATALOG, model, catalog.BedrockModel(soon.model_id, soon.in_regions, soon.profiles, soon.kind, life))
    plan = plan_stack("beta-aws")
    assert any(model in w and "end-of-life" in w for w in plan.warnings), plan.warnings
    monkeypatch.setitem(catalog.CATALOG, model, soon)
    assert not [w for w in plan_stack("beta-aws").warnings if model in w]


def test_catalog_lifecycle_dates_are_ordered_and_sourced() -> None:
    for model in catalog.CATALOG.values():
        life = model.lifecycle
        assert life.launched is not None and life.source.startswith("https://"), model.model_id
        assert life.legacy is None or life.launched < life.legacy, model.model_id
        assert life.eol is None or life.launched < life.eol, model.model_id


# ----------------------------------------------------------------------- replacement with fixed names

# Inputs that hold a resource's own physical name (fixed) or generate one (prefix).
_FIXED_NAME = ("name", "identifier", "clusterIdentifier", "replicationGroupId", "bucket", "nodeGroupName")
_NAME_INPUTS = {*_FIXED_NAME, "namePrefix", "identifierPrefix", "clusterIdentifierPrefix", "nodeGroupNamePrefix", "bucketPrefix", "region"}
# Resources that keep a fixed name although other inputs replace them, and why that is safe. Node
# groups, launch templates and security groups have no entry: they must generate their names.
FIXED_NAME_EXCEPTIONS = {
    # The service writes to exactly this name; the other replacing input (logGroupClass) is never set.
    "aws:cloudwatch/logGroup:LogGroup": "named by the service that writes to it",
    # Protected: a replacement is refused by `protect` before any create is attempted.
    "aws:rds/instance:Instance": "protected stateful resource",
    "aws:rds/cluster:Cluster": "protected stateful resource",
    "aws:opensearch/serverlessCollection:ServerlessCollection": "protected stateful resource",
    # Replacing inputs are constants of the code (engine, cluster id) or the protected cluster's id.
    "aws:rds/clusterInstance:ClusterInstance": "replacing inputs are constants or the protected cluster",
    # roleArn comes from a role replaced only on its own name; the other inputs are constants.
    "aws:eks/cluster:Cluster": "replacing inputs are constants or a stable role ARN",
    # launchType/schedulingStrategy are constants; the name is scoped to the ECS cluster.
    "aws:ecs/service:Service": "replacing inputs are constants (ecs_app.py)",
    # The name hashes every replacing input that can change (port, protocol, target type) and
    # the load balancer's scheme (components/aws/ecs_app.py target_group_name); vpcId is the
    # stack's VPC, whose replacement replaces everything.
    "aws:lb/targetGroup:TargetGroup": "name hashes port, protocol, target type and scheme",
    "aws:elasticache/replicationGroup:ReplicationGroup": "replacing inputs are constants of the cache component",
    "aws:iam/role:Role": "only the path replaces it, and it is never set",
    "aws:sns/topic:Topic": "fifoTopic is never set",
    "aws:ssm/parameter:Parameter": "dataType is never set",
}
MUST_GENERATE_NAMES = {"aws:eks/nodeGroup:NodeGroup", "aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/securityGroup:SecurityGroup", "aws:lb/targetGroup:TargetGroup"}


def fixed_name_problems(plan: Plan, exceptions: dict[str, str]) -> list[str]:
    from scripts.ops.diff import replacement_paths

    paths = replacement_paths()
    problems = []
    for r in plan.resources:
        replacing = [p for p in paths.get(r.type, ()) if p not in _NAME_INPUTS]
        fixed = [f for f in _FIXED_NAME if isinstance(r.inputs.get(f), str) and not (f in REFERENCE_FIELDS and r.type not in REFERENCE_FIELDS[f])]
        if r.custom and replacing and fixed and r.type not in exceptions and not getattr(r, "delete_before_replace", False):
            problems.append(f"{r.urn}: fixed {fixed[0]}={r.inputs[fixed[0]]!r} but {', '.join(replacing[:4])} replace it (create-before-delete would collide)")
    return problems


@pytest.mark.parametrize("case_id", AWS_CASES)
def test_resources_replaced_by_an_input_change_do_not_have_fixed_names(case_id: str) -> None:
    """Pulumi creates the replacement before deleting the old resource: a fixed physical name
    collides (EKS node groups: ResourceInUseException). Generated names, deleteBeforeReplace or a
    listed reason."""
    assert not set(FIXED_NAME_EXCEPTIONS) & (MUST_GENERATE_NAMES - {"aws:lb/targetGroup:TargetGroup"})
    assert not fixed_name_problems(plan_for(case_id), FIXED_NAME_EXCEPTIONS)
    if PHASE.get(case_id) == "scale":
        groups = [r for r in plan_for(case_id).resources if r.type == "aws:eks/nodeGroup:NodeGroup"]
        assert groups and all(r.inputs.get("nodeGroupNamePrefix") for r in groups)


# EKS (and AKS) version lifecycle: tests/test_contracts_k8s.py, over one catalog shape.


# ----------------------------------------------------------------------- account-region singletons


def test_account_region_singletons_are_off_unless_configured(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.beta-aws.yaml").read_text())
    for section, path in SINGLETONS.values():
        node = config["config"][section]
        for part in path[:-1]:
            node = node[part]
        node.pop(path[-1], None)
    file = tmp_path / "Pulumi.defaults.yaml"
    file.write_text(yaml.safe_dump(config))
    assert not [r.urn for r in plan_stack(str(file)).resources if r.type in SINGLETONS]
    assert [r for r in plan_for("beta-aws").resources if r.type in SINGLETONS], "the example beta-aws owns them"


# ----------------------------------------------------------------------- service principals on the key


@pytest.mark.parametrize("case_id", AWS_CASES)
def test_service_principals_on_the_platform_key_are_scoped_and_needed(case_id: str) -> None:
    """Every AWS service principal on the key is limited to this account and region by
    aws:SourceArn (or, for CloudWatch Logs, the encryption context); Bedrock's appears only when
    the stack owns invocation logging (its only use of the key) and never in aws-cn."""
    plan = plan_for(case_id)
    _, statements = _key(plan)
    region = next(r for r in plan.resources if r.type == "aws:kms/key:Key").location.get("region") or plan.config.get("aws:region")
    partition = "aws-cn" if str(region).startswith("cn-") else "aws"
    services = set()
    for s in statements:
        principal = (s.get("Principal") or {}).get("Service")
        if not principal:
            continue
        service = principal.split(".")[0]
        services.add(service)
        condition = s.get("Condition") or {}
        if service == "logs":
            assert f":logs:{region}:" in json.dumps(condition), s
            continue
        source_arn = (condition.get("ArnLike") or {}).get("aws:SourceArn", "")
        assert "aws:SourceAccount" in condition.get("StringEquals", {}), s
        assert source_arn.startswith(f"arn:{partition}:{service}:{region}:"), f"{case_id}: {s.get('Sid')} has no aws:SourceArn of this region: {source_arn!r}"
    logging = any(r.type == "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration" for r in plan.resources)
    assert ("bedrock" in services) == logging, f"{case_id}: Bedrock on the key {'without' if not logging else 'missing with'} invocation logging"


# ----------------------------------------------------------------------- log groups services write to


def service_log_groups(plan: Plan) -> list[tuple[RecordedResource, str]]:
    """(writer, log group name) for every log group an AWS service creates unless it exists."""
    out = []
    for r in plan.resources:
        if r.type == "aws:rds/instance:Instance":
            out += [(r, f"/aws/rds/instance/{r.inputs['identifier']}/{log}") for log in r.inputs.get("enabledCloudwatchLogsExports") or []]
        elif r.type == "aws:rds/cluster:Cluster":
            out += [(r, f"/aws/rds/cluster/{r.inputs['clusterIdentifier']}/{log}") for log in r.inputs.get("enabledCloudwatchLogsExports") or []]
        elif r.type == "aws:eks/cluster:Cluster" and r.inputs.get("enabledClusterLogTypes"):
            out.append((r, f"/aws/eks/{r.inputs['name']}/cluster"))
    return out


@pytest.mark.parametrize("case_id", AWS_CASES)
def test_every_log_group_a_service_writes_is_ours_with_key_and_retention(case_id: str) -> None:
    plan = plan_for(case_id)
    groups = {r.inputs.get("name"): r for r in plan.resources if r.type == "aws:cloudwatch/logGroup:LogGroup"}
    writers = service_log_groups(plan)
    assert writers, "every AWS stack has a database exporting logs"
    for writer, name in writers:
        group = groups.get(name)
        assert group is not None, f"{writer.urn} writes to {name}, which the stack does not create (no key, no retention)"
        assert group.inputs.get("kmsKeyId") and group.inputs.get("retentionInDays"), f"{name}: key and retention"
        assert group.urn in writer.dependencies, f"{writer.urn} may start writing before {name} exists"


@pytest.mark.parametrize("case_id", AWS_CASES)
def test_trust_policies_only_condition_on_context_the_service_sends(case_id: str) -> None:
    """A StringEquals on a key the request lacks denies it: EC2 sends no aws:SourceAccount when it
    takes instance-profile credentials, so a conditioned node role leaves every node without
    credentials (components/aws/eks.py SERVICES_WITHOUT_SOURCE_CONTEXT)."""
    from components.aws.eks import SERVICES_WITHOUT_SOURCE_CONTEXT

    checked = 0
    for role in (r for r in plan_for(case_id).resources if r.type == "aws:iam/role:Role"):
        for statement in json.loads(role.inputs["assumeRolePolicy"])["Statement"]:
            services = (statement.get("Principal") or {}).get("Service")
            services = [services] if isinstance(services, str) else services or []
            if set(services) & SERVICES_WITHOUT_SOURCE_CONTEXT:
                checked += 1
                assert "aws:SourceAccount" not in json.dumps(statement.get("Condition", {})), f"{role.name}: {statement}"
    if PHASE[case_id] == "scale":
        assert checked, "the EKS node role trusts ec2.amazonaws.com"
