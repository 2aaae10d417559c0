"""The layout holds: imports point down the layers, no cycles, own imports at the top, small modules; evaluations are
opened by the store only, metrics are told apart by their registry only, and evaluation/ and present/ keep to short
functions with few positional parameters.

Layers, top to bottom (README, "Architecture"): cli -> demo, hub -> present -> evaluation, predict ->
training -> data -> modeling -> store -> ner -> errors, settings, progress. A module may import its own
package and anything in a lower layer, never a higher one or a sibling package of its own layer.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "snekner"
LAYERS = [
    {"errors", "settings", "progress", "__init__"},
    {"ner"},
    {"store"},
    {"modeling"},
    {"data"},
    {"training"},
    {"evaluation", "predict"},
    {"present"},
    {"demo", "hub"},
    {"cli"},
    {"__main__"},
]
MAX_LINES = 400


def _unit(module: str) -> str:
    """The layer unit of a dotted module name: its package below snekner, or the top-level module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(unit: str) -> int:
    for i, units in enumerate(LAYERS):
        if unit in units:
            return i
    raise AssertionError(f"{unit} is in no layer: add it to LAYERS and to the README's architecture section")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported snekner module, line, at module level) for every import of snekner in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.split(".")[0] == "snekner":
            # `from snekner.x import y` imports module snekner.x.y when there is one, else names of snekner.x
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names]
            out += [(n, node.lineno, id(node) in top) for n in names]
        elif isinstance(node, ast.Import):
            out += [(a.name, node.lineno, id(node) in top) for a in node.names if a.name.split(".")[0] == "snekner"]
    return out


MODULES = _modules()


def test_every_module_is_in_a_layer():
    for name in MODULES:
        _layer(_unit(name))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down_and_sit_at_the_top(name):
    unit, layer = _unit(name), _layer(_unit(name))
    for target, line, at_top in _imports(MODULES[name]):
        where = f"{MODULES[name].relative_to(PACKAGE.parent)}:{line} imports {target}"
        assert at_top, f"{where} inside a function: own modules are imported at the top (only ML libraries load lazily)"
        if target == "snekner":
            continue  # the package itself: __version__
        other = _unit(target)
        assert _layer(other) < layer or other == unit, f"{where}: {other} is not below {unit}"


def test_no_import_cycles():
    graph = {name: {t if t in MODULES else t.rsplit(".", 1)[0] for t, _, _ in _imports(path)} & set(MODULES)
             for name, path in MODULES.items()}
    done, active = set(), []

    def visit(node):
        if node in active:
            raise AssertionError("import cycle: " + " -> ".join(active[active.index(node):] + [node]))
        if node in done:
            return
        active.append(node)
        for nxt in sorted(graph[node]):
            if nxt != node and not (node.endswith(nxt) and MODULES[nxt].name == "__init__.py"):
                visit(nxt)
        active.pop()
        done.add(node)

    for name in sorted(graph):
        visit(name)


def test_modules_are_small_enough_to_read_in_one_sitting():
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def _trees(leave_out=lambda name: False) -> list[tuple[str, ast.AST]]:
    """(module name, parsed tree) of every module but those `leave_out` names."""
    return [(name, ast.parse(path.read_text(encoding="utf-8"))) for name, path in sorted(MODULES.items()) if not leave_out(name)]


def test_only_the_store_opens_an_evaluation():
    """RUN/eval/<split>.json is read and written by snekner.store.evaluations only (typed, versioned): elsewhere a
    run's eval_path may be named (its .name, its .parent folder), never opened."""
    found = []
    for name, tree in _trees(leave_out=lambda name: _unit(name) == "store"):
        named = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr in ("name", "parent")}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "eval_path" and id(node) not in named:
                found.append(f"{name}:{node.lineno}")
    assert not found, f"eval/<split>.json used outside snekner.store (read it with store.evaluations): {found}"


METRIC_NAMES = {"f1", "precision", "recall"}


def test_nothing_branches_on_a_metric_name():
    """What a metric is lives in the registry (snekner.ner.metrics): no comparison with a metric's name elsewhere,
    which would let a metric it does not name fall through to another's definition."""
    found = []
    for name, tree in _trees(leave_out=lambda name: name == "snekner.ner.metrics"):
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(isinstance(s, ast.Constant) and s.value in METRIC_NAMES for s in sides):
                    found.append(f"{name}:{node.lineno}")
    assert not found, f"comparisons with a metric name (use snekner.ner.metrics): {found}"


MAX_FUNCTION_LINES, MAX_POSITIONAL = 60, 5


@pytest.mark.parametrize("package", ["evaluation", "present"])
def test_functions_are_short_and_take_few_positional_arguments(package):
    """In evaluation/ and present/: no function over 60 lines (decorators aside), none with more than 5 positional
    parameters (self and cls aside; the rest keyword-only, after *)."""
    long, many = [], []
    for name, path in sorted(MODULES.items()):
        if _unit(name) != package:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name} ({node.end_lineno - node.lineno + 1} lines)")
                positional = node.args.posonlyargs + node.args.args
                if positional and positional[0].arg in ("self", "cls"):
                    positional = positional[1:]
                if len(positional) > MAX_POSITIONAL:
                    many.append(f"{name}.{node.name} ({len(positional)} positional)")
    assert not long and not many, f"too long: {long}; too many positional parameters: {many}"
