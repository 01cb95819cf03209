"""The structure docs/architecture.md describes, checked against the code's imports.

Every import in src/dockwatch is read with `ast` (module level and inside functions alike, since a
deferred import is still a dependency), attributed to its top-level package, and held against the
allowed directions below. A new package must be placed here (and in the document) before it can
import anything.
"""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "dockwatch"

FOUNDATION = {"errors", "clock", "process_identity", "value_class", "model"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "clock": set(),
    "process_identity": set(),
    "value_class": set(),
    "model": {"errors", "value_class"},
    "versions": {"errors", "value_class", "model"},
    "distros": {"errors", "value_class", "model"},
    "config": {"errors", "value_class", "model"},
    "storage": {"errors", "clock", "value_class", "model"},
    "image": {"errors", "value_class", "model"},
    "feeds": FOUNDATION | {"versions", "distros"},
    "catalog": FOUNDATION | {"image", "versions", "distros", "storage"},
    "vulndb": FOUNDATION | {"versions", "distros", "feeds", "storage"},
    "match": FOUNDATION | {"versions", "distros", "vulndb", "storage"},
    "registry": FOUNDATION | {"image", "storage"},
    "findings": FOUNDATION | {"versions", "match", "storage"},
    "queries": FOUNDATION | {"findings", "storage"},
    "reports": FOUNDATION | {"versions", "catalog", "findings", "queries"},
    "events": FOUNDATION | {"config", "findings", "storage"},
    "pullpolicy": FOUNDATION | {"config", "findings", "storage"},
    "audit": FOUNDATION | {"storage"},
    "accounts": FOUNDATION | {"config", "storage"},
    "organization": FOUNDATION | {"storage"},
    "scan": FOUNDATION
    | {"versions", "distros", "image", "catalog", "vulndb", "match", "registry", "findings"}
    | {"storage", "audit"},
    "store_root": FOUNDATION | {"config", "storage"},
    "app": FOUNDATION
    | {"config", "store_root", "versions", "distros", "image", "feeds", "catalog", "vulndb"}
    | {"match"}
    | {"registry", "findings", "queries", "reports", "events", "scan", "storage", "audit"}
    | {"pullpolicy"}
    | {"accounts"}
    | {"organization"},
}
ALLOWED["api"] = set(ALLOWED["app"]) | {"app"}
ALLOWED["cli"] = set(ALLOWED["api"]) | {"api"}
ALLOWED["__main__"] = {"cli"}

SQL_ALLOWED_OUTSIDE_STORAGE = {"dockwatch.app", "dockwatch.store_root"}
"""The composition roots build the engine; nothing else outside storage/ touches SQL."""

MAX_MODULE_LINES = 500


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


_SOURCES: set[str] = set()
"""Every module name of the package (filled below), to tell a submodule from a name."""


def _imports(name: str, path: Path) -> Iterator[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # `from pkg import module` depends on the module (as grimp and import-linter
            # count it); `from module import name` on the module
            submodules = [f"{target}.{a.name}" for a in node.names]
            named = [m for m in submodules if m in _SOURCES]
            yield from named or [target]


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


MODULES = dict(_modules())
_SOURCES.update(MODULES)
GRAPH: dict[str, set[str]] = defaultdict(set)
for _name, _path in MODULES.items():
    for _target in _imports(_name, _path):
        if _target in MODULES and _target != _name:
            GRAPH[_name].add(_target)


def test_every_package_is_placed() -> None:
    unplaced = sorted({_top(m) for m in MODULES if m != "dockwatch"} - ALLOWED.keys())
    assert not unplaced, f"packages missing from the layering table: {unplaced}"


def test_imports_follow_the_allowed_directions() -> None:
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if _top(module) != _top(target)
        and _top(target) != "dockwatch"
        and _top(target) not in ALLOWED.get(_top(module), set())
    )
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_only_storage_speaks_sql() -> None:
    wrong = sorted(
        module
        for module, path in MODULES.items()
        if not module.startswith("dockwatch.storage")
        and module not in SQL_ALLOWED_OUTSIDE_STORAGE
        and any(
            t == "sqlalchemy" or t.startswith(("sqlalchemy.", "dockwatch.storage.sql"))
            for t in _imports(module, path)
        )
    )
    assert not wrong, f"modules outside storage/ that use SQL: {wrong}"


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(MODULES):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles() -> None:
    assert _cycles() == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module: str) -> None:
    lines = MODULES[module].read_text().count("\n")
    assert lines <= MAX_MODULE_LINES, f"{module} has {lines} lines"


def test_the_checks_see_a_planted_violation(tmp_path: Path) -> None:
    """The reader finds relative, absolute and deferred imports (so the checks can fail)."""
    planted = tmp_path / "dockwatch" / "storage" / "bad.py"
    planted.parent.mkdir(parents=True)
    planted.write_text(
        "from ..scan import service\n"
        "def f():\n"
        "    import dockwatch.api.app\n"
        "    from dockwatch.storage.sql import tables\n"
    )
    found = set(_imports("dockwatch.storage.bad", planted))
    assert {"dockwatch.scan.service", "dockwatch.api.app", "dockwatch.storage.sql.tables"} <= found


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.endswith("__main__")))
def test_every_module_imports(module: str) -> None:
    """An import of a module that is not there fails here, whatever a type checker resolved."""
    importlib.import_module(module)
