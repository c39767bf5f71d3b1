"""The layout's rules, executable: imports flow one way (cli → stages → model), no module imports
another that imports it back (lazy imports inside functions count), and no module grows past
600 lines. DESIGN.md describes the layout these tests keep true."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dancer"
MAX_LINES = 600
#: Plain data and helpers every stage may use; they import nothing else from dancer.
#: ``dancer.timemap`` is pure maths a `PlanEntry` carries (its rate curve).
FOUNDATION = {"dancer.model", "dancer.errors", "dancer.paths", "dancer.clock", "dancer.tomldata",
              "dancer.timemap"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """Every module ``name`` imports, at the top or inside a function or a TYPE_CHECKING block."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            found.add(base)
            # ``from dancer.plan import arcs`` imports the module dancer.plan.arcs.
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
    return found


def dancer_imports(name: str) -> set[str]:
    """The dancer modules ``name`` imports (a name imported from a module counts as that module)."""
    out = set()
    for imported in imports_of(name):
        while imported and imported not in MODULES:
            imported = imported.rpartition(".")[0]
        if imported and imported != name:
            out.add(imported)
    return out


GRAPH = {name: dancer_imports(name) for name in MODULES}


def is_cli(name: str) -> bool:
    return name == "dancer.cli" or name.startswith("dancer.cli.") or name == "dancer.__main__"


def test_the_walk_sees_lazy_imports() -> None:
    assert "dancer.plan.planner" in GRAPH["dancer.session.live"], "imports inside functions must count"
    assert "dancer.library.store" in GRAPH["dancer.cli.scan"]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that ends where it starts), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " → ".join(cycle or ())


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not is_cli(n)))
def test_domain_modules_never_import_the_cli_or_click(name: str) -> None:
    imported = imports_of(name)
    assert not any(m == "click" or m.startswith("click.") for m in imported), f"{name} imports click"
    assert not any(is_cli(m) for m in GRAPH[name]), f"{name} imports the command-line layer"


@pytest.mark.parametrize("name", sorted(FOUNDATION))
def test_foundation_modules_import_only_each_other(name: str) -> None:
    assert GRAPH[name] <= FOUNDATION, f"{name} imports {sorted(GRAPH[name] - FOUNDATION)}"


def test_no_module_over_600_lines() -> None:
    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"split these along their concepts: {long}"
