"""Human-readable text for what the core returns: evaluations (snekner.store.evaluations), inspections, searches."""
from __future__ import annotations

import statistics

from snekner.ner.metrics import DEFAULT_METRIC, SCORE_ORDER, Metric
from snekner.store.evaluations import Evaluation, LanguageScores, Scores


def _table(rows, headers) -> str:
    from tabulate import tabulate

    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True,
                    colalign=("left",) + ("right",) * (len(headers) - 1))


SCORE_HEADERS = ["type", *(m.value for m in SCORE_ORDER), "support"]


def _values(scores: Scores) -> list[str]:
    """Each metric of the scores, in the order of SCORE_HEADERS."""
    return [f"{scores.value(m):.4f}" for m in SCORE_ORDER]


def score_rows(result: Evaluation) -> list[list[str]]:
    """Per type, then overall: precision, recall, F1 and gold support of one evaluation."""
    return [[t, *_values(v), str(v.support)] for t, v in [*result.per_type.items(), ("overall", result.overall)]]


def render_scores(result: Evaluation) -> str:
    o = result.overall
    head = (f"{result.run} on {result.split} ({result.n_sentences} sentences, {result.mode}): "
            f"F1 {o.f1:.4f}, word accuracy {o.accuracy:.4f}")
    text = head + "\n" + _table(score_rows(result), SCORE_HEADERS)
    if result.per_language:
        text += "\n\n" + render_per_language(result.per_language)
    return text


def seed_rows(results: list[Evaluation], metric: Metric | str = DEFAULT_METRIC, overall: str = "overall",
              support: bool = False) -> list[list[str]]:
    """A group's evaluations side by side, a row per type and one for overall: the label, `mean ± sd` over
    the seeds (the mean alone for one), each seed's value and, with `support`, the gold support."""
    types: list[str] = []
    for r in results:
        types += [t for t in r.per_type if t not in types]
    rows = []
    for label, values, gold in [*((t, [r.per_type[t].value(metric) for r in results if t in r.per_type],
                                   next(r.per_type[t].support for r in results if t in r.per_type)) for t in types),
                                (overall, [r.overall.value(metric) for r in results], results[0].overall.support)]:
        sd = f" ± {statistics.stdev(values):.4f}" if len(values) > 1 else ""
        rows.append([label, f"{statistics.fmean(values):.4f}{sd}", *(f"{v:.4f}" for v in values), *([str(gold)] if support else [])])
    return rows


def render_seed_summary(name: str, seeds: list[int], results: list[Evaluation], metric: Metric | str = DEFAULT_METRIC) -> str:
    """A group's evaluations side by side: per type the mean and sd over seeds, then each seed's value."""
    rows = seed_rows(results, metric, support=True)
    first = results[0]
    head = f"group {name} on {first.split} ({first.n_sentences} sentences, {first.mode}): {Metric(metric).value} over {len(seeds)} seeds"
    return head + "\n" + _table(rows, ["type", "mean ± sd", *(f"seed {s}" for s in seeds), "support"])


def render_per_language(per_language: dict[str, LanguageScores]) -> str:
    """Overall P/R/F1 per language, then F1 per type (rows) and language (columns)."""
    langs = list(per_language)
    rows = []
    for lang, v in per_language.items():
        o = v.overall
        rows.append([lang, str(v.n_sentences), *_values(o), f"{o.accuracy:.4f}", str(o.support)])
    text = "per language:\n" + _table(rows, ["lang", "sentences", *(m.value for m in SCORE_ORDER), "accuracy", "support"])
    types: list[str] = []
    for v in per_language.values():
        types += [t for t in v.per_type if t not in types]
    type_rows = []
    for typ in types:
        cells = [typ]
        for lang in langs:
            entry = per_language[lang].per_type.get(typ)
            # a type with neither gold nor predicted entities in a language has no F1 there
            cells.append("-" if entry is None or entry.support + entry.fp == 0 else f"{entry.f1:.4f}")
        type_rows.append(cells)
    text += "\n\nF1 per type and language (-: no gold or predicted entity):\n" + _table(type_rows, ["type"] + langs)
    return text


