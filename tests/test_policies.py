"""Every rule, with a compliant and a violating graph, through the pack running as a process."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from policies.llm_guard.location import UNKNOWN
from scripts.audit import PolicyPackProcess
from tests.policy_harness import (
    Auditor,
    assert_no_violations,
    assert_violation,
    aws_provider,
    budget,
    graph,
    resource,
    tags,
    urn,
    violations,
)


@pytest.fixture(scope="module")
def audit() -> Iterator[Auditor]:
    with PolicyPackProcess({}, "llm-platform", "test") as pack:
        yield Auditor(pack)


def bucket(name: str = "data", **inputs: object) -> dict:
    return resource("aws:s3/bucket:Bucket", name, {"tags": tags(), **inputs})


# ------------------------------------------------------------------ the pack itself


def test_pack_describes_every_rule(audit: Auditor) -> None:
    result = audit(graph([bucket()]))
    names = {r["name"] for r in result.rules}
    assert names == {
        "aws-tag-limits",
        "azure-openai-deployment-type",
        "bedrock-cross-region-routing",
        "bedrock-iam-scope",
        "bedrock-not-in-profile",
        "budget-configured",
        "endpoint-region",
        "gateway-routes",
        "gpu-pool-max-size",
        "llm-api-upstreams",
        "no-global-edge",
        "no-replication-out-of-profile",
        "required-tags",
        "residency-inputs-known",
        "residency-profile-configured",
        "residency-region",
        "sources-in-country",
    }
    assert all(r["enforcement"] == "mandatory" for r in result.rules)
    assert_no_violations(result)


# ------------------------------------------------------------------ residency-region


def test_region_default_provider_in_profile(audit: Auditor) -> None:
    assert_no_violations(audit(graph([bucket()])), "residency-region")


def test_region_input_outside_profile(audit: Auditor) -> None:
    result = audit(graph([bucket("us", region="us-east-1")]))
    v = assert_violation(result, "residency-region", urn("aws:s3/bucket:Bucket", "us"), "region")
    assert "us-east-1" in v.value and "eu-central-1" in v.fix


def test_region_from_explicit_provider(audit: Auditor) -> None:
    provider, ref = aws_provider("virginia", "us-east-1")
    res = resource("aws:kms/key:Key", "key", {"tags": tags()}, provider=ref)
    assert_violation(audit(graph([provider, res])), "residency-region", res["urn"], "provider.region")
    provider, ref = aws_provider("frankfurt", "eu-central-1")
    assert_no_violations(audit(graph([provider, resource("aws:kms/key:Key", "key", {"tags": tags()}, provider=ref)])), "residency-region")


def test_region_from_stack_config(audit: Auditor) -> None:
    result = audit(graph([bucket()], {"aws:region": "eu-west-2"}))
    v = assert_violation(result, "residency-region", urn("aws:s3/bucket:Bucket", "data"), "aws:region")
    assert "eu-west-2" in v.value


def test_unknown_region_fails_closed_except_under_global(audit: Auditor) -> None:
    g = graph([bucket("later", region=UNKNOWN)])
    v = assert_violation(audit(g), "residency-region", urn("aws:s3/bucket:Bucket", "later"))
    assert "unknown" in v.value
    global_tags = [dict(r, inputs={**r["inputs"], "tags": tags("global")}) for r in g["resources"]]
    assert_no_violations(audit(graph(global_tags), "global"), "residency-region")


def test_global_services_are_exempt_and_reported(audit: Auditor) -> None:
    role = resource("aws:iam/role:Role", "role", {"tags": tags(), "assumeRolePolicy": "{}"})
    result = audit(graph([role], {"aws:region": "us-east-1"}))
    assert not [v for v in violations(result, "residency-region") if v.urn == role["urn"]]
    assert any(e["urn"] == role["urn"] for e in result.exempt)


def test_china_profile_needs_the_china_partition(audit: Auditor) -> None:
    result = audit(graph([bucket()], {"aws:region": "eu-central-1"}), "cn")
    v = assert_violation(result, "residency-region", urn("aws:s3/bucket:Bucket", "data"))
    assert "aws-cn" in v.problem
    ok = graph([dict(bucket(), inputs={"tags": tags("cn")})], {"aws:region": "cn-north-1"})
    assert_no_violations(audit(ok, "cn"), "residency-region")


def test_azure_location_normalised_and_inherited(audit: Auditor) -> None:
    config = {"azure-native:location": "westeurope"}
    rg = resource("azure-native:resources:ResourceGroup", "rg", {"resourceGroupName": "rg", "location": "West Europe", "tags": tags()})
    account = resource("azure-native:cognitiveservices:Account", "oai", {"accountName": "oai", "resourceGroupName": "rg", "location": "East US", "tags": tags()})
    deployment = resource("azure-native:cognitiveservices:Deployment", "gpt", {"accountName": "oai", "deploymentName": "gpt", "resourceGroupName": "rg", "sku": {"name": "Standard"}})
    result = audit(graph([rg, account, deployment], config))
    assert not [v for v in violations(result, "residency-region") if v.urn == rg["urn"]]
    assert_violation(result, "residency-region", account["urn"], "location")
    assert_violation(result, "residency-region", deployment["urn"])


def test_azure_china_cloud_region_under_eu(audit: Auditor) -> None:
    rg = resource("azure-native:resources:ResourceGroup", "rg", {"resourceGroupName": "rg", "location": "chinanorth3", "tags": tags()})
    v = assert_violation(audit(graph([rg])), "residency-region", rg["urn"])
    assert "china" in v.problem


# ------------------------------------------------------------------ edges


def test_global_edges(audit: Auditor) -> None:
    cdn = resource("aws:cloudfront/distribution:Distribution", "cdn", {"tags": tags()})
    assert_violation(audit(graph([cdn])), "no-global-edge", cdn["urn"])
    assert_no_violations(audit(graph([dict(cdn, inputs={"tags": tags("global")})]), "global"), "no-global-edge")
    afd = resource("azure-native:cdn:Profile", "afd", {"location": "global", "sku": {"name": "Premium_AzureFrontDoor"}, "tags": tags()})
    assert_violation(audit(graph([afd])), "no-global-edge", afd["urn"])


# ------------------------------------------------------------------ Bedrock


def inference_profile(name: str, copy_from: str) -> dict:
    return resource("aws:bedrock/inferenceProfile:InferenceProfile", name, {"name": name, "modelSource": {"copyFrom": copy_from}, "tags": tags()})


EU_PROFILE_ARN = "arn:aws:bedrock:eu-central-1:123456789012:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0"


def test_bedrock_eu_profile_under_eu_and_eu_strict(audit: Auditor) -> None:
    res = inference_profile("claude", EU_PROFILE_ARN)
    assert_no_violations(audit(graph([res])), "bedrock-cross-region-routing")
    strict = audit(graph([dict(res, inputs={**res["inputs"], "tags": tags("eu-strict")})]), "eu-strict")
    v = assert_violation(strict, "bedrock-cross-region-routing", res["urn"], "modelSource.copyFrom")
    assert "eu-west-2" in v.problem


def test_bedrock_us_and_global_prefixes_under_eu(audit: Auditor) -> None:
    us = inference_profile("us", "us.anthropic.claude-3-5-haiku-20241022-v1:0")
    glob = inference_profile("glob", "global.anthropic.claude-sonnet-4-5-20250929-v1:0")
    result = audit(graph([us, glob]))
    assert_violation(result, "bedrock-cross-region-routing", us["urn"])
    v = assert_violation(result, "bedrock-cross-region-routing", glob["urn"])
    assert "any commercial region" in v.problem
    allowed = [dict(r, inputs={**r["inputs"], "tags": tags("global")}) for r in (us, glob)]
    assert_no_violations(audit(graph(allowed), "global"), "bedrock-cross-region-routing")


def test_bedrock_unknown_prefix_fails_closed(audit: Auditor) -> None:
    res = inference_profile("odd", "zz.anthropic.claude-3-5-haiku-20241022-v1:0")
    v = assert_violation(audit(graph([res])), "bedrock-cross-region-routing", res["urn"])
    assert "unknown cross-region prefix" in v.problem


def test_bedrock_region_wildcard_in_iam_policy(audit: Auditor) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["bedrock:InvokeModel"], "Resource": ["arn:aws:bedrock:*::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"]}],
    }
    bad = resource("aws:iam/rolePolicy:RolePolicy", "invoke", {"role": "app", "policy": json.dumps(policy)})
    v = assert_violation(audit(graph([bad])), "bedrock-cross-region-routing", bad["urn"], "policy.Statement[0].Resource[0]")
    assert "wildcard" in v.problem
    policy["Statement"][0]["Resource"] = ["arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"]
    good = resource("aws:iam/rolePolicy:RolePolicy", "invoke", {"role": "app", "policy": json.dumps(policy)})
    assert_no_violations(audit(graph([good])), "bedrock-cross-region-routing")


def test_bedrock_model_arn_in_foreign_region(audit: Auditor) -> None:
    policy = {"Statement": [{"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "arn:aws:bedrock:us-west-2::foundation-model/meta.llama3-1-70b-instruct-v1:0"}]}
    res = resource("aws:iam/policy:Policy", "p", {"policy": json.dumps(policy), "tags": tags()})
    v = assert_violation(audit(graph([res])), "bedrock-cross-region-routing", res["urn"])
    assert "us-west-2" in v.problem


def test_bedrock_guardrail_cross_region_config(audit: Auditor) -> None:
    guardrail = resource("aws:bedrock/guardrail:Guardrail", "g", {"name": "g", "crossRegionConfig": {"guardrailProfileIdentifier": "us.guardrail.v1:0"}, "tags": tags()})
    assert_violation(audit(graph([guardrail])), "bedrock-cross-region-routing", guardrail["urn"], "crossRegionConfig.guardrailProfileIdentifier")
    eu = resource("aws:bedrock/guardrail:Guardrail", "g", {"name": "g", "crossRegionConfig": {"guardrailProfileIdentifier": "eu.guardrail.v1:0"}, "tags": tags()})
    assert_no_violations(audit(graph([eu])), "bedrock-cross-region-routing")


def test_bedrock_model_id_in_app_settings(audit: Auditor) -> None:
    containers = [{"name": "api", "environment": [{"name": "BEDROCK_MODEL", "value": "us.amazon.nova-pro-v1:0"}]}]
    task = resource("aws:ecs/taskDefinition:TaskDefinition", "api", {"family": "api", "containerDefinitions": json.dumps(containers), "tags": tags()})
    v = assert_violation(audit(graph([task])), "bedrock-cross-region-routing", task["urn"])
    assert v.property == "containerDefinitions[0].environment[0].value"


def test_bedrock_forbidden_under_cn(audit: Auditor) -> None:
    g = resource("aws:bedrock/guardrail:Guardrail", "g", {"name": "g", "tags": tags("cn")})
    containers = [{"name": "api", "environment": [{"name": "MODEL", "value": "anthropic.claude-3-haiku-20240307-v1:0"}]}]
    task = resource("aws:ecs/taskDefinition:TaskDefinition", "api", {"family": "api", "containerDefinitions": json.dumps(containers), "tags": tags("cn")})
    result = audit(graph([g, task], {"aws:region": "cn-north-1"}), "cn")
    assert_violation(result, "bedrock-not-in-profile", g["urn"], "type")
    assert_violation(result, "bedrock-not-in-profile", task["urn"])
    assert_no_violations(audit(graph([task])), "bedrock-not-in-profile")


# ------------------------------------------------------------------ Azure OpenAI


def azure_openai(location: str, *deployments: tuple[str, str, str | None]) -> list[dict]:
    items = [
        resource("azure-native:resources:ResourceGroup", "rg", {"resourceGroupName": "rg", "location": location, "tags": tags()}),
        resource("azure-native:cognitiveservices:Account", "oai", {"accountName": "oai", "resourceGroupName": "rg", "location": location, "kind": "OpenAI", "tags": tags()}),
    ]
    for name, sku, spill in deployments:
        props = {"model": {"format": "OpenAI", "name": "gpt-4o", "version": "2024-11-20"}}
        if spill:
            props["spilloverDeploymentName"] = spill
        items.append(resource("azure-native:cognitiveservices:Deployment", name, {"accountName": "oai", "deploymentName": name, "resourceGroupName": "rg", "sku": {"name": sku, "capacity": 10}, "properties": props}))
    return items


def test_azure_openai_standard_and_datazone_in_eu(audit: Auditor) -> None:
    g = graph(azure_openai("swedencentral", ("a", "Standard", None), ("b", "DataZoneStandard", None)), {"azure-native:location": "swedencentral"})
    assert_no_violations(audit(g), "azure-openai-deployment-type")


def test_azure_openai_global_and_developer_tier(audit: Auditor) -> None:
    g = graph(azure_openai("swedencentral", ("glob", "GlobalStandard", None), ("dev", "DeveloperTier", None)), {"azure-native:location": "swedencentral"})
    result = audit(g)
    assert_violation(result, "azure-openai-deployment-type", urn("azure-native:cognitiveservices:Deployment", "glob"), "sku.name")
    assert_violation(result, "azure-openai-deployment-type", urn("azure-native:cognitiveservices:Deployment", "dev"), "sku.name")


def test_azure_openai_datazone_must_match_the_profile(audit: Auditor) -> None:
    g = graph(azure_openai("westeurope", ("dz", "DataZoneStandard", None)), {"azure-native:location": "westeurope"})
    v = assert_violation(audit(g, "us"), "azure-openai-deployment-type", urn("azure-native:cognitiveservices:Deployment", "dz"))
    assert "US zone" in v.problem


def test_azure_openai_spillover(audit: Auditor) -> None:
    g = graph(azure_openai("swedencentral", ("main", "Standard", "overflow"), ("overflow", "GlobalStandard", None)), {"azure-native:location": "swedencentral"})
    assert_violation(audit(g), "azure-openai-deployment-type", urn("azure-native:cognitiveservices:Deployment", "main"), "properties.spilloverDeploymentName")
    missing = graph(azure_openai("swedencentral", ("main", "Standard", "elsewhere")), {"azure-native:location": "swedencentral"})
    v = assert_violation(audit(missing), "azure-openai-deployment-type", urn("azure-native:cognitiveservices:Deployment", "main"))
    assert "not a deployment of this stack" in v.problem
    fine = graph(azure_openai("swedencentral", ("main", "Standard", "overflow"), ("overflow", "DataZoneStandard", None)), {"azure-native:location": "swedencentral"})
    assert_no_violations(audit(fine), "azure-openai-deployment-type")


# ------------------------------------------------------------------ replication


def test_secrets_manager_replicas(audit: Auditor) -> None:
    bad = resource("aws:secretsmanager/secret:Secret", "s", {"replicas": [{"region": "us-east-1"}], "tags": tags()})
    assert_violation(audit(graph([bad])), "no-replication-out-of-profile", bad["urn"], "replicas[0].region")
    good = resource("aws:secretsmanager/secret:Secret", "s", {"replicas": [{"region": "eu-west-1"}], "tags": tags()})
    assert_no_violations(audit(graph([good])), "no-replication-out-of-profile")


def test_s3_replication_follows_the_destination_bucket(audit: Auditor) -> None:
    provider, ref = aws_provider("virginia", "us-east-1")
    source = bucket("source", bucket="src-bucket")
    destination = resource("aws:s3/bucket:Bucket", "dest", {"bucket": "dst-bucket", "tags": tags()}, provider=ref)
    replication = resource(
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
        "repl",
        {"bucket": "src-bucket", "role": "arn:aws:iam::123456789012:role/r", "rules": [{"status": "Enabled", "destination": {"bucket": "arn:aws:s3:::dst-bucket"}}]},
    )
    result = audit(graph([provider, source, destination, replication]))
    assert_violation(result, "no-replication-out-of-profile", replication["urn"], "rules[0].destination.bucket")
    unknown_dest = dict(replication, inputs={**replication["inputs"], "rules": [{"destination": {"bucket": "arn:aws:s3:::somebody-elses"}}]})
    assert_violation(audit(graph([source, unknown_dest])), "no-replication-out-of-profile", replication["urn"])
    local = resource("aws:s3/bucket:Bucket", "dest", {"bucket": "dst-bucket", "tags": tags()})
    assert_no_violations(audit(graph([source, local, replication])), "no-replication-out-of-profile")


def test_kms_multi_region_and_other_aws_replication(audit: Auditor) -> None:
    items = [
        resource("aws:kms/key:Key", "mrk", {"multiRegion": True, "tags": tags()}),
        resource("aws:rds/globalCluster:GlobalCluster", "global", {"globalClusterIdentifier": "g"}),
        resource("aws:rds/clusterSnapshotCopy:ClusterSnapshotCopy", "copy", {"destinationRegion": "us-west-2", "tags": tags()}),
        resource("aws:ecr/replicationConfiguration:ReplicationConfiguration", "ecr", {"replicationConfiguration": {"rules": [{"destinations": [{"region": "ap-south-1", "registryId": "123456789012"}]}]}}),
        resource("aws:dynamodb/table:Table", "t", {"replicas": [{"regionName": "us-east-2"}], "tags": tags()}),
        resource("aws:backup/plan:Plan", "b", {"rules": [{"ruleName": "r", "targetVaultName": "v", "copyActions": [{"destinationVaultArn": "arn:aws:backup:us-east-1:123456789012:backup-vault:dr"}]}], "tags": tags()}),
        resource("aws:opensearch/outboundConnection:OutboundConnection", "oc", {"remoteDomainInfo": {"region": "us-east-1", "domainName": "x", "ownerId": "1"}}),
    ]
    result = audit(graph(items))
    for item, prop in zip(
        items,
        ["multiRegion", "type", "destinationRegion", "replicationConfiguration.rules[0].destinations[0].region", "replicas[0].regionName", "rules[0].copyActions[0].destinationVaultArn", "remoteDomainInfo.region"],
        strict=True,
    ):
        assert_violation(result, "no-replication-out-of-profile", item["urn"], prop)
    local = [resource("aws:kms/key:Key", "k", {"multiRegion": False, "tags": tags()}), resource("aws:dynamodb/table:Table", "t", {"replicas": [{"regionName": "eu-west-1"}], "tags": tags()})]
    assert_no_violations(audit(graph(local)), "no-replication-out-of-profile")


def test_azure_geo_redundancy_follows_the_pair(audit: Auditor) -> None:
    config = {"azure-native:location": "francecentral"}
    grs = resource("azure-native:storage:StorageAccount", "st", {"location": "francecentral", "sku": {"name": "Standard_GRS"}, "kind": "StorageV2", "tags": tags()})
    assert_no_violations(audit(graph([grs], config)), "no-replication-out-of-profile")  # francesouth is in the EU
    custom = {"fr": {"awsRegions": [], "azureRegions": ["francecentral"]}}
    fr = [dict(grs, inputs={**grs["inputs"], "tags": tags("fr")})]
    v = assert_violation(audit(graph(fr, config), "fr", custom), "no-replication-out-of-profile", grs["urn"], "sku.name")
    assert "francesouth" in v.problem
    no_pair = resource("azure-native:storage:StorageAccount", "st", {"location": "italynorth", "sku": {"name": "Standard_RAGZRS"}, "tags": tags()})
    assert_violation(audit(graph([no_pair], {"azure-native:location": "italynorth"})), "no-replication-out-of-profile", no_pair["urn"])
    pg = resource("azure-native:dbforpostgresql:Server", "pg", {"location": "brazilsouth", "backup": {"geoRedundantBackup": "Enabled"}, "tags": tags("global")})
    assert_no_violations(audit(graph([pg], {"azure-native:location": "brazilsouth"}), "global"), "no-replication-out-of-profile")
    pg_eu = resource("azure-native:dbforpostgresql:Server", "pg", {"location": "swedencentral", "backup": {"geoRedundantBackup": "Enabled"}, "tags": tags()})
    assert_no_violations(audit(graph([pg_eu], {"azure-native:location": "swedencentral"})), "no-replication-out-of-profile")
    pg_us = resource("azure-native:dbforpostgresql:Server", "pg", {"location": "westus3", "backup": {"geoRedundantBackup": "Enabled"}, "tags": tags("us")})
    assert_no_violations(audit(graph([pg_us], {"azure-native:location": "westus3"}), "us"), "no-replication-out-of-profile")


# ------------------------------------------------------------------ API upstreams


def test_foreign_api_hosts_in_app_settings(audit: Auditor) -> None:
    app = resource(
        "azure-native:app:ContainerApp",
        "app",
        {"location": "swedencentral", "template": {"containers": [{"name": "a", "env": [{"name": "OPENAI_API_BASE", "value": "https://api.openai.com/v1"}]}]}, "tags": tags()},
    )
    v = assert_violation(audit(graph([app], {"azure-native:location": "swedencentral"})), "llm-api-upstreams", app["urn"], "template.containers[0].env[0].value")
    assert "api.openai.com" in v.value
    eu = resource("azure-native:app:ContainerApp", "app", {"location": "swedencentral", "template": {"containers": [{"name": "a", "env": [{"name": "BASE", "value": "https://api.mistral.ai/v1"}, {"name": "B2", "value": "https://eu.api.openai.com/v1"}]}]}, "tags": tags()})
    assert_no_violations(audit(graph([eu], {"azure-native:location": "swedencentral"})), "llm-api-upstreams")


def test_litellm_routes_without_api_base_go_to_the_public_api(audit: Auditor) -> None:
    config_yaml = "model_list:\n  - model_name: chat\n    litellm_params:\n      model: deepseek/deepseek-chat\n  - model_name: local\n    litellm_params:\n      model: openai/qwen\n      api_base: http://vllm-qwen.models.svc:8000/v1\n"
    cm = resource("kubernetes:core/v1:ConfigMap", "gw", {"metadata": {"name": "gw", "labels": {}}, "data": {"config.yaml": config_yaml}})
    # gateway-routes owns LiteLLM routes now (it resolves providers with LiteLLM itself).
    v = assert_violation(audit(graph([cm])), "gateway-routes", cm["urn"], "data.config.yaml.model_list[0]")
    assert "api.deepseek.com" in v.value
    cn_labels = {f"llm-platform.io/{k}": val for k, val in tags("cn").items()}
    cn_cm = dict(cm, inputs={**cm["inputs"], "metadata": {"name": "gw", "labels": cn_labels}})
    assert_no_violations(audit(graph([cn_cm], {"aws:region": "cn-north-1"}), "cn"), "gateway-routes")


# ------------------------------------------------------------------ tags


def test_required_tags_present(audit: Auditor) -> None:
    assert_no_violations(audit(graph([bucket()])), "required-tags")


def test_missing_tag_is_reported(audit: Auditor) -> None:
    res = resource("aws:s3/bucket:Bucket", "b", {"tags": tags(owner=None)})
    v = assert_violation(audit(graph([res])), "required-tags", res["urn"], "tags")
    assert "owner" in v.problem


def test_provider_default_tags_count(audit: Auditor) -> None:
    provider, ref = aws_provider("aws", "eu-central-1", tags())
    res = resource("aws:s3/bucket:Bucket", "b", {}, provider=ref)
    assert_no_violations(audit(graph([provider, res])), "required-tags")
    assert_violation(audit(graph([res], with_budget=True)), "required-tags", res["urn"])


def test_data_residency_tag_must_equal_the_profile(audit: Auditor) -> None:
    res = resource("aws:s3/bucket:Bucket", "b", {"tags": tags("global")})
    assert_violation(audit(graph([res])), "required-tags", res["urn"], "tags.data-residency")


def test_taggability_comes_from_the_sdk(audit: Auditor) -> None:
    version = resource("aws:secretsmanager/secretVersion:SecretVersion", "v", {"secretId": "x"})
    assert_no_violations(audit(graph([version])), "required-tags")
    asg = resource("aws:autoscaling/group:Group", "asg", {"maxSize": 1, "minSize": 0, "tags": [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in tags().items()]})
    assert_no_violations(audit(graph([asg])), "required-tags")
    bare_asg = resource("aws:autoscaling/group:Group", "asg", {"maxSize": 1, "minSize": 0})
    assert_violation(audit(graph([bare_asg])), "required-tags", bare_asg["urn"])


def test_kubernetes_objects_need_labels(audit: Auditor) -> None:
    cm = resource("kubernetes:core/v1:ConfigMap", "cm", {"metadata": {"name": "cm"}, "data": {}})
    assert_violation(audit(graph([cm])), "required-tags", cm["urn"], "metadata.labels")
    labelled = resource("kubernetes:core/v1:ConfigMap", "cm", {"metadata": {"name": "cm", "labels": {f"llm-platform.io/{k}": v.replace("@", "_at_") for k, v in tags().items()}}, "data": {}})
    assert_no_violations(audit(graph([labelled])), "required-tags")


def test_aws_tag_limits(audit: Auditor) -> None:
    many = {f"k{i}": "v" for i in range(51)}
    res = resource("aws:s3/bucket:Bucket", "b", {"tags": {**tags(), **many}})
    assert_violation(audit(graph([res])), "aws-tag-limits", res["urn"], "tags")
    reserved = resource("aws:s3/bucket:Bucket", "r", {"tags": {**tags(), "aws:owner": "x"}})
    assert_violation(audit(graph([reserved])), "aws-tag-limits", reserved["urn"], "tags.aws:owner")
    result = audit(graph([bucket()]))
    assert_no_violations(result, "aws-tag-limits")


# ------------------------------------------------------------------ budget and GPU pools


def test_budget_required(audit: Auditor) -> None:
    result = audit(graph([bucket()], with_budget=False))
    v = assert_violation(result, "budget-configured", "")
    assert v.problem == "the stack defines no budget."
    zero = budget("0.00")
    assert_violation(audit(graph([bucket(), zero])), "budget-configured", zero["urn"])
    silent = budget(emails=())
    assert_violation(audit(graph([bucket(), silent])), "budget-configured", silent["urn"])
    assert_no_violations(audit(graph([bucket(), budget()])), "budget-configured")


def test_azure_budget_counts(audit: Auditor) -> None:
    b = resource(
        "azure-native:consumption:Budget",
        "b",
        {"amount": 300, "category": "Cost", "timeGrain": "Monthly", "scope": "/subscriptions/x/resourceGroups/rg", "notifications": {"actual-80": {"enabled": True, "operator": "GreaterThan", "threshold": 80, "contactEmails": ["a@example.com"]}}},
    )
    assert_no_violations(audit(graph([b], {"azure-native:location": "westeurope"})), "budget-configured")


def test_gpu_pools_need_a_max_size(audit: Auditor) -> None:
    ng = resource("aws:eks/nodeGroup:NodeGroup", "gpu", {"clusterName": "c", "instanceTypes": ["g5.2xlarge"], "scalingConfig": {"minSize": 0, "desiredSize": 0, "maxSize": UNKNOWN}, "tags": tags()})
    assert_violation(audit(graph([ng])), "gpu-pool-max-size", ng["urn"], "scalingConfig.maxSize")
    ok = dict(ng, inputs={**ng["inputs"], "scalingConfig": {"minSize": 0, "desiredSize": 0, "maxSize": 4}})
    assert_no_violations(audit(graph([ok])), "gpu-pool-max-size")
    cpu = dict(ng, inputs={**ng["inputs"], "instanceTypes": ["m7i.large"]})
    assert_no_violations(audit(graph([cpu])), "gpu-pool-max-size")
    pool = resource("azure-native:containerservice:AgentPool", "gpu", {"vmSize": "Standard_NC24ads_A100_v4", "count": 1, "resourceName": "aks", "resourceGroupName": "rg"})
    assert_violation(audit(graph([pool], {"azure-native:location": "westeurope"})), "gpu-pool-max-size", pool["urn"], "maxCount")


# ------------------------------------------------------------------ configuration


def test_profile_from_stack_config_and_missing_profile(audit: Auditor) -> None:
    g = graph([bucket()], {"aws:region": "eu-central-1", "llm-platform:residency": "eu"})
    from scripts.audit import analyze

    config_without_profile = {name: {"requiredTags": ["cost-center"]} for name in ["residency-profile-configured", "residency-region"]}
    result = analyze(g, "eu", {}, config_without_profile, audit.pack)
    # The pack process has no stack config of its own here, so without a profile it must fail.
    assert_violation(result, "residency-profile-configured", "")
    result = audit(g, "eu", pack_config={"residency-region": {"profile": "mars"}, "residency-profile-configured": {"profile": "mars"}})
    v = assert_violation(result, "residency-profile-configured", "")
    assert "mars" in v.problem


def test_enforcement_level_can_be_lowered(audit: Auditor) -> None:
    res = bucket("us", region="us-east-1")
    result = audit(graph([res]), pack_config={"residency-region": {"profile": "eu", "enforcementLevel": "advisory"}})
    v = assert_violation(result, "residency-region", res["urn"])
    assert v.enforcement == "advisory"
    assert not result.mandatory or all(m.rule != "residency-region" for m in result.mandatory)
