"""The CI matrix of every stack file in stacks/ (the examples and any stack a user adds), by phase.

    python -m scripts.ops.ci_matrix            # JSON: {"poc": [...], "beta": [...], "scale": [...], "all": [...]}
    python -m scripts.ops.ci_matrix --github   # the same lists as GitHub step outputs (poc=..., ...)

Each entry says how a workflow logs in for that stack: the cloud, whether it is a China cloud
(AWS China: OIDC audience sts.amazonaws.com.cn and an arn:aws-cn role; Azure China:
AzureChinaCloud and the api://AzureADTokenExchangeChina audience) and the policy pack config
(policies/config/<profile>.json, or none for a custom profile: the pack then reads the stack's own
llm-platform:residency and residencyProfiles). Credentials are never here: each stack's job runs
in the GitHub environment of the stack's name, whose variables name that stack's role/identity.
Only PyYAML and the region tables are imported, so the workflow needs no program install.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from policies.llm_guard.regions import AWS_PARTITION_REGIONS

ROOT = Path(__file__).resolve().parents[2]
PHASES = ("poc", "beta", "scale")


def stack_entry(path: Path, root: Path = ROOT) -> dict[str, Any]:
    config = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("config") or {}
    stack = path.name[len("Pulumi.") : -len(".yaml")]
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", stack):
        # The name reaches workflow expressions and environment names: letters, digits, . _ - only.
        raise ValueError(f"{path.name}: stack names are letters, digits, '.', '_' and '-' (at most 100)")
    cloud = str(config.get("llm-platform:cloud", ""))
    phase = str(config.get("llm-platform:phase", ""))
    profile = str(config.get("llm-platform:residency", ""))
    if cloud not in ("aws", "azure") or phase not in PHASES or not profile:
        raise ValueError(f"{path.name}: llm-platform:cloud (aws|azure), llm-platform:phase (poc|beta|scale) and llm-platform:residency are required")
    if cloud == "aws":
        china = str(config.get("aws:region", "")) in AWS_PARTITION_REGIONS["aws-cn"]
    else:
        china = str(config.get("azure-native:environment", "public")) == "china"
    policy_config = f"policies/config/{profile}.json"
    return {
        "stack": stack,
        "cloud": cloud,
        "phase": phase,
        "profile": profile,
        "china": china,
        "policy_config": policy_config if (root / policy_config).exists() else "",
    }


def matrix(root: Path = ROOT) -> dict[str, list[dict[str, Any]]]:
    entries = [stack_entry(p, root) for p in sorted((root / "stacks").glob("Pulumi.*.yaml"))]
    out: dict[str, list[dict[str, Any]]] = {phase: [e for e in entries if e["phase"] == phase] for phase in PHASES}
    out["all"] = entries
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        result = matrix()
    except (ValueError, OSError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args == ["--github"]:
        lines = [f"{name}={json.dumps(entries, separators=(',', ':'))}" for name, entries in result.items()]
        target = os.environ.get("GITHUB_OUTPUT")
        if target:
            with open(target, "a", encoding="utf-8") as out:
                out.write("\n".join(lines) + "\n")
        print("\n".join(lines))
        return 0
    if args:
        print("usage: python -m scripts.ops.ci_matrix [--github]", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
