"""Tests for snekner.features: tag restriction, label alignment, tokenization, truncation statistics.

A hand-made WordPiece vocabulary makes the sub-word splits known in advance; the tokenizer of
the sample data follows the recipe of conftest's tiny_model without building a TF model.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from snekner.features import IGNORE, align_labels, continuation_table, restrict_tags, split_stats, tokenize_and_align
from snekner.tagset import load_tagset, parse_tagset

LABELS5 = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
HAND_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "visited", "in", "ber", "##lin", "an", "##na", ".", "paris", "zoo", "##s"]


def _tokenizer(folder, vocab):
    from transformers import BertTokenizerFast

    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)


@pytest.fixture(scope="module")
def hand_tokenizer(tmp_path_factory):
    """an ##na | visited | ber ##lin | . | paris | zoo ##s; anything else is [UNK]."""
    return _tokenizer(tmp_path_factory.mktemp("hand-vocab"), HAND_VOCAB)


@pytest.fixture(scope="module")
def sample_tokenizer(tmp_path_factory, sample_dir):
    words = []
    for path in sample_dir.glob("*/*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words += json.loads(line)["tokens"]
    chars = sorted({c for w in words for c in w.lower()})
    whole = sorted({w.lower() for w in words if len(w) > 3})[::2]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + ["##" + c for c in chars] + whole
    return _tokenizer(tmp_path_factory.mktemp("sample-vocab"), vocab)


def dataset_dict(**splits):
    import datasets

    return datasets.DatasetDict({name: datasets.Dataset.from_dict(columns) for name, columns in splits.items()})


# ----------------------------------------------------------------------------- continuation_table / align_labels


def test_continuation_table():
    assert continuation_table(LABELS5).tolist() == [0, 2, 2, 4, 4]
    # O not first, and a B- without an I- twin keeps its own id
    assert continuation_table(["B-PER", "I-PER", "O", "B-X"]).tolist() == [1, 1, 2, 3]
    assert continuation_table(["O"]).tolist() == [0]


def test_align_labels_first_subword_only():
    # [CLS] w0 w1 w1 w1 w2 [SEP]; w0 = B-LOC, w1 = I-LOC, w2 = O
    word_ids = [None, 0, 1, 1, 1, 2, None]
    labels, words = align_labels(word_ids, [3, 4, 0], label_all_tokens=False, cont=None)
    assert labels == [-100, 3, 4, -100, -100, 0, -100]
    assert words == [-1, 0, 1, 1, 1, 2, -1]
    assert IGNORE == -100


def test_align_labels_all_tokens_continues_b_as_i():
    cont = continuation_table(LABELS5)
    # w0 = B-PER split in 3, w1 = O split in 2, w2 = B-LOC single, w3 = I-LOC split in 2
    word_ids = [None, 0, 0, 0, 1, 1, 2, 3, 3, None]
    labels, words = align_labels(word_ids, [1, 0, 3, 4], label_all_tokens=True, cont=cont)
    assert labels == [-100, 1, 2, 2, 0, 0, 3, 4, 4, -100]
    assert words == [-1, 0, 0, 0, 1, 1, 2, 3, 3, -1]


def test_align_labels_truncated_sentence_and_no_words():
    # the tokenizer saw only words 0 and 1 of a 4-word sentence
    labels, words = align_labels([None, 0, 1, 1, None], [1, 2, 2, 0], label_all_tokens=False, cont=None)
    assert labels == [-100, 1, 2, -100, -100]
    assert words == [-1, 0, 1, 1, -1]
    labels, words = align_labels([None, None], [], label_all_tokens=True, cont=continuation_table(LABELS5))
    assert labels == [-100, -100]
    assert words == [-1, -1]


def test_align_labels_repeated_word_id_after_gap_is_not_first():
    # a word id only counts as "first" where it differs from the previous sub-word's
    labels, _ = align_labels([None, 0, 0, None], [3], label_all_tokens=False, cont=None)
    assert labels == [-100, 3, -100, -100]


# ----------------------------------------------------------------------------- restrict_tags


def test_restrict_tags_to_tagset_b():
    dd = dataset_dict(
        train={"tokens": [["a"] * 7, ["b"] * 3], "ner_tags": [[0, 1, 2, 13, 14, 7, 9], [30, 5, 6]], "lang": ["en", "de"], "extra": [1, 2]},
        test={"tokens": [["c"]], "ner_tags": [[11]], "lang": ["en"], "extra": [3]},
    )
    out = restrict_tags(dd, load_tagset("b"), 31)
    assert list(out) == ["train", "test"]
    assert out["train"]["ner_tags"] == [[0, 1, 2, 9, 10, 7, 0], [0, 5, 6]]
    assert out["test"]["ner_tags"] == [[0]]
    assert out["train"].column_names == ["tokens", "ner_tags", "lang"]  # extra columns dropped
    assert out["train"]["tokens"] == [["a"] * 7, ["b"] * 3]
    assert out["train"]["lang"] == ["en", "de"]


def test_restrict_tags_renumbers_in_file_order_with_outside_not_first():
    tagset = parse_tagset({"B-LOC": 5, "I-LOC": 6, "O": 0, "B-PER": 1, "I-PER": 2}, name="t")
    dd = dataset_dict(train={"tokens": [["x"] * 6, []], "ner_tags": [[1, 2, 5, 6, 3, 0], []]})
    out = restrict_tags(dd, tagset, 7)
    assert out["train"]["ner_tags"] == [[3, 4, 0, 1, 2, 2], []]
    assert out["train"].column_names == ["tokens", "ner_tags"]


def test_restrict_tags_on_chunked_and_limited_data():
    import datasets

    first = datasets.Dataset.from_dict({"tokens": [["a", "b"], ["c"]], "ner_tags": [[13, 14], [3]]})
    second = datasets.Dataset.from_dict({"tokens": [["d", "e", "f"], ["g"]], "ner_tags": [[1, 2, 27], [14]]})
    joined = datasets.concatenate_datasets([first, second])
    assert joined.data.table.column("ner_tags").num_chunks == 2
    out = restrict_tags(datasets.DatasetDict({"train": joined}), load_tagset("b"), 31)
    assert out["train"]["ner_tags"] == [[9, 10], [3], [1, 2, 0], [10]]
    # open_source's --limit keeps the first rows with select(range(n))
    limited = joined.select(range(3))
    out = restrict_tags(datasets.DatasetDict({"train": limited}), load_tagset("b"), 31)
    assert out["train"]["ner_tags"] == [[9, 10], [3], [1, 2, 0]]


# ----------------------------------------------------------------------------- tokenize_and_align


def test_tokenize_and_align_hand_vocab(hand_tokenizer):
    dd = dataset_dict(train={"tokens": [["Anna", "visited", "Berlin", "."], ["Paris", "zoos", "xyz"]],
                             "ner_tags": [[1, 0, 3, 0], [3, 0, 0]]})
    out = tokenize_and_align(dd, hand_tokenizer, max_length=32, label_all_tokens=False, labels=LABELS5)["train"]
    assert [hand_tokenizer.convert_ids_to_tokens(ids) for ids in out["input_ids"]] == [
        ["[CLS]", "an", "##na", "visited", "ber", "##lin", ".", "[SEP]"],
        ["[CLS]", "paris", "zoo", "##s", "[UNK]", "[SEP]"],
    ]
    assert out["word_ids"] == [[-1, 0, 0, 1, 2, 2, 3, -1], [-1, 0, 1, 1, 2, -1]]
    assert out["labels"] == [[-100, 1, -100, 0, 3, -100, 0, -100], [-100, 3, 0, -100, 0, -100]]
    # the word-level columns are kept for scoring
    assert out["ner_tags"] == [[1, 0, 3, 0], [3, 0, 0]]
    assert out["tokens"][0] == ["Anna", "visited", "Berlin", "."]


def test_tokenize_and_align_all_subwords(hand_tokenizer):
    dd = dataset_dict(train={"tokens": [["Anna", "visited", "Berlin", "."]], "ner_tags": [[1, 0, 4, 0]]})
    out = tokenize_and_align(dd, hand_tokenizer, max_length=32, label_all_tokens=True, labels=LABELS5)["train"]
    # B-PER's second sub-word gets I-PER; I-LOC stays I-LOC
    assert out["labels"] == [[-100, 1, 2, 0, 4, 4, 0, -100]]


def test_truncation_drops_words_and_is_counted(hand_tokenizer):
    dd = dataset_dict(train={"tokens": [["Anna", "visited", "Berlin", "."], ["Paris", "."]],
                             "ner_tags": [[1, 0, 3, 0], [3, 0]]})
    out = tokenize_and_align(dd, hand_tokenizer, max_length=6, label_all_tokens=False, labels=LABELS5)["train"]
    # [CLS] an ##na visited ber [SEP]: Berlin keeps only its first sub-word, "." is cut off
    assert hand_tokenizer.convert_ids_to_tokens(out["input_ids"][0]) == ["[CLS]", "an", "##na", "visited", "ber", "[SEP]"]
    assert out["word_ids"] == [[-1, 0, 0, 1, 2, -1], [-1, 0, 1, -1]]
    assert 3 not in out["word_ids"][0]
    assert out["labels"][0] == [-100, 1, -100, 0, 3, -100]
    assert split_stats(out) == {"sentences": 2, "words": 6, "subwords": 10, "truncated_sentences": 1}
    shorter = tokenize_and_align(dd, hand_tokenizer, max_length=4, label_all_tokens=False, labels=LABELS5)["train"]
    assert shorter["word_ids"] == [[-1, 0, 0, -1], [-1, 0, 1, -1]]
    assert split_stats(shorter)["truncated_sentences"] == 1
    longer = tokenize_and_align(dd, hand_tokenizer, max_length=32, label_all_tokens=False, labels=LABELS5)["train"]
    assert split_stats(longer) == {"sentences": 2, "words": 6, "subwords": 12, "truncated_sentences": 0}


def test_split_stats_of_word_level_split():
    dd = dataset_dict(train={"tokens": [["a", "b"], [], ["c"]], "ner_tags": [[0, 0], [], [0]]})
    assert split_stats(dd["train"]) == {"sentences": 3, "words": 3}


def test_tokenize_sample_data_is_consistent(sample_dir, sample_tokenizer):
    from snekner.datasource import open_source

    source = open_source(str(sample_dir), "en")
    tagset = load_tagset("b")
    restricted = restrict_tags(source.dataset, tagset, 31)
    prepared = tokenize_and_align(restricted, sample_tokenizer, max_length=128, label_all_tokens=False, labels=tagset.labels)
    n_checked = 0
    for split in prepared.values():
        for row in split:
            word_ids = np.asarray(row["word_ids"])
            labels = np.asarray(row["labels"])
            tags = np.asarray(row["ner_tags"])
            assert len(word_ids) == len(labels) == len(row["input_ids"])
            assert word_ids[0] == word_ids[-1] == -1  # [CLS], [SEP]
            assert (word_ids[1:-1] >= 0).all()
            # word ids run 0..n-1 without gaps, in order
            assert np.unique(word_ids[1:-1]).tolist() == list(range(len(row["tokens"])))
            assert (np.diff(word_ids[1:-1]) >= 0).all()
            first = np.r_[False, (word_ids[1:] != word_ids[:-1])] & (word_ids >= 0)
            assert (labels[~first] == -100).all()
            assert labels[first].tolist() == tags.tolist()  # one label per word, the word's tag
            # every sub-word spells a piece of its word
            pieces = sample_tokenizer.convert_ids_to_tokens(row["input_ids"])
            for w, word in enumerate(row["tokens"]):
                text = "".join(p.removeprefix("##") for p, i in zip(pieces, word_ids) if i == w)
                assert text == word.lower()
            n_checked += 1
    assert n_checked == 200
    assert max(max(t) for t in prepared["train"]["ner_tags"]) == 10
    assert split_stats(prepared["test"])["truncated_sentences"] == 0
