"""`snekner adapt` as a library call: continued masked-language-model training on unlabelled text.

Domain-adaptive pretraining (Gururangan et al., 2020): before fine-tuning for NER, a fill-mask model
trains on text of the target domain a while longer with its own objective, so that the words of
that domain stop being rare to it. The result is a model folder that `prep --model DIR` and `train`
take as they take a hub model, with a manifest (snekner-adapted.json) of what produced it.

The loop is the training loop's (snekner.training.loop.Trainer): the same tf.data batches (length
buckets, prefetch), optimizer, strategies, mixed precision and XLA, checkpoints and `--resume`, the
NaN stop. What differs: the model (a masked-LM head over the vocabulary), the labels (the original
sub-words of whole words masked anew each epoch, BERT's 80/10/10 rule, a pure function of seed and
epoch, so a resumed epoch replays the same masks) and the validation (masked-LM loss and perplexity
on held-out texts with fixed masks, comparable across epochs and with the base model's).
"""
from __future__ import annotations

import hashlib
import math
import os
import shutil
import tempfile
import time
from collections.abc import Collection
from pathlib import Path

import numpy as np

from snekner.data.text import encode_texts, mask_whole_words, read_texts
from snekner.errors import (
    OutputExistsError,
    SneknerError,
)
from snekner.modeling.batches import (
    EncodedSplit,
    batches_per_epoch,
    evaluation_order,
    make_dataset,
)
from snekner.modeling.devices import setup_devices
from snekner.modeling.models import build_masked_lm, load_tokenizer
from snekner.ner.labels import IGNORE
from snekner.progress import Lines, Progress
from snekner.store.atomic import PARTIAL, atomic_path, check_artifact_name, disk_full_is_an_error, remove_stale_partials
from snekner.store.locks import hold
from snekner.store.manifests import (
    ADAPTED_MANIFEST,
    AdaptedModelManifest,
    RunStatus,
    environment_versions,
    now_iso,
    read_adapted_manifest,
    write_adapted_manifest,
)
from snekner.training.adaptation_options import (
    RESUME_AFTER_FAILURE_MAY_CHANGE,
    RESUME_MAY_CHANGE,
    VALIDATION_MASK_SEED,
    AdaptOptions,
    held_out,
)
from snekner.training.callbacks import (
    Callback,
    Checkpointing,
    FaultInjection,
    MetricsLog,
    ProgressLog,
)
from snekner.training.loop import (
    NonFiniteLoss,
    Trainer,
    TrainingInterrupted,
    _masked_loss_sum,
)
from snekner.training.options import take_resumable
from snekner.training.train import sigterm_as_ctrl_c


def masked_lm_head(model):
    """The masked-LM head of a transformers TF model as a function of hidden states, or None for an architecture not
    known here (then the whole model runs and every position's logits are computed)."""
    if hasattr(model, "mlm"):  # BERT and its kin
        return lambda hidden, training: model.mlm(sequence_output=hidden, training=training)
    if hasattr(model, "lm_head"):  # RoBERTa, XLM-R, CamemBERT
        return lambda hidden, training: model.lm_head(hidden)
    if all(hasattr(model, name) for name in ("vocab_transform", "act", "vocab_layer_norm", "vocab_projector")):  # DistilBERT
        return lambda hidden, training: model.vocab_projector(model.vocab_layer_norm(model.act(model.vocab_transform(hidden))))
    return None


def masked_lm_loss_sum(model, batch, training: bool):
    """Summed cross-entropy of the masked sub-words of `batch` and their count; the same figures as the whole model's
    logits give (tests/test_adapt.py checks), the head computed only where a label is."""
    import tensorflow as tf

    head = masked_lm_head(model)
    if head is None:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], training=training).logits
        return _masked_loss_sum(batch["labels"], logits)
    base = getattr(model, model.base_model_prefix)
    hidden = base(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], training=training)[0]
    where = tf.where(tf.not_equal(batch["labels"], IGNORE))
    picked = tf.gather_nd(hidden, where)[tf.newaxis]  # [1, masked, hidden]
    labels = tf.gather_nd(batch["labels"], where)[tf.newaxis]
    return _masked_loss_sum(labels, head(picked, training))


