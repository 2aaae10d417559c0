"""The layout holds: imports point down the layers, no cycles, own imports at the top, small modules; evaluations are
opened by the store only, metrics are told apart by their registry only, and evaluation/ and present/ keep to short
functions with few positional parameters.

Layers, top to bottom (docs/architecture.md): cli -> api -> demo, hub -> present -> evaluation, predict ->
training -> data -> modeling -> store -> ner -> errors, settings, progress. A module may import its own
package and anything in a lower layer, never a higher one or a sibling package of its own layer.
"""
from __future__ import annotations

import ast
import builtins
import re
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
    {"api"},
    {"cli"},
    {"__main__"},
]
MAX_LINES = 400
# error classes still defined beside their code, being moved into snekner/errors.py (issue 24, part 4): drop each as it moves


def _unit(module: str) -> str:
    """The layer unit of a dotted module name: its package below snekner, or the top-level module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(unit: str) -> int:
    for i, units in enumerate(LAYERS):
        if unit in units:
            return i
    raise AssertionError(f"{unit} is in no layer: add it to LAYERS and to docs/architecture.md")


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


# -- below the command line (issue 24) -------------------------------------------------------------------------------
MAX_FUNCTION_LINES = 60
MAX_POSITIONAL = 5
FLAG = re.compile(r"(?<![\w-])--[a-z]")


def _core_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] != "cli")


def _functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_functions_below_the_command_line_are_short_and_take_few_positional_parameters():
    """A function reads in one screen; past five, parameters are named at the call (keyword-only)."""
    long, positional = [], []
    for path in _core_files():
        for node in _functions(path):
            where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}"
            if (lines := node.end_lineno - node.lineno + 1) > MAX_FUNCTION_LINES:
                long.append(f"{where} ({lines} lines)")
            params = [*node.args.posonlyargs, *node.args.args]
            count = len(params) - (1 if params and params[0].arg in ("self", "cls") else 0)
            if count > MAX_POSITIONAL:
                positional.append(f"{where} ({count} positional)")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"
    assert not positional, f"functions with more than {MAX_POSITIONAL} positional parameters: {positional}"


def test_no_message_raised_below_the_command_line_names_a_flag():
    """The core names an option's field (errors.SneknerError's `option`); only snekner.cli turns it into --flag."""
    named = []
    for path in _core_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                for text in (n.value for n in ast.walk(node.exc) if isinstance(n, ast.Constant) and isinstance(n.value, str)):
                    if FLAG.search(text):
                        named.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {text!r}")
    assert not named, f"messages naming a --flag below snekner/cli: {named}"


def test_the_training_tasks_share_the_loop_and_subclass_nothing():
    """One loop (training.loop.TrainingLoop) for every task; a task is a plain class with the members the loop calls."""
    from snekner.training import tasks
    from snekner.training.tasks import MaskedLanguageModel, TokenClassification, TrainingTask

    methods = [name for name in vars(TrainingTask) if not name.startswith("_")]  # the data members are set per instance
    assert {"build_model", "loss_sum", "epoch_split", "validate", "export"} <= set(methods)
    for task in (TokenClassification, MaskedLanguageModel):
        assert task.__bases__ == (object,), task
        missing = [name for name in methods if not hasattr(task, name)]
        assert not missing, f"{task.__name__} lacks {missing}"
    assert "Trainer" not in vars(tasks)


def test_every_error_class_is_in_errors():
    """One catalogue of what can go wrong: snekner/errors.py defines every exception class (the CLI's hints import them from there)."""
    errors = {node.name for node in ast.parse((PACKAGE / "errors.py").read_text(encoding="utf-8")).body if isinstance(node, ast.ClassDef)}
    exceptions = errors | {name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)}
    found = set()
    for name, path in MODULES.items():
        if name == "snekner.errors":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(ast.unparse(base).split(".")[-1] in exceptions for base in node.bases):
                found.add(f"{name.removeprefix('snekner.')}.{node.name}")
    assert not found, f"exception classes outside snekner/errors.py: {sorted(found)}"


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
