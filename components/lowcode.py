"""What Dify and Flowise are made of, independent of the cloud that runs them.

One fact per app: its containers, ports, health checks, plain settings and which settings come
from secrets. `components/aws/ecs_app.py` renders this as ECS Fargate services behind an ALB and
`components/azure/container_app.py` as Container Apps; neither knows any Dify or Flowise detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from policies.llm_guard.sources import DIFY_LOCAL_TEMPLATES, DIFY_MARKETPLACE, DIFY_UPDATE_CHECK_OFF

# Pinned image tags (Docker Hub). Dify's api/web and plugin daemon versions move together; see
# the Dify docker-compose of the same release. Override per stack with `poc.app.imageTags`.
DEFAULT_IMAGE_TAGS: Mapping[str, str] = {
    # Dify 1.14.2's docker-compose: api/web 1.14.2, sandbox 0.2.15, plugin daemon 0.6.1-local,
    # ubuntu/squid:latest (tests/fixtures/upstream/dify.yaml records the source).
    "dify-api": "1.14.2",
    "dify-web": "1.14.2",
    "dify-sandbox": "0.2.15",
    "dify-plugin-daemon": "0.6.1-local",
    # Upstream compose runs `ubuntu/squid:latest`; pin a digest through `poc.app.imageTags`.
    "ssrf-proxy": "latest",
    "flowise": "3.1.3",
    "nginx": "1.29.3-alpine",
    # LiteLLM proxy, same release as the pinned PyPI package the gateway tests run
    # (1.82.7/1.82.8 and 1.107.0 were compromised releases; never use them).
    "litellm": "v1.108.6",
}
IMAGE_REPOSITORIES: Mapping[str, str] = {
    "dify-api": "langgenius/dify-api",
    "dify-web": "langgenius/dify-web",
    "dify-sandbox": "langgenius/dify-sandbox",
    "dify-plugin-daemon": "langgenius/dify-plugin-daemon",
    "ssrf-proxy": "ubuntu/squid",
    "flowise": "flowiseai/flowise",
    "nginx": "library/nginx",
    "litellm": "ghcr.io/berriai/litellm",
}


class SecretName(StrEnum):
    """Secrets an app needs; the stack decides where each lives (Secrets Manager, Key Vault)."""

    DATABASE = "database"  # JSON: username, password, host, port, dbname
    REDIS = "redis"  # JSON: host, port, password, broker_url
    APP_KEY = "app-key"  # the app's own signing/encryption key
    SANDBOX_KEY = "sandbox-key"
    PLUGIN_DAEMON_KEY = "plugin-daemon-key"
    PLUGIN_INNER_KEY = "plugin-inner-key"
    JWT_AUTH = "jwt-auth"
    JWT_REFRESH = "jwt-refresh"
    SESSION = "session"
    VECTOR_DATABASE = "vector-database"  # JSON like DATABASE, for a separate pgvector store
    GATEWAY_KEY = "gateway-master-key"
    # Dify's first-login password: /install stays closed until it is entered (INIT_PASSWORD).
    INIT_PASSWORD = "init-password"
    # Flowise encrypts the user metadata in its login tokens with TOKEN_HASH_SECRET, generating one
    # into ~/.flowise when unset (packages/server/src/enterprise/utils/authSecrets.ts, 3.1.3):
    # without a shared, kept value every restart and every second task logs users out.
    TOKEN_HASH = "token-hash"


# Length of the random value the stacks generate for a secret (48 unless listed). Dify compares
# INIT_PASSWORD with a form field of at most 30 characters (api/controllers/console/
# init_validate.py InitValidatePayload.password max_length=30, langgenius/dify main, read
# 2026-07), so a longer password could never be entered.
GENERATED_SECRET_LENGTHS: Mapping[SecretName, int] = {SecretName.INIT_PASSWORD: 30}


def generated_secret_length(secret: SecretName) -> int:
    return GENERATED_SECRET_LENGTHS.get(secret, 48)


@dataclass(frozen=True)
class PublicUrl:
    """An env value that is the URL users reach the app at, plus `path`. The stack passes the
    configured domain when there is one; otherwise the renderer (ALB / Container Apps ingress)
    fills in its own address, which only exists once the load balancer does."""

    path: str = ""


@dataclass(frozen=True)
class SecretRef:
    secret: str  # a SecretName value, or "api-key:<provider>"
    json_key: str | None = None


@dataclass(frozen=True)
class Container:
    name: str
    image_key: str  # key of DEFAULT_IMAGE_TAGS
    cpu: int  # ECS CPU units (1024 = 1 vCPU)
    memory: int  # MiB
    env: Mapping[str, Any] = field(default_factory=dict)  # values may be Pulumi Outputs
    secrets: Mapping[str, SecretRef] = field(default_factory=dict)
    port: int | None = None
    health_path: str | None = None
    # The full argv run instead of the image's ENTRYPOINT and CMD (ECS `entryPoint`, Container Apps
    # `command`): images such as ubuntu/squid have entrypoint scripts that would otherwise take
    # an override as arguments of their own program.
    command: tuple[str, ...] | None = None
    essential: bool = True
    # Paths the container writes that must survive restarts (mounted from the app's file share).
    persistent_paths: tuple[str, ...] = ()
    # Path patterns the load balancer sends straight to this container (not the service's
    # ingress container), e.g. Dify's plugin endpoints `/e/*` to the plugin daemon.
    routes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Service:
    """Containers that run together (one ECS task / one Container App) and share localhost."""

    name: str
    containers: tuple[Container, ...]
    # Path patterns the load balancer sends here (ALB listener rules); empty = default route.
    routes: tuple[str, ...] = ()
    ingress_container: str | None = None
    min_replicas: int = 1
    # Size of the whole task / app: a valid Fargate cpu/memory pair (components/aws/ecs_app.py
    # FARGATE_TASK_SIZES) that holds the sums of the containers' cpu and memory reservations.
    task_cpu: int = 1024
    task_memory: int = 2048

    def routed_containers(self) -> list[Container]:
        """The ingress container first, then every container with routes of its own."""
        ingress = [c for c in self.containers if c.name == self.ingress_container]
        return ingress + [c for c in self.containers if c.routes and c.name != self.ingress_container]


@dataclass(frozen=True)
class AppSpec:
    kind: str
    services: tuple[Service, ...]
    secrets: tuple[SecretName, ...]
    database_names: tuple[str, ...]  # databases the app uses on its Postgres server
    needs_redis: bool
    needs_object_storage: bool

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def ingress_services(self) -> list[Service]:
        return [s for s in self.services if s.ingress_container]


@dataclass(frozen=True)
class Backends:
    """Where the app's state lives: filled in by the cloud-specific stack."""

    storage_env: Mapping[str, Any]  # object storage settings for the app (values may be Outputs)
    plugin_storage_env: Mapping[str, Any]  # Dify plugin daemon storage settings
    public_url: str | None  # https://<domain> when a domain is configured, else same-origin
    plugin_storage_secrets: Mapping[str, SecretRef] = field(default_factory=dict)
    api_keys: tuple[str, ...] = ()  # providers whose API keys the app receives as env vars
    vector_env: Mapping[str, Any] = field(default_factory=dict)  # Beta: vector store settings
    vector_secrets: Mapping[str, SecretRef] = field(default_factory=dict)  # Beta: vector store credentials
    model_env: Mapping[str, Any] = field(default_factory=dict)  # Beta: managed model settings
    model_secrets: Mapping[str, SecretRef] = field(default_factory=dict)  # Beta: e.g. the gateway key
    # Dify's plugin daemon and sandbox install Python packages from this index (PIP_MIRROR_URL;
    # components.mirrors.python_index_env); empty = pypi.org.
    package_index_env: Mapping[str, str] = field(default_factory=dict)
    # Dify's plugin marketplace (components.mirrors.dify_marketplace); None: off, plugins are
    # installed from local .difypkg files (mainland China, where marketplace.dify.ai is abroad).
    marketplace_url: str | None = DIFY_MARKETPLACE
    # How Flowise's Postgres client does TLS on this cloud (see stacks/poc.py for the why).
    flowise_database_tls_env: Mapping[str, str] = field(default_factory=dict)
    # Let Dify's code sandbox open sockets. Off: the sandbox shares the task's network namespace
    # (and identity) with the API, plugin daemon, SSRF proxy, data stores and metadata endpoint,
    # so network access for user code is only safe with the sandbox as its own service.
    sandbox_network: bool = False


