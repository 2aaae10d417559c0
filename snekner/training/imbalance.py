"""Remedies for rare entity types (the study's open limitation): per-label loss weights and oversampling.

Both are computed once from the prepared training split and recorded in the run manifest:

- class weights (`--class-weights inverse|sqrt-inverse`): label l weighs total/(K * count_l) (or
  its square root), K the number of labels seen in training, counted over the labelled sub-words;
  the loss is then the weighted mean over a batch's labelled sub-words (sum of w*ce / sum of w,
  as PyTorch's CrossEntropyLoss(weight=...) reduces), so its scale does not depend on the weights.
- oversampling (`--oversample S`): every entity type should occur in at least a share S of the
  epoch's sentences; a sentence holding a type below that share is repeated
  ceil(S / share of that type) times (at most MAX_REPEATS, the largest factor among its types),
  every epoch. The epoch grows by the repeated sentences, and so does the number of steps.
"""
from __future__ import annotations

import math
from enum import Enum

import numpy as np

from snekner.ner.labels import IGNORE

MAX_REPEATS = 10


class ClassWeights(str, Enum):
    NONE = "none"
    INVERSE = "inverse"
    SQRT_INVERSE = "sqrt-inverse"


def label_counts(labels: np.ndarray, n_labels: int) -> np.ndarray:
    """Labelled sub-words per label id (IGNORE left out)."""
    kept = labels[labels != IGNORE]
    return np.bincount(kept, minlength=n_labels).astype(np.int64)[:n_labels]


def class_weights(counts: np.ndarray, scheme: ClassWeights | str) -> np.ndarray | None:
    """Per-label loss weights from the training label counts (None for `none`); a label never seen weighs 0."""
    scheme = ClassWeights(scheme)
    if scheme == ClassWeights.NONE:
        return None
    counts = np.asarray(counts, dtype=np.float64)
    seen = counts > 0
    weights = np.zeros_like(counts)
    weights[seen] = counts.sum() / (seen.sum() * counts[seen])
    if scheme == ClassWeights.SQRT_INVERSE:
        weights = np.sqrt(weights)
    return weights.astype(np.float32)


def sentence_types(labels: np.ndarray, lengths: np.ndarray, label_names: list[str]) -> tuple[list[str], np.ndarray]:
    """The entity types and a [sentences, types] matrix: does the sentence hold a (B- or I-) label of the type."""
    types = list(dict.fromkeys(name[2:] for name in label_names if name != "O"))
    type_of = np.array([types.index(name[2:]) if name != "O" else -1 for name in label_names] + [-1], dtype=np.int64)
    sentence = np.repeat(np.arange(len(lengths)), lengths)
    typ = type_of[np.where(labels == IGNORE, len(label_names), labels)]
    present = np.zeros((len(lengths), len(types)), dtype=bool)
    present[sentence[typ >= 0], typ[typ >= 0]] = True
    return types, present


def sentence_repeats(present: np.ndarray, min_share: float) -> tuple[np.ndarray, np.ndarray]:
    """How often each sentence goes into an epoch so that each type reaches about `min_share` of the sentences,
    and the factor per type (1: not oversampled)."""
    n = present.shape[0]
    share = present.sum(axis=0) / max(n, 1)
    factors = np.ones(present.shape[1], dtype=np.int64)
    if min_share > 0:
        for t, s in enumerate(share):
            if 0 < s < min_share:
                factors[t] = min(MAX_REPEATS, math.ceil(min_share / s))
    repeats = np.where(present, factors[None, :], 1).max(axis=1, initial=1)
    return repeats.astype(np.int64), factors


def describe(label_names: list[str], counts: np.ndarray, *, weights: np.ndarray | None, types: list[str], factors: np.ndarray,
             repeats: np.ndarray) -> dict:
    """What the run manifest records about the remedies."""
    out = {"label_counts": {name: int(c) for name, c in zip(label_names, counts)}}
    if weights is not None:
        out["class_weights"] = {name: round(float(w), 6) for name, w in zip(label_names, weights)}
    if (factors > 1).any():
        out["oversampled_types"] = {t: int(f) for t, f in zip(types, factors) if f > 1}
        out["epoch_sentences"] = int(repeats.sum())
        out["train_sentences"] = int(len(repeats))
    return out
