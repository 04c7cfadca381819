"""PoC plans on AWS and Azure, Dify and Flowise: security defaults, tags, regions, budgets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.tags import REQUIRED_TAG_KEYS
from policies.llm_guard.location import SECRET_SIG, SIG_KEY, reveal
from policies.llm_guard.profiles import BUILTIN_PROFILES
from scripts.engine import Plan
from tests.conftest import resources_of
from tests.sdk_schema import check_inputs, taggable

VARIANTS = {
    "dify-aws": ("poc-aws", {}),
    "flowise-aws": ("poc-aws", {"llm-platform:poc": {"app": {"kind": "flowise"}}}),
    "flowise-azure": ("poc-azure", {}),
    "dify-azure": ("poc-azure", {"llm-platform:poc": {"app": {"kind": "dify"}}}),
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest, make_variant: Callable[..., Path], plan_of: Callable[..., Plan]) -> Plan:
    base, override = VARIANTS[request.param]
    return plan_of(make_variant(base, f"poc-{request.param}", override))


def _cloud(plan: Plan) -> str:
    return str(plan.config["llm-platform:cloud"])


def test_both_apps_plan_on_both_clouds(variant: Plan) -> None:
    kind = variant.config["llm-platform:poc"]["app"]["kind"]
    images = json.dumps([r.inputs for r in variant.resources if r.type in ("aws:ecs/taskDefinition:TaskDefinition", "azure-native:app:ContainerApp")])
    if kind == "dify":
        for image in ("langgenius/dify-api", "langgenius/dify-web", "langgenius/dify-sandbox", "langgenius/dify-plugin-daemon"):
            assert image in images
        assert "flowiseai/flowise" not in images
    else:
        assert "flowiseai/flowise" in images and "langgenius" not in images


def test_every_input_exists_in_the_sdk(variant: Plan) -> None:
    problems = [p for r in variant.resources if r.custom for p in check_inputs(r.type, r.inputs)]
    assert problems == []


def test_every_taggable_resource_carries_the_required_tags(variant: Plan) -> None:
    profile = variant.config["llm-platform:residency"]
    checked = 0
    for r in variant.resources:
        if not (r.custom and taggable(r.type)):
            continue
        tags = reveal(r.inputs.get("tags")) or {}
        missing = [k for k in REQUIRED_TAG_KEYS if not tags.get(k)]
        assert not missing, f"{r.urn} lacks tags {missing}"
        assert tags["data-residency"] == profile
        assert tags["phase"] == "poc"
        checked += 1
    assert checked > 10


def test_aws_provider_carries_default_tags(plan_of: Callable[..., Plan]) -> None:
    provider = resources_of(plan_of("poc-aws"), "pulumi:providers:aws")[0]
    default_tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert default_tags["cost-center"] == "ai-platform" and default_tags["data-residency"] == "eu"


def test_every_resource_is_in_a_profile_region(variant: Plan) -> None:
    profile = BUILTIN_PROFILES[str(variant.config["llm-platform:residency"])]
    allowed = profile.aws_regions if _cloud(variant) == "aws" else profile.azure_regions
    located = [r for r in variant.resources if r.location.get("status") == "located"]
    assert located
    for r in variant.resources:
        assert r.location.get("status") != "unknown", f"{r.urn}: {r.location}"
    for r in located:
        assert r.location["region"] in allowed, r.urn


def _secret_placeholders(plan: Plan) -> list[str]:
    return [f"offline-placeholder-for-{k}" for k, v in plan.config.items() if v == "[secret]"]


def test_api_key_values_never_appear_in_plain_inputs_or_outputs(variant: Plan) -> None:
    document = json.dumps(variant.to_json())
    placeholders = _secret_placeholders(variant)
    assert placeholders
    for placeholder in placeholders:
        assert placeholder not in document


def test_aws_secrets_are_kms_encrypted_with_the_platform_key(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("poc-aws")
    key = resources_of(plan, "aws:kms/key:Key")
    assert len(key) == 1 and key[0].inputs["enableKeyRotation"] is True and key[0].protect
    assert key[0].inputs.get("multiRegion") is False
    key_arn = plan.outputs["kmsKeyArn"]
    secrets = resources_of(plan, "aws:secretsmanager/secret:Secret")
    assert {s.inputs["name"].rsplit("/", 1)[-1] for s in secrets} >= {"mistral", "openai-eu", "database", "redis", "app-key"}
    for s in secrets:
        assert s.inputs["kmsKeyId"] == key_arn, s.urn
        assert "replicas" not in s.inputs
    versions = resources_of(plan, "aws:secretsmanager/secretVersion:SecretVersion")
    assert len(versions) == len(secrets)
    for v in versions:
        assert v.inputs["secretString"].get(SIG_KEY) == SECRET_SIG, v.urn
    for api in ("mistral", "openai-eu"):
        secret = next(s for s in secrets if s.inputs["name"].endswith(f"/api-keys/{api}"))
        assert secret.protect


def test_aws_data_stores_are_encrypted_private_and_protected(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("poc-aws")
    key_arn = plan.outputs["kmsKeyArn"]
    db = resources_of(plan, "aws:rds/instance:Instance")[0]
    assert db.protect and db.inputs["deletionProtection"] is True
    assert db.inputs["storageEncrypted"] is True and db.inputs["kmsKeyId"] == key_arn
    assert db.inputs["publiclyAccessible"] is False
    assert db.inputs["backupRetentionPeriod"] >= 1
    cache = resources_of(plan, "aws:elasticache/replicationGroup:ReplicationGroup")[0]
    assert cache.inputs["transitEncryptionEnabled"] is True and cache.inputs["atRestEncryptionEnabled"] is True
    assert cache.inputs["authToken"].get(SIG_KEY) == SECRET_SIG
    bucket = resources_of(plan, "aws:s3/bucket:Bucket")[0]
    assert bucket.protect
    sse = resources_of(plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")[0]
    rule = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
    block = resources_of(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[0]
    assert all(block.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    policy = json.loads(resources_of(plan, "aws:s3/bucketPolicy:BucketPolicy")[0].inputs["policy"])
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy["Statement"])
    for group in resources_of(plan, "aws:cloudwatch/logGroup:LogGroup"):
        assert group.inputs["kmsKeyId"] == key_arn and group.inputs["retentionInDays"] == 30


def _container_definitions(plan: Plan) -> list[dict[str, Any]]:
    return [c for t in resources_of(plan, "aws:ecs/taskDefinition:TaskDefinition") for c in json.loads(t.inputs["containerDefinitions"])]


def test_ecs_secrets_are_arn_references_only(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("poc-aws")
    secret_arns = {s.inputs["name"]: None for s in resources_of(plan, "aws:secretsmanager/secret:Secret")}
    assert secret_arns
    sensitive = ("PASSWORD", "SECRET", "KEY", "TOKEN", "BROKER_URL")
    for container in _container_definitions(plan):
        for env in container["environment"]:
            name = env["name"]
            if any(s in name for s in sensitive):
                # only non-secret settings may look sensitive by name
                assert env["value"] in ("", "managedidentity", "managed_identity", "true", "false") or name.endswith(("_NAME", "_URL", "_TYPE")), name
        for secret in container["secrets"]:
            # Secrets Manager for secrets; SSM parameters for settings known only after deploy
            # (the app's own URL while no domain is configured).
            assert secret["valueFrom"].startswith(
                ("arn:aws:secretsmanager:eu-central-1:123456789012:secret:llm-platform/poc-aws/", "arn:aws:ssm:eu-central-1:123456789012:parameter/llm-platform/poc-aws/app/")
            )
        names = {s["name"] for s in container["secrets"]}
        if container["name"] == "api":
            assert {"DB_PASSWORD", "SECRET_KEY", "REDIS_PASSWORD", "CELERY_BROKER_URL"} <= names


def test_ecs_roles_are_least_privilege(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("poc-aws")
    for policy in resources_of(plan, "aws:iam/rolePolicy:RolePolicy"):
        document = json.loads(policy.inputs["policy"])
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all(a != "*" and not a.endswith(":*") for a in actions), policy.urn
            if "secretsmanager:GetSecretValue" in actions:
                assert all(arn.startswith("arn:aws:secretsmanager:") for arn in statement["Resource"])
    key_policy = json.loads(resources_of(plan, "aws:kms/key:Key")[0].inputs["policy"])
    for statement in key_policy["Statement"]:
        assert "kms:*" not in statement["Action"]


def test_ingress_is_limited_to_the_allowed_cidrs(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("poc-aws")
    rules = resources_of(plan, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    internet_rules = [r for r in rules if "cidrIpv4" in r.inputs]
    assert internet_rules and {r.inputs["cidrIpv4"] for r in internet_rules} == {"203.0.113.0/24"}
    for group in resources_of(plan, "aws:ec2/securityGroup:SecurityGroup"):
        for rule in group.inputs.get("ingress", []):
            assert "0.0.0.0/0" not in rule.get("cidrBlocks", [])
    azure = plan_of("poc-azure")
    apps = resources_of(azure, "azure-native:app:ContainerApp")
    ingress = [a.inputs["configuration"]["ingress"] for a in apps if a.inputs["configuration"].get("ingress")]
    assert ingress
    for rule_set in ingress:
        assert {r["ipAddressRange"] for r in rule_set["ipSecurityRestrictions"]} == {"203.0.113.0/24", "198.51.100.0/24"}
        assert all(r["action"] == "Allow" for r in rule_set["ipSecurityRestrictions"])
        assert rule_set["allowInsecure"] is False


def test_https_listener_when_a_certificate_is_configured(make_variant: Callable[..., Path], plan_of: Callable[..., Plan]) -> None:
    arn = "arn:aws:acm:eu-central-1:123456789012:certificate/0f6ab0c4-1111-2222-3333-444455556666"
    plan = plan_of(make_variant("poc-aws", "poc-https", {"llm-platform:poc": {"app": {"certificateArn": arn}}}))
    listeners = {r.inputs["port"]: r.inputs for r in resources_of(plan, "aws:lb/listener:Listener")}
    assert listeners[443]["protocol"] == "HTTPS" and listeners[443]["certificateArn"] == arn
    assert listeners[443]["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert listeners[80]["defaultActions"][0]["type"] == "redirect"


def test_azure_secrets_live_in_a_private_key_vault(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("poc-azure")
    vault = resources_of(plan, "azure-native:keyvault:Vault")[0]
    props = vault.inputs["properties"]
    assert props["enableRbacAuthorization"] is True and props["enablePurgeProtection"] is True
    assert props["networkAcls"]["defaultAction"] == "Deny"
    assert vault.protect
    endpoints = resources_of(plan, "azure-native:network:PrivateEndpoint")
    assert any(e.inputs["privateLinkServiceConnections"][0]["groupIds"] == ["vault"] for e in endpoints)
    secrets = resources_of(plan, "azure-native:keyvault:Secret")
    assert any(s.inputs["secretName"] == "api-key-mistral" and s.protect for s in secrets)
    for s in secrets:
        assert s.inputs["properties"]["value"].get(SIG_KEY) == SECRET_SIG, s.urn
    app_secrets = [sec for a in resources_of(plan, "azure-native:app:ContainerApp") for sec in a.inputs["configuration"]["secrets"]]
    assert app_secrets
    for sec in app_secrets:
        assert "value" not in sec and sec["keyVaultUrl"].startswith("https://") and sec["identity"]


def test_azure_data_stores_use_the_customer_managed_key(plan_of: Callable[..., Plan]) -> None:
    plan = plan_of("poc-azure")
    server = resources_of(plan, "azure-native:dbforpostgresql:Server")[0]
    assert server.protect
    assert server.inputs["dataEncryption"]["type"] == "AzureKeyVault"
    assert server.inputs["network"]["publicNetworkAccess"] == "Disabled"
    assert server.inputs["backup"]["geoRedundantBackup"] == "Disabled"
    account = resources_of(plan, "azure-native:storage:StorageAccount")[0]
    assert account.inputs["encryption"]["keySource"] == "Microsoft.Keyvault"
    assert account.inputs["publicNetworkAccess"] == "Disabled" and account.inputs["allowBlobPublicAccess"] is False
    assert account.inputs["sku"]["name"] == "Standard_LRS"


def test_budgets_exist_with_notifications(plan_of: Callable[..., Plan]) -> None:
    aws_plan = plan_of("poc-aws")
    budget = resources_of(aws_plan, "aws:budgets/budget:Budget")[0].inputs
    assert budget["budgetType"] == "COST" and budget["timeUnit"] == "MONTHLY" and budget["limitAmount"] == "600.00"
    assert budget["costFilters"] == [{"name": "TagKeyValue", "values": ["user:cost-center$ai-platform"]}]
    kinds = {(n["notificationType"], n["threshold"]) for n in budget["notifications"]}
    assert kinds == {(k, float(t)) for k in ("ACTUAL", "FORECASTED") for t in (50, 80, 100)}
    assert all(n["subscriberEmailAddresses"] == ["finops@example.com", "platform-team@example.com"] for n in budget["notifications"])
    azure_plan = plan_of("poc-azure")
    az_budget = resources_of(azure_plan, "azure-native:consumption:Budget")[0].inputs
    assert az_budget["amount"] == 500 and az_budget["timeGrain"] == "Monthly" and az_budget["category"] == "Cost"
    rg = resources_of(azure_plan, "azure-native:resources:ResourceGroup")[0]
    assert az_budget["scope"].endswith(f"/resourceGroups/{rg.inputs['resourceGroupName']}")
    assert {n["thresholdType"] for n in az_budget["notifications"].values()} == {"Actual", "Forecasted"}
    assert all(n["contactEmails"] == ["finops@example.com"] for n in az_budget["notifications"].values())


def test_budget_amount_follows_the_config(make_variant: Callable[..., Path], plan_of: Callable[..., Plan]) -> None:
    plan = plan_of(make_variant("poc-aws", "poc-budget", {"llm-platform:budget": {"amount": 1234.5, "thresholds": [90]}}))
    budget = resources_of(plan, "aws:budgets/budget:Budget")[0].inputs
    assert budget["limitAmount"] == "1234.50"
    assert len(budget["notifications"]) == 2
