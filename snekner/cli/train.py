"""`snekner train`: fine-tune on a prepared dataset (and optionally push the model to the hub)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from snekner.cli._util import RUNS_DIR, complete_run, echo_err, flag, given_on_command_line, handles_errors, progress
from snekner.errors import SneknerError
from snekner.hub import push_run, require_token
from snekner.modeling.devices import Strategy, chief_by_tf_config
from snekner.store.runs import is_group
from snekner.training.config import OPTION_NAMES, options_like, read_config
from snekner.training.groups import parse_seeds, train_group
from snekner.training.imbalance import ClassWeights
from snekner.training.options import RESUME_MAY_CHANGE, Batching, Schedule, TrainOptions
from snekner.training.train import train

DEFAULTS = TrainOptions()


@handles_errors
def train_cli(
    ctx: typer.Context,
    prepared: Path = typer.Argument(..., help="A folder made by `snekner prep`."),
    name: str = typer.Option(..., "--name", help="Run name: a folder under --runs-dir."),
    runs_dir: Path = RUNS_DIR,
    model: Optional[str] = typer.Option(DEFAULTS.model, "--model", help="Pretrained model (default: the one the data was prepared with)."),
    epochs: int = typer.Option(DEFAULTS.epochs, "--epochs"),
    batch_size: int = typer.Option(DEFAULTS.batch_size, "--batch-size", help="Global batch size (split across replicas)."),
    learning_rate: float = typer.Option(DEFAULTS.learning_rate, "--learning-rate"),
    weight_decay: float = typer.Option(DEFAULTS.weight_decay, "--weight-decay"),
    warmup_ratio: float = typer.Option(DEFAULTS.warmup_ratio, "--warmup-ratio", help="Share of steps with a linear warm-up from 0."),
    schedule: Schedule = typer.Option(DEFAULTS.schedule, "--schedule", help="Learning rate after the warm-up: linear (decays to 0), "
                                      "constant, or stable-decay (constant, then linear to 0 over the last --decay-ratio of the steps)."),
    decay_ratio: float = typer.Option(DEFAULTS.decay_ratio, "--decay-ratio", help="With --schedule stable-decay: share of the steps in the final decay."),
    max_grad_norm: float = typer.Option(DEFAULTS.max_grad_norm, "--max-grad-norm", help="Clip the gradient to this global norm (0: off)."),
    batching: Batching = typer.Option(DEFAULTS.batching, "--batching", help="balanced: sentences of similar length together, "
                                      "about equal sub-words a batch (batch-size sentences on average; fast); bucketed: the same, "
                                      "batch-size sentences a batch; random: a plain shuffle (pads ~10x more)."),
    class_weights: ClassWeights = typer.Option(DEFAULTS.class_weights, "--class-weights", help="Per-label loss weights from the "
                                               "training label counts: none, inverse or sqrt-inverse (for rare types)."),
    oversample: float = typer.Option(DEFAULTS.oversample, "--oversample", help="Repeat sentences of rare types in each epoch until "
                                     "every type is in about this share of its sentences, e.g. 0.05 (0: off)."),
    seed: int = typer.Option(DEFAULTS.seed, "--seed"),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="Train one run per seed (e.g. 1,2,3) as the group NAME: "
                                        "runs NAME/seed-1, ...; eval, compare and card take the group."),
    early_stopping_patience: int = typer.Option(DEFAULTS.early_stopping_patience, "--early-stopping-patience",
                                                help="Stop after N epochs without validation F1 gain (0: off)."),
    eval_batch_size: int = typer.Option(DEFAULTS.eval_batch_size, "--eval-batch-size", help="Sentences per prediction call in validation."),
    mixed_precision: Optional[bool] = typer.Option(DEFAULTS.mixed_precision, "--mixed-precision/--no-mixed-precision", help="Default: on with a GPU."),
    xla: Optional[bool] = typer.Option(DEFAULTS.xla, "--xla/--no-xla", help="Default: on with a GPU."),
    strategy: Strategy = typer.Option(DEFAULTS.strategy, "--strategy", help="How to spread training over devices (auto: by what TensorFlow sees)."),
    checkpoint_every: int = typer.Option(DEFAULTS.checkpoint_every, "--checkpoint-every", help="Also checkpoint every N steps (0: per epoch only)."),
    tensorboard: bool = typer.Option(DEFAULTS.tensorboard, "--tensorboard", help="Write TensorBoard logs to RUN/tensorboard."),
    resume: bool = typer.Option(False, "--resume", help="Continue a killed or interrupted run from its last checkpoint with its "
                                f"options; only {', '.join(map(flag, RESUME_MAY_CHANGE))} may be given anew (--epochs: more)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run of this name."),
    push_to_hub: Optional[str] = typer.Option(None, "--push-to-hub", help="Hub repo id to push the model to (token: HF_TOKEN, .env, or `hf auth login`)."),
    like: Optional[str] = typer.Option(None, "--like", help="Take the options of this run or group (a group's seeds too); "
                                       "options given here override them.", autocompletion=complete_run),
    config: Optional[Path] = typer.Option(None, "--config", help="Take the options from this TOML file (keys: the options' "
                                          "names, e.g. learning-rate = 3e-5, seeds = [1, 2, 3]); options given here override them."),
):
    """Fine-tune on a prepared dataset; keeps the best epoch by validation F1.

    Options come from the defaults, then --like RUN or --config FILE, then what is given on the command line."""
    explicit = given_on_command_line(ctx, [*OPTION_NAMES, "seeds"])
    if like is not None and config is not None:
        raise SneknerError("--like and --config both given", fix="take the options from one of them")
    if resume and (like is not None or config is not None):
        raise SneknerError("--resume continues with the run's own options", fix="drop --like/--config")
    if like is not None:
        base = options_like(like, runs_dir, warn=lambda message: echo_err(f"warning: --like {like}: {message}"))
    else:
        base = read_config(config) if config is not None else {}
    values = {**{k: v for k, v in base.items() if k != "seeds"}, **{k: ctx.params[k] for k in explicit if k != "seeds"}}
    try:
        options = TrainOptions(**{**DEFAULTS.to_manifest(), **values})
    except TypeError as e:
        raise SneknerError(f"options of {like or config} do not fit this snekner ({e})", fix="fix them or pass them as flags") from None
    options.validate()  # at the boundary: before any data or model loads
    if "seed" in explicit and "seeds" in explicit:
        raise SneknerError("--seed and --seeds both given", fix="pass one of them")
    group_seeds = parse_seeds(seeds) if "seeds" in explicit else None if "seed" in explicit else base.get("seeds")
    # in a multi-worker cluster every machine runs this command, but only the chief has the model
    # and the run folder: only it writes the card and pushes (and needs a token)
    pushes = bool(push_to_hub) and chief_by_tf_config()
    if group_seeds is not None or (resume and is_group(runs_dir / name)):
        if push_to_hub:
            raise SneknerError("--push-to-hub pushes one run, not a group of seeds", fix="train the run to push without --seeds")
        group = train_group(prepared, name, runs_dir, options, group_seeds, resume=resume, overwrite=overwrite, log=echo_err,
                            explicit=explicit - {"seeds"}, progress=progress())
        best = [r.manifest.best_validation_f1 for r in group.runs]
        summary = ", ".join(f"seed {s}: {b:.4f}" for s, b in zip(group.seeds, best) if b is not None)
        typer.echo(f"trained group {group.path} ({len(group.runs)} runs" + (f"; best validation F1 {summary}" if summary else "") + ")")
        return
    if pushes:
        require_token()  # fail before hours of training, not after
    run = train(prepared, name, runs_dir, options, resume=resume, overwrite=overwrite, log=echo_err, explicit=explicit,
                progress=progress())
    best = run.manifest.best_validation_f1
    typer.echo(f"trained {run.path} (best epoch {run.manifest.best_epoch}" + (f", validation F1 {best:.4f}" if best is not None else "") + ")")
    if pushes:
        url = push_run(run, push_to_hub)  # writes the model card (RUN/README.md, RUN/model/README.md) first
        typer.echo(f"pushed {run.name} with its model card {run.path / 'README.md'} to {url}")
    elif push_to_hub:
        echo_err(f"not the chief of the cluster: the chief pushes {run.name} to {push_to_hub}")
