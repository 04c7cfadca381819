"""Shared fixtures: plans of the example stacks (cached per session) and stack-file variants."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.engine import Plan, plan_stack

ROOT = Path(__file__).resolve().parent.parent
_PLANS: dict[tuple[str, str | None], Plan] = {}


def load_stack(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is _DELETE:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


_DELETE = _Delete()


@pytest.fixture(scope="session")
def DELETE() -> _Delete:
    return _DELETE


@pytest.fixture(scope="session")
def variant_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stacks")


@pytest.fixture(scope="session")
def make_variant(variant_dir: Path) -> Callable[..., Path]:
    """Write `stacks/Pulumi.<base>.yaml` with `config` overrides as Pulumi.<name>.yaml."""

    def make(base: str, name: str, config: dict[str, Any]) -> Path:
        document = load_stack(base)
        document["config"] = deep_merge(document["config"], config)
        path = variant_dir / f"Pulumi.{name}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    return make


@pytest.fixture(scope="session")
def plan_of() -> Callable[..., Plan]:
    """Plan a stack (name or file) once per session."""

    def get(stack: str | Path, stack_name: str | None = None) -> Plan:
        key = (str(stack), stack_name)
        if key not in _PLANS:
            _PLANS[key] = plan_stack(str(stack), stack_name)
        return _PLANS[key]

    return get


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scripts", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def resources_of(plan: Plan, type_token: str) -> list[Any]:
    return [r for r in plan.resources if r.type == type_token]

