"""`snekner adapt`: continued masked-LM training on domain text, into a model folder `prep --model` takes."""
from __future__ import annotations

from pathlib import Path

import typer

from snekner.cli._options import Given, takes
from snekner.cli._util import echo_err, flag, handles_errors, progress
from snekner.training.adaptation import adapt
from snekner.training.adaptation_options import RESUME_MAY_CHANGE, AdaptOptions


@handles_errors
@takes(AdaptOptions, help={
    "model": "The fill-mask model to adapt: hub id or local model folder.",
    "batch_size": "Sequences per step (split across replicas).",
    "schedule": "Learning rate after the warm-up (as for train).",
    "batching": "bucketed (similar lengths together), balanced (the same, about equal sub-words a batch) or random.",
    "eval_batch_size": "Sequences per validation call.",
    "strategy": "How to spread training over this machine's devices.",
    "max_length": "Sub-words per sequence, special tokens included; longer texts are cut into several.",
    "lang": "With a dataset: the language to keep (default: all).",
    "limit": "At most N texts (quick runs).",
    "mixed_precision": "GPU: float16 with loss scaling; CPU: the dense layers' products in bfloat16, float32 elsewhere. "
                       "Default: on with a GPU (not on a CPU: adaptation in bfloat16 was not measured).",
})
def adapt_cli(
    text: str = typer.Option(..., "--text", help="A plain-text file (one sentence or paragraph per line), a folder of .txt files, "
                             "or a dataset snekner reads (its --split's words, joined; labels unused)."),
    out: Path = typer.Option(..., "--out", help="The model folder to write (then: snekner prep --model OUT)."),
    given: Given = None,
    resume: bool = typer.Option(False, "--resume", help="Continue an unfinished adaptation in --out from its last checkpoint with its "
                                f"options; only {', '.join(map(flag, RESUME_MAY_CHANGE))} may be given anew."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out (only once the new model has finished)."),
):
    """Continue masked-language-model training of a fill-mask model on domain text (domain-adaptive pretraining).

    The result is a model folder: prepare data with `snekner prep --model OUT` and train as usual."""
    manifest = adapt(text, out, given.build(), resume=resume, overwrite=overwrite, log=echo_err, explicit=given.explicit,
                     progress=progress())
    last = manifest.history[-1] if manifest.history else {}
    before, after = manifest.validation_before, last.get("validation_perplexity")
    change = f"; held-out perplexity {before['perplexity']:.2f} -> {after:.2f}" if before and after is not None else ""
    typer.echo(f"adapted {manifest.base_model} into {out} ({len(manifest.history)} epochs on {manifest.sequences['train']} sequences"
               f"{change}); next: snekner prep --model {out} ...")
