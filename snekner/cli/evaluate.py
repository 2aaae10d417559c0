"""`snekner eval`: score a run on a prepared split and store scores and predictions beside it."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from snekner import api
from snekner.cli._util import INFERENCE_PRECISION_HELP, RUN_ARGUMENT, RUNS_DIR, echo_err, handles_errors, progress
from snekner.modeling.forward import EVAL_BATCH_SIZE
from snekner.present.text import render_confusion, render_scores, render_seed_summary
from snekner.store.runs import open_experiment


@handles_errors
def eval_cli(
    run: str = RUN_ARGUMENT,
    runs_dir: Path = RUNS_DIR,
    split: str = typer.Option("test", "--split"),
    data: Optional[Path] = typer.Option(None, "--data", help="Prepared data (default: the data the run was trained on, refused "
                                        "if it was prepared again since; --data takes any, that one included)."),
    strict: bool = typer.Option(False, "--strict", help="IOB2 strict matching instead of conlleval's."),
    batch_size: int = typer.Option(EVAL_BATCH_SIZE, "--batch-size"),
    confusion: bool = typer.Option(False, "--confusion", help="Also print the entity-type confusion table (always stored in the JSON)."),
    mixed_precision: Optional[bool] = typer.Option(None, "--mixed-precision/--no-mixed-precision", help=INFERENCE_PRECISION_HELP,
                                                   rich_help_panel="Precision"),
):
    """Score a run (or each run of a group of seeds) per entity type (and per language) at word level; writes RUN/eval/<split>.json."""
    experiment = open_experiment(run, runs_dir)
    evaluated = api.evaluate(experiment, split=split, data=data, strict=strict, batch_size=batch_size, progress=progress(), log=echo_err,
                             mixed_precision=mixed_precision)
    results = []
    for result in evaluated if experiment.is_group else [evaluated]:
        typer.echo(render_scores(result))
        if confusion:
            typer.echo("\n" + render_confusion(result.confusion))
        if experiment.is_group:
            typer.echo("")
        results.append(result)
    if experiment.is_group:
        typer.echo(render_seed_summary(experiment.name, experiment.seeds, results))
