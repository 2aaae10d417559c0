"""`snekner card`: the model card of a finished run."""
from __future__ import annotations

from pathlib import Path

import typer

from snekner.cli._util import RUN_ARGUMENT, RUNS_DIR, handles_errors
from snekner.present.card import write_card, write_group_card
from snekner.store.runs import open_experiment


@handles_errors
def card_cli(run: str = RUN_ARGUMENT, runs_dir: Path = RUNS_DIR):
    """Write the run's model card: RUN/README.md, copied into RUN/model/ (what --push-to-hub uploads).

    For a group of seeds: every member's card and GROUP/README.md with their scores side by side."""
    experiment = open_experiment(run, runs_dir)
    if experiment.is_group:
        typer.echo("\n".join(map(str, write_group_card(experiment))))
    else:
        typer.echo(str(write_card(experiment.runs[0])))
