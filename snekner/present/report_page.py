"""The report (snekner.present.report) as one self-contained HTML page: comparison, curves, scores, confusion, errors.

Tables reuse the text renderers' rows (snekner.present.comparison, snekner.present.text); charts are inline SVG
(snekner.present.charts); the error browser is pre-rendered HTML that a few lines of inline JS filter by type.
"""
from __future__ import annotations

import json
import statistics

import snekner
from snekner.evaluation.compare import delta_key
from snekner.ner.metrics import DEFAULT_METRIC, SCORE_ORDER
from snekner.present.charts import Interval, Series, interval_chart, line_chart
from snekner.present.comparison import footnote, headers, overall_label, own_overall_note, rows
from snekner.present.html import Span, esc, marked_text, page, table, type_colors, words_text
from snekner.present.report import ErrorSentence, ExperimentResults, Report, RunResults, error_counts
from snekner.present.text import CONFUSION_KEY, SCORE_HEADERS, confusion_table, score_rows, seed_rows
from snekner.store.evaluations import Evaluation

CSS = """
nav a { margin-right: 1rem; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem 2rem; }
svg.chart { max-width: 100%; height: auto; }
.filters { margin: 0.5rem 0; }
.filters button { font: inherit; font-size: 0.9em; border: 1px solid #bbb; background: #fff; border-radius: 1rem; padding: 0.15rem 0.7rem;
                  margin: 0 0.3rem 0.3rem 0; cursor: pointer; }
.filters button .swatch { display: inline-block; width: 0.7em; height: 0.7em; border-radius: 0.2em; margin-right: 0.35em; }
.filters button.on { border-color: #222; background: #222; color: #fff; }
.error { border-top: 1px solid #eee; padding: 0.4rem 0; }
.error .sid { color: #888; font-size: 0.85em; }
.error .pair { display: flex; align-items: baseline; }
.error .side { flex: 0 0 5.5rem; color: #666; font-size: 0.85em; }
.error .entities { margin: 0; }
mark.entity.differs { outline: 2px dashed #c0392b; outline-offset: 1px; }
.key mark.entity { font-size: 0.9em; }
"""

# the error browser's filter: show the sentences with a differing entity of the chosen type (all: every one); a sentence's
# types are a JSON list in data-types, as a type name may hold a space or any other character
SCRIPT = """
document.querySelectorAll('.errors').forEach(function (box) {
  var items = box.querySelectorAll('.error');
  var buttons = box.querySelectorAll('button[data-filter]');
  var shown = box.querySelector('.shown');
  buttons.forEach(function (button) {
    button.addEventListener('click', function () {
      var wanted = button.getAttribute('data-filter');
      var n = 0;
      buttons.forEach(function (other) { other.classList.toggle('on', other === button); });
      items.forEach(function (item) {
        var hit = wanted === '' || JSON.parse(item.getAttribute('data-types')).indexOf(wanted) >= 0;
        item.hidden = !hit;
        if (hit) { n += 1; }
      });
      shown.textContent = String(n);
    });
  });
});
"""


def darker(color: str, factor: float = 0.72) -> str:
    """A #rrggbb colour darkened, so that displaCy's pastel backgrounds make visible lines."""
    value = color.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    r, g, b = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return "#" + "".join(f"{int(c * factor):02x}" for c in (r, g, b))


def _member_label(experiment: ExperimentResults, i: int) -> str:
    return f"seed {experiment.seeds[i]}" if experiment.is_group else experiment.runs[i].name


def curves(experiment: ExperimentResults, colors: dict[str, str]) -> str:
    """Training loss per epoch, and validation F1 per epoch overall and per type (a group: overall per seed, types as means)."""
    many = experiment.is_group and len(experiment.runs) > 1
    greys = ["#222", "#666", "#999", "#444", "#777", "#aaa"]
    loss = [Series(_member_label(experiment, i), [(e["epoch"], e["train_loss"]) for e in r.epochs if e.get("train_loss") is not None],
                   greys[i % len(greys)], bold=True) for i, r in enumerate(experiment.runs)]
    f1 = [Series(f"overall, {_member_label(experiment, i)}" if many else "overall",
                 [(e["epoch"], e["validation"]["f1"]) for e in r.epochs if "validation" in e], greys[i % len(greys)], bold=True)
          for i, r in enumerate(experiment.runs)]
    types: list[str] = []
    for r in experiment.runs:
        for e in r.epochs:
            types += [t for t in e.get("validation_per_type_f1", {}) if t not in types]
    for typ in types:
        by_epoch: dict[int, list[float]] = {}
        for r in experiment.runs:
            for e in r.epochs:
                if typ in e.get("validation_per_type_f1", {}):
                    by_epoch.setdefault(e["epoch"], []).append(e["validation_per_type_f1"][typ])
        points = [(ep, statistics.fmean(v)) for ep, v in sorted(by_epoch.items()) if len(v) == len(experiment.runs)]
        f1.append(Series(f"{typ} (mean)" if many else typ, points, darker(colors.get(typ, "#888888"))))
    if not any(s.points for s in loss + f1):
        return '<p class="note">no per-epoch metrics (metrics.jsonl is missing or empty)</p>'
    charts = [line_chart("training loss per epoch", loss, "loss")]
    if any(s.points for s in f1):
        charts.append(line_chart("validation F1 per epoch", f1, "F1", (0.0, 1.0)))
    else:
        charts.append('<p class="note">no validation scores per epoch (trained without a validation split)</p>')
    return f'<div class="charts">{"".join(charts)}</div>'


def scores_table(experiment: ExperimentResults) -> str:
    """Per type and overall P/R/F1/support; a group: the mean ± sd over its seeds, and each seed's F1."""
    results = [r.scores for r in experiment.runs]
    if not experiment.is_group:
        return table(SCORE_HEADERS, score_rows(results[0]), total_last=True, css_class="data scores")
    by_metric = [seed_rows(results, m, support=True) for m in SCORE_ORDER]  # per metric: label, mean ± sd, each seed, support
    per_seed = seed_rows(results, DEFAULT_METRIC, support=True)
    body = [[rows[0][0], *(row[1] for row in rows), *seeds[2:]] for rows, seeds in zip(zip(*by_metric), per_seed)]
    titles = ["type", *(f"{m.value} mean ± sd" for m in SCORE_ORDER), *(f"{DEFAULT_METRIC.value} seed {s}" for s in experiment.seeds),
              "support"]
    return table(titles, body, total_last=True, css_class="data scores")


def confusion_section(scores: Evaluation) -> str:
    if scores.confusion is None:
        return f'<p class="note">no confusion table stored ({esc(scores.split)} was evaluated by an earlier snekner; evaluate it again)</p>'
    titles, body = confusion_table(scores.confusion)
    key = "".join(f"<li>{esc(line)}</li>" for line in CONFUSION_KEY)
    return table(titles, body, total_last=True) + f'<ul class="note">{key}</ul>'


def _spans(entities, differing, offsets, kind: str) -> list[Span]:
    return [Span(offsets[first][0], offsets[last][1], typ, "differs" if (typ, first, last) in differing else "",
                 f"{kind} {typ}" + (": no exact match in the other set" if (typ, first, last) in differing else ""))
            for typ, first, last in entities]


def error_item(sentence: ErrorSentence, colors: dict[str, str]) -> str:
    """One sentence: gold and predicted entities marked, those without an exact match in the other set outlined."""
    text, offsets = words_text(sentence.tokens)
    gold = marked_text(text, _spans(sentence.gold, set(sentence.missed), offsets, "gold"), colors)
    pred = marked_text(text, _spans(sentence.pred, set(sentence.spurious), offsets, "predicted"), colors)
    return (f'<div class="error" data-id="{sentence.id}" data-types="{esc(json.dumps(sentence.types))}">'
            f'<div class="sid">sentence {sentence.id}: {esc(", ".join(sentence.types))}</div>'
            f'<div class="pair"><span class="side">gold</span>{gold}</div><div class="pair"><span class="side">predicted</span>{pred}</div></div>')


def error_browser(run: RunResults, colors: dict[str, str], max_errors: int) -> str:
    """The sentences where gold and prediction differ, with a filter button per type (its count of such sentences)."""
    listed = run.errors[:max_errors]
    counts = error_counts(listed)
    buttons = [f'<button type="button" class="on" data-filter="" data-count="{len(listed)}">all ({len(listed)})</button>']
    buttons += [f'<button type="button" data-filter="{esc(t)}" data-count="{n}"><span class="swatch" style="background: '
                f'{esc(colors.get(t, "#ddd"))}"></span>{esc(t)} ({n})</button>' for t, n in counts.items()]
    cut = f"; the first {len(listed)} are listed" if len(listed) < len(run.errors) else ""
    head = (f'<p>{len(run.errors)} of {run.n_sentences} sentences have gold and predicted entities that differ{esc(cut)}. '
            'Outlined: an entity without an exact match (span and type) in the other set. '
            f'Showing <span class="shown">{len(listed)}</span>.</p>')
    items = "".join(error_item(s, colors) for s in listed)
    return (f'<div class="errors" data-run="{esc(run.name)}" data-error-count="{len(run.errors)}">{head}'
            f'<div class="filters">{"".join(buttons)}</div>{items}</div>')


def comparison_section(result: dict) -> str:
    """The compare table (differences to the first run, intervals when bootstrapped) and a chart of each difference."""
    notes = [own_overall_note(result)] + ([footnote(result)] if result.get("bootstrap") else [])
    parts = [f'<p class="meta">{esc(result["metric"])} on {esc(result["split"])} ({esc(result["mode"])}), '
             f'{esc(result["runs"][0])} is the baseline</p>', table(headers(result), rows(result), total_last=True)]
    parts += [f'<p class="note">{esc(n)}</p>' for n in notes if n]
    names = result["runs"]
    for name in names[1:]:
        found = []
        for label, row in [*result["per_type"].items(), (overall_label(result), result["overall"])]:
            delta = row.get(delta_key(names[0], name, len(names)))
            if delta is None:
                continue
            interval = row.get("interval") if len(names) == 2 else (row.get("interval") or {}).get(name)
            found.append(Interval(label, delta, *((interval["low"], interval["high"], interval["significant"]) if interval else ())))
        parts.append(interval_chart(f"{name} − {names[0]}: difference in {result['metric']}"
                                    + (" with 95% interval" if result.get("bootstrap") else ""), found))
    return "".join(parts)


def experiment_section(experiment: ExperimentResults, index: int, report: Report, colors: dict[str, str]) -> str:
    first = experiment.runs[0]
    kind = f"group of {len(experiment.seeds)} seeds ({', '.join(map(str, experiment.seeds))})" if experiment.is_group else "run"
    which = (f'<p class="note">confusion and errors of the first seed, {esc(first.name)}; the other seeds have their own in '
             f'their eval folders</p>') if experiment.is_group else ""
    return (f'<section class="experiment" id="run-{index}" data-name="{esc(experiment.name)}"><h2>{esc(experiment.name)} '
            f'<span class="meta">{esc(kind)}</span></h2>'
            f"<h3>Training curves</h3>{curves(experiment, colors)}"
            f"<h3>Scores on {esc(report.split)}</h3>{scores_table(experiment)}{which}"
            f"<h3>Confusion</h3>{confusion_section(first.scores)}"
            f"<h3>Errors</h3>{error_browser(first, colors, report.max_errors)}</section>")


def render_report(report: Report) -> str:
    """The whole page."""
    types: list[str] = []
    for x in report.experiments:
        for r in x.runs:
            types += [t for t in r.scores.per_type if t not in types]
    colors = type_colors(types)
    names = [x.name for x in report.experiments]
    title = "snekner report: " + " vs ".join(names)
    nav = ([('<a href="#comparison">comparison</a>')] if report.comparison else []) + [
        f'<a href="#run-{i}">{esc(n)}</a>' for i, n in enumerate(names)]
    body = [f"<h1>{esc(title)}</h1>",
            f'<p class="meta">split {esc(report.split)}, scored {esc(report.mode)}; made {esc(report.created)} by snekner '
            f'{esc(snekner.__version__)}; types: {esc(", ".join(types))}</p>', f"<nav>{''.join(nav)}</nav>"]
    if report.comparison:
        body.append(f'<section id="comparison"><h2>Comparison</h2>{comparison_section(report.comparison)}</section>')
    body += [experiment_section(x, i, report, colors) for i, x in enumerate(report.experiments)]
    return page(title, "\n".join(body), CSS, SCRIPT)
