"""Tests for snekner.data.inspection (and `snekner inspect`) on hand-made data whose statistics are counted by hand.

Tag ids are MultiNERD's: O=0 B-PER=1 I-PER=2 B-ORG=3 I-ORG=4 B-LOC=5 I-LOC=6 B-ANIM=7 I-ANIM=8
B-DIS=13 B-FOOD=17 I-FOOD=18. Entities are counted as conlleval does: a B-X starts one, and so does
an I-X after O, after another type, or at the start of a sentence (each such I-X is a BIO violation).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import invoke, ok, one_line_error

from snekner.data.inspection import inspect_source, tag_statistics


def row(tokens: str, tags, lang: str) -> dict:
    tokens = tokens.split()
    assert len(tokens) == len(tags)
    return {"tokens": tokens, "ner_tags": list(tags), "lang": lang}


TRAIN_EN = [
    row("Ann Lee visited Paris", [1, 2, 0, 5], "en"),    # PER, LOC
    row("Rome is old", [6, 0, 0], "en"),                  # I-LOC opening a sentence (the one before ends in B-LOC): violation; LOC
    row("A cat in Oslo Bank", [0, 7, 0, 5, 4], "en"),    # ANIM, LOC, I-ORG after B-LOC: violation; ORG
    row("so Lee ate rice", [0, 2, 0, 17], "en"),          # I-PER after O: violation; PER; FOOD
    row("Acme Corp Inc hired Bo", [3, 4, 4, 0, 1], "en"),  # ORG (I-ORG after I-ORG is fine), PER
]
# by hand: PER 3, LOC 3, ORG 2, ANIM 1, FOOD 1 (10 entities); 3 violations; words 4 3 5 4 5 = 21
TRAIN_DE = [
    row("Anna wohnt in Berlin", [1, 0, 0, 5], "de"),  # PER, LOC
    row("Max Müller", [1, 2], "de"),                    # PER
]
VAL_EN = [row("Bo ran", [1, 0], "en")]
VAL_DE = [row("Bo lief", [1, 0], "de")]
TEST_EN = [
    row("Ann Lee visited Paris", [1, 2, 0, 5], "en"),  # the same sentence as train's first: shared
    row("Ann Lee visited Rome", [1, 2, 0, 5], "en"),   # differs in one word: not shared
    row("a b", [8, 0], "en"),                           # I-ANIM opening a sentence: violation; ANIM
]
TEST_DE = [row("Max Müller", [1, 2], "de")]  # the same as train_de's second: shared


def write_layout(root: Path, files: dict[str, list[dict]]) -> Path:
    for rel, rows in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def hand_data(tmp_path_factory) -> Path:
    return write_layout(tmp_path_factory.mktemp("inspect") / "data", {
        "train/train_en.jsonl": TRAIN_EN, "train/train_de.jsonl": TRAIN_DE,
        "val/val_en.jsonl": VAL_EN, "val/val_de.jsonl": VAL_DE,
        "test/test_en.jsonl": TEST_EN, "test/test_de.jsonl": TEST_DE,
    })


def test_entities_violations_and_lengths_of_one_language(hand_data):
    report = inspect_source(str(hand_data), "en")
    assert report["lang"] == "en" and report["languages"] == ["de", "en"]
    assert report["labels_from"] == "MultiNERD's label ids (tagset a); pass tagset to name them otherwise"  # the field; the CLI's flag:
    assert "labels named by MultiNERD's label ids (tagset a); pass --tagset to name them otherwise" in ok("inspect", hand_data, "--lang", "en").stdout
    train = report["splits"]["train"]
    assert train["sentences"] == 5 and train["tokens"] == 21
    assert train["entities"] == {"ANIM": 1, "FOOD": 1, "LOC": 3, "ORG": 2, "PER": 3}
    assert train["bio_violations"] == 3
    # lengths 4 3 5 4 5 -> sorted 3 4 4 5 5: mean 21/5; p95 interpolates between the 4th and 5th (both 5)
    assert train["words"] == {"min": 3, "mean": 4.2, "median": 4.0, "p95": 5.0, "max": 5}
    assert train["sentences_per_language"] == {"en": 5}
    test = report["splits"]["test"]
    assert test["entities"] == {"ANIM": 1, "LOC": 2, "PER": 2} and test["bio_violations"] == 1
    # lengths 4 4 2 -> sorted 2 4 4: p95 at position 0.95*2 = 1.9 -> 4
    assert test["words"] == {"min": 2, "mean": round(10 / 3, 2), "median": 4.0, "p95": 4.0, "max": 4}
    assert report["shared_train_test"] == 1


def test_every_language_without_lang(hand_data):
    report = inspect_source(str(hand_data))
    splits = report["splits"]
    assert {name: e["sentences"] for name, e in splits.items()} == {"train": 7, "validation": 2, "test": 4}
    assert splits["train"]["sentences_per_language"] == {"de": 2, "en": 5}
    assert splits["validation"]["sentences_per_language"] == {"de": 1, "en": 1}
    assert splits["test"]["sentences_per_language"] == {"de": 1, "en": 3}
    assert splits["train"]["entities"] == {"ANIM": 1, "FOOD": 1, "LOC": 4, "ORG": 2, "PER": 5}
    assert splits["train"]["bio_violations"] == 3
    # lengths 4 3 5 4 5 4 2 -> sorted 2 3 4 4 4 5 5: median 4; p95 at position 5.7 -> 5
    assert splits["train"]["words"] == {"min": 2, "mean": round(27 / 7, 2), "median": 4.0, "p95": 5.0, "max": 5}
    assert report["shared_train_test"] == 2  # one English, one German sentence


def test_limit_counts_only_the_first_sentences(hand_data):
    report = inspect_source(str(hand_data), "en", limit=2)
    train = report["splits"]["train"]
    assert train["sentences"] == 2
    assert train["entities"] == {"LOC": 2, "PER": 1} and train["bio_violations"] == 1


@pytest.mark.parametrize("sentences, entities, violations", [
    ([[1, 2, 2, 0]], {"PER": 1}, 0),               # B I I O
    ([[0, 2, 0]], {"PER": 1}, 1),                   # I after O
    ([[1, 4]], {"PER": 1, "ORG": 1}, 1),            # I-ORG after B-PER: another type
    ([[3, 4], [4]], {"ORG": 2}, 1),                 # I-ORG opening the next sentence does not continue the last one
    ([[1], [], [2, 2]], {"PER": 2}, 1),             # an empty sentence between
    ([[2, 1, 2]], {"PER": 2}, 1),                   # I at the very start, then B I
    ([[0, 0], [0]], {}, 0),
])
def test_tag_statistics_counts_conlleval_starts(sentences, entities, violations):
    import pyarrow as pa

    from snekner.ner.tagset import load_tagset

    names = ["tag"] * 31
    for label, src in load_tagset("a").source_ids.items():
        names[src] = label
    stats = tag_statistics(pa.chunked_array([pa.array(sentences, type=pa.list_(pa.int64()))]), names)
    assert stats == {"entities": entities, "bio_violations": violations, "tokens": sum(map(len, sentences))}


def test_tagset_restriction_reports_what_it_keeps_and_drops(hand_data):
    """Tagset b keeps PER ORG LOC ANIM DIS; train_en's FOOD entity (1 of 10) becomes O."""
    report = inspect_source(str(hand_data), "en", "b")
    restriction = report["restriction"]
    assert restriction["tagset"] == "b"
    assert restriction["kept_types"] == ["PER", "ORG", "LOC", "ANIM", "DIS"]
    assert report["labels_from"] == "tagset b (the ids it leaves out named by tagset a)"
    # naming the labels by the tagset must not lose the other types' entities
    assert report["splits"]["train"]["entities"] == {"ANIM": 1, "FOOD": 1, "LOC": 3, "ORG": 2, "PER": 3}
    train = restriction["splits"]["train"]
    assert train["kept"] == {"ANIM": 1, "LOC": 3, "ORG": 2, "PER": 3}
    assert train["dropped"] == {"FOOD": 1}
    assert train["dropped_share"] == pytest.approx(0.1)
    assert restriction["splits"]["test"] == {"kept": {"ANIM": 1, "LOC": 2, "PER": 2}, "dropped": {}, "dropped_share": 0.0}
    assert any("restricting to b turns 1 entities (10.0%) into O: FOOD 1" in f for f in report["findings"])


