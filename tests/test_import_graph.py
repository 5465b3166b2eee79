"""The package's imports only go down: no cycles between modules, and the CLI on top of the rest.

Every ``import`` statement counts, also those inside functions (a lazy import still makes the
importing module depend on the imported one); a module importing a package it lies in (``from ..
import __version__``) does not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mlsmear

ROOT = Path(mlsmear.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = ["mlsmear", *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1] if node.level else []
    name = ".".join([*base, *([node.module] if node.module else [])])
    return [f"{name}.{a.name}" for a in node.names] + [name]


def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _imported(module, path, node):
                if target in modules and target != module and not module.startswith(target + "."):
                    graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                out.append(sorted([v, *component]))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_imports():
    graph = import_graph()
    assert {"mlsmear.columnar", "mlsmear.coffea.nanoevents"} <= graph["mlsmear.smear"]
    assert "mlsmear.smear_files" in graph["mlsmear.cli.smear"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert _cycles(import_graph()) == []


def test_only_the_cli_imports_the_cli():
    upward = {m: sorted(t for t in targets if t.startswith("mlsmear.cli"))
              for m, targets in import_graph().items() if not m.startswith("mlsmear.cli")}
    assert {m: t for m, t in upward.items() if t} == {}


def test_benchmarks_and_examples_import_what_the_package_has():
    """The scripts outside the package (not imported by any test) name modules and objects that
    exist: a module moved inside the package shows here, not at the next benchmark run."""
    import importlib

    scripts = [*ROOT.parent.glob("benchmarks/*.py"), *ROOT.parent.glob("examples/*.py")]
    assert scripts
    missing = []
    for path in scripts:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mlsmear")):
                continue
            module = importlib.import_module(node.module)
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                if not hasattr(module, alias.name) and not _is_module(name):
                    missing.append(f"{path.name}: {name}")
    assert missing == []


def _is_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
