"""Layers point one way: scripts -> stacks -> components -> policies (data). No module of a lower
layer imports a higher one, at module level or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("scripts", "stacks", "components", "policies")  # each may import only those after it


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("layer", LAYERS[1:])
def test_no_import_points_up_a_layer(layer: str) -> None:
    above = set(LAYERS[: LAYERS.index(layer)])
    upward = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & above)
        for path in (ROOT / layer).rglob("*.py")
        if _imports(path) & above
    }
    assert not upward, f"{layer}/ imports a higher layer: {upward}"
