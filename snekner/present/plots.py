"""`snekner compare --plot`: per-type scores of each run as grouped bars.

matplotlib is an optional extra (`pip install 'snekner[plot]'`) and is imported only when a plot
is drawn; pyplot is never used (no global backend state): the figure renders with the Agg canvas.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

from snekner.errors import SneknerError
from snekner.present.comparison import overall_label, own_overall_note
from snekner.store.atomic import atomic_path

FORMATS = ("png", "svg", "pdf")


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:
        raise SneknerError("matplotlib is not installed", fix="install it with pip install 'snekner[plot]' to use {option}",
                           option="plot") from None


def check_plot_path(path: Path) -> Path:
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise SneknerError(f"cannot tell the image format of {path} from its name",
                           fix=f"end {{option}} with {', '.join('.' + f for f in FORMATS)}", option="plot")
    if path.is_dir():
        raise SneknerError(f"{path} is a folder", fix=f"pass {{option}} a file name such as {path / 'compare.png'}", option="plot")
    return path


def _type_order(result: dict) -> list[str]:
    """Most gold entities first (support of either run), then by name."""
    def support(typ: str) -> int:
        row = result["per_type"][typ]
        return row["support"] if row.get("support") is not None else -1

    return sorted(result["per_type"], key=lambda t: (-support(t), t))


def _mean(value):
    """A run's value, or a group's mean over its seeds."""
    return value["mean"] if isinstance(value, dict) else value


def _interval_for(row: dict, runs: list[str], name: str) -> dict | None:
    found = row.get("interval")
    if found is None:
        return None
    return found if len(runs) == 2 else found.get(name)


def plot_comparison(result: dict, path: Path) -> Path:
    """comparison_figure(result) written to `path` (.png, .svg, .pdf)."""
    path = check_plot_path(path)
    _save(comparison_figure(result), path)
    return path


def comparison_figure(result: dict):
    """Grouped bars per type (and overall) for each run, as a matplotlib Figure; the later runs' bars carry the bootstrap
    interval of their difference to the first run, drawn around first run + difference, and a * when it excludes 0."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metric = result["metric"]
    types = _type_order(result)
    groups = types + [overall_label(result)]
    rows = [result["per_type"][t] for t in types] + [result["overall"]]
    fig_width = max(6.5, 2.5 + 0.3 * len(groups) * len(result["runs"]))
    fig = Figure(figsize=(fig_width, 5.0), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    top, marked = _draw_bars(ax, result["runs"], rows)
    if len(groups) > 1:
        ax.axvline(len(groups) - 1.5, color="0.6", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(groups)))
    many = len(groups) > 6
    ax.set_xticklabels(_group_labels(groups, rows), rotation=45 if many else 0, ha="right" if many else "center", rotation_mode="anchor")
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylim(0, top + 0.15)
    ax.set_ylabel(metric)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize=8, title="run", title_fontsize=8)
    fig.suptitle(f"{metric} per entity type on {result['split']} ({result['mode']}); types by gold support")
    notes = _notes(result, marked, int(fig_width * 16))
    if notes:
        ax.set_title("\n".join(notes), fontsize=7, color="0.3")
    return fig


def _draw_bars(ax, runs: list[str], rows: list[dict]) -> tuple[float, bool]:
    """Each run's bar in each group (a row of the comparison), later runs with the interval of their difference to the
    first; returns the highest interval end (at least 1) and whether any interval excludes 0 (marked *)."""
    n_runs = len(runs)
    width = 0.8 / n_runs
    top, marked = 1.0, False
    for r, name in enumerate(runs):
        xs = [g + (r - (n_runs - 1) / 2) * width for g in range(len(rows))]
        heights = [_mean(row.get(name)) for row in rows]
        ax.bar(xs, [0.0 if h is None else h for h in heights], width, color=f"C{r % 10}", label=name, edgecolor="white", linewidth=0.5)
        for x, row, h in zip(xs, rows, heights):
            if h is None:
                ax.text(x, 0.01, "absent", rotation=90, ha="center", va="bottom", fontsize=7, color="0.4")
                continue
            found = _interval_for(row, runs, name) if r > 0 else None
            if found is None or row.get(runs[0]) is None:
                continue
            low, high = _mean(row[runs[0]]) + found["low"], _mean(row[runs[0]]) + found["high"]
            ax.errorbar([x], [h], yerr=[[max(0.0, h - low)], [max(0.0, high - h)]], fmt="none", ecolor="black", elinewidth=1, capsize=2)
            top = max(top, high)
            if found["significant"]:
                marked = True
                ax.text(x, max(h, high) + 0.01, "*", ha="center", va="bottom", fontsize=12, fontweight="bold")
    return top, marked


def _group_labels(groups: list[str], rows: list[dict]) -> list[str]:
    """Each group's name with its gold support; `overall (PER LOC ORG)` with its types on lines of their own, under the bars."""
    labels = [g if row.get("support") is None else f"{g} ({row['support']})" for g, row in zip(groups, rows)]
    if groups[-1] != "overall":
        support = rows[-1].get("support")
        labels[-1] = textwrap.fill(groups[-1], width=14) + ("" if support is None else f"\n({support})")
    return labels


def _notes(result: dict, marked: bool, width: int) -> list[str]:
    """The lines above the plot: what the bars of groups are, what the error bars are, each run's own overall."""
    runs = result["runs"]
    bootstrap = result.get("bootstrap")
    notes = ["bars: each group's mean over its seeds"] if "seeds" in result else []
    if bootstrap:
        diffs = ", ".join(f"{n}-{runs[0]}" for n in runs[1:])
        kind = "two-level (seeds, sentences) bootstrap" if "seeds" in result else "paired bootstrap"
        notes.append(textwrap.fill(f"error bars: {bootstrap['confidence'] * 100:g}% {kind} interval of {diffs} drawn around "
                                   f"{runs[0]} + difference ({bootstrap['resamples']} resamples, seed {bootstrap['seed']})",
                                   width=width) + ("\n* the interval of the difference excludes 0" if marked else ""))
    own = own_overall_note(result)
    if own:
        notes.append(textwrap.fill(own, width=width))
    return notes


def _save(fig, path: Path) -> None:
    """Write the image beside its final place, then rename it there (never a half-written file)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        fig.savefig(f, format=path.suffix.lower().lstrip("."))


def plot_search(study, path: Path) -> Path:
    """A search's optimization history (each trial's validation F1 and the best so far) with Optuna's matplotlib plot."""
    require_matplotlib()
    import warnings

    import matplotlib.pyplot as plt
    from optuna.visualization.matplotlib import plot_optimization_history

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's ExperimentalWarning for its matplotlib plots
        ax = plot_optimization_history(study, target_name="validation F1")
    fig = ax.figure
    try:
        _save(fig, path)
    finally:
        plt.close(fig)
    return path