def test_restriction_with_nothing_to_drop(hand_data):
    only_kept = write_layout(hand_data.parent / "kept", {"train/train_en.jsonl": TRAIN_EN[:3], "test/test_en.jsonl": TEST_EN})
    restriction = inspect_source(str(only_kept), "en", "b")["restriction"]
    assert restriction["splits"]["train"] == {"kept": {"ANIM": 1, "LOC": 3, "ORG": 1, "PER": 1}, "dropped": {}, "dropped_share": 0.0}


def test_findings_name_violations_overlap_and_rare_types(hand_data):
    findings = inspect_source(str(hand_data))["findings"]
    assert "train: 3 I-X tags follow O or another type (BIO violations); conlleval scoring starts a new entity at each" in findings
    assert "2 test sentences also appear in train; test scores overstate generalisation" in findings
    assert "train: type PER has only 5 examples; its scores will be noisy" in findings
    assert "validation: type LOC has no examples" in findings
    assert not any(f.startswith("validation:") and "BIO" in f for f in findings)


def test_the_dataset_own_label_names_are_used(tmp_path):
    """A saved dataset that declares its ClassLabel names (WikiNEuRal's: 7/8 are MISC, not ANIM)."""
    import datasets

    names = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                  "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names))})
    rows = [{"tokens": ["the", "Euro", "Cup"], "ner_tags": [0, 7, 8]}, {"tokens": ["Cup", "x"], "ner_tags": [8, 0]}]
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows, features=features)}).save_to_disk(str(tmp_path / "s"))
    report = inspect_source(str(tmp_path / "s"))
    assert report["labels_from"] == "the dataset's own label names"
    assert report["languages"] == [] and "shared_train_test" not in report
    assert report["splits"]["train"]["entities"] == {"MISC": 2} and report["splits"]["train"]["bio_violations"] == 1


