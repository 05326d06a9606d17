"""The layer map of docs/architecture.md, checked from the source's own import statements.

Every ``import`` and ``from ... import`` of an ablens module is read from the syntax tree (at
module level, inside functions and under ``if TYPE_CHECKING:`` alike), so that:

- no module imports from a layer above its own (arrows point down only);
- no import cycle exists between modules (every import counts, not only the eager ones);
- no module reaches into another module's private names (``from x import _y``), except the
  documented internal contracts named below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: Layers from the bottom up; a module may import its own layer and those below it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("ablens._version", "ablens.errors", "ablens._validation", "ablens.render", "ablens._lazy"),
    ("ablens.stats", "ablens.typing"),
    ("ablens.data",),
    ("ablens.metrics", "ablens.results"),
    ("ablens.analysis", "ablens.sequential", "ablens.planning", "ablens.calculator"),
    ("ablens.analysis_plan", "ablens.catalog"),
    ("ablens.decision", "ablens.decision_context"),
    ("ablens.readout",),
    ("ablens.registry",),
    ("ablens.report", "ablens.demo"),
    ("ablens.cli", "ablens.web", "ablens.project"),
    ("ablens", "ablens.config"),
)


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / "ablens").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _layer(module: str) -> int:
    best, depth = None, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and prefix.count(".") > depth:
                best, depth = index, prefix.count(".")
    if best is None:
        raise AssertionError(f"{module} is in no layer; add it to LAYERS and the architecture page")
    return best


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = importer.split(".")
    is_package = MODULES[importer].name == "__init__.py"
    base = package if is_package else package[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _target(name: str) -> str | None:
    """The ablens module a dotted name refers to (a module, or a name inside one)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str) -> list[tuple[str, int, tuple[str, ...]]]:
    """(imported module, line, names imported from it) for every ablens import of ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _target(alias.name)
                if target is not None and alias.name.startswith("ablens"):
                    found.append((target, node.lineno, ()))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            if not base.startswith("ablens"):
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in MODULES:  # ``from ablens import render`` imports a module
                    found.append((submodule, node.lineno, ()))
                else:
                    target = _target(base)
                    if target is not None:
                        found.append((target, node.lineno, (alias.name,)))
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def test_every_module_is_in_a_layer():
    for module in MODULES:
        _layer(module)


def test_no_module_imports_from_a_layer_above_it():
    upward = [
        f"{MODULES[module].relative_to(SRC)}:{line} imports {target} "
        f"(layer {_layer(target)} above {_layer(module)})"
        for module, imports in GRAPH.items()
        for target, line, _ in imports
        if _layer(target) > _layer(module)
    ]
    assert upward == []


def test_no_import_cycle():
    # A package imports its own submodules to re-export them; that is not a cycle of concepts.
    edges = {
        module: {
            target
            for target, _, _ in imports
            if target != module and not target.startswith(module + ".")
        }
        for module, imports in GRAPH.items()
    }
    cycles = []
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


#: Modules whose underscore names are an internal contract of their package.
INTERNAL_CONTRACTS = {"ablens.stats._inference", "ablens._lazy", "ablens._validation"}


def test_no_module_imports_another_modules_private_names():
    private = [
        f"{MODULES[module].relative_to(SRC)}:{line} imports {target}.{name}"
        for module, imports in GRAPH.items()
        for target, line, names in imports
        for name in names
        if name.startswith("_")
        and not name.startswith("__")
        and target != module
        and target not in INTERNAL_CONTRACTS
    ]
    assert private == []


@pytest.mark.parametrize(
    ("module", "expected"),
    [("ablens.stats.power", 1), ("ablens.data.sources", 2), ("ablens.web.app", 10)],
)
def test_the_layer_lookup_finds_the_deepest_prefix(module, expected):
    assert _layer(module) == expected
