"""Runs an `AppSpec` on Azure Container Apps in a VNet-integrated environment.

Secrets reach containers only as Key Vault references resolved through the app's managed
identity, which holds Key Vault Secrets User on exactly the secrets that app reads; each app waits
for those secrets and role assignments, so its first revision can resolve them. An app with several routed services (Dify's API and web) becomes one Container App
with an nginx front container doing the path routing an ALB does on AWS; the containers share
localhost, exactly as they do in one ECS task.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_azure_native as azure

from components.azure.keyvault import SecretVault
from components.azure.monitoring import send_logs_to
from components.azure.registry import grant_acr_pull
from components.lowcode import AppSpec, Container, PublicUrl, SecretRef, Service, image
from components.mirrors import acr_name

GATEWAY_PORT = 8080


def key_vault_secret_name(ref: SecretRef) -> str:
    """Key Vault has no JSON-key lookups: each JSON field is its own secret, `<secret>-<field>`."""
    base = ref.secret.replace(":", "-")
    return f"{base}-{ref.json_key.replace('_', '-')}" if ref.json_key else base


def nginx_config(spec: AppSpec) -> str:
    """Dify's own nginx routing, generated from the spec's routes (ALB-style patterns)."""
    default = next(s for s in spec.ingress_services() if not s.routes)
    lines = [
        "server {",
        f"  listen {GATEWAY_PORT};",
        "  client_max_body_size 100m;",
        "  proxy_http_version 1.1;",
        "  proxy_buffering off;",
        "  proxy_read_timeout 3600s;",
        "  proxy_send_timeout 3600s;",
        "  proxy_set_header Host $host;",
        "  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "  proxy_set_header X-Forwarded-Proto https;",
    ]
    for service in spec.ingress_services():
        for container in service.routed_containers():
            routes = service.routes if container.name == service.ingress_container else container.routes
            if not routes:
                continue
            prefixes = "|".join(re.escape(r.rstrip("*").strip("/")) for r in routes)
            # Dify's nginx tells the plugin daemon the URL a plugin endpoint was called at.
            hook = "" if container.name == service.ingress_container else " proxy_set_header Dify-Hook-Url https://$host$request_uri;"
            lines.append(f"  location ~ ^/({prefixes})(/|$) {{{hook} proxy_pass http://127.0.0.1:{container.port}; }}")
    lines.append(f"  location / {{ proxy_pass http://127.0.0.1:{_port(default)}; }}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def container_app_name(prefix: str, app: str, internal: bool = False) -> str:
    """Container App names: at most 32 lowercase characters, unique in the resource group; also
    their DNS name inside the environment. Apps of an internal environment carry `-in`: the
    environment's accessibility cannot change in place (PoC -> Beta replaces it), and the
    replacement apps are created before the old ones are deleted, so they need other names."""
    mode = "-in" if internal else ""
    return f"{prefix[:20 - len(mode)].rstrip('-')}{mode}-{app}"[:32].rstrip("-")


def environment_name(base: str, internal: bool) -> str:
    """The environment's name, with its accessibility in it for the same reason (see above)."""
    return f"{base}-internal" if internal else base


def _port(service: Service) -> int:
    container = next(c for c in service.containers if c.name == service.ingress_container)
    assert container.port is not None
    return container.port


# Consumption workload profile: per container 0.25-vCPU steps with exactly 2 GiB per vCPU
# (0.25/0.5Gi ... 4/8Gi), and all containers of an app together at most 4 vCPU / 8 GiB
# (learn.microsoft.com/azure/container-apps/containers#allocations, "Consumption" rows, read
# 2026-11-30). Memory is what the apps run out of, so a container gets the smallest allowed pair
# that covers both its CPU and its memory.
CPU_STEP = 0.25
GIB_PER_CPU = 2.0
MAX_APP_CPU = 4.0


def container_cpu(container: Container) -> float:
    """vCPU of the smallest Consumption pair that covers the container's CPU and memory."""
    needed = max(container.cpu / 1024, container.memory / 1024 / GIB_PER_CPU, CPU_STEP)
    return math.ceil(needed / CPU_STEP - 1e-9) * CPU_STEP


def container_memory(cpu: float) -> str:
    return f"{cpu * GIB_PER_CPU:g}Gi"


@dataclass
class AppFileShare:
    account_name: pulumi.Input[str]
    share_name: str
    key_secret_name: str  # Key Vault secret holding the storage account key
    key_secret_url: pulumi.Input[str]  # its versionless URL


@dataclass(frozen=True)
class AppIdentity:
    """A user-assigned identity a Container App (or the environment) runs as."""

    id: pulumi.Input[str]
    principal_id: pulumi.Input[str]
    client_id: pulumi.Input[str]


