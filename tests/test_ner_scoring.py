"""Tests for snekner.ner.scoring: conlleval-exact chunking and scores, strict IOB2, word-level tags.

The expected entity spans and the conlleval output lines below were worked out by hand from
the rules of the CoNLL script conlleval (startOfChunk / endOfChunk); `conlleval_port` is a
line-by-line Python transcription of that script's main loop, used as a second reference
for random data, next to seqeval.
"""
from __future__ import annotations

import random
import warnings

import numpy as np
import pytest

from snekner.ner.scoring import (
    chunk,
    conlleval_chunks,
    prf,
    score,
    sentence_counts,
    strict_chunks,
    summarize,
    words_from_subwords,
)

# ----------------------------------------------------------------------------- helpers


def conlleval_lines(result: dict) -> list[str]:
    """snekner's scores printed the way conlleval prints them (overall two lines, then per type)."""
    o = result["overall"]
    found = o["tp"] + o["fp"]
    tokens = result.get("_tokens")
    lines = [f"processed {tokens} tokens with {o['support']} phrases; found: {found} phrases; correct: {o['tp']}."]
    if tokens:
        lines.append(
            "accuracy: %6.2f%%; precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f"
            % (100 * o["accuracy"], 100 * o["precision"], 100 * o["recall"], 100 * o["f1"])
        )
    for typ in sorted(result["per_type"]):
        t = result["per_type"][typ]
        lines.append(
            "%17s: precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f  %d"
            % (typ, 100 * t["precision"], 100 * t["recall"], 100 * t["f1"], t["tp"] + t["fp"])
        )
    return lines


def scored(gold, pred, mode="conlleval"):
    result = score(gold, pred, mode)
    result["_tokens"] = sum(len(s) for s in gold)
    return result


def _split_tag(tag: str) -> tuple[str, str]:
    # conlleval 2004-01-26: /^([^-]*)-(.*)$/ else (tag, "")
    if "-" in tag:
        head, _, rest = tag.partition("-")
        return head, rest
    return tag, ""


def _end_of_chunk(prev_tag, tag, prev_type, typ) -> bool:
    end = False
    if prev_tag == "B" and tag == "B":
        end = True
    if prev_tag == "B" and tag == "O":
        end = True
    if prev_tag == "I" and tag == "B":
        end = True
    if prev_tag == "I" and tag == "O":
        end = True
    if prev_tag != "O" and prev_tag != "." and prev_type != typ:
        end = True
    return end


def _start_of_chunk(prev_tag, tag, prev_type, typ) -> bool:
    start = False
    if prev_tag == "B" and tag == "B":
        start = True
    if prev_tag == "I" and tag == "B":
        start = True
    if prev_tag == "O" and tag == "B":
        start = True
    if prev_tag == "O" and tag == "I":
        start = True
    if tag != "O" and tag != "." and prev_type != typ:
        start = True
    return start


def conlleval_port(gold: list[list[str]], pred: list[list[str]]) -> dict:
    """The main loop of conlleval over sentences separated by boundary lines (tags O / O)."""
    lines = []
    for g, p in zip(gold, pred):
        lines += [(False, a, b) for a, b in zip(g, p)]
        lines.append((True, "O", "O"))
    correct_chunk = found_correct = found_guessed = correct_tags = token_counter = 0
    per = {}  # type -> [correct, guessed, gold]
    in_correct = False
    last_correct, last_correct_type, last_guessed, last_guessed_type = "O", "", "O", ""
    for boundary, gold_tag, guess_tag in lines:
        correct, correct_type = _split_tag(gold_tag)
        guessed, guessed_type = _split_tag(guess_tag)
        if boundary:
            guessed = "O"
        if in_correct:
            end_c = _end_of_chunk(last_correct, correct, last_correct_type, correct_type)
            end_g = _end_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
            if end_c and end_g and last_guessed_type == last_correct_type:
                in_correct = False
                correct_chunk += 1
                per.setdefault(last_correct_type, [0, 0, 0])[0] += 1
            elif end_c != end_g or guessed_type != correct_type:
                in_correct = False
        start_c = _start_of_chunk(last_correct, correct, last_correct_type, correct_type)
        start_g = _start_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
        if start_c and start_g and guessed_type == correct_type:
            in_correct = True
        if start_c:
            found_correct += 1
            per.setdefault(correct_type, [0, 0, 0])[2] += 1
        if start_g:
            found_guessed += 1
            per.setdefault(guessed_type, [0, 0, 0])[1] += 1
        if not boundary:
            if correct == guessed and guessed_type == correct_type:
                correct_tags += 1
            token_counter += 1
        last_guessed, last_correct, last_guessed_type, last_correct_type = guessed, correct, guessed_type, correct_type
    if in_correct:
        correct_chunk += 1
        per.setdefault(last_correct_type, [0, 0, 0])[0] += 1
    return {"correct": correct_chunk, "guessed": found_guessed, "gold": found_correct,
            "correct_tags": correct_tags, "tokens": token_counter, "per_type": {t: tuple(v) for t, v in per.items()}}


