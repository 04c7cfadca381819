"""Runs an `AppSpec` on ECS Fargate behind an Application Load Balancer.

Secrets reach containers only as task secrets (`valueFrom` ARN references); the execution role
may read exactly those secrets and decrypt with the platform key, nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.partition import AwsAccount
from components.lowcode import AppSpec, Container, PublicUrl, SecretRef, Service, image
from components.naming import short_hash

# TLS 1.3 with 1.2 fallback (ELB security policies, AWS docs).
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"

# Fargate task sizes: CPU units -> allowed memory in MiB. AWS ECS developer guide, "Fargate task
# CPU and memory" (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size,
# checked 2026-07): 256 -> 512/1024/2048; 512 -> 1-4 GB, 1024 -> 2-8 GB, 2048 -> 4-16 GB,
# 4096 -> 8-30 GB in 1 GB steps; 8192 -> 16-60 GB in 4 GB steps; 16384 -> 32-120 GB in 8 GB steps.
FARGATE_TASK_SIZES: Mapping[int, frozenset[int]] = {
    256: frozenset({512, 1024, 2048}),
    512: frozenset(range(1024, 4096 + 1, 1024)),
    1024: frozenset(range(2048, 8192 + 1, 1024)),
    2048: frozenset(range(4096, 16384 + 1, 1024)),
    4096: frozenset(range(8192, 30720 + 1, 1024)),
    8192: frozenset(range(16384, 61440 + 1, 4096)),
    16384: frozenset(range(32768, 122880 + 1, 8192)),
}


def task_size_problems(service: Service) -> list[str]:
    """Why ECS would refuse this service's task definition (empty when it would not)."""
    problems = []
    if service.task_memory not in FARGATE_TASK_SIZES.get(service.task_cpu, frozenset()):
        problems.append(f"cpu {service.task_cpu} / memory {service.task_memory} MiB is not a Fargate task size")
    cpu = sum(c.cpu for c in service.containers)
    memory = sum(c.memory for c in service.containers)
    if cpu > service.task_cpu:
        problems.append(f"its containers reserve {cpu} CPU units, more than the task's {service.task_cpu}")
    if memory > service.task_memory:
        problems.append(f"its containers reserve {memory} MiB, more than the task's {service.task_memory}")
    return problems



def https_egress(name: str, security_group_id: pulumi.Input[str], tags: Mapping[str, str], opts: pulumi.ResourceOptions) -> aws.vpc.SecurityGroupEgressRule:
    """HTTPS out of a task's security group: AWS endpoints and LLM APIs (through NAT, if any)."""
    return aws.vpc.SecurityGroupEgressRule(
        name,
        security_group_id=security_group_id,
        cidr_ipv4="0.0.0.0/0",
        ip_protocol="tcp",
        from_port=443,
        to_port=443,
        description="HTTPS to AWS endpoints and LLM APIs",
        tags=dict(tags),
        opts=opts,
    )

@dataclass
class EcsAppArgs:
    spec: AppSpec
    account: AwsAccount
    cluster_name: str
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    service_subnet_ids: Sequence[pulumi.Input[str]]
    lb_subnet_ids: Sequence[pulumi.Input[str]]
    internet_facing: bool
    allowed_cidrs: Sequence[str]
    certificate_arn: str | None
    secret_arns: Mapping[str, pulumi.Input[str]]
    kms_key_arn: pulumi.Input[str]
    log_group_name: str
    log_retention_days: int
    tags: Mapping[str, str]
    image_tags: Mapping[str, str] = field(default_factory=dict)
    image_registry: str | None = None
    bucket_arn: pulumi.Input[str] | None = None
    # Extra inline policies for the task role (name -> policy JSON), e.g. Bedrock invocation.
    task_policies: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    task_role_name: str | None = None
    # Non-secret settings published as SSM parameters (name -> parameter ARN), referenced by ARN
    # like secrets so the task definition never waits on a value computed at deploy time.
    parameter_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # Ports the tasks call inside the VPC besides the data stores (port -> what), e.g. the Scale
    # gateway's internal NLB.
    vpc_egress_ports: Mapping[int, str] = field(default_factory=dict)
    # SSM path under which the app's own-URL settings are published ("/<project>/<stack>/app").
    parameter_path_prefix: str = "/llm-platform/app"
    # Services the app calls inside the VPC (e.g. the Beta model gateway): no load balancer, a
    # DNS name `<service>.<internal_namespace>` (Cloud Map, private DNS), a security group that
    # admits the app tasks only, and a task role of their own with `internal_task_policies[name]`.
    internal_services: Sequence[Service] = ()
    internal_task_policies: Mapping[str, Mapping[str, pulumi.Input[str]]] = field(default_factory=dict)
    internal_namespace: str | None = None


