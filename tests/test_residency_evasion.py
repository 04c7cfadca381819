"""Residency evasion classes ("Trust under attack", item 3): each red-team example, plus cases the
examples do not name, through the pack running as a process (analyzer protocol).

Real-plan cases edit a copy of a recorded example plan (`plan_for`, the same graph `plan --json`
prints); the others are minimal graphs. `test_matrix_plans_pass_the_audit` keeps every example and
generated variant compliant, so a rule that closes a class does not also fail a legitimate stack.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from policies.llm_guard.location import UNKNOWN
from policies.llm_guard.profiles import BUILTIN_PROFILES, resolve_profile
from scripts.audit import AuditResult, PolicyPackProcess, resolve_audit_profile
from tests.plan_matrix import CASE_IDS, plan_for
from tests.policy_harness import (
    Auditor,
    assert_no_violations,
    assert_violation,
    aws_provider,
    graph,
    resource,
    tags,
    violations,
)


@pytest.fixture(scope="module")
def audit() -> Iterator[Auditor]:
    with PolicyPackProcess({}, "llm-platform", "test") as pack:
        yield Auditor(pack)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def invoke(resource_: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"], "Resource": resource_, **extra}


def role_policy(name: str, document: str) -> dict[str, Any]:
    return resource("aws:iam/rolePolicy:RolePolicy", name, {"role": "gateway", "policy": document})


# ------------------------------------------------------------------ real plans, edited


def real(case_id: str) -> dict[str, Any]:
    return copy.deepcopy(plan_for(case_id).to_json())


def audit_real(audit: Auditor, g: dict[str, Any]) -> AuditResult:
    profile, custom = resolve_audit_profile(g, None)
    return audit(g, profile, custom)


def find(g: dict[str, Any], type_token: str, name_part: str = "") -> dict[str, Any]:
    found = [r for r in g["resources"] if r["type"] == type_token and name_part in r["urn"]]
    assert found, f"no {type_token} with {name_part!r} in the plan"
    return found[0]


def gateway_config(g: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    cm = find(g, "kubernetes:core/v1:ConfigMap", "gateway")
    return cm, yaml.safe_load(cm["inputs"]["data"]["config.yaml"])


def set_gateway_config(g: dict[str, Any], edit: Callable[[dict[str, Any]], None], as_json: bool = False) -> dict[str, Any]:
    cm, config = gateway_config(g)
    edit(config)
    cm["inputs"]["data"] = {"config.json": json.dumps(config)} if as_json else {"config.yaml": yaml.safe_dump(config)}
    return cm


def gateway_env(g: dict[str, Any]) -> list[dict[str, Any]]:
    deployment = find(g, "kubernetes:apps/v1:Deployment", "gateway")
    return deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]["env"]


def route(config: dict[str, Any], prefix: str) -> dict[str, Any]:
    return next(e["litellm_params"] for e in config["model_list"] if str(e["litellm_params"]["model"]).startswith(prefix))


def add_route(config: dict[str, Any], **params: Any) -> None:
    config["model_list"].append({"model_name": "extra", "litellm_params": params})


def gateway_violation(audit: Auditor, g: dict[str, Any], needle: str = "") -> Any:
    result = audit_real(audit, g)
    found = [v for v in violations(result, "gateway-routes") if needle in v.problem + v.value]
    assert found, [(v.rule, v.property, v.problem) for v in result.violations]
    return found[0]


# ------------------------------------------------------------------ IAM grants


@pytest.mark.parametrize(
    "grant",
    [
        pytest.param(invoke("arn:aws:bedrock:*:*:*"), id="region-and-account-wildcard"),
        pytest.param(invoke("*"), id="star"),
        pytest.param({"Effect": "Allow", "Action": "bedrock:InvokeModel", "NotResource": "arn:aws:s3:::*"}, id="not-resource"),
        # Further cases the examples do not name:
        pytest.param({"Effect": "Allow", "NotAction": ["s3:*", "iam:*"], "Resource": "*"}, id="not-action"),
        pytest.param(invoke("arn:aws:bedrock:eu-*::foundation-model/*"), id="partial-region-wildcard"),
        pytest.param(invoke("arn:aws:bedrock:eu-central-1:123456789012:inference-profile/*"), id="any-profile-in-region"),
        pytest.param({"Effect": "Allow", "Action": "bedrock:Invoke*", "Resource": "arn:aws:*:*:*:*"}, id="service-wildcard"),
        pytest.param({"Effect": "Allow", "Action": "*", "Resource": ["arn:aws:bedrock:??-*"]}, id="question-marks"),
    ],
)
def test_bedrock_grant_beyond_the_profile(audit: Auditor, grant: dict[str, Any]) -> None:
    bad = role_policy("grant", policy(grant))
    v = assert_violation(audit(graph([bad])), "bedrock-iam-scope", bad["urn"])
    assert "outside profile 'eu'" in v.problem


def test_bedrock_grant_on_explicit_profile_arns_passes(audit: Auditor) -> None:
    ok = role_policy("ok", policy(invoke(["arn:aws:bedrock:eu-central-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-6", "arn:aws:bedrock:eu-west-3::foundation-model/anthropic.claude-sonnet-4-6"])))
    deny_all = role_policy("deny", policy({"Effect": "Deny", "Action": "bedrock:*", "Resource": "*"}, {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}))
    assert_no_violations(audit(graph([ok, deny_all])), "bedrock-iam-scope")


@pytest.mark.parametrize(
    ("type_token", "inputs", "prop"),
    [
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AmazonBedrockFullAccess"}, "policyArn"),
        ("aws:iam/role:Role", {"assumeRolePolicy": "{}", "managedPolicyArns": ["arn:aws:iam::aws:policy/PowerUserAccess"], "tags": tags()}, "managedPolicyArns[0]"),
        ("aws:iam/userPolicyAttachment:UserPolicyAttachment", {"user": "u", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, "policyArn"),
        ("aws:iam/groupPolicyAttachment:GroupPolicyAttachment", {"group": "g", "policyArn": "arn:aws:iam::aws:policy/AmazonBedrockLimitedAccess"}, "policyArn"),
        ("aws:iam/groupPolicy:GroupPolicy", {"group": "g", "policy": policy({"Effect": "Allow", "Action": "*", "Resource": "*"})}, "policy.Statement[0].Resource[0]"),
        ("aws:iam/role:Role", {"assumeRolePolicy": "{}", "inlinePolicies": [{"name": "x", "policy": policy(invoke("*"))}], "tags": tags()}, "inlinePolicies[0].policy.Statement[0].Resource[0]"),
    ],
    ids=["full-access-attached", "power-user-managed-arn", "admin-on-user", "limited-on-group", "group-inline-star", "role-inline-star"],
)
def test_managed_and_inline_grants(audit: Auditor, type_token: str, inputs: dict[str, Any], prop: str) -> None:
    res = resource(type_token, "grant", inputs)
    assert_violation(audit(graph([res])), "bedrock-iam-scope", res["urn"], prop)


def test_unreadable_attached_policies_fail_closed(audit: Auditor) -> None:
    unknown_managed = resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", {"role": "r", "policyArn": "arn:aws:iam::aws:policy/NotARealPolicyName"})
    foreign = resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "b", {"role": "r", "policyArn": "arn:aws:iam::123456789012:policy/somebody-elses"})
    safe = resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "c", {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"})
    result = audit(graph([unknown_managed, foreign, safe]))
    assert_violation(result, "bedrock-iam-scope", unknown_managed["urn"], "policyArn")
    assert_violation(result, "bedrock-iam-scope", foreign["urn"], "policyArn")
    assert not [v for v in violations(result, "bedrock-iam-scope") if v.urn == safe["urn"]]


def managed_policy_data_from_moto() -> dict[str, Any]:
    """What policies/llm_guard/data/aws_managed_policies.json must hold (moto ships AWS's documents)."""
    import importlib.metadata

    from moto.iam.aws_managed_policies import aws_managed_policies_data

    from policies.llm_guard import iam

    data = json.loads(aws_managed_policies_data)
    strict = BUILTIN_PROFILES["eu-strict"]
    prompts = sorted(n for n, p in data.items() if any(iam.statement_reach(s, strict) for _, s in iam.statements(p["Document"])))
    newest = max(p["CreateDate"] for p in data.values())
    return {
        "source": f"AWS managed policies as imported by moto {importlib.metadata.version('moto')} (moto/iam/aws_managed_policies.py, newest policy {newest[:10]}); "
        "regenerate with tests/test_residency_evasion.py::managed_policy_data_from_moto",
        "bedrockPromptAccess": prompts,
        "known": sorted(data),
    }


def test_managed_policy_data_matches_moto() -> None:
    from policies.llm_guard.iam import managed_policy_data

    assert managed_policy_data() == managed_policy_data_from_moto()
    assert {"AmazonBedrockFullAccess", "AdministratorAccess", "PowerUserAccess"} <= set(managed_policy_data()["bedrockPromptAccess"])
    assert "ReadOnlyAccess" not in managed_policy_data()["bedrockPromptAccess"]


def test_prompt_actions_exist_in_the_iam_database() -> None:
    from policy_sentry.querying.actions import get_actions_for_service

    from policies.llm_guard.iam import PROMPT_ACTIONS

    known = {a.lower() for service in ("bedrock", "bedrock-mantle") for a in get_actions_for_service(service)}
    assert {a.lower() for a in PROMPT_ACTIONS} <= known


# ------------------------------------------------------------------ gateway routes (scale-aws plan)


def test_gateway_bedrock_route_in_another_region(audit: Auditor) -> None:
    g = real("scale-aws")
    set_gateway_config(g, lambda c: route(c, "bedrock/").update(aws_region_name="us-east-1"))
    assert "us-east-1" in gateway_violation(audit, g, "us-east-1").problem
    g = real("scale-aws")
    set_gateway_config(g, lambda c: route(c, "bedrock/").update(model_id="arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/abc", aws_region_name=None))
    gateway_violation(audit, g, "us-west-2")


def drop_region_params(config: dict[str, Any]) -> None:
    """Without aws_region_name and the model_id ARN (whose region LiteLLM uses first), the env decides."""
    params = route(config, "bedrock/")
    params.pop("aws_region_name")
    params.pop("model_id")


def test_gateway_aws_region_from_the_deployment_env(audit: Auditor) -> None:
    g = real("scale-aws")
    set_gateway_config(g, drop_region_params)
    for item in gateway_env(g):
        if item["name"] in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            item["value"] = "us-east-1"
    gateway_violation(audit, g, "us-east-1")
    result = audit_real(audit, g)
    assert [v for v in violations(result, "endpoint-region") if "AWS_REGION" in v.problem]


def test_gateway_bedrock_without_any_region_uses_litellms_fallback(audit: Auditor) -> None:
    g = real("scale-aws")
    set_gateway_config(g, drop_region_params)
    env = gateway_env(g)
    env[:] = [e for e in env if e["name"] not in ("AWS_REGION", "AWS_DEFAULT_REGION")]
    gateway_violation(audit, g, "us-west-2")


def test_gateway_bedrock_runtime_endpoint_url(audit: Auditor) -> None:
    g = real("scale-aws")
    set_gateway_config(g, lambda c: route(c, "bedrock/").update(aws_bedrock_runtime_endpoint="https://bedrock-runtime.us-east-1.amazonaws.com"))
    gateway_violation(audit, g, "bedrock-runtime.us-east-1.amazonaws.com")
    g = real("scale-aws")
    gateway_env(g).append({"name": "AWS_BEDROCK_RUNTIME_ENDPOINT", "value": "https://bedrock-runtime.ap-south-1.amazonaws.com"})
    gateway_violation(audit, g, "ap-south-1")


@pytest.mark.parametrize(
    ("model", "needle"),
    [
        ("gpt-4o", "api.openai.com"),
        ("text-embedding-3-large", "api.openai.com"),
        ("claude-3-5-sonnet-20240620", "claude-3-5-sonnet-20240620"),  # LiteLLM's bundled map cannot place it: fails closed
        ("gemini/gemini-1.5-pro", "generativelanguage.googleapis.com"),
        ("groq/llama3-70b-8192", "api.groq.com"),
        ("together_ai/meta-llama/Llama-3-70b", "api.together.ai"),
        ("xai/grok-2", "api.x.ai"),
        ("vertex_ai/gemini-1.5-pro", "us-central1"),
        ("anthropic/claude-3-5-sonnet-20240620", "api.anthropic.com"),
    ],
)
def test_gateway_model_strings_resolve_as_litellm_does(audit: Auditor, model: str, needle: str) -> None:
    g = real("scale-aws")
    set_gateway_config(g, lambda c: add_route(c, model=model))
    gateway_violation(audit, g, needle)


def test_gateway_api_base_from_an_env_var_the_deployment_never_sets(audit: Auditor) -> None:
    g = real("scale-aws")
    set_gateway_config(g, lambda c: add_route(c, model="openai/gpt-4o", api_base="os.environ/EU_OPENAI_BASE"))
    v = gateway_violation(audit, g, "EU_OPENAI_BASE")
    assert "never sets" in v.problem


def _api_base_from_env(g: dict[str, Any], env_item: dict[str, Any]) -> None:
    """The program writes API roots literally (stacks/inference.py); an edited plan may move one
    into the gateway's environment: the pack must follow it there."""
    set_gateway_config(g, lambda c: route(c, "mistral/").update(api_base="os.environ/MISTRAL_API_BASE"))
    gateway_env(g).append({"name": "MISTRAL_API_BASE", **env_item})


def test_gateway_env_values_are_followed(audit: Auditor) -> None:
    g = real("scale-aws")
    _api_base_from_env(g, {"value": "https://api.openai.com/v1"})
    gateway_violation(audit, g, "api.openai.com")
    g = real("scale-aws")
    _api_base_from_env(g, {"valueFrom": {"secretKeyRef": {"name": "gateway-secrets", "key": "MISTRAL_API_BASE"}}})
    gateway_violation(audit, g, "from a secret")


def test_gateway_provider_env_override_is_followed(audit: Auditor) -> None:
    g = real("scale-aws")
    set_gateway_config(g, lambda c: add_route(c, model="groq/llama3-70b-8192"))
    gateway_env(g).append({"name": "GROQ_API_BASE", "value": "http://groq-proxy.llm-gateway.svc.cluster.local/v1"})
    assert not [v for v in violations(audit_real(audit, g), "gateway-routes") if "groq" in v.problem.lower()]


def test_gateway_config_written_as_json(audit: Auditor) -> None:
    g = real("scale-aws")
    set_gateway_config(g, lambda c: add_route(c, model="openai/gpt-4o"), as_json=True)
    gateway_violation(audit, g, "api.openai.com")


def test_gateway_config_in_binary_data_and_in_a_container_env(audit: Auditor) -> None:
    g = real("scale-aws")
    cm, config = gateway_config(g)
    add_route(config, model="anthropic/claude-3-opus-20240229")
    cm["inputs"].pop("data")
    cm["inputs"]["binaryData"] = {"config.yaml": base64.b64encode(yaml.safe_dump(config).encode()).decode()}
    gateway_violation(audit, g, "api.anthropic.com")
    containers = [{"name": "gateway", "image": "litellm", "environment": [{"name": "LITELLM_CONFIG", "value": json.dumps({"model_list": [{"model_name": "m", "litellm_params": {"model": "gpt-4o"}}]})}]}]
    task = resource("aws:ecs/taskDefinition:TaskDefinition", "gw", {"family": "gw", "containerDefinitions": json.dumps(containers), "tags": tags()})
    assert_violation(audit(graph([task])), "gateway-routes", task["urn"], "containerDefinitions[0].environment[0].value.model_list[0]")


def test_gateway_unknown_hosts_fail_closed_and_cluster_hosts_pass(audit: Auditor) -> None:
    g = real("scale-aws")
    set_gateway_config(g, lambda c: add_route(c, model="hosted_vllm/qwen", api_base="https://llm.example.net/v1"))
    gateway_violation(audit, g, "llm.example.net")
    g = real("scale-aws")
    set_gateway_config(g, lambda c: add_route(c, model="hosted_vllm/qwen", api_base="http://10.40.3.7:8000/v1"))
    assert_no_violations(audit_real(audit, g), "gateway-routes")


def test_gateway_azure_route_to_an_outside_account(audit: Auditor) -> None:
    g = real("scale-azure")
    set_gateway_config(g, lambda c: route(c, "azure/").update(api_base="https://someone-else.openai.azure.com"))
    gateway_violation(audit, g, "someone-else.openai.azure.com")


# ------------------------------------------------------------------ hostnames that reveal a region


@pytest.mark.parametrize(
    "url",
    [
        "http://internal-app-123456.us-east-1.elb.amazonaws.com",
        "https://other.openai.azure.com/openai/deployments/chat",
        "https://my-bucket.s3.us-west-2.amazonaws.com/prompts/",
        "https://app.kindwave-1234.westus.azurecontainerapps.io",
        "ec2-3-91-10-1.compute-1.amazonaws.com",
        "https://westus.api.cognitive.microsoft.com/",
        "https://abc.lambda-url.ap-southeast-1.on.aws/",
    ],
)
def test_endpoint_hostnames_reveal_a_region(audit: Auditor, url: str) -> None:
    containers = [{"name": "app", "environment": [{"name": "UPSTREAM", "value": url}]}]
    task = resource("aws:ecs/taskDefinition:TaskDefinition", "app", {"family": "app", "containerDefinitions": json.dumps(containers), "tags": tags()})
    assert_violation(audit(graph([task])), "endpoint-region", task["urn"], "containerDefinitions[0].environment[0].value")


def test_endpoint_hostnames_inside_the_profile_pass(audit: Auditor) -> None:
    account = resource("azure-native:cognitiveservices:Account", "oai", {"accountName": "mine", "location": "swedencentral", "properties": {"customSubDomainName": "mine"}, "tags": tags()})
    app = resource(
        "azure-native:app:ContainerApp",
        "app",
        {"location": "swedencentral", "template": {"containers": [{"name": "a", "env": [
            {"name": "A", "value": "https://mine.openai.azure.com"},
            {"name": "B", "value": "https://app.x.swedencentral.azurecontainerapps.io"},
            {"name": "C", "value": "privatelink.openai.azure.com"},
        ]}]}, "tags": tags()},
    )
    assert_no_violations(audit(graph([account, app], {"azure-native:location": "swedencentral"})), "endpoint-region")


# ------------------------------------------------------------------ Azure: global, replication, edges


@pytest.mark.parametrize(
    "type_token",
    ["azure-native:storage:StorageAccount", "azure-native:cognitiveservices:Account", "azure-native:keyvault:Vault", "azure-native:app:ContainerApp"],
)
def test_azure_location_global_on_a_regional_type(audit: Auditor, type_token: str) -> None:
    res = resource(type_token, "x", {"location": "Global", "sku": {"name": "Standard_LRS"}, "tags": tags()})
    v = assert_violation(audit(graph([res], {"azure-native:location": "swedencentral"})), "residency-region", res["urn"])
    assert "global" in v.problem


def test_azure_truly_global_types_stay_exempt(audit: Auditor) -> None:
    zone = resource("azure-native:privatedns:PrivateZone", "z", {"location": "global", "privateZoneName": "privatelink.openai.azure.com", "tags": tags()})
    result = audit(graph([zone], {"azure-native:location": "swedencentral"}))
    assert_no_violations(result, "residency-region")
    assert any(e["urn"] == zone["urn"] for e in result.exempt)


def test_cosmos_db_locations_and_backup(audit: Auditor) -> None:
    cosmos = resource("azure-native:cosmosdb:DatabaseAccount", "c", {"location": "swedencentral", "databaseAccountOfferType": "Standard", "locations": [{"locationName": "swedencentral", "failoverPriority": 0}, {"locationName": "East US", "failoverPriority": 1}], "tags": tags()})
    assert_violation(audit(graph([cosmos], {"azure-native:location": "swedencentral"})), "no-replication-out-of-profile", cosmos["urn"], "locations[1].locationName")
    geo = resource("azure-native:cosmosdb:DatabaseAccount", "c", {"location": "francecentral", "locations": [{"locationName": "francecentral"}], "backupPolicy": {"type": "Periodic", "periodicModeProperties": {"backupStorageRedundancy": "Geo"}}, "tags": tags("fr")})
    fr = {"fr": {"awsRegions": [], "azureRegions": ["francecentral"]}}
    assert_violation(audit(graph([geo], {"azure-native:location": "francecentral"}), "fr", fr), "no-replication-out-of-profile", geo["urn"], "backupPolicy.periodicModeProperties.backupStorageRedundancy")
    two_eu = resource("azure-native:cosmosdb:DatabaseAccount", "c", {"location": "swedencentral", "locations": [{"locationName": "swedencentral"}, {"locationName": "germanywestcentral"}], "tags": tags()})
    assert_no_violations(audit(graph([two_eu], {"azure-native:location": "swedencentral"})), "no-replication-out-of-profile")


@pytest.mark.parametrize(
    ("type_token", "inputs", "prop"),
    [
        ("azure-native:storage:StorageAccount", {"sku": {"name": "standard_grs"}}, "sku.name"),
        ("azure-native:storage:StorageAccount", {"sku": {"name": "Standard_RaGrs"}}, "sku.name"),
        ("azure-native:dbforpostgresql:Server", {"backup": {"geoRedundantBackup": "enabled"}}, "backup.geoRedundantBackup"),
        ("azure-native:dbformysql:Server", {"backup": {"geoRedundantBackup": "Enabled"}}, "backup.geoRedundantBackup"),
        ("azure-native:sql:Database", {}, "requestedBackupStorageRedundancy"),  # ARM default is Geo
        ("azure-native:recoveryservices:Vault", {"sku": {"name": "RS0"}}, "properties.redundancySettings.standardTierStorageRedundancy"),
    ],
    ids=["grs-lowercase", "ragrs-mixed-case", "postgres-lowercase", "mysql", "sql-default-geo", "vault-default-geo"],
)
def test_azure_geo_redundancy_case_variants_and_defaults(audit: Auditor, type_token: str, inputs: dict[str, Any], prop: str) -> None:
    fr = {"fr": {"awsRegions": [], "azureRegions": ["francecentral"]}}
    res = resource(type_token, "x", {"location": "francecentral", **inputs, "tags": tags("fr")})
    assert_violation(audit(graph([res], {"azure-native:location": "francecentral"}), "fr", fr), "no-replication-out-of-profile", res["urn"], prop)


@pytest.mark.parametrize(
    ("type_token", "inputs"),
    [
        ("azure-native:cdn:Profile", {"location": "global", "sku": {"name": "Standard_Microsoft"}}),
        ("azure-native:cdn:Endpoint", {"location": "global", "profileName": "p", "origins": []}),
        ("azure-native:frontdoor:FrontDoor", {"location": "global"}),
        ("azure-native:web:StaticSite", {"location": "westeurope", "sku": {"name": "Standard"}}),
        ("aws:apigateway/restApi:RestApi", {"name": "api"}),
        ("aws:apigateway/domainName:DomainName", {"domainName": "api.example.com", "endpointConfiguration": {"types": ["edge"]}}),
        ("aws:s3/bucketAccelerateConfiguration:BucketAccelerateConfiguration", {"bucket": "b", "status": "Enabled"}),
        ("aws:lightsail/distribution:Distribution", {"name": "d"}),
    ],
    ids=["classic-cdn", "cdn-endpoint", "front-door-classic", "static-web-app", "edge-optimized-rest-api", "edge-domain-lowercase", "s3-acceleration", "lightsail-cdn"],
)
def test_edges(audit: Auditor, type_token: str, inputs: dict[str, Any]) -> None:
    res = resource(type_token, "edge", {**inputs, "tags": tags()})
    assert_violation(audit(graph([res], {"aws:region": "eu-central-1", "azure-native:location": "westeurope"})), "no-global-edge", res["urn"])


def test_regional_api_gateway_passes(audit: Auditor) -> None:
    api = resource("aws:apigateway/restApi:RestApi", "api", {"name": "api", "endpointConfiguration": {"types": ["REGIONAL"]}, "tags": tags()})
    assert_no_violations(audit(graph([api])), "no-global-edge")


# ------------------------------------------------------------------ AWS replication paths


@pytest.mark.parametrize(
    ("type_token", "inputs", "prop"),
    [
        ("aws:kms/externalKey:ExternalKey", {"multiRegion": True}, "multiRegion"),
        ("aws:kms/key:Key", {"multiRegion": "true"}, "multiRegion"),
        ("aws:kms/key:Key", {"multiRegion": UNKNOWN}, "multiRegion"),
        ("aws:rds/cluster:Cluster", {"engine": "aurora-postgresql", "globalClusterIdentifier": "llm-global"}, "globalClusterIdentifier"),
        ("aws:dynamodb/globalTable:GlobalTable", {"name": "t", "replicas": [{"regionName": "eu-central-1"}, {"regionName": "us-east-1"}]}, "replicas[1].regionName"),
        ("aws:dynamodb/table:Table", {"name": "t", "globalTableWitness": {"regionName": "us-west-2"}}, "globalTableWitness.regionName"),
        ("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter", {"logGroup": "g", "filterPattern": "", "destinationArn": "arn:aws:logs:us-east-1:123456789012:destination:central"}, "destinationArn"),
        ("aws:cloudwatch/eventTarget:EventTarget", {"rule": "r", "arn": "arn:aws:events:us-west-2:123456789012:event-bus/central"}, "arn"),
        ("aws:sns/topicSubscription:TopicSubscription", {"topic": "t", "protocol": "sqs", "endpoint": "arn:aws:sqs:ap-south-1:123456789012:q"}, "endpoint"),
        ("aws:datasync/task:Task", {"sourceLocationArn": "arn:aws:datasync:eu-central-1:123456789012:location/loc-1", "destinationLocationArn": "arn:aws:datasync:us-east-1:123456789012:location/loc-2"}, "destinationLocationArn"),
        ("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", {"destination": "extended_s3", "extendedS3Configuration": {"bucketArn": "arn:aws:s3:::not-in-this-stack", "roleArn": "arn:aws:iam::123456789012:role/f"}}, "extendedS3Configuration.bucketArn"),
        ("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", {"destination": "http_endpoint", "httpEndpointConfiguration": {"url": "https://intake.example.com/v1"}}, "httpEndpointConfiguration.url"),
        ("aws:datasync/s3Location:S3Location", {"s3BucketArn": "arn:aws:s3:::somewhere-else", "subdirectory": "/"}, "s3BucketArn"),
    ],
    ids=["external-mrk", "mrk-string-true", "mrk-unknown", "aurora-global-member", "dynamodb-global-2017", "dynamodb-witness", "log-subscription", "event-target", "sns-to-sqs", "datasync-task", "firehose-foreign-bucket", "firehose-http", "datasync-s3"],
)
def test_aws_replication_paths(audit: Auditor, type_token: str, inputs: dict[str, Any], prop: str) -> None:
    res = resource(type_token, "x", {**inputs, "tags": tags()})
    assert_violation(audit(graph([res])), "no-replication-out-of-profile", res["urn"], prop)


def test_firehose_and_datasync_follow_the_stack_bucket(audit: Auditor) -> None:
    provider, ref = aws_provider("virginia", "us-east-1")
    far = resource("aws:s3/bucket:Bucket", "far", {"bucket": "far-bucket", "tags": tags()}, provider=ref)
    near = resource("aws:s3/bucket:Bucket", "near", {"bucket": "near-bucket", "tags": tags()})
    to_far = resource("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "f", {"destination": "extended_s3", "extendedS3Configuration": {"bucketArn": "arn:aws:s3:::far-bucket"}, "tags": tags()})
    to_near = resource("aws:datasync/s3Location:S3Location", "d", {"s3BucketArn": "arn:aws:s3:::near-bucket", "tags": tags()})
    result = audit(graph([provider, far, near, to_far, to_near]))
    assert_violation(result, "no-replication-out-of-profile", to_far["urn"], "extendedS3Configuration.bucketArn")
    assert not [v for v in violations(result, "no-replication-out-of-profile") if v.urn == to_near["urn"]]


def test_replica_external_key_in_another_region(audit: Auditor) -> None:
    key = resource("aws:kms/replicaExternalKey:ReplicaExternalKey", "r", {"primaryKeyArn": "arn:aws:kms:eu-central-1:123456789012:key/mrk-1", "region": "us-east-1", "tags": tags()})
    assert_violation(audit(graph([key])), "no-replication-out-of-profile", key["urn"])


# ------------------------------------------------------------------ unknown at preview


@pytest.mark.parametrize(
    ("type_token", "inputs", "prop"),
    [
        ("aws:ecs/taskDefinition:TaskDefinition", {"family": "app", "containerDefinitions": UNKNOWN}, "containerDefinitions"),
        ("aws:iam/rolePolicy:RolePolicy", {"role": "r", "policy": UNKNOWN}, "policy"),
        ("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "gw"}, "data": {"config.yaml": UNKNOWN}}, "data.config.yaml"),
        ("azure-native:cosmosdb:DatabaseAccount", {"location": "swedencentral", "locations": UNKNOWN}, "locations"),
        ("aws:secretsmanager/secret:Secret", {"replicas": [UNKNOWN]}, "replicas[0]"),
    ],
    ids=["ecs-containers", "iam-document", "gateway-configmap", "cosmos-locations", "secret-replicas"],
)
def test_unknown_deciding_inputs_fail_closed(audit: Auditor, type_token: str, inputs: dict[str, Any], prop: str) -> None:
    res = resource(type_token, "x", {**inputs, "tags": tags()})
    v = assert_violation(audit(graph([res], {"aws:region": "eu-central-1", "azure-native:location": "swedencentral"})), "residency-inputs-known", res["urn"], prop)
    assert "cannot be verified" in v.problem


# ------------------------------------------------------------------ tags


def test_autoscaling_groups_do_not_inherit_provider_default_tags(audit: Auditor) -> None:
    provider, ref = aws_provider("aws", "eu-central-1", tags())
    asg = resource("aws:autoscaling/group:Group", "asg", {"maxSize": 2, "minSize": 0}, provider=ref)
    bucket = resource("aws:s3/bucket:Bucket", "b", {}, provider=ref)
    result = audit(graph([provider, asg, bucket]))
    assert_violation(result, "required-tags", asg["urn"], "tags")
    assert not [v for v in violations(result, "required-tags") if v.urn == bucket["urn"]]


def test_no_default_tags_data_matches_the_sdk() -> None:
    import importlib.util
    import re
    from pathlib import Path

    from policies.llm_guard.rules.tags import no_default_tag_types, taggable_types

    spec = importlib.util.find_spec("pulumi_aws")
    assert spec is not None and spec.origin is not None
    token = re.compile(r"super\(\w+, __self__\)\.__init__\(\s*'([a-z0-9-]+:[^']+)'")
    found = set()
    for path in Path(spec.origin).parent.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.name.startswith("_") or "pulumi.CustomResource" not in text:
            continue
        found.update(t for t in token.findall(text) if t in taggable_types() and "def tags_all(self)" not in text)
    assert found == no_default_tag_types()


def test_azure_tag_keys_are_case_insensitive(audit: Auditor) -> None:
    mixed = {"Cost-Center": "ai-platform", "OWNER": "team@example.com", "Phase": "beta", "Data-Residency": "eu"}
    rg = resource("azure-native:resources:ResourceGroup", "rg", {"resourceGroupName": "rg", "location": "swedencentral", "tags": mixed})
    assert_no_violations(audit(graph([rg], {"azure-native:location": "swedencentral"})), "required-tags")
    wrong = resource("azure-native:resources:ResourceGroup", "rg", {"resourceGroupName": "rg", "location": "swedencentral", "tags": {**mixed, "Data-Residency": "us"}})
    assert_violation(audit(graph([wrong], {"azure-native:location": "swedencentral"})), "required-tags", wrong["urn"], "tags.data-residency")
    # AWS tag keys stay case-sensitive.
    aws_mixed = resource("aws:s3/bucket:Bucket", "b", {"tags": mixed})
    assert_violation(audit(graph([aws_mixed])), "required-tags", aws_mixed["urn"], "tags")


# ------------------------------------------------------------------ profiles and providers


def test_custom_profile_may_not_shadow_a_builtin(audit: Auditor) -> None:
    bucket = resource("aws:s3/bucket:Bucket", "b", {"tags": tags("cn")})
    loose_cn = {"cn": {"awsRegions": ["eu-central-1"], "azureRegions": [], "allowGlobalProcessing": True}}
    v = assert_violation(audit(graph([bucket]), "cn", loose_cn), "residency-profile-configured", "")
    assert "shadow" in v.problem
    other = {"eu": {"awsRegions": ["us-east-1"], "azureRegions": []}, "mine": {"awsRegions": ["eu-central-1"], "azureRegions": []}}
    assert_violation(audit(graph([bucket]), "mine", other), "residency-profile-configured", "")
    assert resolve_profile("eu", {"eu": BUILTIN_PROFILES["us"]}) is BUILTIN_PROFILES["eu"]


def test_unknown_provider_reference_fails_closed() -> None:
    # A pack started with the stack's config, as the CLI starts it, so aws:region is there to fall back on.
    from scripts.audit import analyze

    ghost = "urn:pulumi:test::llm-platform::pulumi:providers:aws::virginia::0f0e0d0c-0000-4000-8000-000000000009"
    res = resource("aws:s3/bucket:Bucket", "b", {"tags": tags()}, provider=ghost)
    key = resource("aws:kms/key:Key", "k", {"tags": tags(), "region": "eu-west-1"}, provider=ghost)
    fine = resource("aws:s3/bucket:Bucket", "fine", {"tags": tags()})
    result = analyze(graph([res, key, fine]), "eu", {})
    v = assert_violation(result, "residency-region", res["urn"])
    assert "provider reference" in v.problem
    assert not [v for v in violations(result, "residency-region") if v.urn in (key["urn"], fine["urn"])]


# ------------------------------------------------------------------ every plan of the matrix stays compliant


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_matrix_plans_pass_the_audit(audit: Auditor, case_id: str) -> None:
    result = audit_real(audit, real(case_id))
    assert not result.mandatory, [(v.rule, v.urn, v.property, v.problem) for v in result.mandatory]


def test_type_tokens_in_the_pack_tables_exist_in_the_pinned_sdks() -> None:
    """A misspelt token (say azure-native:network:FrontDoor, which v3 calls frontdoor:FrontDoor)
    silently matches nothing: every token a residency table names must be a real resource type."""
    import importlib.util
    import re
    from pathlib import Path

    from policies.llm_guard import gateway, location, regions
    from policies.llm_guard.rules import iam, preview, replication, residency

    tables = [
        regions.AZURE_GLOBAL_TYPES,
        location._AZURE_LOCATIONLESS_TYPES,
        residency._EDGE_TYPES,
        iam._DOCUMENTS,
        iam._ATTACHMENTS,
        preview.DECIDING_INPUTS,
        replication._S3_DESTINATIONS,
        replication._EXTERNAL_ENDPOINTS,
        gateway.POD_SPEC_PATHS,
    ]
    named = {t for table in tables for t in table}
    known: set[str] = set()
    for package in ("pulumi_aws", "pulumi_azure_native", "pulumi_kubernetes"):
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.origin is not None
        for path in Path(spec.origin).parent.rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if "__init__(" in text:
                known.update(re.findall(r"super\(\w+, __self__\)\.__init__\(\s*'([a-z0-9-]+:[^']+)'", text))
    assert not sorted(named - known)


def test_gateway_resolution_ignores_the_auditors_own_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """LiteLLM reads provider API roots from the environment: the workload's counts, the pack's never."""
    from policies.llm_guard.gateway import Environment, routes

    monkeypatch.setenv("GROQ_API_BASE", "http://groq-proxy.llm-gateway.svc/v1")
    config = {"model_list": [{"model_name": "m", "litellm_params": {"model": "groq/llama3-70b-8192"}}]}
    (route_,) = routes(config, Environment(where="container 'gw'"), "data.config.yaml")
    assert route_.destination is not None and route_.destination.value == "api.groq.com"
    (route_,) = routes(config, Environment({"GROQ_API_BASE": "http://groq-proxy.llm-gateway.svc/v1"}, "container 'gw'"), "data.config.yaml")
    assert route_.destination is not None and route_.destination.value == "groq-proxy.llm-gateway.svc"


def test_gateway_foreign_host_in_one_member_of_an_equivalent_level(audit: Auditor) -> None:
    """`a | b` levels (strategy cheapest): each member is its own model_list entry, so a member
    pointed abroad is caught although its sibling and its route's other levels stay at home."""
    g = real("scale-aws")
    config = gateway_config(g)[1]
    members = [e["litellm_params"] for e in config["model_list"] if e["model_name"] == "reasoning" and str(e["litellm_params"]["model"]).startswith("mistral/")]
    assert len(members) == 2 and len({m.get("order") for m in members}) == 1  # one level of two
    set_gateway_config(
        g, lambda c: next(e for e in c["model_list"] if e["litellm_params"]["model"] == "mistral/mistral-medium-latest")["litellm_params"].update(api_base="https://api.example.com/v1")
    )
    gateway_violation(audit, g, "api.example.com")
