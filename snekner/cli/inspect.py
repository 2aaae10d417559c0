"""`snekner inspect`: what a dataset or prepared folder holds, and findings a person can act on."""
from __future__ import annotations

import json
from typing import Optional

import typer

from snekner import api
from snekner.cli._options import Given, takes
from snekner.cli._util import complete_tagset, handles_errors, shown
from snekner.data.reading import Reading
from snekner.data.sources import DEFAULT_DATASET
from snekner.present.text import render_inspection


@handles_errors
@takes(Reading)
def inspect_cli(
    dataset: str = typer.Argument(DEFAULT_DATASET, help="Hub id, local folder (hub layout, save_to_disk, column files), a column or "
                                  "JSON-lines file, or a prepared folder."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Only this language (default: all)."),
    tagset: Optional[str] = typer.Option(None, "--tagset", help="Show what restricting to this tagset keeps and drops.", autocompletion=complete_tagset),
    limit: Optional[int] = typer.Option(None, "--limit", help="At most N sentences per split."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
    given: Given = None,
):
    """Split sizes, entities per type, sentence lengths, BIO violations and train/test overlap."""
    reading = given.build()
    report = shown(api.inspect(dataset, lang=lang, tagset=tagset, limit=limit, reading=reading).data)
    typer.echo(json.dumps(report, indent=2) if as_json else render_inspection(report))
