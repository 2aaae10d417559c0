"""`snekner report`: one self-contained HTML page of runs' curves, scores, confusion, comparison and errors."""
from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from snekner import api
from snekner.cli._util import RUNS_DIR, complete_run, echo_err, handles_errors
from snekner.evaluation.compare import DEFAULT_RESAMPLES
from snekner.present.report import DEFAULT_MAX_ERRORS


@handles_errors
def report_cli(
    runs: List[str] = typer.Argument(..., help="Runs or groups of seeds (evaluated with `snekner eval`); the first is the comparison's baseline.",
                                     autocompletion=complete_run),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="The HTML file to write (replaced if it exists)."),
    runs_dir: Path = RUNS_DIR,
    split: str = typer.Option("test", "--split", help="The evaluated split to show."),
    bootstrap: int = typer.Option(DEFAULT_RESAMPLES, "--bootstrap", help="Paired bootstrap resamples for the comparison's 95% intervals (0: off)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resampling."),
    max_errors: int = typer.Option(DEFAULT_MAX_ERRORS, "--max-errors", help="Sentences listed in each run's error browser (the counts cover all)."),
):
    """Write one HTML page (no network needed to view it): training curves, per-type scores, confusion, comparison, errors."""
    page = api.report(*runs, out=out, runs_dir=runs_dir, split=split, bootstrap=bootstrap, seed=seed, max_errors=max_errors)
    echo_err(f"wrote {page} ({page.stat().st_size / 1024:.0f} KiB)")
