"""Issue 14: the commands that go through a corpus part by part give what they gave all at once.

A tiny corpus (the sample, two languages), a tiny model trained for one epoch, and each streamed
result compared with the whole-corpus one: a part of 3 sentences against everything at once, and
against the code path that holds every sentence in lists (what eval did before)."""
from __future__ import annotations

import hashlib
import json

import pytest

VOLATILE = ("created", "prediction_seconds", "sentences_per_second")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, sample_dir, tiny_model):
    from snekner.data.prepare import PrepOptions, prepare
    from snekner.training.options import TrainOptions
    from snekner.training.train import train

    work = tmp_path_factory.mktemp("scale")
    data = work / "data"
    prepare(PrepOptions(dataset=str(sample_dir), tagset="b", model=str(tiny_model), max_length=24), data)
    run = train(data, "A", work / "runs", TrainOptions(epochs=1, batch_size=8, learning_rate=1e-3, seed=1))
    return work, run


def _stable(result) -> dict:
    return {k: v for k, v in result.to_dict().items() if k not in VOLATILE}


@pytest.mark.parametrize("strict", [False, True])
def test_eval_in_parts_equals_eval_of_the_whole_split(trained, strict):
    from snekner.evaluation.evaluate import evaluate_run, score_predictions
    from snekner.modeling.forward import gold_word_tags, predict_word_tags
    from snekner.modeling.models import load_run_model, load_tokenizer
    from snekner.store.evaluations import read_evaluation
    from snekner.store.prepared import load_prepared

    _, run = trained
    whole = evaluate_run(run, strict=strict, chunk=10**9)
    whole_text = run.predictions_path("test").read_bytes()
    parts = evaluate_run(run, strict=strict, chunk=3)
    assert _stable(parts) == _stable(whole)
    assert run.predictions_path("test").read_bytes() == whole_text
    assert read_evaluation(run, "test").predictions_sha256 == hashlib.sha256(whole_text).hexdigest()
    assert set(whole.per_language) == {"de", "en"}

    # the whole-list path: every sentence's tags in lists, scored at once, one JSON line each
    rows = load_prepared(run.manifest.data).split("test")
    pred = predict_word_tags(load_run_model(run), rows, run.labels, load_tokenizer(str(run.model_dir)).pad_token_id)
    gold = gold_word_tags(rows, run.labels)
    expected = score_predictions(gold, pred, list(rows["lang"]), "strict" if strict else "conlleval", types=["PER", "ORG", "LOC", "ANIM", "DIS"])
    for key, value in expected.items():
        assert whole.to_dict()[key] == value, key
    lines = [json.dumps({"id": i, "tokens": t, "gold": g, "pred": p, "lang": lang}, ensure_ascii=False) + "\n"
             for i, (t, g, p, lang) in enumerate(zip(rows["tokens"], gold, pred, rows["lang"]))]
    assert "".join(lines).encode("utf-8") == whole_text


def test_corpus_scorer_in_parts_equals_the_whole_with_types_found_late():
    from snekner.ner.scoring import CorpusScorer, confusion, sentence_counts

    gold = [["B-PER", "O"], ["O", "B-LOC"], ["B-ZOO", "I-ZOO"], ["O", "O"], ["B-ABC", "O"], ["B-PER", "I-PER"], ["I-LOC", "O"]]
    pred = [["B-PER", "O"], ["B-LOC", "O"], ["B-ZOO", "O"], ["B-QQ", "O"], ["O", "O"], ["B-PER", "B-PER"], ["I-LOC", "B-ZOO"]]
    for mode in ("conlleval", "strict"):
        whole = sentence_counts(gold, pred, mode, types=["PER", "LOC"])
        for size in (1, 3, 100):
            scorer = CorpusScorer(mode, ["PER", "LOC"])
            for start in range(0, len(gold), size):
                scorer.add(gold[start:start + size], pred[start:start + size])
            counts = scorer.sentence_counts()
            assert counts.types == whole.types
            assert (counts.counts == whole.counts).all()
            assert (counts.words == whole.words).all() and (counts.correct_words == whole.correct_words).all()
            assert scorer.confusion() == confusion(gold, pred, mode, types=whole.types)


@pytest.fixture(scope="module")
def two_evaluated(trained):
    from snekner.evaluation.evaluate import evaluate_run
    from snekner.training.options import TrainOptions
    from snekner.training.train import train

    work, run_a = trained
    run_b = train(run_a.manifest.data, "B", work / "runs", TrainOptions(epochs=1, batch_size=8, learning_rate=1e-3, seed=2))
    evaluate_run(run_a)
    evaluate_run(run_b)
    return work / "runs", run_a, run_b


