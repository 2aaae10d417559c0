"""A run's evaluation (RUN/eval/<split>.json): typed and versioned in snekner.store.evaluations, read only there.

Files written before evaluations had a kind and a version are read as version 1; a file snekner cannot read is one
line naming `snekner eval`, not a KeyError in compare, report or card."""
from __future__ import annotations

import dataclasses
import json

import pytest
from cli_helpers import invoke, ok, one_line_error
from fakes import write_evaluation, write_run
from test_evaluation_compare import TYPES, corpus, make_run, noisy, without

from snekner.errors import ManifestError, MissingEvaluationError
from snekner.evaluation.evaluate import score_predictions
from snekner.ner.metrics import Metric
from snekner.store.evaluations import Evaluation, Scores, read_evaluation, read_evaluation_file
from snekner.store.runs import open_run

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "O"], ["O", "B-PER"]]
PRED = [["B-PER", "I-PER", "O", "O"], ["B-LOC", "B-PER"], ["O", "B-PER"]]
# the keys `snekner eval` wrote before its files had a kind and a version, in its order (evaluation/evaluate.py until then)
UNVERSIONED_KEYS = ["split", "mode", "n_sentences", "overall", "per_type", "run", "data", "data_fingerprint", "max_length", "cut_words",
                    "cut_sentences", "created", "prediction_seconds", "sentences_per_second", "versions", "per_language", "confusion",
                    "predictions_sha256"]


def evaluation(langs=None) -> Evaluation:
    """An evaluation with every field `eval` sets."""
    return Evaluation.of_scores(
        score_predictions(GOLD, PRED, langs, "conlleval", ["PER", "LOC"]), split="test", mode="conlleval", run="R", data="/data/x",
        data_fingerprint={"test": "abc"}, max_length=128, cut_words=0, cut_sentences=0, created="2025-01-01T00:00:00+00:00",
        prediction_seconds=0.5, sentences_per_second=6.0, versions={"snekner": "0.1.0"}, predictions_sha256="0" * 64)


def unversioned(found: Evaluation) -> dict:
    """The file an earlier snekner (before kind and format_version) wrote for the same evaluation."""
    data = found.to_dict()
    del data["kind"], data["format_version"]
    return data


def test_written_with_kind_and_version_then_the_fields_eval_always_wrote_in_their_order(tmp_path):
    path = write_run(tmp_path / "R", "R", LABELS)
    run = open_run(str(path))
    written = write_evaluation(path, score_predictions(GOLD, PRED, ["en", "de", "en"], "conlleval", ["PER", "LOC"]))
    data = json.loads(run.eval_path("test").read_text())
    assert list(data)[:2] == ["kind", "format_version"] and (data["kind"], data["format_version"]) == ("snekner.evaluation", 1)
    full = evaluation(["en", "de", "en"]).to_dict()
    assert list(full)[2:] == UNVERSIONED_KEYS
    assert list(full["overall"]) == ["precision", "recall", "f1", "accuracy", "support", "tp", "fp", "fn"]
    assert list(full["per_type"]["PER"]) == ["precision", "recall", "f1", "support", "tp", "fp", "fn"]
    assert list(full["per_language"]["en"]) == ["n_sentences", "overall", "per_type"]
    assert read_evaluation(run, "test") == written
    assert read_evaluation_file(run.eval_path("test")).per_language["de"].overall == written.per_language["de"].overall


def test_typed_scores_not_dicts():
    found = Evaluation.from_dict(json.loads(json.dumps(evaluation().to_dict())), path="x.json")
    assert found == evaluation()
    assert isinstance(found.overall, Scores) and all(isinstance(s, Scores) for s in found.per_type.values())
    per = found.per_type["PER"]
    assert (per.tp, per.fp, per.fn, per.support) == (2, 1, 0, 2) and per.precision == 2 / 3 and per.recall == 1.0
    assert found.overall.accuracy == 6 / 8 and per.accuracy is None
    assert {m: per.value(m) for m in Metric} == {Metric.PRECISION: per.precision, Metric.RECALL: per.recall, Metric.F1: per.f1}


def test_every_metric_of_the_registry_is_a_stored_score():
    names = {f.name for f in dataclasses.fields(Scores)}
    assert {m.value for m in Metric} <= names


