"""snekner.progress: plain lines (no terminal), tqdm bars (a terminal), and the command line's choice between them."""
from __future__ import annotations

import io
import re

import pytest

from snekner.progress import NO_PROGRESS, Bars, Lines, duration


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_lines_at_each_fifth_with_rate_and_eta():
    clock, out = Clock(), []
    task = Lines(out.append, clock=clock).task("epoch 1/3", 100, unit="step", status=lambda: "loss 0.5000")
    for _ in range(100):
        clock.now += 0.5
        task.advance()
    task.close()
    assert out == [f"epoch 1/3: {n}/100 steps, loss 0.5000 ({duration(n / 2)}, 2 steps/s" + (f", ETA {duration((100 - n) / 2)})" if n < 100 else ")")
                   for n in (20, 40, 60, 80, 100)]
    assert out[0] == "epoch 1/3: 20/100 steps, loss 0.5000 (10 s, 2 steps/s, ETA 40 s)"


def test_lines_stay_quiet_for_a_quick_task_and_finish_what_they_showed():
    clock, out = Clock(), []
    lines = Lines(out.append, min_seconds=1.0, clock=clock)
    with lines.task("eval test", 10, unit="sentence") as task:  # done in 0.1 s: nothing to show
        for _ in range(10):
            clock.now += 0.01
            task.advance()
    assert out == []
    with lines.task("eval test", 13, unit="sentence") as task:  # 1 s per sentence: a line every 13 // 5 = 2, and the last
        for _ in range(13):
            clock.now += 1
            task.advance()
    assert [re.match(r"eval test: (\d+)/13 sentences", line).group(1) for line in out] == ["2", "4", "6", "8", "10", "12", "13"]
    out.clear()
    with lines.task("predict", 32, unit="window") as task:  # one batch, however slow: its first line would be its last
        clock.now += 60
        task.advance(32)
    assert out == []


def test_lines_of_a_resumed_epoch_count_from_where_it_was():
    clock, out = Clock(), []
    task = Lines(out.append, clock=clock).task("epoch 2/3", 50, unit="step", initial=35)
    for _ in range(15):
        clock.now += 1
        task.advance()
    task.close()
    assert out == ["epoch 2/3: 40/50 steps (5 s, 1 steps/s, ETA 10 s)", "epoch 2/3: 50/50 steps (15 s, 1 steps/s)"]


def test_status_is_computed_only_when_a_line_is_drawn():
    calls = []
    task = Lines(lambda line: None).task("epoch 1/1", 1000, unit="step", status=lambda: calls.append(1) or "")
    for _ in range(1000):
        task.advance()
    assert len(calls) == 5


def test_bars_show_count_rate_eta_and_status_on_a_terminal():
    stream = FakeTerminal()
    calls = []
    with Bars(stream, min_interval=0).task("epoch 1/2", 40, unit="step", status=lambda: calls.append(1) or "loss 0.1234") as task:
        for _ in range(40):
            task.advance()
    text = stream.getvalue()
    last = re.split(r"[\r\n]", text.rstrip())[-1]
    # tqdm's meter: description, percentage, bar, count, [elapsed<ETA, rate, status]
    assert re.search(r"epoch 1/2: 100%\|.*\| 40/40 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+(step/s|s/step), loss 0\.1234\]", last), text[-400:]
    assert calls  # drawn with the status


def test_bars_redraw_rarely_and_ask_the_status_only_then():
    stream = FakeTerminal()
    calls = []
    task = Bars(stream, min_interval=60).task("epoch 1/1", 10_000, unit="step", status=lambda: calls.append(1) or "loss 1")
    for _ in range(10_000):
        task.advance()
    task.close()
    assert len(calls) <= 3  # first draw, the final one on close


def test_note_shows_the_stage():
    out = []
    task = Lines(out.append, parts=3).task("export pytorch", 3, unit="stage")
    task.note("writing pytorch")
    task.advance()
    assert out[0].startswith("export pytorch: 1/3 stages, writing pytorch (")
    stream = FakeTerminal()
    with Bars(stream, min_interval=0).task("export onnx", 3, unit="stage") as bar:
        bar.note("loading it back")
        bar.advance(3)
    assert "loading it back" in stream.getvalue()


def test_no_progress_shows_nothing():
    with NO_PROGRESS.task("x", 3) as task:
        task.advance(3)
        task.note("y")


@pytest.mark.parametrize("terminal, term, kind", [(True, "xterm", Bars), (False, "xterm", Lines), (True, "dumb", Lines)])
def test_the_command_line_draws_bars_only_on_a_terminal(monkeypatch, terminal, term, kind):
    import sys

    from snekner.cli import _util

    monkeypatch.setattr(sys, "stderr", FakeTerminal() if terminal else io.StringIO())
    monkeypatch.setenv("TERM", term)
    assert isinstance(_util.progress(), kind)


def test_duration():
    assert [duration(s) for s in (0.4, 59.6, 61, 3599, 3600, 7325)] == ["0 s", "1 min 00 s", "1 min 01 s", "59 min 59 s", "1 h 00 min", "2 h 02 min"]
