"""Tests for snekner.data.sources on tiny hand-made datasets, and its bad input through `snekner prep`.

Each hub-layout folder is written here as train|val|test/<split>_<lang>.jsonl; every sentence's
first token names its language, split and position (e.g. "en-train-1"), so a test can see exactly
which rows were read, in which order.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import invoke, one_line_error

from snekner.data.sources import open_source
from snekner.errors import SneknerError

LAYOUT_PREFIX = {"train": "train", "validation": "val", "test": "test"}


def row(tokens, tags, lang="en") -> dict:
    return {"tokens": list(tokens), "ner_tags": list(tags), "lang": lang}


def write_jsonl(path: Path, rows) -> Path:
    """rows: dicts (one JSON object per line) or raw strings (written as they are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def rows_of(lang: str, split: str, n: int) -> list[dict]:
    """n valid sentences: "<lang>-<split>-<i>" then "Ann" tagged B-PER."""
    return [row([f"{lang}-{split}-{i}", "Ann"], [0, 1], lang) for i in range(n)]


def hub_layout(root: Path, sizes: dict[str, dict[str, int]]) -> Path:
    """sizes: {lang: {split: n}} -> root/train/train_<lang>.jsonl etc."""
    for lang, per_split in sizes.items():
        for split, n in per_split.items():
            prefix = LAYOUT_PREFIX[split]
            write_jsonl(root / prefix / f"{prefix}_{lang}.jsonl", rows_of(lang, prefix, n))
    return root


def first_tokens(split) -> list[str]:
    return [tokens[0] for tokens in split["tokens"]]


SIZES = {"en": {"train": 3, "validation": 2, "test": 2}, "de": {"train": 2, "validation": 1, "test": 1}}


# --- hub layout: train|val|test/<split>_<lang>.jsonl ---------------------------------------------

def test_hub_layout_reads_only_the_chosen_language_and_never_opens_the_others(tmp_path):
    root = hub_layout(tmp_path / "d", SIZES)
    for prefix in ("train", "val", "test"):  # a broken file for another language
        (root / prefix / f"{prefix}_fr.jsonl").write_text("this is not JSON\n{\"tokens\": [\n", encoding="utf-8")
    source = open_source(str(root), "en")
    assert source.layout == "per-language files"
    assert source.languages == ["de", "en", "fr"]  # what the folder offers, from the file names
    assert list(source.dataset) == ["train", "validation", "test"]  # val/ becomes "validation"
    assert first_tokens(source.dataset["train"]) == ["en-train-0", "en-train-1", "en-train-2"]
    assert first_tokens(source.dataset["validation"]) == ["en-val-0", "en-val-1"]
    assert first_tokens(source.dataset["test"]) == ["en-test-0", "en-test-1"]
    assert set(source.dataset["train"]["lang"]) == {"en"}
    # the fr files really are unreadable: opening every language has to read them and fails
    with pytest.raises(SneknerError, match="fr.jsonl"):
        open_source(str(root))


def test_hub_layout_without_lang_reads_every_language(tmp_path):
    source = open_source(str(hub_layout(tmp_path / "d", SIZES)))
    assert source.languages == ["de", "en"]
    assert {name: len(split) for name, split in source.dataset.items()} == {"train": 5, "validation": 3, "test": 3}
    assert sorted(first_tokens(source.dataset["train"])) == ["de-train-0", "de-train-1", "en-train-0", "en-train-1", "en-train-2"]
    assert sorted(source.dataset["test"]["lang"]) == ["de", "en", "en"]


def test_hub_layout_limit_keeps_the_first_rows_of_each_split(tmp_path):
    root = hub_layout(tmp_path / "d", SIZES)
    source = open_source(str(root), "en", limit=2)
    assert first_tokens(source.dataset["train"]) == ["en-train-0", "en-train-1"]
    assert first_tokens(source.dataset["validation"]) == ["en-val-0", "en-val-1"]
    assert len(open_source(str(root), "en", limit=100).dataset["train"]) == 3  # a limit above the size keeps all
    with pytest.raises(SneknerError, match="limit must be at least 1"):
        open_source(str(root), "en", limit=0)


def test_hub_layout_empty_file_of_one_language_is_zero_rows_not_an_error(tmp_path):
    """A language with no test sentences (an empty test_de.jsonl) must not stop reading the others."""
    root = hub_layout(tmp_path / "d", SIZES)
    (root / "test" / "test_de.jsonl").write_text("", encoding="utf-8")
    source = open_source(str(root))
    assert first_tokens(source.dataset["test"]) == ["en-test-0", "en-test-1"]
    assert len(source.dataset["train"]) == 5


def test_hub_layout_ignores_files_not_named_like_the_hub(tmp_path):
    root = hub_layout(tmp_path / "d", {"en": {"train": 1, "validation": 1, "test": 1}})
    write_jsonl(root / "train" / "val_de.jsonl", rows_of("de", "val", 1))  # wrong folder for its prefix
    write_jsonl(root / "train" / "notes.jsonl", ["not json"])
    source = open_source(str(root))
    assert source.languages == ["en"]
    assert len(source.dataset["train"]) == 1


# --- save_to_disk folders ------------------------------------------------------------------------

def save_dataset(path: Path, splits: dict[str, list[dict]], features=None) -> Path:
    import datasets

    datasets.DatasetDict({name: datasets.Dataset.from_list(rows, features=features) for name, rows in splits.items()}).save_to_disk(str(path))
    return path


MIXED = {  # languages interleaved, so a filter must pick rows out of the middle
    "train": [row(["en-0", "Ann"], [0, 1], "en"), row(["de-0", "Ann"], [0, 1], "de"), row(["en-1", "Ann"], [0, 1], "en"),
              row(["de-1", "Ann"], [0, 1], "de"), row(["en-2", "Ann"], [0, 1], "en")],
    "val": [row(["de-v0"], [0], "de"), row(["en-v0"], [0], "en")],
    "test": [row(["en-t0"], [0], "en"), row(["de-t0"], [0], "de")],
}


def test_save_to_disk_filters_the_lang_column(tmp_path):
    source = open_source(str(save_dataset(tmp_path / "s", MIXED)), "de")
    assert source.layout == "save_to_disk"
    assert source.languages == ["de", "en"]
    assert list(source.dataset) == ["train", "validation", "test"]  # "val" is renamed
    assert first_tokens(source.dataset["train"]) == ["de-0", "de-1"]
    assert first_tokens(source.dataset["validation"]) == ["de-v0"]
    assert first_tokens(source.dataset["test"]) == ["de-t0"]
    assert source.dataset["train"]["ner_tags"] == [[0, 1], [0, 1]]


def test_save_to_disk_without_lang_keeps_every_language(tmp_path):
    source = open_source(str(save_dataset(tmp_path / "s", MIXED)))
    assert first_tokens(source.dataset["train"]) == ["en-0", "de-0", "en-1", "de-1", "en-2"]
    assert source.dataset["train"]["lang"] == ["en", "de", "en", "de", "en"]


def test_save_to_disk_limit_applies_after_the_language_filter(tmp_path):
    source = open_source(str(save_dataset(tmp_path / "s", MIXED)), "en", limit=2)
    assert first_tokens(source.dataset["train"]) == ["en-0", "en-1"]  # not the first two rows of the file
    assert first_tokens(source.dataset["validation"]) == ["en-v0"]


def test_save_to_disk_without_a_lang_column(tmp_path):
    plain = {name: [{"tokens": r["tokens"], "ner_tags": r["ner_tags"]} for r in rows] for name, rows in MIXED.items()}
    path = save_dataset(tmp_path / "s", plain)
    source = open_source(str(path))
    assert source.languages == []
    assert len(source.dataset["train"]) == 5 and "lang" not in source.dataset["train"].column_names
    with pytest.raises(SneknerError, match="no 'lang' column; drop lang"):
        open_source(str(path), "en")


def test_save_to_disk_keeps_declared_label_names_through_the_filter(tmp_path):
    import datasets

    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                  "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER"])),
                                  "lang": datasets.Value("string")})
    source = open_source(str(save_dataset(tmp_path / "s", MIXED, features)), "en")
    assert source.label_names == ["O", "B-PER", "I-PER"]
    assert source.dataset["train"].features["ner_tags"].feature.names == ["O", "B-PER", "I-PER"]