def test_a_file_without_kind_and_version_is_read_as_version_1(tmp_path):
    """An evaluation written by the snekner before this one (no kind, no format_version) reads as it was."""
    path = write_run(tmp_path / "R", "R", LABELS)
    run = open_run(str(path))
    run.eval_path("test").parent.mkdir()
    run.eval_path("test").write_text(json.dumps(unversioned(evaluation(["en", "de", "en"]))))
    assert read_evaluation(run, "test") == evaluation(["en", "de", "en"])
    # the first snekner's files: no confusion, fingerprint, cut words or predictions digest
    first = {k: v for k, v in unversioned(evaluation()).items() if k in ("split", "mode", "n_sentences", "overall", "per_type", "run",
                                                                              "data", "created", "prediction_seconds", "sentences_per_second",
                                                                              "versions")}
    run.eval_path("test").write_text(json.dumps(first))
    found = read_evaluation(run, "test")
    assert found.overall == evaluation().overall and found.confusion is None and found.predictions_sha256 is None


def test_compare_reads_unversioned_and_versioned_evaluations_alike(tmp_path):
    tokens, gold = corpus(60)
    for runs in (tmp_path / "new", tmp_path / "old"):  # A with every type, B without FOOD
        make_run(runs, "A", tokens, gold, noisy(gold, 0.3, seed=1), TYPES)
        make_run(runs, "B", tokens, without(gold, "FOOD"), without(noisy(gold, 0.2, seed=2), "FOOD"), TYPES[:3])
    for name in ("A", "B"):  # the old folder's evaluations as an earlier snekner wrote them
        path = tmp_path / "old" / name / "eval" / "test.json"
        path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k not in ("kind", "format_version")}))
    for fmt in ("json", "table"):
        new = ok("compare", "A", "B", "--runs-dir", tmp_path / "new", "--format", fmt, "--bootstrap", 50).output
        assert ok("compare", "A", "B", "--runs-dir", tmp_path / "old", "--format", fmt, "--bootstrap", 50).output == new


@pytest.mark.parametrize("change, fragments", [
    (lambda d: {**d, "format_version": 2}, ["format version 2", "reads 1", "upgrade snekner"]),
    (lambda d: {**d, "format_version": 0}, ["format version 0", "make it again with this snekner"]),
    (lambda d: {**d, "kind": "snekner.run"}, ["is not an evaluation", "snekner eval"]),
    (lambda d: {k: v for k, v in d.items() if k not in ("overall", "mode")}, ["lacks mode, overall", "snekner eval"]),
    (lambda d: {**d, "per_type": {**d["per_type"], "PER": {"precision": 1.0}}}, ["is damaged", "snekner eval"]),
    (lambda d: {**d, "per_type": [1, 2]}, ["is damaged", "snekner eval"]),
    (lambda d: {**d, "overall": {**d["overall"], "f1": "high"}}, ["is damaged (TypeError: f1 is 'high', not a number)"]),
    (lambda d: [d], ["is damaged (not a JSON object)"]),
])
@pytest.mark.parametrize("command", ["compare", "report", "card"])
def test_an_evaluation_snekner_cannot_read_is_one_line(tmp_path, change, fragments, command):
    tokens, gold = corpus(20)
    for name in ("A", "B"):
        make_run(tmp_path, name, tokens, gold, noisy(gold, 0.3, seed=1), TYPES)
        (tmp_path / name / "model").mkdir()  # card writes into it
    path = tmp_path / "B" / "eval" / "test.json"
    path.write_text(json.dumps(change(json.loads(path.read_text()))))
    args = {"compare": ["compare", "A", "B"], "report": ["report", "A", "B", "--out", tmp_path / "r.html"], "card": ["card", "B"]}[command]
    line = one_line_error(invoke(*args, "--runs-dir", tmp_path), str(path), *fragments)
    assert "Traceback" not in line and "KeyError" not in line


def test_not_json_and_missing_are_told_apart(tmp_path):
    path = write_run(tmp_path / "R", "R", LABELS)
    run = open_run(str(path))
    with pytest.raises(MissingEvaluationError, match="run R has no test evaluation") as caught:
        read_evaluation(run, "test")
    assert caught.value.part == "scores"
    run.eval_path("test").parent.mkdir()
    run.eval_path("test").write_text('{"split": "test",')
    with pytest.raises(ManifestError, match=r"evaluation .*test\.json is not valid JSON") as damaged:
        read_evaluation(run, "test")
    assert (damaged.value.what, damaged.value.problem) == ("evaluation", "damaged")
