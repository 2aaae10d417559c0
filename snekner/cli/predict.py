"""`snekner predict`: entities in raw text or token lists, with a trained run."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from snekner.cli._util import RUN_ARGUMENT, RUNS_DIR, echo_err, handles_errors, progress
from snekner.modeling.forward import EVAL_BATCH_SIZE
from snekner.predict import predict_run
from snekner.present.predictions import PredictFormat, format_html, format_predictions
from snekner.store.atomic import check_output_file, disk_full_is_an_error, write_text
from snekner.store.runs import open_run


@handles_errors
def predict_cli(
    run: str = RUN_ARGUMENT,
    texts: Optional[List[str]] = typer.Argument(None, help="Sentences to tag, one per argument (or use --input)."),
    runs_dir: Path = RUNS_DIR,
    input_path: Optional[Path] = typer.Option(None, "--input", "-i", help="File to tag ('-': stdin): one sentence per line (blank lines skipped), "
                                              "or JSON lines with a \"tokens\" list (.jsonl/.json, or first line starting with '{')."),
    fmt: PredictFormat = typer.Option(PredictFormat.TABLE, "--format", help="table: sentence, entity, type, words start-end, score | "
                                      "jsonl: {\"tokens\", \"entities\": [{\"text\", \"type\", \"start\", \"end\", \"score\"}]} per sentence | "
                                      "conll: word<TAB>tag lines, blank line between sentences | "
                                      "html: one self-contained page, entities highlighted per type. Word spans are 0-based, end exclusive; "
                                      "raw text also gives each entity's start_char/end_char in its \"text\"."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to this file instead of standard output (replaced if it exists)."),
    batch_size: int = typer.Option(EVAL_BATCH_SIZE, "--batch-size", help="Windows per model call."),
    max_length: Optional[int] = typer.Option(None, "--max-length", help="Sub-words per window, special tokens included (default: the run's prepared max length)."),
    stride: Optional[int] = typer.Option(None, "--stride", help="Words shared by consecutive windows of a long sentence (default: a quarter of the window's words)."),
):
    """Tag sentences with a trained run and print the entities (score: mean word probability)."""
    if out is not None:
        check_output_file(out)
    opened = open_run(run, runs_dir)
    predictions = predict_run(opened, texts, input_path, max_length, stride, batch_size, progress())
    text = format_html(predictions, f"snekner predict: {opened.name}") if fmt == PredictFormat.HTML else format_predictions(predictions, fmt)
    if out is None:
        typer.echo(text)
    else:
        with disk_full_is_an_error(writing=out):
            write_text(out, text if text.endswith("\n") else text + "\n")
        echo_err(f"wrote {out}")
