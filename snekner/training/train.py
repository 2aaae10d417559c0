"""`snekner train` as a library call: the run folder, the devices, the run manifest, resume.

The run manifest (RUN/snekner-run.json) is written twice: when the session starts (status
"running", this session's devices and versions) and when it finishes (status "finished", the
best epoch, timings). In between only checkpoints/, metrics.jsonl and tensorboard/ change, so a
killed run is recognisably unfinished and `--resume` finds its recipe in the manifest.
"""
from __future__ import annotations

import contextlib
import json
import shutil
import signal
import time
from collections.abc import Collection
from pathlib import Path

from snekner.errors import OutputExistsError, SneknerError, TrainingFailedError, TrainingInterruptedError
from snekner.modeling.devices import chief_by_tf_config, setup_devices, text_from_chief
from snekner.modeling.models import check_data_fits, check_no_remote_code
from snekner.progress import Lines, Progress
from snekner.store.atomic import atomic_path, disk_full_is_an_error, remove_stale_partials
from snekner.store.locks import hold
from snekner.store.manifests import RunManifest, RunStatus, environment_versions, now_iso, write_run_manifest
from snekner.store.prepared import load_prepared
from snekner.store.runs import Run, check_run_name, open_run
from snekner.training.callbacks import BestEpoch, Checkpointing, FaultInjection, MetricsLog, ProgressLog, TensorBoard
from snekner.training.loop import NonFiniteLoss, Trainer, TrainingInterrupted
from snekner.training.options import TrainOptions, resume_options


