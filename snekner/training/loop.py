"""The training loop: a custom TF loop over the tf.data pipeline, under a tf.distribute strategy.

Per epoch it trains, scores the validation split at word level, appends a metrics line, keeps
the best epoch's weights, and checkpoints (weights, optimizer state, epoch and step, early-
stopping state) so that `--resume` continues a killed run where its last checkpoint left it.
The data order of every epoch is a pure function of (seed, epoch), so resuming mid-epoch
replays exactly the batches that were not yet trained on.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import time
from dataclasses import asdict, dataclass, fields
from enum import Enum
from pathlib import Path

from snekner.errors import SneknerError
from snekner.modeling.devices import Strategy
from snekner.store.atomic import write_json, write_lines
from snekner.store.manifests import RunManifest, RunStatus, environment_versions, now_iso, write_run_manifest
from snekner.store.prepared import load_prepared
from snekner.store.runs import Run, open_run

STATE_FILE = "state.json"
# Fault injection for the interruption tests: the process sends itself this signal after the
# given global step, e.g. SNEKNER_FAULT=KILL@21 (SIGKILL) or SNEKNER_FAULT=INT@5 (Ctrl-C).
FAULT_ENV = "SNEKNER_FAULT"


def _fault_plan() -> tuple[int, int] | None:
    raw = os.environ.get(FAULT_ENV)
    if not raw:
        return None
    sig, _, step = raw.partition("@")
    return getattr(signal, "SIG" + sig), int(step)


class Schedule(str, Enum):
    """How the learning rate moves after the warm-up."""

    LINEAR = "linear"  # decays linearly to 0 over all remaining steps (HF's default)
    CONSTANT = "constant"  # stays at --learning-rate
    STABLE_DECAY = "stable-decay"  # stays, then decays linearly to 0 over the last --decay-ratio of the steps


class Batching(str, Enum):
    """How sentences are grouped into training batches."""

    BUCKETED = "bucketed"  # sentences of similar length together (little padding), batch order shuffled
    RANDOM = "random"  # a plain random permutation


# what a run manifest written before an option existed meant by leaving it out (so that
# `--resume` of an older run keeps its recipe, whatever today's default is)
LEGACY_OPTIONS = {"schedule": "linear", "decay_ratio": 0.0, "max_grad_norm": 0.0, "batching": "bucketed"}


@dataclass
class TrainOptions:
    model: str | None = None  # default: the model the data was prepared with
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    schedule: Schedule = Schedule.LINEAR
    decay_ratio: float = 0.2  # with stable-decay: the share of steps in the final decay
    max_grad_norm: float = 0.0  # 0: no clipping
    batching: Batching = Batching.BUCKETED
    seed: int = 42
    early_stopping_patience: int = 0  # 0: off
    eval_batch_size: int = 32
    mixed_precision: bool | None = None  # None: on with a GPU
    xla: bool | None = None  # None: on with a GPU
    strategy: Strategy = Strategy.AUTO
    checkpoint_every: int = 0  # steps; 0: only at the end of each epoch
    tensorboard: bool = False

    def validate(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise SneknerError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise SneknerError(f"--learning-rate must be positive, not {self.learning_rate}")
        if not 0 <= self.warmup_ratio < 1 or not 0 <= self.decay_ratio <= 1:
            raise SneknerError("--warmup-ratio must be at least 0 and below 1, and --decay-ratio between 0 and 1")
        if not self.max_grad_norm >= 0:
            raise SneknerError(f"--max-grad-norm must be 0 (off) or positive, not {self.max_grad_norm}")

    def __post_init__(self):
        for name, choices in (("schedule", Schedule), ("batching", Batching)):
            value = getattr(self, name)
            try:
                setattr(self, name, choices(value))
            except ValueError:
                raise SneknerError(f"--{name} {value} is not one of {', '.join(c.value for c in choices)}") from None

    def decay_steps(self, total_steps: int) -> int | None:
        """Steps of the final linear decay for build_optimizer (None: all after the warm-up)."""
        if self.schedule == Schedule.LINEAR:
            return None
        if self.schedule == Schedule.CONSTANT:
            return 0
        return int(round(total_steps * self.decay_ratio))

    @classmethod
    def from_manifest(cls, stored: dict) -> "TrainOptions":
        known = {f.name for f in fields(cls)}
        return cls(**{**LEGACY_OPTIONS, **{k: v for k, v in stored.items() if k in known}})

    def to_manifest(self) -> dict:
        return {k: (v.value if isinstance(v, Enum) else v) for k, v in asdict(self).items()}
        if self.early_stopping_patience < 0 or self.checkpoint_every < 0:
            raise SneknerError("--early-stopping-patience and --checkpoint-every must be 0 or more")


def _masked_loss_sum(labels, logits):
    import tensorflow as tf

    logits = tf.cast(logits, tf.float32)
    mask = tf.not_equal(labels, -100)
    safe = tf.where(mask, labels, tf.zeros_like(labels))
    per_token = tf.keras.losses.sparse_categorical_crossentropy(safe, logits, from_logits=True)
    return tf.reduce_sum(per_token * tf.cast(mask, tf.float32))


class Trainer:
    def __init__(self, prepared, run_dir: Path, name: str, options: TrainOptions, setup, log):
        self.prepared = prepared
        self.run_dir = run_dir
        self.name = name
        self.options = options
        self.setup = setup
        self.log = log
        self.labels = prepared.labels

    # -- building ---------------------------------------------------------------------------
    def build(self, model_name: str) -> None:
        import tensorflow as tf
        from transformers import AutoTokenizer

        from snekner.modeling.models import build_token_classifier
        from snekner.training.optimizer import build_optimizer
        from snekner.modeling.batches import EncodedSplit, batches_per_epoch

        opts = self.options
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.prepared.path / "tokenizer"))
        self.train_data = EncodedSplit.from_split(self.prepared.split("train"), self.tokenizer.pad_token_id)
        self.steps_per_epoch = batches_per_epoch(len(self.train_data), opts.batch_size)
        total = self.steps_per_epoch * opts.epochs
        with self.setup.strategy.scope():
            self.model = build_token_classifier(model_name, self.labels)
            vocab = self.model.config.vocab_size
            if len(self.train_data.input_ids) and int(self.train_data.input_ids.max()) >= vocab:
                raise SneknerError(
                    f"the data was tokenized for {self.prepared.manifest.tokenizer}, whose ids do not fit {model_name} "
                    f"(vocabulary {vocab}); prepare the data with --model {model_name} or train with its own model"
                )
            optimizer = build_optimizer(opts.learning_rate, total, int(total * opts.warmup_ratio), opts.weight_decay,
                                        opts.decay_steps(total), opts.max_grad_norm)
            if self.setup.precision_policy == "mixed_float16":
                optimizer = tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
            # slots made now, not on the first step: a tf.function that creates variables is
            # traced twice, and tracing this model with its gradients costs several seconds
            optimizer._create_all_weights(self.model.trainable_variables)
            self.optimizer = optimizer
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer)
        ckpt_dir = self.run_dir / "checkpoints"
        if not self.setup.is_chief:  # saving is collective: others save too, to a scratch place
            ckpt_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"snekner-worker-{os.getpid()}"
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(ckpt_dir), max_to_keep=2)
        self._train_step = self._make_train_step()
        self._compiled_step = None

    def _make_train_step(self):
        import tensorflow as tf

        from snekner.training.optimizer import dense_gradients

        model, optimizer = self.model, self.optimizer
        scaled = self.setup.precision_policy == "mixed_float16"

        def gradients(batch):
            with tf.GradientTape() as tape:
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], training=True).logits
                loss_sum = _masked_loss_sum(batch["labels"], logits)
                loss = loss_sum / tf.maximum(tf.reduce_max(batch["n_labels"]), 1.0)
                target = optimizer.get_scaled_loss(loss) if scaled else loss
            grads = tape.gradient(target, model.trainable_variables)
            if scaled:
                grads = optimizer.get_unscaled_gradients(grads)
            return loss_sum, grads

        if self.setup.xla:
            gradients = tf.function(gradients, jit_compile=True, reduce_retracing=True, autograph=False)

        def replica_step(batch):
            loss_sum, grads = gradients(batch)
            optimizer.apply_gradients(zip(dense_gradients(grads), model.trainable_variables))
            return loss_sum, tf.reduce_sum(tf.cast(tf.not_equal(batch["labels"], -100), tf.float32))

        strategy = self.setup.strategy

        def train_step(batch):
            loss_sum, count = strategy.run(replica_step, args=(batch,))
            return (
                strategy.reduce(tf.distribute.ReduceOp.SUM, loss_sum, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, count, axis=None),
            )

        return train_step

    # -- state --------------------------------------------------------------------------------
    def fresh_state(self) -> dict:
        return {"epoch": 0, "step": 0, "global_step": 0, "history": [], "best_f1": None, "best_epoch": None,
                "best_weights": None, "bad_epochs": 0, "stopped_early": False, "checkpoint": None}

    @property
    def state_path(self) -> Path:
        return self.run_dir / "checkpoints" / STATE_FILE

    def restore(self) -> dict:
        import tensorflow as tf

        if not self.state_path.is_file():
            return self.fresh_state()
        state = json.loads(self.state_path.read_text(encoding="utf-8"))
        self.checkpoint.restore(str(self.run_dir / state["checkpoint"])).expect_partial()
        # dropout draws continue from a seed of their own: the data order is exact, the dropout masks are not replayed
        tf.random.set_seed(self.options.seed + state["global_step"])
        return state

    def save_progress(self, state: dict) -> None:
        path = self.manager.save(checkpoint_number=state["global_step"])
        if not self.setup.is_chief:
            return
        state["checkpoint"] = os.path.relpath(path, self.run_dir)
        write_json(self.state_path, state)

    def write_metrics(self, state: dict) -> None:
        if self.setup.is_chief:
            write_lines(self.run_dir / "metrics.jsonl", [json.dumps(h, sort_keys=True) for h in state["history"]])

    # -- the loop -----------------------------------------------------------------------------
    def validate_epoch(self) -> dict | None:
        from snekner.modeling.forward import gold_word_tags, predict_word_tags
        from snekner.ner.scoring import score

        if "validation" not in self.prepared.dataset:
            return None
        split = self.prepared.dataset["validation"]
        pred = predict_word_tags(self.model, split, self.labels, self.tokenizer.pad_token_id, self.options.eval_batch_size)
        return score(gold_word_tags(split, self.labels), pred, types=self.prepared.tagset.types)

    def run(self, state: dict) -> dict:
        import numpy as np

        from snekner.modeling.batches import make_dataset, training_order

        opts = self.options
        writer = self._summary_writer()
        fault = _fault_plan()
        while state["epoch"] < opts.epochs and not state["stopped_early"]:
            epoch = state["epoch"]
            order = training_order(self.train_data.lengths, opts.batch_size, opts.seed, epoch, bucketed=opts.batching == Batching.BUCKETED)
            dataset = make_dataset(self.train_data, order, opts.batch_size, skip_batches=state["step"], multiple=self.setup.pad_multiple)
            # one replica: the plain dataset (distributing it costs a third of each step here, and its
            # hidden autotuned iterator stalls at each epoch end); several: split every global batch
            one = self.setup.replicas == 1 and self.setup.strategy_name == "one"
            dist = dataset if one else self.setup.strategy.experimental_distribute_dataset(dataset)
            if self._compiled_step is None:
                import tensorflow as tf

                # traced once for every batch shape (the spec has dynamic batch and length), not
                # once per padded width; XLA, when on, still compiles per width, a bounded set.
                # No autograph: the step and the model have no data-dependent Python control flow
                # (a tensor used as a Python bool would fail the trace loudly), and converting the
                # transformers code cost a third of the trace
                self._compiled_step = tf.function(self._train_step, input_signature=[dist.element_spec], autograph=False)
            started, loss_sum, label_count = time.perf_counter(), 0.0, 0.0
            first_step = state["step"]
            report_every = max(1, self.steps_per_epoch // 5)
            try:
                for batch in dist:
                    step_loss, step_count = self._compiled_step(batch)
                    loss_sum += float(step_loss)
                    label_count += float(step_count)
                    state["step"] += 1
                    state["global_step"] += 1
                    if writer is not None:
                        with writer.as_default():
                            import tensorflow as tf

                            tf.summary.scalar("train/loss", float(step_loss) / max(float(step_count), 1.0), step=state["global_step"])
                    if state["step"] % report_every == 0:
                        self.log(f"epoch {epoch + 1}/{opts.epochs} step {state['step']}/{self.steps_per_epoch} "
                                 f"loss {loss_sum / max(label_count, 1):.4f} ({time.perf_counter() - started:.0f} s)")
                    if opts.checkpoint_every and state["global_step"] % opts.checkpoint_every == 0:
                        self.save_progress(state)
                    if fault and state["global_step"] == fault[1]:
                        os.kill(os.getpid(), fault[0])
            except KeyboardInterrupt:
                self.save_progress(state)
                raise SneknerError(
                    f"interrupted at epoch {epoch + 1} step {state['step']}; checkpoint saved: continue with "
                    f"`snekner train {self.prepared.path} --name {self.name} --runs-dir {self.run_dir.parent} --resume`"
                ) from None
            seconds = time.perf_counter() - started
            done = order[first_step * opts.batch_size:]
            scores = self.validate_epoch()
            entry = {
                "epoch": epoch + 1,
                "global_step": state["global_step"],
                "train_loss": loss_sum / max(label_count, 1.0),
                "train_seconds": seconds,
                "train_sentences_per_second": len(done) / seconds if seconds else None,
                "train_subwords_per_second": float(np.sum(self.train_data.lengths[done])) / seconds if seconds else None,
                "resumed_mid_epoch": first_step > 0,
            }
            if scores is not None:
                entry["validation"] = scores["overall"]
                entry["validation_per_type_f1"] = {t: v["f1"] for t, v in scores["per_type"].items()}
                self.log(f"epoch {epoch + 1}: loss {entry['train_loss']:.4f}, validation F1 {scores['overall']['f1']:.4f} "
                         f"(P {scores['overall']['precision']:.4f} R {scores['overall']['recall']:.4f}), "
                         f"{entry['train_sentences_per_second']:.1f} sentences/s")
                if writer is not None:
                    with writer.as_default():
                        import tensorflow as tf

                        for key in ("precision", "recall", "f1"):
                            tf.summary.scalar(f"validation/{key}", scores["overall"][key], step=epoch + 1)
            self._update_best(state, entry, scores)
            state["history"].append(entry)
            state["epoch"], state["step"] = epoch + 1, 0
            self.save_progress(state)
            self.write_metrics(state)
            self._drop_stale_best(state)
        return state

    def _update_best(self, state: dict, entry: dict, scores: dict | None) -> None:
        f1 = scores["overall"]["f1"] if scores is not None else None
        improved = f1 is None or state["best_f1"] is None or f1 > state["best_f1"]
        if improved:
            state["best_f1"], state["best_epoch"] = f1, entry["epoch"]
            if self.setup.is_chief:
                target = self.run_dir / "checkpoints" / f"best-epoch{entry['epoch']}.weights.h5"
                tmp = target.with_name(".tmp-" + target.name)
                target.parent.mkdir(parents=True, exist_ok=True)
                self.model.save_weights(str(tmp))
                os.replace(tmp, target)
                state["best_weights"] = os.path.relpath(target, self.run_dir)
            state["bad_epochs"] = 0
        else:
            state["bad_epochs"] += 1
            patience = self.options.early_stopping_patience
            if patience and state["bad_epochs"] >= patience:
                state["stopped_early"] = True
                self.log(f"early stopping: no validation F1 gain for {patience} epoch(s); best was epoch {state['best_epoch']}")

    def _drop_stale_best(self, state: dict) -> None:
        if not self.setup.is_chief:
            return
        keep = state.get("best_weights")
        for p in (self.run_dir / "checkpoints").glob("best-epoch*.weights.h5"):
            if keep is None or p.resolve() != (self.run_dir / keep).resolve():
                p.unlink(missing_ok=True)

    def _summary_writer(self):
        if not (self.options.tensorboard and self.setup.is_chief):
            return None
        import tensorflow as tf

        return tf.summary.create_file_writer(str(self.run_dir / "tensorboard"))

    def export(self, state: dict) -> None:
        """Load the best epoch's weights and save the model with tokenizer and label maps."""
        from snekner.modeling.models import save_model

        if state.get("best_weights"):
            self.model.load_weights(str(self.run_dir / state["best_weights"]))
        if not self.setup.is_chief:
            return
        final = self.run_dir / "model"
        tmp = self.run_dir / ".model.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        save_model(self.model, self.tokenizer, tmp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def _resumable_manifest(run_dir: Path, name: str, runs_dir: Path, prepared) -> RunManifest:
    if not run_dir.exists():
        raise SneknerError(f"run {name} does not exist in {runs_dir}, so there is nothing to resume; drop --resume to start it")
    manifest = open_run(str(run_dir), runs_dir, finished=False).manifest
    if manifest.is_finished:
        raise SneknerError(f"run {name} already finished; nothing to resume (start a new run with another --name, or --overwrite)")
    if Path(manifest.data).resolve() != prepared.path.resolve():
        raise SneknerError(f"run {name} was trained on {manifest.data}, not {prepared.path}; resume it with that data")
    return manifest


