"""Tests for snekner.data.prepare: tag restriction, label alignment, tokenization, truncation statistics.

A hand-made WordPiece vocabulary makes the sub-word splits known in advance; the tokenizer of
the sample data follows the recipe of conftest's tiny_model without building a TF model.
tokenize_and_align (distinct words encoded once, sentences laid out with numpy) is checked
against a plain per-sentence reference: one tokenizer call and one Python loop per sentence.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from snekner.data.prepare import restrict_tags, split_stats
from snekner.data.tokenize import align_labels, continuation_table, encode_directly, tokenize_and_align
from snekner.ner.labels import IGNORE
from snekner.store.manifests import SplitStats
from snekner.ner.tagset import load_tagset, parse_tagset

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


def _align_one(word_ids, tags, label_all_tokens, cont):
    """align_labels on a single sentence (word ids with None for special tokens)."""
    w = np.asarray([-1 if i is None else i for i in word_ids], dtype=np.int64)
    return align_labels(w, np.array([0, len(w)]), np.asarray(tags, dtype=np.int64), np.array([0, len(tags)]), label_all_tokens=label_all_tokens,
                        cont=cont).tolist()


def test_align_labels_first_subword_only():
    # [CLS] w0 w1 w1 w1 w2 [SEP]; w0 = B-LOC, w1 = I-LOC, w2 = O
    labels = _align_one([None, 0, 1, 1, 1, 2, None], [3, 4, 0], label_all_tokens=False, cont=None)
    assert labels == [-100, 3, 4, -100, -100, 0, -100]
    assert IGNORE == -100


def test_align_labels_all_tokens_continues_b_as_i():
    cont = continuation_table(LABELS5)
    # w0 = B-PER split in 3, w1 = O split in 2, w2 = B-LOC single, w3 = I-LOC split in 2
    labels = _align_one([None, 0, 0, 0, 1, 1, 2, 3, 3, None], [1, 0, 3, 4], label_all_tokens=True, cont=cont)
    assert labels == [-100, 1, 2, 2, 0, 0, 3, 4, 4, -100]


def test_align_labels_truncated_sentence_and_no_words():
    # the tokenizer saw only words 0 and 1 of a 4-word sentence
    assert _align_one([None, 0, 1, 1, None], [1, 2, 2, 0], label_all_tokens=False, cont=None) == [-100, 1, 2, -100, -100]
    assert _align_one([None, None], [], label_all_tokens=True, cont=continuation_table(LABELS5)) == [-100, -100]


def test_align_labels_repeated_word_id_after_gap_is_not_first():
    # a word id only counts as "first" where it differs from the previous sub-word's
    assert _align_one([None, 0, 0, None], [3], label_all_tokens=False, cont=None) == [3 if i == 1 else -100 for i in range(4)]


def test_align_labels_many_sentences_at_once():
    # rows: [CLS] 0 0 1 [SEP] | (empty) | 0 0 | 0 1 1 | [CLS] [SEP]; rows 2 and 3 have no special tokens, so
    # row 3's first sub-word follows row 2's last, of the same word id, and is still a first sub-word
    word_ids = np.array([-1, 0, 0, 1, -1, 0, 0, 0, 1, 1, -1, -1])
    offsets = np.array([0, 5, 5, 7, 10, 12])
    tags = np.array([1, 0, 3, 3, 4])  # rows' tags: B-PER O | - | B-LOC | B-LOC I-LOC | -
    tag_offsets = np.array([0, 2, 2, 3, 5, 5])
    first_only = align_labels(word_ids, offsets, tags, tag_offsets, label_all_tokens=False, cont=None)
    assert first_only.tolist() == [-100, 1, -100, 0, -100, 3, -100, 3, 4, -100, -100, -100]
    every = align_labels(word_ids, offsets, tags, tag_offsets, label_all_tokens=True, cont=continuation_table(LABELS5))
    assert every.tolist() == [-100, 1, 2, 0, -100, 3, 4, 3, 4, 4, -100, -100]
    assert first_only.dtype == every.dtype == np.int64


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
    assert split_stats(out) == SplitStats(sentences=2, words=6, subwords=10, truncated_sentences=1, truncated_words=1)
    shorter = tokenize_and_align(dd, hand_tokenizer, max_length=4, label_all_tokens=False, labels=LABELS5)["train"]
    assert shorter["word_ids"] == [[-1, 0, 0, -1], [-1, 0, 1, -1]]
    assert (split_stats(shorter).truncated_sentences, split_stats(shorter).truncated_words) == (1, 3)  # visited, Berlin, .
    longer = tokenize_and_align(dd, hand_tokenizer, max_length=32, label_all_tokens=False, labels=LABELS5)["train"]
    assert split_stats(longer) == SplitStats(sentences=2, words=6, subwords=12, truncated_sentences=0, truncated_words=0)


def test_split_stats_of_word_level_split():
    dd = dataset_dict(train={"tokens": [["a", "b"], [], ["c"]], "ner_tags": [[0, 0], [], [0]]})
    assert split_stats(dd["train"]) == SplitStats(sentences=3, words=3)


def test_tokenize_sample_data_is_consistent(sample_dir, sample_tokenizer):
    from snekner.data.sources import open_source

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
    assert split_stats(prepared["test"]).truncated_sentences == 0


# ----------------------------------------------------------------------------- tokenize_and_align vs a per-sentence reference


def reference_prepare(tokenizer, sentences, tags, max_length, label_all_tokens, cont):
    """The plain way: one tokenizer call and one Python loop per sentence -> [(input_ids, labels, word_ids)]."""
    rows = []
    for words, word_tags in zip(sentences, tags):
        enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
        labels, previous = [], None
        for w in enc.word_ids():
            if w is None:
                labels.append(IGNORE)
            elif w != previous:
                labels.append(word_tags[w])
            elif label_all_tokens:
                labels.append(int(cont[word_tags[w]]))
            else:
                labels.append(IGNORE)
            previous = w
        rows.append((enc["input_ids"], labels, [-1 if w is None else w for w in enc.word_ids()]))
    return rows


# an empty sentence, words the tokenizer drops ("", a control character, a zero-width space),
# unknown words, a sentence with nothing but a dropped word, and long sentences that get truncated
TRICKY = [
    (["Anna", "visited", "Berlin", "."], [1, 0, 3, 0]),
    ([], []),
    (["", "Paris", "\x07", "zoos", "\u200b"], [0, 3, 0, 1, 0]),
    (["Berlin"] * 5 + ["zoos", "Anna"] * 3, [3, 4, 4, 4, 4, 0, 1, 0, 2, 0, 1]),
    (["xyz", "Annazoos", "BERLIN", "visited"], [1, 2, 3, 0]),
    (["\u200b"], [1]),
    (["Anna", "Anna", "zoos", "Berlin", "in", "Paris", "."], [1, 2, 0, 3, 0, 3, 0]),
]


def framed_tokenizer(template: str | None, truncation_side: str = "right"):
    """The hand vocabulary's WordPiece tokenizer with other special tokens around a sentence (or none)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordPiece({t: i for i, t in enumerate(HAND_VOCAB)}, unk_token="[UNK]"))
    core.normalizer = normalizers.BertNormalizer(lowercase=True)
    core.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    if template:
        core.post_processor = processors.TemplateProcessing(
            single=template, special_tokens=[(t, HAND_VOCAB.index(t)) for t in ("[CLS]", "[SEP]", "[MASK]")])
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]", pad_token="[PAD]", truncation_side=truncation_side)