def image(key: str, overrides: Mapping[str, str], registry: str | None = None) -> str:
    """The image reference: the full upstream reference, or its copy under the `registry` mirror
    (`llm-platform:mirrors.imageRegistry`, layout in components/mirrors.py)."""
    from components.mirrors import Mirrors, full_reference, mirrored_image

    tag = overrides.get(key, DEFAULT_IMAGE_TAGS[key])
    return mirrored_image(full_reference(f"{IMAGE_REPOSITORIES[key]}:{tag}"), Mirrors(image_registry=registry))


def api_key_env_name(provider: str) -> str:
    return provider.upper().replace("-", "_") + "_API_KEY"


def redis_url(scheme: str, password: str, host: str, port: int | str, db: int, query: str = "") -> str:
    """A Redis URL whose password may hold any character: URL parsers (redis-py, kombu) split
    on `:`, `@` and `/`, so the password is percent-encoded (RFC 3986 userinfo)."""
    url = f"{scheme}://:{quote(password, safe='')}@{host}:{port}/{db}"
    return f"{url}?{query}" if query else url


_DB = {
    "DB_USERNAME": SecretRef(SecretName.DATABASE.value, "username"),
    "DB_PASSWORD": SecretRef(SecretName.DATABASE.value, "password"),
    "DB_HOST": SecretRef(SecretName.DATABASE.value, "host"),
    "DB_PORT": SecretRef(SecretName.DATABASE.value, "port"),
}


# The SSRF proxy's squid.conf: Dify 1.14.2 docker/ssrf_proxy/squid.conf.template rendered with
# the compose defaults (HTTP_PORT=3128, COREDUMP_DIR=/var/spool/squid). Left out on purpose: the
# "reverse proxy to sandbox" section (in one task the sandbox already listens on localhost:8194,
# the port that section would take) and the empty `include /etc/squid/conf.d/*.conf`.
# Added: destinations inside private, loopback, link-local (AWS IMDS / ECS credentials at
# 169.254.169.254 / 169.254.170.2), CGN, multicast and IPv6 local ranges are refused before any
# allow rule, as Dify's newer proxy does by default (docker/ssrf_proxy/README.md "Default Blocked
# Networks" @ 4d184c98, read 2026-07). 127/8 also covers the in-task services (API :5001, plugin
# daemon :5002) and the Container Apps managed-identity endpoint (localhost:42356). The proxy
# itself needs none of them: it is reached from localhost and resolves names through the VPC DNS.
SSRF_PROXY_PORT = 3128
SSRF_DENIED_DESTINATIONS: tuple[str, ...] = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "224.0.0.0/4",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
)
_DENY_ACLS = "\n".join(f"acl to_internal dst {cidr}" for cidr in SSRF_DENIED_DESTINATIONS)
SQUID_CONF = f"""{_DENY_ACLS}
acl localnet src 0.0.0.1-0.255.255.255
acl localnet src 10.0.0.0/8
acl localnet src 100.64.0.0/10
acl localnet src 169.254.0.0/16
acl localnet src 172.16.0.0/12
acl localnet src 192.168.0.0/16
acl localnet src fc00::/7
acl localnet src fe80::/10
acl SSL_ports port 443
acl Safe_ports port 80
acl Safe_ports port 21
acl Safe_ports port 443
acl Safe_ports port 70
acl Safe_ports port 210
acl Safe_ports port 1025-65535
acl Safe_ports port 280
acl Safe_ports port 488
acl Safe_ports port 591
acl Safe_ports port 777
acl CONNECT method CONNECT
http_access deny to_internal
http_access deny !Safe_ports
http_access deny CONNECT !SSL_ports
http_access allow localhost manager
http_access deny manager
http_access allow localhost
http_access deny all
http_port {SSRF_PROXY_PORT}
coredump_dir /var/spool/squid
refresh_pattern ^ftp: 1440 20% 10080
refresh_pattern ^gopher: 1440 0% 1440
refresh_pattern -i (/cgi-bin/|\\?) 0 0% 0
refresh_pattern . 0 20% 4320
"""
# Upstream's entrypoint, minus the template step: write the config, create the cache, run squid
# in the foreground (logs to stdout via `-d 1`).
SQUID_COMMAND = (
    "/bin/sh",
    "-c",
    'printf "%s" "$SQUID_CONF" > /etc/squid/squid.conf && /usr/sbin/squid -Nz -f /etc/squid/squid.conf && exec /usr/sbin/squid -f /etc/squid/squid.conf -NYC -d 1',
)