@dataclass
class ContainerAppsArgs:
    spec: AppSpec
    resource_group_name: pulumi.Input[str]
    location: str
    environment_name: str
    app_name_prefix: str
    apps_subnet_id: pulumi.Input[str]
    workspace_id: pulumi.Input[str]
    vault: SecretVault
    # The app's own containers (and the environment's file-share mount) run as this identity.
    app_identity: AppIdentity
    # Key Vault secret name -> versionless secret URL (an Output of the secret resource)
    secret_urls: Mapping[str, pulumi.Input[str]]
    allowed_cidrs: Sequence[str]
    internal: bool
    tags: Mapping[str, str]
    # The VNet that resolves an internal environment's app names (private DNS zone link).
    vnet_id: pulumi.Input[str] | None = None
    image_tags: Mapping[str, str] = field(default_factory=dict)
    image_registry: str | None = None
    # ARM id of the Azure Container Registry behind image_registry (mirrors.azureRegistryId).
    registry_id: str | None = None
    file_share: AppFileShare | None = None
    # Services reachable only from inside the environment (internal ingress), e.g. the gateway,
    # each with its own identity (service name -> identity) when it reads secrets.
    internal_services: Sequence[Service] = ()
    internal_identities: Mapping[str, AppIdentity] = field(default_factory=dict)


def _registries(image_registry: str | None, identity: AppIdentity | None) -> list[azure.app.RegistryCredentialsArgs] | None:
    """An Azure Container Registry mirror is private: the app pulls with its user-assigned identity,
    which holds AcrPull on that registry (granted here, before the app); other registries are
    pulled anonymously (learn.microsoft.com/azure/container-apps/managed-identity-image-pull,
    read 2026-11-30)."""
    if identity is None or acr_name(image_registry) is None:
        return None
    return [azure.app.RegistryCredentialsArgs(server=(image_registry or "").split("/", 1)[0], identity=identity.id)]


