"""Compare runs per entity type, from their stored evaluations: the `compare` workflow.

`compare_runs` is what `snekner compare` does, callable from a test or a notebook: open the
runs, read their `eval/<split>.json`, optionally bootstrap the differences from the stored
predictions, and return one result dict (rendered by snekner.present.comparison).
"""
from __future__ import annotations

import itertools
import statistics
from pathlib import Path

from snekner.errors import DifferentSentencesError, MissingEvaluationError, MixedModesError, OptionError, SneknerError
from snekner.evaluation.bootstrap import (CONFIDENCE, check_same_sentences, checked_counts,
                                          common_ground_counts, group_intervals, paired_intervals, read_counts)
from snekner.ner.metrics import DEFAULT_METRIC, Metric, metric_values
from snekner.ner.scoring import SentenceCounts
from snekner.store.evaluations import Evaluation, read_evaluation
from snekner.store.prepared import canonical_split
from snekner.store.runs import DEFAULT_RUNS_DIR, Experiment, Run, open_experiment


DEFAULT_RESAMPLES = 1000


def check_names(names: list[str]) -> None:
    """Two or more runs (or groups), each named once."""
    if len(names) < 2:
        raise SneknerError("compare needs at least two runs, e.g. A B")
    if len(set(names)) != len(names):
        raise SneknerError(f"runs named twice in {' '.join(names)}; name each run once")


def shared_mode(evals: list[Evaluation]) -> str:
    """The evaluation mode (conlleval, strict) all evaluations share; MixedModesError if they differ."""
    modes = {e.mode for e in evals}
    if len(modes) > 1:
        raise MixedModesError(f"the runs were evaluated in different modes ({', '.join(sorted(map(str, modes)))})")
    return modes.pop()


def check_comparable(runs: list[Run], evals: list[Evaluation], metric: Metric | str) -> str:
    """Raise on what makes runs incomparable; return the shared evaluation mode."""
    Metric(metric)
    check_names([r.name for r in runs])
    return shared_mode(evals)


def shared_types(evals: list[Evaluation]) -> list[str]:
    """The types every evaluation scores, in the first one's order: the common ground of an overall score."""
    return [t for t in evals[0].per_type if all(t in e.per_type for e in evals[1:])]


def compare_runs(runs: list[str], runs_dir: str | Path = DEFAULT_RUNS_DIR, split: str = "test", *, metric: Metric | str = DEFAULT_METRIC,
                 bootstrap: int = DEFAULT_RESAMPLES, seed: int = 0) -> dict:
    """The first run (or group of seeds) against each later one, per type and overall on common ground
    (see `compare` and `compare_groups`), with `bootstrap` paired resamples of the test sentences for the
    intervals of the differences (0: none).

    The overall row covers only the types every run has: when the runs' types differ it is recomputed from
    their stored predictions with every other type mapped to O, so that all runs are scored on the same gold.
    A group of one seed is compared exactly as a run.
    """
    if bootstrap < 0:
        raise OptionError("bootstrap", bootstrap, "0 (off) or a number of resamples such as 1000")
    metric = Metric(metric).value  # a plain str from here on (a str Enum does not hash like its value)
    split = canonical_split(split)
    experiments = [open_experiment(r, runs_dir) for r in runs]
    check_names([e.name for e in experiments])
    opened = [r for e in experiments for r in e.runs]
    evals = [read_evaluation(r, split) for r in opened]
    mode = shared_mode(evals)
    for run, e in zip(opened[1:], evals[1:]):
        if e.n_sentences != evals[0].n_sentences:
            raise DifferentSentencesError(f"runs {opened[0].name} and {run.name} were evaluated on different sentences "
                                          f"({evals[0].n_sentences} vs {e.n_sentences} {split} sentences)", split=split)
    shared = shared_types(evals)
    same_types = all(set(e.per_type) == set(evals[0].per_type) for e in evals)
    sentences = common = None
    if bootstrap or not same_types:
        sentences = [read_counts(r, split, list(e.per_type), mode, common_types=None if same_types else shared, bootstrap_only=same_types)
                     for r, e in zip(opened, evals)]
        for run, e, found in zip(opened, evals, sentences):
            if len(found) != e.n_sentences:
                raise MissingEvaluationError(f"the {split} predictions of run {run.name} do not match its {split} scores "
                                             f"({len(found)} vs {e.n_sentences} sentences)", run=run, split=split,
                                             part="predictions", bootstrap_only=same_types)
        for run, found in zip(opened[1:], sentences[1:]):
            check_same_sentences(opened[0].name, sentences[0], run.name, found, split)
        if not same_types:
            common = [common_ground_counts(found, shared, mode) for found in sentences]
    if any(len(e.runs) > 1 for e in experiments):
        return compare_groups(experiments, evals, mode=mode, metric=metric, split=split, shared=shared, common=common, sentences=sentences,
                              bootstrap=bootstrap, seed=seed)
    intervals = None
    if bootstrap:
        intervals = paired_intervals(opened, evals, split=split, mode=mode, metric=metric, resamples=bootstrap, seed=seed, sentences=sentences,
                                     common=common)
    return compare(opened, evals, metric=metric, split=split, intervals=intervals, common=common, names=[e.name for e in experiments])


