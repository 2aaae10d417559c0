"""`snekner report` and `predict --format html`: what the pages hold, escaping, one-line errors, and both pages in a
real browser (headless chromium through the DevTools protocol: no console error, the expected types and error
counts, the type filter works; a screenshot of each is saved and its path printed)."""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from cdp import find_chromium, open_page, screenshot
from cli_helpers import invoke, ok, one_line_error, prep_sample
from fakes import write_evaluation, write_run

from snekner.evaluation.evaluate import score_predictions
from snekner.ner.scoring import chunk
from snekner.predict import Prediction, Sentence, find_entities
from snekner.present.html import Span, marked_text, type_colors
from snekner.present.predictions import format_html
from snekner.present.report import error_counts, error_sentences
from snekner.store.evaluations import read_evaluation_file

HOSTILE = "<img src=x onerror=\"window.__pwned=1\"></div><script>window.__pwned=2</script>&amp;"
LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def expected_errors(predictions_path: Path, mode: str = "conlleval") -> tuple[int, dict[str, int]]:
    """Sentences whose gold and predicted entities differ, and per type the sentences with a differing entity of it."""
    total, per_type = 0, {}
    for line in predictions_path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        gold, pred = set(chunk(row["gold"], mode)), set(chunk(row["pred"], mode))
        if gold != pred:
            total += 1
            for typ in {t for t, _, _ in gold ^ pred}:
                per_type[typ] = per_type.get(typ, 0) + 1
    return total, per_type


def screenshot_dir() -> Path:
    found = Path(os.environ.get("SNEKNER_SCREENSHOTS") or Path(__file__).resolve().parents[1] / ".screenshots")
    found.mkdir(parents=True, exist_ok=True)
    return found


# ---------------------------------------------------------------- without a model

def test_error_sentences_keep_both_entity_sets_and_what_differs():
    sentences = [
        {"id": 0, "tokens": ["Ann", "met", "Bo"], "gold": ["B-PER", "O", "B-PER"], "pred": ["B-PER", "O", "B-PER"]},  # the same
        {"id": 1, "tokens": ["Ann", "in", "Rome"], "gold": ["B-PER", "O", "B-LOC"], "pred": ["B-PER", "O", "B-PER"]},
        {"id": 2, "tokens": ["New", "York"], "gold": ["B-LOC", "I-LOC"], "pred": ["B-LOC", "O"]},
        {"id": 3, "tokens": ["x"], "gold": ["O"], "pred": ["B-LOC"]},
        {"id": 4, "tokens": ["Ann"], "gold": ["B-PER"], "pred": ["I-PER"]},  # the same entity for conlleval, not strict
    ]
    errors = error_sentences(sentences)
    assert [e.id for e in errors] == [1, 2, 3]
    assert errors[0].missed == [("LOC", 2, 2)] and errors[0].spurious == [("PER", 2, 2)] and errors[0].types == ["LOC", "PER"]
    assert errors[1].gold == [("LOC", 0, 1)] and errors[1].pred == [("LOC", 0, 0)] and errors[1].types == ["LOC"]
    assert errors[2].missed == [] and errors[2].spurious == [("LOC", 0, 0)]
    assert error_counts(errors) == {"LOC": 3, "PER": 1}
    assert [e.id for e in error_sentences(sentences, "strict")] == [1, 2, 3, 4]


def test_marked_text_escapes_text_types_and_titles():
    text = f"Ann {HOSTILE} Rome"
    html = marked_text(text, [Span(0, 3, "<b>PER"), Span(4, 4 + len(HOSTILE), "LOC", title='"><script>')], type_colors(["LOC"]))
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;" in html and "&amp;amp;" in html
    with pytest.raises(ValueError, match="overlaps"):
        marked_text("abc", [Span(0, 2, "A"), Span(1, 3, "B")], {})


def test_predict_html_marks_entities_at_their_characters():
    words, text, offsets = ["Ann", "Lee", HOSTILE, "Rome", "."], "", []
    for space, word in zip(["  ", "  ", " ", " ", " "], ["Ann", "Lee", HOSTILE, "Rome", "."]):
        text += space
        offsets.append((len(text), len(text) + len(word)))
        text += word
    sentence = Sentence(words, text, offsets)
    tags = ["B-PER", "I-PER", "O", "B-LOC", "O"]
    prediction = Prediction(sentence, tags, [0.9] * 5, find_entities(sentence, tags, [0.9] * 5))
    assert [(e["text"], e["start_char"], e["end_char"]) for e in prediction.entities] == [("Ann  Lee", 2, 10), ("Rome", text.index("Rome"), text.index("Rome") + 4)]
    page = format_html([prediction, Prediction(Sentence(["New", "York"]), ["B-LOC", "I-LOC"], [0.5, 0.5],
                                                  find_entities(Sentence(["New", "York"]), ["B-LOC", "I-LOC"], [0.5, 0.5]))])
    assert "<script" not in page and "<img" not in page  # the predict page has no script of its own
    assert re.search(r'<mark class="entity" data-type="PER"[^>]*>Ann  Lee<span class="label">PER</span></mark>', page)
    assert re.search(r'>New York<span class="label">LOC</span>', page)
    assert "Content-Security-Policy" in page and "http" not in page.split("<body>")[1]  # nothing fetched


def fake_run(runs: Path, name: str, tokens: list[list[str]], gold: list[list[str]], pred: list[list[str]], epochs: int = 2,
             predictions: bool = True, labels: list[str] = LABELS) -> Path:
    """A run folder without a model: manifest, metrics.jsonl and the files `snekner eval` writes."""
    path = write_run(runs / name, name, labels)
    scores = score_predictions(gold, pred, types=[label[2:] for label in labels if label.startswith("B-")])
    (path / "metrics.jsonl").write_text("".join(json.dumps({
        "epoch": e + 1, "train_loss": 1.0 / (e + 1), "validation": {"f1": 0.3 * e, "precision": 0.3, "recall": 0.3},
        "validation_per_type_f1": {"PER": 0.2 * e, "LOC": 0.1 * e}}) + "\n" for e in range(epochs)), encoding="utf-8")
    write_evaluation(path, scores)
    if predictions:
        (path / "eval" / "test.predictions.jsonl").write_text("".join(
            json.dumps({"id": i, "tokens": t, "gold": g, "pred": p}) + "\n" for i, (t, g, p) in enumerate(zip(tokens, gold, pred))),
            encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory) -> Path:
    """The report of a run whose test sentences hold HTML and script."""
    runs = tmp_path_factory.mktemp("hostile") / "runs"
    tokens = [["Ann", HOSTILE, "Rome"], ["<script>window.__pwned=3</script>", "x"], ["Bo", "y"]]
    gold = [["B-PER", "B-LOC", "I-LOC"], ["B-LOC", "O"], ["B-PER", "O"]]
    pred = [["B-PER", "O", "B-LOC"], ["B-PER", "O"], ["B-PER", "O"]]
    fake_run(runs, "H", tokens, gold, pred)
    out = runs.parent / "hostile.html"
    ok("report", "H", "--runs-dir", runs, "--out", out)
    return out


def test_report_escapes_sentences(hostile_report):
    page = hostile_report.read_text(encoding="utf-8")
    assert page.count("<script") == 1  # the page's own filter
    assert "<img" not in page and "__pwned=3</script>" not in page
    assert 'data-error-count="2"' in page


def test_report_without_evaluation_says_to_run_eval(tmp_path):
    runs = tmp_path / "runs"
    write_run(runs / "N", "N", LABELS)
    one_line_error(invoke("report", "N", "--runs-dir", runs, "--out", tmp_path / "r.html"), "run N has no test evaluation",
                   "snekner eval N --split test")
    fake_run(runs, "P", [["a"]], [["B-PER"]], [["O"]], predictions=False)
    one_line_error(invoke("report", "P", "--runs-dir", runs, "--out", tmp_path / "r.html"), "run P has no test predictions",
                   "re-run `snekner eval P --split test")
    one_line_error(invoke("report", "P", "--runs-dir", runs, "--out", tmp_path), "is a folder", "--out")
    one_line_error(invoke("report", "P", "P", "--runs-dir", runs), "runs named twice")
    assert not (tmp_path / "r.html").exists()


# ---------------------------------------------------------------- trained runs

@pytest.fixture(scope="module")
def trained(tmp_path_factory, sample_dir, tiny_model) -> Path:
    """Runs A (4 epochs, so that it predicts some entities) and B (1 epoch) on the English sample, both evaluated."""
    work = tmp_path_factory.mktemp("report")
    runs = work / "runs"
    data = prep_sample(work / "data", sample_dir, tiny_model)
    ok("train", data, "--name", "A", "--runs-dir", runs, "--epochs", 4, "--batch-size", 4, "--learning-rate", 3e-3)
    ok("train", data, "--name", "B", "--runs-dir", runs, "--epochs", 1, "--batch-size", 8, "--learning-rate", 1e-3)
    for name in ("A", "B"):
        ok("eval", name, "--runs-dir", runs)
    return runs


@pytest.fixture(scope="module")
def report_page(trained) -> Path:
    out = trained.parent / "report.html"
    started = time.perf_counter()
    ok("report", "A", "B", "--runs-dir", trained, "--out", out, "--bootstrap", 200)
    print(f"\nreport of A and B: {out.stat().st_size} bytes in {time.perf_counter() - started:.2f} s")
    return out


def test_report_holds_every_part(report_page, trained):
    page = report_page.read_text(encoding="utf-8")
    assert page.count("<script") == 1 and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for part in ("Comparison", "Training curves", "Scores on test", "Confusion", "Errors", "95% interval", "training loss per epoch",
                 "validation F1 per epoch"):
        assert part in page, part
    for name in ("A", "B"):
        total, _ = expected_errors(trained / name / "eval" / "test.predictions.jsonl")
        assert f'data-run="{name}" data-error-count="{total}"' in page


def test_report_of_a_group_shows_its_seeds(trained, tmp_path):
    data = trained.parent / "data"
    ok("train", data, "--name", "G", "--runs-dir", trained, "--epochs", 1, "--batch-size", 8, "--learning-rate", 1e-3, "--seeds", "1,2")
    ok("eval", "G", "--runs-dir", trained)
    out = tmp_path / "group.html"
    ok("report", "G", "A", "--runs-dir", trained, "--out", out, "--bootstrap", 50)
    page = out.read_text(encoding="utf-8")
    assert "group of 2 seeds (1, 2)" in page and "f1 seed 2" in page and "confusion and errors of the first seed, G/seed-1" in page
    assert 'data-name="overall, seed 2"' in page and "G (2 seeds) mean ± sd" in page


# ---------------------------------------------------------------- in a browser

needs_chromium = pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (apt-get install chromium)")

PAGE_FACTS = """(() => {
  const text = (el) => el.innerText.trim();
  return {
    title: text(document.querySelector('h1')),
    body: document.body.innerText,
    sections: Array.from(document.querySelectorAll('section.experiment')).map((s) => ({
      name: s.dataset.name,
      scoreTypes: Array.from(s.querySelectorAll('table.scores tbody tr td:first-child')).map(text),
      charts: s.querySelectorAll('svg.chart').length,
      errors: Number(s.querySelector('.errors').dataset.errorCount),
      listed: s.querySelectorAll('.error').length,
      buttons: Array.from(s.querySelectorAll('button[data-filter]')).map((b) => [b.dataset.filter, Number(b.dataset.count)]),
    })),
    comparisonRows: Array.from(document.querySelectorAll('#comparison tbody tr td:first-child')).map(text),
    intervalCharts: document.querySelectorAll('#comparison svg.intervals').length,
  };
})()"""

CLICK = """((section, filter) => {
  const box = document.querySelectorAll('section.experiment')[section];
  box.querySelector(`button[data-filter="${filter}"]`).click();
  return {visible: Array.from(box.querySelectorAll('.error')).filter((e) => !e.hidden).length,
          shown: Number(box.querySelector('.shown').textContent)};
})"""


@needs_chromium
def test_report_in_a_browser(report_page, trained):
    async def check(page):
        facts = await page.evaluate(PAGE_FACTS)
        clicks = {}
        for i, section in enumerate(facts["sections"]):
            for filter_, _ in section["buttons"][1:] + section["buttons"][:1]:  # every type, then all again
                clicks[(i, filter_)] = await page.evaluate(f"{CLICK}({i}, {json.dumps(filter_)})")
        return facts, clicks, page.console_errors()

    facts, clicks, errors = open_page(report_page, check)
    assert errors == [], errors
    assert facts["title"] == "snekner report: A vs B"
    types = list(read_evaluation_file(trained / "A" / "eval" / "test.json").per_type)
    assert facts["comparisonRows"] == types + ["overall"] and facts["intervalCharts"] == 1
    for i, (section, name) in enumerate(zip(facts["sections"], ("A", "B"))):
        total, per_type = expected_errors(trained / name / "eval" / "test.predictions.jsonl")
        assert section["name"] == name and section["charts"] == 2
        assert section["scoreTypes"] == types + ["overall"]
        assert section["errors"] == total == section["listed"] > 0
        assert section["buttons"] == [["", total], *(list(item) for item in sorted(per_type.items()))]
        for typ, n in per_type.items():
            assert clicks[(i, typ)] == {"visible": n, "shown": n}, typ
        assert clicks[(i, "")] == {"visible": total, "shown": total}
    for typ in types:
        assert typ in facts["body"]
    path = screenshot(report_page.as_uri(), screenshot_dir() / "report.png")
    print(f"\nscreenshot of the report: {path}")


@needs_chromium
def test_hostile_text_stays_text_in_a_browser(hostile_report):
    async def check(page):
        return (await page.evaluate("[window.__pwned === undefined, document.images.length, document.scripts.length, "
                                    "document.body.innerText]"), page.console_errors())

    (unharmed, images, scripts, text), errors = open_page(hostile_report, check)
    assert errors == [] and unharmed and images == 0 and scripts == 1
    assert HOSTILE in text and "<script>window.__pwned=3</script>" in text


@needs_chromium
def test_predict_html_in_a_browser(trained, tmp_path, sample_dir):
    test_sentences = (sample_dir / "test" / "test_en.jsonl").read_text(encoding="utf-8").splitlines()[:10]
    texts = [" ".join(json.loads(line)["tokens"]) for line in test_sentences] + [f"Jonas Whitfield was born in Quebec in 1958 {HOSTILE}"]
    lines = [json.loads(line) for line in ok("predict", "A", *texts, "--runs-dir", trained, "--format", "jsonl").output.splitlines()]
    for text, line in zip(texts, lines):
        assert line["text"] == text
        for e in line["entities"]:
            assert text[e["start_char"]:e["end_char"]] == e["text"]
    out = tmp_path / "predict.html"
    result = ok("predict", "A", *texts, "--runs-dir", trained, "--format", "html", "--out", out)
    assert result.stdout == ""
    entities = [(e["type"], e["text"]) for line in lines for e in line["entities"]]

    async def check(page):
        marks = await page.evaluate("Array.from(document.querySelectorAll('#sentences mark.entity'))"
                                    ".map((m) => [m.dataset.type, m.firstChild.textContent])")
        legend = await page.evaluate("Array.from(document.querySelectorAll('#legend mark')).map((m) => m.dataset.type)")
        state = await page.evaluate("[window.__pwned === undefined, document.images.length, document.body.innerText]")
        return marks, legend, state, page.console_errors()

    marks, legend, (unharmed, images, text), errors = open_page(out, check)
    assert errors == [] and unharmed and images == 0
    assert [tuple(m) for m in marks] == entities
    assert legend == sorted({t for t, _ in entities})
    assert HOSTILE in text
    path = screenshot(out.as_uri(), screenshot_dir() / "predict.png", size="1280,900")
    print(f"\nscreenshot of predict --format html: {path}")


@needs_chromium
def test_the_type_filter_takes_type_names_with_spaces(tmp_path):
    """Issue 26: a sentence's types were joined with spaces and split on them, so the filter "NAME" also showed the
    sentences of "CITY NAME", and "CITY NAME" showed none."""
    runs = tmp_path / "runs"
    labels = ["O", "B-CITY NAME", "I-CITY NAME", "B-NAME", "I-NAME"]
    gold = [["B-CITY NAME", "O"], ["B-NAME", "O"], ["B-NAME", "O"]]
    pred = [["O", "O"], ["O", "O"], ["B-NAME", "O"]]
    fake_run(runs, "S", [["Ann", "x"], ["Bo", "y"], ["Cy", "z"]], gold, pred, labels=labels)
    out = tmp_path / "report.html"
    ok("report", "S", "--runs-dir", runs, "--out", out)

    async def check(page):
        return ({filter_: await page.evaluate(f"{CLICK}(0, {json.dumps(filter_)})") for filter_ in ("NAME", "CITY NAME", "")},
                page.console_errors())

    clicks, errors = open_page(out, check)
    assert errors == []
    assert clicks == {"NAME": {"visible": 1, "shown": 1}, "CITY NAME": {"visible": 1, "shown": 1}, "": {"visible": 2, "shown": 2}}
