"""EKS for self-hosted models: private endpoint by default (reachable on 443 from the VPC and the
configured admin networks), secrets envelope-encrypted with the platform key, every control-plane
log, access entries for the configured admins and a read-only preview identity, a system node
group and GPU node groups that carry the shared GPU taint and label, tag their instances through
launch templates, describe themselves to the Cluster Autoscaler for scale-from-zero and scale
between a configured minimum (0 allowed) and a required maximum. Workloads get AWS roles through
EKS Pod Identity."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.partition import AwsAccount
from components.k8s.gpu import GPU, GPU_INSTANCES, POOL_LABEL
from components.k8s.serving import NODEFS_EVICTION_FRACTION

CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
ADDONS = ("vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent", "metrics-server")
# EKS access policies (https://docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html,
# checked 2026-08): cluster-admin for the configured admins, view (no Secrets) for previews.
CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
VIEW_POLICY = "AmazonEKSViewPolicy"
# Cluster Autoscaler on AWS (kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/README.md,
# aws_cloud_provider.go and aws_manager.go @55c37cd, 2026-08-22; buildNodeFromTemplate unchanged
# at the cluster-autoscaler-1.35.0 and -1.36.0 tags the chart runs): GPU nodes carry this label
# from the kubelet so the autoscaler waits for the device plugin instead of adding nodes; node
# groups describe their labels, taints and resources in ASG tags so a group at zero nodes can be
# simulated. The simulated node gets the instance type's full vCPUs, memory and GPUs as
# allocatable, and only the resources the tags name besides.
AUTOSCALER_GPU_LABEL = "k8s.amazonaws.com/accelerator"
AUTOSCALER_TEMPLATE = "k8s.io/cluster-autoscaler/node-template"

# The kubelet on EKS AL2023 nodes (nodeadm, awslabs/amazon-eks-ami nodeadm/internal/kubelet/
# config.go @e48b98ad65e761801e76fefe006ca884352841d0, read 2026-11-30) reserves 1Gi of node disk
# (kubeReserved ephemeral-storage) and evicts below nodefs.available 10%; both come off the
# allocatable ephemeral storage (kubernetes pkg/kubelet/cm/helpers.go hardEvictionReservation).
KUBE_RESERVED_EPHEMERAL_GIB = 1
# The root filesystem is a little smaller than the EBS volume (partition table, XFS metadata and
# log): estimated generously so the template never promises disk a real node lacks.
ROOT_FS_OVERHEAD_FRACTION = 0.02


def allocatable_ephemeral_gib(disk_size_gb: int) -> int:
    """A lower estimate of the ephemeral storage a node with this root volume makes allocatable."""
    return math.floor(disk_size_gb * (1 - ROOT_FS_OVERHEAD_FRACTION) * (1 - NODEFS_EVICTION_FRACTION)) - KUBE_RESERVED_EPHEMERAL_GIB


# Who runs `pulumi up`, as sts:GetCallerIdentity reports it: an IAM user's ARN (with its path), or
# an assumed role's session ARN, which drops the role's path (IAM User Guide, "IAM identifiers":
# arn:aws:sts::<account>:assumed-role/<role name>/<session>). Role and user names are unique in an
# account whatever their path, and not distinguished by case.
_CALLER_ARN = re.compile(r"^arn:[\w-]+:(?:iam::(?P<user_account>\d{12}):user/(?:.*/)?(?P<user>[^/]+)|sts::(?P<role_account>\d{12}):assumed-role/(?P<role>[^/]+)/.+)$")
_PRINCIPAL_ARN = re.compile(r"^arn:[\w-]+:iam::(?P<account>\d{12}):(?P<kind>role|user)/(?:.*/)?(?P<name>[^/]+)$")


def names_the_caller(principal_arn: str, caller_arn: str) -> bool:
    """Whether an IAM role or user ARN is the identity running `pulumi up`. EKS gives that identity
    its own admin access entry (bootstrapClusterCreatorAdminPermissions); a second entry for it
    fails with ResourceInUseException."""
    caller, principal = _CALLER_ARN.match(caller_arn), _PRINCIPAL_ARN.match(principal_arn)
    if caller is None or principal is None:
        return False
    kind = "user" if caller["user"] else "role"
    account = caller["user_account"] or caller["role_account"]
    name = caller["user"] or caller["role"]
    return principal["kind"] == kind and principal["account"] == account and principal["name"].lower() == name.lower()


@dataclass(frozen=True)
class NodePool:
    name: str
    instance_type: str
    min_size: int
    max_size: int
    disk_size_gb: int
    gpu: bool
    spot: bool = False

    @property
    def labels(self) -> dict[str, str]:
        labels = {POOL_LABEL: self.name}
        if self.gpu:
            labels |= {**GPU.node_labels, AUTOSCALER_GPU_LABEL: GPU_INSTANCES[self.instance_type].accelerator}
        return labels

    @property
    def autoscaler_tags(self) -> dict[str, str]:
        """What the Cluster Autoscaler must know of a node before one exists (ASG tags)."""
        tags = {f"{AUTOSCALER_TEMPLATE}/label/{k}": v for k, v in self.labels.items()}
        if self.gpu:
            tags[f"{AUTOSCALER_TEMPLATE}/taint/{GPU.taint_key}"] = f"{GPU.taint_value}:NoSchedule"
            tags[f"{AUTOSCALER_TEMPLATE}/resources/{GPU.resource}"] = str(GPU_INSTANCES[self.instance_type].gpus)
        # The template node has no ephemeral storage unless a tag says so (aws_manager.go
        # buildNodeFromTemplate, kubernetes/autoscaler#1869): a pod requesting any (the model
        # servers do) never fits it and the pool never scales from zero. The value is a Kubernetes
        # quantity (resource.ParseQuantity; README: "the units used in the resources field").
        tags[f"{AUTOSCALER_TEMPLATE}/resources/ephemeral-storage"] = f"{allocatable_ephemeral_gib(self.disk_size_gb)}Gi"
        return tags


@dataclass
class EksClusterArgs:
    account: AwsAccount
    cluster_name: str
    kubernetes_version: str
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    # Networks that reach the API server's private endpoint on 443: the VPC and the admin networks.
    api_cidrs: Sequence[str]
    private_endpoint: bool
    public_access_cidrs: Sequence[str]
    kms_key_arn: pulumi.Input[str]
    log_retention_days: int
    pools: Sequence[NodePool]
    tags: Mapping[str, str]
    # Besides the identity that creates the cluster (admin through the bootstrap access entry).
    cluster_admins: Sequence[str] = ()
    preview_principal: str | None = None


# Services that do not send aws:SourceAccount when they assume a role: EC2 fetching instance-profile
# credentials is not a cross-service request, and a StringEquals on a key the request lacks
# denies it, so the nodes would get no credentials. AWS's own node-role trust policy has no
# condition (EKS User Guide, "Amazon EKS node IAM role"; prowler-cloud/prowler#2810 exempts
# ec2.amazonaws.com from its confused-deputy check for this reason).
SERVICES_WITHOUT_SOURCE_CONTEXT = frozenset({"ec2.amazonaws.com", "ec2.amazonaws.com.cn"})


def _trust(service: str, account: AwsAccount, actions: Sequence[str] = ("sts:AssumeRole",)) -> str:
    statement: dict[str, object] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": list(actions)}
    if service not in SERVICES_WITHOUT_SOURCE_CONTEXT:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account.account_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


class EksCluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    node_groups: list[aws.eks.NodeGroup]
    addons: dict[str, aws.eks.Addon]

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:aws:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        account = args.account
        managed = f"arn:{account.partition}:iam::aws:policy"

        cluster_role = aws.iam.Role(f"{name}-cluster", description="EKS control plane", assume_role_policy=_trust("eks.amazonaws.com", account, ("sts:AssumeRole", "sts:TagSession")), tags=tags, opts=child)
        aws.iam.RolePolicyAttachment(f"{name}-cluster-policy", role=cluster_role.name, policy_arn=f"{managed}/AmazonEKSClusterPolicy", opts=child)
        # The log group EKS writes to, created first so retention and the key are ours.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane",
            name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child,
        )
        # The cluster security group EKS creates admits only itself: without this one nothing in
        # the VPC (a runner, a VPN) can reach the private endpoint.
        api_access = aws.ec2.SecurityGroup(
            f"{name}-api-access",
            vpc_id=args.vpc_id,
            description=f"{args.cluster_name} API server (private endpoint) from the VPC and admin networks",
            tags=tags,
            opts=child,
        )
        for i, cidr in enumerate(args.api_cidrs):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-api-access-{i}",
                security_group_id=api_access.id,
                description="Kubernetes API (HTTPS)",
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                cidr_ipv4=cidr,
                tags=tags,
                opts=child,
            )
        cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=args.cluster_name,
            version=args.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=list(args.subnet_ids),
                security_group_ids=[api_access.id],
                endpoint_private_access=True,
                endpoint_public_access=not args.private_endpoint,
                public_access_cidrs=list(args.public_access_cidrs) if not args.private_endpoint else None,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=args.kms_key_arn), resources=["secrets"]),
            enabled_cluster_log_types=CONTROL_PLANE_LOGS,
            access_config=aws.eks.ClusterAccessConfigArgs(authentication_mode="API", bootstrap_cluster_creator_admin_permissions=True),
            # No extended support (cost): components/k8s/versions.py refuses a version EKS would upgrade.
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )

        node_role = aws.iam.Role(f"{name}-nodes", description="EKS worker nodes", assume_role_policy=_trust(account.service_principal("ec2"), account), tags=tags, opts=child)
        # PullOnly: the nodes pull every pod image from ECR repositories of the stack's account
        # (a mirror in another account also needs a repository policy there). Node groups wait for
        # these: a node that boots without them cannot join or pull.
        node_policies = [
            aws.iam.RolePolicyAttachment(f"{name}-nodes-{policy}", role=node_role.name, policy_arn=f"{managed}/{policy}", opts=child)
            for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy")
        ]

        self.node_groups = []
        for pool in args.pools:
            template = aws.ec2.LaunchTemplate(
                f"{name}-{pool.name}",
                description=f"{args.cluster_name} {pool.name}: encrypted root volume, IMDSv2, cost tags on instances",
                update_default_version=True,
                metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1),
                block_device_mappings=[
                    aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                        device_name="/dev/xvda",
                        ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(volume_size=pool.disk_size_gb, volume_type="gp3", encrypted="true", kms_key_id=args.kms_key_arn, delete_on_termination="true"),
                    )
                ],
                # Node-group tags stop at the node group; these reach the instances and volumes.
                tag_specifications=[
                    aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags={**tags, POOL_LABEL: pool.name})
                    for kind in ("instance", "volume", "network-interface")
                ],
                tags=tags,
                opts=child,
            )
            group = aws.eks.NodeGroup(
                f"{name}-{pool.name}",
                cluster_name=cluster.name,
                # A generated name: instance type, AMI type, capacity type and subnets replace the
                # group, and Pulumi creates the new one before deleting the old (a fixed name would
                # fail with ResourceInUseException).
                node_group_name_prefix=f"{pool.name}-",
                node_role_arn=node_role.arn,
                subnet_ids=list(args.subnet_ids),
                instance_types=[pool.instance_type],
                ami_type="AL2023_x86_64_NVIDIA" if pool.gpu else "AL2023_x86_64_STANDARD",
                capacity_type="SPOT" if pool.spot else "ON_DEMAND",
                scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=pool.min_size, max_size=pool.max_size, desired_size=pool.min_size),
                launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=template.id, version=template.latest_version.apply(str)),
                taints=[aws.eks.NodeGroupTaintArgs(**GPU.eks_taint)] if pool.gpu else None,
                labels=pool.labels,
                update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
                tags=tags,
                # The cluster autoscaler owns the desired size once the group exists (wire name).
                opts=pulumi.ResourceOptions(parent=self, depends_on=node_policies, ignore_changes=["scalingConfig.desiredSize"]),
            )
            self.node_groups.append(group)
            # Node-group tags do not reach the Auto Scaling group, and the autoscaler reads the
            # node group's own labels and taints only until its first node: tag the ASG.
            asg_name = group.resources.apply(lambda r: r[0].autoscaling_groups[0].name)
            for key, value in sorted(pool.autoscaler_tags.items()):
                aws.autoscaling.Tag(
                    f"{name}-{pool.name}-{key.removeprefix(AUTOSCALER_TEMPLATE + '/').replace('/', '-')}",
                    autoscaling_group_name=asg_name,
                    tag=aws.autoscaling.TagTagArgs(key=key, value=value, propagate_at_launch=False),
                    opts=child,
                )

        access_policy = f"arn:{account.partition}:eks::aws:cluster-access-policy"
        for i, principal in enumerate(args.cluster_admins):
            self._access_entry(f"{name}-admin-{i}", cluster, principal, f"{access_policy}/{CLUSTER_ADMIN_POLICY}", tags)
        if args.preview_principal:
            self._access_entry(f"{name}-preview", cluster, args.preview_principal, f"{access_policy}/{VIEW_POLICY}", tags)

        self.addons = {}
        for addon in ADDONS:
            configuration = json.dumps({"enableNetworkPolicy": "true"}) if addon == "vpc-cni" else None
            self.addons[addon] = (
                aws.eks.Addon(
                    f"{name}-{addon}",
                    cluster_name=cluster.name,
                    addon_name=addon,
                    configuration_values=configuration,
                    resolve_conflicts_on_create="OVERWRITE",
                    resolve_conflicts_on_update="OVERWRITE",
                    tags=tags,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=self.node_groups if addon in ("coredns", "metrics-server") else []),
                )
            )

        self._cluster = cluster
        self._account = account
        self._tags = tags
        self.cluster_name = cluster.name
        self.kubeconfig = pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority.data).apply(
            lambda v: json.dumps(eks_kubeconfig(v[0], v[1], v[2], account.region))
        )
        self.register_outputs({"cluster_name": cluster.name})

    def _access_entry(self, name: str, cluster: aws.eks.Cluster, principal: str, policy_arn: str, tags: Mapping[str, str]) -> None:
        entry = aws.eks.AccessEntry(name, cluster_name=cluster.name, principal_arn=principal, type="STANDARD", tags=dict(tags), opts=pulumi.ResourceOptions(parent=self))
        aws.eks.AccessPolicyAssociation(
            f"{name}-policy",
            cluster_name=cluster.name,
            principal_arn=principal,
            policy_arn=policy_arn,
            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
        )

    def workload_role(self, name: str, namespace: str, service_account: str, policies: Mapping[str, pulumi.Input[str]]) -> PodIdentity:
        """An IAM role a Kubernetes service account assumes through EKS Pod Identity. Workloads
        using the service account must depend on the association: a pod started before it exists
        gets no credentials (the agent injects them at pod creation)."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            description=f"EKS pod identity for {namespace}/{service_account}",
            assume_role_policy=_trust("pods.eks.amazonaws.com", self._account, ("sts:AssumeRole", "sts:TagSession")),
            tags=self._tags,
            opts=child,
        )
        # The association hands out credentials as soon as it exists: the role's policies first.
        role_policies = [aws.iam.RolePolicy(f"{name}-{policy_name}", role=role.id, policy=document, opts=child) for policy_name, document in sorted(policies.items())]
        association = aws.eks.PodIdentityAssociation(
            f"{name}-association",
            cluster_name=self._cluster.name,
            namespace=namespace,
            service_account=service_account,
            role_arn=role.arn,
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.addons["eks-pod-identity-agent"], *role_policies]),
        )
        return PodIdentity(role, association)


