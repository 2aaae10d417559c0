"""Progress of long work: the core reports it, the command line decides how it shows.

A core function that does countable work (prep's tokenizing, training's steps, validation, eval,
predict, export's stages) takes a `Progress` and opens one task per piece of work:

    with progress.task("eval test", total=len(data), unit="sentence") as task:
        for batch in batches:
            ...
            task.advance(len(batch))

It never prints. What the user sees is chosen by the command line (snekner.cli._util.progress):

- `Bars`: a tqdm bar per task when stderr is a terminal: count, rate, elapsed time and ETA,
  redrawn at most five times a second. tqdm, not rich: datasets and huggingface_hub draw their
  own bars (loading, saving, downloading) with tqdm, so every bar snekner shows looks alike,
  and tqdm imports in a few milliseconds.
- `Lines`: plain lines otherwise (a log file, a pipe, CI), one at each fifth of a task, e.g.
  `epoch 1/3: 150/750 steps, loss 0.4312 (2 s, 74.8 steps/s, ETA 8 s)`.
- `NO_PROGRESS`: nothing; the default of every core function, for library callers.

A task's `status` is a callable giving text shown after the count (training's running loss); it
is called only when a bar or line is drawn, so a training step pays nothing for it. `note` sets a
fixed status (the stage export is at).
"""
from __future__ import annotations

import functools
import time
from typing import Callable

Status = Callable[[], str]


class Task:
    """A counted piece of work; this base shows nothing (the tasks of NO_PROGRESS)."""

    def advance(self, n: int = 1) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> "Task":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Progress:
    """Opens tasks; this base shows nothing (NO_PROGRESS)."""

    def task(self, description: str, total: int, unit: str = "item", initial: int = 0, status: Status | None = None) -> Task:
        return Task()


NO_PROGRESS = Progress()


def duration(seconds: float) -> str:
    """12 s, 3 min 05 s, 2 h 07 min."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


# ------------------------------------------------------------------------------- plain lines
class Lines(Progress):
    """A line through `write` at each `parts`-th of a task, with count, elapsed time, rate and ETA.
    None while the task has run less than `min_seconds`, and none when a task's first line would be
    its last (one batch of predictions: nothing to watch), so a quick command stays quiet; a task
    that showed lines shows its end too."""

    def __init__(self, write: Callable[[str], None], parts: int = 5, min_seconds: float = 0.0,
                 clock: Callable[[], float] = time.perf_counter):
        self.write, self.parts, self.min_seconds, self.clock = write, parts, min_seconds, clock

    def task(self, description, total, unit="item", initial=0, status=None):
        return _LineTask(self, description, total, unit=unit, initial=initial, status=status)


class _LineTask(Task):
    def __init__(self, owner: Lines, description: str, total: int, *, unit: str, initial: int, status: Status | None):
        self.owner, self.description, self.total, self.unit, self.status = owner, description, total, unit, status
        self.n = self.first = self.shown = initial
        self.every = max(1, total // owner.parts)
        self.next = (initial // self.every + 1) * self.every
        self.started = owner.clock()
        self.closed = False

    def advance(self, n=1):
        self.n += n
        if self.n >= self.next:  # the one comparison a training step pays
            self.next = (self.n // self.every + 1) * self.every
            self._line()

    def note(self, text):
        self.status = lambda: text

    def close(self):
        if not self.closed:
            self.closed = True
            if self.shown != self.n and self.shown != self.first:  # finish what was being shown
                self._line()

    def _line(self) -> None:
        elapsed = self.owner.clock() - self.started
        if elapsed < self.owner.min_seconds or (self.n >= self.total and self.shown == self.first):
            return
        self.shown = self.n
        units = self.unit + "s"
        text = f"{self.description}: {self.n}/{self.total} {units}"
        if self.status is not None:
            text += f", {self.status()}"
        timing = [duration(elapsed)]
        done = self.n - self.first
        if done > 0 and elapsed > 0:
            rate = done / elapsed
            timing.append(f"{rate:.3g} {units}/s")
            if self.n < self.total:
                timing.append(f"ETA {duration((self.total - self.n) / rate)}")
        self.owner.write(f"{text} ({', '.join(timing)})")


# ------------------------------------------------------------------------------- terminal bars
class Bars(Progress):
    """A tqdm bar per task on `stream` (a terminal; None: standard error), left on screen when the task closes; `auto`:
    tqdm.auto's, a widget in a notebook (the library's default) and a text bar elsewhere."""

    def __init__(self, stream=None, min_interval: float = 0.2, *, auto: bool = False):
        self.stream, self.min_interval, self.auto = stream, min_interval, auto

    def task(self, description, total, unit="item", initial=0, status=None):
        bar = _bar_class(self.auto)(total=total, initial=initial, desc=description, unit=unit, file=self.stream, dynamic_ncols=True,
                                    mininterval=self.min_interval, leave=True, status=status)
        return _BarTask(bar)


class _BarTask(Task):
    def __init__(self, bar):
        self.bar, self.closed = bar, False

    def advance(self, n=1):
        self.bar.update(n)  # tqdm redraws only when min_interval has passed: cheap per call

    def note(self, text):
        self.bar.set_postfix_str(text)

    def close(self):
        if not self.closed:
            self.closed = True
            self.bar.close()


@functools.cache
def _bar_class(auto: bool = False):
    """tqdm (`auto`: tqdm.auto's) with a lazily computed status: imported on first use (never by `--help`)."""
    if auto:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm

    class StatusBar(tqdm):
        def __init__(self, *args, status: Status | None = None, **kwargs):
            self._status = status  # before tqdm's __init__, which draws the bar once
            super().__init__(*args, **kwargs)

        @property
        def format_dict(self):
            values = super().format_dict
            if self._status is not None:
                values["postfix"] = self._status()
            return values

    return StatusBar