def assert_matches_reference(out, tokenizer, sentences, tags, max_length, label_all_tokens, cont):
    expected = reference_prepare(tokenizer, sentences, tags, max_length, label_all_tokens, cont)
    assert out["input_ids"] == [ids for ids, _, _ in expected]
    assert out["labels"] == [labels for _, labels, _ in expected]
    assert out["word_ids"] == [words for _, _, words in expected]


@pytest.mark.parametrize("max_length", [4, 8, 9, 12, 64])
@pytest.mark.parametrize("label_all_tokens", [False, True])
@pytest.mark.parametrize("kind", ["bert", "bert-truncating-left", "two-before-one-after", "one-after", "no-special-tokens"])
def test_tokenize_and_align_matches_per_sentence_reference(hand_tokenizer, kind, label_all_tokens, max_length):
    tokenizer = {
        "bert": lambda: hand_tokenizer,
        "bert-truncating-left": lambda: framed_tokenizer("[CLS] $A [SEP]", truncation_side="left"),
        "two-before-one-after": lambda: framed_tokenizer("[CLS] [MASK] $A [SEP]"),
        "one-after": lambda: framed_tokenizer("$A [SEP]"),
        "no-special-tokens": lambda: framed_tokenizer(None),
    }[kind]()
    sentences, tags = [s for s, _ in TRICKY], [t for _, t in TRICKY]
    cont = continuation_table(LABELS5)
    out = tokenize_and_align(dataset_dict(train={"tokens": sentences, "ner_tags": tags}), tokenizer, max_length=max_length,
                             label_all_tokens=label_all_tokens, labels=LABELS5)["train"]
    assert_matches_reference(out, tokenizer, sentences, tags, max_length, label_all_tokens, cont)
    if max_length <= 9 and kind != "no-special-tokens":
        assert any(len(row) == max_length for row in out["input_ids"])  # truncation happened