def confusion_table(conf: dict) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the confusion table. Rows: gold types; columns: support, correct, each type gold
    entities were predicted as, boundary, missed. The last row, "spurious", counts predicted entities
    (by predicted type) that overlap no gold entity."""
    types = conf["types"]
    gold = conf["gold"]
    spurious = conf["spurious"]
    others = [t for t in types if spurious.get(t) or any(row["wrong_type"].get(t) for row in gold.values())]
    shown = [t for t in types if gold[t]["support"]]
    rows = []
    for typ in shown:
        row = gold[typ]
        rows.append([typ, str(row["support"]), str(row["correct"])]
                    + ["" if other == typ else str(row["wrong_type"].get(other, 0)) for other in others]
                    + [str(row["boundary"]), str(row["missed"])])
    rows.append(["spurious", "", ""] + [str(spurious.get(t, 0)) for t in others] + ["", ""])
    headers = ["gold \\ predicted", "support", "correct"] + [f"as {t}" for t in others] + ["boundary", "missed"]
    return headers, rows


CONFUSION_KEY = ("correct: same span and type; as X: same span, type X; boundary: no exact match, overlapped by its type; missed: else",
                 "spurious: predicted entities that overlap no gold entity, by predicted type")


def render_confusion(conf: dict) -> str:
    """The confusion table (`confusion_table`) with its key."""
    headers, rows = confusion_table(conf)
    spurious = conf["spurious"]
    head = (f"entity confusion ({conf['mode']}), gold types by what was predicted on their words:\n"
            f"  {CONFUSION_KEY[0]}\n  {CONFUSION_KEY[1]} ({sum(spurious.values())} in all)")
    return head + "\n" + _table(rows, headers)


def render_rare_words(rare: dict) -> str:
    """Per type, then O: words, the share hitting the unknown token, sub-words per word (the combined splits)."""
    unk = rare["unk_token"]
    rows = [[t, str(f["words"]), *(["-", "-"] if f["unknown_rate"] is None else [str(f["unknown_words"]), f"{f['unknown_rate']:.2%}"]),
             f"{f['subwords_per_word']:.2f}"] for t, f in rare["combined"].items()]
    head = (f"rare words in {'+'.join(rare['combined_splits'])} (per type: its words, those with a sub-word {unk or 'unknown'}, "
            "sub-words per word; O words for comparison):")
    return head + "\n" + _table(rows, ["type", "words", f"{unk or 'unknown'} words", f"{unk or 'unknown'} rate", "sub-words/word"])


def render_inspection(report: dict) -> str:
    lines = [f"dataset {report['dataset']}" + (f" (lang {report['lang']})" if report.get("lang") else "")]
    if report.get("languages"):
        lines.append(f"languages: {', '.join(report['languages'])}")
    lines.append(f"labels named by {report['labels_from']}")
    splits = report["splits"]
    size_rows = []
    for name, e in splits.items():
        words = e["words"]
        row = [name, str(e["sentences"]), str(e["tokens"]), f"{words.get('mean', 0)}", f"{words.get('p95', 0)}", str(words.get("max", 0)),
               str(e["bio_violations"])]
        if "subwords" in e:
            row += [f"{e['subwords'].get('mean', 0)}", str(e["subwords"].get("max", 0)), str(e.get("truncated_sentences"))]
        size_rows.append(row)
    headers = ["split", "sentences", "words", "mean len", "p95 len", "max len", "BIO violations"]
    if any("subwords" in e for e in splits.values()):
        headers += ["mean sub-words", "max sub-words", "truncated"]
    lines += ["", _table(size_rows, headers)]
    per_lang = {name: e["sentences_per_language"] for name, e in splits.items() if "sentences_per_language" in e}
    if per_lang and len({lg for v in per_lang.values() for lg in v}) > 1:
        langs = sorted({lg for v in per_lang.values() for lg in v})
        lines += ["", _table([[lg] + [str(per_lang.get(s, {}).get(lg, 0)) for s in splits] for lg in langs], ["lang"] + list(splits))]
    types = sorted({t for e in splits.values() for t in e["entities"]})
    lines += ["", "entities per type:", _table([[t] + [str(e["entities"].get(t, 0)) for e in splits.values()] for t in types],
                                               ["type"] + list(splits))]
    if report.get("rare_words"):
        lines += ["", render_rare_words(report["rare_words"])]
    if "shared_train_test" in report:
        lines.append(f"\nsentences in both train and test: {report['shared_train_test']}")
    restriction = report.get("restriction")
    if restriction:
        lines.append(f"\ntagset {restriction['tagset']} keeps {', '.join(restriction['kept_types'])}")
    if report["findings"]:
        lines += ["", "findings:"] + [f"- {f}" for f in report["findings"]]
    else:
        lines += ["", "findings: none"]
    return "\n".join(lines)


def _param(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def render_trials(result) -> str:
    """A search's trials (snekner.training.search.SearchResult): number, state, each parameter, value, run; then the best."""
    names = list(dict.fromkeys(name for t in result.trials for name in t.params))
    rows = [[str(t.number), t.state, *(_param(t.params[n]) if n in t.params else "" for n in names),
             "" if t.value is None else f"{t.value:.4f}", t.run or ""] for t in result.trials]
    table = _table(rows, ["trial", "state", *(n.replace("_", "-") for n in names), "value", "run"])
    best = result.best
    tail = (f"best: trial {best.number}, validation F1 {best.value:.4f}, run {best.run}" if best is not None
            else "no trial has finished yet")
    return f"study {result.study_name} ({len(result.trials)} trials, storage {result.storage})\n{table}\n{tail}"
