"""Residency data: regions match botocore, profiles are consistent, the resolver follows the rules."""

from __future__ import annotations

import json
from pathlib import Path

import botocore
import pulumi
import pytest
from pydantic import ValidationError

from policies.llm_guard.location import UNKNOWN, GraphResource, LocationResolver, aws_location
from policies.llm_guard.profiles import BUILTIN_PROFILES, ResidencyProfile, resolve_profile
from policies.llm_guard.regions import AWS_PARTITION_REGIONS, normalize_azure_location
from policies.llm_guard.routing import parse_bedrock_reference


def test_aws_regions_match_botocore() -> None:
    endpoints = json.loads((Path(botocore.__file__).parent / "data" / "endpoints.json").read_text())
    seen = set()
    for partition in endpoints["partitions"]:
        name = partition["partition"]
        if name in AWS_PARTITION_REGIONS:
            assert set(partition["regions"]) == AWS_PARTITION_REGIONS[name], name
            seen.add(name)
    assert seen == set(AWS_PARTITION_REGIONS)


def test_builtin_profiles_keep_their_promises() -> None:
    cn = BUILTIN_PROFILES["cn"]
    assert cn.aws_partition == "aws-cn" and not cn.bedrock_allowed and cn.azure_cloud == "china"
    assert cn.allowed_api_providers() == ["dashscope", "deepseek", "hunyuan", "moonshot", "qianfan", "volcengine", "zhipu"]
    eu = BUILTIN_PROFILES["eu"]
    assert "eu-west-2" not in eu.aws_regions and "eu-central-2" not in eu.aws_regions
    assert eu.allowed_bedrock_prefixes() == ["eu"]
    assert BUILTIN_PROFILES["eu-strict"].allowed_bedrock_prefixes() == []
    assert BUILTIN_PROFILES["us"].allowed_bedrock_prefixes() == ["us"]
    assert "global" in BUILTIN_PROFILES["global"].allowed_bedrock_prefixes()
    assert "GlobalStandard" not in eu.allowed_azure_openai_skus() and "DataZoneStandard" in eu.allowed_azure_openai_skus()
    assert "DeveloperTier" not in BUILTIN_PROFILES["global"].allowed_azure_openai_skus()
    assert "ap-east-1" not in cn.aws_regions  # Hong Kong is not mainland China


def test_custom_profiles_are_validated() -> None:
    profile = ResidencyProfile.model_validate({"name": "de", "awsRegions": ["eu-central-1"], "azureRegions": ["Germany West Central"]})
    assert profile.azure_regions == {"germanywestcentral"}
    assert resolve_profile("de", {"de": profile}) is profile
    with pytest.raises(ValidationError, match="not regions of the AWS partition"):
        ResidencyProfile.model_validate({"name": "x", "awsRegions": ["cn-north-1"], "azureRegions": []})
    with pytest.raises(ValidationError, match="Bedrock has no endpoint"):
        ResidencyProfile.model_validate({"name": "x", "awsPartition": "aws-cn", "awsRegions": ["cn-north-1"], "azureRegions": []})


def test_aws_region_resolution_order() -> None:
    config = {"aws:region": "eu-west-1"}
    assert aws_location("aws:s3/bucket:Bucket", {"region": "eu-north-1"}, {"region": "eu-central-1"}, config).region == "eu-north-1"
    assert aws_location("aws:s3/bucket:Bucket", {}, {"region": "eu-central-1"}, config).region == "eu-central-1"
    assert aws_location("aws:s3/bucket:Bucket", {}, None, config).source == "stack aws:region"
    assert aws_location("aws:s3/bucket:Bucket", {"region": UNKNOWN}, None, config).status == "unknown"
    assert aws_location("aws:iam/role:Role", {}, None, config).status == "global"
    assert aws_location("aws:route53/resolverEndpoint:ResolverEndpoint", {}, None, config).status == "located"
    assert aws_location("aws:wafv2/webAcl:WebAcl", {"scope": "CLOUDFRONT"}, None, config).status == "global"
    # An explicit provider without a region does not fall back to the stack's default provider.
    assert aws_location("aws:s3/bucket:Bucket", {}, {}, config).status == "unknown"


def test_azure_location_normalisation_and_inheritance() -> None:
    assert normalize_azure_location("West Europe") == "westeurope"
    resources = [
        GraphResource("urn:rg", "azure-native:resources:ResourceGroup", {"resourceGroupName": "rg", "location": "West Europe"}, None),
        GraphResource("urn:acct", "azure-native:cognitiveservices:Account", {"accountName": "oai", "resourceGroupName": "rg", "location": "Sweden Central"}, None),
        GraphResource("urn:dep", "azure-native:cognitiveservices:Deployment", {"accountName": "oai", "resourceGroupName": "rg"}, None),
        GraphResource("urn:sec", "azure-native:keyvault:Secret", {"vaultName": "kv-unknown", "resourceGroupName": "rg"}, None),
        GraphResource("urn:orphan", "azure-native:keyvault:Secret", {"vaultName": "kv"}, None),
    ]
    resolver = LocationResolver(resources, {})
    assert resolver.resolve(resources[1]).region == "swedencentral"
    deployment = resolver.resolve(resources[2])
    assert deployment.region == "swedencentral" and "Account" in deployment.source
    assert resolver.resolve(resources[3]).region == "westeurope"
    assert resolver.resolve(resources[4]).status == "unknown"


def test_bedrock_references_are_recognised() -> None:
    eu = parse_bedrock_reference("eu.anthropic.claude-3-7-sonnet-20250219-v1:0")
    assert eu and eu.prefix == "eu" and "eu-west-2" in (eu.destinations() or set())
    arn = parse_bedrock_reference("arn:aws:bedrock:*::foundation-model/anthropic.claude-3-haiku-20240307-v1:0")
    assert arn and arn.region_wildcard
    assert parse_bedrock_reference("anthropic.claude-3-haiku-20240307-v1:0").destinations() == frozenset()
    glob = parse_bedrock_reference("global.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert glob and glob.destinations() is None
    assert parse_bedrock_reference("hello world") is None


def test_program_stops_with_runerror_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under `pulumi up` a bad config raises pulumi.RunError, which the CLI prints without a stack."""
    from pulumi.runtime import config as runtime_config

    from stacks import program

    monkeypatch.setattr(program, "read_raw_config", lambda: ({"llm-platform:phase": "prod"}, set()))
    monkeypatch.setattr(pulumi, "get_stack", lambda: "poc-aws")
    assert runtime_config  # the real reader is covered by the engine tests
    with pytest.raises(pulumi.RunError) as info:
        program.main()
    assert "llm-platform:phase = 'prod'" in str(info.value)
    assert "Input should be 'poc', 'beta' or 'scale'" in str(info.value)