def internal_service_url(service: Service, namespace: str, path: str = "") -> str:
    """Where the app reaches an internal service: Cloud Map registers each task's IP as an A record
    of `<service>.<namespace>` in the VPC's private DNS."""
    container = next(c for c in service.containers if c.name == service.ingress_container)
    return f"http://{service.name}.{namespace}:{container.port}{path}"


def _value_from(arn: pulumi.Input[str], ref: SecretRef) -> pulumi.Input[str]:
    # ECS syntax: <secret-arn>:<json-key>:<version-stage>:<version-id>
    return pulumi.Output.concat(arn, f":{ref.json_key}::") if ref.json_key else arn


def _environment(env: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # ECS stores no empty values, so one here would be a diff on every `pulumi up`.
    return [e for e in env if e["value"] not in ("", None)]


def container_definitions(
    service: Service,
    args: EcsAppArgs,
    log_group: pulumi.Input[str],
    url_parameter_arns: Mapping[PublicUrl, pulumi.Input[str]],
) -> pulumi.Output[str]:
    """The task's container definitions as JSON; env values and secret ARNs may be Outputs.
    Settings that hold the app's own URL are read from SSM parameters (`url_parameter_arns`), so
    the definition never waits on the load balancer's address."""
    definitions = []
    for c in service.containers:
        environment = [{"name": k, "value": v} for k, v in sorted(c.env.items()) if not isinstance(v, PublicUrl)]
        secrets = [
            {"name": k, "valueFrom": args.parameter_arns[ref.secret] if ref.secret in args.parameter_arns else _value_from(args.secret_arns[ref.secret], ref)}
            for k, ref in c.secrets.items()
        ]
        secrets += [{"name": k, "valueFrom": url_parameter_arns[v]} for k, v in c.env.items() if isinstance(v, PublicUrl)]
        definition: dict[str, Any] = {
            "name": c.name,
            "image": image(c.image_key, args.image_tags, args.image_registry),
            "essential": c.essential,
            "cpu": c.cpu,
            "memoryReservation": c.memory,
            "environment": pulumi.Output.from_input(environment).apply(_environment),
            "secrets": sorted(secrets, key=lambda s: s["name"]),
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": log_group,
                    "awslogs-region": args.account.region,
                    "awslogs-stream-prefix": service.name,
                },
            },
        }
        if c.port is not None:
            definition["portMappings"] = [{"containerPort": c.port, "protocol": "tcp"}]
        if c.command:
            # `command` would only replace the image's CMD and reach its ENTRYPOINT as arguments.
            definition["entryPoint"] = list(c.command)
        definitions.append(definition)
    return pulumi.Output.from_input(definitions).apply(json.dumps)


