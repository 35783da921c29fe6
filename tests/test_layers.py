"""The package's layers: no module imports a module of a higher layer, and no import cycle.

This file is where the layer order is written (docs/architecture.md shows it, and
``test_architecture_page_lists_these_layers`` keeps the two the same). Imports are read from the
sources (``ast`` for .py, the import lines of .pyx/.pxi/.pxd), not from a running interpreter, so
an import inside a function, under ``TYPE_CHECKING`` or on a path no test takes counts the same.
A module may import modules of its own layer and of lower ones; a layer's packages are named by
prefix (``hotcache.tiers`` covers every module under it), the root package ``hotcache`` itself
(its ``__init__``) only by its exact name.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import pytest

import hotcache

# lowest first; (name, what it is, the modules in it)
LAYERS: List[Tuple[str, str, Tuple[str, ...]]] = [
    ("foundation", "validation, stats, keys, single-flight and cache-aside, the circuit breaker",
     ("hotcache._version", "hotcache._config", "hotcache.stats", "hotcache.keys", "hotcache._flight",
      "hotcache.breaker", "hotcache.sizing.hll", "hotcache.sizing.report", "hotcache.sizing.sampler")),
    ("core", "the C core's binding and its pure-Python twin, the sizing advisor's offline driver",
     ("hotcache._native", "hotcache._spec", "hotcache.sizing")),
    ("caches", "the public cache classes, and the choice native / twin",
     ("hotcache.cache", "hotcache._classes")),
    ("tiers", "second tiers behind an L1 (Redis, disk) and the Redis patterns",
     ("hotcache.tiers", "hotcache.disk", "hotcache.redis")),
    ("patterns", "cache-aside, write-through, write-behind, refresh-ahead",
     ("hotcache.patterns",)),
    ("memo", "the decorators",
     ("hotcache.memo", "hotcache.func")),
    ("entry", "the package root, the command line, the benchmark, metrics, the old module names",
     ("hotcache", "hotcache.__main__", "hotcache.bench", "hotcache.metrics", "hotcache.decorators",
      "hotcache.redis_tier", "hotcache.redis_patterns")),
]

# named in LAYERS before their code lands (the layering holds for them from their first commit)
NOT_YET: set = set()

# the source tree when the tests sit beside it (a clone, an sdist: .pyx and .pxi included), else
# the installed package (an installed wheel's test run: its .py files)
_SOURCE = Path(__file__).resolve().parents[1] / "src" / "hotcache"
PACKAGE = _SOURCE if (_SOURCE / "__init__.py").is_file() else Path(hotcache.__file__).resolve().parent
SUFFIXES = (".py", ".pyx", ".pxi", ".pxd")
CYTHON_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+c?import\b|c?import\s+([\w.]+))", re.M)


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> List[Path]:
    return [p for p in sorted(PACKAGE.rglob("*"))
            if p.suffix in SUFFIXES and p.is_file() and "__pycache__" not in p.parts]


def _owner(path: Path) -> str:
    """The module a source file is part of: itself (.py, .pyx), else the directory's .pyx (the
    .pxi/.pxd files a Cython module includes or cimports)."""
    if path.suffix in (".py", ".pyx"):
        return _module_name(path)
    pyx = sorted(path.parent.glob("*.pyx"))
    return _module_name(pyx[0]) if pyx else _module_name(path.parent / "__init__.py")


SOURCES = _sources()
# importable modules and packages (a .pyx is one; .pxi/.pxd files are parts of one)
MODULES = {_module_name(p) for p in SOURCES if p.suffix in (".py", ".pyx")}


def _find_layer(module: str) -> Optional[int]:
    """The index in LAYERS of the layer naming ``module`` (the longest name that covers it)."""
    best, where = -1, None
    for i, (_, _, names) in enumerate(LAYERS):
        for name in names:
            exact = name == "hotcache"
            if module == name or (not exact and module.startswith(name + ".")):
                if len(name) > best:
                    best, where = len(name), i
    return where


def _layer(module: str) -> int:
    where = _find_layer(module)
    if where is None:
        raise KeyError(module)
    return where


def _resolve(importer: str, is_package: bool, node: ast.AST) -> List[Tuple[str, int]]:
    """The hotcache modules ``node`` imports, with its line."""
    out = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            out.append(alias.name)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = importer.split(".") if is_package else importer.split(".")[:-1]
            base = base[:len(base) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        for alias in node.names:
            sub = module + "." + alias.name
            out.append(sub if sub in MODULES else module)
    return [(m, node.lineno) for m in out if m == "hotcache" or m.startswith("hotcache.")]


def _imports() -> Dict[str, List[Tuple[str, int, str]]]:
    """module -> [(imported hotcache module, line, file)] for every source file."""
    edges: Dict[str, List[Tuple[str, int, str]]] = {}
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        owner = name = _owner(path)
        found = edges.setdefault(owner, [])
        rel = str(path.relative_to(PACKAGE.parent))
        if path.suffix == ".py":
            tree = ast.parse(text, str(path))
            for node in ast.walk(tree):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    for target, line in _resolve(name, path.name == "__init__.py", node):
                        found.append((target, line, rel))
        else:
            for m in CYTHON_IMPORT.finditer(text):
                target = m.group(1) or m.group(2)
                if target.startswith("hotcache"):
                    found.append((target, text.count("\n", 0, m.start()) + 1, rel))
    return edges


EDGES = _imports()


def test_every_module_has_a_layer():
    missing = sorted(m for m in MODULES if _find_layer(m) is None)
    assert not missing, "modules no layer names (add them to LAYERS): %s" % missing


def test_every_named_module_exists():
    """The table does not rot: each name it lists is a module or package of the tree (or one
    of NOT_YET, whose code has not landed)."""
    names = [n for _, _, names in LAYERS for n in names]
    assert len(names) == len(set(names)), "a module is named twice"
    absent = [n for n in names if n not in MODULES and n not in NOT_YET]
    assert not absent, absent
    early = sorted(n for n in NOT_YET if n in MODULES)
    assert not early, "%s exist now: take them out of NOT_YET" % early


def test_the_native_module_is_seen():
    """The scan reads the Cython sources too (their imports are part of the graph)."""
    if not any(p.suffix == ".pyx" for p in SOURCES):
        pytest.skip("no source tree beside the tests and a wheel ships no Cython sources (its .py files are scanned)")
    targets = {t for t, _, _ in EDGES.get("hotcache._native.core", [])}
    assert {"hotcache._native.hc", "hotcache._config", "hotcache.stats"} <= targets, targets


def test_no_module_imports_a_higher_layer():
    bad = []
    for importer, targets in sorted(EDGES.items()):
        low = _layer(importer)
        for target, line, path in targets:
            if _layer(target) > low:
                bad.append("%s:%d  %s (%s) imports %s (%s)" % (
                    path, line, importer, LAYERS[low][0], target, LAYERS[_layer(target)][0]))
    assert not bad, "imports against the layer order:\n  " + "\n  ".join(bad)


def test_no_import_cycles():
    graph: Dict[str, Set[str]] = {m: set() for m in EDGES}
    for importer, targets in EDGES.items():
        for target, _, _ in targets:
            if target != importer:
                graph[importer].add(target)
                graph.setdefault(target, set())
    cycles = [sorted(c) for c in _strongly_connected(graph) if len(c) > 1]
    assert not cycles, "import cycles: %s" % cycles


def _strongly_connected(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Tarjan's algorithm, iterative (no recursion limit to meet)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    out: List[List[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    out.append(component)
    return out


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
])
def test_cycle_finder(graph, expected):
    assert [sorted(c) for c in _strongly_connected(graph) if len(c) > 1] == expected


def test_the_checks_catch_an_upward_import():
    """The layer check is not vacuous: the cache classes importing the decorators would fail it."""
    assert _layer("hotcache.cache") < _layer("hotcache.memo.decorators")
    assert _layer("hotcache._spec.policy_lfu") == _layer("hotcache._native.core")
    assert _layer("hotcache.disk.store") == _layer("hotcache.tiers.redis_sync")
    assert _layer("hotcache.patterns.loading") < _layer("hotcache.memo")
    with pytest.raises(KeyError):
        _layer("hotcache_other")


ARCHITECTURE = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def test_architecture_page_lists_these_layers():
    """docs/architecture.md shows the layer order between its layer-table markers: one line per
    layer, highest first, ``name: module, module, ...``; it must say what LAYERS says."""
    if not ARCHITECTURE.exists():  # pragma: no cover - the repo and the sdist both ship docs/
        pytest.skip("docs/architecture.md is not beside the tests")
    text = ARCHITECTURE.read_text(encoding="utf-8")
    m = re.search(r"<!-- layers: begin -->\s*```text\n(.*?)```\s*<!-- layers: end -->", text, re.S)
    assert m, "docs/architecture.md lacks its layer table"
    shown = []
    for line in m.group(1).splitlines():
        name, _, modules = line.partition(":")
        if line.strip():
            shown.append((name.strip(), tuple(x.strip() for x in modules.split("#")[0].split(","))))
    expected = [(name, names) for name, _, names in reversed(LAYERS)]
    assert shown == expected, "docs/architecture.md's layer table differs from tests/test_layers.py"
