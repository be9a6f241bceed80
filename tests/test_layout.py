"""The project's layers, read from the source: `fer` stands alone (no training, pages or Streamlit), and no
two modules of `fer` or `training` import each other, directly or round a longer loop, at the top of the
file or inside a function (a loop hidden in a function body still ties the two modules into one)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("fer", "training")


def project_imports(path: Path) -> set[str]:
    """The modules of this project that `path` imports, anywhere in the file, as dotted names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from fer import video`
    return found


def module_graph(package: str) -> dict[str, set[str]]:
    """Each module of `package` and the modules of the same package it imports."""
    modules = {f"{package}.{path.stem}": path for path in (ROOT / package).glob("*.py") if path.stem != "__init__"}
    return {name: {m for m in project_imports(path) if m in modules and m != name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop, as the modules along it, or None."""
    state: dict[str, str] = {}
    trail: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module], _ = "open", trail.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return [*trail[trail.index(target):], target]
            if target not in state and (loop := visit(target)):
                return loop
        state[module], _ = "done", trail.pop()
        return None

    for module in sorted(graph):
        if module not in state and (loop := visit(module)):
            return loop
    return None


def test_the_cycle_finder_finds_a_loop_and_only_a_loop():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize("package", PACKAGES)
def test_no_two_modules_import_each_other(package):
    loop = find_cycle(module_graph(package))
    assert loop is None, f"import loop in {package}/: {' -> '.join(loop)}"


def test_fer_imports_no_layer_above_it():
    above = ("training", "app_pages", "app_harness", "streamlit", "streamlit_webrtc")
    for path in sorted((ROOT / "fer").rglob("*.py")):
        wrong = sorted(m for m in project_imports(path) if m.split(".")[0] in above)
        assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}: fer must stand alone"
