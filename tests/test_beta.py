"""Beta plans: private endpoints, customer-managed keys, IAM scoped to named ARNs in profile regions,
routes chosen by the residency profile, and promotion from PoC that keeps every stateful resource."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from policies.llm_guard.location import is_unknown
from policies.llm_guard.profiles import BUILTIN_PROFILES
from policies.llm_guard.routing import parse_bedrock_reference
from scripts.engine import Plan
from tests.conftest import resources_of, run_cli
from tests.sdk_schema import check_inputs, taggable

US_BETA = {"aws:region": "us-east-1", "llm-platform:residency": "us", "llm-platform:poc": {"apiProviders": ["openai"]}, "llm-platform:mistralApiKey": "DELETE", "llm-platform:openaiEuApiKey": "DELETE", "llm-platform:openaiApiKey": {"secure": "v1:x"}}
STRICT_BETA = {
    "llm-platform:residency": "eu-strict",
    "llm-platform:beta": {"bedrock": {"models": [{"name": "chat", "model": "anthropic.claude-3-haiku-20240307-v1:0"}, {"name": "embed", "model": "amazon.titan-embed-text-v2:0"}]}, "vectorStore": {"engine": "aurora-pgvector"}},
}


def _resolve(value: Any, delete: object) -> Any:
    if value == "DELETE":
        return delete
    if isinstance(value, dict):
        return {k: _resolve(v, delete) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def us_plan(make_variant: Callable[..., Path], plan_of: Callable[..., Plan], DELETE: object) -> Plan:
    return plan_of(make_variant("beta-aws", "beta-us", _resolve(US_BETA, DELETE)))


@pytest.fixture(scope="module")
def strict_plan(make_variant: Callable[..., Path], plan_of: Callable[..., Plan]) -> Plan:
    return plan_of(make_variant("beta-aws", "beta-strict", STRICT_BETA))


def _policies(plan: Plan) -> list[dict[str, Any]]:
    """Role policies known at preview (the application-profile one names ARNs created later)."""
    known = [r for r in resources_of(plan, "aws:iam/rolePolicy:RolePolicy") if not is_unknown(r.inputs["policy"])]
    models = [r for r in known if r.name.endswith("bedrock-models")]
    assert len(models) == 1, "the Bedrock models policy must be known at preview so the pack can audit it"
    return [json.loads(r.inputs["policy"]) for r in known]


def _bedrock_arns(plan: Plan) -> list[str]:
    arns = []
    for document in _policies(plan):
        for statement in document["Statement"]:
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            arns.extend(r for r in resources if r.startswith("arn:aws:bedrock:"))
    return arns


# ------------------------------------------------------------------------------ the examples


@pytest.mark.parametrize("stack", ["beta-aws", "beta-azure"])
def test_beta_examples_plan_cleanly_and_pass_the_audit(stack: str, plan_of: Callable[..., Plan]) -> None:
    plan = plan_of(stack)
    problems = [p for r in plan.resources if r.custom for p in check_inputs(r.type, r.inputs)]
    assert problems == []
    for r in plan.resources:
        assert r.location.get("status") != "unknown", r.urn
        if r.custom and taggable(r.type):
            assert (r.inputs.get("tags") or {}).get("data-residency") == "eu", r.urn
    result = run_cli("audit", stack, "--json")
    assert result.returncode == 0, result.stdout[-3000:]
    assert json.loads(result.stdout)["summary"]["violations"] == 0


# ------------------------------------------------------------------------------ AWS


def test_aws_beta_is_private(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("beta-aws")
    lb = resources_of(plan, "aws:lb/loadBalancer:LoadBalancer")[0]
    assert lb.inputs["internal"] is True
    services = {r.inputs["serviceName"].rsplit(".", 1)[-1] if "ecr" not in r.inputs["serviceName"] else r.inputs["serviceName"].split(".", 3)[-1] for r in resources_of(plan, "aws:ec2/vpcEndpoint:VpcEndpoint")}
    assert {"bedrock-runtime", "bedrock-agent-runtime", "secretsmanager", "logs", "ecr.api", "ecr.dkr", "s3"} <= services
    for endpoint in resources_of(plan, "aws:ec2/vpcEndpoint:VpcEndpoint"):
        if endpoint.inputs["vpcEndpointType"] == "Interface":
            assert endpoint.inputs["privateDnsEnabled"] is True
    network = next(r for r in resources_of(plan, "aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy") if r.inputs["type"] == "network")
    rules = json.loads(network.inputs["policy"])
    assert rules[0]["AllowFromPublic"] is False and rules[0]["SourceVPCEs"]


def test_aws_beta_data_stores_use_the_platform_key(plan_of: Callable[..., Plan], strict_plan: Plan) -> None:
    plan = plan_of("beta-aws")
    key_arn = plan.outputs["kmsKeyArn"]
    encryption = next(r for r in resources_of(plan, "aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy") if r.inputs["type"] == "encryption")
    assert json.loads(encryption.inputs["policy"]) == {"Rules": [{"ResourceType": "collection", "Resource": ["collection/llm-beta-aws-vectors"]}], "AWSOwnedKey": False, "KmsARN": key_arn}
    collection = resources_of(plan, "aws:opensearch/serverlessCollection:ServerlessCollection")[0]
    assert collection.protect and collection.inputs["type"] == "VECTORSEARCH"
    guardrail = resources_of(plan, "aws:bedrock/guardrail:Guardrail")[0]
    assert guardrail.inputs["kmsKeyArn"] == key_arn
    topic = resources_of(plan, "aws:sns/topic:Topic")[0]
    assert topic.inputs["kmsMasterKeyId"] == key_arn
    buckets = resources_of(plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert len(buckets) == 2 and all(b.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == key_arn for b in buckets)
    aurora = resources_of(strict_plan, "aws:rds/cluster:Cluster")[0]
    assert aurora.inputs["storageEncrypted"] is True and aurora.inputs["kmsKeyId"] == strict_plan.outputs["kmsKeyArn"]
    assert aurora.inputs["deletionProtection"] is True and aurora.protect and aurora.inputs["backupRetentionPeriod"] >= 1


def test_invocation_logging_stays_in_the_region(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("beta-aws")
    logging = resources_of(plan, "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration")[0]
    assert logging.location["region"] == "eu-central-1"
    config = logging.inputs["loggingConfig"]
    assert config["textDataDeliveryEnabled"] is True
    assert config["cloudwatchConfig"]["logGroupName"] == "/llm-platform/beta-aws/bedrock-invocations"


def test_bedrock_grants_name_every_arn_in_profile_regions(plan_of: Callable[..., Plan], us_plan: Plan, strict_plan: Plan) -> None:
    for plan in (plan_of("beta-aws"), us_plan, strict_plan):
        profile = BUILTIN_PROFILES[str(plan.config["llm-platform:residency"])]
        arns = _bedrock_arns(plan)
        assert arns
        for arn in arns:
            ref = parse_bedrock_reference(arn)
            assert ref is not None and not ref.region_wildcard, arn
            assert profile.allows_processing_in(frozenset({ref.region})), arn
            if ref.prefix:
                assert profile.allows_processing_in(ref.destinations()), arn
        for document in _policies(plan):
            for statement in document["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert all(a != "*" and not a.endswith(":*") for a in actions)


def test_inference_profile_prefix_follows_the_profile(plan_of: Callable[..., Plan], us_plan: Plan, strict_plan: Plan) -> None:
    assert plan_of("beta-aws").outputs["bedrockModels"]["chat"] == "eu.anthropic.claude-sonnet-4-6"
    assert us_plan.outputs["bedrockModels"]["chat"] == "us.anthropic.claude-sonnet-4-6"
    assert strict_plan.outputs["bedrockModels"] == {"chat": "anthropic.claude-3-haiku-20240307-v1:0", "embed": "amazon.titan-embed-text-v2:0"}
    for plan, expected in ((plan_of("beta-aws"), "eu-central-1:123456789012:inference-profile/eu."), (us_plan, "us-east-1:123456789012:inference-profile/us.")):
        profiles = {r.inputs["name"].rsplit("-", 1)[-1]: r.inputs["modelSource"]["copyFrom"] for r in resources_of(plan, "aws:bedrock/inferenceProfile:InferenceProfile")}
        assert expected in profiles["chat"]
        assert profiles["embed"].endswith("::foundation-model/amazon.titan-embed-text-v2:0")
    strict_sources = [r.inputs["modelSource"]["copyFrom"] for r in resources_of(strict_plan, "aws:bedrock/inferenceProfile:InferenceProfile")]
    assert all(":foundation-model/" in s and ":eu-central-1:" in s for s in strict_sources)


def test_application_profiles_are_tagged_and_alarms_exist(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("beta-aws")
    for profile in resources_of(plan, "aws:bedrock/inferenceProfile:InferenceProfile"):
        assert profile.inputs["tags"]["cost-center"] == "ai-platform" and profile.inputs["tags"]["model"]
    metrics = {r.inputs["metricName"] for r in resources_of(plan, "aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert metrics == {"InvocationServerErrors", "InvocationThrottles", "InvocationLatency"}
    assert len(resources_of(plan, "aws:cloudwatch/metricAlarm:MetricAlarm")) == 6
    assert {s.inputs["endpoint"] for s in resources_of(plan, "aws:sns/topicSubscription:TopicSubscription")} == {"finops@example.com", "platform-team@example.com"}


def test_app_is_pointed_at_bedrock_and_the_vector_store(plan_of: Callable[..., Plan], strict_plan: Plan) -> None:
    containers = {c["name"]: c for t in resources_of(plan_of("beta-aws"), "aws:ecs/taskDefinition:TaskDefinition") for c in json.loads(t.inputs["containerDefinitions"])}
    env = {e["name"]: e["value"] for e in containers["api"]["environment"]}
    assert env["VECTOR_STORE"] == "opensearch" and env["OPENSEARCH_AUTH_METHOD"] == "aws_managed_iam" and env["AWS_REGION"] == "eu-central-1"
    strict = {c["name"]: c for t in resources_of(strict_plan, "aws:ecs/taskDefinition:TaskDefinition") for c in json.loads(t.inputs["containerDefinitions"])}
    secrets = {s["name"]: s["valueFrom"] for s in strict["api"]["secrets"]}
    assert "/app/vector-database" in secrets["PGVECTOR_HOST"] and secrets["PGVECTOR_HOST"].endswith(":host::")
    data_access = next(iter(resources_of(plan_of("beta-aws"), "aws:opensearch/serverlessAccessPolicy:ServerlessAccessPolicy")))
    principals = json.loads(data_access.inputs["policy"])[0]["Principal"]
    task_roles = [r for r in resources_of(plan_of("beta-aws"), "aws:iam/role:Role") if r.name == "app-task"]
    assert principals == [f"arn:aws:iam::123456789012:role/{task_roles[0].inputs['name']}"]


# ------------------------------------------------------------------------------ Azure


def test_azure_beta_is_private_and_keyless(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("beta-azure")
    account = resources_of(plan, "azure-native:cognitiveservices:Account")[0]
    props = account.inputs["properties"]
    assert props["disableLocalAuth"] is True and props["publicNetworkAccess"] == "Disabled"
    assert props["restrictOutboundNetworkAccess"] is True and props["customSubDomainName"] == account.inputs["accountName"]
    # Customer-managed key: system identity now, encryption on the second deploy (test_contracts_azure).
    assert account.inputs["identity"] == {"type": "SystemAssigned"} and "encryption" not in props
    assert account.protect
    endpoint = next(r for r in resources_of(plan, "azure-native:network:PrivateEndpoint") if r.inputs["privateLinkServiceConnections"][0]["groupIds"] == ["account"])
    deployments = {r.inputs["deploymentName"]: r for r in resources_of(plan, "azure-native:cognitiveservices:Deployment")}
    # Deployments one at a time in config order, the private endpoint after the last of them.
    assert deployments["chat"].urn in deployments["embeddings"].dependencies
    assert deployments["embeddings"].urn in endpoint.dependencies
    env = resources_of(plan, "azure-native:app:ManagedEnvironment")[0]
    assert env.inputs["vnetConfiguration"]["internal"] is True
    vector = [s for s in resources_of(plan, "azure-native:dbforpostgresql:Server")]
    assert len(vector) == 2 and all(s.inputs["network"]["publicNetworkAccess"] == "Disabled" and s.inputs["dataEncryption"]["type"] == "AzureKeyVault" for s in vector)
    # Geo-redundant backup of a CMK server needs a vault in the paired region: refused, so off.
    assert {s.inputs["backup"]["geoRedundantBackup"] for s in vector} == {"Disabled"}


def test_azure_skus_follow_the_profile(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("beta-azure")
    skus = {r.inputs["deploymentName"]: r.inputs["sku"]["name"] for r in resources_of(plan, "azure-native:cognitiveservices:Deployment")}
    # gpt-5.1 in the EU data zone; text-embedding-3-large has no EU Data Zone deployments.
    assert skus == {"chat": "DataZoneStandard", "embeddings": "Standard"}
    for deployment in resources_of(plan, "azure-native:cognitiveservices:Deployment"):
        assert deployment.inputs["properties"]["model"]["version"] and deployment.inputs["properties"]["versionUpgradeOption"] == "NoAutoUpgrade"


def test_azure_roles_are_scoped_to_what_the_app_calls(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("beta-azure")
    for assignment in resources_of(plan, "azure-native:authorization:RoleAssignment"):
        scope = assignment.inputs["scope"]
        assert "/providers/" in scope, f"{assignment.urn} is scoped to a whole subscription or resource group"
    openai_role = next(r for r in resources_of(plan, "azure-native:authorization:RoleAssignment") if r.name == "gateway-app-calls-openai")
    assert openai_role.inputs["scope"].endswith("/providers/Microsoft.Cognitiveservices/accounts/" + resources_of(plan, "azure-native:cognitiveservices:Account")[0].inputs["accountName"])
    # Only the gateway's own identity may call the models; the app's identity may not.
    assert [d.rsplit("::", 1)[-1] for d in openai_role.dependencies if "UserAssignedIdentity" in d] == ["gateway-identity"]


def test_gateway_uses_managed_identity_and_no_key_for_azure_openai(plan_of: Callable[..., Plan]) -> None:
    import yaml

    plan = plan_of("beta-azure")
    gateway = next(a for a in resources_of(plan, "azure-native:app:ContainerApp") if a.inputs["containerAppName"].endswith("-gateway"))
    assert gateway.inputs["configuration"]["ingress"]["external"] is False
    container = gateway.inputs["template"]["containers"][0]
    env = {e["name"]: e.get("value") or e.get("secretRef") for e in container["env"]}
    config = yaml.safe_load(env["LITELLM_CONFIG"])
    assert config["litellm_settings"]["enable_azure_ad_token_refresh"] is True
    assert {m["model_name"] for m in config["model_list"]} == {"chat", "embeddings"}
    assert all("api_key" not in m["litellm_params"] and m["litellm_params"]["api_base"].endswith(".openai.azure.com") for m in config["model_list"])
    assert env["LITELLM_MASTER_KEY"] == "gateway-master-key" and env["AZURE_CLIENT_ID"]


# ------------------------------------------------------------------------------ promotion


STATEFUL = {
    # A key policy change is an in-place update (PutKeyPolicy); these replace the key.
    "aws:kms/key:Key": ("multiRegion", "keyUsage", "customerMasterKeySpec"),
    "aws:secretsmanager/secret:Secret": ("name", "kmsKeyId"),
    "aws:rds/instance:Instance": ("identifier", "engine", "kmsKeyId", "storageEncrypted", "dbName", "username"),
    "aws:s3/bucket:Bucket": (),
    "random:index/randomPassword:RandomPassword": ("length", "special"),
    "azure-native:resources:ResourceGroup": ("resourceGroupName", "location"),
    "azure-native:keyvault:Vault": ("location",),
    "azure-native:keyvault:Key": ("keyName",),
    "azure-native:keyvault:Secret": ("secretName",),
    "azure-native:dbforpostgresql:Server": ("location", "version", "administratorLogin"),
    "azure-native:storage:StorageAccount": ("location", "kind"),
}


@pytest.mark.parametrize(("poc", "beta"), [("poc-aws", "beta-aws"), ("poc-azure", "beta-azure")])
def test_promotion_keeps_every_stateful_resource(poc: str, beta: str, plan_of: Callable[..., Plan]) -> None:
    before = plan_of(poc, "promoted")
    after = plan_of(beta, "promoted")
    after_by_urn = {r.urn: r for r in after.resources}
    kept = 0
    for res in before.resources:
        if res.type not in STATEFUL:
            continue
        assert res.urn in after_by_urn, f"promotion would delete and recreate {res.urn}"
        twin = after_by_urn[res.urn]
        for key in STATEFUL[res.type]:
            assert res.inputs.get(key) == twin.inputs.get(key), f"{res.urn}.{key} changes on promotion"
        assert twin.protect == res.protect
        kept += 1
    assert kept >= 8
