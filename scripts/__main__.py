"""Operator commands: `python -m scripts <command> ...` (see README, "Commands").

Exit codes: 0 success, 1 a check failed (policy violation, over budget), 2 bad input.
No command prints a traceback unless LLM_PLATFORM_DEBUG=1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def example_stacks() -> list[str]:
    root = Path(__file__).resolve().parent.parent / "stacks"
    order = {"poc": 0, "beta": 1, "scale": 2}
    names = [p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml")]
    return sorted(names, key=lambda n: (order.get(n.split("-")[0], 9), n))


def cmd_plan(args: argparse.Namespace) -> int:
    from scripts.engine import plan_stack
    from scripts.plan import render_plan

    if args.all:
        return _plan_all(args.json)
    if not args.stack:
        raise UsageError("plan: name a STACK (e.g. poc-aws or a path to a stack config file), or use --all")
    plan = plan_stack(args.stack, args.stack_name)
    if args.json:
        print(json.dumps(plan.to_json(), indent=2, sort_keys=False))
    else:
        print(render_plan(plan))
    return EXIT_OK


def _plan_all(as_json: bool) -> int:
    """Plan and audit every example stack (one policy pack process for all); summary table last."""
    from scripts.audit import PolicyPackProcess, analyze, render, resolve_audit_profile
    from scripts.engine import plan_stack
    from scripts.plan import render_plan, render_table, summary_row

    rows = []
    failed = False
    with PolicyPackProcess({}, "llm-platform", "examples") as pack:
        for stack in example_stacks():
            plan = plan_stack(stack)
            graph = plan.to_json()
            profile, custom = resolve_audit_profile(graph, None)
            result = analyze(graph, profile, custom, pack=pack)
            failed = failed or bool(result.mandatory)
            if not as_json:
                print(render_plan(plan))
                print()
                print(render(result))
                print()
            row = summary_row(plan)
            row["audit"] = "passed" if not result.mandatory else f"FAILED ({len(result.mandatory)})"
            rows.append(row)
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        print(render_table(rows, ["stack", "phase", "cloud", "residency", "regions", "resources", "protected", "audit"]))
    return EXIT_FAILED if failed else EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from scripts.audit import AuditInputError, analyze, load_graph, render, resolve_audit_profile
    from scripts.engine import plan_stack

    if args.plan:
        graph = load_graph(args.plan)
    elif args.stack:
        graph = plan_stack(args.stack).to_json()
    else:
        raise UsageError("audit: name a STACK or give --plan PLAN.json")
    profile, custom = resolve_audit_profile(graph, args.profile)
    pack_config = None
    if args.policy_config:
        try:
            pack_config = json.loads(Path(args.policy_config).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AuditInputError(f"cannot read policy config '{args.policy_config}': {exc}") from None
    result = analyze(graph, profile, custom, pack_config)
    print(json.dumps(result.to_json(), indent=2) if args.json else render(result))
    return EXIT_FAILED if result.mandatory else EXIT_OK


def cmd_policy_config(args: argparse.Namespace) -> int:
    from policies.llm_guard.profiles import BUILTIN_PROFILES
    from scripts.audit import PACK_DIR, policy_pack_config

    names = args.profile or sorted(BUILTIN_PROFILES)
    unknown = [n for n in names if n not in BUILTIN_PROFILES]
    if unknown:
        raise UsageError(f"policy-config: unknown built-in profile(s) {', '.join(unknown)}; known: {', '.join(sorted(BUILTIN_PROFILES))} (custom profiles: write customProfiles into the file)")
    for name in names:
        text = json.dumps(policy_pack_config(name), indent=2) + "\n"
        if args.write:
            path = PACK_DIR / "config" / f"{name}.json"
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(PACK_DIR.parent)}")
        else:
            print(text, end="")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m scripts", description="llm-platform operator commands (offline unless noted)")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    plan = sub.add_parser("plan", help="offline plan of a stack: what `pulumi up` would create")
    plan.add_argument("stack", nargs="?", help="stack name (stacks/Pulumi.<name>.yaml) or path to a stack config file")
    plan.add_argument("--json", action="store_true", help="print the recorded resource graph as JSON")
    plan.add_argument("--all", action="store_true", help="plan every example stack and print a summary table")
    plan.add_argument("--stack-name", help="plan under this stack name (URNs and names), e.g. to compare promotions")
    plan.set_defaults(func=cmd_plan)
    audit = sub.add_parser("audit", help="run the policy pack over a stack's offline plan (or a recorded graph)")
    audit.add_argument("stack", nargs="?", help="stack name or stack config file to plan and audit")
    audit.add_argument("--plan", help="audit this recorded graph (the JSON of `plan --json`) instead of planning")
    audit.add_argument("--profile", help="residency profile to enforce (default: the graph's llm-platform:residency)")
    audit.add_argument("--policy-config", help="a policy pack config file, as given to `pulumi preview --policy-pack-config`")
    audit.add_argument("--json", action="store_true", help="print the result as JSON")
    audit.set_defaults(func=cmd_audit)
    policy_config = sub.add_parser("policy-config", help="print (or --write) the policy pack config for built-in residency profiles")
    policy_config.add_argument("profile", nargs="*", help="built-in profile names (default: all)")
    policy_config.add_argument("--write", action="store_true", help="write policies/config/<profile>.json")
    policy_config.set_defaults(func=cmd_policy_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from scripts.audit import AuditInputError
    from scripts.engine import PlanInputError, ProgramError
    from stacks.errors import ConfigError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            raise UsageError(parser.format_usage().strip())
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except (UsageError, PlanInputError, ConfigError, ProgramError, AuditInputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        if os.environ.get("LLM_PLATFORM_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__}: {exc} (set LLM_PLATFORM_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
