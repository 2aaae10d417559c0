"""`snekner eval`: score a run on a prepared split and store scores and predictions beside it."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from snekner.cli._util import RUN_ARGUMENT, RUNS_DIR, handles_errors
from snekner.evaluation.evaluate import evaluate_run
from snekner.modeling.forward import EVAL_BATCH_SIZE
from snekner.present.text import render_confusion, render_scores
from snekner.store.runs import open_run


@handles_errors
def eval_cli(
    run: str = RUN_ARGUMENT,
    runs_dir: Path = RUNS_DIR,
    split: str = typer.Option("test", "--split"),
    data: Optional[Path] = typer.Option(None, "--data", help="Prepared data (default: the data the run was trained on)."),
    strict: bool = typer.Option(False, "--strict", help="IOB2 strict matching instead of conlleval's."),
    batch_size: int = typer.Option(EVAL_BATCH_SIZE, "--batch-size"),
    confusion: bool = typer.Option(False, "--confusion", help="Also print the entity-type confusion table (always stored in the JSON)."),
):
    """Score a run per entity type (and per language) at word level; writes RUN/eval/<split>.json."""
    result = evaluate_run(open_run(run, runs_dir), split, data, strict, batch_size)
    typer.echo(render_scores(result))
    if confusion:
        typer.echo("\n" + render_confusion(result["confusion"]))
