"""The tf.data input pipeline, built straight from a prepared split's Arrow columns.

No per-example Python runs while training: each epoch's batch order is computed once with
numpy (by length, seeded), and TensorFlow gathers, pads and prefetches the batches.

Bucketing: the shuffled sentences are cut into windows of `window` batches, each window is
sorted by sub-word length and cut into batches, and the order of the batches is shuffled, so
each batch holds sentences of similar length while the epoch order stays random.

Balancing (the default): the same windows, each cut into the same number of batches, but at
about equal sub-word sums rather than every batch_size sentences, so a batch of short sentences
holds more of them. The loss is the mean over a batch's labelled sub-words, so with equal
sentence counts a word in a batch of short lines weighs several times what it weighs in a batch
of long ones; with equal sub-words every word weighs about the same, as in random batches
(issue 21: as fast as bucketing, and it learned as much as random batches or more).

Padding: with a GPU or XLA, batches are padded to a multiple of 8, which keeps the set of
shapes small (XLA compiles each shape once) and suits tensor cores. On a CPU without XLA
neither applies and the extra width is only wasted work, so batches are padded to their
longest sentence.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snekner.ner.labels import IGNORE

PAD_MULTIPLE = 8  # with a GPU or XLA; 1 otherwise (see pad_multiple)


@dataclass
class EncodedSplit:
    """A prepared split as flat numpy arrays plus per-sentence lengths."""

    input_ids: np.ndarray
    labels: np.ndarray | None
    lengths: np.ndarray
    pad_id: int

    @classmethod
    def from_split(cls, split, pad_id: int, with_labels: bool = True) -> "EncodedSplit":
        import pyarrow.compute as pc

        if getattr(split, "_indices", None) is not None:
            split = split.flatten_indices()
        table = split.data.table
        ids = table.column("input_ids").combine_chunks()
        lengths = pc.list_value_length(ids).to_numpy(zero_copy_only=False).astype(np.int64)
        values = pc.list_flatten(ids).to_numpy(zero_copy_only=False).astype(np.int32)
        labels = None
        if with_labels:
            labels = pc.list_flatten(table.column("labels").combine_chunks()).to_numpy(zero_copy_only=False).astype(np.int32)
        return cls(values, labels, lengths, int(pad_id))

    def offsets(self) -> np.ndarray:
        """Where each sentence starts in the flat arrays, and (last) where the last one ends: sentence i is
        input_ids[offsets[i]:offsets[i + 1]]."""
        return np.concatenate(([0], np.cumsum(self.lengths, dtype=np.int64)))

    def __len__(self) -> int:
        return len(self.lengths)


def training_order(lengths: np.ndarray, batch_size: int, seed: int, epoch: int, *, window: int = 50, bucketed: bool = True,
                   repeats: np.ndarray | None = None) -> np.ndarray:
    """Sentence indices for one epoch, grouped so that consecutive `batch_size` runs form batches.

    bucketed: batches of sentences of similar length (see the module docstring); otherwise a
    plain seeded permutation (every batch as long as its longest sentence: ~2x the padding).
    repeats: how often each sentence goes into the epoch (oversampling; default once each).
    """
    rng, perm = _shuffled(lengths, seed, epoch, repeats)
    if not bucketed:
        return perm
    grouped = _sorted_windows(perm, lengths, batch_size * window)
    order = np.concatenate(grouped) if grouped else perm
    n_full = len(order) // batch_size
    batches = order[: n_full * batch_size].reshape(n_full, batch_size)
    batches = batches[rng.permutation(n_full)]
    # the one short batch (if any) goes last, so every other batch has the same size
    return np.concatenate([batches.reshape(-1), order[n_full * batch_size:]])


@dataclass(frozen=True)
class EpochBatches:
    """One epoch's training batches: sentence indices in the order they are trained on, and where each batch
    starts in that order (batch i is order[starts[i]:starts[i + 1]])."""

    order: np.ndarray
    starts: np.ndarray

    def __len__(self) -> int:
        return len(self.starts) - 1

    def sentences_from(self, step: int) -> np.ndarray:
        """The sentences of batch `step` and every batch after it."""
        return self.order[self.starts[min(step, len(self))]:]


def epoch_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int, batching: str = "bucketed", *, window: int = 50,
                  repeats: np.ndarray | None = None) -> EpochBatches:
    """An epoch's batches by `batching` (the values of training.options.Batching), always batches_per_epoch of them:

    random    a plain seeded permutation cut into batches of batch_size sentences;
    bucketed  training_order's windows of `window` batches sorted by length, batch_size sentences a batch;
    balanced  the same windows sorted by length, each cut into as many batches as `bucketed` makes of it but with about
              equal sub-words in each rather than equal sentences (batch_size sentences on average), so that a batch of
              short sentences holds more of them; the batches are shuffled across the epoch.
    """
    if batching != "balanced":
        order = training_order(lengths, batch_size, seed, epoch, window=window, bucketed=batching == "bucketed", repeats=repeats)
        return EpochBatches(order, np.minimum(np.arange(0, batches_per_epoch(len(order), batch_size) + 1) * batch_size, len(order)))
    rng, perm = _shuffled(lengths, seed, epoch, repeats)
    batches = []
    for part in _sorted_windows(perm, lengths, batch_size * window):
        batches.extend(np.split(part, _equal_sum_cuts(lengths[part], batches_per_epoch(len(part), batch_size))))
    shuffled = [batches[i] for i in rng.permutation(len(batches))]
    sizes = np.array([len(b) for b in shuffled], dtype=np.int64)
    return EpochBatches(np.concatenate(shuffled) if shuffled else perm, np.concatenate(([0], np.cumsum(sizes))))


def _shuffled(lengths: np.ndarray, seed: int, epoch: int, repeats: np.ndarray | None) -> tuple[np.random.Generator, np.ndarray]:
    """The epoch's generator, and its seeded permutation of the sentences (each `repeats` times, default once)."""
    rng = np.random.default_rng([seed, epoch])
    population = np.arange(len(lengths)) if repeats is None else np.repeat(np.arange(len(lengths)), repeats)
    return rng, population[rng.permutation(len(population))]