# dify-sandbox 0.2.15 internal/static/{python,nodejs}_syscall/syscalls_amd64.go ALLOW_SYSCALLS,
# the union of both lists as numbers (x86_64; tasks run X86_64), without any socket call. Why not
# ENABLE_NETWORK=false: Dify's API always asks for `"enable_network": True`
# (api/core/helper/code_executor/code_executor.py) and the sandbox then refuses every run with
# "network is disabled" (internal/service/check.go). With ALLOWED_SYSCALLS set, the sandbox hands
# this list to the seccomp filter of each run instead of its own (+ network) list
# (internal/core/lib/{python,nodejs}/add_seccomp.go): socket/connect/... kill the user process.
SANDBOX_SYSCALLS_WITHOUT_NETWORK: tuple[int, ...] = (
    0, 1, 2, 3, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 24, 25, 28, 35, 39, 60, 72, 89, 96, 102, 105,
    106, 110, 116, 131, 186, 201, 202, 204, 217, 228, 230, 231, 233, 234, 257, 262, 270, 273, 274,
    281, 291, 292, 318, 334,
)


def _set(env: Mapping[str, Any]) -> dict[str, Any]:
    """Settings with a value: ECS drops empty environment values from a task definition, so an
    empty one would show as a change on every `pulumi up`; unset is what Dify reads as empty."""
    return {k: v for k, v in env.items() if v is not None and v != ""}


