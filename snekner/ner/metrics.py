"""The entity metrics, each defined once: its value from true-positive, false-positive and false-negative counts.

A metric is one function of the tp, fp and fn totals that takes numbers and numpy arrays alike. The point value
`snekner eval` stores (scoring.summarize, via point_value) and the value on every bootstrap resample
(evaluation.bootstrap, via metric_values over [..., 3] arrays of totals) are that one function, so they cannot
disagree; a new Metric member needs its entry in DEFINITIONS, or importing this module fails.

It lives in ner/, the lowest layer, beside the word-level scoring whose counts it reads: the store (typed scores),
training (validation F1), evaluation (the bootstrap) and present (tables, cards) all need it.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable

import numpy as np


class Metric(str, Enum):
    """The entity metrics `compare` can compare runs by (each stored per type and overall by `eval`)."""

    F1 = "f1"
    PRECISION = "precision"
    RECALL = "recall"


DEFAULT_METRIC = Metric.F1


def _ratio(numerator, denominator):
    """numerator / denominator, 0 where the denominator is 0 (a metric without any entity to count is 0)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=np.asarray(denominator) > 0)


def _precision(tp, fp, fn):
    return _ratio(tp, tp + fp)


def _recall(tp, fp, fn):
    return _ratio(tp, tp + fn)


def _f1(tp, fp, fn):
    precision, recall = _precision(tp, fp, fn), _recall(tp, fp, fn)
    return _ratio(2 * precision * recall, precision + recall)


@dataclass(frozen=True)
class MetricDefinition:
    title: str  # as a heading or a model card's metadata names it
    in_text: str  # as a column of a table in prose (a model card's) names it
    of_counts: Callable  # (tp, fp, fn) as float64 numbers or arrays of one shape -> the metric, 0 where undefined


DEFINITIONS: dict[Metric, MetricDefinition] = {
    Metric.PRECISION: MetricDefinition("Precision", "precision", _precision),
    Metric.RECALL: MetricDefinition("Recall", "recall", _recall),
    Metric.F1: MetricDefinition("F1", "F1", _f1),
}
# the order in which scores are stored (eval/<split>.json) and shown (score tables, model cards)
SCORE_ORDER: tuple[Metric, ...] = tuple(DEFINITIONS)

if set(DEFINITIONS) != set(Metric):  # pragma: no cover - a Metric member added without its definition
    raise ImportError(f"metrics without a definition: {sorted(set(Metric) - set(DEFINITIONS))}")


def metric_values(totals, metric: Metric | str) -> np.ndarray:
    """The metric from tp/fp/fn totals on the last axis ([..., 3] -> [...]): every bootstrap resample's value."""
    totals = np.asarray(totals, dtype=np.float64)  # exact: counts are small integers
    return DEFINITIONS[Metric(metric)].of_counts(totals[..., 0], totals[..., 1], totals[..., 2])


def point_value(metric: Metric | str, tp: int, fp: int, fn: int) -> float:
    """The metric of one set of counts, as `eval` stores it: metric_values of [tp, fp, fn]."""
    return float(metric_values([tp, fp, fn], metric))


def title(metric: Metric | str) -> str:
    return DEFINITIONS[Metric(metric)].title


def in_text(metric: Metric | str) -> str:
    return DEFINITIONS[Metric(metric)].in_text