def test_inspect_json_parses_and_agrees_with_the_function(hand_data):
    out = ok("inspect", hand_data, "--lang", "en", "--tagset", "b", "--json").output
    assert json.loads(out) == inspect_source(str(hand_data), "en", "b")


@pytest.mark.parametrize("args, fragments", [
    (["{tmp}/nope"], ["not found"]),
    (["{data}", "--lang", "fr"], ["language 'fr'", "it has: de, en"]),
    (["{data}", "--tagset", "nosuch"], ["unknown tagset", "wikineural"]),
    (["{strings}"], ["tag 'PERSON' is not iob2", "train_en.jsonl line 1), word 1", "--scheme"]),  # string labels, but not BIO
])
def test_inspect_bad_input_is_one_line(tmp_path, hand_data, args, fragments):
    strings = write_layout(tmp_path / "strings", {"train/train_en.jsonl": [{"tokens": ["Ann", "ran"], "ner_tags": ["PERSON", "O"]}]})
    one_line_error(invoke("inspect", *[a.format(tmp=tmp_path, data=hand_data, strings=strings) for a in args]), *fragments)


def test_inspect_text_shows_sizes_languages_entities_and_overlap(hand_data):
    text = ok("inspect", hand_data).output
    cells = [line.split() for line in text.splitlines()]
    assert "languages: de, en" in text
    # split table: split, sentences, words, mean len, p95, max, BIO violations
    assert ["train", "7", "27", str(round(27 / 7, 2)), "5.0", "5", "3"] in cells
    # sentences per language (columns train validation test)
    assert ["de", "2", "1", "1"] in cells and ["en", "5", "1", "3"] in cells
    # entities per type (columns train validation test)
    assert ["PER", "5", "2", "3"] in cells and ["FOOD", "1", "0", "0"] in cells
    assert "sentences in both train and test: 2" in text


