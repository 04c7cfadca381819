"""Amazon ECR as the stack's mirror: who may pull from it, and Helm's login to an ECR chart mirror."""

from __future__ import annotations

import re
from typing import NamedTuple

import pulumi
import pulumi_aws as aws

from components.mirrors import ChartLogin

# <account>.dkr.ecr.<region>.amazonaws.com[.cn] (docs.aws.amazon.com/AmazonECR/latest/userguide/Registries.html)
_ECR_HOST = re.compile(r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?")


class EcrRegistry(NamedTuple):
    account: str
    region: str


def ecr_registry(reference: str | None) -> EcrRegistry | None:
    """The ECR registry of an image registry path or an oci:// chart repository, else None."""
    host = (reference or "").removeprefix("oci://").split("/", 1)[0]
    match = _ECR_HOST.fullmatch(host)
    return EcrRegistry(match["account"], match["region"]) if match else None


# ECR's Docker/OCI login: user "AWS", password the decoded GetAuthorizationToken token, valid 12
# hours and only in the region it was asked in (docs.aws.amazon.com/AmazonECR/latest/userguide/
# registry_auth.html and .../APIReference/API_GetAuthorizationToken.html, read 2026-11-30).
ECR_USERNAME = "AWS"


def ecr_chart_login(helm_repository: str | None, provider: pulumi.ProviderResource) -> ChartLogin | None:
    """The login Helm needs for an ECR chart mirror, asked of ECR with the stack's AWS identity at
    every `pulumi up` (it needs ecr:GetAuthorizationToken and pull rights on the chart
    repositories; a mirror in another account also needs a repository policy granting them).
    A fresh token each run is a new repositoryOpts.password: the releases show an update (a Helm
    upgrade to the same chart) on each run."""
    registry = ecr_registry(helm_repository)
    if registry is None:
        return None
    token = aws.ecr.get_authorization_token_output(registry_id=registry.account, region=registry.region, opts=pulumi.InvokeOutputOptions(provider=provider))
    return ChartLogin(ECR_USERNAME, pulumi.Output.secret(token.password))
