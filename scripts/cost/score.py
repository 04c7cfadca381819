"""The seed report's weighted scoring model (section 2): weighted total = sum(score x weight) with
weights in percent summing to 100. Defaults reproduce the report's table; `--weights FILE`
(YAML or JSON: `weights`, optionally `scores`) re-ranks the deployment modes with your priorities.

    python -m scripts score [--weights FILE] [--json]
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

DEFAULTS_FILE = Path(__file__).resolve().parents[1] / "data" / "scoring.yaml"
SCORE_RANGE = (Decimal(0), Decimal(5))


class ScoreInputError(Exception):
    """Bad weights or scores: exit code 2."""


def _decimal(value: Any, where: str) -> Decimal:
    text = str(value).strip().removesuffix("%")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ScoreInputError(f"{where} = {value!r} is not a number") from None
    if not number.is_finite():
        raise ScoreInputError(f"{where} = {value!r} is not a number")
    return number


def load(path: str | Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScoreInputError(f"cannot read '{path}': {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ScoreInputError(f"'{path}' is not YAML or JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ScoreInputError(f"'{path}' must hold a mapping with `weights` (and optionally `scores`)")
    return data


def model(custom: Mapping[str, Any] | None = None) -> tuple[dict[str, Decimal], dict[str, dict[str, Decimal]]]:
    """Validated weights (percent) and scores; `custom` overrides the report's defaults."""
    defaults = load(DEFAULTS_FILE)
    custom = custom or {}
    unknown = set(custom) - {"weights", "scores", "source", "report_totals"}
    if unknown:
        raise ScoreInputError(f"unknown key(s) {', '.join(sorted(unknown))}; allowed: weights, scores")
    raw_weights = custom.get("weights", defaults["weights"])
    if not isinstance(raw_weights, dict) or not raw_weights:
        raise ScoreInputError("weights must be a mapping of dimension -> percent, e.g. {speed: 30, performance: 20, ...}")
    dimensions = list(defaults["weights"])
    missing, extra = [d for d in dimensions if d not in raw_weights], [d for d in raw_weights if d not in dimensions]
    if missing or extra:
        raise ScoreInputError(
            "weights must name exactly the dimensions " + ", ".join(dimensions) + (f"; missing: {', '.join(missing)}" if missing else "") + (f"; unknown: {', '.join(map(str, extra))}" if extra else "")
        )
    weights = {d: _decimal(raw_weights[d], f"weights.{d}") for d in dimensions}
    for d, w in weights.items():
        if w < 0:
            raise ScoreInputError(f"weights.{d} = {w} must not be negative")
    total = sum(weights.values())
    if total != 100:
        raise ScoreInputError(f"weights sum to {total}%, not 100% ({', '.join(f'{d} {w}' for d, w in weights.items())})")
    raw_scores = custom.get("scores", defaults["scores"])
    if not isinstance(raw_scores, dict) or not raw_scores:
        raise ScoreInputError("scores must be a mapping of solution -> {dimension: score}")
    scores: dict[str, dict[str, Decimal]] = {}
    for solution, row in raw_scores.items():
        if not isinstance(row, dict) or set(row) != set(dimensions):
            raise ScoreInputError(f"scores['{solution}'] must give a score for each of {', '.join(dimensions)}")
        scores[str(solution)] = {}
        for d in dimensions:
            value = _decimal(row[d], f"scores['{solution}'].{d}")
            if not SCORE_RANGE[0] <= value <= SCORE_RANGE[1]:
                raise ScoreInputError(f"scores['{solution}'].{d} = {value} is outside 0-5")
            scores[str(solution)][d] = value
    return weights, scores


def weighted_totals(weights: Mapping[str, Decimal], scores: Mapping[str, Mapping[str, Decimal]]) -> dict[str, Decimal]:
    return {solution: sum((row[d] * weights[d] for d in weights), Decimal(0)) / 100 for solution, row in scores.items()}


def render(weights: Mapping[str, Decimal], scores: Mapping[str, Mapping[str, Decimal]], totals: Mapping[str, Decimal]) -> str:
    dims = list(weights)
    name_width = max(len(s) for s in scores) + 2
    header = f"{'solution':<{name_width}}" + "".join(f"{d[:11]:>12}" for d in dims) + f"{'weighted':>10}"
    weight_row = f"{'weight %':<{name_width}}" + "".join(f"{weights[d]:>12}" for d in dims)
    lines = [header, weight_row]
    for solution, total in sorted(totals.items(), key=lambda kv: -kv[1]):
        lines.append(f"{solution:<{name_width}}" + "".join(f"{scores[solution][d]:>12}" for d in dims) + f"{total.quantize(Decimal('0.01')):>10}")
    return "\n".join(lines)