@pytest.fixture(scope="module")
def prepared_short(tmp_path_factory, tiny_model) -> Path:
    """Sentences of one-letter words (one sub-word each) prepared with --max-length 8: 6 words fit."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    letters = "abcdefghi"
    assert all(tokenizer.tokenize(c) == [c] for c in letters)  # precondition: one sub-word per word

    def sentence(n: int, tags=None) -> dict:
        return {"tokens": list(letters[:n]), "ner_tags": tags or [1] + [0] * (n - 1), "lang": "en"}

    root = tmp_path_factory.mktemp("prep-short")
    data = write_layout(root / "src", {
        # 2, 6, 7 and 9 words: 4, 8, 9 and 11 sub-words with [CLS] [SEP]; the last two are cut
        "train/train_en.jsonl": [sentence(2), sentence(6), sentence(7), sentence(9, [17, 18, 0, 0, 0, 0, 0, 0, 1])],
        "val/val_en.jsonl": [sentence(3)],
        "test/test_en.jsonl": [sentence(7), sentence(8)],
    })
    out = root / "prepared"
    ok("prep", "--dataset", data, "--lang", "en", "--tagset", "b", "--model", tiny_model, "--max-length", 8, "--out", out)
    return out


def test_inspect_prepared_reports_subwords_and_truncation(prepared_short):
    report = json.loads(ok("inspect", prepared_short, "--json").output)
    assert report["labels_from"] == "the prepared dataset's tagset"
    assert report["prepared"]["max_length"] == 8 and report["prepared"]["alignment"] == "first-subword"
    assert report["languages"] == ["en"]
    train = report["splits"]["train"]
    assert train["sentences"] == 4
    assert train["words"]["min"] == 2 and train["words"]["max"] == 9  # words are counted before truncation
    assert train["subwords"]["min"] == 4 and train["subwords"]["max"] == 8
    assert train["subwords"]["mean"] == round((4 + 8 + 8 + 8) / 4, 2)
    assert train["truncated_sentences"] == 2
    assert report["splits"]["validation"]["truncated_sentences"] == 0
    assert report["splits"]["test"]["truncated_sentences"] == 2
    # the prepared tags are restricted to b: the FOOD entity is O now, the PER ones stay
    assert train["entities"] == {"PER": 4}
    assert "train: 2 sentences are longer than max length; their cut-off words count as O" in report["findings"]
    text = ok("inspect", prepared_short).output
    assert "truncated" in text and "max sub-words" in text
    # words 2 6 7 9: mean 6.0, p95 at position 0.95*3 = 2.85 -> 7 + 0.85*2 = 8.7; sub-words 4 8 8 8: mean 7.0
    assert ["train", "4", "24", "6.0", "8.7", "9", "0", "7.0", "8", "2"] in [line.split() for line in text.splitlines()]


def test_json_output_has_no_progress_bars_when_datasets_was_imported_first(sample_dir):
    """The CLI quiets datasets' progress bars (stderr is not a terminal here) even when datasets
    was imported, with its bars on, before the command ran: its environment variable is read only
    at import. Run in a fresh interpreter, since this session's datasets may have been imported
    with the variable already set."""
    import os
    import subprocess
    import sys

    script = (
        "import json, sys, datasets\n"
        "assert not datasets.utils.are_progress_bars_disabled()\n"
        "from typer.testing import CliRunner\n"
        "from snekner.cli import app\n"
        "result = CliRunner().invoke(app, ['inspect', sys.argv[1], '--lang', 'en', '--limit', '20', '--json'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(len(json.loads(result.output)['splits']))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "HF_DATASETS_DISABLE_PROGRESS_BARS"}
    done = subprocess.run([sys.executable, "-c", script, str(sample_dir)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) > 0


@pytest.fixture(scope="module")
def prepared_rare(tmp_path_factory, tiny_model) -> Path:
    """Words whose sub-words are known by hand, prepared with --max-length 10 (8 sub-words fit) and tagset b."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    # preconditions: the tiny vocab has these letters (one sub-word each) but no Cyrillic, and no whole word of three letters
    assert [tokenizer.tokenize(w) for w in ("a", "e", "h", "bcd", "fg", "жж")] == [
        ["a"], ["e"], ["h"], ["b", "##c", "##d"], ["f", "##g"], ["[UNK]"]]

    def sentence(tokens: str, tags) -> dict:
        return {"tokens": tokens.split(), "ner_tags": list(tags), "lang": "en"}

    root = tmp_path_factory.mktemp("prep-rare")
    data = write_layout(root / "src", {
        "train/train_en.jsonl": [sentence("a bcd e fg h", [1, 2, 0, 5, 0]),  # PER a (1) bcd (3); LOC fg (2); O e h: 8 sub-words, all fit
                                 sentence("жж h", [1, 0]),                  # PER жж: [UNK]; O h
                                 sentence("a a a a a a a a e", [0] * 9)],   # 8 O words fit; e is cut off and not counted
        "val/val_en.jsonl": [sentence("a", [1])],
        "test/test_en.jsonl": [sentence("a fg fg", [0, 5, 6])],              # O a; LOC fg fg
    })
    out = root / "prepared"
    ok("prep", "--dataset", data, "--lang", "en", "--tagset", "b", "--model", tiny_model, "--max-length", 10, "--out", out)
    return out


