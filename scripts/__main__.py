"""Operator commands: `python -m scripts <command> ...` (see README, "Commands").

Exit codes: 0 success, 1 a check failed (policy violation, over budget), 2 bad input.
No command prints a traceback unless LLM_PLATFORM_DEBUG=1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from decimal import Decimal
from pathlib import Path
from typing import Any

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
    from scripts.engine.render import render_plan

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


def _plan_example(stack: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """One example stack's readable plan, summary row and graph (run in a worker process)."""
    from scripts.engine import plan_stack
    from scripts.engine.render import render_plan, summary_row

    plan = plan_stack(stack)
    return render_plan(plan), summary_row(plan), plan.to_json()


def _cloud_of(stack: str) -> str:
    from scripts.engine import read_stack_file

    return str(read_stack_file(stack).config.get("llm-platform:cloud", "aws")).strip('"')


def _plan_all(as_json: bool) -> int:
    """Plan and audit every example stack (one policy pack process for all); summary table last."""
    from scripts.audit import PolicyPackProcess, analyze, render, resolve_audit_profile
    from scripts.cost import estimate, price_book
    from scripts.engine.render import render_table

    book = price_book()

    stacks = example_stacks()
    done: dict[str, tuple[str, dict[str, Any]]] = {}
    failed = False
    # The pack starts first (it warms up while the plans run); stacks plan on both cores and each
    # is audited as soon as its plan arrives, so the pack works while the other plans run.
    # One planning process per cloud: each imports only its cloud's SDK modules (a third of a
    # plan's time is their import).
    with PolicyPackProcess({}, "llm-platform", "examples") as pack, ProcessPoolExecutor(max_workers=1) as aws, ProcessPoolExecutor(max_workers=1) as azure:
        futures = {(azure if _cloud_of(stack) == "azure" else aws).submit(_plan_example, stack): stack for stack in stacks}
        for future in as_completed(futures):
            text, row, graph = future.result()
            profile, custom = resolve_audit_profile(graph, None)
            result = analyze(graph, profile, custom, pack=pack)
            failed = failed or bool(result.mandatory)
            row["audit"] = "passed" if not result.mandatory else f"FAILED ({len(result.mandatory)})"
            cost = estimate(graph, None, book)
            currency = cost.budget_currency
            row["estimate/month"] = f"{cost.total_in_budget_currency(book):,.0f} {currency}" + (" OVER" if cost.over_budget(book) else "")
            row["budget/month"] = f"{cost.budget_amount:,.0f} {currency}" if cost.budget_amount is not None else "-"
            done[futures[future]] = (f"{text}\n\n{render(result)}\n", row)
    rows = [done[stack][1] for stack in stacks]
    if not as_json:
        for stack in stacks:
            print(done[stack][0])
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        print(render_table(rows, ["stack", "phase", "cloud", "residency", "regions", "resources", "protected", "audit", "estimate/month", "budget/month"]))
        print("Estimates: `python -m scripts cost STACK` for the lines, unpriced resources and assumptions.")
    return EXIT_FAILED if failed else EXIT_OK