def trust_policy(account: AwsAccount) -> str:
    """ECS tasks of this account assume the role (ecs-tasks.amazonaws.com in every partition,
    aws-cn included: the aws_service_principal table of terraform-provider-aws
    internal/service/meta/service_principal_data_source.go lists no China exception for it)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": account.service_principal("ecs-tasks")},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account.account_id},
                        "ArnLike": {"aws:SourceArn": account.arn("ecs", "*")},
                    },
                }
            ],
        }
    )


def _policy(statements: list[dict[str, object]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def ecr_repository_arns(account: AwsAccount, registry: str, images: Sequence[str]) -> list[str]:
    """The ECR repositories the task images live in (`<acct>.dkr.ecr.<region>.<suffix>/<repo>:<tag>`),
    in that registry's own account and region: the task may pull those and nothing else."""
    host = registry.split("/", 1)[0]
    registry_account, _, rest = host.partition(".dkr.ecr.")
    region = rest.split(".", 1)[0]
    repositories = sorted({i[len(host) + 1 :].rsplit(":", 1)[0] for i in images if i.startswith(host + "/")})
    return [account.arn("ecr", f"repository/{r}", region=region, account=registry_account) for r in repositories]


TARGET_PROTOCOL = "HTTP"
TARGET_TYPE = "ip"


def target_group_name(cluster_name: str, service: str, container: Container, internal: bool) -> str:
    """Named by the load balancer's scheme: an ALB moving between internet-facing and internal is
    replaced, and a target group serves one load balancer only, so its target groups must be
    replaced with it (a new name forces that). The hash also covers the other inputs that replace
    a target group (port, protocol, target type), so the new one never collides with the old one
    under create-before-delete. At most 32 characters."""
    scheme = "int" if internal else "ext"
    digest = short_hash(cluster_name, service, container.name, str(container.port), TARGET_PROTOCOL, TARGET_TYPE, length=8)
    return f"{container.name[:14].rstrip('-')}-{scheme}-{digest}"


