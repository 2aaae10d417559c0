"""Errors the user can fix.

The core says what is wrong and carries the facts; it never names a command or a command-line
flag. Where the fix is a different value of an option, the error names the option's field
(`option="lang"`) and phrases the fix with an `{option}` placeholder; the command line
(snekner.cli) renders it as the flag (`--lang`) and adds hints that name its commands, so a
notebook user reads "lang" where a shell user reads "--lang".
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable


def _field(option: str) -> str:
    return option


class SneknerError(Exception):
    """Bad input or state the user can fix: one line, what is wrong, then how to fix it."""

    def __init__(self, message: str, *, fix: str | None = None, option: str | None = None):
        self.message, self.fix, self.option = message, fix, option
        super().__init__(message)

    def render(self, name_option: Callable[[str], str] = _field) -> str:
        """The one line, with option fields named by `name_option` (the CLI passes field -> --flag)."""
        if not self.fix:
            return self.message
        return f"{self.message}; {self.fix.format(option=name_option(self.option) if self.option else '')}"

    def __str__(self) -> str:
        return self.render()


class OptionError(SneknerError):
    """An option value out of its range, e.g. OptionError("learning_rate", 0, "positive")."""

    def __init__(self, option: str, value, requirement: str):
        self.value, self.requirement = value, requirement
        super().__init__(f"{option} must be {requirement}, not {value!r}", option=option)

    def render(self, name_option: Callable[[str], str] = _field) -> str:
        return f"{name_option(self.option)} must be {self.requirement}, not {self.value!r}"


class ResumeOptionError(SneknerError):
    """Resuming a run with an option value other than the run's, where the option cannot change mid-run
    (or, for epochs, with fewer than the run's)."""

    def __init__(self, option: str, value, stored, *, fewer: bool = False):
        self.value, self.stored, self.fewer = value, stored, fewer
        super().__init__(f"{option} {_shown(value)} differs from the run's {_shown(stored)}", option=option)

    def render(self, name_option: Callable[[str], str] = _field) -> str:
        option, resume = name_option(self.option), name_option("resume")
        if self.fewer:
            return (f"{option} {_shown(self.value)} is fewer than the run's {_shown(self.stored)}; {resume} can add epochs, "
                    f"not remove them (drop {option}, or train a new run)")
        return (f"{option} {_shown(self.value)} differs from the run's {_shown(self.stored)}; {resume} continues with the "
                f"stored options (drop {option}, or train a new run)")


def _shown(value) -> str:
    """An option value as the user typed it: an Enum's value, None (picked automatically) as auto."""
    if value is None:
        return "auto"
    return str(getattr(value, "value", value))


class ManifestError(SneknerError):
    """A folder that should be a prepared dataset or a run is not one, or its manifest cannot be read (or a run's
    evaluation, RUN/eval/<split>.json, cannot be).

    what: "prepared dataset", "run", "run group", "adapted model" or "evaluation"; problem: "missing" (no such folder or no manifest), "kind"
    (another kind of manifest), "version" (a format version this snekner does not read; `newer`
    when it was written by a later one), "damaged" (unreadable or incomplete).
    """

    def __init__(self, message: str, *, path: Path, what: str, problem: str, newer: bool = False):
        self.path, self.what, self.problem, self.newer = Path(path), what, problem, newer
        super().__init__(message)


class MissingSplitError(SneknerError):
    def __init__(self, message: str, *, split: str, available: list[str]):
        self.split, self.available = split, available
        super().__init__(message, fix="choose another {option}", option="split")


class RunNotFoundError(SneknerError):
    def __init__(self, message: str, *, spec: str, runs_dir: Path, known: list[str]):
        self.spec, self.runs_dir, self.known = spec, runs_dir, known
        super().__init__(message)


class RunNotFinishedError(SneknerError):
    """A run that has not finished: killed or interrupted, failed, or (`training`) being trained by another process now."""

    def __init__(self, message: str, *, run, training: bool = False):
        self.run, self.training = run, training
        super().__init__(message)


class OutputExistsError(SneknerError):
    """An artifact already exists where a command would write one (what: "prepared dataset", "run", ...)."""

    def __init__(self, message: str, *, path: Path, what: str):
        self.path, self.what = path, what
        super().__init__(message)


class MissingEvaluationError(SneknerError):
    """A run lacks what `eval` writes for a split: its scores or its stored predictions (part).

    bootstrap_only: the predictions were wanted only for the bootstrap (so turning it off is a way round).
    """

    def __init__(self, message: str, *, run, split: str, part: str, bootstrap_only: bool = True):
        self.run, self.split, self.part, self.bootstrap_only = run, split, part, bootstrap_only
        super().__init__(message)


class DifferentSentencesError(SneknerError):
    """Two runs' stored predictions are not for the same sentences, so they cannot be paired."""

    def __init__(self, message: str, *, split: str):
        self.split = split
        super().__init__(message)


class MixedModesError(SneknerError):
    """Runs scored in different modes (conlleval, strict): the CLI says how to re-evaluate them."""


class MissingModelError(SneknerError):
    """A run folder without its trained model (model/), or with one that cannot be loaded."""

    def __init__(self, message: str, *, run):
        self.run = run
        super().__init__(message)


class TrainingInterruptedError(SneknerError):
    """Ctrl-C or SIGTERM stopped training after a checkpoint was written: the run can be resumed."""

    def __init__(self, message: str, *, prepared: Path, name: str, runs_dir: Path):
        self.prepared, self.name, self.runs_dir = prepared, name, runs_dir
        super().__init__(message)


class TrainingFailedError(TrainingInterruptedError):
    """Training stopped on an error it cannot train through (a NaN or infinite loss); the run is marked
    failed and keeps its last checkpoint, from which it can be resumed with steadier options."""


class DiskFullError(SneknerError):
    """No space left on the device while writing `path`; `removed`: what the failed command had written and took back."""

    def __init__(self, path: Path | str, removed: Path | None = None):
        self.path, self.removed = path, removed
        took_back = f"; removed what it had written ({removed})" if removed else ""
        super().__init__(f"no space left on the device writing {path}{took_back}", fix="free some space and run the command again")


class RemoteCodeError(SneknerError):
    """A model, run or prepared folder whose config.json or tokenizer_config.json names code of its own (`auto_map`).

    snekner never runs code from a folder (transformers' trust_remote_code stays False): the folder is refused, whatever
    standard input would answer transformers' "run the custom code?" prompt. `found`: (file name, the classes it names)."""

    def __init__(self, folder: Path | str, found: list[tuple[str, list[str]]]):
        self.folder, self.found = Path(folder), found
        named = "; ".join(f"{name}: {', '.join(classes) or 'auto_map'}" for name, classes in found)
        super().__init__(f"{folder} asks to run code of its own (auto_map in {named}); snekner never runs code from a model, run or "
                         "data folder", fix="use a model whose architecture transformers has built in")
