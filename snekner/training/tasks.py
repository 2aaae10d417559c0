"""What the training loop learns: a task supplies the model, the loss, each epoch's data, the validation and what is saved.

Two tasks: token classification (`train`: NER on a prepared dataset) and masked-language
modelling (`adapt`: continued pretraining on text). The loop (snekner.training.loop.TrainingLoop)
calls, in order: `build_model` (inside the devices' strategy scope), then per epoch
`epoch_split` (the sentences and labels the epoch trains on), `loss_sum` (in the compiled step),
`validate` and `epoch_fields` (what the epoch's metrics line adds), and at the end `export`.
`callbacks` are the task's own, run between the loop's progress log and its checkpoint.
A new task is one class here with these members; the loop, checkpoints and resume come with it.
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

import numpy as np

from snekner.data.text import mask_whole_words
from snekner.errors import SneknerError
from snekner.modeling.batches import EncodedSplit, evaluation_order, make_dataset
from snekner.modeling.forward import gold_word_tags, predict_word_tags
from snekner.modeling.models import build_masked_lm, build_token_classifier, save_model
from snekner.ner.labels import IGNORE
from snekner.ner.scoring import score
from snekner.progress import Progress
from snekner.store.atomic import PARTIAL, atomic_path, give_umask_modes
from snekner.training import imbalance
from snekner.training.adaptation_options import VALIDATION_MASK_SEED
from snekner.training.callbacks import BestEpoch, MaskedLMLine, ScoresLine, TensorBoard
from snekner.training.imbalance import ClassWeights


class TrainingTask(Protocol):
    """What TrainingLoop needs of a task (see the module docstring)."""

    unit: str  # what a training row is, for the metrics line: "sentence", "sequence"
    loss_name: str  # the loss as an error names it
    train_data: EncodedSplit
    class_weights: np.ndarray | None  # per-label loss weights
    repeats: np.ndarray | None  # per-row repeats in an epoch

    @property
    def epoch_sentences(self) -> int: ...
    def build_model(self, model_name: str, *, seed: int, pad_multiple: int): ...
    def loss_sum(self, model, batch, weights): ...
    def epoch_split(self, epoch: int) -> EncodedSplit: ...
    def validate(self, model, progress: Progress): ...
    def epoch_fields(self, validation) -> dict: ...
    def callbacks(self, loop, *, writes: bool) -> list: ...
    def export(self, model, folder: Path, state) -> None: ...


def masked_loss_sum(labels, logits, weights=None):
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


class TokenClassification:
    """NER on a prepared dataset: labels per sub-word, validation by word-level entity scores, the best epoch kept."""

    unit, loss_name = "sentence", "training loss"

    def __init__(self, prepared, options, log):
        from transformers import AutoTokenizer

        self.prepared, self.options, self.log, self.labels = prepared, options, log, prepared.labels
        self.tokenizer = AutoTokenizer.from_pretrained(str(prepared.tokenizer_dir), trust_remote_code=False)
        self.train_data = EncodedSplit.from_split(prepared.split("train"), self.tokenizer.pad_token_id)
        self._rare_type_remedies()

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
        self.imbalance = imbalance.describe(self.labels, counts, weights=self.class_weights, types=types, factors=factors,
                                            repeats=repeats)
        if self.repeats is not None:
            self.log(f"oversampling {', '.join(f'{t} x{f}' for t, f in self.imbalance['oversampled_types'].items())}: "
                     f"{self.imbalance['epoch_sentences']} sentences per epoch from {len(data)}")

    @property
    def epoch_sentences(self) -> int:
        return len(self.train_data) if self.repeats is None else int(self.repeats.sum())

    def build_model(self, model_name: str, *, seed: int, pad_multiple: int):
        model = build_token_classifier(model_name, self.labels, seed=seed)
        vocab = model.config.vocab_size
        if len(self.train_data.input_ids) and int(self.train_data.input_ids.max()) >= vocab:
            raise SneknerError(f"the data was tokenized for {self.prepared.manifest.tokenizer}, whose ids do not fit {model_name} "
                               f"(vocabulary {vocab})", fix=f"prepare the data with {{option}} {model_name} or train with its own model",
                               option="model")
        return model

    def loss_sum(self, model, batch, weights):
        """The batch's summed loss over its labelled sub-words and their count (see masked_loss_sum), in training mode."""
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], training=True).logits
        return masked_loss_sum(batch["labels"], logits, weights)

    def epoch_split(self, epoch: int) -> EncodedSplit:
        return self.train_data

    def validate(self, model, progress: Progress) -> dict | None:
        """Word-level entity scores of the validation split (None without one)."""
        if "validation" not in self.prepared.dataset:
            return None
        split = self.prepared.dataset["validation"]
        pred = predict_word_tags(model, split, self.labels, self.tokenizer.pad_token_id, batch_size=self.options.eval_batch_size,
                                 progress=progress, description="validation")
        return score(gold_word_tags(split, self.labels), pred, types=self.prepared.tagset.types)

    def epoch_fields(self, validation: dict | None) -> dict:
        if validation is None:
            return {}
        return {"validation": validation["overall"], "validation_per_type_f1": {t: v["f1"] for t, v in validation["per_type"].items()}}

    def callbacks(self, loop, *, writes: bool) -> list:
        callbacks = [ScoresLine(loop.log)]
        if self.options.tensorboard and writes:
            callbacks.append(TensorBoard(loop.folder / "tensorboard"))
        callbacks.append(BestEpoch(loop.model, loop.folder, self.options.early_stopping_patience, loop.log, writes=writes))
        return callbacks

    def export(self, model, folder: Path, state) -> None:
        """The best epoch's weights, saved with tokenizer and label maps as RUN/model."""
        if state.best_weights:
            model.load_weights(str(folder / state.best_weights))
        with atomic_path(folder / "model", directory=True) as tmp:
            save_model(model, self.tokenizer, tmp)


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
        return masked_loss_sum(batch["labels"], logits)
    base = getattr(model, model.base_model_prefix)
    hidden = base(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], training=training)[0]
    where = tf.where(tf.not_equal(batch["labels"], IGNORE))
    picked = tf.gather_nd(hidden, where)[tf.newaxis]  # [1, masked, hidden]
    labels = tf.gather_nd(batch["labels"], where)[tf.newaxis]
    return masked_loss_sum(labels, head(picked, training))


