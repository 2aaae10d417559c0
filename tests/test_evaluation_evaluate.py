"""Per-language scores and the entity-type confusion table, on hand-worked cases (no model)."""
from __future__ import annotations

import pytest

from snekner.evaluation.evaluate import per_language, score_predictions
from snekner.present.text import render_confusion, render_scores
from snekner.store.evaluations import Evaluation
from snekner.ner.scoring import confusion, score, sentence_counts


def blank(typ: str) -> dict:
    return {"support": 0, "correct": 0, "wrong_type": {}, "boundary": 0, "missed": 0}


def row(support=0, correct=0, wrong_type=None, boundary=0, missed=0) -> dict:
    return {"support": support, "correct": correct, "wrong_type": wrong_type or {}, "boundary": boundary, "missed": missed}


# -- confusion ------------------------------------------------------------------------------------
@pytest.mark.parametrize("gold, pred, expected_gold, expected_spurious", [
    # same span, other type: wrong_type; the ORG prediction overlaps gold, so it is not spurious
    (["B-PER", "I-PER", "O"], ["B-ORG", "I-ORG", "O"], {"PER": row(1, wrong_type={"ORG": 1})}, {}),
    # prediction of the right type, shorter span: boundary
    (["B-LOC", "I-LOC", "I-LOC"], ["B-LOC", "I-LOC", "O"], {"LOC": row(1, boundary=1)}, {}),
    # prediction of the right type, longer span: boundary
    (["O", "B-LOC", "O"], ["B-LOC", "I-LOC", "O"], {"LOC": row(1, boundary=1)}, {}),
    # gold entity split in two by the prediction: one boundary, nothing spurious
    (["B-ORG", "I-ORG", "I-ORG", "I-ORG"], ["B-ORG", "I-ORG", "B-ORG", "I-ORG"], {"ORG": row(1, boundary=1)}, {}),
    # overlapped only by another type with another span: missed (and that prediction is not spurious)
    (["B-PER", "I-PER"], ["B-ORG", "O"], {"PER": row(1, missed=1)}, {}),
    # nothing predicted: missed
    (["B-PER", "O"], ["O", "O"], {"PER": row(1, missed=1)}, {}),
    # a prediction on words with no gold entity: spurious under its predicted type
    (["O", "O", "B-PER"], ["B-LOC", "O", "B-PER"], {"PER": row(1, correct=1)}, {"LOC": 1}),
    # same span, same type: correct
    (["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "I-PER", "O", "B-LOC"], {"PER": row(1, correct=1), "LOC": row(1, correct=1)}, {}),
])
def test_confusion_hand_worked(gold, pred, expected_gold, expected_spurious):
    result = confusion([gold], [pred])
    for typ, expected in expected_gold.items():
        assert result["gold"][typ] == expected, typ
    for typ, counts in result["gold"].items():
        if typ not in expected_gold:
            assert counts == blank(typ), typ
    assert {t: n for t, n in result["spurious"].items() if n} == expected_spurious


def test_i_after_o_starts_an_entity_in_conlleval_but_not_in_strict():
    gold = [["O", "B-PER", "I-PER"], ["O", "B-PER", "O"]]
    pred = [["O", "I-PER", "I-PER"], ["I-PER", "O", "O"]]
    lenient = confusion(gold, pred, "conlleval")
    # sentence 1: I-PER I-PER is the entity PER 1-2 (correct); sentence 2: I-PER at 0 is PER 0-0, which overlaps no gold
    assert lenient["gold"]["PER"] == row(2, correct=1, missed=1)
    assert lenient["spurious"] == {"PER": 1}
    strict = confusion(gold, pred, "strict")
    # in strict IOB2 an I-PER that continues nothing belongs to no entity: nothing predicted at all
    assert strict["gold"]["PER"] == row(2, missed=2)
    assert strict["spurious"] == {"PER": 0}
    assert strict["mode"] == "strict" and lenient["mode"] == "conlleval"


def test_confusion_adds_up_and_agrees_with_the_scores():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-ORG", "I-ORG", "O", "B-PER", "O"], ["O", "O", "B-LOC", "I-LOC", "O"]]
    pred = [["B-PER", "O", "O", "B-ORG", "O"], ["B-ORG", "I-ORG", "O", "O", "B-PER"], ["B-MISC", "O", "B-LOC", "I-LOC", "O"]]
    types = ["PER", "ORG", "LOC", "MISC"]
    result = confusion(gold, pred, types=types)
    scores = score(gold, pred, types=types)
    assert result["types"] == types
    assert result["gold"] == {
        "PER": row(2, boundary=1, missed=1),
        "ORG": row(1, correct=1),
        "LOC": row(2, correct=1, wrong_type={"ORG": 1}),
        "MISC": row(0),
    }
    assert result["spurious"] == {"PER": 1, "ORG": 0, "LOC": 0, "MISC": 1}
    for typ, counts in result["gold"].items():
        assert counts["correct"] + sum(counts["wrong_type"].values()) + counts["boundary"] + counts["missed"] == counts["support"]
        assert counts["correct"] == scores["per_type"][typ]["tp"]
        assert counts["support"] == scores["per_type"][typ]["support"]
        assert result["spurious"][typ] <= scores["per_type"][typ]["fp"]


def test_confusion_rejects_mismatched_input():
    with pytest.raises(ValueError, match="2 gold sentences but 1 predicted"):
        confusion([["O"], ["O"]], [["O"]])
    with pytest.raises(ValueError, match="sentence 0"):
        confusion([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match="mode"):
        confusion([["O"]], [["O"]], mode="lenient")


def test_render_confusion_table():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "O"], ["O", "O", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "I-ORG", "O"], ["B-LOC", "O", "O"]]
    text = render_confusion(confusion(gold, pred, types=["PER", "ORG", "LOC"]))
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("gold"))
    columns = ["support", "correct", "as ORG", "as LOC", "boundary", "missed"]
    assert [c for c in columns if c in header] == columns
    assert "as PER" not in header  # no gold entity became PER and no PER prediction was spurious
    cells = {line.split()[0]: line.split()[1:] for line in lines[lines.index(header) + 2:]}
    assert cells["PER"] == ["1", "1", "0", "0", "0", "0"]  # support, correct, as ORG, as LOC, boundary, missed
    assert cells["ORG"] == ["1", "0", "0", "1", "0"]  # its own column (as ORG) is blank
    assert cells["LOC"] == ["1", "0", "1", "0", "0"]
    assert cells["spurious"] == ["0", "1"]  # spurious ORG 0, LOC 1
    assert "(1 in all)" in text


