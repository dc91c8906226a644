"""The simulator's modules import each other in one direction only (no circles, not even for types)."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import scis.simulator

PACKAGE = "scis.simulator"


def simulator_imports() -> dict[str, set[str]]:
    """module -> the simulator modules it imports (anywhere in the file, TYPE_CHECKING blocks included)."""
    folder = Path(scis.simulator.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        module = f"{PACKAGE}.{path.stem}"
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(f"{PACKAGE}."):
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(a.name for a in node.names if a.name.startswith(f"{PACKAGE}."))
        graph[module] = imported - {module}
    return graph


def test_no_import_circles_in_the_simulator() -> None:
    graph = simulator_imports()
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as circle:
        raise AssertionError(f"import circle in the simulator: {circle.args[1]}") from circle
    assert order.index(f"{PACKAGE}.session") < order.index(f"{PACKAGE}.room") < order.index(f"{PACKAGE}.app")
    assert order.index(f"{PACKAGE}.app") < order.index(f"{PACKAGE}.server")
