"""Scoped keys, team budgets and budget alerts for the LiteLLM gateway.

Shipped beside config.yaml as `llm_platform_auth.py` (components.gateway.gateway_files) and run
INSIDE the gateway image, so it imports only LiteLLM, redis and the standard library.

Why not LiteLLM virtual keys: they live in LiteLLM's Postgres database through Prisma, whose
query engine binary is downloaded at first start (not possible offline, nor in a locked-down
cluster without that egress); without a database every key but the master key is refused with
"No connected db". LiteLLM's `custom_auth` hook (general_settings.custom_auth,
litellm/proxy/auth/user_api_key_auth.py) is the supported alternative:
- a team key is accepted if its SHA-256 digest matches the digest of the team's key (env
  LLM_PLATFORM_TEAM_KEY_<TEAM>, synced from the cloud secret store); the master key stays for
  administration;
- the returned key object carries the team's public routes (`models`): LiteLLM then refuses any
  other model with 403 key_model_access_denied and lists only those in /v1/models;
- a team's monthly spend is counted in Redis (shared by every replica, kept across restarts) by
  `spend_tracker` (a LiteLLM success callback, litellm_settings.callbacks) and a team at or over
  its budget is refused with 429 budget_exceeded before any upstream is called;
- without REDIS_HOST (Beta: one gateway replica, no Redis) the counters live in this process's
  memory: budgets still apply, per replica and reset on restart; a WARNING
  `LLM_PLATFORM_BUDGET_LOCAL` at start says so. Never a 503 for a store that does not exist;
- crossing an alert threshold (percent of a team's or an upstream's monthly budget) logs one
  WARNING line `LLM_PLATFORM_BUDGET_ALERT ...` per threshold and month, before the cut-off. On
  Azure the log alert rule over Container Insights' ContainerLogV2 mails it
  (components/azure/alerts.py); on AWS, where pod logs reach no alarm, the tracker also
  publishes it to the SNS topic in LLM_PLATFORM_BUDGET_ALERT_TOPIC_ARN (components/aws/alerts.py)
  with boto3 (a dependency of litellm itself, so in the image), off the event loop; a failed
  publish is logged (`LLM_PLATFORM_NOTIFY_FAILED`), never raised into a request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import threading
from datetime import UTC, datetime
from typing import Any

from litellm.integrations.custom_logger import CustomLogger
from litellm.proxy._types import LitellmUserRoles, ProxyException, UserAPIKeyAuth
from redis.exceptions import RedisError

log = logging.getLogger("llm_platform_auth")
MONTH_TTL_SECONDS = 40 * 24 * 3600  # a month's counters outlive the month, then expire


def _team_key_env(team: str) -> str:
    return "LLM_PLATFORM_TEAM_KEY_" + re.sub(r"[^A-Z0-9]", "_", team.upper())


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


TEAMS: dict[str, dict[str, Any]] = json.loads(os.environ.get("LLM_PLATFORM_TEAMS") or "{}")
ALERT_PERCENTS = [int(p) for p in (os.environ.get("LLM_PLATFORM_BUDGET_ALERT_PERCENTS") or "").split(",") if p.strip()]
UPSTREAM_BUDGETS: dict[str, float] = json.loads(os.environ.get("LLM_PLATFORM_UPSTREAM_BUDGETS") or "{}")
_MASTER_DIGEST = _digest(os.environ["LITELLM_MASTER_KEY"]) if os.environ.get("LITELLM_MASTER_KEY") else None
# Prometheus's key (components.gateway.METRICS_KEY_ENV): /metrics only, never a model.
_METRICS_DIGEST = _digest(os.environ["LLM_PLATFORM_METRICS_KEY"]) if os.environ.get("LLM_PLATFORM_METRICS_KEY") else None
# digest -> team; a team whose key env var is missing cannot authenticate at all.
_TEAM_DIGESTS = {_digest(os.environ[_team_key_env(t)]): t for t in TEAMS if os.environ.get(_team_key_env(t))}

_redis: Any = None

# What a team key may call: the OpenAI-style model endpoints that go through the router, the
# guardrails, the key's route scope and the budgets. LiteLLM also serves provider pass-through
# routes (/vllm/*, /mistral/*, /bedrock/*, /azure/*, /openai/*, ...: litellm/proxy/
# pass_through_endpoints/llm_passthrough_endpoints.py) that forward with the gateway's own provider
# keys and run no guardrail, and admin, file, batch and Anthropic-format routes: none of them is a
# team's, whatever LiteLLM's default route lists admit for an internal user.
TEAM_PATHS = frozenset(
    f"{prefix}/{endpoint}" for prefix in ("", "/v1") for endpoint in ("chat/completions", "completions", "embeddings", "models")
)
ALERT_MARKER = "LLM_PLATFORM_BUDGET_ALERT"  # components.gateway.BUDGET_ALERT_MARKER
ALERT_TOPIC_ARN = os.environ.get("LLM_PLATFORM_BUDGET_ALERT_TOPIC_ARN") or None
_sns: Any = None
_sns_lock = threading.Lock()


class _ProcessCounters:
    """The few Redis calls used here, on a dict: spend counted by this process only."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    async def get(self, key: str) -> Any:
        return self._values.get(key)

    async def incrbyfloat(self, key: str, amount: float) -> float:
        self._values[key] = float(self._values.get(key) or 0.0) + amount
        return float(self._values[key])

    async def expire(self, key: str, seconds: int) -> bool:
        return key in self._values  # month keys differ, a month's counters are small

    async def set(self, key: str, value: str, nx: bool = False, ex: int | None = None) -> bool:
        if nx and key in self._values:
            return False
        self._values[key] = value
        return True