def _sorted_windows(perm: np.ndarray, lengths: np.ndarray, span: int) -> list[np.ndarray]:
    """`perm` cut into windows of `span` sentences, each sorted by length."""
    return [part[np.argsort(lengths[part], kind="stable")] for part in (perm[start:start + span] for start in range(0, len(perm), span))]


def _equal_sum_cuts(values: np.ndarray, parts: int) -> list[int]:
    """Where to cut `values` (ascending) into `parts` runs of about equal sums, each holding at least one value."""
    total = np.cumsum(values)
    cuts = []
    for k in range(1, parts):
        cut = int(np.searchsorted(total, total[-1] * k / parts, side="left")) + 1
        cut = max(cut, cuts[-1] + 1 if cuts else 1)
        cuts.append(min(cut, len(values) - (parts - k)))
    return cuts


def batches_per_epoch(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def evaluation_order(lengths: np.ndarray) -> np.ndarray:
    return np.argsort(lengths, kind="stable")


def pad_multiple(gpu: bool, xla: bool) -> int:
    """The width batches are padded to a multiple of: 8 where shapes or tensor cores matter."""
    return PAD_MULTIPLE if gpu or xla else 1


def make_dataset(data: EncodedSplit, order: np.ndarray | EpochBatches, batch_size: int, *, skip_batches: int = 0, labels: bool = True,
                 multiple: int = PAD_MULTIPLE, class_weights: np.ndarray | None = None):
    """tf.data.Dataset of batches in `order` (batch_size sentences each; an EpochBatches: its own batches), padded to
    a multiple of `multiple`: input_ids, attention_mask (+ labels, n_labels: the labelled sub-words of the batch, or
    with class_weights the sum of their labels' weights)."""
    import tensorflow as tf

    # rows are gathered by their positions in the flat arrays: tf.gather on a RaggedTensor of the whole split costs
    # time growing with the split's rows at every batch (1.0 ms at 1.1 M rows against 0.36 ms at 11 k), this does not
    splits = tf.constant(data.offsets())
    ids = tf.constant(data.input_ids)
    lab = tf.constant(data.labels) if labels else None
    pad_id = data.pad_id
    weights = None if class_weights is None else tf.constant(class_weights, tf.float32)

    # not autograph-converted (no tensor-dependent Python control flow here): converting it cost
    # more at every make_dataset than a whole evaluation batch
    @tf.autograph.experimental.do_not_convert
    def gather_and_pad(index):
        positions = tf.ragged.range(tf.gather(splits, index), tf.gather(splits, index + 1))  # each row's sub-words
        batch_ids = positions.with_values(tf.gather(ids, positions.values))
        lengths = batch_ids.row_lengths()
        width = (tf.reduce_max(lengths) + multiple - 1) // multiple * multiple
        out = {
            "input_ids": batch_ids.to_tensor(default_value=pad_id, shape=tf.stack([tf.size(index, tf.int64), width])),
            "attention_mask": tf.sequence_mask(lengths, width, dtype=tf.int32),
            "index": index,
        }
        if lab is not None:
            batch_labels = positions.with_values(tf.gather(lab, positions.values)).to_tensor(
                default_value=IGNORE, shape=tf.stack([tf.size(index, tf.int64), width]))
            out["labels"] = batch_labels
            # the loss is normalised by the labelled tokens of the whole (global) batch, which every
            # replica must know; carried per example so that splitting the batch keeps it
            mask = tf.cast(batch_labels != IGNORE, tf.float32)
            if weights is not None:
                mask = mask * tf.gather(weights, tf.maximum(batch_labels, 0))
            n_labels = tf.reduce_sum(mask)
            out["n_labels"] = tf.fill(tf.shape(index), n_labels)
        return out

    if isinstance(order, EpochBatches):
        ds = tf.data.Dataset.from_tensor_slices(tf.RaggedTensor.from_row_splits(order.order.astype(np.int64), order.starts))
    else:
        ds = tf.data.Dataset.from_tensor_slices(order.astype(np.int64)).batch(batch_size)
    if skip_batches:
        ds = ds.skip(skip_batches)
    # A gather and a pad per batch is cheap next to a training step: two batches in flight are
    # plenty. Autotuning is off on purpose: its optimisation thread makes the iterator's
    # destructor wait (stalls of tens of seconds at the end of each epoch on a busy machine).
    ds = ds.map(gather_and_pad, num_parallel_calls=2, deterministic=True).prefetch(2)
    options = tf.data.Options()
    options.autotune.enabled = False
    # across workers, each takes its share of every global batch (there are no files to shard)
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)
