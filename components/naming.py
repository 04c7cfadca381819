"""Physical names derived from the stack, never from the phase: promoting a stack from PoC to
Beta must not rename (and so replace) anything."""

from __future__ import annotations

import hashlib
import re


def slug(text: str, max_len: int = 63) -> str:
    cleaned = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return re.sub(r"-{2,}", "-", cleaned)[:max_len].strip("-")


def short_hash(*parts: str, length: int = 6) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


_PREFIX_MAX = 40


def stack_prefix(stack: str) -> str:
    """`llm-<stack>` when that spells the stack exactly; otherwise shortened or cleaned and
    suffixed with a hash of the exact stack name, so two stacks never share a prefix.

    Pulumi stack names may hold upper case, `_` and `.`, which physical names of many AWS and
    Azure resources may not; `Beta_AWS` and `beta-aws` (or two long names sharing their first 36
    characters) would otherwise collide in one account. Names that were already exact keep
    their prefix, so no existing stack is renamed.
    """
    plain = slug(f"llm-{stack}", 10_000)
    if plain == f"llm-{stack}" and len(plain) <= _PREFIX_MAX:
        return plain
    digest = short_hash("stack", stack)
    return f"{plain[: _PREFIX_MAX - len(digest) - 1].rstrip('-')}-{digest}"


class Namer:
    """Names for one stack: `llm-<stack>-<what>`, shortened with a stable hash when too long."""

    def __init__(self, project: str, stack: str) -> None:
        self.project = project
        self.stack = stack
        self.prefix = stack_prefix(stack)

    def name(self, what: str, max_len: int = 63, sep: str = "-") -> str:
        full = f"{self.prefix}{sep}{slug(what)}"
        if len(full) <= max_len:
            return full
        digest = short_hash(self.project, self.stack, what)
        return f"{full[: max_len - len(digest) - 1].rstrip(sep)}{sep}{digest}"

    def compact(self, what: str, max_len: int = 24) -> str:
        """Lowercase alphanumerics only (storage accounts, Key Vaults need short plain names)."""
        digest = short_hash(self.project, self.stack, what)
        base = re.sub(r"[^a-z0-9]", "", f"llm{self.stack}{what}".lower())
        return (base[: max_len - len(digest)] + digest)[:max_len]

    def path(self, *parts: str) -> str:
        """Hierarchical names, e.g. Secrets Manager `llm-platform/<stack>/openai-api-key`."""
        return "/".join([self.project, self.stack, *parts])