@dataclass(frozen=True)
class PodIdentity:
    role: aws.iam.Role
    association: aws.eks.PodIdentityAssociation


def eks_kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> dict[str, object]:
    """Authenticates with `aws eks get-token` (AWS CLI) as the caller of `pulumi up`."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [
            {
                "name": cluster_name,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
                    }
                },
            }
        ],
    }


def autoscaler_policy(cluster_name: str, account: AwsAccount) -> str:
    """Cluster Autoscaler (AWS docs): read everywhere; resize only this cluster's groups."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Discover",
                    "Effect": "Allow",
                    "Action": [
                        "autoscaling:DescribeAutoScalingGroups",
                        "autoscaling:DescribeAutoScalingInstances",
                        "autoscaling:DescribeLaunchConfigurations",
                        "autoscaling:DescribeScalingActivities",
                        "autoscaling:DescribeTags",
                        "ec2:DescribeImages",
                        "ec2:DescribeInstanceTypes",
                        "ec2:DescribeLaunchTemplateVersions",
                        "ec2:GetInstanceTypesFromInstanceRequirements",
                    ],
                    # These Describe calls have no resource-level permissions.
                    "Resource": "*",
                },
                {
                    # Node-group labels and taints for scale-from-zero templates (IAM reference:
                    # DescribeNodegroup takes nodegroup ARNs).
                    "Sid": "DescribeOwnNodeGroups",
                    "Effect": "Allow",
                    "Action": ["eks:DescribeNodegroup"],
                    "Resource": account.arn("eks", f"nodegroup/{cluster_name}/*/*"),
                },
                {
                    "Sid": "ResizeOwnGroups",
                    "Effect": "Allow",
                    "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}},
                },
            ],
        }
    )
