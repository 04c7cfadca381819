"""The LLM gateway's budget alerts by email on AWS: an SNS topic encrypted with the stack's key,
one email subscription per address of llm-platform:budget.emails, and the IAM policy that lets
the gateway's pod (EKS Pod Identity role) publish to it, and only to it.

Why SNS from the gateway and not a log-based alarm: the gateway pods' logs do not reach
CloudWatch (no log shipping in the cluster), so a CloudWatch metric filter would see nothing.
The spend tracker (components/gateway_auth.py) publishes the alert itself, once per threshold
and month, off the event loop; a failure is logged, never raised into a request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.partition import AwsAccount

# A publisher to a topic encrypted with a customer-managed key needs kms:GenerateDataKey* and
# kms:Decrypt on that key besides sns:Publish (AWS doc "Key management" for SNS, section
# "Configuring AWS KMS permissions", docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
# and docs.amazonaws.cn/en_us/sns/latest/dg/sns-key-management.html, read 2026-11-30). The
# stack's key policy delegates to IAM (components/aws/kms.py AccountAdministrationAndUse), so an
# identity policy on the gateway's role is enough; kms:ViaService keeps the key usable through
# SNS only.
PUBLISHER_KMS_ACTIONS = ("kms:GenerateDataKey*", "kms:Decrypt")


def publish_policy(topic_arn: str, key_arn: str, account: AwsAccount) -> str:
    """sns:Publish on this topic only, and the key only through SNS in this region."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "PublishBudgetAlerts", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn},
                {
                    "Sid": "EncryptBudgetAlertsThroughSns",
                    "Effect": "Allow",
                    "Action": list(PUBLISHER_KMS_ACTIONS),
                    "Resource": key_arn,
                    "Condition": {"StringEquals": {"kms:ViaService": f"sns.{account.region}.{account.dns_suffix}"}},
                },
            ],
        }
    )


@dataclass
class BudgetAlertTopicArgs:
    account: AwsAccount
    topic_name: str
    kms_key_arn: pulumi.Input[str]
    emails: Sequence[str]  # llm-platform:budget.emails
    tags: Mapping[str, str]


class BudgetAlertTopic(pulumi.ComponentResource):
    """Email subscriptions stay "pending confirmation" until each recipient clicks the link AWS
    mails on creation; an unconfirmed address gets no alert. AWS refuses to unsubscribe a pending
    subscription: `pulumi destroy` of one only drops it from the state, deleting the topic
    deletes them all (pulumi_aws 7.51.1 sns/topic_subscription.py NOTE on `email`, "partially
    supported" protocols, read 2026-11-30)."""

    topic_arn: pulumi.Output[str]
    publish_policy: pulumi.Output[str]

    def __init__(self, name: str, args: BudgetAlertTopicArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:aws:BudgetAlertTopic", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(
            f"{name}-topic",
            name=args.topic_name,
            display_name="LLM budget",  # the sender name of the emails (at most 100 characters)
            kms_master_key_id=args.kms_key_arn,
            tags=dict(args.tags),
            opts=child,
        )
        for i, email in enumerate(args.emails):
            aws.sns.TopicSubscription(f"{name}-email-{i}", topic=topic.arn, protocol="email", endpoint=email, opts=child)
        self.topic_arn = topic.arn
        self.publish_policy = pulumi.Output.all(topic.arn, args.kms_key_arn).apply(lambda v: publish_policy(v[0], v[1], args.account))
        self.register_outputs({"topic_arn": topic.arn})
