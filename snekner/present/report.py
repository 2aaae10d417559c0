"""What `snekner report` shows, gathered from the runs' folders: the `report` workflow.

`build_report` reads, per run, `metrics.jsonl` (the training curves), `eval/<split>.json` (scores, confusion)
and `eval/<split>.predictions.jsonl` (the error browser), and with several runs their comparison
(snekner.evaluation.compare, bootstrap intervals included). snekner.present.report_page renders it as one page.

A group of seeds is one experiment: its curves hold every seed, its scores are the mean ± sd over seeds, and
its confusion table and error browser are those of its first seed (the page says which).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from snekner.errors import OptionError
from snekner.evaluation.bootstrap import load_predictions
from snekner.evaluation.compare import DEFAULT_RESAMPLES, check_names, compare_runs
from snekner.ner.metrics import DEFAULT_METRIC, Metric
from snekner.ner.scoring import chunk
from snekner.store.evaluations import Evaluation, read_evaluation
from snekner.store.manifests import now_iso
from snekner.store.prepared import canonical_split
from snekner.store.runs import DEFAULT_RUNS_DIR, Run, open_experiment

DEFAULT_MAX_ERRORS = 1000

Entity = tuple[str, int, int]  # type, first word, last word (as snekner.ner.scoring.chunk gives them)


@dataclass
class ErrorSentence:
    """A sentence whose gold and predicted entities differ: both sets, and those without an exact match in the other."""

    id: int
    tokens: list[str]
    gold: list[Entity]
    pred: list[Entity]
    missed: list[Entity]  # gold entities not predicted with this span and type
    spurious: list[Entity]  # predicted entities not in gold with this span and type

    @property
    def types(self) -> list[str]:
        """The types of the entities that differ: what the error browser filters by."""
        return sorted({typ for typ, _, _ in self.missed + self.spurious})


@dataclass
class RunResults:
    """What one trained run left for the report."""

    name: str
    epochs: list[dict]  # metrics.jsonl, one entry per epoch
    scores: Evaluation  # eval/<split>.json
    errors: list[ErrorSentence]  # every sentence of the split where gold and prediction differ
    n_sentences: int


@dataclass
class ExperimentResults:
    """A run, or a group of runs of one recipe with different seeds (`seeds` is None for a run)."""

    name: str
    runs: list[RunResults]
    seeds: list[int] | None = None

    @property
    def is_group(self) -> bool:
        return self.seeds is not None


@dataclass
class Report:
    split: str
    mode: str  # conlleval or strict, as evaluated
    experiments: list[ExperimentResults]
    comparison: dict | None  # snekner.evaluation.compare's result; None for one experiment
    max_errors: int  # error sentences listed per run (the counts cover all)
    created: str = field(default_factory=now_iso)


def error_sentences(sentences: list[dict], mode: str = "conlleval") -> list[ErrorSentence]:
    """The sentences (tokens, gold, pred tags, as `eval` stores them) whose gold and predicted entities differ."""
    found = []
    for i, row in enumerate(sentences):
        gold, pred = chunk(row["gold"], mode), chunk(row["pred"], mode)
        if set(gold) == set(pred):
            continue
        found.append(ErrorSentence(id=int(row.get("id", i)), tokens=list(row["tokens"]), gold=gold, pred=pred,
                                   missed=[e for e in gold if e not in pred], spurious=[e for e in pred if e not in gold]))
    return found


def error_counts(errors: list[ErrorSentence]) -> dict[str, int]:
    """Per type, the sentences in which an entity of that type differs (a sentence counts once per type)."""
    counts: dict[str, int] = {}
    for sentence in errors:
        for typ in sentence.types:
            counts[typ] = counts.get(typ, 0) + 1
    return dict(sorted(counts.items()))


def run_results(run: Run, split: str) -> RunResults:
    """A run's curves, scores and errors on `split` (a one-line error naming `snekner eval` when they are missing)."""
    scores = read_evaluation(run, split)
    sentences = load_predictions(run, split, bootstrap_only=False)
    return RunResults(name=run.name, epochs=run.read_metrics(), scores=scores, errors=error_sentences(sentences, scores.mode),
                      n_sentences=len(sentences))


def build_report(runs: list[str], runs_dir: str | Path = DEFAULT_RUNS_DIR, split: str = "test", *, bootstrap: int = DEFAULT_RESAMPLES,
                 seed: int = 0, max_errors: int = DEFAULT_MAX_ERRORS, metric: Metric | str = DEFAULT_METRIC) -> Report:
    """Everything the report page shows for these runs (or groups of seeds); the first is the comparison's baseline,
    compared by `metric`."""
    if max_errors < 0:
        raise OptionError("max_errors", max_errors, "0 or more sentences")
    split = canonical_split(split)
    experiments = [open_experiment(r, runs_dir) for r in runs]
    if len(experiments) > 1:
        check_names([e.name for e in experiments])
    results = [ExperimentResults(e.name, [run_results(r, split) for r in e.runs], e.seeds if e.is_group else None) for e in experiments]
    comparison = compare_runs(runs, runs_dir, split, metric=metric, bootstrap=bootstrap, seed=seed) if len(experiments) > 1 else None
    mode = comparison["mode"] if comparison else results[0].runs[0].scores.mode
    return Report(split=split, mode=mode, experiments=results, comparison=comparison, max_errors=max_errors)