if not os.environ.get("REDIS_HOST") and any(t.get("monthly_budget_usd") is not None for t in TEAMS.values()):
    log.warning("LLM_PLATFORM_BUDGET_LOCAL no REDIS_HOST: team budgets are counted in this process only (per replica, reset on restart)")


def _client() -> Any:
    global _redis
    if _redis is None and not os.environ.get("REDIS_HOST"):
        _redis = _ProcessCounters()
    if _redis is None:
        import redis.asyncio as redis

        _redis = redis.Redis(
            host=os.environ["REDIS_HOST"],
            port=int(os.environ.get("REDIS_PORT") or 6379),
            password=os.environ.get("REDIS_PASSWORD") or None,
            ssl=(os.environ.get("REDIS_SSL") or "").lower() == "true",
            socket_timeout=2,
            socket_connect_timeout=2,
        )
    return _redis


def _month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def _spend_key(kind: str, name: str) -> str:
    return f"llm-platform:spend:{kind}:{name}:{_month()}"


def _same(digest: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(digest, expected)


async def user_api_key_auth(request: Any, api_key: str) -> UserAPIKeyAuth:
    digest = _digest(api_key or "")
    if _same(digest, _MASTER_DIGEST):
        return UserAPIKeyAuth(api_key=digest, user_role=LitellmUserRoles.PROXY_ADMIN)
    # /metrics (LiteLLM's PrometheusAuthMiddleware runs this auth on it): the metrics key, and
    # the master key above; team keys neither read it (it names every team) nor need it.
    metrics_route = str(getattr(getattr(request, "url", None), "path", "") or "").rstrip("/") == "/metrics"
    if _same(digest, _METRICS_DIGEST):
        if metrics_route:
            # LiteLLM's route checks admit /metrics for admin roles only; this one is read-only
            # and returned for /metrics alone (any other path was refused just above).
            return UserAPIKeyAuth(api_key=digest, key_alias="metrics", allowed_routes=["/metrics"], user_role=LitellmUserRoles.PROXY_ADMIN_VIEW_ONLY)
        raise ProxyException(message="the metrics key reads /metrics only", type="auth_error", param="Authorization", code=401)
    team = next((t for d, t in _TEAM_DIGESTS.items() if _same(digest, d)), None)
    if team is None or metrics_route:
        raise ProxyException(message="invalid gateway key", type="auth_error", param="Authorization", code=401)
    path = str(getattr(getattr(request, "url", None), "path", "") or "").rstrip("/")
    if path not in TEAM_PATHS:
        raise ProxyException(
            message=f"team keys may call {', '.join(sorted(p for p in TEAM_PATHS if p.startswith('/v1')))} only",
            type="auth_error",
            param=None,
            code=403,
        )
    settings = TEAMS[team]
    budget = settings.get("monthly_budget_usd")
    if budget is not None:
        try:
            spent = float(await _client().get(_spend_key("team", team)) or 0.0)
        except (RedisError, OSError) as exc:  # fail closed: a budget that cannot be read is not enforced otherwise
            log.error("LLM_PLATFORM_BUDGET_UNAVAILABLE team=%s error=%s", team, type(exc).__name__)
            raise ProxyException(message="budget store unavailable", type="service_unavailable", param=None, code=503) from None
        if spent >= float(budget):
            raise ProxyException(
                message=f"team '{team}' is over its monthly budget ({spent:.4f} of {float(budget):.4f} USD)",
                type="budget_exceeded",
                param=None,
                code=429,
            )
    return UserAPIKeyAuth(api_key=digest, team_id=team, key_alias=team, models=list(settings.get("models") or []), user_role=LitellmUserRoles.INTERNAL_USER)


async def _add(kind: str, name: str, cost: float, budget: float | None) -> None:
    redis = _client()
    key = _spend_key(kind, name)
    total = float(await redis.incrbyfloat(key, cost))
    await redis.expire(key, MONTH_TTL_SECONDS)
    if not budget:
        return
    for percent in ALERT_PERCENTS:
        if total >= budget * percent / 100 and await redis.set(f"{key}:alert:{percent}", "1", nx=True, ex=MONTH_TTL_SECONDS):
            line = f"{ALERT_MARKER} {kind}={name} percent={percent:d} spent_usd={total:.4f} budget_usd={budget:.4f} month={_month()}"
            log.warning("%s", line)
            if ALERT_TOPIC_ARN:
                await _notify(kind, name, percent, line)


def _publish(subject: str, message: str) -> None:
    """One SNS Publish with the pod's role (EKS Pod Identity: boto3's container credential
    provider). Blocking: runs in a worker thread."""
    global _sns
    assert ALERT_TOPIC_ARN is not None
    with _sns_lock:  # boto3 sessions are not thread-safe: one client, built once
        if _sns is None:
            import boto3
            from botocore.config import Config

            # The topic's region (arn:<partition>:sns:<region>:<account>:<name>): boto3 then picks
            # the partition's endpoint (the .com.cn one in aws-cn).
            _sns = boto3.session.Session().client(
                "sns",
                region_name=ALERT_TOPIC_ARN.split(":")[3],
                config=Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard", "max_attempts": 3}),
            )
    _sns.publish(TopicArn=ALERT_TOPIC_ARN, Subject=subject[:99], Message=message)


async def _notify(kind: str, name: str, percent: int, line: str) -> None:
    """Mail the alert through the SNS topic; once per threshold and month like the line (not
    retried beyond botocore's own retries). Never raises: spend tracking and requests go on."""
    subject = f"LLM budget alert: {kind} {name} at {percent}% of its monthly budget"
    message = (
        f"The LLM gateway's {kind} '{name}' has spent {percent}% or more of its monthly budget.\n"
        "At 100% the gateway refuses the team's requests (429 budget_exceeded) or skips the upstream until the month ends.\n\n"
        f"{line}\n"
    )
    try:
        await asyncio.to_thread(_publish, subject.encode("ascii", "replace").decode(), message)
    except Exception as exc:  # noqa: BLE001 - whatever boto3 raises, the request path must not see it
        # The exception's class and AWS error code (AccessDenied, KMS.KMSAccessDenied...), never
        # its text or the request.
        response = getattr(exc, "response", None)
        code = response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""
        error = f"{type(exc).__name__} {code}".strip()
        log.error("LLM_PLATFORM_NOTIFY_FAILED %s=%s percent=%d error=%s", kind, name, percent, error)


class SpendTracker(CustomLogger):
    """Adds each answered request's cost to its team's and its upstream's monthly counters."""

    async def async_log_success_event(self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any) -> None:
        payload = kwargs.get("standard_logging_object") or {}
        cost = float(payload.get("response_cost") or kwargs.get("response_cost") or 0.0)
        if cost <= 0:
            return
        team = (payload.get("metadata") or {}).get("user_api_key_team_id")
        upstream = payload.get("model_id")
        try:
            if team in TEAMS:
                await _add("team", team, cost, TEAMS[team].get("monthly_budget_usd"))
            if upstream:
                await _add("upstream", str(upstream), cost, UPSTREAM_BUDGETS.get(str(upstream)))
        except (RedisError, OSError) as exc:
            log.error("LLM_PLATFORM_SPEND_NOT_RECORDED team=%s upstream=%s cost_usd=%.6f error=%s", team, upstream, cost, type(exc).__name__)


spend_tracker = SpendTracker()