@pytest.mark.parametrize("label_all_tokens", [False, True])
def test_tokenize_sample_data_matches_per_sentence_reference(sample_dir, sample_tokenizer, label_all_tokens):
    from snekner.data.sources import open_source

    tagset = load_tagset("b")
    restricted = restrict_tags(open_source(str(sample_dir)).dataset, tagset, 31)
    prepared = tokenize_and_align(restricted, sample_tokenizer, max_length=16, label_all_tokens=label_all_tokens, labels=tagset.labels)
    assert list(prepared) == list(restricted)
    for name, split in prepared.items():
        assert_matches_reference(split, sample_tokenizer, split["tokens"], split["ner_tags"], 16, label_all_tokens,
                                 continuation_table(tagset.labels))
        assert split["lang"] == restricted[name]["lang"]
    assert split_stats(prepared["train"]).truncated_sentences > 0


def test_tokenize_and_align_column_types_and_worker_processes(hand_tokenizer, monkeypatch):
    import datasets

    sentences, tags = [s for s, _ in TRICKY] * 3, [t for _, t in TRICKY] * 3
    dd = dataset_dict(train={"tokens": sentences, "ner_tags": tags, "lang": ["en"] * len(tags)})
    here = tokenize_and_align(dd, hand_tokenizer, max_length=8, label_all_tokens=True, labels=LABELS5)["train"]
    ints = lambda dtype: datasets.List(datasets.Value(dtype))  # noqa: E731
    assert here.features == datasets.Features({"tokens": datasets.List(datasets.Value("string")), "ner_tags": ints("int64"),
                                               "lang": datasets.Value("string"), "input_ids": ints("int32"),
                                               "labels": ints("int64"), "word_ids": ints("int64")})
    # --num-proc: the distinct words are encoded in worker processes, with the same result
    monkeypatch.setattr("snekner.data.tokenize.WORDS_PER_SEQUENCE", 3)  # several sequences even for this small vocabulary
    workers = tokenize_and_align(dd, hand_tokenizer, max_length=8, label_all_tokens=True, labels=LABELS5, num_proc=2)["train"]
    assert workers.data.table.equals(here.data.table)