class MaskedLMTrainer(Trainer):
    """Trainer's loop with a masked-language-model head, masks drawn per epoch, and held-out masked-LM loss as validation."""

    def __init__(self, train_text, validation_text, tokenizer, run_dir: Path, options: AdaptOptions, setup, log, progress: Progress):
        self.train_text, self.validation_text, self.tokenizer = train_text, validation_text, tokenizer
        self.run_dir, self.options, self.setup, self.log, self.progress = run_dir, options, setup, log, progress
        self.class_weights = self.repeats = self.imbalance = None
        self.last_validation: dict | None = None
        self.train_data = EncodedSplit(train_text.input_ids, None, train_text.lengths, tokenizer.pad_token_id)

    def build(self, model_name: str) -> None:
        opts = self.options
        self.steps_per_epoch = batches_per_epoch(len(self.train_text), opts.batch_size)
        with self.setup.strategy.scope():
            self.model, self.head = build_masked_lm(model_name)
            self.vocab_size = int(self.model.config.vocab_size)
            if int(self.train_text.input_ids.max()) >= self.vocab_size:
                raise SneknerError(f"the tokenizer of {model_name} gives ids beyond its model's vocabulary ({self.vocab_size})")
            self.optimizer = self._make_optimizer(self.steps_per_epoch * opts.epochs)
        self._make_checkpointing()
        self._validation_batches = None
        if self.validation_text is not None and len(self.validation_text):
            rng = np.random.default_rng([opts.seed, VALIDATION_MASK_SEED])
            masked = self._mask(self.validation_text, rng)
            data = EncodedSplit(masked.input_ids, masked.labels, self.validation_text.lengths, self.tokenizer.pad_token_id)
            self._validation_batches = make_dataset(data, evaluation_order(data.lengths), opts.eval_batch_size,
                                                    multiple=self.setup.pad_multiple)

    def _loss_sum(self, batch, weights, training: bool = True):
        """The masked-LM loss, with the head run on the masked positions only (about 15% of them): over a 30k
        vocabulary the head costs as much as the encoder, and the other positions' logits are never used."""
        return masked_lm_loss_sum(self.model, batch, training)

    def _mask(self, text, rng):
        return mask_whole_words(text, self.options.mask_rate, rng, self.tokenizer.mask_token_id, self.vocab_size, whole_words=self.options.whole_words)

    def _epoch_split(self, state: dict) -> EncodedSplit:
        """The training sequences with this epoch's masks: the inputs the model sees, the original sub-words as labels."""
        masked = self._mask(self.train_text, np.random.default_rng([self.options.seed, state["epoch"]]))
        return EncodedSplit(masked.input_ids, masked.labels, self.train_data.lengths, self.train_data.pad_id)

    def masked_lm_validation(self) -> dict | None:
        """Mean cross-entropy of the held-out masked sub-words (and its exponent, the perplexity); None without held-out text."""
        if self._validation_batches is None:
            return None
        import tensorflow as tf

        if getattr(self, "_validation_loss", None) is None:
            model = self.model

            @tf.function(input_signature=[self._validation_batches.element_spec], autograph=False)
            def loss_sum(batch):
                return masked_lm_loss_sum(model, batch, training=False)

            self._validation_loss = loss_sum
        total, count = 0.0, 0.0
        with self.progress.task("validation", len(self.validation_text), "sequence") as task:
            for batch in self._validation_batches:
                s, c = self._validation_loss(batch)
                total, count = total + float(s), count + float(c)
                task.advance(int(batch["index"].shape[0]))
        loss = total / max(count, 1.0)
        return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "masked": int(count)}

    def validate_epoch(self):
        # the loop hands what this returns to the callbacks as NER scores; the masked-LM figures go into the epoch's line
        self.last_validation = self.masked_lm_validation()

    def _epoch_entry(self, state, trained, resumed_mid_epoch, train_loss, seconds, scores):
        entry = super()._epoch_entry(state, trained, resumed_mid_epoch, train_loss, seconds, None)
        entry["train_sequences_per_second"] = entry.pop("train_sentences_per_second")
        if self.last_validation is not None:
            entry["validation_loss"] = self.last_validation["loss"]
            entry["validation_perplexity"] = self.last_validation["perplexity"]
        return entry

    def export(self, state: dict) -> None:
        """The model and tokenizer into the output folder itself (config.json last: it is what marks a model folder)."""
        if not self.setup.is_chief:
            return
        tmp = Path(tempfile.mkdtemp(prefix=f".model.{os.getpid()}.", suffix=PARTIAL, dir=self.run_dir))
        try:
            self.model.save_pretrained(str(tmp))
            self.tokenizer.save_pretrained(str(tmp))
            for name in sorted((p.name for p in tmp.iterdir()), key=lambda name: name == "config.json"):
                (tmp / name).replace(self.run_dir / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class EpochLog(Callback):
    """Each epoch's masked-LM figures as one line."""

    def __init__(self, log):
        self.log = log

    def on_epoch_end(self, state, entry, scores):
        line = f"epoch {entry['epoch']}: masked-LM loss {entry['train_loss']:.4f}"
        if "validation_loss" in entry:
            line += f", held-out loss {entry['validation_loss']:.4f} (perplexity {entry['validation_perplexity']:.2f})"
        self.log(line + f", {entry['train_sequences_per_second']:.1f} sequences/s")


def text_digest(encoded) -> str:
    """SHA-256 of the sub-word sequences: a resumed adaptation must see the text it started on."""
    digest = hashlib.sha256(encoded.lengths.astype(np.int64).tobytes())
    digest.update(encoded.input_ids.astype(np.int32).tobytes())
    return digest.hexdigest()


def adapt(text: str, out: Path, options: AdaptOptions, resume: bool = False, overwrite: bool = False, log=lambda msg: None,
          explicit: Collection[str] = (), progress: Progress | None = None, callbacks=()) -> AdaptedModelManifest:
    """Continue masked-LM training of `options.model` on the texts of `text` (see snekner.data.text), into model folder `out`.

    As `train`: the folder is locked for the call; `resume` continues an unfinished (killed, interrupted or failed) one from
    its last checkpoint with its stored options (those in `explicit` must match, but for RESUME_MAY_CHANGE); `overwrite`
    builds the new model beside the old one and swaps it in only when finished.
    """
    out = Path(out)
    progress = Lines(log, min_seconds=1.0) if progress is None else progress
    options.validate()
    check_artifact_name(out)
    with hold(out, "adapted model", "adapt"):
        remove_stale_partials(out.parent, target=out.name)  # the folder is the user's: only this output's temporaries
        if resume:
            remove_stale_partials(out)
            return _adapt(text, out, options, True, log, explicit, progress, callbacks)
        if not out.exists():
            with disk_full_is_an_error(written=out):
                return _adapt(text, out, options, False, log, explicit, progress, callbacks)
        if not overwrite:
            raise OutputExistsError(f"{out} already exists", path=out, what="adapted model")
        with disk_full_is_an_error(), atomic_path(out, directory=True) as build:
            try:
                return _adapt(text, build, options, False, log, explicit, progress, callbacks)
            except SneknerError as e:  # what went wrong, without the advice to resume a build that is now removed
                raise SneknerError(f"{e.message.split('; ')[0]}; the new model was discarded and {out} is as it was") from None


def _resumed(out: Path, text: str, options: AdaptOptions, explicit: Collection[str]) -> tuple[AdaptedModelManifest, AdaptOptions]:
    if not (out / ADAPTED_MANIFEST).is_file():
        raise SneknerError(f"{out} holds no adaptation to resume", fix="drop {option} to start one", option="resume")
    manifest = read_adapted_manifest(out)
    if manifest.is_finished:
        raise SneknerError(f"the adaptation in {out} has finished; nothing to resume", fix="drop {option}", option="resume")
    if manifest.text.get("source") != text:
        raise SneknerError(f"{out} was adapted on {manifest.text.get('source')}, not {text}", fix="resume it with that text")
    may_change = RESUME_AFTER_FAILURE_MAY_CHANGE if manifest.status == RunStatus.FAILED else RESUME_MAY_CHANGE
    return manifest, take_resumable(AdaptOptions.from_manifest(manifest.options), options, explicit, may_change)


def _adapt(text: str, out: Path, options: AdaptOptions, resume: bool, log, explicit, progress: Progress, callbacks) -> AdaptedModelManifest:
    manifest = None
    if resume:
        manifest, options = _resumed(out, text, options, explicit)
    tokenizer = load_tokenizer(options.model)
    texts = read_texts(text, split=options.split, lang=options.lang, limit=options.limit)
    held = held_out(len(texts), options)
    keep = np.setdiff1d(np.arange(len(texts)), held)
    train_text = encode_texts(tokenizer, texts.subset(keep), options.max_length, progress)
    validation_text = encode_texts(tokenizer, texts.subset(held), options.max_length) if len(held) else None
    digest = text_digest(train_text)
    if manifest is not None and manifest.text.get("sha256") != digest:
        raise SneknerError(f"the text of {text} has changed since {out} started adapting on it", fix="resume it with the same text")
    if tokenizer.mask_token_id is None:
        raise SneknerError(f"the tokenizer of {options.model} has no mask token, so it cannot be adapted with masked-LM training",
                           fix="choose a fill-mask model with {option}", option="model")
    setup = setup_devices(options.strategy, options.mixed_precision, options.xla)
    if setup.multiworker:
        raise SneknerError("adapt runs on one machine (one or several devices), not a multi-worker cluster", fix="unset TF_CONFIG")
    log(f"devices: {setup.describe()}")
    log(f"text: {len(texts)} texts of {text} -> {len(train_text)} sequences to train on, "
        f"{0 if validation_text is None else len(validation_text)} held out")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(options.seed)
    trainer = MaskedLMTrainer(train_text, validation_text, tokenizer, out, options, setup, log, progress)
    trainer.build(options.model)
    if manifest is None:
        manifest = AdaptedModelManifest(status=RunStatus.RUNNING, base_model=options.model, options=options.to_manifest(),
                                        text={**texts.describe(), "sha256": digest}, head=trainer.head, created=now_iso(),
                                        sequences={"train": len(train_text), "validation": 0 if validation_text is None else len(validation_text),
                                                   "train_subwords": int(train_text.lengths.sum())})
        if trainer.head == "new":
            log(f"{options.model} has no masked-LM head: it starts random and trains with the encoder")
    manifest.status, manifest.options = RunStatus.RUNNING, options.to_manifest()
    manifest.devices = setup.to_manifest()
    manifest.versions = environment_versions()
    out.mkdir(parents=True, exist_ok=True)
    state = trainer.restore() if resume else trainer.fresh_state()
    if manifest.validation_before is None:
        manifest.validation_before = trainer.masked_lm_validation()
        if manifest.validation_before is not None:
            log(f"held-out masked-LM loss of {options.model}: {manifest.validation_before['loss']:.4f} "
                f"(perplexity {manifest.validation_before['perplexity']:.2f})")
    write_adapted_manifest(out, manifest)
    if resume:
        log(f"resuming at epoch {state['epoch'] + 1}, step {state['step']} (global step {state['global_step']})")
    own = [ProgressLog(log, options.epochs, trainer.steps_per_epoch, progress), EpochLog(log),
           Checkpointing(trainer.save_progress, options.checkpoint_every, out, prunes=False), MetricsLog(out / "metrics.jsonl", resume)]
    fault = FaultInjection.from_environment()
    t0 = time.perf_counter()
    with sigterm_as_ctrl_c():
        try:
            state = trainer.run(state, [*callbacks, *own, *([fault] if fault else [])])
        except TrainingInterrupted:
            raise SneknerError(f"interrupted at epoch {state['epoch'] + 1} step {state['step']}; checkpoint saved in {out}",
                               fix="continue with the same command and {option}", option="resume") from None
        except NonFiniteLoss as e:
            manifest.status = RunStatus.FAILED
            manifest.failures = [*manifest.failures, {"at": now_iso(), "epoch": state["epoch"] + 1, "global_step": e.global_step,
                                                      "reason": f"loss {e.loss}", "options": options.to_manifest()}]
            write_adapted_manifest(out, manifest)
            raise SneknerError(f"the masked-LM loss became {e.loss} at step {e.global_step}; {out} is marked failed, its last "
                               "checkpoint kept", fix="continue with {option} and a lower learning rate", option="resume") from None
    trainer.export(state)
    manifest.history = state["history"]
    manifest.status, manifest.finished = RunStatus.FINISHED, now_iso()
    manifest.timings = {"last_session_seconds": time.perf_counter() - t0,
                        "train_seconds": sum(h["train_seconds"] for h in state["history"])}
    write_adapted_manifest(out, manifest)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return manifest
