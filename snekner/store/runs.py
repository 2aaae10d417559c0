"""Run directories: where a trained model, its metrics and its evaluations live.

runs/NAME/
  snekner-run.json   the RunManifest: options, data manifest (labels), versions, timings, status
  metrics.jsonl      one line per finished epoch (validation scores)
  model/             save_pretrained: weights, config with label maps, tokenizer
  eval/<split>.json  scores written by `snekner eval`
  checkpoints/       while training (removed when the run finishes)

runs/GROUP/          `train --seeds 1,2,3`: one experiment, several seeds
  snekner-group.json the GroupManifest: seeds, member folders, the options they share
  seed-1/ seed-2/ .. each a run folder as above (run name GROUP/seed-N)

Commands that read runs (eval, compare, card) take a run or a group: `open_experiment`.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snekner.errors import RunNotFinishedError, RunNotFoundError, SneknerError
from snekner.store.atomic import check_artifact_name
from snekner.store.locks import holder
from snekner.store.manifests import GROUP_MANIFEST, RUN_MANIFEST, GroupManifest, RunManifest, read_group_manifest, read_run_manifest

DEFAULT_RUNS_DIR = "runs"
RUNS_DIR_VARIABLE = "SNEKNER_RUNS_DIR"  # on the command line, the environment variable that stands in for DEFAULT_RUNS_DIR


def json_lines(text: str | Iterable[str], path: Path, error: Callable[[str], Exception]) -> Iterator[tuple[int, Any]]:
    """(line number, value) of each non-blank line of a JSON-lines file's `text` (or of its lines, e.g. the file
    opened with newline="\n" and read line by line); error(message) for a line that is not JSON. Split on newlines
    only, not splitlines: a token may hold U+2028 and other line separators."""
    for number, line in enumerate(text.split("\n") if isinstance(text, str) else text, 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as e:
            raise error(f"{path} line {number} is not valid JSON ({e.msg})") from None


@dataclass
class Run:
    path: Path
    manifest: RunManifest

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def labels(self) -> list[str]:
        return self.manifest.labels

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    def read_metrics(self) -> list[dict]:
        """The lines of metrics.jsonl, one per finished epoch (none when the file is absent); a bad line is an error."""
        if not self.metrics_path.is_file():
            return []
        epochs = []
        for number, entry in json_lines(self.metrics_path.read_text(encoding="utf-8"), self.metrics_path, SneknerError):
            if not isinstance(entry, dict):
                raise SneknerError(f"{self.metrics_path} line {number} is not an epoch's metrics object")
            epochs.append(entry)
        return epochs

    def eval_path(self, split: str) -> Path:
        return self.path / "eval" / f"{split}.json"

    def __repr__(self) -> str:
        m = self.manifest
        best = f", best epoch {m.best_epoch}" if m.best_epoch is not None else ""
        f1 = f", validation F1 {m.best_validation_f1:.4f}" if m.best_validation_f1 is not None else ""
        return f"Run({self.name!r} at {str(self.path)!r}: {m.status.value}{best}{f1})"

    def _repr_html_(self) -> str:
        return _html_table(["run", "folder", "status", "best epoch", "validation F1"], [self._row()])

    def _row(self) -> list:
        m = self.manifest
        f1 = f"{m.best_validation_f1:.4f}" if m.best_validation_f1 is not None else ""
        return [self.name, self.path, m.status.value, m.best_epoch if m.best_epoch is not None else "", f1]

    def predictions_path(self, split: str) -> Path:
        return self.path / "eval" / f"{split}.predictions.jsonl"


@dataclass
class Experiment:
    """A run, or a group of runs of one recipe with different seeds (`train --seeds`): what eval, compare and card take."""

    name: str
    path: Path
    runs: list[Run]
    group: GroupManifest | None = None

    @property
    def is_group(self) -> bool:
        return self.group is not None

    def __repr__(self) -> str:
        if not self.is_group:
            return repr(self.runs[0])
        best = [r.manifest.best_validation_f1 for r in self.runs]
        shown = ", ".join(f"seed {s}: {b:.4f}" for s, b in zip(self.seeds, best) if b is not None)
        return f"Group({self.name!r} at {str(self.path)!r}: {len(self.runs)} runs" + (f"; validation F1 {shown})" if shown else ")")

    def _repr_html_(self) -> str:
        return _html_table(["run", "folder", "status", "best epoch", "validation F1"], [run._row() for run in self.runs])


    @property
    def seeds(self) -> list[int]:
        return list(self.group.seeds) if self.group else [int(self.runs[0].manifest.options.get("seed", 0))]


def check_run_name(name: str) -> None:
    """A run or group name becomes a folder of the runs folder: it must be a plain name, not starting with a dot (as git
    refuses such names: snekner's own locks and temporaries in the runs folder are dot-files, removed or taken by the
    next command) and short enough for the temporary folder beside it."""
    if "/" in name or "\0" in name or name in ("", ".", ".."):
        raise SneknerError(f"run name {name!r} is not a plain name (it becomes a folder of the runs folder)", fix="choose another {option}",
                           option="name")
    if name.startswith("."):
        raise SneknerError(f"run name {name!r} starts with a dot; snekner keeps such names for its own lock and temporary files "
                           "in the runs folder (.NAME.lock, .NAME.PID.XXXXXXXX.partial)", fix="choose another {option}", option="name")
    check_artifact_name(name, option="name")


def is_group(path: Path) -> bool:
    return (Path(path) / GROUP_MANIFEST).is_file()


def _is_artifact(path: Path) -> bool:
    return (path / RUN_MANIFEST).is_file() or (path / GROUP_MANIFEST).is_file()


def run_path(spec: str, runs_dir: str | Path = DEFAULT_RUNS_DIR) -> Path:
    """The folder of a run or group: a name under runs_dir (a group member is GROUP/seed-N), or a folder."""
    path = Path(spec).expanduser()
    if _is_artifact(path):
        return path
    under = Path(runs_dir) / spec
    if "/" in spec and not _is_artifact(under):
        return path
    return under


def list_runs(runs_dir: str | Path = DEFAULT_RUNS_DIR) -> list[str]:
    """Names of the runs and groups in runs_dir (group members are not listed)."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if _is_artifact(p))