def dify(backends: Backends) -> AppSpec:
    # With a domain every URL is absolute; without one the browser-facing URLs stay unset (same
    # origin behind one load balancer) and FILES_URL, which Dify hands to model providers and
    # plugins, becomes the load balancer's own address.
    domain = backends.public_url
    local_proxy = f"http://localhost:{SSRF_PROXY_PORT}"
    shared_env = _set({
        "LOG_LEVEL": "INFO",
        "DEPLOY_ENV": "PRODUCTION",
        "CONSOLE_WEB_URL": domain,
        "CONSOLE_API_URL": domain,
        "SERVICE_API_URL": domain,
        "APP_WEB_URL": domain,
        "APP_API_URL": domain,
        "TRIGGER_URL": domain or PublicUrl(),
        "FILES_URL": domain or PublicUrl(),
        # The plugin daemon and workers fetch files from the API inside the task.
        "INTERNAL_FILES_URL": "http://localhost:5001",
        "ENDPOINT_URL_TEMPLATE": f"{domain}/e/{{hook_id}}" if domain else PublicUrl("/e/{hook_id}"),
        "DB_TYPE": "postgresql",
        "DB_DATABASE": "dify",
        "SQLALCHEMY_POOL_PRE_PING": "True",
        "REDIS_USE_SSL": "true",
        # Verify the cache's certificate (ElastiCache: Amazon Root CA; Azure Managed Redis:
        # DigiCert/Microsoft roots; both in the image's CA store). ext_redis.py and ext_celery.py
        # map only these exact names and fall back to CERT_NONE when unset.
        "REDIS_SSL_CERT_REQS": "CERT_REQUIRED",
        "REDIS_DB": "0",
        "BROKER_USE_SSL": "true",
        "VECTOR_STORE": "pgvector",
        "PGVECTOR_DATABASE": "dify",
        "CODE_EXECUTION_ENDPOINT": "http://localhost:8194",
        "PLUGIN_DAEMON_URL": "http://localhost:5002",
        "MARKETPLACE_ENABLED": "true" if backends.marketplace_url else "false",
        "MARKETPLACE_API_URL": backends.marketplace_url,
        # No calls home on any cloud (updates.dify.ai, tmpl.dify.ai: abroad from mainland China,
        # pointless with pinned images): see policies/llm_guard/sources.py DIFY_UPDATE_CHECK_OFF.
        "CHECK_UPDATE_URL": DIFY_UPDATE_CHECK_OFF,
        **DIFY_LOCAL_TEMPLATES,
        # Outbound requests of HTTP nodes and tools go through the SSRF proxy, as in the compose.
        "SSRF_PROXY_HTTP_URL": local_proxy,
        "SSRF_PROXY_HTTPS_URL": local_proxy,
        **backends.storage_env,
        **backends.vector_env,
        **backends.model_env,
    })
    shared_secrets = {
        **_DB,
        "PGVECTOR_USER": SecretRef(SecretName.DATABASE.value, "username"),
        "PGVECTOR_PASSWORD": SecretRef(SecretName.DATABASE.value, "password"),
        "PGVECTOR_HOST": SecretRef(SecretName.DATABASE.value, "host"),
        "PGVECTOR_PORT": SecretRef(SecretName.DATABASE.value, "port"),
        "REDIS_HOST": SecretRef(SecretName.REDIS.value, "host"),
        "REDIS_PORT": SecretRef(SecretName.REDIS.value, "port"),
        "REDIS_PASSWORD": SecretRef(SecretName.REDIS.value, "password"),
        "CELERY_BROKER_URL": SecretRef(SecretName.REDIS.value, "broker_url"),
        "SECRET_KEY": SecretRef(SecretName.APP_KEY.value),
        "CODE_EXECUTION_API_KEY": SecretRef(SecretName.SANDBOX_KEY.value),
        "PLUGIN_DAEMON_KEY": SecretRef(SecretName.PLUGIN_DAEMON_KEY.value),
        "INNER_API_KEY_FOR_PLUGIN": SecretRef(SecretName.PLUGIN_INNER_KEY.value),
    }
    if backends.vector_env.get("VECTOR_STORE", "pgvector") != "pgvector":
        shared_secrets = {k: v for k, v in shared_secrets.items() if not k.startswith("PGVECTOR_")}
        shared_env.pop("PGVECTOR_DATABASE", None)
    shared_secrets.update(backends.vector_secrets)
    shared_secrets.update(backends.model_secrets)
    # cpu/memory are reservations inside the task (Fargate: their sums must fit the task size);
    # idle containers leave their share to the busy ones.
    api = Container(
        name="api",
        image_key="dify-api",
        cpu=768,
        memory=1536,
        port=5001,
        health_path="/health",
        env={**shared_env, "MODE": "api", "MIGRATION_ENABLED": "true"},
        # Only the API serves /console/api/init, which reads INIT_PASSWORD from its environment.
        secrets={**shared_secrets, "INIT_PASSWORD": SecretRef(SecretName.INIT_PASSWORD.value)},
    )
    worker = Container(
        name="worker",
        image_key="dify-api",
        cpu=512,
        memory=1536,
        env={**shared_env, "MODE": "worker", "MIGRATION_ENABLED": "false"},
        secrets=shared_secrets,
    )
    beat = Container(
        name="beat",
        image_key="dify-api",
        cpu=128,
        memory=512,
        env={**shared_env, "MODE": "beat", "MIGRATION_ENABLED": "false"},
        secrets=shared_secrets,
    )
    sandbox = Container(
        name="sandbox",
        image_key="dify-sandbox",
        cpu=256,
        memory=512,
        port=8194,
        health_path="/health",
        env=_set({
            "GIN_MODE": "release",
            "WORKER_TIMEOUT": "15",
            # Must stay true: Dify requests network on every run (see SANDBOX_SYSCALLS_WITHOUT_NETWORK).
            "ENABLE_NETWORK": "true",
            "ALLOWED_SYSCALLS": None if backends.sandbox_network else ",".join(map(str, SANDBOX_SYSCALLS_WITHOUT_NETWORK)),
            # With network allowed, code reaches it through the SSRF proxy (as in the compose).
            "HTTP_PROXY": local_proxy,
            "HTTPS_PROXY": local_proxy,
            "SANDBOX_PORT": "8194",
            **backends.package_index_env,
        }),
        secrets={"API_KEY": SecretRef(SecretName.SANDBOX_KEY.value)},
    )
    ssrf_proxy = Container(
        name="ssrf-proxy",
        image_key="ssrf-proxy",
        cpu=128,
        memory=256,
        port=SSRF_PROXY_PORT,
        env={"SQUID_CONF": SQUID_CONF},
        command=SQUID_COMMAND,
    )
    plugin_daemon = Container(
        name="plugin-daemon",
        image_key="dify-plugin-daemon",
        cpu=256,
        memory=1024,
        port=5002,
        # Plugin endpoints (webhooks): Dify's nginx sends /e/ to the daemon.
        routes=("/e/*",),
        health_path="/health/check",
        env=_set({
            "GIN_MODE": "release",
            "SERVER_PORT": "5002",
            "DB_DATABASE": "dify_plugin",
            # RDS/Flexible Server for PostgreSQL 15+ enforce TLS.
            "DB_SSL_MODE": "require",
            "REDIS_USE_SSL": "true",
            "DIFY_INNER_API_URL": "http://localhost:5001",
            "PLUGIN_WORKING_PATH": "/app/storage/cwd",
            "PLUGIN_INSTALLED_PATH": "plugins",
            "PLUGIN_REMOTE_INSTALLING_ENABLED": "false",
            "FORCE_VERIFYING_SIGNATURE": "true",
            "PLUGIN_MAX_EXECUTION_TIMEOUT": "600",
            **backends.plugin_storage_env,
            **backends.package_index_env,
        }),
        secrets={
            **_DB,
            "REDIS_HOST": SecretRef(SecretName.REDIS.value, "host"),
            "REDIS_PORT": SecretRef(SecretName.REDIS.value, "port"),
            "REDIS_PASSWORD": SecretRef(SecretName.REDIS.value, "password"),
            "SERVER_KEY": SecretRef(SecretName.PLUGIN_DAEMON_KEY.value),
            "DIFY_INNER_API_KEY": SecretRef(SecretName.PLUGIN_INNER_KEY.value),
            **backends.plugin_storage_secrets,
        },
        persistent_paths=("/app/storage",) if backends.plugin_storage_env.get("PLUGIN_STORAGE_TYPE") == "local" else (),
    )
    web = Container(
        name="web",
        image_key="dify-web",
        cpu=512,
        memory=1024,
        port=3000,
        health_path="/apps",
        env=_set({
            "CONSOLE_API_URL": domain,
            "APP_API_URL": domain,
            "NEXT_TELEMETRY_DISABLED": "1",
            # The console's marketplace links; with the marketplace off the API reports it
            # disabled and the console shows none, so they point at the app itself.
            "MARKETPLACE_API_URL": backends.marketplace_url or domain or PublicUrl(),
            "MARKETPLACE_URL": backends.marketplace_url or domain or PublicUrl(),
        }),
    )
    # The routes Dify's own nginx sends to the API (default.conf.template); everything else goes
    # to the web app, /e/ to the plugin daemon (above).
    api_routes = ("/console/api/*", "/api/*", "/v1/*", "/files/*", "/mcp/*", "/triggers/*", "/socket.io/*")
    return AppSpec(
        kind="dify",
        services=(
            Service(
                "api",
                (api, worker, beat, sandbox, ssrf_proxy, plugin_daemon),
                routes=api_routes,
                ingress_container="api",
                # Reservations: cpu 768+512+128+256+128+256 = 2048, memory 5376 MiB of 6144.
                task_cpu=2048,
                task_memory=6144,
            ),
            Service("web", (web,), ingress_container="web", task_cpu=512, task_memory=1024),
        ),
        secrets=(
            SecretName.DATABASE,
            SecretName.REDIS,
            SecretName.APP_KEY,
            SecretName.SANDBOX_KEY,
            SecretName.PLUGIN_DAEMON_KEY,
            SecretName.PLUGIN_INNER_KEY,
            SecretName.INIT_PASSWORD,
        ),
        database_names=("dify", "dify_plugin"),
        needs_redis=True,
        needs_object_storage=True,
    )