def _stats(values: dict) -> dict | None:
    """{seed: value} -> mean, sd over seeds (None for one seed) and the values per seed."""
    if not values or None in values.values():
        return None
    found = list(values.values())
    return {"mean": statistics.fmean(found), "sd": statistics.stdev(found) if len(found) > 1 else None,
            "per_seed": {str(k): v for k, v in values.items()}}


def compare_groups(experiments: list[Experiment], evals: list[Evaluation], *, mode: str, metric: str, split: str, shared: list[str],
                   common: list[SentenceCounts] | None, sentences: list[list[dict]] | None, bootstrap: int, seed: int) -> dict:
    """Groups of seeds (a run counts as a group of one): per type and overall (on common ground) each group's
    mean and standard deviation over its seeds with every seed's value, the difference of the means to the
    first group, and with `bootstrap` a two-level interval of it (seeds and sentences: bootstrap.group_intervals).

    evals, common, sentences: per member run, in the order of the experiments' runs.
    """
    names = [e.name for e in experiments]
    bounds = list(itertools.accumulate([0] + [len(e.runs) for e in experiments]))
    spans = [range(a, b) for a, b in zip(bounds, bounds[1:])]
    types: list[str] = []
    for e in evals:
        types += [t for t in e.per_type if t not in types]
    overall_values, overall_support = common_overall_values(evals, metric, shared, common)
    intervals = None
    if bootstrap:
        counts = [checked_counts(r, s, e, mode=mode, split=split)
                  for r, s, e in zip([r for x in experiments for r in x.runs], sentences, evals)]
        commons = common if common is not None else counts
        intervals = group_intervals([[counts[i] for i in span] for span in spans], [[commons[i] for i in span] for span in spans],
                                    metric, bootstrap, seed)

    def row_of(value_of, support, pick_interval) -> dict:
        row = {name: _stats({x.seeds[k]: value_of(i) for k, i in enumerate(span)}) for name, x, span in zip(names, experiments, spans)}
        for name in names[1:]:
            both = row[name] is not None and row[names[0]] is not None
            row[delta_key(names[0], name, len(names))] = row[name]["mean"] - row[names[0]]["mean"] if both else None
        row["support"] = support
        if intervals is not None:
            found = {name: pick_interval(j) for j, name in enumerate(names[1:])}
            row["interval"] = found[names[1]] if len(names) == 2 else found
        return row

    per_type = {}
    for typ in types:
        per_type[typ] = row_of(lambda i: evals[i].per_type[typ].value(metric) if typ in evals[i].per_type else None,
                               _the_one({e.per_type[typ].support for e in evals if typ in e.per_type}),
                               lambda j: intervals["per_type"][j].get(typ))
    overall = row_of(lambda i: overall_values[i], overall_support, lambda j: intervals["overall"][j])
    own = {name: {"types": list(evals[span[0]].per_type), metric: statistics.fmean(evals[i].overall.value(metric) for i in span),
                  "support": evals[span[0]].overall.support} for name, span in zip(names, spans)}
    boot = None if intervals is None else {"resamples": bootstrap, "seed": seed, "confidence": CONFIDENCE, "levels": "seeds and sentences"}
    return {"metric": metric, "split": split, "mode": mode, "runs": names, "seeds": {x.name: x.seeds for x in experiments},
            "per_type": per_type, "overall_types": shared, "overall": overall, "own_overall": own,
            "n_sentences": {name: evals[span[0]].n_sentences for name, span in zip(names, spans)}, "bootstrap": boot}


