"""`snekner predict`: word splitting, windows, input files, formats, and a trained tiny run end to end."""
from __future__ import annotations

import json
import random
import types

import pytest
from cli_helpers import invoke, ok, one_line_error
from typer.testing import CliRunner

from snekner.cli import app
from snekner.errors import SneknerError
from snekner.predict import (
    Prediction,
    Sentence,
    assign_windows,
    find_entities,
    make_windows,
    predict_tags,
    read_input,
    word_context,
)
from snekner.ner.scoring import chunk
from snekner.present.predictions import format_conll, format_jsonl, format_predictions, format_table

runner = CliRunner()





# ---------------------------------------------------------------- windows (pure Python)

def check_windows(lengths, budget, stride, windows):
    n = len(lengths)
    assert windows[0][0] == 0 and windows[-1][1] == n
    covered = set()
    for (a, b) in windows:
        assert a < b
        assert sum(lengths[a:b]) <= budget or b - a == 1, (a, b)  # over budget only for a lone long word
        covered.update(range(a, b))
    assert covered == set(range(n))
    for (a1, b1), (a2, b2) in zip(windows, windows[1:]):
        assert a1 < a2 and b1 < b2
        assert a2 <= b1  # no gap
        wanted = min(max(1, (b1 - a1) // 4) if stride is None else stride, b1 - a1 - 1)
        # the overlap is as asked, unless the budget leaves no room for it beside the next word
        assert b1 - a2 <= wanted
        if b1 - a2 < wanted:
            assert sum(lengths[a2 - 1:b1 + 1]) > budget


def test_a_sentence_that_fits_is_one_window():
    assert make_windows([1, 2, 3], 6) == [(0, 3)]
    assert make_windows([], 6) == []


def test_windows_by_hand():
    assert make_windows([1] * 10, 4, stride=2) == [(0, 4), (2, 6), (4, 8), (6, 10)]
    assert make_windows([1] * 10, 4, stride=0) == [(0, 4), (4, 8), (8, 10)]
    # a word longer than the budget gets a window of its own; none is dropped
    assert make_windows([2, 9, 2, 2], 5, stride=1) == [(0, 1), (1, 2), (2, 4)]
    # default overlap: a quarter of the earlier window's words (at least one)
    assert make_windows([1] * 20, 8) == [(0, 8), (6, 14), (12, 20)]
    assert make_windows([3, 3, 3, 3], 6) == [(0, 2), (1, 3), (2, 4)]


@pytest.mark.parametrize("seed", range(40))
def test_windows_cover_every_word_within_budget(seed):
    rng = random.Random(seed)
    lengths = [rng.choice([0, 1, 1, 1, 2, 3, 7]) for _ in range(rng.randint(1, 60))]
    budget = rng.randint(1, 12)
    stride = rng.choice([None, 0, 1, 2, 5])
    windows = make_windows(lengths, budget, stride)
    check_windows(lengths, budget, stride, windows)
    choice = assign_windows(lengths, windows)
    for i, w in enumerate(choice):
        a, b = windows[w]
        assert a <= i < b
        best = max(word_context(lengths, win, i) for win in windows if win[0] <= i < win[1])
        assert word_context(lengths, windows[w], i) == best


def test_each_word_takes_the_window_where_it_has_most_context():
    lengths = [1] * 10
    windows = [(0, 4), (2, 6), (4, 8), (6, 10)]
    # word 2: 1 sub-word to the right edge in window 0, none to the left edge in window 1
    # word 3: 0 to the right in window 0, 1 on its worse side in window 1
    assert assign_windows(lengths, windows) == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]
    # context counts sub-words: word 2 has none to its right in window 0, but the 5 of word 1
    # to its left in window 1 (which ends with the sentence); word 1 has 1 on its right in window 0
    assert assign_windows([1, 5, 1, 1, 1], [(0, 3), (1, 5)]) == [0, 0, 1, 1, 1]
    assert assign_windows([1, 1, 1, 5, 1], [(0, 3), (1, 5)]) == [0, 0, 1, 1, 1]


# ---------------------------------------------------------------- word splitting: tests/test_predict_words.py


# ---------------------------------------------------------------- input files

def test_text_input_keeps_blank_lines_as_sentences_without_words(tmp_path):
    """Issue 26: blank lines were skipped, so that output sentence N was no longer input line N."""
    path = tmp_path / "in.txt"
    path.write_text("Angela Merkel visited Paris.\n\n   \nBerlin is big.\r\n", encoding="utf-8")
    assert read_input(path) == ["Angela Merkel visited Paris.", "", "   ", "Berlin is big."]


def test_jsonl_input_by_suffix_or_first_line(tmp_path):
    lines = [json.dumps({"tokens": ["Angela", "Merkel"], "id": 3}), "", json.dumps({"tokens": []}), json.dumps({"text": "raw text"})]
    (tmp_path / "a.jsonl").write_text("\n".join(lines), encoding="utf-8")
    assert read_input(tmp_path / "a.jsonl") == [["Angela", "Merkel"], [], [], "raw text"]  # a blank line: no tokens
    (tmp_path / "a.txt").write_text("\n" + "\n".join(lines), encoding="utf-8")
    assert read_input(tmp_path / "a.txt") == [[], ["Angela", "Merkel"], [], [], "raw text"]
    (tmp_path / "b.txt").write_text("not {json}\n{\"tokens\": [\"x\"]}\n", encoding="utf-8")
    assert read_input(tmp_path / "b.txt") == ["not {json}", "{\"tokens\": [\"x\"]}"]


@pytest.mark.parametrize("name, content, fragments", [
    ("bad.jsonl", '{"tokens": ["a"]}\n\n{"tokens": ["b",]}\n', ["line 3", "not valid JSON", "tokens"]),
    ("bad.jsonl", '{"tokens": ["a"]}\n{"tokens": "a b"}\n', ["line 2", "no \"tokens\" list"]),
    ("bad.jsonl", '{"tokens": ["a"]}\n[1, 2]\n', ["line 2", "no \"tokens\" list"]),
    ("bad.json", '{"tokens": [1, 2]}\n', ["line 1", "no \"tokens\" list"]),
    ("empty.txt", "", ["has no sentences"]),
    ("blank.txt", "\n  \n\n", ["has no sentences", "one sentence per line"]),
    ("blank.jsonl", "\n", ["has no sentences"]),
])
def test_bad_input_files(tmp_path, name, content, fragments):
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(SneknerError) as e:
        read_input(tmp_path / name)
    message = str(e.value)
    assert "\n" not in message and name in message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_directory_and_binary_input(tmp_path):
    with pytest.raises(SneknerError, match="input file .*nope.txt not found"):
        read_input(tmp_path / "nope.txt")
    with pytest.raises(SneknerError, match="is not a file"):
        read_input(tmp_path)
    (tmp_path / "bin.txt").write_bytes(b"abc\xff\xfe\n")
    with pytest.raises(SneknerError, match="not UTF-8"):
        read_input(tmp_path / "bin.txt")


# ---------------------------------------------------------------- entities and formats

def sample_predictions() -> list[Prediction]:
    text = "Angela  Merkel visited Paris ."
    s1 = Sentence(["Angela", "Merkel", "visited", "Paris", "."], text, [(0, 6), (8, 14), (15, 22), (23, 28), (29, 30)])
    t1 = ["B-PER", "I-PER", "O", "I-LOC", "O"]  # conlleval: a lone I-LOC starts an entity
    sc1 = [0.9, 0.7, 0.99, 0.6, 0.95]
    s2 = Sentence(["New", "York", "rocks"])  # from a token list: entity text is the words joined
    t2 = ["B-LOC", "I-LOC", "O"]
    sc2 = [0.5, 0.25, 0.8]
    s3 = Sentence([])
    return [Prediction(s, t, sc, find_entities(s, t, sc)) for s, t, sc in ((s1, t1, sc1), (s2, t2, sc2), (s3, [], []))]


def test_entities_slice_the_original_text_and_average_word_scores():
    p1, p2, p3 = sample_predictions()
    assert p1.entities == [
        {"text": "Angela  Merkel", "type": "PER", "start": 0, "end": 2, "score": pytest.approx(0.8), "start_char": 0, "end_char": 14},
        {"text": "Paris", "type": "LOC", "start": 3, "end": 4, "score": pytest.approx(0.6), "start_char": 23, "end_char": 28},
    ]
    for e in p1.entities:  # raw text: the entity's characters; a token list has no text to point into
        assert p1.sentence.text[e["start_char"]:e["end_char"]] == e["text"]
    assert p2.entities == [{"text": "New York", "type": "LOC", "start": 0, "end": 2, "score": pytest.approx(0.375)}]
    assert p3.entities == []


def test_jsonl_format():
    predictions = sample_predictions()
    lines = format_jsonl(predictions).splitlines()
    assert len(lines) == 3
    first = json.loads(lines[0])
    assert first["text"] == "Angela  Merkel visited Paris ." and "text" not in json.loads(lines[1])
    assert first["tokens"] == ["Angela", "Merkel", "visited", "Paris", "."]
    assert [(e["text"], e["type"], e["start"], e["end"]) for e in first["entities"]] == [("Angela  Merkel", "PER", 0, 2), ("Paris", "LOC", 3, 4)]
    for line, p in zip(lines, predictions):
        obj = json.loads(line)
        for e in obj["entities"]:  # end is exclusive
            assert obj["tokens"][e["start"]:e["end"]] == p.sentence.words[e["start"]:e["end"]]
    assert json.loads(lines[2]) == {"tokens": [], "entities": []}


def test_conll_format():
    text = format_conll(sample_predictions())
    blocks = text.split("\n\n")
    assert blocks[0].splitlines() == ["Angela\tB-PER", "Merkel\tI-PER", "visited\tO", "Paris\tI-LOC", ".\tO"]
    assert blocks[1].splitlines() == ["New\tB-LOC", "York\tI-LOC", "rocks\tO"]
    assert len(blocks) == 3 and blocks[2] == ""


def test_table_format():
    table = format_table(sample_predictions()).splitlines()
    assert table[0].split() == ["sentence", "entity", "type", "words", "score"]
    rows = [line.split() for line in table[2:]]
    assert rows == [["0", "Angela", "Merkel", "PER", "0-2", "0.800"], ["0", "Paris", "LOC", "3-4", "0.600"],
                    ["1", "New", "York", "LOC", "0-2", "0.375"]]
    empty = [Prediction(Sentence(["a"]), ["O"], [0.9])]
    assert format_table(empty) == "no entities found in 1 sentence"
    assert format_predictions(empty, "conll") == "a\tO"
    with pytest.raises(ValueError, match="'xml' is not a valid PredictFormat"):
        format_predictions(empty, "xml")  # the command line refuses it first (test_cli: a one-line usage error)


# ---------------------------------------------------------------- windows through a model (fakes)

class ContextFree:
    """Predicts label (input id mod n) at every sub-word: context cannot change a word's tag."""

    def __init__(self, n):
        self.n = n

    def __call__(self, input_ids, attention_mask, training=False):
        import tensorflow as tf

        strength = 1.0 + tf.cast(input_ids % 7, tf.float32)[..., None]  # scores differ from token to token
        return types.SimpleNamespace(logits=tf.one_hot(input_ids % self.n, self.n) * strength)


class Position:
    """Predicts label = the sub-word's position in its window: shows which window a word's tag came from."""

    def __init__(self, n):
        self.n = n

    def __call__(self, input_ids, attention_mask, training=False):
        import tensorflow as tf

        pos = tf.minimum(tf.range(tf.shape(input_ids)[1]), self.n - 1)
        return types.SimpleNamespace(logits=tf.one_hot(tf.broadcast_to(pos, tf.shape(input_ids)), self.n) * 8.0)


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from snekner.modeling.models import load_tokenizer

    return load_tokenizer(str(tiny_model))


@pytest.fixture(scope="module")
def long_sentences(sample_dir):
    sentences = [json.loads(line)["tokens"] for line in (sample_dir / "test" / "test_en.jsonl").read_text(encoding="utf-8").splitlines()]
    long = [s for s in sentences if len(s) >= 12][:6]
    assert len(long) >= 3
    # a word of more sub-words than a window holds, a word the tokenizer drops entirely, an empty sentence
    return long + [["the", "abracadabraabracadabra", "of", "berlin"], ["x", "\u200b", "y"], []]


def test_windows_give_every_word_the_tag_of_a_single_pass(tokenizer, long_sentences):
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    model = ContextFree(len(labels))
    single, single_scores, n_single = predict_tags(model, tokenizer, long_sentences, labels, max_length=512, batch_size=4)
    windowed, windowed_scores, n_windows = predict_tags(model, tokenizer, long_sentences, labels, max_length=8, stride=2, batch_size=4)
    assert n_single == len(long_sentences) - 1  # the empty sentence has no window
    assert n_windows >= n_single + 2 * 6  # every long sentence needs 3+ windows
    assert windowed == single
    for got, want in zip(windowed_scores, single_scores):
        assert [None if s is None else round(s, 5) for s in got] == [None if s is None else round(s, 5) for s in want]
    assert len({round(s, 5) for sent in single_scores for s in sent if s is not None}) > 1
    assert [len(t) for t in windowed] == [len(s) for s in long_sentences]
    # a word without sub-words is O with no score; every other word has a score
    assert windowed[-2][1] == "O" and windowed_scores[-2][1] is None
    assert all(s is not None for sent in windowed_scores[:-2] for s in sent)


def test_windowed_words_take_the_window_with_most_context(tokenizer, long_sentences):
    from snekner.predict import word_lengths

    n = 64
    labels = [f"P{i}" for i in range(n)]
    sentences = long_sentences[:6]
    max_length, stride = 10, 3
    tags, _, _ = predict_tags(Position(n), tokenizer, sentences, labels, max_length=max_length, stride=stride, batch_size=3)
    for words, lengths, got in zip(sentences, word_lengths(tokenizer, sentences), tags):
        windows = make_windows(lengths, max_length - 2, stride)
        assert len(windows) >= 3
        expected = []
        for i in range(len(words)):
            # the window with most context on the word's worse side (the earlier one on a tie)
            a, b = max((win for win in windows if win[0] <= i < win[1]), key=lambda win: (word_context(lengths, win, i), -win[0]))
            expected.append(f"P{1 + sum(lengths[a:i])}")  # after [CLS] and the window's earlier sub-words
        assert got == expected


# ---------------------------------------------------------------- a trained run, end to end

@pytest.fixture(scope="module")
def trained(tmp_path_factory, sample_dir, tiny_model):
    """Prep B on the English sample (max length 48), train one epoch, evaluate on test."""
    work = tmp_path_factory.mktemp("predict")
    runs = work / "runs"
    data = work / "data"
    ok("prep", "--dataset", sample_dir, "--lang", "en", "--tagset", "b", "--model", tiny_model, "--max-length", 48, "--out", data)
    ok("train", data, "--name", "P", "--runs-dir", runs, "--epochs", 1, "--batch-size", 8, "--learning-rate", 1e-3)
    ok("eval", "P", "--runs-dir", runs)
    return runs


# what predict prints is read from stdout: on stderr, a prediction slow enough (a loaded machine) shows progress lines
def parse_conll(text: str) -> list[list[tuple[str, str]]]:
    sentences = []
    for block in text.rstrip("\n").split("\n\n"):
        sentences.append([tuple(line.split("\t")) for line in block.splitlines()])
    return sentences


def test_predict_text_arguments_in_every_format(trained):
    texts = ["Angela Merkel visited Paris and Berlin in June.", "The World Health Organization warned about influenza."]
    table = ok("predict", "P", *texts, "--runs-dir", trained).stdout
    jsonl_lines = ok("predict", "P", *texts, "--runs-dir", trained, "--format", "jsonl").stdout.splitlines()
    assert len(jsonl_lines) == 2
    conll = parse_conll(ok("predict", "P", *texts, "--runs-dir", trained, "--format", "conll").stdout)
    assert len(conll) == 2
    for text, line, words_tags in zip(texts, jsonl_lines, conll):
        obj = json.loads(line)
        assert obj["tokens"] == [w for w, _ in words_tags]
        assert "".join(obj["tokens"]) == "".join(text.split())  # nothing lost in splitting
        assert obj["tokens"][-1] == "."  # the sentence's final period splits off
        tags = [t for _, t in words_tags]
        # entities are the conlleval chunks of the printed tags; text is sliced from the input
        assert [(e["type"], e["start"], e["end"] - 1) for e in obj["entities"]] == chunk(tags, "conlleval")
        for e in obj["entities"]:
            assert e["text"] in text
            assert e["text"].replace(" ", "") == "".join(obj["tokens"][e["start"]:e["end"]])
            assert 0 < e["score"] <= 1
    entities = [e for line in jsonl_lines for e in json.loads(line)["entities"]]
    for text, line in zip(texts, jsonl_lines):
        obj = json.loads(line)
        assert obj["text"] == text
        assert all(text[e["start_char"]:e["end_char"]] == e["text"] for e in obj["entities"])
    if entities:
        rows = table.splitlines()
        assert rows[0].split() == ["sentence", "entity", "type", "words", "score"]
        assert len(rows) == 2 + len(entities)
    else:
        assert table.strip() == "no entities found in 2 sentences"


def test_predict_agrees_with_eval_on_test_sentences(trained, tmp_path):
    """The predict path (JSON-lines tokens) gives the tags `snekner eval` wrote, for sentences that fit."""
    from transformers import AutoTokenizer

    eval_lines = [json.loads(line) for line in (trained / "P" / "eval" / "test.predictions.jsonl").read_text().splitlines()]
    path = tmp_path / "test.jsonl"
    path.write_text("\n".join(json.dumps({"tokens": e["tokens"]}) for e in eval_lines) + "\n", encoding="utf-8")
    conll = parse_conll(ok("predict", "P", "--runs-dir", trained, "--input", path, "--format", "conll").stdout)
    assert len(conll) == len(eval_lines)
    tokenizer = AutoTokenizer.from_pretrained(str(trained / "P" / "model"))
    fits = 0
    for e, words_tags in zip(eval_lines, conll):
        assert [w for w, _ in words_tags] == e["tokens"]
        tags = [t for _, t in words_tags]
        if len(tokenizer(e["tokens"], is_split_into_words=True)["input_ids"]) <= 48:
            fits += 1
            assert tags == e["pred"], e["id"]
    assert fits >= 30
    assert any(t != "O" for e in eval_lines for t in e["pred"])  # the comparison is not only of O tags


def test_predict_text_file_and_tiny_max_length_windows(trained, tmp_path, sample_dir):
    sentences = [json.loads(line)["tokens"] for line in (sample_dir / "test" / "test_en.jsonl").read_text(encoding="utf-8").splitlines()]
    long = max(sentences, key=len)
    text = " ".join(long)
    path = tmp_path / "in.txt"
    path.write_text(f"{text}\n\nShort one here .\n", encoding="utf-8")
    full = [json.loads(line) for line in ok("predict", "P", "--runs-dir", trained, "--input", path, "--format", "jsonl").stdout.splitlines()]
    assert len(full) == 3 and full[1]["tokens"] == [] and full[2]["tokens"] == ["Short", "one", "here", "."]  # one per line
    tiny = parse_conll(ok("predict", "P", "--runs-dir", trained, "--input", path, "--format", "conll", "--max-length", 8).stdout)
    assert [w for w, _ in tiny[0]] == full[0]["tokens"]  # every word of the long sentence has a tag
    labels = json.loads((trained / "P" / "snekner-run.json").read_text())["data_manifest"]["tagset"]["labels"]
    assert all(t in labels for _, t in tiny[0])
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(trained / "P" / "model"))
    assert len(tokenizer(full[0]["tokens"], is_split_into_words=True)["input_ids"]) > 3 * 6  # 3+ windows of 6 sub-words
    # each word keeps its characters through the windows: entities of raw text point into it
    spaced = "  " + "   ".join(long) + " \t"
    path.write_text(spaced + "\n", encoding="utf-8")
    windowed = json.loads(ok("predict", "P", "--runs-dir", trained, "--input", path, "--format", "jsonl", "--max-length", 8).output)
    assert windowed["text"] == spaced.rstrip("\n") and windowed["tokens"] == full[0]["tokens"]
    for e in windowed["entities"]:
        assert spaced[e["start_char"]:e["end_char"]] == e["text"]
        assert e["text"].split() == windowed["tokens"][e["start"]:e["end"]]
    # stdin, and a stride
    piped = runner.invoke(app, ["predict", "P", "--runs-dir", str(trained), "--input", "-", "--format", "conll", "--max-length", "8", "--stride", "1"],
                          input=f"{text}\n")
    assert piped.exit_code == 0, piped.output
    assert [w for w, _ in parse_conll(piped.stdout)[0]] == full[0]["tokens"]