def test_fast_path_that_disagrees_with_the_tokenizer_falls_back_to_it(hand_tokenizer, monkeypatch):
    """Should a tokenizer split a word differently by its place in the sentence, the distinct-word
    layout would be wrong: simulated here by a layout that shifts one sentence's ids."""
    import snekner.data.tokenize as features

    real = features.encode_sentences

    def wrong(*args):
        input_ids, word_ids, offsets = real(*args)
        input_ids = input_ids.copy()
        input_ids[offsets[-2] + 1] += 1  # the last sentence's first sub-word
        return input_ids, word_ids, offsets

    calls = []
    monkeypatch.setattr(features, "encode_sentences", wrong)
    monkeypatch.setattr(features, "encode_directly", lambda *a: calls.append(len(a[1])) or encode_directly(*a))
    sentences, tags = [s for s, _ in TRICKY], [t for _, t in TRICKY]
    out = tokenize_and_align(dataset_dict(train={"tokens": sentences, "ner_tags": tags}), hand_tokenizer, max_length=16,
                             label_all_tokens=False, labels=LABELS5)["train"]
    assert calls == [len(sentences), len(sentences)]  # the check, then the whole split
    assert_matches_reference(out, hand_tokenizer, sentences, tags, 16, False, None)


def test_bert_tokenizer_takes_the_fast_path(hand_tokenizer, monkeypatch):
    import snekner.data.tokenize as features

    calls = []
    monkeypatch.setattr(features, "encode_directly", lambda *a: calls.append(len(a[1])) or encode_directly(*a))
    sentences, tags = [s for s, _ in TRICKY], [t for _, t in TRICKY]
    tokenize_and_align(dataset_dict(train={"tokens": sentences, "ner_tags": tags}), hand_tokenizer, max_length=8,
                       label_all_tokens=False, labels=LABELS5)
    assert calls == [len(sentences)]  # only the check ran the tokenizer per sentence


# ----------------------------------------------------------------------------- chunks (issue 14): the same result as all at once

