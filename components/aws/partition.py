"""Account facts every AWS component needs, resolved once per stack."""

from __future__ import annotations

from dataclasses import dataclass

# Services whose principal ends in the partition's DNS suffix in aws-cn (see service_principal).
CN_PARTITIONAL_PRINCIPALS = frozenset({"ec2", "s3", "codedeploy", "elasticmapreduce"})


@dataclass(frozen=True)
class AwsAccount:
    account_id: str
    partition: str  # aws | aws-cn | aws-us-gov
    region: str
    dns_suffix: str  # amazonaws.com | amazonaws.com.cn

    @property
    def reverse_dns_prefix(self) -> str:
        """Prefix of VPC endpoint service names: com.amazonaws, or cn.com.amazonaws in China."""
        return "cn.com.amazonaws" if self.partition == "aws-cn" else "com.amazonaws"

    def service_principal(self, service: str) -> str:
        """CloudWatch Logs uses a regional principal; most services use `<service>.amazonaws.com`
        in every partition. In aws-cn, EC2, S3, CodeDeploy and EMR use `<service>.amazonaws.com.cn`:
        the `aws_service_principal` table of terraform-provider-aws (internal/service/meta/
        service_principal_data_source.go; ec2 and s3 added by PR #47141, merged 2026-03-30) and
        EKS's own check ("Following required service principals [ec2.amazonaws.com.cn] were not
        found in the trust relationships of nodeRole", awslabs/cdk-eks-blueprints#558), read
        2026-11-30."""
        if service == "logs":
            return f"logs.{self.region}.{self.dns_suffix}"
        if self.partition == "aws-cn" and service in CN_PARTITIONAL_PRINCIPALS:
            return f"{service}.{self.dns_suffix}"
        return f"{service}.amazonaws.com"

    def arn(self, service: str, resource: str, region: str | None = None, account: str | None = None) -> str:
        return f"arn:{self.partition}:{service}:{self.region if region is None else region}:{self.account_id if account is None else account}:{resource}"
