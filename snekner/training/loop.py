"""The training loop: a custom TF loop over the tf.data pipeline, under a tf.distribute strategy, for any task.

The loop knows steps, epochs, the optimizer and checkpoints; what is learned is a task's
(snekner.training.tasks: token classification for `train`, masked-language modelling for
`adapt`): its model, its loss, each epoch's sentences and how an epoch is validated. The loop
drives callbacks (snekner.training.callbacks) that append the metrics line, keep the best
epoch's weights and checkpoint (weights, optimizer state and the TrainingState) so that a
resumed job continues where its last checkpoint left it. The data order of every epoch is a
pure function of (seed, epoch), so resuming mid-epoch replays exactly the batches that were not
yet trained on.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from snekner.errors import NonFiniteLoss, TrainingInterrupted
from snekner.modeling.batches import batches_per_epoch, epoch_batches, make_dataset
from snekner.modeling.devices import text_from_chief, values_from_chief
from snekner.modeling.precision import BFLOAT16_MATMULS, use_bfloat16_matmuls
from snekner.progress import NO_PROGRESS, Progress
from snekner.store.atomic import write_json
from snekner.training.callbacks import CallbackList, Checkpointing, FaultInjection, MetricsLog, ProgressLog
from snekner.training.optimizer import build_optimizer, dense_gradients
from snekner.training.options import Recipe

STATE_FILE = "state.json"


@dataclass(kw_only=True)
class TrainingState:
    """Where a training job is: what the checkpoint saves (checkpoints/state.json) besides the weights.

    Callbacks read and change it (BestEpoch records the best epoch and ends the run through
    `stopped_early`), so that what they must make the job remember is saved with it."""

    epoch: int = 0  # finished epochs
    step: int = 0  # steps taken in the current epoch
    global_step: int = 0
    history: list[dict] = field(default_factory=list)  # one metrics line per finished epoch
    best_f1: float | None = None
    best_epoch: int | None = None
    best_weights: str | None = None  # the best epoch's weights, relative to the job's folder
    bad_epochs: int = 0  # epochs since the best one
    stopped_early: bool = False
    checkpoint: str | None = None  # the last checkpoint, relative to the job's folder

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "TrainingState":
        return cls(**data)

    @property
    def checkpoint_step(self) -> int:
        """The global step of the last checkpoint written (0: none yet, a resume starts the job over)."""
        return int(Path(self.checkpoint).name.rsplit("-", 1)[-1]) if self.checkpoint else 0


class TrainingLoop:
    """Trains `task`'s model by `recipe` in `folder` (a run, or an adapted model's folder), on the devices of `setup`."""

    def __init__(self, task, *, folder: Path, recipe: Recipe, setup, log, progress: Progress = NO_PROGRESS):
        self.task, self.folder, self.recipe, self.setup = task, Path(folder), recipe, setup
        self.log, self.progress = log, progress  # the epochs' steps (callbacks.ProgressLog) and validation show through it

    # -- building ---------------------------------------------------------------------------
    def build(self, model_name: str) -> None:
        """The model (the task's), the optimizer with its slots, the checkpoint and the step function."""
        recipe = self.recipe
        self.steps_per_epoch = batches_per_epoch(self.task.epoch_sentences, recipe.batch_size)
        with self.setup.strategy.scope():
            self.model = self.task.build_model(model_name, seed=recipe.seed, pad_multiple=self.setup.pad_multiple)
            if self.setup.precision_policy == BFLOAT16_MATMULS:
                use_bfloat16_matmuls(self.model)
            self.optimizer = self._make_optimizer(self.steps_per_epoch * recipe.epochs)
        self._make_checkpointing()

    def _make_optimizer(self, total: int):
        """The optimizer of `total` steps with its slots made (inside the strategy's scope)."""
        import tensorflow as tf

        recipe = self.recipe
        optimizer = build_optimizer(recipe.learning_rate, total, warmup_steps=int(total * recipe.warmup_ratio),
                                    weight_decay=recipe.weight_decay, decay_steps=recipe.decay_steps(total),
                                    max_grad_norm=recipe.max_grad_norm)
        if self.setup.precision_policy == "mixed_float16":
            optimizer = tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
        # slots made now, not on the first step: a tf.function that creates variables is
        # traced twice, and tracing this model with its gradients costs several seconds
        optimizer._create_all_weights(self.model.trainable_variables)
        return optimizer

    def _make_checkpointing(self) -> None:
        """The checkpoint of model and optimizer, its manager, and the compiled step (after the model and optimizer exist)."""
        import tensorflow as tf

        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer)
        self.checkpoint_dir = self.folder / "checkpoints"
        if not self.setup.is_chief:  # saving is collective: others save too, to a scratch place
            self.checkpoint_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"snekner-worker-{os.getpid()}"
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(self.checkpoint_dir), max_to_keep=2)
        self._train_step = self._make_train_step()
        self._compiled_step = None

    def _make_train_step(self):
        import tensorflow as tf

        model, optimizer, task = self.model, self.optimizer, self.task
        scaled = self.setup.precision_policy == "mixed_float16"
        weights = None if task.class_weights is None else tf.constant(task.class_weights, tf.float32)

        def gradients(batch):
            with tf.GradientTape() as tape:
                loss_sum, count = task.loss_sum(model, batch, weights)
                loss = loss_sum / tf.maximum(tf.reduce_max(batch["n_labels"]), 1e-6 if weights is not None else 1.0)
                target = optimizer.get_scaled_loss(loss) if scaled else loss
            grads = tape.gradient(target, model.trainable_variables)
            if scaled:
                grads = optimizer.get_unscaled_gradients(grads)
            return loss_sum, count, grads

        if self.setup.xla:
            gradients = tf.function(gradients, jit_compile=True, reduce_retracing=True, autograph=False)

        def replica_step(batch):
            loss_sum, count, grads = gradients(batch)
            optimizer.apply_gradients(zip(dense_gradients(grads), model.trainable_variables))
            return loss_sum, count

        strategy = self.setup.strategy

        def train_step(batch):
            loss_sum, count = strategy.run(replica_step, args=(batch,))
            return (
                strategy.reduce(tf.distribute.ReduceOp.SUM, loss_sum, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, count, axis=None),
            )

        return train_step

    # -- state --------------------------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        return self.folder / "checkpoints" / STATE_FILE

    def restore(self) -> TrainingState:
        """The state of the job's last checkpoint (a fresh one without), its weights and optimizer
        state loaded. Only the chief writes the job's folder, so only it reads the checkpoint; in a
        multi-worker cluster it hands state and values to the other workers, which may not see the
        folder at all."""
        import tensorflow as tf

        data = None
        if self.setup.is_chief and self.state_path.is_file():
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
            self.checkpoint.restore(str(self.folder / data["checkpoint"])).expect_partial()
        if self.setup.multiworker:
            data = json.loads(text_from_chief(self.setup, json.dumps(data)))
            if data is not None:
                values_from_chief(self.setup, self._checkpointed_variables())
        if data is None:
            return TrainingState()
        # dropout draws continue from a seed of their own: the data order is exact, the dropout masks are not replayed
        tf.random.set_seed(self.recipe.seed + data["global_step"])
        return TrainingState.from_json(data)

    def _checkpointed_variables(self) -> list:
        """The model's and the optimizer's variables (slots, step, a loss scale's state), in an order every worker shares;
        not the checkpoint's own save counter, which only a worker that has saved or restored has."""
        import tensorflow as tf

        tracked = (t for t in tf.train.TrackableView(self.optimizer).descendants() if isinstance(t, tf.Variable))
        unique = {id(v): v for v in [*self.model.variables, *self.optimizer.variables(), *tracked]}
        return list(unique.values())

    def save_progress(self, state: TrainingState) -> None:
        path = self.manager.save(checkpoint_number=state.global_step)
        if not self.setup.is_chief:
            shutil.rmtree(self.checkpoint_dir, ignore_errors=True)  # a scratch copy nobody reads
            return
        state.checkpoint = os.path.relpath(path, self.folder)
        write_json(self.state_path, state.to_json())

    # -- the loop -----------------------------------------------------------------------------
    def callbacks(self, extra=(), *, resumed: bool) -> list:
        """The callbacks of a session: `extra` first (a timer sees a step before checkpoints or logs add to it), then the
        loop's own and the task's, in the order their hooks must run (see snekner.training.callbacks)."""
        chief = self.setup.is_chief
        callbacks = [*extra, ProgressLog(self.log, self.recipe.epochs, self.steps_per_epoch, self.progress)]
        callbacks += self.task.callbacks(self, writes=chief)
        callbacks.append(Checkpointing(self.save_progress, self.recipe.checkpoint_every, self.folder, prunes=chief))
        if chief:
            callbacks.append(MetricsLog(self.folder / "metrics.jsonl", resumed))
        fault = FaultInjection.from_environment()
        return callbacks + ([fault] if fault is not None else [])

    def run(self, state: TrainingState, callbacks) -> TrainingState:
        """Train from `state` (changed in place) to the last epoch or an early stop, calling the
        hooks of `callbacks` (see snekner.training.callbacks) on the way."""
        hooks = CallbackList(callbacks)
        hooks.on_train_begin(self, state)
        while state.epoch < self.recipe.epochs and not state.stopped_early:
            order, dataset = self._epoch_batches(state)
            first_step, started = state.step, time.perf_counter()
            hooks.on_epoch_begin(state)
            loss_sum, label_count = self._train_epoch(state, dataset, hooks)
            seconds = time.perf_counter() - started
            validation = self.task.validate(self.model, self.progress)
            entry = self._epoch_entry(state, order.sentences_from(first_step), first_step > 0, loss_sum / max(label_count, 1.0), seconds)
            entry.update(self.task.epoch_fields(validation))
            state.history.append(entry)
            state.epoch, state.step = state.epoch + 1, 0
            hooks.on_epoch_end(state, entry, validation)
        return state

    def _train_epoch(self, state: TrainingState, dataset, hooks) -> tuple[float, float]:
        """The epoch's steps from state.step on: its summed loss and labelled sub-words."""
        train_step = self._compile_step(dataset)
        loss_sum, label_count = 0.0, 0.0
        try:
            for batch in dataset:
                hooks.on_step_begin(state, batch)
                step_loss, step_count = train_step(batch)
                step_loss, step_count = float(step_loss), float(step_count)
                if not math.isfinite(step_loss):  # free: the loss is on the host already, for the progress log
                    raise NonFiniteLoss(step_loss, state.global_step + 1)
                loss_sum += step_loss
                label_count += step_count
                state.step += 1
                state.global_step += 1
                hooks.on_step_end(state, step_loss, step_count)
        except KeyboardInterrupt:
            hooks.on_interrupt(state)
            raise TrainingInterrupted from None
        return loss_sum, label_count

    def _epoch_batches(self, state: TrainingState):
        """This epoch's batches (EpochBatches), and the dataset of them from the current step on."""
        recipe, task = self.recipe, self.task
        order = epoch_batches(task.train_data.lengths, recipe.batch_size, recipe.seed, state.epoch, recipe.batching.value,
                              repeats=task.repeats)
        dataset = make_dataset(task.epoch_split(state.epoch), order, recipe.batch_size, skip_batches=state.step,
                               multiple=self.setup.pad_multiple, class_weights=task.class_weights)
        # one replica: the plain dataset (distributing it costs a third of each step here, and its
        # hidden autotuned iterator stalls at each epoch end); several: split every global batch
        if self.setup.replicas == 1 and self.setup.strategy_name == "one":
            return order, dataset
        return order, self.setup.strategy.experimental_distribute_dataset(dataset)

    def _compile_step(self, dataset):
        if self._compiled_step is None:
            import tensorflow as tf

            # traced once for every batch shape (the spec has dynamic batch and length), not
            # once per padded width; XLA, when on, still compiles per width, a bounded set.
            # No autograph: the step and the model have no data-dependent Python control flow
            # (a tensor used as a Python bool would fail the trace loudly), and converting the
            # transformers code cost a third of the trace
            self._compiled_step = tf.function(self._train_step, input_signature=[dataset.element_spec], autograph=False)
        return self._compiled_step

    def _epoch_entry(self, state: TrainingState, trained: np.ndarray, resumed_mid_epoch: bool, train_loss: float,
                     seconds: float) -> dict:
        """The epoch's metrics line (before the task's validation figures); `trained` are the sentences this session trained on."""
        unit = self.task.unit
        return {
            "epoch": state.epoch + 1,
            "global_step": state.global_step,
            "train_loss": train_loss,
            "train_seconds": seconds,
            f"train_{unit}s_per_second": len(trained) / seconds if seconds else None,
            "train_subwords_per_second": float(np.sum(self.task.train_data.lengths[trained])) / seconds if seconds else None,
            "resumed_mid_epoch": resumed_mid_epoch,
        }

    def export(self, state: TrainingState) -> None:
        """The trained model into the job's folder, as the task saves it (the chief only: the others' copies are the same)."""
        if self.setup.is_chief:
            self.task.export(self.model, self.folder, state)
