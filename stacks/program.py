"""The program `__main__.py` runs: read the stack config, validate it, build the phase."""

from __future__ import annotations

import importlib
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from stacks.config import NAMESPACE, PlatformConfig, load_config
from stacks.context import StackContext, create_context
from stacks.errors import ConfigError


def read_raw_config() -> tuple[dict[str, Any], set[str]]:
    """All config the engine handed the program, and which keys are secrets."""
    raw: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret_keys = set(runtime_config.get_config_secret_keys_env())
    secret_keys.update(key for key in raw if pulumi.runtime.is_config_secret(key))
    return raw, secret_keys


def build(config: PlatformConfig, ctx: StackContext) -> None:
    """stacks/<phase>.py defines <phase>_<cloud>(ctx); imported lazily so a config error never
    pays for importing the cloud SDKs."""
    module = importlib.import_module(f"stacks.{config.phase.value}")
    getattr(module, f"{config.phase.value}_{config.cloud.value}")(ctx)


def main() -> None:
    raw, secret_keys = read_raw_config()
    try:
        config = load_config(raw, secret_keys, source=f"config of stack '{pulumi.get_stack()}'")
    except ConfigError as exc:
        # RunError ends the program with its message and no stack trace (pulumi docs).
        raise pulumi.RunError(exc.render()) from None
    ctx = create_context(config, raw)
    pulumi.export("phase", config.phase.value)
    pulumi.export("residency", config.residency)
    pulumi.export("region", config.region)
    build(config, ctx)


def secret_api_key(provider_config_key: str) -> pulumi.Output[str]:
    """An API key as a Pulumi secret, straight from `pulumi config set --secret`."""
    name = provider_config_key.split(":", 1)[1] if ":" in provider_config_key else provider_config_key
    return pulumi.Config(NAMESPACE).require_secret(name)
