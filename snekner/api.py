"""snekner in Python: the study's workflow as plain functions with results a notebook shows (issue 22).

Every function here is one of the command line's workflows with the same options and defaults; a run,
group or prepared folder is accepted as the object a function returned, a name (under `runs_dir`) or a
path. Errors raise snekner.errors.SneknerError subclasses; progress shows as tqdm.auto bars (a widget
in a notebook, a text bar in a terminal); each result has a text `repr` and an HTML one for Jupyter.
`import snekner` stays light: this module, and TensorFlow with it, loads on the first use of a name.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from snekner.data.inspection import inspect_source
from snekner.demo import packaged_minilm
from snekner.data.prepare import PrepOptions, default_prep_out, prepare
from snekner.data.reading import Reading
from snekner.errors import SneknerError
from snekner.evaluation.compare import compare_runs
from snekner.evaluation.evaluate import evaluate_run
from snekner.modeling.export import ExportFormat, export_run
from snekner.modeling.forward import EVAL_BATCH_SIZE
from snekner.modeling.models import load_run_model, load_tokenizer, run_model_dir
from snekner.modeling.precision import for_prediction
from snekner.ner.metrics import DEFAULT_METRIC
from snekner.predict import Prediction, predict_entities
from snekner.predict.sentences import make_sentences
from snekner.present import html as _html
from snekner.present.card import write_card, write_group_card
from snekner.present.comparison import footnote, own_overall_note, render as render_comparison
from snekner.present.comparison import headers as comparison_headers, rows as comparison_rows
from snekner.present.plots import comparison_figure
from snekner.present.predictions import format_table
from snekner.present.report import DEFAULT_MAX_ERRORS, build_report
from snekner.present.report_page import render_report
from snekner.present.text import render_inspection
from snekner.progress import Bars, Progress
from snekner.settings import DEFAULT_MODEL
from snekner.store.atomic import check_output_file, disk_full_is_an_error, write_text
from snekner.store.evaluations import Evaluation
from snekner.store.prepared import Prepared, load_prepared
from snekner.store.runs import DEFAULT_RUNS_DIR, Experiment, Run, is_group, open_experiment, open_run
from snekner.training.groups import train_group
from snekner.training.options import TrainOptions
from snekner.training.train import train as _train_run

__all__ = ["inspect", "prep", "train", "evaluate", "compare", "load", "report", "card", "export", "demo_model", "DatasetReport",
           "Comparison", "Tagger", "SneknerError"]


def _progress(progress: Progress | None) -> Progress:
    return progress if progress is not None else Bars(auto=True)


def _prepared(prepared: Prepared | str | Path) -> Prepared:
    return prepared if isinstance(prepared, Prepared) else load_prepared(Path(prepared))


def _experiment(run: Run | Experiment | str | Path, runs_dir: str | Path) -> Experiment:
    if isinstance(run, Experiment):
        return run
    if isinstance(run, Run):
        return Experiment(run.name, run.path, [run])
    return open_experiment(str(run), runs_dir)


def _name(run: Run | Experiment | str | Path) -> str:
    """How compare and report name a run: its folder (a path works as a name for them)."""
    return str(run.path) if isinstance(run, (Run, Experiment)) else str(run)


# ---------------------------------------------------------------- data

@dataclass(frozen=True)
class DatasetReport:
    """What `inspect` found: split sizes, entities per type, lengths, BIO violations, overlap, findings (`data`, a dict)."""

    data: dict

    def __repr__(self) -> str:
        return render_inspection(self.data)

    def _repr_html_(self) -> str:
        return f"<pre>{_html.esc(render_inspection(self.data))}</pre>"


def inspect(dataset: str | Path, *, lang: str | None = None, tagset: str | None = None, limit: int | None = None,
            reading: Reading | None = None) -> DatasetReport:
    """Inspect a dataset (hub id, folder, column or JSON-lines file, `snekner:sample`) or a prepared folder."""
    return DatasetReport(inspect_source(str(dataset), lang, tagset, limit, reading or Reading()))


def prep(dataset: str | Path, *, out: str | Path | None = None, lang: str | None = None, tagset: str | None = None,
         model: str = DEFAULT_MODEL, overwrite: bool = False, progress: Progress | None = None, log=print, **options) -> Prepared:
    """Filter by language, restrict to a tagset, tokenize and align labels, and save to `out` (default: data/<...> as the
    command line names it); `options`: the other fields of data.prepare.PrepOptions (max_length, limit, ...)."""
    spec = str(dataset)
    out = Path(out) if out is not None else default_prep_out(spec, lang, tagset, model)
    prepare(PrepOptions(dataset=spec, lang=lang, tagset=tagset, model=model, **options), out, overwrite, log=log, progress=_progress(progress))
    return load_prepared(out)


# ---------------------------------------------------------------- training

def train(prepared: Prepared | str | Path, *, name: str, runs_dir: str | Path = DEFAULT_RUNS_DIR, seeds: list[int] | None = None,
          resume: bool = False, overwrite: bool = False, progress: Progress | None = None, log=print, **recipe) -> Run | Experiment:
    """Fine-tune on prepared data as run `name` (with `seeds`: a group of runs, one per seed); `recipe`: the options of
    `snekner train` by their field names (training.options.TrainOptions), the same defaults."""
    path = prepared.path if isinstance(prepared, Prepared) else Path(prepared)
    unknown = sorted(set(recipe) - {f.name for f in fields(TrainOptions)})
    if unknown:
        raise SneknerError(f"unknown training options {', '.join(unknown)}",
                           fix=f"use the fields of TrainOptions ({', '.join(f.name for f in fields(TrainOptions))})")
    options = TrainOptions(**recipe)
    if seeds is not None or (resume and is_group(Path(runs_dir) / name)):  # a group resumes with its own seeds
        return train_group(path, name, Path(runs_dir), options, None if seeds is None else list(seeds), resume=resume, overwrite=overwrite, log=log,
                           explicit=set(recipe), progress=_progress(progress))
    return _train_run(path, name, Path(runs_dir), options, resume=resume, overwrite=overwrite, log=log, explicit=set(recipe),
                      progress=_progress(progress))


# ---------------------------------------------------------------- evaluation

def evaluate(run: Run | Experiment | str | Path, *, split: str = "test", runs_dir: str | Path = DEFAULT_RUNS_DIR,
             data: str | Path | None = None, strict: bool = False, batch_size: int = EVAL_BATCH_SIZE, progress: Progress | None = None,
             log=print, mixed_precision: bool | None = None) -> Evaluation | list[Evaluation]:
    """Score a run per entity type at word level and store it (RUN/eval/<split>.json); a group: one Evaluation per seed.
    mixed_precision: the dense layers' products in bfloat16 (None: on a CPU with AMX)."""
    experiment = _experiment(run, runs_dir)
    results = [evaluate_run(member, split, data=Path(data) if data else None, strict=strict, batch_size=batch_size,
                            progress=_progress(progress), log=log, mixed_precision=mixed_precision) for member in experiment.runs]
    return results if experiment.is_group else results[0]


