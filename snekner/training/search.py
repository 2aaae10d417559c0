"""`snekner search`: hyperparameter search with Optuna, each trial a normal snekner run.

The default space (SPACE, the one place it is written down; a TOML file overrides it, see read_space):

    learning_rate   log-uniform 1e-5 to 2e-4
    batch_size      one of 8, 16, 32
    epochs          an integer from 2 to 5
    warmup_ratio    uniform 0 to 0.2
    weight_decay    uniform 0 to 0.1

Optuna's TPE sampler (seeded) proposes the values; each trial reports its validation F1 after every
epoch and Optuna's MedianPruner stops a trial whose F1 falls below the median of earlier trials at
that epoch (PRUNER). A trial's value is its run's best validation F1.

Where things live: trial N of study S is the run S/trial-N, in the folder RUNS/S/ (as a group's
members are), so that the best trial, and every other finished one, is a run every command opens
(`snekner eval S/trial-3`). A pruned trial's run folder is removed (it stopped half-way and holds only
a checkpoint); a failed or interrupted trial's run is kept as it stopped, for a look at what went
wrong (its trial is marked FAIL in the study).

The study lives in Optuna's RDB storage: by default the SQLite file RUNS/S/optuna.db, or any
database URL (`--storage sqlite:///search.db`, a PostgreSQL or MySQL URL for many machines). Several
processes join one study by naming the same storage and study (load_if_exists): Optuna hands each
trial a number of its own, so they run distinct trials, and with heartbeats a trial whose process
was killed outright is marked FAIL by the next process to start a trial.
"""
from __future__ import annotations