def test_predict_raw_text_keeps_abbreviations_and_initials_whole(trained):
    """Issue 22: raw text was split at every period ("Dr", ".", "Smith"), so an entity could be "Dr" or ". Smith"."""
    texts = ["Dr. Smith went to Washington.", "J. R. R. Tolkien met Angela Merkel in the U.S. Army camp.", "It ends here."]
    rows = [json.loads(line) for line in ok("predict", "P", *texts, "--runs-dir", trained, "--format", "jsonl").stdout.splitlines()]
    assert [r["tokens"] for r in rows] == [["Dr.", "Smith", "went", "to", "Washington", "."],
                                           ["J.", "R.", "R.", "Tolkien", "met", "Angela", "Merkel", "in", "the", "U.S.", "Army", "camp", "."],
                                           ["It", "ends", "here", "."]]
    for text, row in zip(texts, rows):
        for e in row["entities"]:
            assert text[e["start_char"]:e["end_char"]] == e["text"]
            assert e["text"].startswith(row["tokens"][e["start"]]) and e["text"].endswith(row["tokens"][e["end"] - 1])


@pytest.mark.parametrize("args, fragments", [
    (["--input", "{tmp}/nope.txt"], ["input file", "nope.txt not found"]),
    (["--input", "{tmp}/bad.jsonl"], ["line 2", "not valid JSON"]),
    (["--input", "{tmp}/empty.txt"], ["has no sentences"]),
    ([], ["nothing to predict", "--input"]),
    (["Some text", "--input", "{tmp}/empty.txt"], ["not both"]),
    (["Some text", "--format", "xml"], ["--format", "'xml' is not one of 'table', 'jsonl', 'conll', 'html'"]),
    (["Some text", "--out", "{tmp}"], ["is a folder", "--out"]),
    (["Some text", "--out", "{tmp}/no/such/page.html"], ["does not exist", "--out"]),
    (["Some text", "--max-length", "2"], ["--max-length must be at least 3", "not 2"]),
    (["Some text", "--max-length", "4096"], ["--max-length must be at most the model's 128 positions", "not 4096"]),
    (["Some text", "--stride", "-1"], ["--stride"]),
    (["Some text", "--batch-size", "0"], ["--batch-size"]),
])
def test_predict_bad_input_is_one_line(trained, tmp_path, args, fragments):
    (tmp_path / "bad.jsonl").write_text('{"tokens": ["a"]}\n{"tokens": \n', encoding="utf-8")
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    filled = [a.format(tmp=tmp_path) for a in args]
    one_line_error(invoke("predict", "P", "--runs-dir", trained, *filled), *fragments)


