"""One lifecycle for every resumable training job: a run (`train`), a group of runs (`train --seeds`), an adapted model (`adapt`).

A Job is the folder a job writes and what the command asked of it. `Job.run(session)` is the
folder's life: the lock (one writer; see store.locks), stale partial folders of killed writers
cleared, then one of three cases —
- new (no folder yet) or `resume` (the folder is the job to continue): `session(folder)` writes
  it in place, and a full disk removes what a new job had written;
- the folder exists and `overwrite`: the new job is built beside it (store.atomic) and swapped in
  only when the session returns, so that an interrupted or failed new job leaves the old one whole;
- the folder exists, neither: OutputExistsError.
`Job.train(loop, ...)` is a session's training: SIGTERM ends it as Ctrl-C does (checkpoint
included), an interruption raises TrainingInterruptedError and a NaN or infinite loss marks the
job failed in its manifest and raises TrainingFailedError, both naming the job (the CLI turns
them into the command that continues it).
"""
from __future__ import annotations

import contextlib
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

from snekner.errors import (NonFiniteLoss, OutputExistsError, SneknerError, TrainingFailedError, TrainingInterrupted,
                            TrainingInterruptedError)
from snekner.store.atomic import atomic_path, disk_full_is_an_error, remove_stale_partials
from snekner.store.locks import hold
from snekner.store.manifests import RunStatus, now_iso

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Job:
    """A resumable training job: its folder and what the command asked (see the module docstring)."""

    command: str  # "train" or "adapt": the lock's holder, and the command that continues the job
    what: str  # "run", "group" or "adapted model"
    path: Path  # the folder the job writes
    title: str  # how messages name it: "run A", "group G", the adapted model's folder
    source: str  # what it trains on: the prepared folder, the text
    resume: bool = False
    overwrite: bool = False
    owns_parent: bool = True  # the parent folder is snekner's (runs/): every stale partial in it goes, not only this job's
    owns_folder: bool = True  # False: a worker of a multi-worker cluster other than the chief, which neither locks nor writes

    def run(self, session: Callable[[Path], T], *, before_replacing: Callable[[], None] = lambda: None) -> T:
        """`session(folder)` in the job's folder, or in one built beside it to replace it; `before_replacing` may refuse that."""
        if not self.owns_folder:
            return session(self.path)
        with hold(self.path, "adapted model" if self.what == "adapted model" else "run", self.command):
            self._remove_stale_partials()
            if self.resume or not self.path.exists():
                with disk_full_is_an_error(written=None if self.resume else self.path):  # a resumed job keeps its checkpoints
                    return session(self.path)
            if not self.overwrite:
                where = f"run {self.path.name} already exists in {self.path.parent}"  # a run's and a group's names share the folder
                raise OutputExistsError(where if self.owns_parent else f"{self.path} already exists", path=self.path, what=self.what)
            before_replacing()
            discarded = f"the new {self.what.split()[-1]} was discarded and {self._located(f'the {self.what}')} is as it was"
            try:
                with disk_full_is_an_error(), atomic_path(self.path, directory=True) as build:
                    return session(build)
            except TrainingFailedError as e:
                raise SneknerError(f"{e.message}; {discarded}") from None
            except TrainingInterruptedError:
                raise SneknerError(f"interrupted; {discarded}", fix="start it again with {option} to replace it",
                                   option="overwrite") from None

    def _located(self, what: str) -> str:
        """The folder as messages name it: WHAT NAME in RUNS_DIR for a job of the runs folder, the path for one of the
        user's folders."""
        return f"{what} {self.path.name} in {self.path.parent}" if self.owns_parent else str(self.path)

    def _remove_stale_partials(self) -> None:
        if self.owns_parent:
            remove_stale_partials(self.path.parent)
        else:  # the folder is the user's: only this output's temporaries
            remove_stale_partials(self.path.parent, target=self.path.name)
        if self.resume and self.path.is_dir():
            remove_stale_partials(self.path, recursive=True)  # what a killed session of this job left

    def train(self, loop, state, callbacks, *, manifest=None, save_manifest: Callable = lambda manifest: None):
        """`loop.run(state, callbacks)` as a session of this job; `manifest` (the chief's) is marked failed on a NaN loss."""
        with sigterm_as_ctrl_c():
            try:
                return loop.run(state, callbacks)
            except TrainingInterrupted:
                raise self.interrupted(f"interrupted at epoch {state.epoch + 1} step {state.step}; checkpoint saved") from None
            except NonFiniteLoss as e:
                if manifest is not None:
                    manifest.status = RunStatus.FAILED
                    manifest.failures = [*manifest.failures, {"at": now_iso(), "epoch": state.epoch + 1, "global_step": e.global_step,
                                                              "reason": f"loss {e.loss}", "options": loop.recipe.to_manifest()}]
                    save_manifest(manifest)
                raise self.interrupted(f"the {loop.task.loss_name} became {e.loss} at step {e.global_step} (epoch {state.epoch + 1}); "
                                       f"{self.title} is marked failed, its last checkpoint (step {state.checkpoint_step}) kept",
                                       failed=True) from None

    def interrupted(self, message: str, *, failed: bool = False) -> TrainingInterruptedError:
        """The error that says this job stopped and can be resumed (`failed`: on a NaN or infinite loss)."""
        kind = TrainingFailedError if failed else TrainingInterruptedError
        return kind(message, command=self.command, source=self.source, path=self.path)


@contextlib.contextmanager
def sigterm_as_ctrl_c():
    """SIGTERM (a scheduler's or `kill`'s stop) ends training as Ctrl-C does, checkpoint included.

    A context manager rather than a callback: the handler belongs to the process and must be put
    back however training ends, which no hook is sure to see (an error in a step, in validation or
    in another callback skips the rest).
    """
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt
