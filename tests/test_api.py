"""The Python API (issue 22): the study's A-vs-B workflow with `snekner.*` public names only, on the sample data.

The study: inspect the data, prep tagset A (all 15 types) and B (PER ORG LOC ANIM DIS), train both (B as a group of two
seeds), evaluate, compare with intervals and a plot, load a run and tag raw text with character offsets, write a
report, export for PyTorch. Each result shows as text and as HTML (what a notebook displays).
"""
from __future__ import annotations

import subprocess
import sys

import pytest

import snekner

RECIPE = {"epochs": 1, "batch_size": 8, "learning_rate": 1e-3}


@pytest.fixture(scope="module")
def study(tmp_path_factory, sample_dir, tiny_model):
    work = tmp_path_factory.mktemp("study")
    runs = work / "runs"
    quiet = {"progress": None, "log": lambda msg: None}
    a = snekner.prep(sample_dir, out=work / "data-a", lang="en", tagset="a", model=str(tiny_model), max_length=48)
    b = snekner.prep(sample_dir, out=work / "data-b", lang="en", tagset="b", model=str(tiny_model), max_length=48)
    run_a = snekner.train(a, name="A", runs_dir=runs, **RECIPE, **quiet)
    group_b = snekner.train(b, name="B", runs_dir=runs, seeds=[1, 2], **RECIPE, **quiet)
    return {"work": work, "runs": runs, "a": a, "b": b, "A": run_a, "B": group_b}


def test_the_names_are_public_and_importing_them_loads_no_tensorflow():
    assert {"inspect", "prep", "train", "evaluate", "compare", "load", "report", "export"} <= set(snekner.__all__)
    code = "import sys, snekner; snekner.train; snekner.load; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    with pytest.raises(AttributeError):
        snekner.no_such_name  # noqa: B018


def test_inspect_and_prep_return_what_they_found_and_made(sample_dir, study):
    report = snekner.inspect(sample_dir, lang="en")
    assert "train" in repr(report) and "<pre>" in report._repr_html_()
    a, b = study["a"], study["b"]
    assert len(a.tagset.types) == 15 and b.tagset.types == ["PER", "ORG", "LOC", "ANIM", "DIS"]
    assert set(a.splits) == {"train", "validation", "test"} and "input_ids" in a.splits["train"].column_names
    assert "Prepared(" in repr(b) and "PER ORG LOC ANIM DIS" in repr(b) and "<table>" in b._repr_html_()


def test_train_evaluate_compare_the_study(study):
    run_a, group_b = study["A"], study["B"]
    assert run_a.manifest.is_finished and "Run('A'" in repr(run_a)
    assert group_b.is_group and group_b.seeds == [1, 2] and repr(group_b).startswith("Group('B'")
    assert run_a._repr_html_().count("<tr>") == 2 and group_b._repr_html_().count("<tr>") == 3  # header + a row per run
    result = snekner.evaluate(run_a)
    assert result.split == "test" and set(result.per_type) == set(study["a"].tagset.types)
    frame = result.to_frame()
    assert list(frame.index)[-1] == "overall" and frame.loc["overall", "f1"] == pytest.approx(result.overall.f1)
    assert "overall" in repr(result) and "<table" in result._repr_html_()
    per_seed = snekner.evaluate("B", runs_dir=study["runs"])  # a name works as the object does
    assert len(per_seed) == 2
    comparison = snekner.compare(run_a, group_b, bootstrap=50)
    assert "overall" in repr(comparison) and "<table" in comparison._repr_html_()
    table = comparison.to_frame()
    assert "PER" in table.index and len(table.columns) >= 2
    figure = comparison.plot()
    assert figure.axes and type(figure).__name__ == "Figure"


def test_load_tags_text_with_character_offsets(study):
    tagger = snekner.load("A", runs_dir=study["runs"])
    text = "Angela Merkel visited Paris with Dr. Smith."
    one = tagger(text)
    many = tagger([text, "Nothing here."])
    assert [e["type"] for e in one] == [e["type"] for e in many[0]] and len(many) == 2
    for entity in one:
        assert text[entity["start_char"]:entity["end_char"]] == entity["text"]
        assert set(entity) >= {"text", "type", "start_char", "end_char", "score"}
    tokens = tagger(tokens=[["Angela", "Merkel", "visited", "Paris", "."]])
    assert len(tokens) == 1 and all("start" in e for e in tokens[0])
    assert '<div class="entities">' in one._repr_html_()
    with pytest.raises(snekner.SneknerError, match="give texts or tokens"):
        tagger()


def test_report_and_export_write_their_files(study):
    snekner.evaluate(study["A"]), snekner.evaluate(study["B"])  # the report reads the evaluations
    page = snekner.report(study["A"], study["B"], out=study["work"] / "report.html", bootstrap=50)
    assert page.read_text().startswith("<!DOCTYPE html>")
    exported = snekner.export("A", runs_dir=study["runs"], out=study["work"] / "pt", format="pytorch")
    assert (study["work"] / "pt" / "model.safetensors").is_file() and exported is not None


def test_errors_raise_instead_of_exiting(study):
    with pytest.raises(snekner.SneknerError, match="unknown training options learning_rat"):
        snekner.train(study["a"], name="X", runs_dir=study["runs"], learning_rat=1e-3)
    with pytest.raises(snekner.SneknerError, match="not found"):
        snekner.load("no-such-run", runs_dir=study["runs"])
