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

from snekner.errors import SneknerError, TrainingFailedError, TrainingInterruptedError
from snekner.modeling.devices import chief_by_tf_config
from snekner.progress import Lines, Progress
from snekner.store.manifests import (GROUP_MANIFEST, RUN_MANIFEST, GroupManifest, environment_versions, now_iso, read_group_manifest,
                                     read_prepared_manifest, read_run_manifest, write_group_manifest)
from snekner.store.runs import Experiment, check_run_name, open_experiment
from snekner.training.options import TrainOptions, resume_options
from snekner.training.job import Job
from snekner.training.train import TrainRequest, train_run


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


def train_group(prepared_path: Path, name: str, runs_dir: Path, options: TrainOptions, seeds: list[int] | None, *,
                resume: bool = False, overwrite: bool = False, log=lambda msg: None, callbacks=(), explicit: Collection[str] = (),
                progress: Progress | None = None) -> Experiment:
    """Train one run per seed into the group `name` (or, with `resume`, finish the members that have not finished:
    an interrupted one continues from its checkpoint, a missing one starts, with the group's options and
    those of `explicit` that a resume may change; see training.options.resume_options). Returns the finished group.

    Locked and, with `overwrite`, replaced whole as train() does (the group's folder, and each member while it trains)."""
    check_run_name(name)
    options.validate()  # before any data or model loads
    progress = Lines(log, min_seconds=1.0) if progress is None else progress
    runs_dir = Path(runs_dir)
    request = TrainRequest(prepared=Path(prepared_path), name=name, options=options, resume=resume, explicit=frozenset(explicit),
                           log=log, progress=progress, callbacks=tuple(callbacks))
    job = Job(command="train", what="group", path=runs_dir / name, title=f"group {name}", source=str(prepared_path),
              resume=resume, overwrite=overwrite, owns_folder=chief_by_tf_config())
    job.run(lambda folder: _train_members(request, seeds, job, folder), before_replacing=lambda: _not_a_run(job.path))
    return open_experiment(str(job.path), runs_dir)


def _not_a_run(path: Path) -> None:
    if (path / RUN_MANIFEST).is_file():
        raise SneknerError(f"{path.name} in {path.parent} is a single run, not a group", fix="choose another {option}", option="name")


def _train_members(request: TrainRequest, seeds: list[int] | None, job: Job, group_dir: Path) -> None:
    """train_group() in `group_dir`: free (or, with `resume`, the group to finish), locked by the job."""
    group, options = (_resumed_group if request.resume else _new_group)(request, seeds, group_dir)
    explicit = frozenset(request.explicit) - {"seed"}
    for i, (seed, member) in enumerate(zip(group.seeds, group.members), start=1):
        member_dir = group_dir / member
        started = (member_dir / RUN_MANIFEST).is_file()
        if request.resume and started and read_run_manifest(member_dir).is_finished:
            request.log(f"{request.name}/{member}: finished already")
            continue
        request.log(f"{request.name}/{member} ({i} of {len(group.seeds)}): seed {seed}")
        member_request = replace(request, name=member, options=replace(options, seed=seed), resume=request.resume and started,
                                 explicit=explicit, group=request.name)
        try:
            train_run(member_request, runs_dir=group_dir, overwrite=request.resume and member_dir.exists() and not started)
        except TrainingInterruptedError as e:
            raise job.interrupted(f"{request.name}/{member}: {e.message}", failed=isinstance(e, TrainingFailedError)) from None


def _resumed_group(request: TrainRequest, seeds: list[int] | None, group_dir: Path) -> tuple[GroupManifest, TrainOptions]:
    """The group to finish, and the options its members train on: the group's, with those of `explicit` a resume may change."""
    name, runs_dir = request.name, group_dir.parent
    if not (group_dir / GROUP_MANIFEST).is_file():
        raise SneknerError(f"{name} is not a group of runs in {runs_dir}, so there are no seeds to resume",
                           fix="drop {option} to start it", option="resume")
    group = read_group_manifest(group_dir)
    if seeds is not None and seeds != group.seeds:
        raise SneknerError(f"group {name} has seeds {','.join(map(str, group.seeds))}, not {','.join(map(str, seeds))}",
                           fix="resume it without {option}", option="seeds")
    run_model = group.options.get("model") or read_prepared_manifest(request.prepared).tokenizer
    options = resume_options({**group.options, "seed": request.options.seed}, request.options, set(request.explicit) - {"seed"},
                             run_model=run_model)
    group.options = shared_options(options)
    if chief_by_tf_config():
        write_group_manifest(group_dir, group)
    return group, options


def _new_group(request: TrainRequest, seeds: list[int] | None, group_dir: Path) -> tuple[GroupManifest, TrainOptions]:
    if not seeds:
        raise SneknerError("no seeds given", fix="pass {option} such as 1,2,3", option="seeds")
    options = request.options
    group = GroupManifest(name=request.name, data=str(request.prepared.resolve()), seeds=list(seeds),
                          members=[member_name(s) for s in seeds], options=shared_options(options), created=now_iso(),
                          versions=environment_versions())
    if chief_by_tf_config():
        group_dir.mkdir(parents=True, exist_ok=True)
        write_group_manifest(group_dir, group)
    return group, options
