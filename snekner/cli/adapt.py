"""`snekner adapt`: continued masked-LM training on domain text, into a model folder `prep --model` takes."""
from __future__ import annotations

from pathlib import Path

import typer

from snekner.cli._util import echo_err, given_on_command_line, handles_errors, progress
from snekner.modeling.devices import Strategy
from snekner.training.adaptation import RESUME_MAY_CHANGE, AdaptOptions, adapt
from snekner.training.options import Batching, Schedule

DEFAULTS = AdaptOptions()
OPTION_NAMES = tuple(DEFAULTS.to_manifest())


@handles_errors
def adapt_cli(
    ctx: typer.Context,
    text: str = typer.Option(..., "--text", help="A plain-text file (one sentence or paragraph per line), a folder of .txt files, "
                             "or a dataset snekner reads (its --split's words, joined; labels unused)."),
    out: Path = typer.Option(..., "--out", help="The model folder to write (then: snekner prep --model OUT)."),
    model: str = typer.Option(DEFAULTS.model, "--model", help="The fill-mask model to adapt: hub id or local model folder."),
    epochs: int = typer.Option(DEFAULTS.epochs, "--epochs"),
    batch_size: int = typer.Option(DEFAULTS.batch_size, "--batch-size", help="Sequences per step (split across replicas)."),
    learning_rate: float = typer.Option(DEFAULTS.learning_rate, "--learning-rate"),
    weight_decay: float = typer.Option(DEFAULTS.weight_decay, "--weight-decay"),
    warmup_ratio: float = typer.Option(DEFAULTS.warmup_ratio, "--warmup-ratio", help="Share of steps with a linear warm-up from 0."),
    schedule: Schedule = typer.Option(DEFAULTS.schedule, "--schedule", help="Learning rate after the warm-up (as for train)."),
    decay_ratio: float = typer.Option(DEFAULTS.decay_ratio, "--decay-ratio", help="With --schedule stable-decay: share of steps in the final decay."),
    max_grad_norm: float = typer.Option(DEFAULTS.max_grad_norm, "--max-grad-norm", help="Clip the gradient to this global norm (0: off)."),
    mask_rate: float = typer.Option(DEFAULTS.mask_rate, "--mask-rate", help="Share of words (or sub-words) masked and predicted."),
    whole_words: bool = typer.Option(DEFAULTS.whole_words, "--whole-words/--subwords", help="Mask every sub-word of a chosen word, "
                                     "or choose sub-words on their own."),
    max_length: int = typer.Option(DEFAULTS.max_length, "--max-length", help="Sub-words per sequence, special tokens included; "
                                   "longer texts are cut into several."),
    validation_share: float = typer.Option(DEFAULTS.validation_share, "--validation-share", help="Share of texts held out for the "
                                           "masked-LM loss after each epoch (0: none)."),
    max_validation: int = typer.Option(DEFAULTS.max_validation, "--max-validation", help="At most this many texts held out."),
    batching: Batching = typer.Option(DEFAULTS.batching, "--batching", help="bucketed (similar lengths together), balanced (the same, "
                                      "about equal sub-words a batch) or random."),
    seed: int = typer.Option(DEFAULTS.seed, "--seed"),
    eval_batch_size: int = typer.Option(DEFAULTS.eval_batch_size, "--eval-batch-size", help="Sequences per validation call."),
    mixed_precision: bool | None = typer.Option(DEFAULTS.mixed_precision, "--mixed-precision/--no-mixed-precision", help="Default: on with a GPU."),
    xla: bool | None = typer.Option(DEFAULTS.xla, "--xla/--no-xla", help="Default: on with a GPU."),
    strategy: Strategy = typer.Option(DEFAULTS.strategy, "--strategy", help="How to spread training over this machine's devices."),
    checkpoint_every: int = typer.Option(DEFAULTS.checkpoint_every, "--checkpoint-every", help="Also checkpoint every N steps (0: per epoch only)."),
    split: str = typer.Option(DEFAULTS.split, "--split", help="With a dataset: the split whose sentences are the text. "
                              "Never the test split you evaluate on."),
    lang: str | None = typer.Option(DEFAULTS.lang, "--lang", help="With a dataset: the language to keep (default: all)."),
    limit: int | None = typer.Option(DEFAULTS.limit, "--limit", help="At most N texts (quick runs)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an unfinished adaptation in --out from its last checkpoint with its "
                                f"options; only {', '.join('--' + n.replace('_', '-') for n in RESUME_MAY_CHANGE)} may be given anew."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out (only once the new model has finished)."),
):
    """Continue masked-language-model training of a fill-mask model on domain text (domain-adaptive pretraining).

    The result is a model folder: prepare data with `snekner prep --model OUT` and train as usual."""
    explicit = given_on_command_line(ctx, OPTION_NAMES)
    options = AdaptOptions(**{name: ctx.params[name] for name in OPTION_NAMES})
    manifest = adapt(text, out, options, resume=resume, overwrite=overwrite, log=echo_err, explicit=explicit, progress=progress())
    last = manifest.history[-1] if manifest.history else {}
    before, after = manifest.validation_before, last.get("validation_perplexity")
    change = f"; held-out perplexity {before['perplexity']:.2f} -> {after:.2f}" if before and after is not None else ""
    typer.echo(f"adapted {manifest.base_model} into {out} ({len(manifest.history)} epochs on {manifest.sequences['train']} sequences"
               f"{change}); next: snekner prep --model {out} ...")