def test_predict_gives_one_output_per_input_line_blank_lines_included(trained, tmp_path):
    """Issue 26: blank lines of --input were dropped, so output line N no longer matched input line N."""
    lines = ["Angela Merkel visited Paris.", "", "   ", "Berlin is big.", ""]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = ok("predict", "P", "--input", tmp_path / "in.txt", "--runs-dir", trained, "--format", "jsonl").stdout.splitlines()
    rows = [json.loads(line) for line in out if line]
    assert [r["text"] for r in rows] == lines
    assert rows[1] == {"text": "", "tokens": [], "entities": []} and rows[2]["tokens"] == [] and rows[3]["tokens"] == ["Berlin", "is", "big", "."]


def test_predict_unknown_run(tmp_path):
    one_line_error(invoke("predict", "nosuch", "Some text", "--runs-dir", tmp_path), "run nosuch not found")


def test_two_batches_in_flight_give_the_sequential_results(trained):
    """subword_predictions runs two batches at once; each sentence must get exactly what a plain
    one-batch-at-a-time loop over the same padded batches gives."""
    import numpy as np

    from snekner.store.prepared import load_prepared
    from snekner.modeling.models import load_trained
    from snekner.modeling.batches import EncodedSplit, evaluation_order, make_dataset, pad_multiple
    from snekner.modeling.forward import _forward, subword_predictions

    prepared = load_prepared(trained.parent / "data")
    model = load_trained(trained / "P" / "model")
    data = EncodedSplit.from_split(prepared.split("test"), 0, with_labels=False)
    preds, scores = subword_predictions(model, data, batch_size=4)
    forward = _forward(model)
    checked = 0
    for batch in make_dataset(data, evaluation_order(data.lengths), 4, labels=False, multiple=pad_multiple(False, False)):
        ids, probs = forward(batch["input_ids"], batch["attention_mask"])
        for row, index in enumerate(batch["index"].numpy()):
            n = data.lengths[index]
            np.testing.assert_array_equal(preds[index], ids.numpy()[row, :n])
            np.testing.assert_array_equal(scores[index], probs.numpy()[row, :n])
            checked += 1
    assert checked == len(data) > 8
