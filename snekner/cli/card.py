"""`snekner card`: the model card of a finished run."""
from __future__ import annotations

from pathlib import Path

import typer

from snekner import api
from snekner.cli._util import RUN_ARGUMENT, RUNS_DIR, handles_errors


@handles_errors
def card_cli(run: str = RUN_ARGUMENT, runs_dir: Path = RUNS_DIR):
    """Write the run's model card: RUN/README.md, copied into RUN/model/ (what --push-to-hub uploads).

    For a group of seeds: every member's card and GROUP/README.md with their scores side by side."""
    written = api.card(run, runs_dir=runs_dir)
    typer.echo("\n".join(map(str, written)) if isinstance(written, list) else str(written))
