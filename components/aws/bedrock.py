"""Managed inference on Bedrock: one application inference profile per model (cost attribution,
tagged), a guardrail (content filters, PII handling), model invocation logging to a KMS bucket
and log group in the stack's region, CloudWatch alarms, and the app's invoke policy naming every
ARN it may call (never a region wildcard)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.bedrock_catalog import ResolvedModel
from components.aws.partition import AwsAccount
from components.aws.storage import DataBucket, DataBucketArgs

_CONTENT_FILTERS = ("SEXUAL", "VIOLENCE", "HATE", "INSULTS", "MISCONDUCT")
# PII the guardrail masks (or blocks) in prompts and answers; credentials are always blocked.
_PII_MASKED = ("EMAIL", "PHONE", "NAME", "ADDRESS", "IP_ADDRESS", "URL")
_PII_BLOCKED = ("CREDIT_DEBIT_CARD_NUMBER", "CREDIT_DEBIT_CARD_CVV", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "PASSWORD", "INTERNATIONAL_BANK_ACCOUNT_NUMBER")


@dataclass
class BedrockAccessArgs:
    account: AwsAccount
    models: Sequence[ResolvedModel]
    name_prefix: str
    kms_key_arn: pulumi.Input[str]
    log_group_name: str
    log_retention_days: int
    content_filter_strength: str
    pii_action: str
    invocation_logging: bool
    alarm_emails: Sequence[str]
    alarm_thresholds: Mapping[str, int]  # server_errors, throttles, latency_p90_ms
    tags: Mapping[str, str]


class BedrockAccess(pulumi.ComponentResource):
    profile_arns: dict[str, pulumi.Output[str]]  # model name -> application inference profile ARN
    guardrail_arn: pulumi.Output[str]
    guardrail_id: pulumi.Output[str]
    guardrail_version: pulumi.Output[str]
    models_policy: str
    profiles_policy: pulumi.Output[str]  # application profiles + guardrail (and its key)
    guardrail_key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: BedrockAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:aws:BedrockAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        account = args.account

        self.profile_arns = {}
        for model in args.models:
            profile = aws.bedrock.InferenceProfile(
                f"{name}-{model.name}",
                name=f"{args.name_prefix}-{model.name}",
                description=f"{model.invoke_id} for the llm-platform app (cost attribution)",
                model_source=aws.bedrock.InferenceProfileModelSourceArgs(copy_from=model.source_arn(account.partition, account.account_id)),
                tags={**tags, "model": model.model_id},
                opts=child,
            )
            self.profile_arns[model.name] = profile.arn

        strength = args.content_filter_strength
        guardrail = aws.bedrock.Guardrail(
            f"{name}-guardrail",
            name=f"{args.name_prefix}-guardrail",
            description="Content supervision for every model call of the platform",
            blocked_input_messaging="This request was blocked by the platform's content policy.",
            blocked_outputs_messaging="This answer was blocked by the platform's content policy.",
            kms_key_arn=args.kms_key_arn,
            content_policy_config=aws.bedrock.GuardrailContentPolicyConfigArgs(
                filters_configs=[
                    *[aws.bedrock.GuardrailContentPolicyConfigFiltersConfigArgs(type=t, input_strength=strength, output_strength=strength) for t in _CONTENT_FILTERS],
                    # Prompt-attack detection applies to input only; output strength must be NONE.
                    aws.bedrock.GuardrailContentPolicyConfigFiltersConfigArgs(type="PROMPT_ATTACK", input_strength=strength, output_strength="NONE"),
                ]
            ),
            sensitive_information_policy_config=aws.bedrock.GuardrailSensitiveInformationPolicyConfigArgs(
                pii_entities_configs=[
                    *[aws.bedrock.GuardrailSensitiveInformationPolicyConfigPiiEntitiesConfigArgs(type=t, action=args.pii_action) for t in _PII_MASKED],
                    *[aws.bedrock.GuardrailSensitiveInformationPolicyConfigPiiEntitiesConfigArgs(type=t, action="BLOCK") for t in _PII_BLOCKED],
                ]
            ),
            tags=tags,
            opts=child,
        )
        version = aws.bedrock.GuardrailVersion(f"{name}-guardrail-v", guardrail_arn=guardrail.guardrail_arn, description="Pinned by the platform", opts=child)
        self.guardrail_arn = guardrail.guardrail_arn
        self.guardrail_id = guardrail.guardrail_id
        self.guardrail_version = version.version

        if args.invocation_logging:
            self._invocation_logging(name, args, tags)
        self._alarms(name, args, tags)

        # Two policies: the models one is known at preview (so the policy pack can audit it);
        # the other names resources whose ARNs only exist after they are created.
        self.models_policy = json.dumps(models_policy_document(args.models, account))
        profile_arns = [self.profile_arns[m.name] for m in args.models]
        # Every caller of the guardrail (the app task role, Scale's gateway role) gets this policy,
        # so the kms:Decrypt the encrypted guardrail needs travels with the invoke permissions.
        self.guardrail_key_arn = pulumi.Output.from_input(args.kms_key_arn)
        self.profiles_policy = pulumi.Output.all(guardrail.guardrail_arn, self.guardrail_key_arn, *profile_arns).apply(
            lambda values: json.dumps(profiles_policy_document(list(values[2:]), values[0], values[1], account))
        )
        self.register_outputs({"profile_arns": self.profile_arns, "guardrail_arn": self.guardrail_arn})

    def _invocation_logging(self, name: str, args: BedrockAccessArgs, tags: dict[str, str]) -> None:
        """Prompts and answers logged in the stack's region only, encrypted with the platform key.
        One logging configuration exists per account and region: this stack owns it."""
        child = pulumi.ResourceOptions(parent=self)
        account = args.account
        bucket = DataBucket(
            f"{name}-logs",
            DataBucketArgs(
                purpose="Bedrock invocation logs",
                kms_key_arn=args.kms_key_arn,
                tags=args.tags,
                writer_service="bedrock.amazonaws.com",
                writer_prefix="invocations/",
                account_id=account.account_id,
                partition=account.partition,
            ),
            opts=child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-invocations",
            name=args.log_group_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-logging",
            description="Bedrock model invocation logging to CloudWatch Logs",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "bedrock.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": account.account_id},
                                "ArnLike": {"aws:SourceArn": account.arn("bedrock", "*")},
                            },
                        }
                    ],
                }
            ),
            tags=tags,
            opts=child,
        )
        # Bedrock validates the role's access to the log group when the configuration is written
        # ("Failed to validate permissions for log group"): the policy must exist first.
        logging_policy = aws.iam.RolePolicy(
            f"{name}-logging",
            role=role.id,
            policy=log_group.arn.apply(
                lambda arn: json.dumps(
                    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{arn}:log-stream:aws/bedrock/modelinvocations"}]}
                )
            ),
            opts=child,
        )
        aws.bedrockmodel.InvocationLoggingConfiguration(
            f"{name}-logging",
            logging_config=aws.bedrockmodel.InvocationLoggingConfigurationLoggingConfigArgs(
                text_data_delivery_enabled=True,
                embedding_data_delivery_enabled=False,
                image_data_delivery_enabled=True,
                video_data_delivery_enabled=False,
                s3_config=aws.bedrockmodel.InvocationLoggingConfigurationLoggingConfigS3ConfigArgs(bucket_name=bucket.bucket_name, key_prefix="invocations"),
                cloudwatch_config=aws.bedrockmodel.InvocationLoggingConfigurationLoggingConfigCloudwatchConfigArgs(
                    log_group_name=log_group.name,
                    role_arn=role.arn,
                    large_data_delivery_s3_config=aws.bedrockmodel.InvocationLoggingConfigurationLoggingConfigCloudwatchConfigLargeDataDeliveryS3ConfigArgs(
                        bucket_name=bucket.bucket_name, key_prefix="invocations/large"
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bucket, logging_policy]),
        )

    def _alarms(self, name: str, args: BedrockAccessArgs, tags: dict[str, str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(f"{name}-alarms", name=f"{args.name_prefix}-bedrock-alarms", kms_master_key_id=args.kms_key_arn, tags=tags, opts=child)
        for i, email in enumerate(args.alarm_emails):
            aws.sns.TopicSubscription(f"{name}-alarms-{i}", topic=topic.arn, protocol="email", endpoint=email, opts=child)
        thresholds = args.alarm_thresholds
        for model in args.models:
            # Calls through the application profile carry its ARN as the ModelId dimension.
            dimensions = {"ModelId": self.profile_arns[model.name]}
            for metric, statistic, threshold, what in (
                ("InvocationServerErrors", "Sum", thresholds["server_errors"], "server errors"),
                ("InvocationThrottles", "Sum", thresholds["throttles"], "throttled calls"),
            ):
                aws.cloudwatch.MetricAlarm(
                    f"{name}-{model.name}-{metric}",
                    name=f"{args.name_prefix}-{model.name}-{metric}",
                    alarm_description=f"{model.name}: more than {threshold} {what} in 5 minutes",
                    namespace="AWS/Bedrock",
                    metric_name=metric,
                    dimensions=dimensions,
                    statistic=statistic,
                    period=300,
                    evaluation_periods=1,
                    threshold=threshold,
                    comparison_operator="GreaterThanThreshold",
                    treat_missing_data="notBreaching",
                    alarm_actions=[topic.arn],
                    ok_actions=[topic.arn],
                    tags=tags,
                    opts=child,
                )
            aws.cloudwatch.MetricAlarm(
                f"{name}-{model.name}-latency",
                name=f"{args.name_prefix}-{model.name}-InvocationLatency",
                alarm_description=f"{model.name}: p90 latency above {thresholds['latency_p90_ms']} ms for 15 minutes",
                namespace="AWS/Bedrock",
                metric_name="InvocationLatency",
                dimensions=dimensions,
                extended_statistic="p90",
                period=300,
                evaluation_periods=3,
                threshold=thresholds["latency_p90_ms"],
                comparison_operator="GreaterThanThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=[topic.arn],
                ok_actions=[topic.arn],
                tags=tags,
                opts=child,
            )


_INVOKE = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]


def models_policy_document(models: Sequence[ResolvedModel], account: AwsAccount) -> dict[str, object]:
    """Invoke only these models, in the profile's regions, never through a region wildcard.

    Cross-region profiles need the foundation model allowed in every destination region; those
    statements apply only to calls made through the system profile or an application profile
    of this account and region.
    """
    statements: list[dict[str, object]] = []
    in_region = sorted({arn for m in models if m.prefix is None for arn in m.foundation_model_arns(account.partition)})
    if in_region:
        statements.append({"Sid": "InvokeInRegionModels", "Effect": "Allow", "Action": _INVOKE, "Resource": in_region})
    app_profiles = account.arn("bedrock", "application-inference-profile/*")
    for m in (m for m in models if m.prefix is not None):
        system_profile = m.source_arn(account.partition, account.account_id)
        statements.append({"Sid": f"Profile{_sid(m.name)}", "Effect": "Allow", "Action": _INVOKE, "Resource": [system_profile]})
        statements.append(
            {
                "Sid": f"Destinations{_sid(m.name)}",
                "Effect": "Allow",
                "Action": _INVOKE,
                "Resource": m.foundation_model_arns(account.partition),
                "Condition": {"StringLike": {"bedrock:InferenceProfileArn": [system_profile, app_profiles]}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def profiles_policy_document(profile_arns: Sequence[str], guardrail_arn: str, guardrail_key_arn: str, account: AwsAccount) -> dict[str, object]:
    """The application inference profiles (cost attribution), the guardrail, and kms:Decrypt on
    the guardrail's customer-managed key: without it every guarded call (ApplyGuardrail, or
    InvokeModel with a guardrail) is denied. Source: AWS Bedrock user guide, "(Optional) Create a
    customer managed key for your guardrail" (docs.aws.amazon.com/bedrock/latest/userguide/
    guardrails-permissions-kms.html, read 2026-11-30): callers need kms:Decrypt on the key.
    Bedrock decrypts on the caller's behalf, so the grant is limited to requests via Bedrock."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "InvokeApplicationProfiles", "Effect": "Allow", "Action": _INVOKE, "Resource": sorted(profile_arns)},
            {"Sid": "ApplyGuardrail", "Effect": "Allow", "Action": ["bedrock:ApplyGuardrail"], "Resource": [guardrail_arn]},
            guardrail_key_statement(guardrail_key_arn, account),
        ],
    }


def guardrail_key_statement(key_arn: str, account: AwsAccount) -> dict[str, object]:
    """What a role calling the encrypted guardrail needs on its key (see profiles_policy_document)."""
    return {
        "Sid": "DecryptGuardrail",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": [key_arn],
        "Condition": {"StringEquals": {"kms:ViaService": f"bedrock.{account.region}.{account.dns_suffix}"}},
    }


def _sid(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))
