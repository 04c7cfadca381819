"""Mocks for the offline engine: realistic ids and ARNs, answers to the invokes the program uses.

Only ids, ARNs and names are predicted; every other computed output is left out, so under
preview it stays unknown exactly as `pulumi preview` would show it. Ids are derived from the
URN with a hash, so two plans of the same program are identical and can be diffed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

from policies.llm_guard.location import reveal
from policies.llm_guard.regions import aws_partition_of

# Interface endpoint services with the cn.com.amazonaws prefix, per China region (sources in the file).
CN_PREFIXED_ENDPOINT_SERVICES: Mapping[str, tuple[str, ...]] = {
    region: tuple(services) for region, services in yaml.safe_load((Path(__file__).resolve().parents[1] / "data" / "aws_cn_endpoint_services.yaml").read_text()).items()
}

MOCK_ACCOUNT_ID = "123456789012"
MOCK_SUBSCRIPTION_ID = "00000000-0000-4000-8000-000000000001"
MOCK_TENANT_ID = "00000000-0000-4000-8000-0000000000aa"
MOCK_PRINCIPAL_ID = "00000000-0000-4000-8000-0000000000bb"
MOCK_KUBELET_OBJECT_ID = "00000000-0000-4000-8000-00000000cbe1"

# Inputs that carry a resource's own physical name, by type-token prefix (first match wins).
_AWS_NAME_INPUTS = ("name", "bucket", "identifier", "replicationGroupId", "family", "clusterIdentifier", "functionName", "collectionName", "domainName", "guardrailName")
_EC2_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/flowLog:FlowLog": "fl",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
}
# ARN resource part by type token; {name} is the physical name, {hex} a stable hex id.
_ARN_RESOURCE = {
    "aws:kms/key:Key": "key/{uuid}",
    "aws:kms/alias:Alias": "{name}",
    "aws:secretsmanager/secret:Secret": "secret:{name}-{suffix}",
    "aws:cloudwatch/logGroup:LogGroup": "log-group:{name}",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "alarm:{name}",
    "aws:rds/instance:Instance": "db:{name}",
    "aws:rds/cluster:Cluster": "cluster:{name}",
    "aws:rds/clusterInstance:ClusterInstance": "db:{name}",
    "aws:rds/subnetGroup:SubnetGroup": "subgrp:{name}",
    "aws:rds/parameterGroup:ParameterGroup": "pg:{name}",
    "aws:elasticache/replicationGroup:ReplicationGroup": "replicationgroup:{name}",
    "aws:elasticache/subnetGroup:SubnetGroup": "subnetgroup:{name}",
    "aws:ecs/cluster:Cluster": "cluster/{name}",
    "aws:ecs/taskDefinition:TaskDefinition": "task-definition/{name}:1",
    "aws:ecs/service:Service": "service/{name}",
    "aws:lb/loadBalancer:LoadBalancer": "loadbalancer/app/{name}/{hex}",
    "aws:lb/targetGroup:TargetGroup": "targetgroup/{name}/{hex}",
    "aws:lb/listener:Listener": "listener/app/{name}/{hex}",
    "aws:lb/listenerRule:ListenerRule": "listener-rule/app/{name}/{hex}",
    "aws:bedrock/inferenceProfile:InferenceProfile": "application-inference-profile/{hex12}",
    "aws:bedrock/guardrail:Guardrail": "guardrail/{hex12}",
    "aws:opensearch/serverlessCollection:ServerlessCollection": "collection/{hex12}",
    "aws:eks/cluster:Cluster": "cluster/{name}",
    "aws:eks/nodeGroup:NodeGroup": "nodegroup/{name}/{uuid}",
    "aws:ec2/launchTemplate:LaunchTemplate": "launch-template/lt-{hex}",
    "aws:sns/topic:Topic": "{name}",
    "aws:ssm/parameter:Parameter": "parameter/{name_no_slash}",
}
_ARN_SERVICE = {"cloudwatch": "logs", "lb": "elasticloadbalancing", "opensearch": "aoss", "elasticache": "elasticache", "vpc": "ec2"}
_GLOBAL_ARN_SERVICES = {"iam": "{kind}/{name}", "budgets": "budget/{name}"}


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _azure_output_shapes(value: Any) -> Any:
    """azure-native takes user-assigned identities as a list of ids but returns a map of them."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "userAssignedIdentities" and isinstance(v, list):
                out[k] = {str(i): {"principalId": MOCK_PRINCIPAL_ID, "clientId": MOCK_PRINCIPAL_ID} for i in v}
            else:
                out[k] = _azure_output_shapes(v)
        return out
    if isinstance(value, list):
        return [_azure_output_shapes(v) for v in value]
    return value


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


