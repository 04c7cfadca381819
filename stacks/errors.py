"""Config errors that reach users as one clear message, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigProblem:
    key: str  # full config key, e.g. "llm-platform:budget.amount"
    value: object
    message: str  # what is wrong and what is allowed

    def __str__(self) -> str:
        return f"{self.key} = {_show(self.value)}: {self.message}"


class ConfigError(Exception):
    """Bad stack config: stops the program before any resource is registered."""

    def __init__(self, problems: list[ConfigProblem], source: str = "stack config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        head = f"Invalid {self.source}: {count} problem{'s' if count != 1 else ''}."
        return " ".join([head, *(f"{p}." if not str(p).endswith(".") else str(p) for p in self.problems)])


def _show(value: object) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, str):
        return repr(value)
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
