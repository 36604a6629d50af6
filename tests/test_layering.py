"""The package's import graph: no cycles, and subpackages layered as STYLE.md §3 says.

Imports are read from the source with `ast` (module level and inside functions
alike), so a lazy import that hides a cycle or a layer violation is caught too.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

import softeq

SRC = Path(softeq.__file__).parent

#: Subpackages from the bottom up: each may import only those before it. The
#: private top-level helpers (`softeq._atomic`, `softeq._progress`) come first.
LAYERS = (
    "_atomic", "_progress", "groups", "reps", "basis", "nn", "regularizers",
    "metrics", "data", "train", "auto", "bench", "cli",
)  # fmt: skip
#: `softeq.testing` may import up to `metrics`; library code never imports it.
TESTING_MAY_IMPORT = LAYERS[: LAYERS.index("metrics") + 1]


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    if not node.level:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def _imports() -> dict[str, frozenset[str]]:
    """Module -> the `softeq` modules it imports (`from p import m` counts `p.m`)."""
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, path, node)
                subs = {f"{target}.{a.name}" for a in node.names} & modules.keys()
                targets.update(subs)
                if node.module or len(subs) < len(node.names):
                    targets.add(target)  # not only `from . import submodule`
        graph[module] = frozenset(t for t in targets if t in modules and t != module)
    return graph


def _subpackage(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def _reachable(graph: dict[str, frozenset[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen


def _cycles(graph: dict[str, frozenset[str]]) -> list[tuple[str, ...]]:
    """The import cycles: groups of modules that each reach all the others."""
    reach = {m: _reachable(graph, m) for m in graph}
    on_cycle = [m for m in graph if m in reach[m]]
    return sorted(
        {tuple(sorted(n for n in on_cycle if n in reach[m] and m in reach[n]))
         for m in on_cycle}
    )  # fmt: skip


def _closure(graph: dict[str, frozenset[str]], package: str) -> set[str]:
    """Every module that importing `package` loads, apart from the root package
    (its ``__init__`` imports all subpackages for the quickstart)."""
    parents = {
        m: frozenset(".".join(m.split(".")[:i]) for i in range(2, m.count(".") + 1))
        for m in graph
    }
    graph = {m: (graph[m] | parents[m]) - {"softeq"} for m in graph}
    return {package} | _reachable(graph, package)


def test_the_import_graph_is_read():
    graph = _imports()
    assert "softeq.nn" in graph["softeq.regularizers._projection"]
    assert "softeq.nn.functional" in graph["softeq.nn"]  # from . import functional


def test_cycle_finder_fails_on_a_cycle():
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}),
             "d": frozenset({"a"})}  # fmt: skip
    assert _cycles(graph) == [("a", "b", "c")]


def test_no_module_import_cycles():
    assert _cycles(dict(_imports())) == []


def test_subpackages_import_only_lower_layers():
    wrong = []
    for module, targets in _imports().items():
        source = _subpackage(module)
        for target in targets:
            dest = _subpackage(target)
            if not dest or dest == source:
                continue
            if source == "testing":
                allowed = dest in TESTING_MAY_IMPORT
            elif source in LAYERS and dest in LAYERS:
                allowed = LAYERS.index(dest) < LAYERS.index(source)
            else:  # testing is imported by no library module
                allowed = source == ""
            if not allowed:
                wrong.append(f"{module} -> {target}")
    assert wrong == [], "imports against STYLE.md §3 layering"


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("softeq.data", "softeq.regularizers"),
        ("softeq.metrics", "softeq.regularizers"),
        ("softeq.nn", "softeq.regularizers"),
        ("softeq.data", "softeq.train"),
    ],
)
def test_package_does_not_load(package, forbidden):
    loaded = _closure(_imports(), package)
    assert sorted(m for m in loaded if m.startswith((f"{forbidden}.", forbidden))) == []


def test_importing_data_alone_leaves_regularizers_unloaded():
    # A stand-in root package: `softeq/__init__` imports every subpackage, so the
    # real one would hide what `softeq.data` itself needs.
    code = (
        "import importlib.util, sys, types\n"
        "spec = importlib.util.find_spec('softeq')\n"
        "root = types.ModuleType('softeq')\n"
        "root.__path__ = list(spec.submodule_search_locations)\n"
        "sys.modules['softeq'] = root\n"
        "import softeq.data\n"
        "print(sorted({m.split('.')[1] for m in sys.modules\n"
        "              if m.startswith('softeq.')}))\n"
    )
    path = os.pathsep.join([str(SRC.parent), os.environ.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip
    loaded = ast.literal_eval(out.stdout.strip())
    assert "data" in loaded
    assert "regularizers" not in loaded
    assert "train" not in loaded
