"""What the training loop does besides training: small callbacks, one concern each.

The protocol (the no-op methods of Callback): TrainingLoop.run calls each hook on every callback
of its list, in list order; `state` is the loop's TrainingState.

    on_train_begin(loop, state)                once per session, before its first epoch
    on_epoch_begin(state)                      the epoch's clock has started
    on_step_begin(state, batch)                just before the compiled step
    on_step_end(state, loss_sum, label_count)  after it, with that step's summed loss and labelled
                                               sub-words as floats (already on the host: a
                                               callback adds no device sync); state.step and
                                               state.global_step count the step
    on_epoch_end(state, entry, validation)     after validation: `entry` is the metrics line just
                                               appended to state.history, `validation` what the
                                               task's validation gave (None without held-out
                                               data); state.epoch counts the finished epoch
    on_interrupt(state)                        Ctrl-C between two steps; the loop then raises
                                               TrainingInterrupted

Each hook serves a callback here or the speed benchmark's step timer (benchmarks/speed_train.py):
on_step_begin is there for the timer, and so is the loop handed to on_train_begin (the timer
is made before the loop, and reads the model and data from it). Hooks get the checkpointed `state`
itself (loop.TrainingState), so that what a callback must make the run remember is saved with it:
BestEpoch records the best epoch there and ends the run through state.stopped_early. Step values come as floats the loop has already
fetched, so no callback can add a device sync to a step. Callbacks depend on one another through
list order: the best weights are written before the checkpoint that names them, metrics.jsonl
after it.
"""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from snekner.progress import Progress, Task
from snekner.store.atomic import atomic_path, write_lines

# The best epoch's weights, in Keras's HDF5 format. BestEpoch names the format to save_weights,
# which would infer it from the file name, and atomic_path's temporary name ends in .partial. Not
# "*.weights.h5": that ending selects the Keras 3 format, which Keras writes only to a path so
# named. (A run of an earlier snekner, which used it, still resumes: loading goes by the name in
# the state, and the pruning glob matches that name too.)
BEST_WEIGHTS = "best-epoch{epoch}.h5"
# Fault injection for the interruption tests: the process sends itself this signal after the
# given global step, e.g. SNEKNER_FAULT=KILL@21 (SIGKILL) or SNEKNER_FAULT=INT@5 (Ctrl-C).
FAULT_ENV = "SNEKNER_FAULT"


class Callback:
    """The hooks Trainer.run calls (see the module docstring); each does nothing unless overridden."""

    def on_train_begin(self, loop, state) -> None:
        pass

    def on_epoch_begin(self, state) -> None:
        pass

    def on_step_begin(self, state, batch) -> None:
        pass

    def on_step_end(self, state, loss_sum: float, label_count: float) -> None:
        pass

    def on_epoch_end(self, state, entry: dict, validation) -> None:
        pass

    def on_interrupt(self, state) -> None:
        pass


class CallbackList(Callback):
    """Calls each hook on every callback, in order."""

    def __init__(self, callbacks):
        self.callbacks = list(callbacks)

    def on_train_begin(self, loop, state):
        for callback in self.callbacks:
            callback.on_train_begin(loop, state)

    def on_epoch_begin(self, state):
        for callback in self.callbacks:
            callback.on_epoch_begin(state)

    def on_step_begin(self, state, batch):
        for callback in self.callbacks:
            callback.on_step_begin(state, batch)

    def on_step_end(self, state, loss_sum, label_count):
        for callback in self.callbacks:
            callback.on_step_end(state, loss_sum, label_count)

    def on_epoch_end(self, state, entry, validation):
        for callback in self.callbacks:
            callback.on_epoch_end(state, entry, validation)

    def on_interrupt(self, state):
        for callback in self.callbacks:
            callback.on_interrupt(state)