@dataclass(frozen=True)
class Comparison:
    """Per-type scores of runs (or groups) against the first, with bootstrap intervals of the differences (`result`)."""

    result: dict

    def __repr__(self) -> str:
        return render_comparison(self.result, "table")

    def _repr_html_(self) -> str:
        notes = [own_overall_note(self.result)] + ([footnote(self.result)] if self.result.get("bootstrap") else [])
        return (_html.table(comparison_headers(self.result), comparison_rows(self.result), total_last=True)
                + "".join(f"<p>{_html.esc(note)}</p>" for note in notes if note))

    def to_frame(self):
        """The comparison as a pandas DataFrame: a row per type and the overall row, a column per run and difference."""
        import pandas as pd

        titles = comparison_headers(self.result, split_sd=True)  # a group's mean and sd in columns of their own, as CSV has them
        return pd.DataFrame(comparison_rows(self.result, split_sd=True), columns=titles).set_index(titles[0])

    def plot(self):
        """The per-type scores as grouped bars with the intervals: a matplotlib Figure."""
        _show_figures_in_ipython()
        return comparison_figure(self.result)


def _show_figures_in_ipython() -> None:
    """In IPython (Jupyter), show a matplotlib Figure a cell returns as an image, as pyplot's inline backend would: the
    figure is made without pyplot (no global state), so IPython has no formatter for it otherwise."""
    import sys

    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    if shell is not None:
        from IPython.core.pylabtools import select_figure_formats

        select_figure_formats(shell, {"png"})


def compare(*runs: Run | Experiment | str | Path, runs_dir: str | Path = DEFAULT_RUNS_DIR, split: str = "test",
            metric: str = DEFAULT_METRIC.value, bootstrap: int = 1000, seed: int = 0) -> Comparison:
    """Compare evaluated runs or groups (the first is the baseline) by `metric`, with `bootstrap` paired resamples."""
    return Comparison(compare_runs([_name(r) for r in runs], runs_dir, split, metric=metric, bootstrap=bootstrap, seed=seed))


# ---------------------------------------------------------------- prediction

class Entities(list):
    """The entities of one text (dicts: text, type, start_char, end_char, score, ...), shown marked in a notebook."""

    def __init__(self, prediction: Prediction):
        super().__init__(prediction.entities)
        self.prediction = prediction

    def _repr_html_(self) -> str:
        sentence = self.prediction.sentence
        text, offsets = (sentence.text, sentence.offsets) if sentence.offsets is not None else _html.words_text(sentence.words)
        spans = [_html.Span(offsets[e["start"]][0], offsets[e["end"] - 1][1], e["type"]) for e in self]
        return f"<style>{_html.BASE_CSS}</style>" + _html.marked_text(text, spans, _html.type_colors([e["type"] for e in self]))


class Tagger:
    """A trained run loaded once, to tag texts: tagger("text"), tagger(["t1", "t2"]) or tagger(tokens=[["w1", "w2"]])."""

    def __init__(self, run: Run, *, batch_size: int = 32, mixed_precision: bool | None = None):
        self.run, self.batch_size = run, batch_size
        self.tokenizer = load_tokenizer(str(run_model_dir(run)))
        self.model, self.precision = for_prediction(load_run_model(run), mixed_precision)
        self.max_length = run.manifest.data_manifest.max_length

    def __repr__(self) -> str:
        return f"Tagger({self.run.name!r}: {', '.join(self.run.manifest.data_manifest.tagset.types)})"

    def predict(self, items: list) -> list[Prediction]:
        """Predictions (words, tags, scores, entities) of raw texts and/or token lists."""
        sentences = make_sentences(items, self.tokenizer)
        return predict_entities(self.model, self.tokenizer, sentences, self.run.labels, self.max_length, batch_size=self.batch_size)

    def __call__(self, texts: str | list[str] | None = None, *, tokens: list[list[str]] | None = None):
        if (texts is None) == (tokens is None):
            raise SneknerError("give texts or tokens to tag", fix="call tagger('a text'), tagger(['text', ...]) or tagger(tokens=[[...]])")
        one = isinstance(texts, str)
        items = [texts] if one else list(texts if texts is not None else tokens)
        entities = [Entities(p) for p in self.predict(items)]
        return entities[0] if one else entities

    def table(self, texts: list[str]) -> str:
        """The entities of `texts` as the command line's table."""
        return format_table(self.predict(list(texts)))


def load(run: Run | str | Path, *, runs_dir: str | Path = DEFAULT_RUNS_DIR, batch_size: int = 32,
         mixed_precision: bool | None = None) -> Tagger:
    """A finished run's model, ready to tag text (mixed_precision: the dense layers' products in bfloat16; None: on a
    CPU with AMX)."""
    return Tagger(run if isinstance(run, Run) else open_run(str(run), runs_dir), batch_size=batch_size, mixed_precision=mixed_precision)


# ---------------------------------------------------------------- artifacts

def report(*runs: Run | Experiment | str | Path, out: str | Path = "report.html", runs_dir: str | Path = DEFAULT_RUNS_DIR,
           split: str = "test", bootstrap: int = 1000, seed: int = 0, max_errors: int = DEFAULT_MAX_ERRORS) -> Path:
    """One self-contained HTML page of the runs (replaced if it exists): curves, per-type scores, confusion, comparison, errors."""
    out = check_output_file(Path(out))
    page = render_report(build_report([_name(r) for r in runs], runs_dir, split, bootstrap=bootstrap, seed=seed, max_errors=max_errors))
    with disk_full_is_an_error(writing=out):
        write_text(out, page)
    return out


def card(run: Run | Experiment | str | Path, *, runs_dir: str | Path = DEFAULT_RUNS_DIR) -> Path | list[Path]:
    """Write the run's (or group's) model card, RUN/README.md with hub metadata; returns its path."""
    experiment = _experiment(run, runs_dir)
    return write_group_card(experiment) if experiment.is_group else write_card(experiment.runs[0])


def demo_model() -> Path:
    """The folder of the model the demo trains offline (all-MiniLM-L6-v2, installed from PyPI with snekner's set-up)."""
    return packaged_minilm()


def export(run: Run | str | Path, *, out: str | Path, format: str = "pytorch", runs_dir: str | Path = DEFAULT_RUNS_DIR,
           overwrite: bool = False, progress: Progress | None = None) -> Any:
    """Export a run's model (pytorch, savedmodel, onnx), checked against the run's own logits; returns what was written."""
    run = run if isinstance(run, Run) else open_run(str(run), runs_dir)
    return export_run(run, ExportFormat(format), Path(out), overwrite, _progress(progress))