def test_a_single_saved_dataset_becomes_the_train_split(tmp_path):
    import datasets

    datasets.Dataset.from_list(MIXED["train"]).save_to_disk(str(tmp_path / "one"))
    source = open_source(str(tmp_path / "one"), "de")
    assert list(source.dataset) == ["train"]
    assert first_tokens(source.dataset["train"]) == ["de-0", "de-1"]


# --- bad input: one line through `snekner prep`, nothing written -----------------------------------

def _layout_with(root: Path, split: str, lang: str, rows) -> Path:
    hub_layout(root, SIZES)
    prefix = LAYOUT_PREFIX[split]
    write_jsonl(root / prefix / f"{prefix}_{lang}.jsonl", rows)
    return root


def _no_tokens(root):
    return _layout_with(root, "train", "en", [{"words": ["Ann"], "ner_tags": [1], "lang": "en"}])


def _no_ner_tags(root):
    return _layout_with(root, "test", "en", [{"tokens": ["Ann"], "labels": ["B-PER"], "lang": "en"}])


def _length_mismatch(root):
    return _layout_with(root, "train", "en", [row(["a"], [0]), row(["b", "c"], [0, 0]), row(["Ann", "Lee", "ran"], [1, 2])])


def _tag_31(root):
    return _layout_with(root, "validation", "en", [row(["a"], [0]), row(["Ann", "x"], [1, 31])])