def test_compare_read_in_parts_equals_compare_of_lists(two_evaluated, monkeypatch):
    import snekner.evaluation.bootstrap as bootstrap
    from snekner.evaluation.compare import compare, compare_runs
    from snekner.store.evaluations import read_evaluation

    runs_dir, run_a, run_b = two_evaluated
    whole = compare_runs(["A", "B"], runs_dir, bootstrap=200, seed=3)
    # the lists path, as compare_runs went before: every sentence's tokens and tags in memory
    evals = [read_evaluation(run_a, "test"), read_evaluation(run_b, "test")]
    intervals = bootstrap.paired_intervals([run_a, run_b], evals, split="test", mode="conlleval", metric="f1", resamples=200, seed=3)
    assert whole == compare([run_a, run_b], evals, metric="f1", split="test", intervals=intervals)
    # parts of 3 sentences, and resampling one row at a time
    monkeypatch.setattr(bootstrap, "READ_CHUNK", 3)
    monkeypatch.setattr(bootstrap, "CHUNK_ELEMENTS", 7)
    assert compare_runs(["A", "B"], runs_dir, bootstrap=200, seed=3) == whole


def test_read_counts_equals_counts_of_loaded_predictions(two_evaluated, monkeypatch):
    import snekner.evaluation.bootstrap as bootstrap
    from snekner.errors import DifferentSentencesError

    _, run_a, run_b = two_evaluated
    types, common = ["PER", "ORG", "LOC", "ANIM", "DIS"], ["LOC", "PER"]
    monkeypatch.setattr(bootstrap, "READ_CHUNK", 3)
    for run in (run_a, run_b):
        loaded = bootstrap.load_predictions(run, "test")
        stored = bootstrap.read_counts(run, "test", types, "strict", common_types=common)
        expected = bootstrap.sentence_counts([s["gold"] for s in loaded], [s["pred"] for s in loaded], "strict", types=types)
        expected_common = bootstrap.common_ground_counts(loaded, common, "strict")
        assert len(stored) == len(loaded)
        for got, want in ((stored.counts, expected), (stored.common, expected_common)):
            assert got.types == want.types and (got.counts == want.counts).all()
            assert (got.words == want.words).all() and (got.correct_words == want.correct_words).all()
    # the same sentences: the digests agree; another sentence: named as the lists would name it
    a, b = (bootstrap.read_counts(r, "test", types, "conlleval") for r in (run_a, run_b))
    bootstrap.check_same_sentences("A", a, "B", b, "test")
    b.digests[4] += 1
    with pytest.raises(DifferentSentencesError, match="sentence 5 of test differs"):
        bootstrap.check_same_sentences("A", a, "B", b, "test")


def _reference_predict_tags(model, tokenizer, sentences, labels, max_length, stride=None, batch_size=32):
    """predict_tags as it was before issue 14: every sentence's lists built at once (the whole-corpus reference)."""
    import numpy as np

    from snekner.modeling.batches import EncodedSplit
    from snekner.modeling.forward import subword_predictions
    from snekner.predict import assign_windows, check_max_length, make_windows, word_lengths

    budget = check_max_length(tokenizer, max_length, None, stride)
    lengths = word_lengths(tokenizer, sentences)
    windows, choices, first_window = [], [], []
    for s, lens in enumerate(lengths):
        spans = make_windows(lens, budget, stride)
        first_window.append(len(windows))
        windows += [(s, a, b) for a, b in spans]
        choices.append(assign_windows(lens, spans))
    tags = [["O"] * len(words) for words in sentences]
    scores = [[None] * len(words) for words in sentences]
    enc = tokenizer([sentences[s][a:b] for s, a, b in windows], is_split_into_words=True, truncation=True, max_length=max_length)
    ids = enc["input_ids"]
    data = EncodedSplit(np.asarray([t for row in ids for t in row], dtype=np.int32), None, np.asarray([len(r) for r in ids]),
                        int(tokenizer.pad_token_id))
    preds, probs = subword_predictions(model, data, batch_size=batch_size)
    for w, (s, a, _) in enumerate(windows):
        seen = set()
        for position, local in enumerate(enc.word_ids(w)):
            if local is None or local in seen:
                continue
            seen.add(local)
            if first_window[s] + choices[s][a + local] == w:
                tags[s][a + local] = labels[int(preds[w][position])]
                scores[s][a + local] = float(probs[w][position])
    return tags, scores, len(windows)