class OfflineMocks(Mocks):
    """`provider_region(ref)` tells the region an explicit provider reference points at."""

    def __init__(self, stack_config: Mapping[str, Any], provider_inputs: Callable[[str | None], Mapping[str, Any] | None]) -> None:
        self._config = stack_config
        self._provider_inputs = provider_inputs

    # -------------------------------------------------------------- resources
    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.custom is False:
            return "", {}
        token = args.typ
        inputs = dict(args.inputs)
        if token.startswith("pulumi:providers:"):
            return _digest(token, args.name)[:8] + "-0000-4000-8000-" + _digest(args.name)[:12], inputs
        package = token.split(":", 1)[0]
        if package == "aws":
            return self._aws(args, inputs)
        if package == "azure-native":
            return self._azure(args, inputs)
        if package == "kubernetes":
            metadata = inputs.get("metadata") or {}
            namespace = metadata.get("namespace") or "default"
            name = metadata.get("name") or f"{args.name}-{_digest(token, args.name)[:8]}"
            return f"{namespace}/{name}", {**inputs, "metadata": {**metadata, "name": name, "namespace": namespace}}
        if package == "random":
            return _digest(token, args.name)[:16], inputs
        return f"{args.name}-{_digest(token, args.name)[:8]}", inputs

    def _aws_region(self, args: MockResourceArgs, inputs: Mapping[str, Any]) -> str:
        region = reveal(inputs.get("region"))
        if isinstance(region, str) and region:
            return region
        provider = self._provider_inputs(args.provider) if args.provider else None
        if provider and isinstance(reveal(provider.get("region")), str):
            return str(reveal(provider["region"]))
        return str(self._config.get("aws:region", "us-east-1"))

    def _aws(self, args: MockResourceArgs, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        token = args.typ
        module, _, kind = token.split(":", 2)[1].partition("/")
        kind = kind or token.rsplit(":", 1)[-1]
        region = self._aws_region(args, inputs)
        partition = aws_partition_of(region) or "aws"
        h = _digest(token, args.name)
        physical = next((str(reveal(inputs[k])) for k in _AWS_NAME_INPUTS if isinstance(reveal(inputs.get(k)), str)), None)
        if physical is None:
            prefix = reveal(inputs.get("namePrefix")) or reveal(inputs.get("bucketPrefix"))
            physical = f"{prefix}{h[:12]}" if isinstance(prefix, str) else f"{args.name}-{h[:7]}"
        uuid = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"
        values = {"name": physical, "name_no_slash": physical.lstrip("/"), "hex": h[:16], "hex12": h[:12], "uuid": uuid, "suffix": h[:6], "kind": _kebab(kind)}
        service = _ARN_SERVICE.get(module, module)
        if module == "s3" and token.startswith("aws:s3/bucket:Bucket"):
            arn = f"arn:{partition}:s3:::{physical}"
            resource_id = physical
        elif module in _GLOBAL_ARN_SERVICES:
            template = _GLOBAL_ARN_SERVICES[module]
            arn = f"arn:{partition}:{service}::{MOCK_ACCOUNT_ID}:{template.format(**values)}"
            resource_id = physical
        else:
            template = _ARN_RESOURCE.get(token, _kebab(kind) + "/{name}")
            arn = f"arn:{partition}:{service}:{region}:{MOCK_ACCOUNT_ID}:{template.format(**values)}"
            resource_id = arn if module in ("secretsmanager", "lb", "bedrock") else physical
        if token in _EC2_ID_PREFIX:
            resource_id = f"{_EC2_ID_PREFIX[token]}-{h[:17]}"
            arn = f"arn:{partition}:ec2:{region}:{MOCK_ACCOUNT_ID}:{_kebab(kind)}/{resource_id}"
        if token == "aws:kms/key:Key":
            resource_id = uuid
        outputs: dict[str, Any] = {**inputs, "arn": arn}
        if "name" not in inputs and token not in _EC2_ID_PREFIX:
            outputs["name"] = physical
        if token == "aws:kms/key:Key":
            outputs["keyId"] = uuid
        if token == "aws:s3/bucket:Bucket":
            outputs["bucket"] = physical
        if token == "aws:ecs/taskDefinition:TaskDefinition":
            outputs["arnWithoutRevision"] = arn.rsplit(":", 1)[0]
            outputs["revision"] = 1
        if token == "aws:iam/role:Role":
            outputs["uniqueId"] = "AROA" + h[:17].upper()
        if token == "aws:bedrock/guardrail:Guardrail":
            outputs.update(guardrailArn=arn, guardrailId=h[:12], version="DRAFT")
        if token == "aws:bedrock/guardrailVersion:GuardrailVersion":
            outputs["version"] = "1"
        if token == "aws:eks/cluster:Cluster":
            outputs["endpoint"] = f"https://{h[:32].upper()}.gr7.{region}.eks.amazonaws.com"
            outputs["certificateAuthority"] = {"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCm9mZmxpbmUKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="}
        return resource_id, outputs

    def _azure(self, args: MockResourceArgs, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        token = args.typ
        _, module, kind = token.split(":")
        h = _digest(token, args.name)
        name_key = next((k for k in inputs if k.endswith("Name") and k[: -len("Name")].lower() == kind.lower()), None)
        if name_key is None and "resourceName" in inputs:
            name_key = "resourceName"  # e.g. managedClusters, userAssignedIdentities
        physical = str(reveal(inputs[name_key])) if name_key and isinstance(reveal(inputs.get(name_key)), str) else f"{args.name}{h[:8]}"
        rg = reveal(inputs.get("resourceGroupName"))
        provider_ns = f"Microsoft.{module.capitalize()}"
        scope = f"/subscriptions/{MOCK_SUBSCRIPTION_ID}"
        if token == "azure-native:resources:ResourceGroup":
            resource_id = f"{scope}/resourceGroups/{physical}"
        elif isinstance(rg, str):
            resource_id = f"{scope}/resourceGroups/{rg}/providers/{provider_ns}/{kind[0].lower()}{kind[1:]}s/{physical}"
        else:
            resource_id = f"{scope}/providers/{provider_ns}/{kind[0].lower()}{kind[1:]}s/{physical}"
        outputs = {**_azure_output_shapes(inputs), "name": physical, "azureApiVersion": "mock"}
        if token == "azure-native:managedidentity:UserAssignedIdentity":
            outputs["principalId"] = MOCK_PRINCIPAL_ID
            outputs["clientId"] = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"
            outputs["tenantId"] = MOCK_TENANT_ID
        if token == "azure-native:containerservice:ManagedCluster":
            # AKS creates the kubelet identity with the cluster (in the node resource group).
            outputs["identityProfile"] = {"kubeletidentity": {"objectId": MOCK_KUBELET_OBJECT_ID, "clientId": MOCK_KUBELET_OBJECT_ID, "resourceId": f"{scope}/resourceGroups/MC_{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{physical}-agentpool"}}
        return resource_id, outputs

    @staticmethod
    def _vpc_endpoint_service(inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
        """DescribeVpcEndpointServices as the region answers it: in China, the services named
        cn.com.amazonaws.<region>.<service> (scripts/data/aws_cn_endpoint_services.yaml, from
        the DescribeVpcEndpointServices output quoted in aws/aws-cdk#25329 and aws-cdk-lib's table)."""
        names = [v for f in inputs.get("filters") or [] if f.get("name") == "service-name" for v in f.get("values") or []]
        if inputs.get("serviceName"):
            names.append(inputs["serviceName"])
        cn_prefixed = set(CN_PREFIXED_ENDPOINT_SERVICES.get(region, ()))
        exists = [n for n in names if (n.startswith("cn.com.amazonaws.") and n.rsplit(f"{region}.", 1)[-1] in cn_prefixed) or (n.startswith("com.amazonaws.") and n.rsplit(f"{region}.", 1)[-1] not in cn_prefixed)]
        if len(exists) != 1:
            raise NotImplementedError(f"no single VPC endpoint service matches {names} in {region}")
        kind = inputs.get("serviceType") or "Interface"
        return {"serviceName": exists[0], "serviceType": kind, "service": exists[0].rsplit(f"{region}.", 1)[-1], "id": region, "acceptanceRequired": False, "availabilityZones": [f"{region}a", f"{region}b"], "baseEndpointDnsNames": [], "managesVpcEndpoints": False, "owner": "amazon", "privateDnsName": "", "privateDnsNames": [], "region": region, "serviceId": "vpce-svc-offline", "supportedIpAddressTypes": ["ipv4"], "tags": {}, "vpcEndpointPolicySupported": True}

    # -------------------------------------------------------------- invokes
    def call(self, args: MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        token = args.token
        provider = self._provider_inputs(args.provider) if args.provider else None
        region = str(reveal((provider or {}).get("region")) or self._config.get("aws:region", "us-east-1"))
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            partition = aws_partition_of(region) or "aws"
            return {
                "accountId": MOCK_ACCOUNT_ID,
                "arn": f"arn:{partition}:iam::{MOCK_ACCOUNT_ID}:user/offline-plan",
                "userId": "AIDAOFFLINEPLAN",
                "id": MOCK_ACCOUNT_ID,
            }
        if token == "aws:index/getPartition:getPartition":
            partition = aws_partition_of(region) or "aws"
            suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
            return {"partition": partition, "dnsSuffix": suffix, "reverseDnsPrefix": "cn.com.amazonaws" if partition == "aws-cn" else "com.amazonaws", "id": partition}
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            letters = "ab" if region.startswith("cn-") else "abc"
            names = [f"{region}{letter}" for letter in letters]
            return {"names": names, "zoneIds": [f"{region[:3]}az{i + 1}" for i in range(len(names))], "id": region, "groupNames": [region]}
        if token == "aws:index/getRegion:getRegion":
            return {"name": region, "region": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com"}
        if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            account, ecr_region = args.args.get("registryId") or MOCK_ACCOUNT_ID, args.args.get("region") or region
            suffix = "amazonaws.com.cn" if ecr_region.startswith("cn-") else "amazonaws.com"
            return {"authorizationToken": "offline", "password": "offline-ecr-token", "userName": "AWS", "expiresAt": "", "proxyEndpoint": f"https://{account}.dkr.ecr.{ecr_region}.{suffix}", "region": ecr_region, "id": ecr_region}
        if token == "aws:ec2/getVpcEndpointService:getVpcEndpointService":
            return self._vpc_endpoint_service(args.args, region)
        if token == "azure-native:authorization:getClientConfig":
            return {"clientId": MOCK_PRINCIPAL_ID, "objectId": MOCK_PRINCIPAL_ID, "subscriptionId": MOCK_SUBSCRIPTION_ID, "tenantId": MOCK_TENANT_ID}
        raise NotImplementedError(f"the offline engine has no mock for invoke {token}; add one to scripts/engine/mocks.py")