def train(prepared_path: Path, name: str, runs_dir: Path, options: TrainOptions, resume: bool = False,
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
    run_dir = Path(runs_dir) / name
    progress = Lines(log, min_seconds=1.0) if progress is None else progress
    if not chief_by_tf_config():  # in a multi-worker cluster only the chief owns (and locks) the run folder
        return _train(prepared_path, name, run_dir, options, resume, log, callbacks, explicit, group, progress)
    with hold(run_dir, "run", "train"):
        remove_stale_partials(Path(runs_dir))
        if resume:
            remove_stale_partials(run_dir, recursive=True)  # what a killed session of this run left
        if resume or not run_dir.exists():
            with disk_full_is_an_error(written=None if resume else run_dir):  # a resumed run keeps its checkpoints
                return _train(prepared_path, name, run_dir, options, resume, log, callbacks, explicit, group, progress)
        if not overwrite:
            raise OutputExistsError(f"run {name} already exists in {runs_dir}", path=run_dir, what="run")
        try:
            with disk_full_is_an_error(), atomic_path(run_dir, directory=True) as build_dir:
                run = _train(prepared_path, name, build_dir, options, resume, log, callbacks, explicit, group, progress)
        except TrainingInterruptedError:
            raise SneknerError(f"interrupted; the new run was discarded and the run {name} in {runs_dir} is as it was",
                               fix="start it again with {option} to replace it", option="overwrite") from None
        except TrainingFailedError as e:
            raise SneknerError(f"{e}; the new run was discarded and the run {name} in {runs_dir} is as it was") from None
        return Run(run_dir, run.manifest)


def _train(prepared_path: Path, name: str, run_dir: Path, options: TrainOptions, resume: bool, log, callbacks,
           explicit: Collection[str], group: str | None, progress: Progress) -> Run:
    """train() in `run_dir`, which is free (or, with `resume`, the run to continue) and locked by the caller."""
    chief = chief_by_tf_config()
    runs_dir = run_dir.parent
    prepared = load_prepared(prepared_path)
    if "train" not in prepared.dataset:
        raise SneknerError(f"prepared dataset {prepared_path} has no train split", fix="prepare a dataset that has one")
    resumed = None
    if resume and chief:
        resumed = _resumable_manifest(run_dir, name, runs_dir, prepared)
        options = resume_options(resumed.options, options, explicit, run_model=resumed.model,
                                 after_failure=resumed.status == RunStatus.FAILED)
        resumed.options = options.to_manifest()
        resumed.status = RunStatus.RUNNING
    options.validate()
    check_no_remote_code(prepared.tokenizer_dir)  # the tokenizer training loads from the prepared folder
    check_data_fits(prepared.manifest.max_length, prepared.path, options.model or prepared.manifest.tokenizer)
    setup = setup_devices(options.strategy, options.mixed_precision, options.xla)
    if setup.multiworker:
        # only the chief reads the run folder (another machine may not see it): every worker trains
        # with the chief's options, and resumes if the chief does
        shared = json.loads(text_from_chief(setup, json.dumps({"options": options.to_manifest(), "resume": resume})))
        options, resume = TrainOptions.from_manifest(shared["options"]), shared["resume"]
        setup = setup.with_precision(options.mixed_precision, options.xla)
    model_name = options.model or prepared.manifest.tokenizer
    log(f"devices: {setup.describe()}")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(options.seed)
    trainer = Trainer(prepared, run_dir, options, setup, log, progress)
    trainer.build(model_name)
    manifest = session_manifest(resumed, f"{group}/{name}" if group else name, prepared, model_name, options, setup)
    manifest.imbalance = trainer.imbalance
    if setup.is_chief:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_run_manifest(run_dir, manifest)
    state = trainer.restore() if resume else trainer.fresh_state()
    if resume:
        log(f"resuming at epoch {state['epoch'] + 1}, step {state['step']} (global step {state['global_step']})")
    t0 = time.perf_counter()
    with sigterm_as_ctrl_c():
        try:
            state = trainer.run(state, [*callbacks, *_own_callbacks(trainer, resume)])
        except TrainingInterrupted:
            raise TrainingInterruptedError(f"interrupted at epoch {state['epoch'] + 1} step {state['step']}; checkpoint saved",
                                           prepared=prepared.path, name=name, runs_dir=run_dir.parent) from None
        except NonFiniteLoss as e:
            if setup.is_chief:
                manifest.status = RunStatus.FAILED
                manifest.failures = [*manifest.failures, {"at": now_iso(), "epoch": state["epoch"] + 1, "global_step": e.global_step,
                                                          "reason": f"loss {e.loss}", "options": options.to_manifest()}]
                write_run_manifest(run_dir, manifest)
            raise TrainingFailedError(f"the training loss became {e.loss} at step {e.global_step} (epoch {state['epoch'] + 1}); run {name} "
                                      f"is marked failed, its last checkpoint (step {_checkpoint_step(state)}) kept",
                                      prepared=prepared.path, name=name, runs_dir=run_dir.parent) from None
    trainer.export(state)
    if setup.is_chief:
        manifest = finished_manifest(manifest, state, session_seconds=time.perf_counter() - t0)
        write_run_manifest(run_dir, manifest)
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    return Run(run_dir, manifest)


def session_manifest(resumed: RunManifest | None, name: str, prepared, model_name: str, options: TrainOptions, setup) -> RunManifest:
    """The run manifest as a session starts: a new run's, or the resumed run's, with this
    session's devices and versions (only libraries imported by now are asked)."""
    manifest = resumed or RunManifest(name=name, status=RunStatus.RUNNING, created=now_iso(), data=str(prepared.path.resolve()),
                                      data_manifest=prepared.manifest, model=model_name, options=options.to_manifest())
    if manifest.data_fingerprint is None:  # a new run, or one started by a snekner that did not record it
        manifest.data_fingerprint = prepared.fingerprint
    manifest.devices = setup.to_manifest()
    manifest.versions = environment_versions()
    return manifest


def finished_manifest(manifest: RunManifest, state: dict, session_seconds: float) -> RunManifest:
    """The run manifest once the run has finished: its outcome and where the time went."""
    manifest.status, manifest.finished = RunStatus.FINISHED, now_iso()
    manifest.epochs_run, manifest.stopped_early = len(state["history"]), state["stopped_early"]
    manifest.best_epoch, manifest.best_validation_f1 = state["best_epoch"], state["best_f1"]
    manifest.timings = {
        "last_session_seconds": session_seconds,
        "train_seconds": sum(h["train_seconds"] for h in state["history"]),
        "per_epoch_seconds": [h["train_seconds"] for h in state["history"]],
    }
    return manifest


def _own_callbacks(trainer: Trainer, resumed: bool) -> list:
    """snekner's own callbacks, in the order their hooks must run (see snekner.training.callbacks)."""
    options, run_dir, chief = trainer.options, trainer.run_dir, trainer.setup.is_chief
    callbacks = [ProgressLog(trainer.log, options.epochs, trainer.steps_per_epoch, trainer.progress)]
    if options.tensorboard and chief:
        callbacks.append(TensorBoard(run_dir / "tensorboard"))
    callbacks.append(BestEpoch(trainer.model, run_dir, options.early_stopping_patience, trainer.log, writes=chief))
    callbacks.append(Checkpointing(trainer.save_progress, options.checkpoint_every, run_dir, prunes=chief))
    if chief:
        callbacks.append(MetricsLog(run_dir / "metrics.jsonl", resumed))
    fault = FaultInjection.from_environment()
    if fault is not None:
        callbacks.append(fault)
    return callbacks


@contextlib.contextmanager
def sigterm_as_ctrl_c():
    """SIGTERM (a scheduler's or `kill`'s stop) ends training as Ctrl-C does, checkpoint included.

    A context manager rather than a callback: the handler belongs to the process and must be put
    back however training ends, which no hook is sure to see (an error in a step, in validation or
    in another callback skips the rest).
    """
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def _checkpoint_step(state: dict) -> int:
    """The global step of the last checkpoint written (0: none yet, a resume starts the run over)."""
    return int(Path(state["checkpoint"]).name.rsplit("-", 1)[-1]) if state.get("checkpoint") else 0


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
