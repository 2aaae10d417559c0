"""A cased tokenizer (do_lower_case=False) end to end: prep -> train -> eval -> predict keep the case of every word."""
from __future__ import annotations

import json

import pytest
from cli_helpers import ok, prep_sample

from snekner.store.evaluations import read_evaluation_file


@pytest.fixture(scope="module")
def cased_pipeline(tmp_path_factory, sample_dir, tiny_cased_model):
    work = tmp_path_factory.mktemp("cased")
    data = prep_sample(work / "data", sample_dir, tiny_cased_model, max_length=128)  # long enough that no word is cut
    runs = work / "runs"
    ok("train", data, "--name", "C", "--runs-dir", runs, "--epochs", 1, "--batch-size", 8, "--learning-rate", 1e-3)
    ok("eval", "C", "--runs-dir", runs)
    return work


def test_the_cased_vocabulary_tells_case_apart(tiny_cased_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_cased_model))
    assert tokenizer.tokenize("Maria") != tokenizer.tokenize("maria") and tokenizer("Paris")["input_ids"] != tokenizer("paris")["input_ids"]
    assert tokenizer.unk_token_id not in tokenizer("Maria maria", add_special_tokens=False)["input_ids"]


def test_prep_keeps_case_in_the_input_ids(cased_pipeline):
    import datasets
    from transformers import AutoTokenizer

    data = cased_pipeline / "data"
    manifest = json.loads((data / "snekner-prepared.json").read_text())
    assert manifest["tokenizer_class"] == "BertTokenizerFast"
    tokenizer = AutoTokenizer.from_pretrained(str(data / "tokenizer"))
    assert tokenizer.backend_tokenizer.normalizer.normalize_str("Paris") == "Paris"  # the saved tokenizer is still cased
    train = datasets.load_from_disk(str(data / "data"))["train"]
    seen = {}
    for row in train:
        for w, word in enumerate(row["tokens"]):
            pieces = [i for i, wid in zip(row["input_ids"], row["word_ids"]) if wid == w]
            if word[:1].isupper() and word.lower() != word and pieces:
                seen[word] = pieces
    assert len(seen) > 10
    for word, pieces in seen.items():
        assert pieces == tokenizer(word, add_special_tokens=False)["input_ids"]
        assert pieces != tokenizer(word.lower(), add_special_tokens=False)["input_ids"], word


def test_eval_and_predict_keep_the_original_case(cased_pipeline, tmp_path):
    runs = cased_pipeline / "runs"
    result = read_evaluation_file(runs / "C" / "eval" / "test.json")
    assert result.overall.support > 0
    out = ok("predict", "C", "Maria Okafor visited PARIS and paris.", "--runs-dir", runs, "--format", "jsonl").output
    line = json.loads(out.strip().splitlines()[-1])
    assert line["tokens"] == ["Maria", "Okafor", "visited", "PARIS", "and", "paris", "."]
    for entity in line["entities"]:
        assert entity["text"] == line["text"][entity["start_char"]:entity["end_char"]]
    given = tmp_path / "tokens.jsonl"
    given.write_text(json.dumps({"tokens": ["Maria", "OKAFOR", "in", "Paris"]}) + "\n", encoding="utf-8")
    tokens = json.loads(ok("predict", "C", "--input", given, "--runs-dir", runs, "--format", "jsonl").output.strip().splitlines()[-1])
    assert tokens["tokens"] == ["Maria", "OKAFOR", "in", "Paris"]
