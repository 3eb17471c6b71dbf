"""The code stays easy to live in: no import cycle among ces.* modules (a cycle hidden by an import
inside a function counts too), and no function over 60 lines outside the migrations."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("worker", "connectors", "config")
LONGEST = 60


def _modules() -> dict[str, tuple[Path, ast.Module]]:
    """ces.* module name -> (file, syntax tree), for every file of the three installed folders."""
    found = {}
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(("ces",) + (parts[:-1] if parts[-1] == "__init__" else parts))
            found[name] = (path, ast.parse(path.read_text(encoding="utf-8")))
    return found


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(name: str, path: Path, tree: ast.Module, known: set[str]) -> set[str]:
    """The ces.* modules `name` imports anywhere (at the top or inside a function), except under
    `if TYPE_CHECKING:`, which never runs."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    skipped = {id(n) for block in ast.walk(tree) if _type_checking(block) for n in ast.walk(block)}
    targets: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1] + [node.module or ""]).strip(".") \
                if node.level else node.module
            # `from package import module` is the module; `from module import name`, the module
            submodules = {f"{base}.{alias.name}" for alias in node.names} & known
            targets |= submodules if len(submodules) == len(node.names) else {base} | submodules
    return {t for t in targets if t in known and t != name}


def import_cycles(modules: dict[str, tuple[Path, ast.Module]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    graph = {name: _imports(name, path, tree, set(modules)) for name, (path, tree) in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while not group or group[-1] != v:
                group.append(stack.pop())
            if len(group) > 1:
                cycles.append(sorted(group))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return cycles


def test_no_import_cycles():
    assert import_cycles(_modules()) == []


def test_a_cycle_is_found(tmp_path):
    a = ast.parse("from ces.x import b\n")
    b = ast.parse("def f():\n    from ces.x.a import g\n")
    assert import_cycles({"ces.x.a": (tmp_path / "a.py", a), "ces.x.b": (tmp_path / "b.py", b)}) == [
        ["ces.x.a", "ces.x.b"]]


def test_no_function_is_over_60_lines():
    long = [f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path, tree in _modules().values() if "migrations" not in path.parts
            for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > LONGEST]
    assert long == []
