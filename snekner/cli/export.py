"""`snekner export`: a finished run's model as PyTorch weights, a TF SavedModel or ONNX, checked against the run."""
from __future__ import annotations

from pathlib import Path

import typer

from snekner import api
from snekner.cli._util import RUN_ARGUMENT, RUNS_DIR, handles_errors, progress
from snekner.modeling.export import TOLERANCE, ExportFormat


@handles_errors
def export_cli(
    run: str = RUN_ARGUMENT,
    fmt: ExportFormat = typer.Option(..., "--format", help="pytorch: model.safetensors with PyTorch names, config.json, tokenizer "
                                     "(AutoModelForTokenClassification) | savedmodel: TF SavedModel, signature input_ids, "
                                     "attention_mask -> logits | onnx: model.onnx (needs the onnx extra: tf2onnx, onnxruntime)."),
    out: Path = typer.Option(..., "--out", help="Folder to write the export into."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out if it exists."),
    runs_dir: Path = RUNS_DIR,
):
    """Export a run's model for PyTorch, TF Serving or ONNX Runtime, checked against the run's own logits.

    The export is loaded back and its logits compared with the run's model on a few sentences; it is
    written only if they agree (the max abs difference is printed)."""
    result = api.export(run, out=out, format=fmt.value, runs_dir=runs_dir, overwrite=overwrite, progress=progress())
    typer.echo(f"exported {run} as {result.format.value} to {result.out} ({', '.join(result.files[:6])}"
               f"{', ...' if len(result.files) > 6 else ''})")
    typer.echo(f"checked: max abs logit difference {result.max_abs_difference:.3g} on {result.sentences} sentences "
               f"(limit {TOLERANCE:g})")