def test_predict_read_out_in_parts_equals_the_whole_list_path(trained, sample_dir):
    from snekner.modeling.models import load_run_model, load_tokenizer
    from snekner.predict import predict_tags, tag_words

    _, run = trained
    model, tokenizer = load_run_model(run), load_tokenizer(str(run.model_dir))
    sentences = [json.loads(line)["tokens"] for path in sorted(sample_dir.glob("test/*.jsonl"))
                 for line in path.read_text(encoding="utf-8").splitlines()]
    sentences += [[], ["x", "\u200b", "y"], ["the", "abracadabraabracadabra", "of", "berlin"]]
    for max_length, stride in ((24, None), (8, 2)):  # one window each, and many
        expected = _reference_predict_tags(model, tokenizer, sentences, run.labels, max_length, stride)
        assert predict_tags(model, tokenizer, sentences, run.labels, max_length, stride=stride) == expected
        for part in (4, 10_000):  # planned a few sentences at a time, and all at once
            tagged = tag_words(model, tokenizer, sentences, run.labels, max_length, stride=stride, part=part)
            assert [list(x) for x in zip(*tagged.sentences(chunk=3))] == list(expected[:2])
            assert tagged.n_windows == expected[2]


def test_predict_reads_its_input_in_parts_with_the_same_result(trained, sample_dir, tmp_path, monkeypatch):
    import io

    from snekner.errors import SneknerError
    from snekner.predict import iter_run, predict_run
    from snekner.store.runs import open_run

    work, _ = trained
    run = open_run("A", work / "runs")
    source = sample_dir / "test" / "test_de.jsonl"
    raw = tmp_path / "raw.txt"
    raw.write_text("Angela Merkel besuchte Paris.\n\nDer Louvre liegt in Paris.\nBerlin.\n", encoding="utf-8")
    for given in (source, raw):
        whole = predict_run(run, input_path=given, max_length=12)
        lines = given.read_text(encoding="utf-8").splitlines()
        assert len(whole) == len(lines)  # one result per line of the input, an empty one for a blank line (issue 26)
        assert [len(p.sentence.words) == 0 for p in whole] == [not line.strip() for line in lines]
        assert list(iter_run(run, input_path=given, max_length=12, part=2)) == whole
        # standard input: copied aside once, read twice
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(given.read_bytes()), encoding="utf-8"))
        assert list(iter_run(run, input_path="-", max_length=12, part=3)) == whole
    # the input rewritten between the two readings: named, not mixed up
    predictions = iter_run(run, input_path=raw, part=2)
    raw.write_text("Angela Merkel besuchte Paris heute.\nDer Louvre.\nBerlin.\n", encoding="utf-8")
    with pytest.raises(SneknerError, match="changed while predict read it"):
        list(predictions)
    predictions = iter_run(run, input_path=raw, part=2)
    raw.write_text("Angela Merkel besuchte Paris heute.\nDer Louvre.\n", encoding="utf-8")
    with pytest.raises(SneknerError, match="changed while predict read it"):
        list(predictions)


@pytest.mark.parametrize("fmt", ["jsonl", "conll", "table", "html"])
def test_predict_command_written_as_it_comes_equals_the_whole_text(trained, sample_dir, tmp_path, fmt):
    from cli_helpers import ok

    from snekner.predict import predict_run
    from snekner.present.predictions import format_html, format_predictions
    from snekner.store.runs import open_run

    work, run = trained
    source = sample_dir / "test" / "test_de.jsonl"
    (tmp_path / "raw.txt").write_text("Angela Merkel besuchte Paris.\n\nDer Louvre liegt in Paris.\n", encoding="utf-8")
    for given in (source, tmp_path / "raw.txt"):
        out = tmp_path / f"out.{fmt}"
        ok("predict", "A", "--runs-dir", work / "runs", "--input", given, "--format", fmt, "--out", out)
        predictions = predict_run(open_run("A", work / "runs"), input_path=given)
        text = format_html(predictions, "snekner predict: A") if fmt == "html" else format_predictions(predictions, fmt)
        assert out.read_text(encoding="utf-8") == (text if text.endswith("\n") else text + "\n")
        printed = ok("predict", "A", "--runs-dir", work / "runs", "--input", given, "--format", fmt)
        assert printed.stdout == text + "\n"


def test_dataset_of_a_table_is_datasets_own_with_a_streamed_fingerprint():
    import datasets
    import pyarrow as pa

    from snekner.data.arrow import dataset_of, table_fingerprint

    table = pa.table({"tokens": [["a", "b"], [], ["c"]], "ner_tags": [[0, 1], [], [2]]})
    ours, theirs = dataset_of(table), datasets.Dataset(table)
    assert ours.features == theirs.features and ours.data.table.equals(theirs.data.table)
    assert ours._fingerprint == table_fingerprint(pa.concat_tables([table.slice(0, 1), table.slice(1)]))  # content, not chunks
    assert table_fingerprint(table) != table_fingerprint(table.slice(1))
