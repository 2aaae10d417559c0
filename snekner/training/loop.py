"""The training loop: a custom TF loop over the tf.data pipeline, under a tf.distribute strategy.

Per epoch it trains and scores the validation split at word level; its callbacks
(snekner.training.callbacks) append the metrics line, keep the best epoch's weights, and
checkpoint (weights, optimizer state, epoch and step, early-stopping state) so that `--resume`
continues a killed run where its last checkpoint left it. The data order of every epoch is a
pure function of (seed, epoch), so resuming mid-epoch replays exactly the batches that were not
yet trained on.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np

from snekner.errors import SneknerError
from snekner.modeling.batches import (
    EncodedSplit,
    batches_per_epoch,
    epoch_batches,
    make_dataset,
)
from snekner.modeling.devices import text_from_chief, values_from_chief
from snekner.modeling.forward import gold_word_tags, predict_word_tags
from snekner.modeling.models import build_token_classifier, save_model
from snekner.ner.labels import IGNORE
from snekner.ner.scoring import score
from snekner.progress import NO_PROGRESS, Progress
from snekner.store.atomic import atomic_path, write_json
from snekner.training import imbalance
from snekner.training.callbacks import CallbackList
from snekner.training.imbalance import ClassWeights
from snekner.training.optimizer import build_optimizer, dense_gradients
from snekner.training.options import TrainOptions

STATE_FILE = "state.json"


class NonFiniteLoss(Exception):
    """A step's loss came out NaN or infinite: the weights that step updated are garbage, so the loop
    stops at once (after that step) instead of training on and exporting them."""

    def __init__(self, loss: float, global_step: int):
        self.loss, self.global_step = loss, global_step
        super().__init__(f"loss {loss} at step {global_step}")


class TrainingInterrupted(Exception):
    """Ctrl-C stopped the loop between two steps, after the on_interrupt hooks had run; the state
    given to Trainer.run says where."""


def _masked_loss_sum(labels, logits, weights=None):
    """The summed cross-entropy of the labelled sub-words (each times its label's weight, with weights),
    and their count (or summed weights)."""
    import tensorflow as tf

    logits = tf.cast(logits, tf.float32)
    mask = tf.not_equal(labels, IGNORE)
    safe = tf.where(mask, labels, tf.zeros_like(labels))
    per_token = tf.keras.losses.sparse_categorical_crossentropy(safe, logits, from_logits=True)
    mask = tf.cast(mask, tf.float32)
    if weights is not None:
        mask = mask * tf.gather(weights, safe)
    return tf.reduce_sum(per_token * mask), tf.reduce_sum(mask)


class Trainer:
    def __init__(self, prepared, run_dir: Path, options: TrainOptions, setup, log, progress: Progress = NO_PROGRESS):
        self.prepared = prepared
        self.run_dir = run_dir
        self.options = options
        self.setup = setup
        self.log = log
        self.progress = progress  # the epochs' steps (callbacks.ProgressLog) and validation show through it
        self.labels = prepared.labels

    # -- building ---------------------------------------------------------------------------
    def build(self, model_name: str) -> None:
        from transformers import AutoTokenizer

        opts = self.options
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.prepared.tokenizer_dir), trust_remote_code=False)
        self.train_data = EncodedSplit.from_split(self.prepared.split("train"), self.tokenizer.pad_token_id)
        self._rare_type_remedies()
        epoch_sentences = len(self.train_data) if self.repeats is None else int(self.repeats.sum())
        self.steps_per_epoch = batches_per_epoch(epoch_sentences, opts.batch_size)
        total = self.steps_per_epoch * opts.epochs
        with self.setup.strategy.scope():
            self.model = build_token_classifier(model_name, self.labels, seed=opts.seed)
            vocab = self.model.config.vocab_size
            if len(self.train_data.input_ids) and int(self.train_data.input_ids.max()) >= vocab:
                raise SneknerError(f"the data was tokenized for {self.prepared.manifest.tokenizer}, whose ids do not fit {model_name} "
                                   f"(vocabulary {vocab})", fix=f"prepare the data with {{option}} {model_name} or train with its own model",
                                   option="model")
            self.optimizer = self._make_optimizer(total)
        self._make_checkpointing()

    def _make_optimizer(self, total: int):
        """The optimizer of `total` steps with its slots made (inside the strategy's scope)."""
        import tensorflow as tf

        opts = self.options
        optimizer = build_optimizer(opts.learning_rate, total, int(total * opts.warmup_ratio), opts.weight_decay,
                                    opts.decay_steps(total), opts.max_grad_norm)
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
        self.checkpoint_dir = self.run_dir / "checkpoints"
        if not self.setup.is_chief:  # saving is collective: others save too, to a scratch place
            self.checkpoint_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"snekner-worker-{os.getpid()}"
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(self.checkpoint_dir), max_to_keep=2)
        self._train_step = self._make_train_step()
        self._compiled_step = None

    def _rare_type_remedies(self) -> None:
        """Class weights and sentence repeats from the training split (snekner.training.imbalance), if asked for."""
        opts, data = self.options, self.train_data
        self.class_weights = self.repeats = self.imbalance = None
        if opts.class_weights == ClassWeights.NONE and not opts.oversample:
            return
        counts = imbalance.label_counts(data.labels, len(self.labels))
        self.class_weights = imbalance.class_weights(counts, opts.class_weights)
        types, present = imbalance.sentence_types(data.labels, data.lengths, self.labels)
        repeats, factors = imbalance.sentence_repeats(present, opts.oversample)
        self.repeats = repeats if (repeats > 1).any() else None
        self.imbalance = imbalance.describe(self.labels, counts, self.class_weights, types, factors, repeats)
        if self.repeats is not None:
            self.log(f"oversampling {', '.join(f'{t} x{f}' for t, f in self.imbalance['oversampled_types'].items())}: "
                     f"{self.imbalance['epoch_sentences']} sentences per epoch from {len(data)}")

    def _make_train_step(self):
        import tensorflow as tf

        model, optimizer = self.model, self.optimizer
        scaled = self.setup.precision_policy == "mixed_float16"
        weights = None if self.class_weights is None else tf.constant(self.class_weights, tf.float32)

        loss_of = self._loss_sum

        def gradients(batch):
            with tf.GradientTape() as tape:
                loss_sum, count = loss_of(batch, weights)
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

    def _loss_sum(self, batch, weights):
        """The batch's summed loss over its labelled sub-words and their count (see _masked_loss_sum), in training mode."""
        logits = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], training=True).logits
        return _masked_loss_sum(batch["labels"], logits, weights)

    # -- state --------------------------------------------------------------------------------
    def fresh_state(self) -> dict:
        return {"epoch": 0, "step": 0, "global_step": 0, "history": [], "best_f1": None, "best_epoch": None,
                "best_weights": None, "bad_epochs": 0, "stopped_early": False, "checkpoint": None}

    @property
    def state_path(self) -> Path:
        return self.run_dir / "checkpoints" / STATE_FILE

    def restore(self) -> dict:
        """The state of the run's last checkpoint (a fresh one without), its weights and optimizer
        state loaded. Only the chief writes the run folder, so only it reads the checkpoint; in a
        multi-worker cluster it hands state and values to the other workers, which may not see the
        folder at all."""
        import tensorflow as tf

        state = None
        if self.setup.is_chief and self.state_path.is_file():
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            self.checkpoint.restore(str(self.run_dir / state["checkpoint"])).expect_partial()
        if self.setup.multiworker:
            state = json.loads(text_from_chief(self.setup, json.dumps(state)))
            if state is not None:
                values_from_chief(self.setup, self._checkpointed_variables())
        if state is None:
            return self.fresh_state()
        # dropout draws continue from a seed of their own: the data order is exact, the dropout masks are not replayed
        tf.random.set_seed(self.options.seed + state["global_step"])
        return state

    def _checkpointed_variables(self) -> list:
        """The model's and the optimizer's variables (slots, step, a loss scale's state), in an order every worker shares;
        not the checkpoint's own save counter, which only a worker that has saved or restored has."""
        import tensorflow as tf

        tracked = (t for t in tf.train.TrackableView(self.optimizer).descendants() if isinstance(t, tf.Variable))
        unique = {id(v): v for v in [*self.model.variables, *self.optimizer.variables(), *tracked]}
        return list(unique.values())

    def save_progress(self, state: dict) -> None:
        path = self.manager.save(checkpoint_number=state["global_step"])
        if not self.setup.is_chief:
            shutil.rmtree(self.checkpoint_dir, ignore_errors=True)  # a scratch copy nobody reads
            return
        state["checkpoint"] = os.path.relpath(path, self.run_dir)
        write_json(self.state_path, state)

    # -- the loop -----------------------------------------------------------------------------
    def validate_epoch(self) -> dict | None:
        if "validation" not in self.prepared.dataset:
            return None
        split = self.prepared.dataset["validation"]
        pred = predict_word_tags(self.model, split, self.labels, self.tokenizer.pad_token_id, batch_size=self.options.eval_batch_size,
                                 progress=self.progress, description="validation")
        return score(gold_word_tags(split, self.labels), pred, types=self.prepared.tagset.types)

    def run(self, state: dict, callbacks) -> dict:
        """Train from `state` (changed in place) to the last epoch or an early stop, calling the
        hooks of `callbacks` (see snekner.training.callbacks) on the way."""
        hooks = CallbackList(callbacks)
        hooks.on_train_begin(self, state)
        while state["epoch"] < self.options.epochs and not state["stopped_early"]:
            order, dataset = self._epoch_batches(state)
            train_step = self._compile_step(dataset)
            first_step, loss_sum, label_count = state["step"], 0.0, 0.0
            started = time.perf_counter()
            hooks.on_epoch_begin(state)
            try:
                for batch in dataset:
                    hooks.on_step_begin(state, batch)
                    step_loss, step_count = train_step(batch)
                    step_loss, step_count = float(step_loss), float(step_count)
                    if not math.isfinite(step_loss):  # free: the loss is on the host already, for the progress log
                        raise NonFiniteLoss(step_loss, state["global_step"] + 1)
                    loss_sum += step_loss
                    label_count += step_count
                    state["step"] += 1
                    state["global_step"] += 1
                    hooks.on_step_end(state, step_loss, step_count)
            except KeyboardInterrupt:
                hooks.on_interrupt(state)
                raise TrainingInterrupted from None
            seconds = time.perf_counter() - started
            scores = self.validate_epoch()
            entry = self._epoch_entry(state, order.sentences_from(first_step), first_step > 0,
                                      loss_sum / max(label_count, 1.0), seconds, scores)
            state["history"].append(entry)
            state["epoch"], state["step"] = state["epoch"] + 1, 0
            hooks.on_epoch_end(state, entry, scores)
        return state

    def _epoch_batches(self, state: dict):
        """This epoch's batches (EpochBatches), and the dataset of them from the current step on."""
        opts = self.options
        order = epoch_batches(self.train_data.lengths, opts.batch_size, opts.seed, state["epoch"], opts.batching.value,
                              repeats=self.repeats)
        dataset = make_dataset(self._epoch_split(state), order, opts.batch_size, skip_batches=state["step"],
                               multiple=self.setup.pad_multiple, class_weights=self.class_weights)
        # one replica: the plain dataset (distributing it costs a third of each step here, and its
        # hidden autotuned iterator stalls at each epoch end); several: split every global batch
        if self.setup.replicas == 1 and self.setup.strategy_name == "one":
            return order, dataset
        return order, self.setup.strategy.experimental_distribute_dataset(dataset)

    def _epoch_split(self, state: dict) -> EncodedSplit:
        """The sentences (and labels) of this epoch's batches: the training split as it is (MaskedLMTrainer masks it anew)."""
        return self.train_data

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

    def _epoch_entry(self, state: dict, trained: np.ndarray, resumed_mid_epoch: bool, train_loss: float,
                     seconds: float, scores: dict | None) -> dict:
        """The epoch's metrics line; `trained` are the sentences this session trained on."""
        entry = {
            "epoch": state["epoch"] + 1,
            "global_step": state["global_step"],
            "train_loss": train_loss,
            "train_seconds": seconds,
            "train_sentences_per_second": len(trained) / seconds if seconds else None,
            "train_subwords_per_second": float(np.sum(self.train_data.lengths[trained])) / seconds if seconds else None,
            "resumed_mid_epoch": resumed_mid_epoch,
        }
        if scores is not None:
            entry["validation"] = scores["overall"]
            entry["validation_per_type_f1"] = {t: v["f1"] for t, v in scores["per_type"].items()}
        return entry

    def export(self, state: dict) -> None:
        """Load the best epoch's weights and save the model with tokenizer and label maps (the chief only:
        the best weights are a file of its run folder)."""
        if not self.setup.is_chief:
            return
        if state.get("best_weights"):
            self.model.load_weights(str(self.run_dir / state["best_weights"]))
        with atomic_path(self.run_dir / "model", directory=True) as tmp:
            save_model(self.model, self.tokenizer, tmp)
