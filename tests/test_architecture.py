"""The model stays pure: bot/model imports nothing that does I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MODEL_DIR = Path(__file__).resolve().parents[1] / "bot" / "model"
ALLOWED_ROOTS = {"numpy", "__future__", "bot"}
ALLOWED_BOT = ("bot.model", "bot.market.types")
STDLIB_OK = {"dataclasses", "typing", "math", "collections", "functools", "itertools", "hashlib", "enum", "abc"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", sorted(MODEL_DIR.glob("*.py")), ids=lambda p: p.name)
def test_model_imports_no_io(path: Path) -> None:
    for name in _imports(path):
        root = name.split(".")[0]
        if root == "bot":
            assert name.startswith(ALLOWED_BOT), f"{path.name} imports {name}"
        else:
            assert root in ALLOWED_ROOTS | STDLIB_OK, f"{path.name} imports {name}: the model must stay pure"
