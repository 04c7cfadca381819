"""What every phase module needs: the validated config, names, tags and the cloud provider."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi

from components.aws.partition import AwsAccount
from components.naming import Namer
from stacks.config import Cloud, PlatformConfig

# Stack config keys of the aws provider that the explicit provider honours too (an explicit
# provider does not read `aws:*` config by itself). Values are the ProviderArgs names.
_AWS_PASSTHROUGH = {
    "profile": "profile",
    "allowedAccountIds": "allowed_account_ids",
    "forbiddenAccountIds": "forbidden_account_ids",
    "sharedConfigFiles": "shared_config_files",
    "sharedCredentialsFiles": "shared_credentials_files",
    "skipCredentialsValidation": "skip_credentials_validation",
    "skipMetadataApiCheck": "skip_metadata_api_check",
    "skipRequestingAccountId": "skip_requesting_account_id",
    "stsRegion": "sts_region",
    "maxRetries": "max_retries",
}


def platform_tags(config: PlatformConfig) -> dict[str, str]:
    """cost-center, owner, phase, data-residency (= the profile name) and the user's extra tags."""
    return {
        **config.tags.all(),
        "phase": config.phase.value,
        "data-residency": config.residency,
    }


@dataclass
class StackContext:
    config: PlatformConfig
    project: str
    stack: str
    namer: Namer
    tags: dict[str, str]
    opts: pulumi.ResourceOptions  # for top-level components: carries the provider
    aws_account: AwsAccount | None = None

    @property
    def region(self) -> str:
        return self.config.region


def _aws_passthrough(raw: dict[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for key, arg in _AWS_PASSTHROUGH.items():
        value = raw.get(f"aws:{key}")
        if value is None:
            continue
        if isinstance(value, str) and value[:1] in "[{":
            value = json.loads(value)
        args[arg] = value
    return args


def create_context(config: PlatformConfig, raw_config: dict[str, Any]) -> StackContext:
    project = pulumi.get_project()
    stack = pulumi.get_stack()
    tags = platform_tags(config)
    namer = Namer(project, stack)
    if config.cloud is Cloud.AWS:
        import pulumi_aws as aws

        provider = aws.Provider(
            "aws",
            region=config.region,
            default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
            **_aws_passthrough(raw_config),
        )
        invoke = pulumi.InvokeOptions(provider=provider)
        identity = aws.get_caller_identity(opts=invoke)
        partition = aws.get_partition(opts=invoke)
        account = AwsAccount(
            account_id=identity.account_id,
            partition=partition.partition,
            region=config.region,
            dns_suffix=partition.dns_suffix,
        )
        return StackContext(config, project, stack, namer, tags, pulumi.ResourceOptions(providers=[provider]), account)
    # Azure: the default azure-native provider reads azure-native:location/environment itself.
    return StackContext(config, project, stack, namer, tags, pulumi.ResourceOptions())
