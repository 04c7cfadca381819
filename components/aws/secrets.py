"""Secrets Manager secrets encrypted with the platform key; values only ever Pulumi secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass
class StoredSecretArgs:
    secret_name: str
    description: str
    value: pulumi.Input[str]  # must be a Pulumi secret (config secret or generated)
    kms_key_arn: pulumi.Input[str]
    tags: Mapping[str, str]
    protect: bool = True


class StoredSecret(pulumi.ComponentResource):
    """One Secrets Manager secret and its current value.

    The secret is protected and kept 30 days in recovery when deleted; the value is wrapped in
    `Output.secret` again so it can never reach state or logs in plain text.
    """

    arn: pulumi.Output[str]

    def __init__(self, name: str, args: StoredSecretArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:aws:StoredSecret", name, None, opts)
        secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            name=args.secret_name,
            description=args.description,
            kms_key_id=args.kms_key_arn,
            recovery_window_in_days=30,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-value",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(args.value),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = secret.arn
        self.register_outputs({"arn": secret.arn})


@dataclass
class ApiKeySecretsArgs:
    # provider name -> API key (a Pulumi secret read from `llm-platform:<provider>ApiKey`)
    api_keys: Mapping[str, pulumi.Input[str]]
    secret_name_prefix: str  # e.g. llm-platform/<stack>/api-keys
    kms_key_arn: pulumi.Input[str]
    tags: Mapping[str, str]


class ApiKeySecrets(pulumi.ComponentResource):
    """One Secrets Manager secret per third-party LLM API key."""

    arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ApiKeySecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:aws:ApiKeySecrets", name, None, opts)
        self.arns = {}
        for provider, value in sorted(args.api_keys.items()):
            stored = StoredSecret(
                f"{name}-{provider}",
                StoredSecretArgs(
                    secret_name=f"{args.secret_name_prefix}/{provider}",
                    description=f"API key for the {provider} LLM API",
                    value=value,
                    kms_key_arn=args.kms_key_arn,
                    tags=args.tags,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.arns[provider] = stored.arn
        self.register_outputs({"arns": self.arns})