import os
import random
import shutil
import socket
import sys
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from snekner.errors import OptionError, SneknerError, TrainingFailedError, TrainingInterruptedError
from snekner.progress import Progress
from snekner.store.atomic import cannot_write
from snekner.store.manifests import read_prepared_manifest
from snekner.store.runs import check_run_name
from snekner.training.callbacks import Callback
from snekner.training.config import OPTION_NAMES, check_types, normalised
from snekner.training.options import TrainOptions
from snekner.training.job import sigterm_as_ctrl_c
from snekner.training.train import train

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    log: bool = False

    def suggest(self, trial, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def describe(self) -> str:
        return f"{'log-uniform' if self.log else 'uniform'} {self.low:g} to {self.high:g}"

    def ends(self) -> tuple:
        return self.low, self.high


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int

    def suggest(self, trial, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high)

    def describe(self) -> str:
        return f"an integer from {self.low} to {self.high}"

    def ends(self) -> tuple:
        return self.low, self.high


@dataclass(frozen=True)
class Choice:
    values: tuple

    def suggest(self, trial, name: str):
        return trial.suggest_categorical(name, list(self.values))

    def describe(self) -> str:
        return "one of " + ", ".join(map(str, self.values))

    def ends(self) -> tuple:
        return self.values


SPACE: dict[str, FloatRange | IntRange | Choice] = {
    "learning_rate": FloatRange(1e-5, 2e-4, log=True),
    "batch_size": Choice((8, 16, 32)),
    "epochs": IntRange(2, 5),
    "warmup_ratio": FloatRange(0.0, 0.2),
    "weight_decay": FloatRange(0.0, 0.1),
}
INTEGER_OPTIONS = ("batch_size", "epochs")
# MedianPruner: no pruning before 3 trials have finished, nor at a trial's first epoch
PRUNER = {"n_startup_trials": 3, "n_warmup_steps": 1}
DEFAULT_STORAGE_FILE = "optuna.db"  # in RUNS/STUDY, when no --storage is given
OPEN_ATTEMPTS = 5  # see open_study
HEARTBEAT_SECONDS = 60  # a RUNNING trial without a heartbeat for 3 of these is stale: marked FAIL


def read_space(path: Path) -> tuple[dict, dict[str, Any]]:
    """The space of a TOML file: (SPACE with the file's dimensions, the options it fixes).

    Top level or under [search]: a searched option as a table (`learning-rate = {low = 1e-5, high = 1e-4,
    log = true}`; integers for batch-size and epochs) or a list of choices (`batch-size = [16, 32]`);
    any option of `snekner train` as a plain value fixes it (`epochs = 3`, `schedule = "linear"`).
    Options the file leaves out keep their SPACE dimension (searched) or their default (the rest)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (FileNotFoundError, IsADirectoryError):
        raise SneknerError(f"space file {path} not found", fix="pass a TOML file to {option}", option="space") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SneknerError(f"space file {path} is not valid TOML ({e})", fix="fix the file") from None
    if isinstance(data.get("search"), dict):
        data = data["search"]
    where = f"space file {path}"
    values = normalised(data, where)
    if "seeds" in values:
        raise SneknerError(f"{where} names seeds; a search trains one run per trial", fix="drop it (seed fixes the runs' seed)")
    space, fixed = dict(SPACE), {}
    for name, value in values.items():
        if isinstance(value, dict):
            space[name] = _range(name, value, where)
        elif isinstance(value, list):
            if not value:
                raise SneknerError(f"{where}: {name.replace('_', '-')} is an empty list of choices", fix="fix the file")
            for v in value:
                check_types({name: v}, where)
            space[name] = Choice(tuple(value))
        else:
            check_types({name: value}, where)
            fixed[name] = value
            space.pop(name, None)
    check_space(space, fixed, where)
    return space, fixed


def _range(name: str, table: dict, where: str) -> FloatRange | IntRange:
    key = name.replace("_", "-")
    if name not in OPTION_NAMES or set(table) - {"low", "high", "log"} or not {"low", "high"} <= set(table):
        raise SneknerError(f"{where}: {key} = {table!r} is not a range", fix="write it as {low = ..., high = ...} (and log = true)")
    low, high, log = table["low"], table["high"], table.get("log", False)
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    if not numbers or not isinstance(log, bool) or not low < high:
        raise SneknerError(f"{where}: {key} = {table!r} needs numbers low < high", fix="fix the file")
    if name in INTEGER_OPTIONS:
        if not (isinstance(low, int) and isinstance(high, int)) or log:
            raise SneknerError(f"{where}: {key} is searched over integers", fix="give it integer low and high, without log")
        return IntRange(low, high)
    if log and low <= 0:
        raise SneknerError(f"{where}: {key} is log-uniform, so low must be above 0, not {low!r}", fix="fix the file")
    return FloatRange(float(low), float(high), log)


def check_space(space: dict, fixed: dict[str, Any], where: str = "the search space") -> TrainOptions:
    """The options every trial starts from; each end of each dimension is checked as a training option."""
    try:
        base = TrainOptions(**fixed)
        base.validate()
        for name, dimension in space.items():
            for value in dimension.ends():
                replace(base, **{name: value}).validate()
    except OptionError as e:
        raise SneknerError(f"{where}: {e.render(lambda o: o.replace('_', '-'))}", fix="fix the file") from None
    return base


@dataclass
class TrialRow:
    number: int
    state: str  # Optuna's TrialState name: COMPLETE, PRUNED, FAIL, RUNNING, WAITING
    params: dict
    value: float | None
    run: str | None


@dataclass
class SearchResult:
    study_name: str
    storage: str
    trials: list[TrialRow]
    best: TrialRow | None
    study: Any = field(repr=False, default=None)  # the optuna.Study (for a plot)


class ReportToTrial(Callback):
    """Reports each epoch's validation F1 to the Optuna trial; raises `pruned` when the pruner says so."""

    def __init__(self, trial, pruned: type[Exception]):
        self.trial, self.pruned = trial, pruned

    def on_epoch_end(self, state, entry, scores):
        if scores is None:
            return
        self.trial.report(scores["overall"]["f1"], entry["epoch"])
        if self.trial.should_prune():
            raise self.pruned(f"pruned at epoch {entry['epoch']}")


def open_study(study_name: str, storage: str, seed: int):
    """The study `study_name` in `storage` (made if new), with the seeded TPE sampler and the median pruner. The sampler's
    seed is `seed` plus the number of trials the study already has, so that running the search again explores new values.

    Processes that start together on a new SQLite file race to create Optuna's tables (one of them
    gets "UNIQUE constraint failed: alembic_version", optuna/optuna#4621): a database error while
    opening is retried a few times, by when the other process has made them."""
    import optuna
    from sqlalchemy.exc import DBAPIError

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # snekner says what each trial did (Optuna: with a traceback)
    # SQLite: wait up to 60 s for another process's write instead of failing with "database is locked"
    engine = {"connect_args": {"timeout": 60}} if storage.startswith("sqlite") else None
    for attempt in range(OPEN_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats: experimental since Optuna 2.9
                rdb = optuna.storages.RDBStorage(storage, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_SECONDS,
                                                 grace_period=3 * HEARTBEAT_SECONDS)
            study = optuna.create_study(study_name=study_name, storage=rdb, sampler=optuna.samplers.TPESampler(seed=seed),
                                        pruner=optuna.pruners.MedianPruner(**PRUNER), direction="maximize", load_if_exists=True)
            # a study searched again goes on from where it is: the sampler starts from the seed plus the trials the study
            # has, not from the seed itself, which would propose the first run's values once more (TPE draws its first
            # trials at random from its seed)
            done = len(study.get_trials(deepcopy=False))
            if done:
                study.sampler = optuna.samplers.TPESampler(seed=seed + done)
            return study
        except DBAPIError as e:
            if attempt + 1 < OPEN_ATTEMPTS:
                time.sleep(0.5 + random.random())
                continue
            error = e
        except Exception as e:  # SQLAlchemy's and Optuna's errors for a bad URL, a missing driver, a study of another direction
            error = e
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise SneknerError(f"cannot open study {study_name} in storage {storage!r} ({reason})",
                           fix="pass {option} a database URL such as sqlite:///search.db", option="storage") from None


def search(prepared_path: Path, study_name: str, runs_dir: Path, trials: int, *, storage: str | None = None, space: dict | None = None,
           fixed: dict[str, Any] | None = None, seed: int = 0, log=lambda msg: None, progress: Progress | None = None) -> SearchResult:
    """Run `trials` trials of the study `study_name` (joining it if it exists) and return all of its trials."""
    import optuna

    check_run_name(study_name)
    if trials < 1:
        raise OptionError("trials", trials, "at least 1")
    space = SPACE if space is None else space
    base = check_space(space, fixed or {})
    prepared_path = Path(prepared_path)
    if "validation" not in read_prepared_manifest(prepared_path).splits:
        raise SneknerError(f"{prepared_path} has no validation split, which the search scores trials on",
                           fix="prepare data with a validation split")
    study_dir = Path(runs_dir) / study_name
    if storage is None:
        try:
            study_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # --runs-dir a file, a read-only file system
            raise cannot_write(study_dir, e) from None
        storage = f"sqlite:///{(study_dir / DEFAULT_STORAGE_FILE).resolve()}"
    study = open_study(study_name, storage, seed)
    current: list[int] = []

    def objective(trial) -> float:
        current.append(trial.number)
        params = {name: dimension.suggest(trial, name) for name, dimension in space.items()}
        name = f"trial-{trial.number}"
        trial.set_user_attr("run", f"{study_name}/{name}")
        trial.set_user_attr("process", f"{socket.gethostname()}:{os.getpid()}")  # which of the study's processes ran it
        log(f"{study_name}/{name}: " + ", ".join(f"{k.replace('_', '-')} {v:.3g}" if isinstance(v, float) else f"{k.replace('_', '-')} {v}"
                                                 for k, v in params.items()))
        try:
            run = train(prepared_path, name, study_dir, replace(base, **params), log=log, group=study_name, progress=progress,
                        callbacks=[ReportToTrial(trial, optuna.TrialPruned)])
        except optuna.TrialPruned as e:
            shutil.rmtree(study_dir / name, ignore_errors=True)
            log(f"{study_name}/{name}: {e}")
            raise
        except TrainingFailedError as e:
            log(f"{study_name}/{name} failed: {e}")
            raise
        log(f"{study_name}/{name}: validation F1 {run.manifest.best_validation_f1:.4f}")
        return run.manifest.best_validation_f1

    with sigterm_as_ctrl_c():  # the whole trial, not only its training loop: Optuna marks it FAIL either way
        try:
            # a diverged trial (NaN loss) is a result of its values: FAIL, and the search goes on
            study.optimize(objective, n_trials=trials, catch=(TrainingFailedError,))
        except (TrainingInterruptedError, KeyboardInterrupt):
            if not current:
                raise SneknerError(f"interrupted before a trial of study {study_name} started") from None
            raise SneknerError(f"interrupted; trial {current[-1]} of study {study_name} is marked failed in {storage} "
                               "(its run is kept as it stopped)", fix="run the same search again to go on with the study") from None
    return summary(study, storage)


def summary(study, storage: str) -> SearchResult:
    """Every trial of the study by number, and the best finished one (the earliest of equals)."""
    rows = [TrialRow(t.number, t.state.name, dict(t.params), t.value, t.user_attrs.get("run")) for t in study.get_trials(deepcopy=False)]
    complete = [r for r in rows if r.state == "COMPLETE" and r.value is not None]
    best = max(complete, key=lambda r: (r.value, -r.number)) if complete else None
    return SearchResult(study.study_name, storage, rows, best, study)
