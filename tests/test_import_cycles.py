"""No module of ``bot/`` imports another in a cycle, not even through imports inside functions: the package's import
graph (every ``import``/``from ... import`` anywhere in a module, except under ``if TYPE_CHECKING:``, which never
runs) is acyclic. The package never imports the test tree."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"


def module_name(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The ``bot`` modules that ``path`` imports anywhere (a package import counts as its ``__init__``)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
                   for n in ast.walk(block)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for t in targets:
            if t in known and t != name:
                found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    files = sorted(BOT.rglob("*.py"))
    known = {module_name(f) for f in files}
    return {module_name(f): imports_of(f, known) for f in files}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in g:
        if v not in index:
            visit(v)
    return out


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(graph()) == []


def refers_to_tests(node: ast.AST) -> bool:
    """An import of the test tree, or a module path string into it (``importlib.import_module("tests....")``)."""
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] == "tests"
    if isinstance(node, ast.Import):
        return any(a.name.split(".")[0] == "tests" for a in node.names)
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("tests.")


def test_the_package_never_imports_the_tests() -> None:
    offenders = sorted(str(f.relative_to(BOT.parent)) for f in BOT.rglob("*.py")
                       if any(refers_to_tests(n) for n in ast.walk(ast.parse(f.read_text(encoding="utf-8")))))
    assert offenders == []
