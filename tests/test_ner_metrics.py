"""The metric registry (snekner.ner.metrics): each metric defined once, and that one definition is what the stored
point values and the bootstrap's resampled values both use."""
from __future__ import annotations

import numpy as np
import pytest

from snekner.evaluation import bootstrap
from snekner.ner import metrics
from snekner.ner.metrics import DEFINITIONS, SCORE_ORDER, Metric, MetricDefinition, metric_values, point_value
from snekner.ner.scoring import sentence_counts, summarize


def test_every_metric_has_a_definition_and_a_place_in_the_score_order():
    assert set(DEFINITIONS) == set(Metric) == set(SCORE_ORDER)
    assert [m.value for m in SCORE_ORDER] == ["precision", "recall", "f1"]  # the order eval has always stored them in


def test_point_values_are_the_usual_formulas_bit_for_bit():
    rng = np.random.default_rng(0)
    counts = [tuple(int(x) for x in rng.integers(0, 10 ** int(rng.integers(1, 6)), 3)) for _ in range(3000)]
    counts += [(0, 0, 0), (0, 3, 0), (0, 0, 2), (5, 0, 0)]
    for tp, fp, fn in counts:
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        found = {m: point_value(m, tp, fp, fn) for m in Metric}
        assert found == {Metric.PRECISION: precision, Metric.RECALL: recall, Metric.F1: f1}  # ==, not approx: stored scores unchanged
        assert all(type(v) is float for v in found.values())


def test_resampled_values_are_the_point_values_of_each_row():
    totals = np.array([[[0, 0, 0], [0, 3, 0]], [[0, 0, 2], [2, 1, 1]], [[5, 0, 0], [7, 2, 9]]])
    for metric in Metric:
        found = metric_values(totals, metric)
        assert found.shape == (3, 2)
        assert found.tolist() == [[point_value(metric, *totals[i, j]) for j in range(2)] for i in range(3)]


def _critical_success_index(tp, fp, fn):
    """tp / (tp + fp + fn): a metric neither precision, recall nor F1, to see which code paths follow the registry."""
    return metrics._ratio(tp, tp + fp + fn)


def test_one_registry_entry_drives_the_stored_value_and_the_bootstrap(monkeypatch):
    monkeypatch.setitem(DEFINITIONS, Metric.PRECISION, MetricDefinition("CSI", "CSI", _critical_success_index))
    gold = [["B-PER", "O", "B-LOC"], ["B-LOC", "I-LOC", "O"], ["B-PER", "I-PER", "O"], ["O", "B-LOC", "O"]]
    pred = [["B-PER", "O", "O"], ["B-LOC", "O", "B-PER"], ["B-PER", "I-PER", "O"], ["O", "B-PER", "O"]]
    counts = sentence_counts(gold, pred, types=["PER", "LOC"])
    # the point value eval stores
    scores = summarize(counts)
    for typ, i in (("PER", 0), ("LOC", 1)):
        tp, fp, fn = counts.totals()[i]
        assert scores["per_type"][typ]["precision"] == tp / (tp + fp + fn)
    tp, fp, fn = counts.totals().sum(axis=0)
    assert scores["overall"]["precision"] == tp / (tp + fp + fn)
    # every bootstrap resample: the same definition on the resampled totals, not F1 (or the precision it replaced)
    resamples, seed = 5, 3
    (found,) = bootstrap.resample_scores([counts.counts], Metric.PRECISION, resamples, seed)
    (indices,) = list(bootstrap.resample_indices(len(gold), resamples, seed))
    for row, draw in zip(found, indices):
        totals = counts.counts[draw].sum(axis=0)
        expected = [a / (a + b + c) if a + b + c else 0.0 for a, b, c in totals] + [totals[:, 0].sum() / totals.sum()]
        assert row.tolist() == pytest.approx(expected, abs=1e-15)


def test_precision_intervals_are_of_precision_not_f1():
    """Two runs whose precision moves one way and F1 the other: the precision interval follows precision."""
    gold = [["B-PER", "O", "B-LOC"]] * 20 + [["B-LOC", "O", "O"]] * 20
    pred_a = [["B-PER", "O", "B-LOC"]] * 10 + [["B-PER", "O", "O"]] * 10 + [["B-LOC", "B-PER", "O"]] * 20  # found all, many spurious
    pred_b = [["B-PER", "O", "O"]] * 20 + [["O", "O", "O"]] * 20  # precise, missing most
    a, b = (sentence_counts(gold, p, types=["PER", "LOC"]).counts for p in (pred_a, pred_b))
    by_metric = {}
    for metric in (Metric.PRECISION, Metric.F1):
        sa, sb = bootstrap.resample_scores([a, b], metric, 200, 0)
        by_metric[metric] = bootstrap.interval(sb[:, -1] - sa[:, -1])
    assert by_metric[Metric.PRECISION]["low"] > 0  # B is the more precise
    assert by_metric[Metric.F1]["high"] < 0  # but A has the higher F1