def _tag_minus_1(root):
    return _layout_with(root, "train", "en", [row(["a"], [0]), row(["b"], [0]), row(["Ann", "x"], [-1, 0])])


def _string_tags(root):
    return _layout_with(root, "train", "en", [row(["Ann", "ran"], ["B-PER", "O"])])


def _malformed_line(root):
    return _layout_with(root, "train", "en", [json.dumps(row(["a"], [0])), '{"tokens": ["b"], "ner_tags": [0', json.dumps(row(["c"], [0]))])


def _empty_saved_split(root):
    return save_dataset(root, {"train": MIXED["train"], "test": [row(["en-t0"], [0], "en")]})


def _empty_layout_file(root):
    return _layout_with(root, "test", "de", [])


def _language_without_a_test_file(root):
    hub_layout(root, SIZES)
    (root / "test" / "test_de.jsonl").unlink()
    return root


def _missing(root):
    return root / "nope"


def _a_file(root):
    """Neither JSON lines nor word-and-tag columns (a single .jsonl or column file is one split: test_data_formats.py)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "words.txt").write_text("one\nword\nper\nline\n")
    return root / "words.txt"


def _no_layout(root):
    write_jsonl(root / "data.jsonl", rows_of("en", "train", 1))
    return root


def _plain(root):
    return hub_layout(root, SIZES)


BAD_INPUT = [
    # id, dataset builder, extra prep options, fragments of the one error line (problem and fix)
    ("dataset-missing", _missing, [], ["not found", "no such folder"]),
    ("dataset-is-a-file", _a_file, [], ["is a file snekner cannot read", "neither JSON lines", "--dataset"]),
    ("folder-without-layout", _no_layout, [], ["neither", "train|val|test/<split>_<lang>.jsonl", "point --dataset"]),
    ("no-tokens-column", _no_tokens, ["--lang", "en"], ["split train", "no tokens column", "it has: words", "tokens (list of words)"]),
    ("no-ner_tags-column", _no_ner_tags, ["--lang", "en"], ["split test", "no ner_tags column", "it has: tokens, labels", "ner_tags (list of label ids)"]),
    ("tokens-tags-length", _length_mismatch, ["--lang", "en"], ["split train", "row 2", "3 tokens but 2 ner_tags", "fix that row"]),
    ("tag-31-tagset-a", _tag_31, ["--lang", "en", "--tagset", "a"], ["split validation", "row 1", "tag id 31", "0..30", "tagset whose ids cover it"]),
    ("tag-minus-1", _tag_minus_1, ["--lang", "en", "--tagset", "a"], ["split train", "row 2", "tag id -1", "0..30"]),
    ("string-tags", _string_tags, ["--lang", "en"], ["split train", "ner_tags"]),
    ("language-absent", _plain, ["--lang", "fr"], ["language 'fr'", "it has: de, en"]),
    ("empty-after-lang-filter-saved", _empty_saved_split, ["--lang", "de"], ["split test", "has no de sentences", "--lang"]),
    ("empty-layout-file-for-lang", _empty_layout_file, ["--lang", "de"], ["test", "de", "--lang"]),
    ("no-test-file-for-lang", _language_without_a_test_file, ["--lang", "de"], ["test", "de", "--lang"]),
    ("malformed-jsonl-line", _malformed_line, ["--lang", "en"], ["cannot read", "train_en.jsonl", "one JSON object"]),
    ("limit-zero", _plain, ["--lang", "en", "--limit", "0"], ["--limit must be at least 1"]),
]


@pytest.mark.parametrize("build, extra, fragments", [case[1:] for case in BAD_INPUT], ids=[case[0] for case in BAD_INPUT])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, tiny_model, build, extra, fragments):
    dataset = build(tmp_path / "src")
    work = tmp_path / "work"
    work.mkdir()
    out = work / "prepared"
    prep = ["prep", "--dataset", dataset, "--model", tiny_model, "--max-length", 16, "--out", out, *extra]
    one_line_error(invoke(*prep), *fragments)
    assert list(work.iterdir()) == []  # no --out folder, no temporary folder beside it

    out.mkdir()  # an existing output, even with --overwrite, is left as it was
    (out / "keep.txt").write_text("earlier result", encoding="utf-8")
    one_line_error(invoke(*prep, "--overwrite"), *fragments)
    assert [p.name for p in work.iterdir()] == ["prepared"]
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text(encoding="utf-8") == "earlier result"


def test_length_mismatch_in_a_multi_language_layout_names_a_row_one_can_find(tmp_path, tiny_model):
    """Without --lang the languages' files are read together; the error must still point into the right file.

    The bad sentence is line 3 (row 2) of train/train_en.jsonl; train_de.jsonl (2 rows) comes first.
    """
    root = _length_mismatch(tmp_path / "src")
    line = one_line_error(invoke("prep", "--dataset", root, "--model", tiny_model, "--out", tmp_path / "o"), "3 tokens but 2 ner_tags")
    assert "train_en.jsonl" in line and ("row 2" in line or "line 3" in line), line
    assert not (tmp_path / "o").exists()


def test_length_mismatch_after_the_lang_filter_names_the_row_of_the_saved_dataset(tmp_path, tiny_model):
    """The bad row is dataset["train"][3] of the saved folder; after keeping only de it is the filtered row 1."""
    rows = [dict(r) for r in MIXED["train"]]
    rows[3] = row(["de-1", "Ann", "Lee"], [0, 1], "de")
    path = save_dataset(tmp_path / "s", {"train": rows, "test": MIXED["test"]})
    line = one_line_error(invoke("prep", "--dataset", path, "--lang", "de", "--model", tiny_model, "--out", tmp_path / "o"),
                          "split train", "3 tokens but 2 ner_tags")
    assert "row 3" in line, line
    assert not (tmp_path / "o").exists()


def test_errors_after_limit_on_a_multi_language_layout_name_the_right_file_and_line(tmp_path, tiny_model):
    """--limit takes rows evenly from each language, so the kept rows are not the first rows of the files read.

    train_de.jsonl (5 rows) is read before train_en.jsonl, whose line 2 (row 1) has a tag id outside tagset a.
    --limit 4 keeps de rows 0-1 and en rows 0-1: the bad sentence is kept row 3, which is not line 4 of train_de.jsonl.
    """
    root = hub_layout(tmp_path / "src", {"de": {"train": 5, "validation": 1, "test": 1}, "en": {"train": 5, "validation": 1, "test": 1}})
    rows = rows_of("en", "train", 5)
    rows[1] = row(["en-train-1", "Ann"], [0, 31], "en")
    write_jsonl(root / "train" / "train_en.jsonl", rows)
    line = one_line_error(invoke("prep", "--dataset", root, "--tagset", "a", "--limit", 4, "--model", tiny_model, "--out", tmp_path / "o"),
                          "split train", "tag id 31")
    assert "row 1 of train_en.jsonl" in line and "line 2)" in line, line
    assert not (tmp_path / "o").exists()


def test_errors_after_limit_on_a_multi_language_saved_dataset_name_the_row_of_the_saved_split(tmp_path, tiny_model):
    """Saved rows en, en, en, de, de with the last one bad: --limit 4 keeps rows 0, 1, 3, 4, so the bad row is kept row 3."""
    rows = [row([f"en-{i}", "Ann"], [0, 1], "en") for i in range(3)] + [row([f"de-{i}", "Ann"], [0, 1], "de") for i in range(2)]
    rows[4] = row(["de-1", "Ann", "Lee"], [0, 1], "de")
    path = save_dataset(tmp_path / "s", {"train": rows, "test": MIXED["test"]})
    line = one_line_error(invoke("prep", "--dataset", path, "--limit", 4, "--model", tiny_model, "--out", tmp_path / "o"),
                          "split train", "3 tokens but 2 ner_tags")
    assert "row 4" in line, line
    assert not (tmp_path / "o").exists()