class EcsApp(pulumi.ComponentResource):
    url: pulumi.Output[str]
    load_balancer_arn: pulumi.Output[str]
    service_security_group_id: pulumi.Output[str]
    task_role_arn: pulumi.Output[str]
    task_role_name: pulumi.Output[str]

    def __init__(self, name: str, args: EcsAppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:aws:EcsApp", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        spec = args.spec
        for service in spec.services:
            if problems := task_size_problems(service):
                raise ValueError(f"the {spec.kind} {service.name} task cannot run on Fargate: {'; '.join(problems)}")
        all_services = (*spec.services, *args.internal_services)
        for service in args.internal_services:
            if problems := task_size_problems(service):
                raise ValueError(f"the internal {service.name} task cannot run on Fargate: {'; '.join(problems)}")
        used_refs = sorted({ref.secret for s in all_services for c in s.containers for ref in c.secrets.values()})
        used_secrets = [r for r in used_refs if r not in args.parameter_arns]
        missing = [s for s in used_secrets if s not in args.secret_arns]
        if missing:
            raise ValueError(f"secrets {missing} are used by the {spec.kind} containers but were not created")

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=args.log_group_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child,
        )
        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            name=args.cluster_name,
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")],
            tags=tags,
            opts=child,
        )

        # Load balancer and its security group: the only way in, from the allowed CIDRs only.
        https = args.certificate_arn is not None
        lb_sg = aws.ec2.SecurityGroup(
            f"{name}-lb",
            description=f"{spec.kind} load balancer: ingress from allowed CIDRs",
            vpc_id=args.vpc_id,
            tags=tags,
            opts=child,
        )
        listen_ports = [443, 80] if https else [80]
        for port in listen_ports:
            for i, cidr in enumerate(args.allowed_cidrs):
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-lb-in-{port}-{i}",
                    security_group_id=lb_sg.id,
                    cidr_ipv4=cidr,
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    description="allowed client network",
                    tags=tags,
                    opts=child,
                )
        service_sg = aws.ec2.SecurityGroup(
            f"{name}-tasks",
            description=f"{spec.kind} tasks: ingress from the load balancer only",
            vpc_id=args.vpc_id,
            tags=tags,
            opts=child,
        )
        ingress_ports = sorted({c.port for s in spec.ingress_services() for c in s.routed_containers() if c.port})
        for port in ingress_ports:
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-lb-out-{port}",
                security_group_id=lb_sg.id,
                referenced_security_group_id=service_sg.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description="to the app tasks",
                tags=tags,
                opts=child,
            )
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-tasks-in-{port}",
                security_group_id=service_sg.id,
                referenced_security_group_id=lb_sg.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description="from the load balancer",
                tags=tags,
                opts=child,
            )
        # Tasks reach the database, cache, AWS endpoints and (through NAT, if any) LLM APIs.
        https_egress(f"{name}-tasks-out-https", service_sg.id, tags, child)
        vpc_ports = {5432: "PostgreSQL", 6379: "Redis", **args.vpc_egress_ports}
        for port, what in sorted(vpc_ports.items()):
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-tasks-out-{port}",
                security_group_id=service_sg.id,
                cidr_ipv4=args.vpc_cidr,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=f"{what} inside the VPC",
                tags=tags,
                opts=child,
            )

        internal = not args.internet_facing
        lb = aws.lb.LoadBalancer(
            f"{name}-lb",
            load_balancer_type="application",
            internal=internal,
            security_groups=[lb_sg.id],
            subnets=list(args.lb_subnet_ids),
            drop_invalid_header_fields=True,
            # LLM responses stream for minutes; the 60 s default cuts them off.
            idle_timeout=300,
            tags=tags,
            opts=child,
        )
        scheme = "https" if https else "http"
        self.url = lb.dns_name.apply(lambda dns: f"{scheme}://{dns}")

        # One target group per container the load balancer sends to: (service, container) -> TG.
        target_groups: dict[tuple[str, str], aws.lb.TargetGroup] = {}
        for service in spec.ingress_services():
            for container in service.routed_containers():
                assert container.port is not None
                logical = f"{name}-{service.name}" if container.name == service.ingress_container else f"{name}-{service.name}-{container.name}"
                target_groups[(service.name, container.name)] = aws.lb.TargetGroup(
                    logical,
                    name=target_group_name(args.cluster_name, service.name, container, internal),
                    port=container.port,
                    protocol=TARGET_PROTOCOL,
                    target_type=TARGET_TYPE,
                    vpc_id=args.vpc_id,
                    deregistration_delay=30,
                    health_check=aws.lb.TargetGroupHealthCheckArgs(
                        enabled=True,
                        path=container.health_path or "/",
                        matcher="200-399",
                        interval=30,
                        healthy_threshold=2,
                        unhealthy_threshold=5,
                    ),
                    tags=tags,
                    opts=child,
                )

        default_service = next(s for s in spec.ingress_services() if not s.routes)
        default_tg = target_groups[(default_service.name, default_service.ingress_container or "")]
        forward_default = aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=default_tg.arn)
        if https:
            listener = aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=lb.arn,
                port=443,
                protocol="HTTPS",
                ssl_policy=TLS_POLICY,
                certificate_arn=args.certificate_arn,
                default_actions=[forward_default],
                tags=tags,
                opts=child,
            )
            aws.lb.Listener(
                f"{name}-http-redirect",
                load_balancer_arn=lb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[
                    aws.lb.ListenerDefaultActionArgs(
                        type="redirect",
                        redirect=aws.lb.ListenerDefaultActionRedirectArgs(port="443", protocol="HTTPS", status_code="HTTP_301"),
                    )
                ],
                tags=tags,
                opts=child,
            )
        else:
            listener = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=lb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[forward_default],
                tags=tags,
                opts=child,
            )

        # What attaches each service's target groups to the load balancer: the ECS service waits
        # for all of it, or ECS reports "target group does not have an associated load balancer".
        attachments: dict[str, list[pulumi.Resource]] = {s.name: [] for s in spec.services}
        attachments[default_service.name].append(listener)
        priority = 10
        for service in spec.ingress_services():
            for container in service.routed_containers():
                routes = service.routes if container.name == service.ingress_container else container.routes
                # An ALB rule condition takes at most five path patterns.
                for chunk_start in range(0, len(routes), 5):
                    chunk = list(routes[chunk_start : chunk_start + 5])
                    rule_name = f"{name}-{service.name}-{priority}" if container.name == service.ingress_container else f"{name}-{service.name}-{container.name}-{priority}"
                    rule = aws.lb.ListenerRule(
                        rule_name,
                        listener_arn=listener.arn,
                        priority=priority,
                        conditions=[aws.lb.ListenerRuleConditionArgs(path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=chunk))],
                        actions=[aws.lb.ListenerRuleActionArgs(type="forward", target_group_arn=target_groups[(service.name, container.name)].arn)],
                        tags=tags,
                        opts=child,
                    )
                    attachments[service.name].append(rule)
                    priority += 10

        # Settings that hold the app's own URL (no domain configured): SSM parameters filled with
        # the load balancer's address, read by ARN like secrets.
        public_urls = sorted({v for s in spec.services for c in s.containers for v in c.env.values() if isinstance(v, PublicUrl)}, key=lambda u: u.path)
        url_parameter_arns: dict[PublicUrl, pulumi.Output[str]] = {}
        for i, public_url in enumerate(public_urls):
            parameter = aws.ssm.Parameter(
                f"{name}-url-{i}",
                name=f"{args.parameter_path_prefix}/public-url-{i}",
                type="String",
                description=f"The app's address{' + ' + public_url.path if public_url.path else ''} (the load balancer's, until a domain is configured)",
                value=pulumi.Output.concat(self.url, public_url.path),
                tags=tags,
                opts=child,
            )
            url_parameter_arns[public_url] = parameter.arn
        execution_role, task_role, role_policies = self._roles(name, args, log_group, used_secrets, list(url_parameter_arns.values()), tags)

        for service in spec.services:
            definitions = container_definitions(service, args, log_group.name, url_parameter_arns)
            task = aws.ecs.TaskDefinition(
                f"{name}-{service.name}",
                family=f"{args.cluster_name}-{service.name}",
                cpu=str(service.task_cpu),
                memory=str(service.task_memory),
                network_mode="awsvpc",
                requires_compatibilities=["FARGATE"],
                runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(operating_system_family="LINUX", cpu_architecture="X86_64"),
                execution_role_arn=execution_role.arn,
                task_role_arn=task_role.arn,
                container_definitions=definitions,
                tags=tags,
                opts=child,
            )
            load_balancers = [
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=target_groups[(service.name, container.name)].arn,
                    container_name=container.name,
                    container_port=container.port,
                )
                for container in (service.routed_containers() if service.ingress_container else [])
            ]
            aws.ecs.Service(
                f"{name}-{service.name}",
                name=service.name,
                cluster=cluster.arn,
                task_definition=task.arn,
                desired_count=service.min_replicas,
                launch_type="FARGATE",
                network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                    subnets=list(args.service_subnet_ids), security_groups=[service_sg.id], assign_public_ip=False
                ),
                load_balancers=load_balancers,
                health_check_grace_period_seconds=180 if load_balancers else None,
                deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
                enable_ecs_managed_tags=True,
                propagate_tags="SERVICE",
                tags=tags,
                # Also every policy of its roles: the first tasks start as soon as the service
                # exists and would otherwise meet AccessDenied while IAM propagates (and trip the
                # circuit breaker).
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*(attachments[service.name] or [listener]), *role_policies]),
            )

        if args.internal_services:
            self._internal_services(name, args, cluster, service_sg, execution_role, log_group, url_parameter_arns, role_policies, trust_policy(args.account), tags)
        self.load_balancer_arn = lb.arn
        self.service_security_group_id = service_sg.id
        self.task_role_arn = task_role.arn
        self.task_role_name = task_role.name
        self.register_outputs({"url": self.url, "task_role_arn": task_role.arn})

    def _roles(
        self,
        name: str,
        args: EcsAppArgs,
        log_group: aws.cloudwatch.LogGroup,
        used_secrets: list[str],
        url_parameter_arns: list[pulumi.Output[str]],
        tags: dict[str, str],
    ) -> tuple[aws.iam.Role, aws.iam.Role, list[pulumi.Resource]]:
        """The execution and task roles and every policy attached to them."""
        child = pulumi.ResourceOptions(parent=self)
        policies: list[pulumi.Resource] = []
        account = args.account
        trust = trust_policy(account)
        execution_role = aws.iam.Role(f"{name}-execution", description="ECS task execution: pull, log, read this app's secrets", assume_role_policy=trust, tags=tags, opts=child)
        task_role = aws.iam.Role(f"{name}-task", name=args.task_role_name, description=f"{args.spec.kind} containers", assume_role_policy=trust, tags=tags, opts=child)

        secret_arns = [args.secret_arns[s] for s in used_secrets]
        execution_policy = aws.iam.RolePolicy(
            f"{name}-execution",
            role=execution_role.id,
            policy=pulumi.Output.all(log_group.arn, args.kms_key_arn, *secret_arns).apply(
                lambda v: _policy(
                    [
                        {"Sid": "WriteLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{v[0]}:*"},
                        {"Sid": "ReadAppSecrets", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": sorted(v[2:])},
                        {
                            "Sid": "DecryptAppSecrets",
                            "Effect": "Allow",
                            "Action": ["kms:Decrypt"],
                            "Resource": v[1],
                            "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{account.region}.{account.dns_suffix}"}},
                        },
                    ]
                )
            ),
            opts=child,
        )
        policies.append(execution_policy)
        parameter_arns = [args.parameter_arns[k] for k in sorted(args.parameter_arns)] + url_parameter_arns
        if parameter_arns:
            parameters_policy = aws.iam.RolePolicy(
                f"{name}-execution-parameters",
                role=execution_role.id,
                policy=pulumi.Output.all(*parameter_arns).apply(
                    lambda arns: _policy([{"Sid": "ReadAppSettings", "Effect": "Allow", "Action": ["ssm:GetParameters"], "Resource": sorted(arns)}])
                ),
                opts=child,
            )
            policies.append(parameters_policy)
        if args.image_registry and ".dkr.ecr." in args.image_registry:
            ecr_policy = aws.iam.RolePolicy(
                f"{name}-execution-ecr",
                role=execution_role.id,
                policy=_policy(
                    [
                        # GetAuthorizationToken has no resource-level permissions (IAM reference).
                        {"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
                        {
                            # A pull-through cache creates the repository on the first pull and imports
                            # the upstream image: CreateRepository and BatchImportUpstreamImage (AWS ECR
                            # user guide, "IAM permissions required to sync an upstream registry",
                            # https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html, read 2026-07).
                            "Sid": "PullThroughCache",
                            "Effect": "Allow",
                            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
                            "Resource": ecr_repository_arns(
                                account, args.image_registry, [image(c.image_key, args.image_tags, args.image_registry) for s in (*args.spec.services, *args.internal_services) for c in s.containers]
                            ),
                        },
                    ]
                ),
                opts=child,
            )
            policies.append(ecr_policy)
        if args.bucket_arn is not None:
            storage_policy = aws.iam.RolePolicy(
                f"{name}-task-storage",
                role=task_role.id,
                policy=pulumi.Output.all(args.bucket_arn, args.kms_key_arn).apply(
                    lambda v: _policy(
                        [
                            {"Sid": "ListAppBucket", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": v[0]},
                            {
                                "Sid": "ReadWriteAppObjects",
                                "Effect": "Allow",
                                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                                "Resource": f"{v[0]}/*",
                            },
                            {
                                "Sid": "UseBucketKey",
                                "Effect": "Allow",
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                                "Resource": v[1],
                                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{account.region}.{account.dns_suffix}"}},
                            },
                        ]
                    )
                ),
                opts=child,
            )
            policies.append(storage_policy)
        for policy_name, document in sorted(args.task_policies.items()):
            policies.append(aws.iam.RolePolicy(f"{name}-task-{policy_name}", role=task_role.id, policy=document, opts=child))
        return execution_role, task_role, policies

    def _internal_services(
        self,
        name: str,
        args: EcsAppArgs,
        cluster: aws.ecs.Cluster,
        app_sg: aws.ec2.SecurityGroup,
        execution_role: aws.iam.Role,
        log_group: aws.cloudwatch.LogGroup,
        url_parameter_arns: Mapping[PublicUrl, pulumi.Input[str]],
        execution_policies: list[pulumi.Resource],
        trust: str,
        tags: dict[str, str],
    ) -> None:
        """Each internal service: its own task role and security group (ingress from the app
        tasks only), a Cloud Map DNS name, and an ECS service without a load balancer."""
        child = pulumi.ResourceOptions(parent=self)
        assert args.internal_namespace, "internal services need internal_namespace"
        namespace = aws.servicediscovery.PrivateDnsNamespace(
            f"{name}-internal", name=args.internal_namespace, vpc=args.vpc_id, description="Services the app calls inside the VPC", tags=tags, opts=child
        )
        for service in args.internal_services:
            container = next(c for c in service.containers if c.name == service.ingress_container)
            assert container.port is not None
            sg = aws.ec2.SecurityGroup(f"{name}-{service.name}", description=f"{service.name}: ingress from the app tasks only", vpc_id=args.vpc_id, tags=tags, opts=child)
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{service.name}-in",
                security_group_id=sg.id,
                referenced_security_group_id=app_sg.id,
                ip_protocol="tcp",
                from_port=container.port,
                to_port=container.port,
                description="from the app tasks",
                tags=tags,
                opts=child,
            )
            https_egress(f"{name}-{service.name}-out-https", sg.id, tags, child)
            role = aws.iam.Role(f"{name}-{service.name}-task", description=f"{service.name} containers", assume_role_policy=trust, tags=tags, opts=child)
            role_policies = [
                aws.iam.RolePolicy(f"{name}-{service.name}-task-{policy_name}", role=role.id, policy=document, opts=child)
                for policy_name, document in sorted(args.internal_task_policies.get(service.name, {}).items())
            ]
            task = aws.ecs.TaskDefinition(
                f"{name}-{service.name}",
                family=f"{args.cluster_name}-{service.name}",
                cpu=str(service.task_cpu),
                memory=str(service.task_memory),
                network_mode="awsvpc",
                requires_compatibilities=["FARGATE"],
                runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(operating_system_family="LINUX", cpu_architecture="X86_64"),
                execution_role_arn=execution_role.arn,
                task_role_arn=role.arn,
                container_definitions=container_definitions(service, args, log_group.name, url_parameter_arns),
                tags=tags,
                opts=child,
            )
            discovery = aws.servicediscovery.Service(
                f"{name}-{service.name}",
                name=service.name,
                dns_config=aws.servicediscovery.ServiceDnsConfigArgs(
                    namespace_id=namespace.id,
                    routing_policy="MULTIVALUE",
                    dns_records=[aws.servicediscovery.ServiceDnsConfigDnsRecordArgs(ttl=10, type="A")],
                ),
                # ECS reports task health to Cloud Map (custom health checks).
                health_check_custom_config=aws.servicediscovery.ServiceHealthCheckCustomConfigArgs(),
                tags=tags,
                opts=child,
            )
            aws.ecs.Service(
                f"{name}-{service.name}",
                name=service.name,
                cluster=cluster.arn,
                task_definition=task.arn,
                desired_count=service.min_replicas,
                launch_type="FARGATE",
                network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(subnets=list(args.service_subnet_ids), security_groups=[sg.id], assign_public_ip=False),
                service_registries=aws.ecs.ServiceServiceRegistriesArgs(registry_arn=discovery.arn),
                deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
                enable_ecs_managed_tags=True,
                propagate_tags="SERVICE",
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*execution_policies, *role_policies]),
            )
