"""`snekner search`: hyperparameter search with Optuna, each trial a run (snekner.training.search)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from snekner.cli._util import RUNS_DIR, echo_err, handles_errors, progress
from snekner.present.plots import check_plot_path, plot_search, require_matplotlib
from snekner.present.text import render_trials
from snekner.training.search import read_space, search


@handles_errors
def search_cli(
    prepared: Path = typer.Argument(..., help="A folder made by `snekner prep` (with a validation split)."),
    trials: int = typer.Option(..., "--trials", help="Trials this process runs (each a run STUDY/trial-N)."),
    study: str = typer.Option("search", "--study", help="Study name: its runs go to --runs-dir/STUDY/."),
    storage: Optional[str] = typer.Option(None, "--storage", help="Optuna storage URL shared by every process of the study, e.g. "
                                          "sqlite:///search.db or postgresql://... (default: sqlite file RUNS/STUDY/optuna.db)."),
    runs_dir: Path = RUNS_DIR,
    space: Optional[Path] = typer.Option(None, "--space", help="TOML file overriding the default search space (README, "
                                         "'Hyperparameter search'); plain values fix any train option."),
    seed: int = typer.Option(0, "--seed", help="Seed of the TPE sampler (give each process joining a study its own)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write the optimization history to this image (.png, .svg, .pdf)."),
):
    """Search learning rate, batch size, epochs, warm-up and weight decay with Optuna; prints the study's trials."""
    if plot is not None:
        check_plot_path(plot)
        require_matplotlib()  # before hours of training, not after
    dimensions, fixed = read_space(space) if space is not None else (None, {})
    result = search(prepared, study, runs_dir, trials, storage=storage, space=dimensions, fixed=fixed, seed=seed, log=echo_err,
                    progress=progress())
    typer.echo(render_trials(result))
    if plot is not None:
        typer.echo(f"wrote {plot_search(result.study, plot)}")