def _graph_of(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """The recorded graph given with --plan, or the offline plan of STACK."""
    from scripts.audit import load_graph
    from scripts.engine import plan_stack

    if args.plan:
        return load_graph(args.plan)
    if args.stack:
        return plan_stack(args.stack).to_json()
    raise UsageError(f"{command}: name a STACK or give --plan PLAN.json")


def cmd_images(args: argparse.Namespace) -> int:
    from scripts.ops.images import render, report

    result = report(_graph_of(args, "images"))
    print(json.dumps(result, indent=2) if args.json else render(result))
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from scripts.audit import analyze, read_policy_config, render, resolve_audit_profile

    graph = _graph_of(args, "audit")
    profile, custom = resolve_audit_profile(graph, args.profile)
    pack_config = read_policy_config(args.policy_config) if args.policy_config else None
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


def cmd_diff(args: argparse.Namespace) -> int:
    from scripts.audit import load_graph
    from scripts.ops.diff import diff_graphs, render_markdown, render_text

    diff = diff_graphs(
        load_graph(args.base, allow_empty=True), load_graph(args.head, allow_empty=True), args.base, args.head, ignore_tags=args.ignore_tags
    )
    if args.json:
        print(json.dumps(diff.to_json(), indent=2))
    elif args.markdown:
        print(render_markdown(diff, args.title), end="")
    else:
        print(render_text(diff, color=sys.stdout.isatty()))
    return EXIT_FAILED if args.fail_on_stateful and diff.flagged else EXIT_OK


def cmd_cost(args: argparse.Namespace) -> int:
    from scripts.cost import CostInputError, estimate, price_book, render

    if args.tokens_per_month is not None and not isinstance(args.tokens_per_month, float):
        raise UsageError("cost: --tokens-per-month needs a token count, e.g. 2000000000, 2e9 or 2B")
    graph = _graph_of(args, "cost")
    book = price_book()
    try:
        result = estimate(graph, args.tokens_per_month, book)
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        if not args.plan:
            raise
        # A graph file passed the shape checks of load_graph, but a resource input has a type
        # `plan --json` never records (the pricing reads inputs as the providers define them).
        raise CostInputError(f"cannot price the graph '{args.plan}': a resource input has an unexpected type ({type(exc).__name__}); write graphs with `python -m scripts plan STACK --json`") from None
    print(json.dumps(result.to_json(book), indent=2) if args.json else render(result, book))
    return EXIT_FAILED if result.over_budget(book) else EXIT_OK


# The ceiling of llm-platform:budget.expectedTokensPerMonth (stacks/config).
MAX_TOKENS_PER_MONTH = 10**13


def _tokens(text: str) -> float:
    """2000000000, 2_000_000_000, 2,000,000,000, 2e9, 2B, 500M, 20k."""
    units = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
    example = "e.g. 2000000000, 2_000_000_000, 2e9 or 2B"
    number = text.strip().replace(",", "")
    scale = 1.0
    if number and number[-1].lower() in units:
        number, scale = number[:-1], units[number[-1].lower()]
    # float() alone would take 'inf', 'nan', '1_0' inside words and surrounding blanks.
    if not re.fullmatch(r"\d+(_\d+)*(\.\d+)?([eE][+-]?\d+)?|-\d.*", number):
        raise argparse.ArgumentTypeError(f"'{text}' is not a token count ({example})")
    if number.startswith("-"):
        raise argparse.ArgumentTypeError(f"'{text}' must be zero or more ({example})")
    value = float(number) * scale
    if not math.isfinite(value) or value > MAX_TOKENS_PER_MONTH:
        raise argparse.ArgumentTypeError(f"'{text}' is more than {MAX_TOKENS_PER_MONTH:.0e} tokens per month ({example})")
    return value


def _stack_name(text: str) -> str:
    # Pulumi stack names: letters, digits, '-', '_' and '.', up to 100 characters (pulumi stack init).
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", text):
        raise argparse.ArgumentTypeError(f"'{text[:100]}' is not a stack name: letters, digits, '-', '_' or '.', up to 100 characters")
    return text


def cmd_tco(args: argparse.Namespace) -> int:
    from scripts.cost import price_book
    from scripts.cost.tco import plot, render, reproduce_pure_api, scenarios, strategy_for
    from scripts.engine import plan_stack

    if args.ops_usd_per_month < 0:
        raise UsageError("tco: --ops-usd-per-month must be zero or more")
    book = price_book()
    graph = plan_stack(args.stack).to_json()
    strategy = strategy_for(graph, book, args.ops_usd_per_month)
    repro = reproduce_pure_api(book)
    rows = scenarios(strategy, book)
    inflection = strategy.inflection()
    path = plot(strategy, inflection, Path(args.plot), [r.tokens_per_month for r in rows]) if args.plot else None
    if args.json:
        print(
            json.dumps(
                {
                    "report_pure_api": {"implied_cny_per_million": repro.implied_cny_per_million, "implied_usd_per_million": repro.implied_usd_per_million, "reproduced": repro.reproduced, "matches": repro.matches},
                    "scenarios": [vars(r) for r in rows],
                    "inflection_tokens_per_month": inflection,
                    "plot": str(path) if path else None,
                },
                indent=2,
            )
        )
    else:
        print(render(repro, strategy, rows, inflection, path, args.stack))
    return EXIT_OK


def cmd_score(args: argparse.Namespace) -> int:
    from scripts.cost.score import load, model, render, weighted_totals

    weights, scores = model(load(args.weights) if args.weights else None)
    totals = weighted_totals(weights, scores)
    if args.json:
        print(json.dumps({"weights": {d: float(w) for d, w in weights.items()}, "totals": {s: float(t.quantize(Decimal("0.01"))) for s, t in totals.items()}}, indent=2))
    else:
        print(render(weights, scores, totals))
    return EXIT_OK


def cmd_bootstrap(args: argparse.Namespace) -> int:
    from scripts.ops.bootstrap import BootstrapError, bootstrap_aws, render

    if args.cloud != "aws":
        raise UsageError(f"bootstrap: cloud '{args.cloud}' is not supported; supported: aws (Azure: use a Storage account with `pulumi login azblob://...`)")
    try:
        result = bootstrap_aws(args.region, args.name)
    except BootstrapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(render(result))
    return EXIT_OK


def cmd_audit_live(args: argparse.Namespace) -> int:
    from scripts.audit import render
    from scripts.ops.live_audit import audit_account

    if args.cloud != "aws":
        raise UsageError(f"audit-live: cloud '{args.cloud}' is not supported; supported: aws")
    result, skipped = audit_account(args.profile, args.regions)
    if args.json:
        print(json.dumps({**result.to_json(), "not_scanned": skipped}, indent=2))
    else:
        text = render(result)
        if skipped:
            text += f"\nNot scanned (access denied or not offered there): {len(skipped)}\n" + "\n".join(f"    {s}" for s in skipped)
        print(text)
    return EXIT_FAILED if result.mandatory else EXIT_OK


def cmd_new_stack(args: argparse.Namespace) -> int:
    from scripts.ops.new_stack import new_stack

    path = new_stack(args.name, args.cloud, args.phase, args.residency, args.region, args.app, force=args.force)
    print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    print(f"next: python -m scripts plan {args.name}   (then: python -m scripts audit {args.name})")
    return EXIT_OK


def cmd_promote(args: argparse.Namespace) -> int:
    from scripts.ops.diff import render_markdown, render_text
    from scripts.ops.new_stack import promote, promotion_diff

    path, before, _ = promote(args.name, args.to)
    print(f"promoted {args.name} to {args.to}: {path.name} now has llm-platform:{args.to}")
    diff = promotion_diff(args.name, before, path)
    print(render_markdown(diff, f"Plan diff of {args.name} promoted to {args.to}") if args.markdown else render_text(diff, color=sys.stdout.isatty()), end="\n")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m scripts", description="llm-platform operator commands (offline unless noted)")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    plan = sub.add_parser("plan", help="offline plan of a stack: what `pulumi up` would create")
    plan.add_argument("stack", nargs="?", help="stack name (stacks/Pulumi.<name>.yaml) or path to a stack config file")
    plan.add_argument("--json", action="store_true", help="print the recorded resource graph as JSON")
    plan.add_argument("--all", action="store_true", help="plan every example stack and print a summary table")
    plan.add_argument("--stack-name", type=_stack_name, help="plan under this stack name (URNs and names), e.g. to compare promotions")
    plan.set_defaults(func=cmd_plan)
    audit = sub.add_parser("audit", help="run the policy pack over a stack's offline plan (or a recorded graph)")
    audit.add_argument("stack", nargs="?", help="stack name or stack config file to plan and audit")
    audit.add_argument("--plan", help="audit this recorded graph (the JSON of `plan --json`) instead of planning")
    audit.add_argument("--profile", help="residency profile to enforce (default: the graph's llm-platform:residency)")
    audit.add_argument("--policy-config", help="a policy pack config file, as given to `pulumi preview --policy-pack-config`")
    audit.add_argument("--json", action="store_true", help="print the result as JSON")
    audit.set_defaults(func=cmd_audit)
    images = sub.add_parser("images", help="every image and chart a stack pulls, their upstreams and the commands that copy them into the mirrors")
    images.add_argument("stack", nargs="?", help="stack name or stack config file to plan")
    images.add_argument("--plan", help="read this recorded graph (the JSON of `plan --json`) instead of planning")
    images.add_argument("--json", action="store_true", help="print the list as JSON")
    images.set_defaults(func=cmd_images)
    policy_config = sub.add_parser("policy-config", help="print (or --write) the policy pack config for built-in residency profiles")
    policy_config.add_argument("profile", nargs="*", help="built-in profile names (default: all)")
    policy_config.add_argument("--write", action="store_true", help="write policies/config/<profile>.json")
    policy_config.set_defaults(func=cmd_policy_config)
    diff = sub.add_parser("diff", help="compare two recorded graphs (`plan --json`): created, deleted, changed; stateful changes flagged")
    diff.add_argument("base", help="the graph before the change (BASE.json)")
    diff.add_argument("head", help="the graph after the change (HEAD.json)")
    form = diff.add_mutually_exclusive_group()
    form.add_argument("--markdown", action="store_true", help="Markdown for a job summary or PR comment")
    form.add_argument("--json", action="store_true", help="JSON for machines")
    diff.add_argument("--title", help="heading of the Markdown output")
    diff.add_argument("--fail-on-stateful", action="store_true", help="exit 1 when a stateful resource is deleted, replaced or changed beyond its tags")
    diff.add_argument("--ignore-tags", action="store_true", help="leave out changes of tags (every promotion changes the phase tag)")
    diff.set_defaults(func=cmd_diff)
    cost = sub.add_parser("cost", help="monthly cost estimate of a stack from its offline plan, beside its budget (exit 1 when over)")
    cost.add_argument("stack", nargs="?", help="stack name or stack config file")
    cost.add_argument("--plan", help="estimate this recorded graph (the JSON of `plan --json`) instead of planning")
    cost.add_argument("--tokens-per-month", type=_tokens, help="expected traffic (default: llm-platform:budget.expectedTokensPerMonth, else none); e.g. 2e9 or 2B")
    cost.add_argument("--json", action="store_true", help="print the estimate as JSON")
    cost.set_defaults(func=cmd_cost)
    tco = sub.add_parser("tco", help="the report's three-year TCO next to a recomputation with this project's prices; inflection point; plot")
    tco.add_argument("--stack", default="scale-aws", help="the Scale stack whose GPU pool and fallbacks to use (default scale-aws)")
    tco.add_argument("--plot", default="tco.png", help="PNG to write (default tco.png; empty to skip)")
    tco.add_argument("--ops-usd-per-month", type=float, default=0.0, help="staff cost of running the cluster, added to self-hosting (default 0)")
    tco.add_argument("--json", action="store_true", help="print the results as JSON")
    tco.set_defaults(func=cmd_tco)
    score = sub.add_parser("score", help="the report's weighted scoring model (section 2), with your weights and scores")
    score.add_argument("--weights", help="YAML/JSON file: `weights` (percent, summing to 100) and optionally `scores`")
    score.add_argument("--json", action="store_true", help="print the weighted totals as JSON")
    score.set_defaults(func=cmd_score)
    bootstrap = sub.add_parser("bootstrap", help="create a self-managed Pulumi backend (state bucket + KMS key), idempotently [uses AWS]")
    bootstrap.add_argument("cloud", help="aws")
    bootstrap.add_argument("--region", required=True, help="region of the bucket and key, e.g. eu-central-1")
    bootstrap.add_argument("--name", required=True, help="the state bucket's name (globally unique)")
    bootstrap.set_defaults(func=cmd_bootstrap)
    new = sub.add_parser("new-stack", help="write stacks/Pulumi.NAME.yaml for a cloud, phase and residency profile from the examples")
    new.add_argument("name", help="the stack name (stacks/Pulumi.<name>.yaml)")
    new.add_argument("--cloud", required=True, help="aws or azure")
    new.add_argument("--phase", required=True, help="poc, beta or scale")
    new.add_argument("--residency", required=True, help="built-in residency profile: cn, eu, eu-strict, us, global")
    new.add_argument("--region", help="a region of the profile (default: the profile's example region)")
    new.add_argument("--app", help="dify or flowise (default: the example's)")
    new.add_argument("--force", action="store_true", help="overwrite an existing stack file")
    new.set_defaults(func=cmd_new_stack)
    promote = sub.add_parser("promote", help="add the next phase to a stack (keeping every name) and print the plan diff")
    promote.add_argument("name", help="the stack name (stacks/Pulumi.<name>.yaml)")
    promote.add_argument("--to", required=True, help="beta or scale")
    promote.add_argument("--markdown", action="store_true", help="print the diff as Markdown")
    promote.set_defaults(func=cmd_promote)
    live = sub.add_parser("audit-live", help="read-only residency and tag audit of an existing account [uses AWS]")
    live.add_argument("cloud", help="aws")
    live.add_argument("--profile", required=True, help="residency profile to audit against (eu, eu-strict, us, cn, global)")
    live.add_argument("--regions", nargs="+", help="regions to scan (default: every region enabled in the account)")
    live.add_argument("--json", action="store_true", help="print the result as JSON")
    live.set_defaults(func=cmd_audit_live)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from scripts.audit import AuditInputError
    from scripts.cost import CostInputError
    from scripts.cost.score import ScoreInputError
    from scripts.cost.tco import TcoInputError
    from scripts.engine import PlanInputError, ProgramError
    from scripts.ops.bootstrap import BootstrapInputError
    from scripts.ops.live_audit import LiveAuditInputError
    from scripts.ops.new_stack import NewStackError
    from stacks.errors import ConfigError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            raise UsageError(parser.format_usage().strip())
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except (UsageError, NewStackError, PlanInputError, ConfigError, ProgramError, AuditInputError, BootstrapInputError, LiveAuditInputError, CostInputError, ScoreInputError, TcoInputError) as exc:
        print("error: " + " ".join(str(exc).splitlines()), file=sys.stderr)  # one line, whatever the input held
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK
    except RecursionError:
        print("error: the input is nested too deeply", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:
        if os.environ.get("LLM_PLATFORM_DEBUG"):
            raise
        # The exception text may quote a config value; only its type and place are printed.
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f" in {Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}" if tb is not None else ""
        print(f"internal error: {type(exc).__name__}{where} (set LLM_PLATFORM_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