def figures(words: int, unknown: int, pieces: int) -> dict:
    return {"words": words, "unknown_words": unknown, "unknown_rate": round(unknown / words, 4) if words else 0.0,
            "subwords_per_word": round(pieces / words, 3) if words else 0.0}


def test_inspect_prepared_reports_unknown_words_and_subwords_per_type(prepared_rare):
    report = json.loads(ok("inspect", prepared_rare, "--json").output)
    rare = report["rare_words"]
    assert rare["unk_token"] == "[UNK]" and rare["combined_splits"] == ["train", "test"]
    empty = figures(0, 0, 0)
    assert rare["splits"]["train"] == {"ANIM": empty, "DIS": empty, "LOC": figures(1, 0, 2), "ORG": empty,
                                       "PER": figures(3, 1, 5), "O": figures(11, 0, 11)}
    assert rare["splits"]["validation"]["PER"] == figures(1, 0, 1) and rare["splits"]["validation"]["O"] == empty
    assert rare["splits"]["test"]["LOC"] == figures(2, 0, 4) and rare["splits"]["test"]["O"] == figures(1, 0, 1)
    combined = rare["combined"]
    assert combined["PER"] == figures(3, 1, 5) == {"words": 3, "unknown_words": 1, "unknown_rate": 0.3333, "subwords_per_word": 1.667}
    assert combined["LOC"] == figures(3, 0, 6) and combined["O"] == figures(12, 0, 12)
    assert ("train+test: type PER is rare to this tokenizer: 33.3% of its words hit [UNK] (O words: 0.0%); "
            "1.67 sub-words per word (O words: 1.00); a cased or domain-adapted model may serve it better") in report["findings"]
    assert ("train+test: type LOC is rare to this tokenizer: 2.00 sub-words per word (O words: 1.00); "
            "a cased or domain-adapted model may serve it better") in report["findings"]
    text = ok("inspect", prepared_rare).output
    cells = [line.split() for line in text.splitlines()]
    assert ["PER", "3", "1", "33.33%", "1.67"] in cells and ["LOC", "3", "0", "0.00%", "2.00"] in cells
    assert ["O", "12", "0", "0.00%", "1.00"] in cells