class ContainerApps(pulumi.ComponentResource):
    url: pulumi.Output[str]
    environment_id: pulumi.Output[str]

    def __init__(self, name: str, args: ContainerAppsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-platform:azure:ContainerApps", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        spec = args.spec
        if args.internal and args.vnet_id is None:
            raise ValueError("an internal Container Apps environment needs vnet_id: its app names resolve through a private DNS zone linked to it")
        environment = azure.app.ManagedEnvironment(
            f"{name}-env",
            environment_name=environment_name(args.environment_name, args.internal),
            resource_group_name=args.resource_group_name,
            location=args.location,
            vnet_configuration=azure.app.VnetConfigurationArgs(infrastructure_subnet_id=args.apps_subnet_id, internal=args.internal),
            workload_profiles=[azure.app.WorkloadProfileArgs(name="Consumption", workload_profile_type="Consumption")],
            app_logs_configuration=azure.app.AppLogsConfigurationArgs(destination="azure-monitor"),
            # Traffic between apps inside the environment is encrypted (mTLS by the platform).
            peer_traffic_configuration=azure.app.ManagedEnvironmentPeerTrafficConfigurationArgs(
                encryption=azure.app.ManagedEnvironmentEncryptionArgs(enabled=True)
            ),
            identity=azure.app.ManagedServiceIdentityArgs(type="UserAssigned", user_assigned_identities=[args.app_identity.id]),
            tags=tags,
            opts=child,
        )
        send_logs_to(f"{name}-env-logs", resource_id=environment.id, workspace_id=args.workspace_id, parent=self)
        if args.internal:
            assert args.vnet_id is not None
            self._private_dns(name, environment, args.resource_group_name, args.vnet_id, tags)

        storage_name = None
        if args.file_share is not None:
            share = args.file_share
            key_access = args.vault.grant_read(
                f"{name}-env-reads", principal_id=args.app_identity.principal_id, secret_names=[share.key_secret_name], parent=self, reader="the app environment"
            )
            storage = azure.app.ManagedEnvironmentsStorage(
                f"{name}-files",
                environment_name=environment.name,
                resource_group_name=args.resource_group_name,
                storage_name="appfiles",
                properties=azure.app.ManagedEnvironmentStoragePropertiesArgs(
                    azure_file=azure.app.AzureFilePropertiesArgs(
                        account_name=share.account_name,
                        share_name=share.share_name,
                        access_mode="ReadWrite",
                        # The account key stays in Key Vault; the environment reads it itself.
                        account_key_vault_properties=azure.app.SecretKeyVaultPropertiesArgs(
                            identity=args.app_identity.id, key_vault_url=share.key_secret_url
                        ),
                    )
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=key_access),
            )
            storage_name = storage.name

        ingress_services = spec.ingress_services()
        groups: list[tuple[str, list[Container], int | None, bool, AppIdentity | None]] = []
        if len(ingress_services) > 1:
            gateway = Container(
                name="gateway",
                image_key="nginx",
                cpu=256,
                memory=512,
                port=GATEWAY_PORT,
                env={"NGINX_CONF": nginx_config(spec)},
                command=("/bin/sh", "-c", 'printf "%s" "$NGINX_CONF" > /etc/nginx/conf.d/default.conf && exec nginx -g "daemon off;"'),
            )
            merged = [gateway, *[c for s in ingress_services for c in s.containers]]
            groups.append((spec.kind, merged, GATEWAY_PORT, True, args.app_identity))
        elif ingress_services:
            groups.append((ingress_services[0].name, list(ingress_services[0].containers), _port(ingress_services[0]), True, args.app_identity))
        for service in spec.services:
            if not service.ingress_container:
                groups.append((service.name, list(service.containers), None, False, args.app_identity))
        for service in args.internal_services:
            groups.append((service.name, list(service.containers), _port(service), False, args.internal_identities.get(service.name)))

        self.url = pulumi.Output.from_input("")
        self.internal_urls: dict[str, str] = {}
        # The public app's address, for settings that hold the app's own URL (PublicUrl).
        public_app = next((n for n, _, port, public, _ in groups if port is not None and public), None)
        public_url = (
            pulumi.Output.concat("https://", container_app_name(args.app_name_prefix, public_app, args.internal), ".", environment.default_domain)
            if public_app
            else pulumi.Output.from_input("")
        )
        pull_grants: dict[int, pulumi.Resource] = {}  # one AcrPull per identity (id() of the AppIdentity)
        for app_name, containers, ingress_port, public, app_identity in groups:
            pull_access: list[pulumi.Resource] = []
            if acr_name(args.image_registry) is not None:
                if app_identity is None or args.registry_id is None:
                    raise ValueError(f"Container App '{app_name}' pulls from the Azure Container Registry {args.image_registry}: it needs an identity and the registry's resource id (mirrors.azureRegistryId)")
                if id(app_identity) not in pull_grants:
                    label = "app" if app_identity is args.app_identity else app_name
                    pull_grants[id(app_identity)] = grant_acr_pull(
                        f"{name}-{label}-pulls", registry_id=args.registry_id, principal_id=app_identity.principal_id, parent=self, puller=f"Container App identity ({label})"
                    )
                pull_access = [pull_grants[id(app_identity)]]
            refs = {ref for c in containers for ref in c.secrets.values()}
            kv_names = sorted({key_vault_secret_name(r) for r in refs})
            missing = [n for n in kv_names if n not in args.secret_urls]
            if missing:
                raise ValueError(f"Key Vault secrets {missing} are used by the {spec.kind} containers but were not created")
            secret_access: list[pulumi.Resource] = []
            if kv_names:
                if app_identity is None:
                    raise ValueError(f"Container App '{app_name}' reads Key Vault secrets {kv_names} but has no identity")
                secret_access = args.vault.grant_read(
                    f"{name}-{app_name}-reads", principal_id=app_identity.principal_id, secret_names=kv_names, parent=self, reader=f"Container App {app_name}"
                )
            ingress = None
            app_name_full = container_app_name(args.app_name_prefix, app_name, args.internal)
            total_cpu = sum(container_cpu(c) for c in containers)
            if total_cpu > MAX_APP_CPU:
                raise ValueError(
                    f"Container App '{app_name_full}' needs {total_cpu:g} vCPU / {total_cpu * GIB_PER_CPU:g} GiB; "
                    f"a Consumption app holds at most {MAX_APP_CPU:g} vCPU / {MAX_APP_CPU * GIB_PER_CPU:g} GiB"
                )
            if ingress_port is not None and not public:
                # Internal ingress: reachable as http://<app name> from inside the environment only.
                ingress = azure.app.IngressArgs(external=False, target_port=ingress_port, transport="http", allow_insecure=True)
                self.internal_urls[app_name] = f"http://{app_name_full}"
            elif ingress_port is not None:
                ingress = azure.app.IngressArgs(
                    external=True,
                    target_port=ingress_port,
                    transport="http",
                    allow_insecure=False,
                    traffic=[azure.app.TrafficWeightArgs(latest_revision=True, weight=100)],
                    ip_security_restrictions=[
                        azure.app.IpSecurityRestrictionRuleArgs(name=f"allow-{i}", ip_address_range=cidr, action="Allow", description="allowed client network")
                        for i, cidr in enumerate(args.allowed_cidrs)
                    ],
                )
            volumes = []
            if storage_name is not None and any(c.persistent_paths for c in containers):
                volumes.append(azure.app.VolumeArgs(name="appfiles", storage_type="AzureFile", storage_name=storage_name))
            app = azure.app.ContainerApp(
                f"{name}-{app_name}",
                container_app_name=app_name_full,
                resource_group_name=args.resource_group_name,
                location=args.location,
                managed_environment_id=environment.id,
                workload_profile_name="Consumption",
                identity=azure.app.ManagedServiceIdentityArgs(type="UserAssigned", user_assigned_identities=[app_identity.id]) if app_identity else None,
                configuration=azure.app.ConfigurationArgs(
                    active_revisions_mode="Single",
                    ingress=ingress,
                    secrets=[
                        azure.app.SecretArgs(name=n, key_vault_url=args.secret_urls[n], identity=app_identity.id) for n in kv_names if app_identity
                    ],
                    registries=_registries(args.image_registry, app_identity),
                ),
                template=azure.app.TemplateArgs(
                    containers=[self._container(c, args, public_url) for c in containers],
                    # One replica: Dify's beat scheduler and Flowise's file store must not run twice.
                    scale=azure.app.ScaleArgs(min_replicas=1, max_replicas=1),
                    volumes=volumes or None,
                ),
                tags=tags,
                # The secret URLs already carry the secrets as dependencies; the reads and the
                # image pull need the roles.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*secret_access, *pull_access]),
            )
            if ingress_port is not None and public:
                # The ingress FQDN stays put; latestRevisionFqdn names one revision and changes with each.
                self.url = app.configuration.apply(lambda c: f"https://{c.ingress.fqdn}" if c and c.ingress and c.ingress.fqdn else "")
        self.environment_id = environment.id
        self.register_outputs({"url": self.url})

    def _private_dns(self, name: str, environment: azure.app.ManagedEnvironment, resource_group_name: pulumi.Input[str], vnet_id: pulumi.Input[str], tags: Mapping[str, str]) -> None:
        """An internal environment publishes no DNS: a private zone named after its default
        domain, `*` -> its static IP, linked to the VNet, lets the VNet resolve the app names
        (learn.microsoft.com/azure/container-apps/networking#dns and vnet-custom-internal,
        "Deploy with a private DNS", read 2026-11-30)."""
        child = pulumi.ResourceOptions(parent=self)
        zone = azure.privatedns.PrivateZone(
            f"{name}-env-zone", private_zone_name=environment.default_domain, resource_group_name=resource_group_name, location="global", tags=tags, opts=child
        )
        azure.privatedns.PrivateRecordSet(
            f"{name}-env-wildcard",
            private_zone_name=zone.name,
            resource_group_name=resource_group_name,
            record_type="A",
            relative_record_set_name="*",
            ttl=3600,
            a_records=[azure.privatedns.ARecordArgs(ipv4_address=environment.static_ip)],
            opts=child,
        )
        azure.privatedns.VirtualNetworkLink(
            f"{name}-env-zone-link",
            private_zone_name=zone.name,
            resource_group_name=resource_group_name,
            location="global",
            virtual_network=azure.privatedns.SubResourceArgs(id=vnet_id),
            registration_enabled=False,
            tags=tags,
            opts=child,
        )

    @staticmethod
    def _container(c: Container, args: ContainerAppsArgs, public_url: pulumi.Output[str]) -> azure.app.ContainerArgs:
        cpu = container_cpu(c)
        env = [
            azure.app.EnvironmentVarArgs(name=k, value=pulumi.Output.concat(public_url, v.path) if isinstance(v, PublicUrl) else v)
            for k, v in sorted(c.env.items())
            if v not in ("", None)
        ]
        env += [azure.app.EnvironmentVarArgs(name=k, secret_ref=key_vault_secret_name(ref)) for k, ref in sorted(c.secrets.items())]
        probes = None
        if c.health_path and c.port:
            probes = [
                azure.app.ContainerAppProbeArgs(
                    type="Readiness",
                    http_get=azure.app.ContainerAppProbeHttpGetArgs(path=c.health_path, port=c.port),
                    period_seconds=15,
                    failure_threshold=10,
                )
            ]
        mounts = [azure.app.VolumeMountArgs(volume_name="appfiles", mount_path=p) for p in c.persistent_paths] if args.file_share else None
        return azure.app.ContainerArgs(
            name=c.name,
            image=image(c.image_key, args.image_tags, args.image_registry),
            command=list(c.command) if c.command else None,
            env=env,
            resources=azure.app.ContainerResourcesArgs(cpu=cpu, memory=container_memory(cpu)),
            probes=probes,
            volume_mounts=mounts or None,
        )
