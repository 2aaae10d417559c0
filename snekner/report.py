"""Human-readable text for results the core returns as plain dicts."""
from __future__ import annotations


def _table(rows, headers) -> str:
    from tabulate import tabulate

    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True,
                    colalign=("left",) + ("right",) * (len(headers) - 1))


def render_scores(result: dict) -> str:
    rows = [[t, f"{v['precision']:.4f}", f"{v['recall']:.4f}", f"{v['f1']:.4f}", str(v["support"])]
            for t, v in result["per_type"].items()]
    o = result["overall"]
    rows.append(["overall", f"{o['precision']:.4f}", f"{o['recall']:.4f}", f"{o['f1']:.4f}", str(o["support"])])
    head = (f"{result['run']} on {result['split']} ({result['n_sentences']} sentences, {result['mode']}): "
            f"F1 {o['f1']:.4f}, word accuracy {o['accuracy']:.4f}")
    return head + "\n" + _table(rows, ["type", "precision", "recall", "f1", "support"])


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
