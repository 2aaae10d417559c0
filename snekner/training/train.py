"""`snekner train` as a library call: the run folder, the devices, the run manifest, resume.

The run manifest (RUN/snekner-run.json) is written twice: when the session starts (status
"running", this session's devices and versions) and when it finishes (status "finished", the
best epoch, timings). In between only checkpoints/, metrics.jsonl and tensorboard/ change, so a
killed run is recognisably unfinished and `--resume` finds its recipe in the manifest. The
folder's lifecycle (lock, resume, overwrite, interruptions) is training.job's.
"""
from __future__ import annotations

import json
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from snekner.errors import SneknerError
from snekner.modeling.devices import chief_by_tf_config, setup_devices, text_from_chief
from snekner.modeling.models import check_data_fits, check_no_remote_code
from snekner.progress import Lines, Progress
from snekner.store.manifests import RunManifest, RunStatus, environment_versions, now_iso, write_run_manifest
from snekner.store.prepared import load_prepared
from snekner.store.runs import Run, check_run_name, open_run
from snekner.training.job import Job
from snekner.training.loop import TrainingLoop, TrainingState
from snekner.training.options import TrainOptions, resume_options
from snekner.training.tasks import TokenClassification


@dataclass(frozen=True, kw_only=True)
class TrainRequest:
    """What a caller asks of one run's training (train's arguments, less the folder's; see train)."""

    prepared: Path
    name: str
    options: TrainOptions
    resume: bool = False
    explicit: Collection[str] = ()
    group: str | None = None
    log: object = field(default=lambda msg: None)
    progress: Progress | None = None
    callbacks: tuple = ()


def train(prepared_path: Path, name: str, runs_dir: Path, options: TrainOptions, *, resume: bool = False,
          overwrite: bool = False, log=lambda msg: None, callbacks=(), explicit: Collection[str] = (),
          group: str | None = None, progress: Progress | None = None) -> Run:
    """Train (or resume) run `name` on a prepared dataset; returns the finished run.

    A resumed run trains on its stored options; of `options`, only the fields named in `explicit`
    (those the caller set on purpose) count: the ones a run may change on resume are taken and
    recorded, any other must equal the stored value (see resume_options).
    `group`: the run is a member of that group (runs_dir is the group's folder; the run is named GROUP/name).

    `progress` shows the epochs' steps and the validation (snekner.progress; default: plain lines through `log`, as on the command line when stderr is no terminal).
    `callbacks` (snekner.training.callbacks.Callback) join snekner's own and are called before
    them at each hook, so that a timer sees a step before checkpoints or logs add to it.

    The run is locked for the call (a second writer of the name fails at once, see store.locks).
    `overwrite` builds the new run beside the old one and swaps it in only when it has finished:
    until then, whatever happens, the old run is whole.
    """
    check_run_name(name)
    options.validate()  # before any data or model loads
    progress = Lines(log, min_seconds=1.0) if progress is None else progress
    request = TrainRequest(prepared=Path(prepared_path), name=name, options=options, resume=resume, explicit=frozenset(explicit),
                           group=group, log=log, progress=progress, callbacks=tuple(callbacks))
    return train_run(request, runs_dir=Path(runs_dir), overwrite=overwrite)


def train_run(request: TrainRequest, *, runs_dir: Path, overwrite: bool = False) -> Run:
    """train() of a request whose options are valid (a group's member, a search's trial)."""
    job = Job(command="train", what="run", path=runs_dir / request.name, title=f"run {request.name}",
              source=str(request.prepared), resume=request.resume, overwrite=overwrite, owns_folder=chief_by_tf_config())
    run = job.run(lambda folder: _train_session(request, job, folder))
    return Run(job.path, run.manifest)


def _train_session(request: TrainRequest, job: Job, run_dir: Path) -> Run:
    """One session of the run in `run_dir`, which is free (or, with `resume`, the run to continue) and locked by the job."""
    prepared = load_prepared(request.prepared)
    if "train" not in prepared.dataset:
        raise SneknerError(f"prepared dataset {request.prepared} has no train split", fix="prepare a dataset that has one")
    resumed, options = _session_options(request, run_dir, prepared)
    check_no_remote_code(prepared.tokenizer_dir)  # the tokenizer training loads from the prepared folder
    check_data_fits(prepared.manifest.max_length, prepared.path, options.model or prepared.manifest.tokenizer)
    setup, options, resume = _devices(options, request.resume)
    model_name = options.model or prepared.manifest.tokenizer
    request.log(f"devices: {setup.describe()}")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(options.seed)
    task = TokenClassification(prepared, options, request.log)
    loop = TrainingLoop(task, folder=run_dir, recipe=options, setup=setup, log=request.log, progress=request.progress)
    loop.build(model_name)
    name = f"{request.group}/{request.name}" if request.group else request.name
    manifest = session_manifest(resumed, name=name, prepared=prepared, model_name=model_name, options=options, setup=setup)
    manifest.imbalance = task.imbalance
    if setup.is_chief:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_run_manifest(run_dir, manifest)
    state = loop.restore() if resume else TrainingState()
    if resume:
        request.log(f"resuming at epoch {state.epoch + 1}, step {state.step} (global step {state.global_step})")
    t0 = time.perf_counter()
    state = job.train(loop, state, loop.callbacks(request.callbacks, resumed=resume), manifest=manifest if setup.is_chief else None,
                      save_manifest=lambda m: write_run_manifest(run_dir, m))
    loop.export(state)
    if setup.is_chief:
        manifest = finished_manifest(manifest, state, session_seconds=time.perf_counter() - t0)
        write_run_manifest(run_dir, manifest)
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    return Run(run_dir, manifest)


