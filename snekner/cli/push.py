"""`snekner push`: upload a finished run's model, with its card, to the Hugging Face hub (or retry a failed upload)."""
from __future__ import annotations

from pathlib import Path

import typer

from snekner.cli._util import RUN_ARGUMENT, RUNS_DIR, handles_errors
from snekner.hub import push_run
from snekner.store.runs import open_run


@handles_errors
def push_cli(
    run: str = RUN_ARGUMENT,
    repo: str = typer.Option(..., "--repo", help="Hub repo id, e.g. me/multinerd-en-b (token: HF_TOKEN, .env, or `hf auth login`)."),
    private: bool = typer.Option(False, "--private", help="Make the repo private if it does not exist yet."),
    runs_dir: Path = RUNS_DIR,
):
    """Push a finished run's model (TF and PyTorch weights) and card to the hub; retries a failed --push-to-hub.

    What `train --push-to-hub` does, on its own: after a failed push, or for a run trained without it."""
    finished = open_run(run, runs_dir)
    url = push_run(finished, repo, private=private)
    typer.echo(f"pushed {finished.name} with its model card {finished.path / 'README.md'} to {url}")
