"""Per-type tables of runs against each other, from their stored eval results."""
from __future__ import annotations

import csv
import io
import json

from snekner.store.artifacts import read_json
from snekner.errors import SneknerError
from snekner.store.runs import Run

METRICS = ("f1", "precision", "recall")
FORMATS = ("table", "markdown", "csv", "json")


def load_eval(run: Run, split: str, runs_dir: str) -> dict:
    path = run.eval_path(split)
    if not path.is_file():
        raise SneknerError(
            f"run {run.name} has no {split} evaluation; run `snekner eval {run.name} --split {split} --runs-dir {runs_dir}` first"
        )
    return read_json(path, "evaluation")


def check_comparable(runs: list[Run], evals: list[dict], metric: str) -> str:
    """Raise on what makes runs incomparable; return the shared evaluation mode."""
    if metric not in METRICS:
        raise SneknerError(f"--metric {metric} is not one of {', '.join(METRICS)}")
    if len(runs) < 2:
        raise SneknerError("compare needs at least two runs, e.g. `snekner compare A B`")
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise SneknerError(f"runs named twice in {' '.join(names)}; name each run once")
    modes = {e.get("mode") for e in evals}
    if len(modes) > 1:
        raise SneknerError(f"the runs were evaluated in different modes ({', '.join(sorted(map(str, modes)))}); re-run `snekner eval` with the same --strict setting")
    return modes.pop()


def compare(runs: list[Run], evals: list[dict], metric: str = "f1", split: str = "test", intervals: dict | None = None) -> dict:
    """A against each later run: per type the metric of each run, the difference and the gold support.

    `intervals` (from snekner.evaluation.bootstrap.paired_intervals) adds a bootstrap interval of each difference:
    row["interval"] is {"low", "high", "significant"} (None for a type absent in one run) with two runs,
    and {later run: interval} with more.
    """
    mode = check_comparable(runs, evals, metric)
    names = [r.name for r in runs]
    types: list[str] = []
    for e in evals:
        types += [t for t in e["per_type"] if t not in types]
    base = names[0]
    per_type = {}
    for typ in types:
        row = {}
        values = [e["per_type"].get(typ, {}).get(metric) if typ in e["per_type"] else None for e in evals]
        for name, value in zip(names, values):
            row[name] = value
        for name, value in zip(names[1:], values[1:]):
            row[_delta_key(base, name, len(names))] = None if value is None or values[0] is None else value - values[0]
        supports = {e["per_type"][typ]["support"] for e in evals if typ in e["per_type"]}
        row["support"] = supports.pop() if len(supports) == 1 else None
        if intervals is not None:
            row["interval"] = _intervals_of(intervals, names, lambda pair: pair["per_type"].get(typ))
        per_type[typ] = row
    overall = {name: e["overall"][metric] for name, e in zip(names, evals)}
    for name, e in zip(names[1:], evals[1:]):
        overall[_delta_key(base, name, len(names))] = e["overall"][metric] - evals[0]["overall"][metric]
    overall["support"] = evals[0]["overall"].get("support")
    if intervals is not None:
        overall["interval"] = _intervals_of(intervals, names, lambda pair: pair["overall"])
    bootstrap = None if intervals is None else {k: intervals[k] for k in ("resamples", "seed", "confidence")}
    return {"metric": metric, "split": split, "mode": mode, "runs": names, "per_type": per_type, "overall": overall,
            "n_sentences": {name: e["n_sentences"] for name, e in zip(names, evals)}, "bootstrap": bootstrap}


def _intervals_of(intervals: dict, names: list[str], pick):
    found = {name: pick(intervals["pairs"][name]) for name in names[1:]}
    return found[names[1]] if len(names) == 2 else found


def _delta_key(base: str, other: str, n_runs: int) -> str:
    return "delta" if n_runs == 2 else f"{other}-{base}"


def _columns(result: dict) -> list[str]:
    names = result["runs"]
    deltas = [_delta_key(names[0], n, len(names)) for n in names[1:]]
    return names + deltas + ["support"]


def _difference(other: str, base: str) -> str:
    """Column title of other minus base: `B-A`, or `(B-1)-(A-2)` when a name holds a hyphen itself."""
    if "-" in other or "-" in base:
        return f"({other})-({base})"
    return f"{other}-{base}"


def _headers(result: dict) -> list[str]:
    names = result["runs"]
    headers = ["type"] + names + [_difference(n, names[0]) for n in names[1:]] + ["support"]
    if result.get("bootstrap"):
        percent = f"{result['bootstrap']['confidence'] * 100:g}%"
        headers += [f"{_difference(n, names[0])} {percent} CI" for n in names[1:]]
    return headers


def _cell(value, is_delta: bool) -> str:
    if value is None:
        return "absent"
    if isinstance(value, int):
        return str(value)
    return f"{value:+.4f}" if is_delta else f"{value:.4f}"


def interval_cell(interval: dict | None) -> str:
    """`[-0.0123, +0.0456]`, marked ` *` when the interval excludes zero; `absent` for a type one run lacks."""
    if interval is None:
        return "absent"
    text = f"[{interval['low']:+.4f}, {interval['high']:+.4f}]"
    return f"{text} *" if interval["significant"] else text


def rows(result: dict) -> list[list[str]]:
    columns = _columns(result)
    names = result["runs"]
    n = len(names)
    out = []
    for typ, row in [*result["per_type"].items(), ("overall", result["overall"])]:
        cells = [typ]
        for i, col in enumerate(columns):
            if col == "support":
                cells.append("" if row.get(col) is None else str(row[col]))
            else:
                cells.append(_cell(row.get(col), is_delta=i >= n))
        if result.get("bootstrap"):
            found = row.get("interval")
            per_run = {names[1]: found} if n == 2 else (found or {})
            cells += [interval_cell(per_run.get(name)) for name in names[1:]]
        out.append(cells)
    return out


def footnote(result: dict) -> str:
    b = result["bootstrap"]
    return (f"* marks a difference whose {b['confidence'] * 100:g}% bootstrap interval excludes 0 "
            f"(paired percentile bootstrap over the {result['split']} sentences: {b['resamples']} resamples, seed {b['seed']})")


def render(result: dict, fmt: str = "table") -> str:
    if fmt not in FORMATS:
        raise SneknerError(f"--format {fmt} is not one of {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(result, indent=2)
    headers = _headers(result)
    body = rows(result)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(body)
        return buf.getvalue().rstrip("\n")
    from tabulate import tabulate

    n_intervals = len(result["runs"]) - 1 if result.get("bootstrap") else 0
    title = f"{result['metric']} on {result['split']} ({result['mode']})"
    table = tabulate(body, headers=headers, tablefmt="github" if fmt == "markdown" else "simple", disable_numparse=True,
                     colalign=("left",) + ("right",) * (len(headers) - 1 - n_intervals) + ("left",) * n_intervals)
    if result.get("bootstrap"):
        table += ("\n\n" if fmt == "markdown" else "\n") + footnote(result)
    return f"{title}\n{table}" if fmt == "table" else table
