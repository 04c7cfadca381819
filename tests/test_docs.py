"""The docs cannot rot: every relative link resolves, and every `python -m scripts` command in a
```bash block of README.md and docs/*.md runs and succeeds, in order, in a copy of the repository
(so commands that write stack files never touch the checkout). A block preceded by
`<!-- docs-test: skip (reason) -->` is not run (commands that need a cloud account)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"\]\((?!https?://|mailto:)(?P<target>[^)#\s]*)(?:#(?P<anchor>[^)\s]+))?\)")
_RUNNABLE = re.compile(r"^(?:\.venv/bin/)?python -m scripts\b")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def _blocks(page: Path) -> list[tuple[int, list[str]]]:
    """(line number, runnable lines) of each shell block not marked to skip."""
    lines = page.read_text().splitlines()
    found = []
    i = 0
    while i < len(lines):
        fence = re.match(r"^```([\w-]*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), len(lines))
        skipped = any("docs-test: skip" in lines[k] for k in range(max(0, i - 2), i))
        runnable = [line.strip() for line in lines[i + 1 : end] if _RUNNABLE.match(line.strip())]
        if fence.group(1) in ("bash", "sh", "console") and not skipped and runnable:
            found.append((i + 1, runnable))
        i = end + 1
    return found


COMMAND_BLOCKS = [(page, line, lines) for page in PAGES for line, lines in _blocks(page)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_anchors_resolve(page: Path) -> None:
    broken = []
    for m in _LINK.finditer(page.read_text()):
        target = (page.parent / m.group("target")).resolve() if m.group("target") else page
        missing_anchor = target.exists() and bool(m.group("anchor")) and target.suffix == ".md" and m.group("anchor") not in _anchors(target)
        if not target.exists() or missing_anchor:
            broken.append(m.group(0))
    assert not broken, f"{page.name}: links to nothing: {broken}"


def test_the_docs_show_runnable_commands() -> None:
    assert len(COMMAND_BLOCKS) >= 3, "the README's quick start and the docs' recipes are executed here"


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("repo") / "llm-platform"
    ignore = shutil.ignore_patterns(".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", "*.png")
    shutil.copytree(ROOT, copy, ignore=ignore)
    return copy


@pytest.mark.parametrize(("page", "line", "lines"), COMMAND_BLOCKS, ids=[f"{p.relative_to(ROOT)}:{n}" for p, n, _ in COMMAND_BLOCKS])
def test_documented_commands_run(repo_copy: Path, page: Path, line: int, lines: list[str]) -> None:
    bin_dir = Path(sys.executable).parent
    script = "set -euo pipefail\n" + "\n".join(re.sub(r"^\.venv/bin/python", "python", s.strip()) for s in lines)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(["bash", "-c", script], cwd=repo_copy, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, f"{page.name}:{line} failed (exit {result.returncode}):\n{script}\n{result.stderr[-2000:]}"