def compare(runs: list[Run], evals: list[Evaluation], *, metric: Metric | str = DEFAULT_METRIC, split: str = "test", intervals: dict | None = None,
            common: list[SentenceCounts] | None = None, names: list[str] | None = None) -> dict:
    """A against each later run: per type the metric of each run, the difference and the gold support;
    overall, the same on the types all runs share (`overall_types`), and each run's own overall as information.

    `common`: each run's counts over the shared types (snekner.evaluation.bootstrap.common_ground_counts);
    needed when the runs' types differ, else the stored overall scores are the common ground.
    `intervals` (from snekner.evaluation.bootstrap.paired_intervals) adds a bootstrap interval of each difference:
    row["interval"] is {"low", "high", "significant"} (None for a type absent in one run) with two runs,
    and {later run: interval} with more.
    """
    mode = check_comparable(runs, evals, metric)
    metric = Metric(metric).value
    run_names = [r.name for r in runs]
    names = names or run_names  # as shown: a group of one seed goes by the group's name
    types: list[str] = []
    for e in evals:
        types += [t for t in e.per_type if t not in types]
    shared = shared_types(evals)
    base = names[0]
    per_type = {}
    for typ in types:
        row = {}
        values = [e.per_type[typ].value(metric) if typ in e.per_type else None for e in evals]
        for name, value in zip(names, values):
            row[name] = value
        for name, value in zip(names[1:], values[1:]):
            row[delta_key(base, name, len(names))] = None if value is None or values[0] is None else value - values[0]
        row["support"] = _the_one({e.per_type[typ].support for e in evals if typ in e.per_type})
        if intervals is not None:
            row["interval"] = _intervals_of(intervals, run_names, names, lambda pair: pair["per_type"].get(typ))
        per_type[typ] = row
    overall = _common_overall(names, evals, metric, shared, common)
    if intervals is not None:
        overall["interval"] = _intervals_of(intervals, run_names, names, lambda pair: pair["overall"])
    own = {name: {"types": list(e.per_type), metric: e.overall.value(metric), "support": e.overall.support}
           for name, e in zip(names, evals)}
    bootstrap = None if intervals is None else {k: intervals[k] for k in ("resamples", "seed", "confidence")}
    return {"metric": metric, "split": split, "mode": mode, "runs": names, "per_type": per_type,
            "overall_types": shared, "overall": overall, "own_overall": own,
            "n_sentences": {name: e.n_sentences for name, e in zip(names, evals)}, "bootstrap": bootstrap}


def _the_one(values: set):
    """The value all runs agree on, or None when they differ."""
    return next(iter(values)) if len(values) == 1 else None


def common_overall_values(evals: list[Evaluation], metric: str, shared: list[str], common: list[SentenceCounts] | None) -> tuple[list, int | None]:
    """Each run's metric on the shared types (None without any), and the shared gold support (None if the runs differ).

    `common`: each run's counts over the shared types; None when every run has exactly the shared types, whose
    stored overall scores are then the common ground.
    """
    if common is None:
        if any(set(e.per_type) != set(shared) for e in evals):
            raise ValueError("runs with different types need their common-ground counts")
        return [e.overall.value(metric) for e in evals], _the_one({e.overall.support for e in evals})
    if not shared:
        return [None] * len(evals), None
    totals = [c.counts.sum(axis=(0, 1)) for c in common]
    return [float(metric_values(t, metric)) for t in totals], _the_one({int(t[0] + t[2]) for t in totals})


def _common_overall(names: list[str], evals: list[Evaluation], metric: str, shared: list[str], common: list[SentenceCounts] | None) -> dict:
    """The overall row: each run's metric on the shared types, the differences to the first run, the shared gold support."""
    values, support = common_overall_values(evals, metric, shared, common)
    row = dict(zip(names, values))
    for name, value in zip(names[1:], values[1:]):
        row[delta_key(names[0], name, len(names))] = None if value is None or values[0] is None else value - values[0]
    row["support"] = support
    return row


def _intervals_of(intervals: dict, run_names: list[str], names: list[str], pick):
    found = {name: pick(intervals["pairs"][run]) for run, name in zip(run_names[1:], names[1:])}
    return found[names[1]] if len(names) == 2 else found


def delta_key(base: str, other: str, n_runs: int) -> str:
    return "delta" if n_runs == 2 else f"{other}-{base}"
