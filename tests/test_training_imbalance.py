"""Rare-type remedies: class weights from label counts, oversampling of sentences with rare types (issue 10 part 3)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import invoke, ok, one_line_error

from snekner.modeling.batches import training_order
from snekner.training import imbalance
from snekner.training.imbalance import ClassWeights

LABELS = ["O", "B-PER", "I-PER", "B-ODD", "I-ODD"]


def test_inverse_weights_follow_the_counts():
    counts = np.array([80, 10, 6, 4, 0])
    w = imbalance.class_weights(counts, ClassWeights.INVERSE)
    # total 100 over 4 labels seen: 100 / (4 * count); a label never seen weighs 0
    np.testing.assert_allclose(w, [100 / 320, 100 / 40, 100 / 24, 100 / 16, 0.0], rtol=1e-6)
    np.testing.assert_allclose(imbalance.class_weights(counts, "sqrt-inverse"), np.sqrt(w), rtol=1e-6)
    assert imbalance.class_weights(counts, "none") is None


def test_label_counts_leave_ignored_subwords_out():
    labels = np.array([0, 1, -100, 2, 0, 3, -100], dtype=np.int32)
    assert imbalance.label_counts(labels, 5).tolist() == [2, 1, 1, 1, 0]


def test_sentences_with_rare_types_are_repeated():
    # 10 sentences: PER in 6, ODD only in sentence 9 (share 0.1)
    lengths = np.full(10, 3)
    labels = np.zeros((10, 3), dtype=np.int32)
    labels[:6, 0], labels[:6, 1] = 1, 2
    labels[9, 2] = 3
    labels[:, 1][labels[:, 1] == 0] = -100  # some ignored sub-words
    types, present = imbalance.sentence_types(labels.reshape(-1), lengths, LABELS)
    assert types == ["PER", "ODD"]
    assert present[:, 0].tolist() == [True] * 6 + [False] * 4 and present[:, 1].tolist() == [False] * 9 + [True]
    repeats, factors = imbalance.sentence_repeats(present, min_share=0.3)
    assert factors.tolist() == [1, 3] and repeats.tolist() == [1] * 9 + [3]
    # capped, and off at 0
    repeats, factors = imbalance.sentence_repeats(present, min_share=0.99)
    assert factors.tolist() == [2, imbalance.MAX_REPEATS]
    assert imbalance.sentence_repeats(present, 0.0)[0].tolist() == [1] * 10


def test_training_order_with_repeats_holds_each_sentence_that_often():
    lengths = np.random.default_rng(0).integers(3, 40, size=200)
    repeats = np.ones(200, dtype=np.int64)
    repeats[[5, 17]] = [4, 2]
    order = training_order(lengths, 16, seed=3, epoch=0, repeats=repeats)
    assert np.bincount(order, minlength=200).tolist() == repeats.tolist()
    # no repeats: the order is the one an epoch had before oversampling existed
    np.testing.assert_array_equal(training_order(lengths, 16, 3, 0, repeats=None), training_order(lengths, 16, 3, 0))


def test_train_records_the_remedies(tmp_path, sample_dir, tiny_model):
    data = tmp_path / "data"
    ok("prep", "--dataset", sample_dir, "--lang", "en", "--tagset", "b", "--model", tiny_model, "--max-length", 48, "--out", data)
    runs = tmp_path / "runs"
    out = ok("train", data, "--name", "W", "--runs-dir", runs, "--epochs", 1, "--batch-size", 8, "--class-weights", "inverse",
             "--oversample", 0.5)
    manifest = json.loads((runs / "W" / "snekner-run.json").read_text())
    assert manifest["options"]["class_weights"] == "inverse" and manifest["options"]["oversample"] == 0.5
    found = manifest["imbalance"]
    assert set(found["class_weights"]) == set(manifest["data_manifest"]["tagset"]["labels"])
    assert found["class_weights"]["O"] < min(w for k, w in found["class_weights"].items() if k != "O" and w > 0)
    assert found["epoch_sentences"] > found["train_sentences"] == 120 and found["oversampled_types"]
    assert "oversampling " in out.output and f"{found['epoch_sentences']} sentences per epoch from 120" in out.output
    metrics = json.loads((runs / "W" / "metrics.jsonl").read_text().splitlines()[0])
    assert np.isfinite(metrics["train_loss"])
    ok("train", data, "--name", "P", "--runs-dir", runs, "--epochs", 1, "--batch-size", 8)
    assert "imbalance" not in json.loads((runs / "P" / "snekner-run.json").read_text())


@pytest.mark.parametrize("args, fragment", [(["--oversample", "1.5"], "--oversample must be 0 (off) or a share below 1"),
                                            (["--class-weights", "log"], "'log' is not one of")])
def test_bad_remedy_options_are_one_line(tmp_path, args, fragment):
    one_line_error(invoke("train", tmp_path, "--name", "X", "--runs-dir", tmp_path / "runs", *args), fragment)
