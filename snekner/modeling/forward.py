"""Batched inference over a prepared split, brought back to word level."""
from __future__ import annotations

import weakref

import numpy as np

from snekner.errors import OptionError
from snekner.modeling.batches import EncodedSplit, evaluation_order, make_dataset, pad_multiple
from snekner.ner.scoring import words_from_subwords
from snekner.progress import NO_PROGRESS, Progress

# sentences per prediction call: the one default of eval, predict and training's validation
# (larger batches pad more and gained nothing measurable on CPU; see benchmarks/)
EVAL_BATCH_SIZE = 32
_FORWARDS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def check_batch_size(batch_size: int) -> None:
    """Prediction batches hold at least one sentence (eval and predict check before loading anything)."""
    if batch_size < 1:
        raise OptionError("batch_size", batch_size, "at least 1")


def _forward(model):
    """The model's traced forward pass, made once per model and cached (each trace costs seconds)."""
    import tensorflow as tf

    forward = _FORWARDS.get(model)
    if forward is not None:
        return forward
    spec = tf.TensorSpec([None, None], tf.int32)

    # one trace for every batch shape: prediction is not XLA-compiled, so shapes may vary freely;
    # no autograph (nothing to convert; converting the transformers code slows the trace)
    @tf.function(input_signature=[spec, spec], autograph=False)
    def forward(input_ids, attention_mask):
        logits = tf.cast(model(input_ids=input_ids, attention_mask=attention_mask, training=False).logits, tf.float32)
        probs = tf.nn.softmax(logits, axis=-1)
        return tf.argmax(logits, axis=-1, output_type=tf.int32), tf.reduce_max(probs, axis=-1)

    _FORWARDS[model] = forward
    return forward


def _in_flight(fn, items, depth: int):
    """fn over items, in order, with up to `depth` calls running at once in threads."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=depth) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) == depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def flat_subword_predictions(model, data: EncodedSplit, *, batch_size: int = EVAL_BATCH_SIZE, progress: Progress = NO_PROGRESS,
                             description: str = "predict", unit: str = "sentence") -> tuple[np.ndarray, np.ndarray]:
    """Predicted label id (int32) and its probability (float32) of every sub-word, in one flat array each, in
    data order: sentence i's are [offsets[i], offsets[i + 1]) with offsets = data.offsets()
    (shown through `progress` as a task of `description`, counting `unit`s). Sentences go through the model
    sorted by length, as evaluation_order puts them; two numbers a sub-word, no Python object a sentence.

    Two batches run at once: one model call alone left a quarter of the two CPU cores idle
    (its small ops run one at a time), and the results do not depend on it (each batch is
    computed by the same graph, whatever else runs beside it).
    """
    import tensorflow as tf

    forward = _forward(model)
    offsets = data.offsets()
    preds = np.zeros(offsets[-1], dtype=np.int32)
    scores = np.zeros(offsets[-1], dtype=np.float32)
    multiple = pad_multiple(gpu=bool(tf.config.list_logical_devices("GPU")), xla=False)
    dataset = make_dataset(data, evaluation_order(data.lengths), batch_size, labels=False, multiple=multiple)

    def run(batch):
        ids, probs = forward(batch["input_ids"], batch["attention_mask"])
        return batch["index"].numpy(), ids.numpy(), probs.numpy()

    with progress.task(description, len(data), unit) as task:
        for indices, ids, probs in _in_flight(run, dataset, depth=2):
            for row, index in enumerate(indices):
                a, b = offsets[index], offsets[index + 1]
                preds[a:b] = ids[row, :b - a]
                scores[a:b] = probs[row, :b - a]
            task.advance(len(indices))
    return preds, scores


def subword_predictions(model, data: EncodedSplit, *, batch_size: int = EVAL_BATCH_SIZE, progress: Progress = NO_PROGRESS,
                        description: str = "predict", unit: str = "sentence") -> tuple[list[np.ndarray], list[np.ndarray]]:
    """flat_subword_predictions per sentence: a list of views into the flat arrays each (no copies)."""
    preds, scores = flat_subword_predictions(model, data, batch_size=batch_size, progress=progress, description=description, unit=unit)
    if not len(data):
        return [], []
    cuts = data.offsets()[1:-1]
    return np.split(preds, cuts), np.split(scores, cuts)


def predict_word_tags(model, split, labels: list[str], pad_id: int, *, batch_size: int = EVAL_BATCH_SIZE,
                      progress: Progress = NO_PROGRESS, description: str = "predict") -> list[list[str]]:
    """Word-level tags for every sentence of a prepared split (words cut off by max length -> O)."""
    data = EncodedSplit.from_split(split, pad_id, with_labels=False)
    preds, _ = subword_predictions(model, data, batch_size=batch_size, progress=progress, description=description)
    word_ids = split["word_ids"]
    n_words = [len(t) for t in split["tokens"]]
    return [words_from_subwords(p, w, n, labels) for p, w, n in zip(preds, word_ids, n_words)]


def gold_word_tags(split, labels: list[str]) -> list[list[str]]:
    return [[labels[t] for t in tags] for tags in split["ner_tags"]]
