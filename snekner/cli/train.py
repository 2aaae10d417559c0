"""`snekner train`: fine-tune on a prepared dataset (and optionally push the model to the hub)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from snekner import api
from snekner.cli._options import Given, takes
from snekner.cli._util import RUNS_DIR, complete_run, echo_err, flag, handles_errors, progress
from snekner.errors import SneknerError
from snekner.hub import push_run, require_token
from snekner.modeling.devices import chief_by_tf_config
from snekner.store.runs import is_group
from snekner.training.config import options_like, read_config
from snekner.training.groups import parse_seeds
from snekner.training.options import RESUME_MAY_CHANGE, TrainOptions


@handles_errors
@takes(TrainOptions, help={
    "model": "Pretrained model (default: the one the data was prepared with).",
    "batch_size": "Global batch size (split across replicas).",
})
def train_cli(
    prepared: Path = typer.Argument(..., help="A folder made by `snekner prep`."),
    name: str = typer.Option(..., "--name", help="Run name: a folder under --runs-dir."),
    runs_dir: Path = RUNS_DIR,
    given: Given = None,
    seeds: Optional[str] = typer.Option(None, "--seeds", help="Train one run per seed (e.g. 1,2,3) as the group NAME: "
                                        "runs NAME/seed-1, ...; eval, compare and card take the group."),
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
    if like is not None and config is not None:
        raise SneknerError("--like and --config both given", fix="take the options from one of them")
    if resume and (like is not None or config is not None):
        raise SneknerError("--resume continues with the run's own options", fix="drop --like/--config")
    if like is not None:
        base = options_like(like, runs_dir, warn=lambda message: echo_err(f"warning: --like {like}: {message}"))
    else:
        base = read_config(config) if config is not None else {}
    # the recipe: --like's or --config's options, then the ones given here; the rest are the defaults (a resume: its stored ones)
    recipe = {**{k: v for k, v in base.items() if k != "seeds"}, **{field: given.values[field] for field in given.explicit}}
    try:
        given.build(recipe)
    except TypeError as e:
        raise SneknerError(f"options of {like or config} do not fit this snekner ({e})", fix="fix them or pass them as flags") from None
    if "seed" in given.explicit and seeds is not None:
        raise SneknerError("--seed and --seeds both given", fix="pass one of them")
    group_seeds = parse_seeds(seeds) if seeds is not None else None if "seed" in given.explicit else base.get("seeds")
    # in a multi-worker cluster every machine runs this command, but only the chief has the model
    # and the run folder: only it writes the card and pushes (and needs a token)
    pushes = bool(push_to_hub) and chief_by_tf_config()
    if group_seeds is not None or (resume and is_group(runs_dir / name)):
        if push_to_hub:
            raise SneknerError("--push-to-hub pushes one run, not a group of seeds", fix="train the run to push without --seeds")
        group = api.train(prepared, name=name, runs_dir=runs_dir, seeds=group_seeds, resume=resume, overwrite=overwrite, log=echo_err,
                          progress=progress(), **recipe)
        best = [r.manifest.best_validation_f1 for r in group.runs]
        summary = ", ".join(f"seed {s}: {b:.4f}" for s, b in zip(group.seeds, best) if b is not None)
        typer.echo(f"trained group {group.path} ({len(group.runs)} runs" + (f"; best validation F1 {summary}" if summary else "") + ")")
        return
    if pushes:
        require_token()  # fail before hours of training, not after
    run = api.train(prepared, name=name, runs_dir=runs_dir, resume=resume, overwrite=overwrite, log=echo_err, progress=progress(),
                    **recipe)
    best = run.manifest.best_validation_f1
    typer.echo(f"trained {run.path} (best epoch {run.manifest.best_epoch}" + (f", validation F1 {best:.4f}" if best is not None else "") + ")")
    if pushes:
        url = push_run(run, push_to_hub)  # writes the model card (RUN/README.md, RUN/model/README.md) first
        typer.echo(f"pushed {run.name} with its model card {run.path / 'README.md'} to {url}")
    elif push_to_hub:
        echo_err(f"not the chief of the cluster: the chief pushes {run.name} to {push_to_hub}")
