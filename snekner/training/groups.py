"""`snekner train --seeds 1,2,3`: one experiment as a group of runs that differ only in their seed.

The group is a folder under the runs folder holding its manifest (snekner-group.json) and one normal
run folder per seed (seed-1/, seed-2/, ...; named GROUP/seed-N). Why nested and not runs side by side
(A-s1, A-s2): an experiment stays one name in `runs/` (listing, completion, copying or deleting it is
one folder), its members cannot collide with other runs' names, and each member is still a run that
every command can open on its own (`snekner predict A/seed-2 ...`).
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

from snekner.errors import OutputExistsError, SneknerError, TrainingInterruptedError
from snekner.modeling.devices import chief_by_tf_config
from snekner.progress import Progress
from snekner.store.atomic import atomic_path, disk_full_is_an_error, remove_stale_partials
from snekner.store.locks import hold
from snekner.store.manifests import (GROUP_MANIFEST, RUN_MANIFEST, GroupManifest, environment_versions, now_iso, read_group_manifest,
                                     read_prepared_manifest, read_run_manifest, write_group_manifest)
from snekner.store.runs import Experiment, check_run_name, open_experiment
from snekner.training.options import TrainOptions, resume_options
from snekner.training.train import train


def member_name(seed: int) -> str:
    return f"seed-{seed}"


def shared_options(options: TrainOptions) -> dict:
    """What a group's members share: every option but the seed, as the manifest stores them."""
    return {k: v for k, v in options.to_manifest().items() if k != "seed"}


def parse_seeds(text: str) -> list[int]:
    """`1,2,3` -> [1, 2, 3]; a one-line error for anything else (empty, not integers, repeated)."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SneknerError(f"seeds {text!r} are not comma-separated integers", fix="pass {option} such as 1,2,3", option="seeds") from None
    if not seeds:
        raise SneknerError("no seeds given", fix="pass {option} such as 1,2,3", option="seeds")
    if len(set(seeds)) != len(seeds):
        raise SneknerError(f"seeds {text!r} name a seed twice", fix="name each seed once in {option}", option="seeds")
    if any(s < 0 for s in seeds):
        raise SneknerError(f"seeds {text!r} include a negative seed", fix="use seeds of 0 or more in {option}", option="seeds")
    return seeds


def train_group(prepared_path: Path, name: str, runs_dir: Path, options: TrainOptions, seeds: list[int] | None,
                resume: bool = False, overwrite: bool = False, log=lambda msg: None, callbacks=(), explicit: Collection[str] = (),
                progress: Progress | None = None) -> Experiment:
    """Train one run per seed into the group `name` (or, with `resume`, finish the members that have not finished:
    an interrupted one continues from its checkpoint, a missing one starts, with the group's options and
    those of `explicit` that a resume may change; see training.options.resume_options). Returns the finished group.

    Locked and, with `overwrite`, replaced whole as train() does (the group's folder, and each member while it trains)."""
    group_dir = Path(runs_dir) / name
    check_run_name(name)
    if not chief_by_tf_config():
        return _train_group(prepared_path, name, group_dir, options, seeds, resume, log, callbacks, explicit, progress)
    with hold(group_dir, "run", "train"):
        remove_stale_partials(Path(runs_dir))
        if resume or not group_dir.exists():
            return _train_group(prepared_path, name, group_dir, options, seeds, resume, log, callbacks, explicit, progress)
        if not overwrite:
            raise OutputExistsError(f"run {name} already exists in {runs_dir}", path=group_dir, what="run")
        if (group_dir / RUN_MANIFEST).is_file():
            raise SneknerError(f"{name} in {runs_dir} is a single run, not a group", fix="choose another {option}", option="name")
        try:  # as train(): the new group is built beside the old one, which stays whole until the new one has finished
            with disk_full_is_an_error(), atomic_path(group_dir, directory=True) as build_dir:
                _train_group(prepared_path, name, build_dir, options, seeds, resume, log, callbacks, explicit, progress)
        except TrainingInterruptedError as e:
            raise SneknerError(f"{e}; the new group was discarded and the group {name} in {runs_dir} is as it was") from None
        return open_experiment(str(group_dir), runs_dir)


def _train_group(prepared_path: Path, name: str, group_dir: Path, options: TrainOptions, seeds: list[int] | None, resume: bool,
                 log, callbacks, explicit: Collection[str], progress: Progress | None) -> Experiment:
    """train_group() in `group_dir`: free (or, with `resume`, the group to finish), locked by the caller."""
    runs_dir = group_dir.parent
    chief = chief_by_tf_config()
    if resume:
        if not (group_dir / GROUP_MANIFEST).is_file():
            raise SneknerError(f"{name} is not a group of runs in {runs_dir}, so there are no seeds to resume",
                               fix="drop {option} to start it", option="resume")
        group = read_group_manifest(group_dir)
        if seeds is not None and seeds != group.seeds:
            raise SneknerError(f"group {name} has seeds {','.join(map(str, group.seeds))}, not {','.join(map(str, seeds))}",
                               fix="resume it without {option}", option="seeds")
        seeds = group.seeds
        run_model = group.options.get("model") or read_prepared_manifest(Path(prepared_path)).tokenizer
        options = resume_options({**group.options, "seed": options.seed}, options, set(explicit) - {"seed"}, run_model=run_model)
        group.options = shared_options(options)
        if chief:
            write_group_manifest(group_dir, group)
    else:
        if not seeds:
            raise SneknerError("no seeds given", fix="pass {option} such as 1,2,3", option="seeds")
        options.validate()
        group = GroupManifest(name=name, data=str(Path(prepared_path).resolve()), seeds=list(seeds), members=[member_name(s) for s in seeds],
                              options=shared_options(options), created=now_iso(),
                              versions=environment_versions())
        if chief:
            group_dir.mkdir(parents=True, exist_ok=True)
            write_group_manifest(group_dir, group)
    for i, (seed, member) in enumerate(zip(group.seeds, group.members), start=1):
        member_dir = group_dir / member
        started = (member_dir / RUN_MANIFEST).is_file()
        if resume and started and read_run_manifest(member_dir).is_finished:
            log(f"{name}/{member}: finished already")
            continue
        log(f"{name}/{member} ({i} of {len(group.seeds)}): seed {seed}")
        try:
            train(prepared_path, member, group_dir, replace(options, seed=seed), resume=resume and started,
                  overwrite=resume and member_dir.exists() and not started, log=log, callbacks=callbacks,
                  explicit=set(explicit) - {"seed"}, group=name, progress=progress)
        except TrainingInterruptedError as e:
            raise type(e)(f"{name}/{member}: {e}", prepared=e.prepared, name=name, runs_dir=Path(runs_dir)) from None
    return open_experiment(str(group_dir), runs_dir)