# The stacks describe a pgvector store with Dify's names (VECTOR_STORE, PGVECTOR_*); Flowise's
# Postgres vector store reads its defaults from POSTGRES_VECTORSTORE_* (packages/components/nodes/
# vectorstores/Postgres/utils.ts, driver/Base.ts; flowise@3.1.3), TLS off unless _SSL is "true".
_DIFY_VECTOR_KEYS = ("VECTOR_STORE", "PGVECTOR_DATABASE")
_FLOWISE_VECTOR_SECRETS = {"PGVECTOR_HOST": "POSTGRES_VECTORSTORE_HOST", "PGVECTOR_PORT": "POSTGRES_VECTORSTORE_PORT", "PGVECTOR_USER": "POSTGRES_VECTORSTORE_USER", "PGVECTOR_PASSWORD": "POSTGRES_VECTORSTORE_PASSWORD"}


def _flowise_vector_settings(backends: Backends) -> tuple[dict[str, Any], dict[str, SecretRef]]:
    """Flowise's pgvector defaults from the stack's vector store (nothing for other engines)."""
    if backends.vector_env.get("VECTOR_STORE") != "pgvector":
        return {}, {}
    env = {"POSTGRES_VECTORSTORE_DATABASE": backends.vector_env["PGVECTOR_DATABASE"]}
    # Same TLS as the app database: Node's CA store on Azure; on AWS PGSSLMODE (no-verify) applies.
    if backends.flowise_database_tls_env.get("DATABASE_SSL") == "true":
        env["POSTGRES_VECTORSTORE_SSL"] = "true"
    return env, {name: backends.vector_secrets[dify_name] for dify_name, name in _FLOWISE_VECTOR_SECRETS.items()}


