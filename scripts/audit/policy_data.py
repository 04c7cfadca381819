"""Generates the policy pack's SDK-derived data: which resource types take tags, and how.

The pack runs in its own small virtualenv without the cloud SDKs, so what the SDKs say is
captured here, from the installed pulumi-aws and pulumi-azure-native sources, into
`policies/llm_guard/data/taggable.json`. A test regenerates it and fails on any drift, so the
file always matches the pinned SDKs.

    python -m scripts.audit.policy_data            # rewrite the file
    python -m scripts.audit.policy_data --check    # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import re
import sys
from pathlib import Path

OUTPUT = Path(__file__).resolve().parents[2] / "policies" / "llm_guard" / "data" / "taggable.json"
PACKAGES = ("pulumi_aws", "pulumi_azure_native")

_TOKEN = re.compile(r"super\(\w+, __self__\)\.__init__\(\s*'([a-z0-9-]+:[^']+)'")
_INIT = re.compile(r"def _internal_init\(__self__,(.*?)\):", re.S)
_TAGS = re.compile(r"^\s+tags: pulumi\.Input\[(.*)\] = None,?$", re.M)


def scan(package: str) -> dict[str, str]:
    """type token -> "map" (tags: {key: value}) or "list" (tags: [{key, value, ...}])."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{package} is not installed")
    root = Path(spec.origin).parent
    found: dict[str, str] = {}
    for path in root.rglob("*.py"):
        if path.name.startswith("_"):
            continue
        text = path.read_text(encoding="utf-8")
        if "pulumi.CustomResource" not in text:
            continue
        init = _INIT.search(text)
        tokens = _TOKEN.findall(text)
        if not init or not tokens:
            continue
        tags = _TAGS.search(init.group(1))
        if tags:
            kind = "list" if "Sequence" in tags.group(1) else "map"
            for token in tokens:
                found[token] = kind
    return found


def generate() -> dict[str, object]:
    versions = {}
    types: dict[str, str] = {}
    for package in PACKAGES:
        distribution = package.replace("_", "-")
        versions[distribution] = importlib.metadata.version(distribution)
        types.update(scan(package))
    return {"sdks": versions, "taggable": dict(sorted(types.items()))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.audit.policy_data")
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed file differs from the SDKs")
    args = parser.parse_args(argv)
    data = generate()
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is stale: run `python -m scripts.audit.policy_data`", file=sys.stderr)
            return 1
        print(f"{OUTPUT.name}: {len(data['taggable'])} taggable types, up to date")  # type: ignore[arg-type]
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(data['taggable'])} taggable types)")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