class ProgressLog(Callback):
    """Each epoch's steps as a progress task (snekner.progress: a bar on a terminal, about five lines
    otherwise) with the running loss."""

    def __init__(self, log, epochs: int, steps_per_epoch: int, progress: Progress):
        self.log, self.epochs, self.steps_per_epoch, self.progress = log, epochs, steps_per_epoch, progress
        self.task = Task()

    def on_epoch_begin(self, state):
        self.loss_sum, self.label_count = 0.0, 0.0
        self.task = self.progress.task(f"epoch {state.epoch + 1}/{self.epochs}", self.steps_per_epoch, unit="step",
                                       initial=state.step, status=self._running_loss)

    def _running_loss(self) -> str:
        return f"loss {self.loss_sum / max(self.label_count, 1):.4f}"

    def on_step_end(self, state, loss_sum, label_count):
        self.loss_sum += loss_sum
        self.label_count += label_count
        self.task.advance()
        if state.step >= self.steps_per_epoch:
            self.task.close()  # before validation opens its own task

    def on_epoch_end(self, state, entry, validation):
        self.task.close()

    def on_interrupt(self, state):
        self.task.close()


class ScoresLine(Callback):
    """Each epoch's validation scores (token classification) as a line."""

    def __init__(self, log):
        self.log = log

    def on_epoch_end(self, state, entry, validation):
        if validation is not None:
            overall = validation["overall"]
            self.log(f"epoch {entry['epoch']}: loss {entry['train_loss']:.4f}, validation F1 {overall['f1']:.4f} "
                     f"(P {overall['precision']:.4f} R {overall['recall']:.4f}), {entry['train_sentences_per_second']:.1f} sentences/s")


class MaskedLMLine(Callback):
    """Each epoch's masked-LM figures as a line."""

    def __init__(self, log):
        self.log = log

    def on_epoch_end(self, state, entry, validation):
        line = f"epoch {entry['epoch']}: masked-LM loss {entry['train_loss']:.4f}"
        if "validation_loss" in entry:
            line += f", held-out loss {entry['validation_loss']:.4f} (perplexity {entry['validation_perplexity']:.2f})"
        self.log(line + f", {entry['train_sequences_per_second']:.1f} sequences/s")


class TensorBoard(Callback):
    """For TensorBoard: the training loss and the learning rate of every step, and every epoch's
    validation scores, overall and the F1 of each entity type (validation_f1/PER, ...).

    Scalars are written as TensorBoard's scalars plugin stores them (a float tensor tagged with the
    plugin's name) through tf.summary.write: tf.summary.scalar itself lives in the tensorboard
    package, which TensorFlow 2.21 no longer installs (without it, it raises TBNotInstalledError).
    """

    def __init__(self, directory: Path):
        self.directory = directory

    def on_train_begin(self, loop, state):
        import tensorflow as tf
        from tensorflow.core.framework.summary_pb2 import SummaryMetadata

        self.writer = tf.summary.create_file_writer(str(self.directory))
        self.metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
        optimizer = getattr(loop.optimizer, "inner_optimizer", loop.optimizer)  # a LossScaleOptimizer's own
        schedule = optimizer.learning_rate
        # the rate the step just taken used: the schedule at the step count before it (the optimizer's
        # iterations count from 0); a few scalar ops on the host, paid only with --tensorboard
        self.rate = schedule if callable(schedule) else (lambda step: schedule)

    def _scalars(self, values: dict, step: int) -> None:
        import tensorflow as tf

        with self.writer.as_default():
            for tag, value in values.items():
                tf.summary.write(tag, tf.constant(float(value), tf.float32), step=step, metadata=self.metadata)

    def on_step_end(self, state, loss_sum, label_count):
        step = state.global_step
        self._scalars({"train/loss": loss_sum / max(label_count, 1.0), "train/learning_rate": self.rate(step - 1)}, step)

    def on_epoch_end(self, state, entry, validation):
        if validation is None:
            return
        values = {f"validation/{key}": validation["overall"][key] for key in ("precision", "recall", "f1")}
        values.update({f"validation_f1/{typ}": v["f1"] for typ, v in validation["per_type"].items()})
        self._scalars(values, entry["epoch"])
        self.writer.flush()


