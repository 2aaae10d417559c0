"""`snekner compare`: per-type scores of runs against the first, with paired-bootstrap intervals."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from snekner import api
from snekner.cli._util import RUNS_DIR, complete_run, echo_err, handles_errors
from snekner.evaluation.compare import DEFAULT_RESAMPLES
from snekner.ner.metrics import DEFAULT_METRIC, Metric
from snekner.present.comparison import Format, render
from snekner.present.plots import check_plot_path, plot_comparison, require_matplotlib


@handles_errors
def compare_cli(
    runs: List[str] = typer.Argument(..., help="Two or more runs: the first is the baseline.", autocompletion=complete_run),
    runs_dir: Path = RUNS_DIR,
    split: str = typer.Option("test", "--split"),
    metric: Metric = typer.Option(DEFAULT_METRIC, "--metric"),
    fmt: Format = typer.Option(Format.TABLE, "--format"),
    bootstrap: int = typer.Option(DEFAULT_RESAMPLES, "--bootstrap", help="Paired bootstrap resamples of the sentences for 95% intervals of each difference (0: off)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resampling."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also draw the per-type scores to this image (.png, .svg, .pdf); needs matplotlib (the plot extra)."),
):
    """Per-type scores of run A against run B (and more), with bootstrap intervals of the differences."""
    if plot is not None:
        check_plot_path(plot)
        require_matplotlib()  # fail before the work, not after
    result = api.compare(*runs, runs_dir=runs_dir, split=split, metric=metric.value, bootstrap=bootstrap, seed=seed).result
    if plot is not None:
        plot_comparison(result, plot)
    typer.echo(render(result, fmt))
    if plot is not None:
        echo_err(f"wrote {plot}")
