"""Account facts every AWS component needs, resolved once per stack."""

from __future__ import annotations

from dataclasses import dataclass


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
        """CloudWatch Logs uses a regional principal; most services use `<service>.<suffix>`.

        In aws-cn, service principals end in amazonaws.com for most services
        (AWS docs, "Service principals in the China Regions"), except a few regional ones.
        """
        if service == "logs":
            return f"logs.{self.region}.{self.dns_suffix}"
        return f"{service}.amazonaws.com"

    def arn(self, service: str, resource: str, region: str | None = None, account: str | None = None) -> str:
        return f"arn:{self.partition}:{service}:{self.region if region is None else region}:{self.account_id if account is None else account}:{resource}"