class BestEpoch(Callback):
    """Keeps the weights of the epoch with the best validation F1 (without a validation split:
    the last epoch's) and stops the run after `patience` epochs without a gain (0: never).

    Only the worker that owns the run folder (`writes`) saves the weights; every worker keeps
    the same bookkeeping, so that all of them stop at the same epoch.
    """

    def __init__(self, model, run_dir: Path, patience: int, log, writes: bool):
        self.model, self.run_dir, self.patience, self.log, self.writes = model, run_dir, patience, log, writes

    def on_epoch_end(self, state, entry, validation):
        f1 = validation["overall"]["f1"] if validation is not None else None
        improved = f1 is None or state.best_f1 is None or f1 > state.best_f1
        if improved:
            state.best_f1, state.best_epoch = f1, entry["epoch"]
            if self.writes:
                target = self.run_dir / "checkpoints" / BEST_WEIGHTS.format(epoch=entry["epoch"])
                with atomic_path(target) as tmp:
                    self.model.save_weights(str(tmp), save_format="h5")
                state.best_weights = os.path.relpath(target, self.run_dir)
            state.bad_epochs = 0
        else:
            state.bad_epochs += 1
            if self.patience and state.bad_epochs >= self.patience:
                state.stopped_early = True
                self.log(f"early stopping: no validation F1 gain for {self.patience} epoch(s); best was epoch {state.best_epoch}")


class Checkpointing(Callback):
    """Saves the training state with `save` (TrainingLoop.save_progress) after every epoch, every
    `every` global steps (0: per epoch only), and on Ctrl-C.

    After an epoch's checkpoint, best-epoch weights that it no longer names are deleted (`prunes`:
    by the worker that owns the run folder). Only then: until this save, the previous checkpoint
    named them, and a run killed in between resumes from that one.
    """

    def __init__(self, save, every: int, run_dir: Path, prunes: bool):
        self.save, self.every, self.run_dir, self.prunes = save, every, run_dir, prunes

    def on_step_end(self, state, loss_sum, label_count):
        if self.every and state.global_step % self.every == 0:
            self.save(state)

    def on_epoch_end(self, state, entry, validation):
        self.save(state)
        if self.prunes:
            keep = state.best_weights
            for path in (self.run_dir / "checkpoints").glob(BEST_WEIGHTS.format(epoch="*")):
                if keep is None or path.resolve() != (self.run_dir / keep).resolve():
                    path.unlink(missing_ok=True)

    def on_interrupt(self, state):
        self.save(state)


class MetricsLog(Callback):
    """RUN/metrics.jsonl, one line per finished epoch, always equal to the checkpointed history:
    rewritten whole after each epoch's checkpoint and, in a resumed session, at its start (a run
    killed between a checkpoint and this write would otherwise lack that epoch's line)."""

    def __init__(self, path: Path, resumed: bool):
        self.path, self.resumed = path, resumed

    def on_train_begin(self, loop, state):
        if self.resumed:
            self._write(state)

    def on_epoch_end(self, state, entry, validation):
        self._write(state)

    def _write(self, state) -> None:
        write_lines(self.path, [json.dumps(h, sort_keys=True) for h in state.history])


class FaultInjection(Callback):
    """Sends this process `signum` right after global step `after_step` (see FAULT_ENV)."""

    def __init__(self, signum: int, after_step: int):
        self.signum, self.after_step = signum, after_step

    @classmethod
    def from_environment(cls) -> "FaultInjection | None":
        raw = os.environ.get(FAULT_ENV)
        if not raw:
            return None
        sig, _, step = raw.partition("@")
        signum = getattr(signal, "SIG" + sig)
        if signum == signal.SIGINT and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
            # started as a background job of a non-interactive shell (`cmd &`), which ignores SIGINT: the injected
            # fault stands for a Ctrl-C at a terminal, so Python's own handler is put back for it
            signal.signal(signal.SIGINT, signal.default_int_handler)
        return cls(signum, int(step))

    def on_step_end(self, state, loss_sum, label_count):
        if state.global_step == self.after_step:
            os.kill(os.getpid(), self.signum)