class MaskedLanguageModel:
    """Continued masked-LM training: whole words masked anew each epoch (a pure function of seed and epoch, so a resumed
    epoch replays the same masks), validation by the masked-LM loss of held-out texts with fixed masks."""

    unit, loss_name = "sequence", "masked-LM loss"
    class_weights = repeats = None

    def __init__(self, train_text, validation_text, tokenizer, options):
        self.train_text, self.validation_text, self.tokenizer, self.options = train_text, validation_text, tokenizer, options
        self.train_data = EncodedSplit(train_text.input_ids, None, train_text.lengths, tokenizer.pad_token_id)
        self._validation_batches = self._validation_loss = None

    @property
    def epoch_sentences(self) -> int:
        return len(self.train_text)

    def build_model(self, model_name: str, *, seed: int, pad_multiple: int):
        """The model with its masked-LM head (`head`: "pretrained" or "new"), and the held-out texts' batches with their
        masks (padded to `pad_multiple` as training's are)."""
        model, self.head = build_masked_lm(model_name)
        self.vocab_size = int(model.config.vocab_size)
        if int(self.train_text.input_ids.max()) >= self.vocab_size:
            raise SneknerError(f"the tokenizer of {model_name} gives ids beyond its model's vocabulary ({self.vocab_size})")
        if self.validation_text is not None and len(self.validation_text):
            masked = self._mask(self.validation_text, np.random.default_rng([seed, VALIDATION_MASK_SEED]))
            data = EncodedSplit(masked.input_ids, masked.labels, self.validation_text.lengths, self.tokenizer.pad_token_id)
            self._validation_batches = make_dataset(data, evaluation_order(data.lengths), self.options.eval_batch_size,
                                                    multiple=pad_multiple)
        return model

    def loss_sum(self, model, batch, weights):
        """The masked-LM loss, with the head run on the masked positions only (about 15% of them): over a 30k
        vocabulary the head costs as much as the encoder, and the other positions' logits are never used."""
        return masked_lm_loss_sum(model, batch, training=True)

    def _mask(self, text, rng):
        return mask_whole_words(text, self.options.mask_rate, rng, self.tokenizer.mask_token_id, self.vocab_size, whole_words=self.options.whole_words)

    def epoch_split(self, epoch: int) -> EncodedSplit:
        """The training sequences with this epoch's masks: the inputs the model sees, the original sub-words as labels."""
        masked = self._mask(self.train_text, np.random.default_rng([self.options.seed, epoch]))
        return EncodedSplit(masked.input_ids, masked.labels, self.train_data.lengths, self.train_data.pad_id)

    def validate(self, model, progress: Progress) -> dict | None:
        """Mean cross-entropy of the held-out masked sub-words (and its exponent, the perplexity); None without held-out text."""
        if self._validation_batches is None:
            return None
        import tensorflow as tf

        if self._validation_loss is None:
            @tf.function(input_signature=[self._validation_batches.element_spec], autograph=False)
            def loss_sum(batch):
                return masked_lm_loss_sum(model, batch, training=False)

            self._validation_loss = loss_sum
        total, count = 0.0, 0.0
        with progress.task("validation", len(self.validation_text), "sequence") as task:
            for batch in self._validation_batches:
                s, c = self._validation_loss(batch)
                total, count = total + float(s), count + float(c)
                task.advance(int(batch["index"].shape[0]))
        loss = total / max(count, 1.0)
        return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "masked": int(count)}

    def epoch_fields(self, validation: dict | None) -> dict:
        return {} if validation is None else {"validation_loss": validation["loss"], "validation_perplexity": validation["perplexity"]}

    def callbacks(self, loop, *, writes: bool) -> list:
        return [MaskedLMLine(loop.log)]

    def export(self, model, folder: Path, state) -> None:
        """The model and tokenizer into the output folder itself (config.json last: it is what marks a model folder)."""
        tmp = Path(tempfile.mkdtemp(prefix=f".model.{os.getpid()}.", suffix=PARTIAL, dir=folder))
        try:
            model.save_pretrained(str(tmp))
            self.tokenizer.save_pretrained(str(tmp))
            give_umask_modes(tmp)
            for name in sorted((p.name for p in tmp.iterdir()), key=lambda name: name == "config.json"):
                (tmp / name).replace(folder / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
