"""Tests for snekner.ner.tagset: named tagsets, tagset files, remapping and every bad-input error."""
from __future__ import annotations

import json

import pytest

from snekner.errors import SneknerError
from snekner.data.sample import LABELS as MULTINERD_LABELS
from snekner.ner.tagset import DEFAULT_SOURCE_LABELS, Tagset, load_tagset, named_tagsets, parse_tagset, resolve_tagset_path

B_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-ANIM", "I-ANIM", "B-DIS", "I-DIS"]


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- named tagsets


def test_named_tagsets_are_found():
    names = named_tagsets()
    assert {"a", "b"} <= set(names)
    assert names["a"].name == "a.json"


def test_tagset_a_is_all_of_multinerd():
    a = load_tagset("a")
    assert a.name == "a"
    assert len(a.labels) == 31
    assert a.labels == MULTINERD_LABELS
    assert a.types == ["PER", "ORG", "LOC", "ANIM", "BIO", "CEL", "DIS", "EVE", "FOOD", "INST", "MEDIA", "MYTH", "PLANT", "TIME", "VEHI"]
    assert len(a.types) == 15
    assert a.outside_id == 0
    assert a.source_to_new() == {i: i for i in range(31)}
    assert a.remap_table(31) == list(range(31))


def test_tagset_b_keeps_five_types_and_renumbers_dis():
    b = load_tagset("b")
    assert b.name == "b"
    assert b.labels == B_LABELS
    assert b.types == ["PER", "ORG", "LOC", "ANIM", "DIS"]
    assert b.label2id["B-DIS"] == 9
    assert b.label2id["I-DIS"] == 10
    assert b.source_ids["B-DIS"] == 13
    assert b.source_ids["I-DIS"] == 14
    assert b.source_to_new() == {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 13: 9, 14: 10}


def test_tagset_b_remap_table():
    table = load_tagset("b").remap_table(31)
    expected = [0] * 31
    expected[:9] = list(range(9))
    expected[13], expected[14] = 9, 10
    assert table == expected
    assert table[9] == table[10] == table[11] == table[12] == 0  # BIO, CEL -> O
    assert table[30] == 0


def test_named_tagset_resolves_from_another_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    b = load_tagset("b")
    assert b.labels == B_LABELS
    assert resolve_tagset_path("a").name == "a.json"
    assert resolve_tagset_path("a").is_absolute()


def test_tagset_file_in_working_directory(tmp_path, monkeypatch):
    write(tmp_path, "mine.json", json.dumps({"O": 0, "B-LOC": 5, "I-LOC": 6}))
    monkeypatch.chdir(tmp_path)
    t = load_tagset("mine.json")
    assert t.name == "mine"
    assert t.path == "mine.json"
    assert t.labels == ["O", "B-LOC", "I-LOC"]
    assert t.remap_table(8) == [0, 0, 0, 0, 0, 1, 2, 0]


# ----------------------------------------------------------------------------- remapping and widths


def test_renumbering_follows_file_order_and_outside_id():
    t = parse_tagset({"B-PER": 1, "I-PER": 2, "O": 0, "B-LOC": 5, "I-LOC": 6}, name="t")
    assert t.labels == ["B-PER", "I-PER", "O", "B-LOC", "I-LOC"]
    assert t.outside_id == 2
    assert t.types == ["PER", "LOC"]
    # ids outside the tagset map to O's new id (2), not to 0
    assert t.remap_table(8) == [2, 0, 1, 2, 2, 3, 4, 2]


def test_source_width():
    assert DEFAULT_SOURCE_LABELS == 31
    assert load_tagset("b").source_width() == 31
    assert load_tagset("b").source_width(declared=20) == 20
    wide = parse_tagset({"O": 0, "B-X": 40, "I-X": 41}, name="wide")
    assert wide.source_width() == 42
    assert len(wide.remap_table(wide.source_width())) == 42


def test_manifest_round_trip():
    b = load_tagset("b")
    m = b.to_manifest()
    assert m["labels"] == B_LABELS
    assert m["types"] == ["PER", "ORG", "LOC", "ANIM", "DIS"]
    assert m["source_to_new"]["13"] == 9
    assert json.loads(json.dumps(m)) == m
    again = Tagset.from_manifest(json.loads(json.dumps(m)))
    assert again == b


