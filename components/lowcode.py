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

# Pinned image tags (Docker Hub). Dify's api/web and plugin daemon versions move together; see
# the Dify docker-compose of the same release. Override per stack with `poc.app.imageTags`.
DEFAULT_IMAGE_TAGS: Mapping[str, str] = {
    "dify-api": "1.14.2",
    "dify-web": "1.14.2",
    "dify-sandbox": "0.2.12",
    "dify-plugin-daemon": "0.6.1-local",
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
    STORAGE_CONNECTION = "storage-connection"  # Azure: the plugin daemon's blob connection string


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
    command: tuple[str, ...] | None = None
    essential: bool = True
    # Paths the container writes that must survive restarts (mounted from the app's file share).
    persistent_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Service:
    """Containers that run together (one ECS task / one Container App) and share localhost."""

    name: str
    containers: tuple[Container, ...]
    # Path patterns the load balancer sends here (ALB listener rules); empty = default route.
    routes: tuple[str, ...] = ()
    ingress_container: str | None = None
    min_replicas: int = 1
    # Size of the whole task / app; container cpu and memory above are soft shares within it.
    # Fargate pairs: 512 CPU -> 1-4 GB, 1024 -> 2-8 GB, 2048 -> 4-16 GB, 4096 -> 8-30 GB.
    task_cpu: int = 1024
    task_memory: int = 2048


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


def image(key: str, overrides: Mapping[str, str], registry: str | None = None) -> str:
    """The image reference; with `registry` (a mirror such as an ECR pull-through cache) the
    upstream repository path is kept and the upstream host dropped."""
    tag = overrides.get(key, DEFAULT_IMAGE_TAGS[key])
    repo = IMAGE_REPOSITORIES[key]
    if registry:
        first, _, rest = repo.partition("/")
        path = rest if "." in first and rest else repo
        return f"{registry.rstrip('/')}/{path}:{tag}"
    return f"{repo}:{tag}"


def api_key_env_name(provider: str) -> str:
    return provider.upper().replace("-", "_") + "_API_KEY"


_DB = {
    "DB_USERNAME": SecretRef(SecretName.DATABASE.value, "username"),
    "DB_PASSWORD": SecretRef(SecretName.DATABASE.value, "password"),
    "DB_HOST": SecretRef(SecretName.DATABASE.value, "host"),
    "DB_PORT": SecretRef(SecretName.DATABASE.value, "port"),
}


def dify(backends: Backends) -> AppSpec:
    url = backends.public_url or ""
    shared_env = {
        "LOG_LEVEL": "INFO",
        "DEPLOY_ENV": "PRODUCTION",
        # Empty URLs mean "same origin as the browser", which is right behind one load balancer.
        "CONSOLE_WEB_URL": url,
        "CONSOLE_API_URL": url,
        "SERVICE_API_URL": url,
        "APP_WEB_URL": url,
        "APP_API_URL": url,
        "FILES_URL": url,
        "DB_TYPE": "postgresql",
        "DB_DATABASE": "dify",
        "SQLALCHEMY_POOL_PRE_PING": "True",
        "REDIS_USE_SSL": "true",
        "REDIS_DB": "0",
        "BROKER_USE_SSL": "true",
        "VECTOR_STORE": "pgvector",
        "PGVECTOR_DATABASE": "dify",
        "CODE_EXECUTION_ENDPOINT": "http://localhost:8194",
        "PLUGIN_DAEMON_URL": "http://localhost:5002",
        "MARKETPLACE_ENABLED": "true",
        **backends.storage_env,
        **backends.vector_env,
        **backends.model_env,
    }
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
    api = Container(
        name="api",
        image_key="dify-api",
        cpu=1024,
        memory=2048,
        port=5001,
        health_path="/health",
        env={**shared_env, "MODE": "api", "MIGRATION_ENABLED": "true"},
        secrets=shared_secrets,
    )
    worker = Container(
        name="worker",
        image_key="dify-api",
        cpu=512,
        memory=2048,
        env={**shared_env, "MODE": "worker", "MIGRATION_ENABLED": "false"},
        secrets=shared_secrets,
    )
    beat = Container(
        name="beat",
        image_key="dify-api",
        cpu=256,
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
        env={"GIN_MODE": "release", "WORKER_TIMEOUT": "15", "ENABLE_NETWORK": "true", "SANDBOX_PORT": "8194"},
        secrets={"API_KEY": SecretRef(SecretName.SANDBOX_KEY.value)},
    )
    plugin_daemon = Container(
        name="plugin-daemon",
        image_key="dify-plugin-daemon",
        cpu=512,
        memory=1024,
        port=5002,
        env={
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
        },
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
        env={
            "CONSOLE_API_URL": url,
            "APP_API_URL": url,
            "NEXT_TELEMETRY_DISABLED": "1",
            "MARKETPLACE_API_URL": "https://marketplace.dify.ai",
            "MARKETPLACE_URL": "https://marketplace.dify.ai",
        },
    )
    # The routes Dify's own nginx sends to the API; everything else goes to the web app.
    api_routes = ("/console/api/*", "/api/*", "/v1/*", "/files/*", "/mcp/*", "/triggers/*")
    return AppSpec(
        kind="dify",
        services=(
            Service(
                "api",
                (api, worker, beat, sandbox, plugin_daemon),
                routes=api_routes,
                ingress_container="api",
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
        ),
        database_names=("dify", "dify_plugin"),
        needs_redis=True,
        needs_object_storage=True,
    )


def flowise(backends: Backends) -> AppSpec:
    env = {
        "PORT": "3000",
        "DATABASE_TYPE": "postgres",
        "DATABASE_NAME": "flowise",
        "DATABASE_SSL": "true",
        "DISABLE_FLOWISE_TELEMETRY": "true",
        "NUMBER_OF_PROXIES": "1",
        "TRUST_PROXY": "true",
        "LOG_LEVEL": "info",
        "JWT_ISSUER": "llm-platform",
        "JWT_AUDIENCE": "flowise",
        **backends.storage_env,
        **backends.model_env,
        **backends.vector_env,
    }
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
        # Flowise "runtime" variables read process.env, so flows can use the stored API keys.
        **{api_key_env_name(p): SecretRef(f"api-key:{p}") for p in backends.api_keys},
        **backends.vector_secrets,
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
        secrets=(SecretName.DATABASE, SecretName.APP_KEY, SecretName.JWT_AUTH, SecretName.JWT_REFRESH, SecretName.SESSION),
        database_names=("flowise",),
        needs_redis=False,
        needs_object_storage=True,
    )


def build_app_spec(kind: str, backends: Backends) -> AppSpec:
    builders = {"dify": dify, "flowise": flowise}
    return builders[kind](backends)