def train(prepared_path: Path, name: str, runs_dir: Path, options: TrainOptions, resume: bool = False,
          overwrite: bool = False, log=lambda msg: None) -> Run:
    """Train (or resume) run `name` on a prepared dataset; returns the finished run."""
    from snekner.modeling.devices import chief_by_tf_config, setup_devices

    run_dir = Path(runs_dir) / name
    chief = chief_by_tf_config()  # in a multi-worker cluster only the chief owns the run folder
    if "/" in name or name in ("", ".", ".."):
        raise SneknerError(f"--name {name!r} must be a plain name (it becomes a folder under --runs-dir)")
    prepared = load_prepared(prepared_path)
    if "train" not in prepared.dataset:
        raise SneknerError(f"prepared dataset {prepared_path} has no train split; prepare a dataset that has one")
    manifest: RunManifest | None = None
    if resume and chief:
        manifest = _resumable_manifest(run_dir, name, runs_dir, prepared)
        options = TrainOptions.from_manifest(manifest.options)
    elif chief and run_dir.exists() and not overwrite:
        raise SneknerError(f"run {name} already exists in {runs_dir}; pass --resume to continue it, --overwrite to replace it, or choose another --name")
    options.validate()
    model_name = options.model or prepared.manifest.tokenizer
    setup = setup_devices(options.strategy, options.mixed_precision, options.xla)
    log(f"devices: {setup.describe()}")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(options.seed)
    trainer = Trainer(prepared, run_dir, name, options, setup, log)
    trainer.build(model_name)
    if not resume and run_dir.exists() and setup.is_chief:
        shutil.rmtree(run_dir)  # --overwrite: only now that data and model have loaded
    started = now_iso()
    if manifest is None:
        manifest = RunManifest(name=name, status=RunStatus.RUNNING, created=started, data=str(prepared.path.resolve()),
                               data_manifest=prepared.manifest, model=model_name, options=options.to_manifest())
    manifest.devices = {"description": setup.describe(), "strategy": setup.strategy_name, "replicas": setup.replicas,
                        "gpus": setup.gpus, "precision": setup.precision_policy, "xla": setup.xla}
    manifest.versions = environment_versions()
    if setup.is_chief:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_run_manifest(run_dir, manifest)
    state = trainer.restore() if resume else trainer.fresh_state()
    if resume and setup.is_chief:
        trainer.write_metrics(state)  # metrics.jsonl always equals the checkpointed history
        log(f"resuming at epoch {state['epoch'] + 1}, step {state['step']} (global step {state['global_step']})")
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    t0 = time.perf_counter()
    try:
        state = trainer.run(state)
    finally:
        signal.signal(signal.SIGTERM, previous)
    trainer.export(state)
    if setup.is_chief:
        manifest.status, manifest.finished = RunStatus.FINISHED, now_iso()
        manifest.epochs_run, manifest.stopped_early = len(state["history"]), state["stopped_early"]
        manifest.best_epoch, manifest.best_validation_f1 = state["best_epoch"], state["best_f1"]
        manifest.timings = {
            "last_session_seconds": time.perf_counter() - t0,
            "train_seconds": sum(h["train_seconds"] for h in state["history"]),
            "per_epoch_seconds": [h["train_seconds"] for h in state["history"]],
        }
        write_run_manifest(run_dir, manifest)
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    return Run(run_dir, manifest)