def test_check_against_source_accepts_matching_names():
    load_tagset("b").check_against_source(MULTINERD_LABELS)
    load_tagset("b").check_against_source(None)


def test_check_against_source_mismatching_name():
    names = list(MULTINERD_LABELS)
    names[13], names[14] = "B-XYZ", "I-XYZ"
    with pytest.raises(SneknerError, match=r"tagset b: id 13 is 'B-XYZ' in the dataset, not 'B-DIS'; fix the id in .*b\.json"):
        load_tagset("b").check_against_source(names)


def test_check_against_source_id_out_of_range():
    with pytest.raises(SneknerError, match=r"tagset b: B-DIS has id 13, but the dataset has only 9 labels"):
        load_tagset("b").check_against_source(MULTINERD_LABELS[:9])


# ----------------------------------------------------------------------------- bad tagset files


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param('{"O": 0, "B-PER": 1,', r"is not valid JSON \(.* at line 1, column \d+\); fix the file", id="not JSON"),
        pytest.param("", r"is not valid JSON", id="empty file"),
        pytest.param("[0, 1, 2]", r"must be a JSON object mapping BIO labels to ids", id="array"),
        pytest.param('"O"', r"must be a JSON object mapping BIO labels to ids", id="string"),
        pytest.param("{}", r"must be a JSON object mapping BIO labels to ids", id="empty object"),
        pytest.param('{"B-PER": 1, "I-PER": 2}', r'has no "O" label', id="no O"),
        pytest.param('{"O": 0, "PER": 1}', r"label 'PER' is not BIO; use O, B-TYPE or I-TYPE", id="no prefix"),
        pytest.param('{"O": 0, "B-": 1, "I-": 2}', r"label 'B-' is not BIO", id="prefix without type"),
        pytest.param('{"O": 0, "E-PER": 1}', r"label 'E-PER' is not BIO", id="other prefix"),
        pytest.param('{"O": 0, "B-PER": 1}', r"B-PER has no I-PER; add I-PER", id="B without I"),
        pytest.param('{"O": 0, "I-PER": 2}', r"I-PER has no B-PER; add B-PER", id="I without B"),
        pytest.param('{"O": 0, "B-PER": 1, "I-PER": 1}', r"'B-PER' and 'I-PER' both have id 1", id="duplicate id"),
        pytest.param('{"O": 0, "B-PER": 1, "I-PER": 2, "B-PER": 3}', r"label 'B-PER' appears twice; keep one entry per label", id="duplicate key"),
        pytest.param('{"O": 0, "B-PER": -1, "I-PER": 2}', r"'B-PER' has id -1; ids must be non-negative integers", id="negative id"),
        pytest.param('{"O": 0, "B-PER": "1", "I-PER": 2}', r"'B-PER' has id '1'; ids must be non-negative integers", id="string id"),
        pytest.param('{"O": 0, "B-PER": 1.0, "I-PER": 2}', r"'B-PER' has id 1\.0; ids must be non-negative integers", id="float id"),
        pytest.param('{"O": true, "B-PER": 1, "I-PER": 2}', r"'O' has id True; ids must be non-negative integers", id="bool id"),
        pytest.param('{"O": null}', r"'O' has id None", id="null id"),
    ],
)
def test_bad_tagset_file(tmp_path, text, message):
    path = write(tmp_path, "bad.json", text)
    with pytest.raises(SneknerError, match=message) as info:
        load_tagset(str(path))
    assert str(path) in str(info.value)  # the message names the file
    assert "\n" not in str(info.value)


def test_unknown_named_tagset_lists_the_named_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SneknerError, match=r"unknown tagset 'c'; pass a tagset file, type names such as PER,ORG,LOC, or one of the named tagsets \(a, b") as info:
        load_tagset("c")
    assert "wikineural" in str(info.value)


def test_missing_tagset_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SneknerError, match=r"tagset file missing\.json not found; pass a tagset file, type names such as PER,ORG,LOC, or one of the named tagsets"):
        load_tagset("missing.json")
    with pytest.raises(SneknerError, match=r"tagset file sub/b not found"):
        load_tagset("sub/b")


def test_tagset_path_is_a_directory(tmp_path):
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(SneknerError, match="not found"):
        load_tagset(str(tmp_path / "dir.json"))