def flowise(backends: Backends) -> AppSpec:
    vector_env, vector_secrets = _flowise_vector_settings(backends)
    env = _set({
        "PORT": "3000",
        "DATABASE_TYPE": "postgres",
        "DATABASE_NAME": "flowise",
        **backends.flowise_database_tls_env,
        "DISABLE_FLOWISE_TELEMETRY": "true",
        "NUMBER_OF_PROXIES": "1",
        "TRUST_PROXY": "true",
        "LOG_LEVEL": "info",
        "JWT_ISSUER": "llm-platform",
        "JWT_AUDIENCE": "flowise",
        **backends.storage_env,
        **backends.model_env,
        **{k: v for k, v in backends.vector_env.items() if k not in _DIFY_VECTOR_KEYS},
        **vector_env,
    })
    if backends.public_url:
        env["APP_URL"] = backends.public_url
    secrets = {
        "DATABASE_HOST": SecretRef(SecretName.DATABASE.value, "host"),
        "DATABASE_PORT": SecretRef(SecretName.DATABASE.value, "port"),
        "DATABASE_USER": SecretRef(SecretName.DATABASE.value, "username"),
        "DATABASE_PASSWORD": SecretRef(SecretName.DATABASE.value, "password"),
        "FLOWISE_SECRETKEY_OVERWRITE": SecretRef(SecretName.APP_KEY.value),
        "JWT_AUTH_TOKEN_SECRET": SecretRef(SecretName.JWT_AUTH.value),
        "JWT_REFRESH_TOKEN_SECRET": SecretRef(SecretName.JWT_REFRESH.value),
        "EXPRESS_SESSION_SECRET": SecretRef(SecretName.SESSION.value),
        "TOKEN_HASH_SECRET": SecretRef(SecretName.TOKEN_HASH.value),
        # Flowise "runtime" variables read process.env, so flows can use the stored API keys.
        **{api_key_env_name(p): SecretRef(f"api-key:{p}") for p in backends.api_keys},
        **{k: v for k, v in backends.vector_secrets.items() if k not in _FLOWISE_VECTOR_SECRETS},
        **vector_secrets,
        **backends.model_secrets,
    }
    persistent = ("/root/.flowise",) if backends.storage_env.get("STORAGE_TYPE") == "local" else ()
    app = Container(
        name="flowise",
        image_key="flowise",
        cpu=1024,
        memory=2048,
        port=3000,
        health_path="/api/v1/ping",
        env=env,
        secrets=secrets,
        persistent_paths=persistent,
    )
    return AppSpec(
        kind="flowise",
        services=(Service("flowise", (app,), ingress_container="flowise", task_cpu=1024, task_memory=2048),),
        secrets=(SecretName.DATABASE, SecretName.APP_KEY, SecretName.JWT_AUTH, SecretName.JWT_REFRESH, SecretName.SESSION, SecretName.TOKEN_HASH),
        database_names=("flowise",),
        needs_redis=False,
        needs_object_storage=True,
    )


# Vector stores an app cannot use, and why (flowise@3.1.3, read 2026-11-30). The stacks refuse
# these combinations instead of deploying a store the app cannot reach.
UNUSABLE_VECTOR_ENGINES: Mapping[tuple[str, str], str] = {
    ("flowise", "opensearch-serverless"): (
        "Flowise's OpenSearch node authenticates with basic auth only (packages/components/nodes/vectorstores/OpenSearch/"
        "OpenSearch.ts getOpenSearchClient), while OpenSearch Serverless accepts only SigV4-signed requests; use Dify, "
        "or Flowise on Azure with postgres-pgvector"
    ),
    ("flowise", "aurora-pgvector"): (
        "Flowise's Postgres vector store sets `ssl` itself (vectorstores/Postgres/utils.ts, driver/TypeORM.ts), so PGSSLMODE "
        "does not apply: without TLS Aurora (rds.force_ssl) refuses it, with TLS it verifies against Node's CA store, "
        "which lacks the RDS CA; use Dify, or Flowise on Azure with postgres-pgvector"
    ),
}


def build_app_spec(kind: str, backends: Backends) -> AppSpec:
    builders = {"dify": dify, "flowise": flowise}
    return builders[kind](backends)
