"""`snekner card`: the model card of a finished run."""
from __future__ import annotations

from pathlib import Path

import typer

from snekner.cli._util import RUN_ARGUMENT, RUNS_DIR, handles_errors
from snekner.present.card import write_card
from snekner.store.runs import open_run


@handles_errors
def card_cli(run: str = RUN_ARGUMENT, runs_dir: Path = RUNS_DIR):
    """Write the run's model card: RUN/README.md, copied into RUN/model/ (what --push-to-hub uploads)."""
    typer.echo(str(write_card(open_run(run, runs_dir))))