def test_rare_word_figures_from_the_prepared_columns_alone():
    """word_pieces on hand-written columns: special tokens (-1) and a word cut off (no sub-word) do not count."""
    import pyarrow as pa

    from snekner.data.rare_words import rare_word_findings, type_figures, word_pieces

    table = pa.table({"ner_tags": [[1, 2, 0], [0, 3]],
                      "input_ids": [[2, 7, 1, 8, 9, 3], [2, 1, 3]],
                      "word_ids": [[-1, 0, 1, 1, 2, -1], [-1, 0, -1]]})
    tags, pieces, unknown = word_pieces(table, unk_id=1)
    assert tags.tolist() == [1, 2, 0, 0, 3] and pieces.tolist() == [1, 2, 1, 1, 0] and unknown.tolist() == [0, 1, 0, 1, 0]
    labels = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG"]
    out = type_figures(tags, pieces, unknown, labels, has_unk=True)
    assert out == {"ORG": figures(0, 0, 0), "PER": figures(2, 1, 3), "O": figures(2, 1, 2)}
    # PER's rate (50%) is exactly 1x O's: no finding on it, but 1.5 sub-words per word is 1.5x O's 1.0
    assert rare_word_findings({"unk_token": "[UNK]", "combined_splits": ["train"], "combined": out}) == [
        "train: type PER is rare to this tokenizer: 1.50 sub-words per word (O words: 1.00); a cased or domain-adapted model may serve it better"]
    no_unk = type_figures(tags, pieces, unknown, labels, has_unk=False)
    assert no_unk["PER"]["unknown_rate"] is None and no_unk["PER"]["subwords_per_word"] == 1.5


def test_wikineural_ids_read_as_multinerd_are_named(tmp_path, tiny_model):
    """Ids 0-8 only, 7-8 among them: MultiNERD's numbering calls them ANIM, WikiNEuRal's MISC; inspect and prep say so
    unless the tagset reads them otherwise, and say nothing when other MultiNERD ids occur."""
    wiki = write_layout(tmp_path / "wiki", {"train/train_en.jsonl": [row("the Oscars in Rome", [0, 7, 0, 5], "en")],
                                            "test/test_en.jsonl": [row("Ann Lee", [1, 2], "en")]})
    hint, flag = "pass tagset wikineural", "pass --tagset wikineural"  # the library names the option field, the command line its flag
    findings = inspect_source(str(wiki))["findings"]
    assert any(hint in f for f in findings) and not any("--tagset" in f for f in findings)
    assert flag in ok("inspect", wiki).stdout and flag in ok("inspect", wiki, "--json").stdout
    assert any(hint in f for f in inspect_source(str(wiki), tagset_spec="b")["findings"])  # b reads 7-8 as ANIM too
    assert not any(hint in f for f in inspect_source(str(wiki), tagset_spec="wikineural")["findings"])
    assert not any(hint in f for f in inspect_source(str(wiki), tagset_spec="PER,LOC")["findings"])
    printed = ok("prep", "--dataset", wiki, "--model", tiny_model, "--out", tmp_path / "p")
    assert "warning: the tags use only ids 0-8" in printed.stderr and flag in printed.stderr
    printed = ok("prep", "--dataset", wiki, "--model", tiny_model, "--tagset", "wikineural", "--out", tmp_path / "q")
    assert flag not in printed.stderr
    # MultiNERD data (an id beyond 8): no doubt to raise
    multinerd = write_layout(tmp_path / "multi", {"train/train_en.jsonl": [row("a cat ate rice", [0, 7, 0, 17], "en")]})
    assert not any(hint in f for f in inspect_source(str(multinerd))["findings"])