# ----------------------------------------------------------------------------- chunking tables

# (tags, conlleval entities, strict IOB2 entities), all worked out by hand
CHUNK_CASES = [
    pytest.param([], [], [], id="empty sentence"),
    pytest.param(["O", "O", "O"], [], [], id="no entities"),
    pytest.param(["B-PER"], [("PER", 0, 0)], [("PER", 0, 0)], id="single token sentence"),
    pytest.param(["B-ORG", "O", "B-PER"], [("ORG", 0, 0), ("PER", 2, 2)], [("ORG", 0, 0), ("PER", 2, 2)], id="single-token entities"),
    pytest.param(["O", "B-LOC", "I-LOC"], [("LOC", 1, 2)], [("LOC", 1, 2)], id="entity at sentence end"),
    pytest.param(["B-PER", "I-PER", "I-PER"], [("PER", 0, 2)], [("PER", 0, 2)], id="whole sentence one entity"),
    pytest.param(["O", "I-PER", "I-PER", "O"], [("PER", 1, 2)], [], id="I-X after O starts an entity"),
    pytest.param(["I-ORG", "I-ORG"], [("ORG", 0, 1)], [], id="I-X at sentence start"),
    pytest.param(["I-ORG"], [("ORG", 0, 0)], [], id="lone I-X"),
    pytest.param(["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 0), ("LOC", 1, 2)], [("PER", 0, 0)], id="I-X after B-Y"),
    pytest.param(["B-PER", "I-PER", "I-LOC", "B-LOC"], [("PER", 0, 1), ("LOC", 2, 2), ("LOC", 3, 3)], [("PER", 0, 1), ("LOC", 3, 3)],
                 id="I-X after I-Y then B-X"),
    pytest.param(["B-LOC", "I-PER", "I-LOC"], [("LOC", 0, 0), ("PER", 1, 1), ("LOC", 2, 2)], [("LOC", 0, 0)], id="type flips twice"),
    pytest.param(["B-PER", "B-PER"], [("PER", 0, 0), ("PER", 1, 1)], [("PER", 0, 0), ("PER", 1, 1)], id="B-X B-X two entities"),
    pytest.param(["B-PER", "I-PER", "B-PER", "I-PER"], [("PER", 0, 1), ("PER", 2, 3)], [("PER", 0, 1), ("PER", 2, 3)], id="B-X I-X B-X I-X"),
    pytest.param(["B-PER", "I-PER", "I-PER", "O", "I-PER"], [("PER", 0, 2), ("PER", 4, 4)], [("PER", 0, 2)], id="I-X after gap"),
    pytest.param(["B-LOC", "I-LOC", "O", "I-LOC", "B-LOC", "I-LOC"], [("LOC", 0, 1), ("LOC", 3, 3), ("LOC", 4, 5)], [("LOC", 0, 1), ("LOC", 4, 5)],
                 id="stray I-X between entities"),
    pytest.param(["I-PER", "B-PER", "I-LOC", "I-LOC", "O"], [("PER", 0, 0), ("PER", 1, 1), ("LOC", 2, 3)], [("PER", 1, 1)], id="mixed violations"),
    pytest.param(["B-MEDIA", "I-MEDIA", "B-VEHI"], [("MEDIA", 0, 1), ("VEHI", 2, 2)], [("MEDIA", 0, 1), ("VEHI", 2, 2)], id="longer type names"),
]


@pytest.mark.parametrize("tags, expected, _strict", CHUNK_CASES)
def test_conlleval_chunks(tags, expected, _strict):
    assert conlleval_chunks(tags) == expected
    assert chunk(tags) == expected
    assert chunk(tags, "conlleval") == expected


@pytest.mark.parametrize("tags, _conll, expected", CHUNK_CASES)
def test_strict_chunks(tags, _conll, expected):
    assert strict_chunks(tags) == expected
    assert chunk(tags, "strict") == expected


@pytest.mark.parametrize("tags, expected, _strict", CHUNK_CASES)
def test_hand_table_agrees_with_conlleval_port(tags, expected, _strict):
    # the hand-worked spans counted as conlleval counts phrases
    port = conlleval_port([tags], [tags])
    assert port["gold"] == len(expected)
    assert port["correct"] == len(expected)
    assert {t: v[2] for t, v in port["per_type"].items()} == {t: sum(1 for c in expected if c[0] == t) for t in {c[0] for c in expected}}


# ----------------------------------------------------------------------------- whole-corpus scores (conlleval output)

# (gold sentences, predicted sentences, conlleval's output lines), worked out by hand
SCORE_CASES = [
    pytest.param(
        [["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]],
        ["processed 3 tokens with 1 phrases; found: 1 phrases; correct: 0.",
         "accuracy:  66.67%; precision:   0.00%; recall:   0.00%; FB1:   0.00",
         "              PER: precision:   0.00%; recall:   0.00%; FB1:   0.00  1"],
        id="partial overlap is not correct",
    ),
    pytest.param(
        [["O", "B-PER", "I-PER", "O"]], [["O", "B-PER", "I-PER", "I-PER"]],
        ["processed 4 tokens with 1 phrases; found: 1 phrases; correct: 0.",
         "accuracy:  75.00%; precision:   0.00%; recall:   0.00%; FB1:   0.00",
         "              PER: precision:   0.00%; recall:   0.00%; FB1:   0.00  1"],
        id="predicted span too long",
    ),
    pytest.param(
        [["B-PER", "I-PER"]], [["B-ORG", "I-ORG"]],
        ["processed 2 tokens with 1 phrases; found: 1 phrases; correct: 0.",
         "accuracy:   0.00%; precision:   0.00%; recall:   0.00%; FB1:   0.00",
         "              ORG: precision:   0.00%; recall:   0.00%; FB1:   0.00  1",
         "              PER: precision:   0.00%; recall:   0.00%; FB1:   0.00  0"],
        id="same span other type",
    ),
    pytest.param(
        [["O", "O", "O"]], [["O", "O", "O"]],
        ["processed 3 tokens with 0 phrases; found: 0 phrases; correct: 0.",
         "accuracy: 100.00%; precision:   0.00%; recall:   0.00%; FB1:   0.00"],
        id="no entities at all",
    ),
    pytest.param(
        [["O", "O"], []], [["B-LOC", "O"], []],
        ["processed 2 tokens with 0 phrases; found: 1 phrases; correct: 0.",
         "accuracy:  50.00%; precision:   0.00%; recall:   0.00%; FB1:   0.00",
         "              LOC: precision:   0.00%; recall:   0.00%; FB1:   0.00  1"],
        id="false positive only",
    ),
    pytest.param(
        [[], []], [[], []],
        ["processed 0 tokens with 0 phrases; found: 0 phrases; correct: 0."],
        id="only empty sentences",
    ),
    pytest.param(
        [["B-PER", "I-PER", "O", "B-ORG"], ["B-LOC"]], [["B-PER", "I-PER", "O", "O"], ["B-LOC"]],
        ["processed 5 tokens with 3 phrases; found: 2 phrases; correct: 2.",
         "accuracy:  80.00%; precision: 100.00%; recall:  66.67%; FB1:  80.00",
         "              LOC: precision: 100.00%; recall: 100.00%; FB1: 100.00  1",
         "              ORG: precision:   0.00%; recall:   0.00%; FB1:   0.00  0",
         "              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  1"],
        id="missed entity",
    ),
    pytest.param(
        # s1 two correct; s2 gold I-ORG after O = ORG(1,2), predicted B-ORG I-ORG = ORG(1,2): correct;
        # s3 gold two LOC, predicted one long LOC; s4 empty; s5 B-PER then I-LOC predicted: PER correct, LOC false
        [["B-PER", "I-PER", "O", "B-LOC"], ["O", "I-ORG", "I-ORG", "O"], ["B-LOC", "B-LOC"], [], ["B-PER", "O"]],
        [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "O"], ["B-LOC", "I-LOC"], [], ["B-PER", "I-LOC"]],
        ["processed 12 tokens with 6 phrases; found: 6 phrases; correct: 4.",
         "accuracy:  75.00%; precision:  66.67%; recall:  66.67%; FB1:  66.67",
         "              LOC: precision:  33.33%; recall:  33.33%; FB1:  33.33  3",
         "              ORG: precision: 100.00%; recall: 100.00%; FB1: 100.00  1",
         "              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  2"],
        id="mixed corpus",
    ),
    pytest.param(
        # an entity ending a sentence does not run into an I-X starting the next one
        [["O", "B-PER"], ["I-PER", "O"]], [["O", "B-PER"], ["B-PER", "O"]],
        ["processed 4 tokens with 2 phrases; found: 2 phrases; correct: 2.",
         "accuracy:  75.00%; precision: 100.00%; recall: 100.00%; FB1: 100.00",
         "              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  2"],
        id="sentence boundary ends entities",
    ),
]


@pytest.mark.parametrize("gold, pred, expected", SCORE_CASES)
def test_scores_print_like_conlleval(gold, pred, expected):
    assert conlleval_lines(scored(gold, pred)) == expected


@pytest.mark.parametrize("gold, pred, _expected", SCORE_CASES)
def test_scores_equal_conlleval_port_counts(gold, pred, _expected):
    port = conlleval_port(gold, pred)
    result = score(gold, pred)
    o = result["overall"]
    assert (o["tp"], o["tp"] + o["fp"], o["tp"] + o["fn"]) == (port["correct"], port["guessed"], port["gold"])
    assert {t: (v["tp"], v["tp"] + v["fp"], v["tp"] + v["fn"]) for t, v in result["per_type"].items()} == port["per_type"]
    if port["tokens"]:
        assert o["accuracy"] == port["correct_tags"] / port["tokens"]


def test_mixed_corpus_exact_counts_both_modes():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "I-ORG", "I-ORG", "O"], ["B-LOC", "B-LOC"], [], ["B-PER", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "O"], ["B-LOC", "I-LOC"], [], ["B-PER", "I-LOC"]]
    r = score(gold, pred)
    assert {t: (v["tp"], v["fp"], v["fn"], v["support"]) for t, v in r["per_type"].items()} == {
        "LOC": (1, 2, 2, 3), "ORG": (1, 0, 0, 1), "PER": (2, 0, 0, 2)}
    assert (r["overall"]["tp"], r["overall"]["fp"], r["overall"]["fn"], r["overall"]["support"]) == (4, 2, 2, 6)
    assert r["overall"]["precision"] == pytest.approx(4 / 6)
    assert r["overall"]["accuracy"] == 9 / 12
    # strict: the gold I-ORG I-ORG is no entity, so the predicted ORG is a false positive; I-LOC after B-PER is dropped
    s = score(gold, pred, "strict")
    assert {t: (v["tp"], v["fp"], v["fn"]) for t, v in s["per_type"].items()} == {
        "LOC": (1, 1, 2), "ORG": (0, 1, 0), "PER": (2, 0, 0)}
    assert (s["overall"]["tp"], s["overall"]["fp"], s["overall"]["fn"]) == (3, 2, 2)
    assert s["overall"]["precision"] == pytest.approx(0.6)
    assert s["overall"]["recall"] == pytest.approx(0.6)
    assert s["overall"]["f1"] == pytest.approx(0.6)
    assert s["overall"]["accuracy"] == 9 / 12  # accuracy does not depend on the chunking mode


# ----------------------------------------------------------------------------- sentence_counts / summarize / prf


def test_sentence_counts_shape_and_values():
    gold = [["B-PER", "O"], ["B-LOC", "I-LOC", "O"], []]
    pred = [["B-PER", "O"], ["B-LOC", "O", "B-ORG"], []]
    sc = sentence_counts(gold, pred)
    assert sc.types == ["LOC", "ORG", "PER"]  # sorted when not given
    assert sc.counts.shape == (3, 3, 3)
    assert sc.counts[0].tolist() == [[0, 0, 0], [0, 0, 0], [1, 0, 0]]
    assert sc.counts[1].tolist() == [[0, 1, 1], [0, 1, 0], [0, 0, 0]]
    assert sc.counts[2].tolist() == [[0, 0, 0]] * 3
    assert sc.words.tolist() == [2, 3, 0]
    assert sc.correct_words.tolist() == [2, 1, 0]
    assert sc.totals().tolist() == [[0, 1, 1], [0, 1, 0], [1, 0, 0]]
    assert sc.totals(np.array([1])).tolist() == [[0, 1, 1], [0, 1, 0], [0, 0, 0]]


def test_sentence_counts_given_types_keep_order_and_zero_rows():
    sc = sentence_counts([["B-PER", "B-DIS"]], [["B-PER", "O"]], types=["PER", "ORG", "LOC"])
    assert sc.types == ["PER", "ORG", "LOC", "DIS"]  # given order first, unseen found types appended
    r = summarize(sc)
    assert list(r["per_type"]) == ["PER", "ORG", "LOC", "DIS"]
    assert r["per_type"]["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "tp": 0, "fp": 0, "fn": 0}
    assert r["per_type"]["DIS"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "tp": 0, "fp": 0, "fn": 1}
    assert r["per_type"]["PER"]["f1"] == 1.0


def test_summarize_rows_subset():
    gold = [["B-PER"], ["B-LOC"], ["B-LOC", "O"]]
    pred = [["B-PER"], ["O"], ["B-LOC", "B-LOC"]]
    sc = sentence_counts(gold, pred)
    all_rows = summarize(sc)
    assert (all_rows["overall"]["tp"], all_rows["overall"]["fp"], all_rows["overall"]["fn"]) == (2, 1, 1)
    assert all_rows["overall"]["accuracy"] == 2 / 4
    sub = summarize(sc, np.array([1, 2]))
    assert (sub["overall"]["tp"], sub["overall"]["fp"], sub["overall"]["fn"]) == (1, 1, 1)
    assert sub["overall"]["accuracy"] == 1 / 3
    assert sub["per_type"]["LOC"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2, "tp": 1, "fp": 1, "fn": 1}
    assert sub["per_type"]["PER"]["support"] == 0
    # rows may repeat (bootstrap resampling)
    twice = summarize(sc, np.array([0, 0]))
    assert (twice["overall"]["tp"], twice["overall"]["support"], twice["overall"]["accuracy"]) == (2, 2, 1.0)


def test_summarize_without_types_or_words():
    r = score([[]], [[]])
    assert r["per_type"] == {}
    assert r["overall"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "accuracy": 0.0, "support": 0, "tp": 0, "fp": 0, "fn": 0}


def test_accuracy_counts_exact_tag_equality():
    # B-PER vs I-PER differs, O vs O agrees; 2 of 5 words right
    r = score([["B-PER", "I-PER", "O", "B-LOC", "O"]], [["I-PER", "I-PER", "B-ORG", "B-ORG", "I-ORG"]])
    assert r["overall"]["accuracy"] == 1 / 5
    r = score([["B-PER", "I-PER", "O"], ["O"]], [["B-PER", "O", "O"], ["O"]])
    assert r["overall"]["accuracy"] == 3 / 4


def test_prf_values():
    assert prf(2, 1, 3) == pytest.approx((2 / 3, 2 / 5, 2 * (2 / 3) * (2 / 5) / (2 / 3 + 2 / 5)))
    assert prf(0, 0, 0) == (0.0, 0.0, 0.0)
    assert prf(0, 3, 0) == (0.0, 0.0, 0.0)
    assert prf(1, 0, 0) == (1.0, 1.0, 1.0)


def test_length_mismatches_raise():
    with pytest.raises(ValueError, match="2 gold sentences but 1 predicted"):
        sentence_counts([["O"], ["O"]], [["O"]])
    with pytest.raises(ValueError, match="sentence 1: 2 gold tags but 1 predicted"):
        sentence_counts([["O"], ["O", "O"]], [["O"], ["O"]])


# ----------------------------------------------------------------------------- words_from_subwords


def test_words_from_subwords_first_subword_stands_for_word():
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    # [CLS] w0 w0 w1 w2 w2 w2 [SEP]
    preds = np.array([3, 1, 4, 0, 3, 1, 1, 2])
    word_ids = [-1, 0, 0, 1, 2, 2, 2, -1]
    assert words_from_subwords(preds, word_ids, 3, labels) == ["B-PER", "O", "B-LOC"]


def test_words_from_subwords_unseen_words_are_outside():
    labels = ["O", "B-PER", "I-PER"]
    # sentence of 4 words cut after word 1 (max length): words 2 and 3 have no sub-words
    preds = np.array([0, 1, 2, 2, 0])
    word_ids = [-1, 0, 1, 1, -1]
    assert words_from_subwords(preds, word_ids, 4, labels) == ["B-PER", "I-PER", "O", "O"]
    assert words_from_subwords(preds, word_ids, 4, ["X", "B-PER", "I-PER"], outside="X") == ["B-PER", "I-PER", "X", "X"]
    assert words_from_subwords(np.array([1, 1]), [-1, -1], 2, labels) == ["O", "O"]
    assert words_from_subwords(np.array([]), [], 0, labels) == []


# ----------------------------------------------------------------------------- random cross-checks

TAGS = ["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC-X", "I-MISC-X"]


def _random_corpora(seed: int, n_sentences: int, per_corpus: int):
    """Seeded random BIO sequences (many invalid: I-X after O or another type), grouped into corpora.

    Predictions are mostly a perturbed copy of the gold tags so that correct entities occur often.
    """
    rng = random.Random(seed)
    corpora = []
    for _ in range(n_sentences // per_corpus):
        gold, pred = [], []
        for _ in range(per_corpus):
            n = rng.randint(0, 9)
            g = [rng.choice(TAGS) for _ in range(n)]
            p = [t if rng.random() < 0.7 else rng.choice(TAGS) for t in g]
            gold.append(g)
            pred.append(p)
        corpora.append((gold, pred))
    return corpora


CORPORA = _random_corpora(seed=20240601, n_sentences=2000, per_corpus=8)


def test_random_sequences_are_invalid_often():
    # the cross-checks below are only meaningful if they cover BIO violations and empty sentences
    sentences = [s for gold, pred in CORPORA for s in gold + pred]
    assert len(sentences) == 4000
    with_violation = sum(1 for s in sentences if len(conlleval_chunks(s)) != len(strict_chunks(s)))
    assert with_violation > 1000
    assert sum(1 for s in sentences if not s) > 100


def test_conlleval_mode_equals_conlleval_port_on_random_data():
    for gold, pred in CORPORA:
        port = conlleval_port(gold, pred)
        r = score(gold, pred)
        o = r["overall"]
        assert (o["tp"], o["tp"] + o["fp"], o["tp"] + o["fn"]) == (port["correct"], port["guessed"], port["gold"]), (gold, pred)
        assert {t: (v["tp"], v["tp"] + v["fp"], v["tp"] + v["fn"]) for t, v in r["per_type"].items()} == port["per_type"], (gold, pred)
        if port["tokens"]:
            assert o["accuracy"] == port["correct_tags"] / port["tokens"]


def _seqeval_report(gold, pred, **kwargs):
    from seqeval.metrics import classification_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return classification_report(gold, pred, output_dict=True, zero_division=0, **kwargs)


def _assert_matches_seqeval(result, report, context):
    types = [k for k in report if not k.endswith(" avg")]
    assert sorted(types) == sorted(result["per_type"]), context
    for typ in types:
        ours, theirs = result["per_type"][typ], report[typ]
        assert ours["precision"] == pytest.approx(theirs["precision"], abs=1e-12), (typ, context)
        assert ours["recall"] == pytest.approx(theirs["recall"], abs=1e-12), (typ, context)
        assert ours["f1"] == pytest.approx(theirs["f1-score"], abs=1e-12), (typ, context)
        assert ours["support"] == theirs["support"], (typ, context)
    micro = report["micro avg"]
    o = result["overall"]
    assert o["precision"] == pytest.approx(micro["precision"], abs=1e-12), context
    assert o["recall"] == pytest.approx(micro["recall"], abs=1e-12), context
    assert o["f1"] == pytest.approx(micro["f1-score"], abs=1e-12), context
    assert o["support"] == micro["support"], context


@pytest.mark.parametrize("mode", ["conlleval", "strict"])
def test_random_sequences_match_seqeval(mode):
    from seqeval.scheme import IOB2

    kwargs = {"mode": "strict", "scheme": IOB2} if mode == "strict" else {}
    compared = 0
    for gold, pred in CORPORA:
        result = score(gold, pred, mode)
        if not result["per_type"]:
            continue  # seqeval cannot report a corpus without any entity
        _assert_matches_seqeval(result, _seqeval_report(gold, pred, **kwargs), (gold, pred))
        compared += 1
    assert compared > 240


def test_random_entities_match_seqeval_get_entities():
    from seqeval.metrics.sequence_labeling import get_entities
    from seqeval.scheme import IOB2, Entities

    for gold, pred in CORPORA:
        for sentence in gold + pred:
            expected = sorted((t, s, e) for t, s, e in get_entities(sentence))
            assert sorted(conlleval_chunks(sentence)) == expected, sentence
            strict = Entities([sentence], IOB2).entities[0]
            assert sorted(strict_chunks(sentence)) == sorted((e.tag, e.start, e.end - 1) for e in strict), sentence
