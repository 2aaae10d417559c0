"""`snekner prep`: a dataset restricted to a tagset, tokenized and aligned, saved with its manifest."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import typer

from snekner import api
from snekner.cli._options import Given, takes
from snekner.cli._util import echo_err, handles_errors, progress
from snekner.data.prepare import PrepOptions, default_prep_out


@handles_errors
@takes(PrepOptions, help={"model": "Tokenizer: hub id or local model folder."})
def prep_cli(
    given: Given = None,
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: data/<dataset>-<lang>-<tagset>-<model>)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
):
    """Filter by language, restrict to a tagset, tokenize, align labels and save to disk."""
    options = given.build()
    out = out or default_prep_out(options.dataset, options.lang, options.tagset, options.model)
    fields = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
    manifest = api.prep(fields.pop("dataset"), out=out, overwrite=overwrite, log=echo_err, progress=progress(), **fields).manifest
    sizes = ", ".join(f"{k} {v.sentences}" for k, v in manifest.splits.items())
    typer.echo(f"prepared {out} ({sizes}; labels: {' '.join(manifest.labels)})")
