"""`snekner predict`: entities in raw text or token lists, with a trained run."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from snekner.cli._util import INFERENCE_PRECISION_HELP, RUN_ARGUMENT, RUNS_DIR, echo_err, handles_errors, progress
from snekner.modeling.forward import EVAL_BATCH_SIZE
from snekner.predict import iter_run
from snekner.present.predictions import PredictFormat, format_html, format_pieces
from snekner.store.atomic import atomic_path, check_output_file, disk_full_is_an_error, remove_stale_partials
from snekner.store.runs import open_run
from snekner.training.job import sigterm_as_ctrl_c


@handles_errors
def predict_cli(
    run: str = RUN_ARGUMENT,
    texts: Optional[List[str]] = typer.Argument(None, help="Sentences to tag, one per argument (or use --input)."),
    runs_dir: Path = RUNS_DIR,
    input_path: Optional[Path] = typer.Option(None, "--input", "-i", help="File to tag ('-': stdin): one sentence per line (a blank line: an empty result, so "
                                              "the output has one sentence per input line), "
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
    mixed_precision: Optional[bool] = typer.Option(None, "--mixed-precision/--no-mixed-precision", help=INFERENCE_PRECISION_HELP,
                                                   rich_help_panel="Precision"),
):
    """Tag sentences with a trained run and print the entities (score: mean word probability)."""
    if out is not None:
        check_output_file(out)
        remove_stale_partials(out.parent, target=out.name)  # what a predict --out killed outright (kill -9) left
    with sigterm_as_ctrl_c():  # a stop (SIGTERM) ends it as Ctrl-C does: the temporary file is removed, nothing is written
        _predict(run, texts, runs_dir, input_path, fmt, out, batch_size, max_length, stride, mixed_precision)


def _predict(run: str, texts: Optional[List[str]], runs_dir: Path, input_path: Optional[Path], fmt: PredictFormat, out: Optional[Path],
             batch_size: int, max_length: Optional[int], stride: Optional[int], mixed_precision: Optional[bool]) -> None:
    opened = open_run(run, runs_dir)
    predictions = iter_run(opened, texts, input_path=input_path, max_length=max_length, stride=stride, batch_size=batch_size,
                           progress=progress(), mixed_precision=mixed_precision)
    if fmt == PredictFormat.HTML:
        pieces = iter([format_html(list(predictions), f"snekner predict: {opened.name}")])
    else:
        pieces = format_pieces(predictions, fmt)  # jsonl, conll: written sentence by sentence, never held whole
    if out is None:
        for piece in pieces:
            typer.echo(piece, nl=False)
        typer.echo("")
    else:
        with disk_full_is_an_error(writing=out), atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as f:
            last = ""
            for piece in pieces:
                f.write(piece)
                last = piece or last
            if not last.endswith("\n"):
                f.write("\n")
        echo_err(f"wrote {out}")
