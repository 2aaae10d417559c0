"""Data not shaped like MultiNERD (issue 12, data in): CoNLL-style column files, string tags, ClassLabel
names, other column names, IOB1/BIOES schemes, tagsets by type names; bad input in one line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import invoke, ok, one_line_error

from snekner.data.conll import split_of
from snekner.data.reading import Reading
from snekner.data.sources import open_source
from snekner.errors import SchemeError
from snekner.ner.schemes import Scheme, label_list, to_iob2
from snekner.ner.tagset import resolve_tagset
from snekner.store.evaluations import read_evaluation_file

# CoNLL-2003's own layout: word, POS, chunk, tag in IOB1 (an entity starts with I- unless it follows one of its type)
TRAIN = """-DOCSTART- -X- -X- O

EU NNP B-NP I-ORG
rejects VBZ B-VP O
German JJ B-NP I-MISC
call NN I-NP O

Peter NNP B-NP I-PER
Blackburn NNP I-NP I-PER

Paris NNP B-NP I-LOC
Berlin NNP I-NP B-LOC
"""
DEV = "Germany NNP B-NP I-LOC\n's POS B-NP O\n\n\nWerner NNP I-NP I-PER\nZwingmann NNP I-NP I-PER\n"


def conll_folder(root: Path, train: str = TRAIN, dev: str = DEV, test: str = DEV) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "eng.train").write_text(train, encoding="utf-8")
    (root / "eng.testa").write_text(dev, encoding="utf-8")
    (root / "eng.testb").write_text(test, encoding="utf-8")
    return root


def tags_of(source, split: str) -> list[list[str]]:
    return [[source.label_names[i] for i in row] for row in source.dataset[split]["ner_tags"]]


def test_schemes_convert_to_iob2():
    assert to_iob2("I-PER I-PER O I-LOC B-LOC I-ORG".split(), Scheme.IOB1) == ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "B-ORG"]
    assert to_iob2("S-PER B-LOC I-LOC E-LOC O U-X B-Y L-Y".split(), Scheme.BIOES) == ["B-PER", "B-LOC", "I-LOC", "I-LOC", "O", "B-X", "B-Y", "I-Y"]
    assert to_iob2("B-PER I-PER O".split(), Scheme.IOB2) == ["B-PER", "I-PER", "O"]
    with pytest.raises(SchemeError) as e:
        to_iob2(["O", "E-PER"], Scheme.IOB2)
    assert e.value.position == 1 and "not iob2" in str(e.value)
    assert label_list(["O", "B-PER", "I-LOC"]) == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


@pytest.mark.parametrize("name, split", [("train.txt", "train"), ("eng.testa", "validation"), ("eng.testb", "test"),
                                         ("en_ewt-ud-dev.conll", "validation"), ("valid.iob", "validation"), ("notes.txt", None)])
def test_split_of_a_file_name(name, split):
    assert split_of(Path(name)) == split


def test_conll_folder_in_iob1_reads_as_iob2_with_its_own_labels(tmp_path):
    source = open_source(str(conll_folder(tmp_path / "c")), reading=Reading(scheme="iob1"))
    assert sorted(source.dataset) == ["test", "train", "validation"]
    assert source.label_names == ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert source.dataset["train"]["tokens"][0] == ["EU", "rejects", "German", "call"]  # -DOCSTART- skipped
    assert tags_of(source, "train") == [["B-ORG", "O", "B-MISC", "O"], ["B-PER", "I-PER"], ["B-LOC", "B-LOC"]]
    assert tags_of(source, "validation") == [["B-LOC", "O"], ["B-PER", "I-PER"]]  # two blank lines are one break


def test_a_byte_order_mark_is_no_part_of_the_first_word_nor_a_sentence(tmp_path):
    """Issue 26: a UTF-8 byte-order mark (Windows editors write one) stayed in the first word, and before -DOCSTART- it
    made a sentence of its own ("\ufeff-DOCSTART-" is no -DOCSTART- line)."""
    bom = "\ufeff"
    folder = conll_folder(tmp_path / "c", train=bom + TRAIN, dev=bom + DEV)
    source = open_source(str(folder), reading=Reading(scheme="iob1"))
    assert source.dataset["train"]["tokens"][0] == ["EU", "rejects", "German", "call"] and len(source.dataset["train"]) == 3
    assert source.dataset["validation"]["tokens"][0] == ["Germany", "'s"]
    single = tmp_path / "one.txt"
    single.write_text(bom + "Bob B-PER\nsings O\n", encoding="utf-8")  # one file: still read as columns, not as JSON
    assert open_source(str(single)).dataset["train"]["tokens"][0] == ["Bob", "sings"]


def test_one_column_file_is_one_split_and_tag_column_picks_the_tag(tmp_path):
    path = tmp_path / "mine.tsv"
    path.write_text("New York\tB-LOC\tx\nis\tO\tx\n\nBob\tB-PER\tx\n", encoding="utf-8")  # tabs: a word may hold a space
    source = open_source(str(path), reading=Reading(tag_column=2))
    assert list(source.dataset) == ["train"] and source.dataset["train"]["tokens"][0] == ["New York", "is"]
    assert tags_of(source, "train") == [["B-LOC", "O"], ["B-PER"]]


@pytest.mark.parametrize("content, scheme, line_in_content, fragments", [
    ("EU I-ORG\nrejects\n", "iob1", 2, ["has one column", "'rejects'"]),
    ("EU I-ORG\n\nx E-PER\n", "iob2", 3, ["tag 'E-PER' is not iob2", "--scheme"]),
    ("EU I-ORG\n\nx PERSON\n", "iob1", 3, ["tag 'PERSON' is not iob1"]),
])
def test_bad_column_files_name_the_file_and_line(tmp_path, content, scheme, line_in_content, fragments):
    root = conll_folder(tmp_path / "c", train=TRAIN + "\n" + content)
    line = TRAIN.count("\n") + 1 + line_in_content  # the blank line that ends TRAIN's last sentence, then the content
    one_line_error(invoke("inspect", root, "--scheme", scheme), f"{root / 'eng.train'} line {line}", *fragments)


def test_a_type_only_in_test_is_refused_naming_where(tmp_path):
    root = conll_folder(tmp_path / "c", test="Rome NNP B-NP I-CITY\n")
    one_line_error(invoke("inspect", root, "--scheme", "iob1"), f"{root / 'eng.testb'} line 1: type CITY is in the test split but not in train",
                   "--tagset")


def test_string_tags_in_json_lines_with_other_column_names(tmp_path, tiny_model):
    root = tmp_path / "j"
    for split, rows in {"train": [(["Ann", "went", "to", "Oslo"], ["S-PER", "O", "O", "S-LOC"]), (["Bob", "Smith"], ["B-PER", "E-PER"])],
                        "test": [(["Oslo"], ["S-LOC"])]}.items():
        (root / split).mkdir(parents=True)
        lines = [json.dumps({"words": w, "labels": t, "language": "en"}) for w, t in rows]
        (root / split / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    source = open_source(str(root / "train" / "train.jsonl"), reading=Reading(tokens_column="words", tags_column="labels",
                                                                              lang_column="language", scheme="bioes"))
    assert tags_of(source, "train") == [["B-PER", "O", "O", "B-LOC"], ["B-PER", "I-PER"]] and source.languages == ["en"]
    out = tmp_path / "prepared"
    ok("prep", "--dataset", root / "train" / "train.jsonl", "--tokens-column", "words", "--tags-column", "labels", "--lang-column", "language",
       "--scheme", "bioes", "--model", tiny_model, "--max-length", 32, "--out", out)
    manifest = json.loads((out / "snekner-prepared.json").read_text())
    assert manifest["tagset"]["labels"] == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]  # no --tagset: every label the data has
    assert manifest["scheme"] == "bioes" and manifest["source_labels"] == manifest["tagset"]["labels"]
    one_line_error(invoke("inspect", root / "train" / "train.jsonl", "--tags-column", "nope"), "has no column 'nope'", "--tags-column")


def test_class_label_names_and_a_tagset_by_type_names(tmp_path, tiny_model):
    import datasets

    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                  "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]))})
    rows = {"tokens": [["Ann", "in", "Oslo"], ["Acme", "Corp", "hired", "Bob"]], "ner_tags": [[1, 0, 3], [5, 6, 0, 1]]}
    saved = tmp_path / "saved"
    datasets.DatasetDict({s: datasets.Dataset.from_dict(rows, features=features) for s in ("train", "validation", "test")}).save_to_disk(str(saved))
    out = tmp_path / "p"
    ok("prep", "--dataset", saved, "--tagset", "PER,ORG", "--model", tiny_model, "--max-length", 32, "--out", out)
    manifest = json.loads((out / "snekner-prepared.json").read_text())
    assert manifest["tagset"]["source_ids"] == {"O": 0, "B-PER": 1, "I-PER": 2, "B-ORG": 5, "I-ORG": 6}  # the dataset's own ids
    one_line_error(invoke("prep", "--dataset", saved, "--tagset", "PER,CITY", "--model", tiny_model, "--out", tmp_path / "q"),
                   "type 'CITY' is not one of", "(LOC, ORG, PER)", "--tagset")


def test_type_names_on_multinerd_ids_match_the_named_tagset(sample_dir):
    source = open_source(str(sample_dir), "en")
    assert source.label_names is None  # MultiNERD's files name no labels: its ids are tagset a's
    by_names = resolve_tagset("PER,ORG,LOC,ANIM,DIS", None)
    assert by_names.source_ids == resolve_tagset("b", None).source_ids
    assert resolve_tagset(None, None).name == "a"


def test_inspect_reads_column_files(tmp_path):
    result = ok("inspect", conll_folder(tmp_path / "c"), "--scheme", "iob1", "--json")
    report = json.loads(result.output)
    assert report["splits"]["train"]["entities"] == {"LOC": 2, "MISC": 1, "ORG": 1, "PER": 1}
    assert report["splits"]["train"]["bio_violations"] == 0 and report["labels_from"] == "the dataset's own label names"


def test_a_conll_2003_style_folder_trains_and_evaluates(sample_dir, tiny_model, tmp_path):
    """The issue's bar: IOB1 column files, `prep --dataset FOLDER --scheme iob1` (and the test model), then train and eval."""
    from snekner.ner.tagset import load_tagset

    names = load_tagset("a").labels
    folder = tmp_path / "conll2003"
    folder.mkdir()
    for split, file_name in (("train", "eng.train"), ("val", "eng.testa"), ("test", "eng.testb")):
        lines = ["-DOCSTART- -X- -X- O", ""]
        for line in (sample_dir / split / f"{split}_en.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            tags = [names[i] for i in row["ner_tags"]]
            for i, (word, tag) in enumerate(zip(row["tokens"], tags)):
                follows_same = i > 0 and tags[i - 1] != "O" and tags[i - 1][2:] == tag[2:]
                iob1 = tag if tag == "O" or (tag.startswith("B-") and follows_same) else "I-" + tag[2:]
                lines.append(f"{word} NN O {iob1}")
            lines.append("")
        (folder / file_name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    prepared, runs = tmp_path / "prepared", tmp_path / "runs"
    ok("prep", "--dataset", folder, "--scheme", "iob1", "--model", tiny_model, "--out", prepared)
    manifest = json.loads((prepared / "snekner-prepared.json").read_text())
    assert manifest["dataset_layout"] == "column files" and "B-PER" in manifest["tagset"]["labels"]
    ok("train", prepared, "--name", "C", "--runs-dir", runs, "--epochs", 1, "--batch-size", 8)
    ok("eval", "C", "--runs-dir", runs)
    result = read_evaluation_file(runs / "C" / "eval" / "test.json")
    assert result.n_sentences == 40 and set(result.per_type) == set(manifest["tagset"]["types"])


def test_inspect_suggests_iob1_when_named_labels_break_bio(tmp_path):
    report = json.loads(ok("inspect", conll_folder(tmp_path / "c"), "--json").output)
    assert report["scheme"] == "iob2" and report["splits"]["train"]["bio_violations"] == 4
    assert any("read it in scheme iob1" in line for line in report["findings"])
