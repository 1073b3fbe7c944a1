"""Every module imports on its own, and the import graph of mathdata and mathtrain has no cycle.

The graph is read from the source with `ast`, counting imports inside functions too (a lazy import
that closes a cycle still ties the two modules together: neither can be understood or moved alone).
"""
import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import mathdata
import mathtrain

SRC = Path(mathdata.__file__).resolve().parents[1]
PACKAGES = ("mathdata", "mathtrain")


def modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((SRC / pkg).rglob("*.py")):
            parts = list(path.relative_to(SRC).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imported(module: str, path: Path, known: dict) -> set[str]:
    """The project modules `module` imports (anywhere in its file)."""
    is_pkg = path.name == "__init__.py"
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # `from pkg import name`: the submodule pkg.name if there is one, else pkg itself
            names += [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in known else prefix for a in node.names]
    out = set()
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module:
            out.add(name)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_reader_sees_a_cycle(tmp_path):
    """The checker itself: a two-module cycle through a lazy import is found, a one-way edge is not."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import x\n")
    (pkg / "b.py").write_text("x = 1\ndef f():\n    from . import a\n")
    (pkg / "c.py").write_text("from pkg.a import x\n")
    known = {"pkg": pkg / "__init__.py", "pkg.a": pkg / "a.py", "pkg.b": pkg / "b.py", "pkg.c": pkg / "c.py"}
    graph = {m: imported(m, p, known) for m, p in known.items()}
    assert graph["pkg.c"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.b"]]


KNOWN: list = []   # cycles allowed: none


def test_no_import_cycles():
    known = modules()
    graph = {m: imported(m, p, known) for m, p in known.items()}
    assert len(graph) > 40 and "mathdata.pipeline" in graph
    assert cycles(graph) == KNOWN


@pytest.mark.parametrize("name", sorted(modules()))
def test_every_module_imports(name):
    mod = importlib.import_module(name)
    assert mod.__name__ == name


def test_every_module_is_listed():
    """pkgutil's view of the packages and the source files agree (nothing imported from elsewhere)."""
    walked = {m.name for pkg in (mathdata, mathtrain) for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")}
    assert walked | set(PACKAGES) == set(modules())
