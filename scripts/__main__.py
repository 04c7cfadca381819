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
    from scripts.plan import render_plan, render_table, summary_row

    if args.all:
        rows = []
        for stack in example_stacks():
            plan = plan_stack(stack)
            if not args.json:
                print(render_plan(plan))
                print()
            rows.append(summary_row(plan))
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            print(render_table(rows, ["stack", "phase", "cloud", "residency", "regions", "resources", "protected"]))
        return EXIT_OK
    if not args.stack:
        raise UsageError("plan: name a STACK (e.g. poc-aws or a path to a stack config file), or use --all")
    plan = plan_stack(args.stack, args.stack_name)
    if args.json:
        print(json.dumps(plan.to_json(), indent=2, sort_keys=False))
    else:
        print(render_plan(plan))
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from scripts.engine import PlanInputError, ProgramError
    from stacks.errors import ConfigError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            raise UsageError(parser.format_usage().strip())
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except (UsageError, PlanInputError, ConfigError, ProgramError) as exc:
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