def _session_options(request: TrainRequest, run_dir: Path, prepared) -> tuple[RunManifest | None, TrainOptions]:
    """The resumed run's manifest (None for a new run) and the options this session trains on."""
    if not (request.resume and chief_by_tf_config()):
        return None, request.options
    resumed = _resumable_manifest(run_dir, request.name, run_dir.parent, prepared)
    options = resume_options(resumed.options, request.options, request.explicit, run_model=resumed.model,
                             after_failure=resumed.status == RunStatus.FAILED)
    resumed.options = options.to_manifest()
    resumed.status = RunStatus.RUNNING
    return resumed, options


def _devices(options: TrainOptions, resume: bool):
    """The devices' setup, and the options and resume flag every worker trains with (in a cluster: the chief's)."""
    setup = setup_devices(options.strategy, options.mixed_precision, options.xla)
    if setup.multiworker:
        # only the chief reads the run folder (another machine may not see it): every worker trains
        # with the chief's options, and resumes if the chief does
        shared = json.loads(text_from_chief(setup, json.dumps({"options": options.to_manifest(), "resume": resume})))
        options, resume = TrainOptions.from_manifest(shared["options"]), shared["resume"]
        setup = setup.with_precision(options.mixed_precision, options.xla)
    return setup, options, resume


def session_manifest(resumed: RunManifest | None, *, name: str, prepared, model_name: str, options: TrainOptions,
                     setup) -> RunManifest:
    """The run manifest as a session starts: a new run's, or the resumed run's, with this
    session's devices and versions (only libraries imported by now are asked)."""
    manifest = resumed or RunManifest(name=name, status=RunStatus.RUNNING, created=now_iso(), data=str(prepared.path.resolve()),
                                      data_manifest=prepared.manifest, model=model_name, options=options.to_manifest())
    if manifest.data_fingerprint is None:  # a new run, or one started by a snekner that did not record it
        manifest.data_fingerprint = prepared.fingerprint
    manifest.devices = setup.to_manifest()
    manifest.versions = environment_versions()
    return manifest


def finished_manifest(manifest: RunManifest, state: TrainingState, session_seconds: float) -> RunManifest:
    """The run manifest once the run has finished: its outcome and where the time went."""
    manifest.status, manifest.finished = RunStatus.FINISHED, now_iso()
    manifest.epochs_run, manifest.stopped_early = len(state.history), state.stopped_early
    manifest.best_epoch, manifest.best_validation_f1 = state.best_epoch, state.best_f1
    manifest.timings = {
        "last_session_seconds": session_seconds,
        "train_seconds": sum(h["train_seconds"] for h in state.history),
        "per_epoch_seconds": [h["train_seconds"] for h in state.history],
    }
    return manifest


def _resumable_manifest(run_dir: Path, name: str, runs_dir: Path, prepared) -> RunManifest:
    if not run_dir.exists():
        raise SneknerError(f"run {name} does not exist in {runs_dir}, so there is nothing to resume", fix="drop {option} to start it",
                           option="resume")
    manifest = open_run(str(run_dir), runs_dir, finished=False).manifest
    if manifest.is_finished:
        raise SneknerError(f"run {name} already finished; nothing to resume", fix="start a new run with another {option}, or overwrite it",
                           option="name")
    if Path(manifest.data).resolve() != prepared.path.resolve():
        raise SneknerError(f"run {name} was trained on {manifest.data}, not {prepared.path}", fix="resume it with that data")
    if manifest.data_fingerprint is not None and manifest.data_fingerprint != prepared.fingerprint:
        raise SneknerError(f"the prepared data at {prepared.path} has changed since run {name} started training on it (prepared again?)",
                           fix="train a new run on it ({option} replaces this one)", option="overwrite")
    return manifest