@pytest.mark.parametrize("label_all_tokens", [False, True])
@pytest.mark.parametrize("max_length", [4, 8, 32])
def test_tokenize_and_align_in_chunks_equals_all_at_once(hand_tokenizer, label_all_tokens, max_length):
    sentences, tags = [s for s, _ in TRICKY] * 4, [t for _, t in TRICKY] * 4
    dd = dataset_dict(train={"tokens": sentences, "ner_tags": tags, "lang": ["en", "de"] * (len(tags) // 2)},
                      test={"tokens": sentences[:5], "ner_tags": tags[:5], "lang": ["en"] * 5})
    dd["validation"] = dd["train"].select([])  # an empty split keeps its columns
    whole = tokenize_and_align(dd, hand_tokenizer, max_length=max_length, label_all_tokens=label_all_tokens, labels=LABELS5, chunk=10**9)
    for chunk in (1, 3):
        parts = tokenize_and_align(dd, hand_tokenizer, max_length=max_length, label_all_tokens=label_all_tokens, labels=LABELS5, chunk=chunk)
        for name in dd:
            assert parts[name].features == whole[name].features
            assert parts[name].data.table.equals(whole[name].data.table), (chunk, name)
            assert split_stats(parts[name], chunk=chunk) == split_stats(whole[name])
    train = dd["train"]
    assert_matches_reference(whole["train"], hand_tokenizer, train["tokens"], train["ner_tags"], max_length, label_all_tokens,
                             continuation_table(LABELS5) if label_all_tokens else None)


def test_fallback_in_chunks_equals_the_tokenizer(hand_tokenizer, monkeypatch):
    import snekner.data.tokenize as features

    real = features.encode_sentences

    def wrong(*args):
        input_ids, word_ids, offsets = real(*args)
        input_ids = input_ids.copy()
        input_ids[offsets[-2] + 1] += 1
        return input_ids, word_ids, offsets

    monkeypatch.setattr(features, "encode_sentences", wrong)
    sentences, tags = [s for s, _ in TRICKY] * 2, [t for _, t in TRICKY] * 2
    out = tokenize_and_align(dataset_dict(train={"tokens": sentences, "ner_tags": tags}), hand_tokenizer, max_length=16,
                             label_all_tokens=False, labels=LABELS5, chunk=3)["train"]
    assert_matches_reference(out, hand_tokenizer, sentences, tags, 16, False, None)


@pytest.mark.parametrize("chunk", [1, 3, 10**9])
def test_splits_written_a_part_at_a_time_load_as_save_to_disk_of_the_whole(hand_tokenizer, tmp_path, monkeypatch, chunk):
    """prep writes each part as it is laid out (data.arrow.save_splits): what load_from_disk reads back, the features,
    the fingerprint and datasets' info file are those of the whole splits saved by save_to_disk."""
    import datasets

    import snekner.data.arrow as arrow
    from snekner.data.arrow import save_splits
    from snekner.data.tokenize import aligned_parts

    monkeypatch.setattr(arrow, "ROWS_PER_BATCH", 4)  # the fingerprint's batches cross the parts' edges
    sentences, tags = [s for s, _ in TRICKY] * 4, [t for _, t in TRICKY] * 4
    dd = dataset_dict(train={"tokens": sentences, "ner_tags": tags, "lang": ["en", "de"] * (len(tags) // 2)},
                      test={"tokens": sentences[:5], "ner_tags": tags[:5], "lang": ["en"] * 5})
    dd["validation"] = dd["train"].select([])
    whole = tokenize_and_align(dd, hand_tokenizer, max_length=8, label_all_tokens=False, labels=LABELS5, chunk=10**9)
    # datasets 5.0.1 saves a split without rows as no data file, which load_from_disk cannot read: compared apart
    datasets.DatasetDict({k: v for k, v in whole.items() if len(v)}).save_to_disk(str(tmp_path / "whole"))
    save_splits(tmp_path / "parts", aligned_parts(dd, hand_tokenizer, max_length=8, label_all_tokens=False, labels=LABELS5, chunk=chunk))
    saved, written = datasets.load_from_disk(str(tmp_path / "whole")), datasets.load_from_disk(str(tmp_path / "parts"))
    assert list(written) == ["train", "test", "validation"] and list(saved) == ["train", "test"]
    assert len(written["validation"]) == 0 and written["validation"].features == whole["validation"].features
    def state(folder, name):
        return json.loads((tmp_path / folder / name / "state.json").read_text())

    assert state("parts", "validation")["_fingerprint"] == whole["validation"]._fingerprint
    for name in saved:
        assert written[name].features == saved[name].features
        assert written[name].data.table.equals(saved[name].data.table), name
        assert state("parts", name)["_fingerprint"] == whole[name]._fingerprint
        for meta in ("dataset_info.json", "state.json"):
            a, b = (json.loads((tmp_path / d / name / meta).read_text()) for d in ("whole", "parts"))
            a.pop("_data_files", None), b.pop("_data_files", None)
            assert a == b, (name, meta)
    n_files = len(list((tmp_path / "parts" / "train").glob("data-*.arrow")))
    assert n_files == -(-len(sentences) // chunk)


def test_prep_in_parts_equals_prep_at_once(sample_dir, tiny_model, tmp_path, monkeypatch):
    """prep of the sample data written 3 sentences a part: the same splits, statistics and fingerprints as in one part."""
    import snekner.data.tokenize as tokenize
    from snekner.data.prepare import PrepOptions, prepare
    from snekner.store.prepared import load_prepared

    options = PrepOptions(dataset=str(sample_dir), tagset="b", model=str(tiny_model), max_length=12)
    whole_manifest = prepare(options, tmp_path / "whole")
    monkeypatch.setattr(tokenize, "SENTENCES_PER_CHUNK", 3)
    parts_manifest = prepare(options, tmp_path / "parts")
    assert parts_manifest.splits == whole_manifest.splits
    assert any(s.truncated_sentences for s in whole_manifest.splits.values())
    whole, parts = load_prepared(tmp_path / "whole").dataset, load_prepared(tmp_path / "parts").dataset
    for name in whole:
        assert len(parts[name]) > 3 and len(list((tmp_path / "parts" / "data" / name).glob("data-*.arrow"))) > 1
        assert parts[name].data.table.equals(whole[name].data.table)
        assert split_stats(parts[name]) == whole_manifest.splits[name]
        fingerprints = [json.loads((tmp_path / d / "data" / name / "state.json").read_text())["_fingerprint"] for d in ("whole", "parts")]
        assert fingerprints[0] == fingerprints[1]
