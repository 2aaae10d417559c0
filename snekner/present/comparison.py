"""A comparison of runs (snekner.evaluation.compare) as a text table, markdown, CSV or JSON.

Names from runs and data (run names, type names) are neutralised in markdown and CSV (snekner.present.markdown):
they show as text, never as HTML, links or spreadsheet formulas."""
from __future__ import annotations

import csv
import io
import json
from enum import Enum

from snekner.evaluation.compare import delta_key
from snekner.present.markdown import csv_cell, md


class Format(str, Enum):
    TABLE = "table"
    MARKDOWN = "markdown"
    CSV = "csv"
    JSON = "json"


def _columns(result: dict) -> list[str]:
    names = result["runs"]
    deltas = [delta_key(names[0], n, len(names)) for n in names[1:]]
    return names + deltas + ["support"]


def _difference(other: str, base: str) -> str:
    """Column title of other minus base: `B-A`, or `(B-1)-(A-2)` when a name holds a hyphen itself."""
    if "-" in other or "-" in base:
        return f"({other})-({base})"
    return f"{other}-{base}"


def _is_groups(result: dict) -> bool:
    return "seeds" in result


def headers(result: dict, split_sd: bool = False) -> list[str]:
    """Column titles of `rows` (split_sd: a group's mean and sd in two columns)."""
    names = result["runs"]
    if _is_groups(result):
        shown = [f"{n} ({len(result['seeds'][n])} seed{'s' if len(result['seeds'][n]) != 1 else ''})" for n in names]
        runs = [h for n, s in zip(names, shown) for h in ((f"{n} mean", f"{n} sd") if split_sd else (f"{s} mean ± sd",))]
        titles = ["type"] + runs + [f"{_difference(n, names[0])} (means)" for n in names[1:]] + ["support"]
    else:
        titles = ["type"] + names + [_difference(n, names[0]) for n in names[1:]] + ["support"]
    if result.get("bootstrap"):
        percent = f"{result['bootstrap']['confidence'] * 100:g}%"
        titles += [f"{_difference(n, names[0])} {percent} CI" for n in names[1:]]
    return titles


def _cell(value, is_delta: bool) -> str:
    if value is None:
        return "absent"
    if isinstance(value, dict):  # a group's {mean, sd, per_seed}
        return f"{value['mean']:.4f}" + ("" if value["sd"] is None else f" ± {value['sd']:.4f}")
    if isinstance(value, int):
        return str(value)
    return f"{value:+.4f}" if is_delta else f"{value:.4f}"


def interval_cell(interval: dict | None) -> str:
    """`[-0.0123, +0.0456]`, marked ` *` when the interval excludes zero; `absent` for a type one run lacks."""
    if interval is None:
        return "absent"
    text = f"[{interval['low']:+.4f}, {interval['high']:+.4f}]"
    return f"{text} *" if interval["significant"] else text


def overall_label(result: dict) -> str:
    """`overall` when every run has the same types, else `overall (PER ORG LOC)`: the types it covers."""
    shared = result.get("overall_types")
    own = result.get("own_overall") or {}
    if shared is None or all(set(o["types"]) == set(shared) for o in own.values()):
        return "overall"
    return f"overall ({' '.join(shared)})" if shared else "overall (no shared types)"


def own_overall_note(result: dict, name_text=str) -> str | None:
    """Each run's overall over its own types, as information only (no difference): None when the types are the same.
    name_text: how a run name is written (markdown: escaped)."""
    own = result.get("own_overall") or {}
    if overall_label(result) == "overall":
        return None
    parts = [f"{name_text(name)} {o[result['metric']]:.4f} over its {len(o['types'])} type{'s' if len(o['types']) != 1 else ''}" for name, o in own.items()]
    return f"each run over its own types (different gold, not compared): {', '.join(parts)}"


def rows(result: dict, split_sd: bool = False) -> list[list[str]]:
    """Table rows; split_sd: a group's mean and sd in two cells (CSV) instead of `mean ± sd`."""
    columns = _columns(result)
    names = result["runs"]
    n = len(names)
    out = []
    for typ, row in [*result["per_type"].items(), (overall_label(result), result["overall"])]:
        cells = [typ]
        for i, col in enumerate(columns):
            value = row.get(col)
            if col == "support":
                cells.append("" if value is None else str(value))
            elif split_sd and i < n and _is_groups(result):
                cells += ["absent", "absent"] if value is None else [f"{value['mean']:.4f}", "" if value["sd"] is None else f"{value['sd']:.4f}"]
            else:
                cells.append(_cell(value, is_delta=i >= n))
        if result.get("bootstrap"):
            found = row.get("interval")
            per_run = {names[1]: found} if n == 2 else (found or {})
            cells += [interval_cell(per_run.get(name)) for name in names[1:]]
        out.append(cells)
    return out


def footnote(result: dict) -> str:
    b = result["bootstrap"]
    if _is_groups(result):
        return (f"* marks a difference of means whose {b['confidence'] * 100:g}% bootstrap interval excludes 0 (two-level percentile "
                f"bootstrap: each group's seeds, then the {result['split']} sentences, paired; {b['resamples']} resamples, seed {b['seed']})")
    return (f"* marks a difference whose {b['confidence'] * 100:g}% bootstrap interval excludes 0 "
            f"(paired percentile bootstrap over the {result['split']} sentences: {b['resamples']} resamples, seed {b['seed']})")


def render(result: dict, fmt: str = "table") -> str:
    fmt = Format(fmt)
    if fmt == Format.JSON:
        return json.dumps(result, indent=2)
    titles = headers(result, split_sd=fmt == Format.CSV)
    body = rows(result, split_sd=fmt == Format.CSV)
    if fmt == Format.CSV:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([csv_cell(t) for t in titles])
        writer.writerows([csv_cell(c) for c in row] for row in body)
        return buf.getvalue().rstrip("\n")
    if fmt == Format.MARKDOWN:  # the names in titles and the type column; the numbers and intervals are snekner's own
        titles = [md(t) for t in titles]
        body = [[md(row[0]), *row[1:]] for row in body]
    from tabulate import tabulate

    n_intervals = len(result["runs"]) - 1 if result.get("bootstrap") else 0
    title = f"{result['metric']} on {result['split']} ({result['mode']})"
    table = tabulate(body, headers=titles, tablefmt="github" if fmt == Format.MARKDOWN else "simple", disable_numparse=True,
                     colalign=("left",) + ("right",) * (len(titles) - 1 - n_intervals) + ("left",) * n_intervals)
    notes = [n for n in (own_overall_note(result, md if fmt == Format.MARKDOWN else str), footnote(result) if result.get("bootstrap") else None)
             if n]
    if notes:
        table += ("\n\n" if fmt == Format.MARKDOWN else "\n") + ("\n\n" if fmt == Format.MARKDOWN else "\n").join(notes)
    return f"{title}\n{table}" if fmt == Format.TABLE else table