# -- per language ---------------------------------------------------------------------------------
GOLD = [["B-PER", "I-PER", "O"], ["B-LOC", "O"], ["B-ORG", "O", "O"], ["O", "B-PER"]]
PRED = [["B-PER", "I-PER", "O"], ["B-ORG", "O"], ["B-ORG", "O", "B-LOC"], ["O", "B-PER"]]
LANGS = ["en", "de", "en", "de"]


def test_per_language_hand_computed():
    result = score_predictions(GOLD, PRED, LANGS, types=["PER", "ORG", "LOC"])
    assert result["n_sentences"] == 4
    by = result["per_language"]
    assert list(by) == ["de", "en"]
    en, de = by["en"], by["de"]
    # en: PER and ORG found (tp 2), a LOC predicted on an O word (fp 1); 5 of 6 words right
    assert en["n_sentences"] == 2
    assert (en["overall"]["tp"], en["overall"]["fp"], en["overall"]["fn"]) == (2, 1, 0)
    assert en["overall"]["precision"] == pytest.approx(2 / 3)
    assert en["overall"]["recall"] == pytest.approx(1.0)
    assert en["overall"]["f1"] == pytest.approx(0.8)
    assert en["overall"]["accuracy"] == pytest.approx(5 / 6)
    assert en["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "tp": 0, "fp": 1, "fn": 0}
    assert en["per_type"]["ORG"]["f1"] == 1.0 and en["per_type"]["ORG"]["support"] == 1
    # de: PER found, LOC tagged as ORG (one fn for LOC, one fp for ORG); 3 of 4 words right
    assert de["n_sentences"] == 2
    assert (de["overall"]["tp"], de["overall"]["fp"], de["overall"]["fn"]) == (1, 1, 1)
    assert de["overall"]["f1"] == pytest.approx(0.5)
    assert de["overall"]["accuracy"] == pytest.approx(0.75)
    assert de["per_type"]["LOC"]["support"] == 1 and de["per_type"]["LOC"]["recall"] == 0.0
    assert de["per_type"]["ORG"]["fp"] == 1 and de["per_type"]["ORG"]["support"] == 0
    # the whole set: P 3/5, R 3/4
    assert result["overall"]["precision"] == pytest.approx(0.6)
    assert result["overall"]["recall"] == pytest.approx(0.75)
    assert result["confusion"]["gold"]["LOC"]["wrong_type"] == {"ORG": 1}
    assert result["confusion"]["spurious"]["LOC"] == 1


def test_per_language_sums_to_the_whole():
    result = score_predictions(GOLD, PRED, LANGS)
    for key in ("tp", "fp", "fn", "support"):
        assert sum(v["overall"][key] for v in result["per_language"].values()) == result["overall"][key]
    assert sum(v["n_sentences"] for v in result["per_language"].values()) == result["n_sentences"]


def test_one_language_or_none_gives_no_breakdown():
    assert "per_language" not in score_predictions(GOLD, PRED, ["en"] * 4)
    assert "per_language" not in score_predictions(GOLD, PRED, None)
    assert per_language(sentence_counts(GOLD, PRED), ["de"] * 4) is None
    with pytest.raises(ValueError, match="3 languages for 4 sentences"):
        score_predictions(GOLD, PRED, LANGS[:3])


def test_render_scores_prints_language_tables():
    result = Evaluation.of_scores(score_predictions(GOLD, PRED, LANGS, types=["PER", "ORG", "LOC", "MISC"]), run="R", split="test",
                                  mode="conlleval")
    text = render_scores(result)
    assert "per language:" in text
    lang_rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.split()[:1] in (["en"], ["de"])}
    assert lang_rows["en"] == ["2", "0.6667", "1.0000", "0.8000", "0.8333", "2"]
    assert lang_rows["de"] == ["2", "0.5000", "0.5000", "0.5000", "0.7500", "2"]
    f1_part = text.split("F1 per type and language")[1].splitlines()
    header = next(line for line in f1_part if line.startswith("type"))
    assert header.split() == ["type", "de", "en"]
    cells = {line.split()[0]: line.split()[1:] for line in f1_part if line.split()[:1] in (["PER"], ["ORG"], ["LOC"], ["MISC"])}
    assert cells["PER"] == ["1.0000", "1.0000"]
    assert cells["ORG"] == ["0.0000", "1.0000"]
    assert cells["LOC"] == ["0.0000", "0.0000"]
    assert cells["MISC"] == ["-", "-"]  # neither gold nor predicted anywhere: no F1 to show
    one = Evaluation.of_scores(score_predictions(GOLD, PRED, ["en"] * 4), run="R", split="test", mode="conlleval")
    assert "per language" not in render_scores(one)