def shown_folder(path: str | Path) -> str:
    """A folder as messages name it, with a trailing slash: runs/."""
    text = str(path)
    return text if text.endswith(("/", os.sep)) else text + os.sep


def listed_runs(names: list[str], at_most: int = 10) -> str:
    """`3 runs: A, B, C`; past `at_most`, the first of them and `...`."""
    shown = ", ".join(names[:at_most]) + (", ..." if len(names) > at_most else "")
    return f"{len(names)} run{'s' if len(names) != 1 else ''}: {shown}"


def run_not_found(spec: str, runs_dir: str | Path) -> RunNotFoundError:
    """The error for a run or group that is in neither place run_path looks: where it looked and what runs_dir holds."""
    root = Path(runs_dir)
    looked = list(dict.fromkeys([*([Path(spec).expanduser()] if "/" in spec else []), root / spec]))
    known = list_runs(root)
    if not root.is_dir():
        there = f"{shown_folder(root)} does not exist"
    else:
        there = f"{shown_folder(root)} holds {listed_runs(known) if known else 'no runs'}"
    return RunNotFoundError(f"run {spec} not found: looked for {' and '.join(map(str, looked))}; {there}",
                            spec=spec, runs_dir=root, known=known, looked=looked)


def open_run(spec: str, runs_dir: str | Path = DEFAULT_RUNS_DIR, finished: bool = True) -> Run:
    path = run_path(spec, runs_dir)
    if not path.exists():
        raise run_not_found(spec, runs_dir)
    if (path / GROUP_MANIFEST).is_file() and not (path / RUN_MANIFEST).is_file():
        group = read_group_manifest(path)
        raise SneknerError(f"{spec} is a group of {len(group.members)} runs (seeds {', '.join(map(str, group.seeds))})",
                           fix=f"name one of them, e.g. {spec.rstrip('/')}/{group.members[0]}")
    run = Run(path, read_run_manifest(path))
    if finished and not run.manifest.is_finished:
        busy = holder(path)
        if busy is not None:
            raise RunNotFinishedError(f"run {spec} is being trained right now, by {busy.describe()}", run=run, training=True)
        raise RunNotFinishedError(f"run {spec} has not finished (status: {run.manifest.status.value})", run=run)
    return run


def open_experiment(spec: str, runs_dir: str | Path = DEFAULT_RUNS_DIR, finished: bool = True) -> Experiment:
    """A run as a group of one, or a group with all its members (each must have finished when `finished`)."""
    path = run_path(spec, runs_dir)
    if (path / GROUP_MANIFEST).is_file():
        group = read_group_manifest(path)
        busy = holder(path) if finished else None
        if busy is not None and not all((path / m / RUN_MANIFEST).is_file() for m in group.members):
            raise SneknerError(f"group {spec} is being trained right now, by {busy.describe()}", fix="wait for it to finish")
        members = [open_run(str(path / member), runs_dir, finished) for member in group.members]
        return Experiment(group.name, path, members, group)
    run = open_run(spec, runs_dir, finished)
    return Experiment(run.name, run.path, [run])


def _html_table(headers: list[str], rows: list[list]) -> str:
    """A plain HTML table of text cells (escaped), for Jupyter."""
    from html import escape

    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
