"""Config errors that reach users as one clear message, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigProblem:
    key: str  # full config key, e.g. "llm-platform:budget.amount"
    value: object
    message: str  # what is wrong and what is allowed

    def render(self, secret_keys: set[str] | frozenset[str] = frozenset()) -> str:
        from stacks.config import REDACTED, SECRET_TEXT, redact  # stacks.config imports this module

        shown = redact(self.key, self.value, secret_keys)
        message = self.message
        if shown in (REDACTED, SECRET_TEXT) and isinstance(self.value, str) and len(self.value) >= 4:
            message = message.replace(self.value, str(shown))  # a validator may have quoted it
        return f"{self.key} = {_show(shown)}: {message}"

    def __str__(self) -> str:
        return self.render()


class ConfigError(Exception):
    """Bad stack config: stops the program before any resource is registered."""

    def __init__(self, problems: list[ConfigProblem], source: str = "stack config", secret_keys: set[str] | frozenset[str] = frozenset()) -> None:
        self.problems = problems
        self.source = source
        self.secret_keys = frozenset(secret_keys)
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        head = f"Invalid {self.source}: {count} problem{'s' if count != 1 else ''}."
        lines = [p.render(self.secret_keys) for p in self.problems]
        return " ".join([head, *(line if line.endswith((".", "?", "!")) else f"{line}." for line in lines)]).replace("\n", " ")


def _show(value: object) -> str:
    from stacks.config import REDACTED, SECRET_TEXT

    if value is None:
        return "(not set)"
    if value in (REDACTED, SECRET_TEXT, "(set)"):
        return str(value)
    if isinstance(value, str):
        return repr(value)
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
