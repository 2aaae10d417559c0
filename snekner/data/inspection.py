"""Dataset statistics and findings a person can act on (in the spirit of spaCy's `debug data`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from snekner.data.rare_words import rare_word_findings, rare_words
from snekner.data.reading import Reading
from snekner.data.sources import open_source
from snekner.data.validation import largest_tag_id
from snekner.errors import Notice
from snekner.modeling.models import check_no_remote_code
from snekner.ner.tagset import Tagset, load_tagset, named_tagsets, resolve_tagset, wikineural_doubt
from snekner.store.manifests import PREPARED_MANIFEST
from snekner.store.prepared import load_prepared


def _covering_tagset(tagset: Tagset, width: int) -> Tagset | None:
    """The smallest named tagset that names the data's ids 0..width-1 and agrees with `tagset` on its own ids."""
    best = None
    for name in named_tagsets():
        candidate = load_tagset(name)
        ids = candidate.source_ids
        agrees = all(ids.get(label) == src for label, src in tagset.source_ids.items())
        if agrees and max(ids.values()) + 1 >= width and (best is None or len(ids) < len(best.source_ids)):
            best = candidate
    return best


def _label_names(source_names: list[str] | None, tagset: Tagset | None, width: int) -> tuple[list[str], str]:
    if source_names:
        return list(source_names), "the dataset's own label names"
    names = [f"tag{i}" for i in range(width)]
    # ids a tagset leaves out still have to be named, or the entities it would drop go uncounted
    others = _covering_tagset(tagset, width) if tagset is not None else load_tagset("a")
    if others is not None:
        for label, src in others.source_ids.items():
            if src < width:
                names[src] = label
    if tagset is None:
        return names, Notice("MultiNERD's label ids (tagset a)", fix="pass {option} to name them otherwise", option="tagset")
    for label, src in tagset.source_ids.items():
        if src < width:
            names[src] = label
    if others is None or others.name == tagset.name:
        return names, f"tagset {tagset.name}"
    return names, f"tagset {tagset.name} (the ids it leaves out named by tagset {others.name})"


def tag_statistics(tags_column, names: list[str]) -> dict:
    """Entities per type (conlleval starts), BIO violations, for one split's ner_tags (Arrow list column)."""
    import pyarrow.compute as pc

    tags = tags_column.combine_chunks()
    flat = pc.list_flatten(tags).to_numpy(zero_copy_only=False).astype(np.int64)
    lengths = pc.list_value_length(tags).to_numpy(zero_copy_only=False)
    n = len(names)
    prefix = np.array([name[0] if name[1:2] == "-" else "O" for name in names] + ["O"])
    typ = np.array([name[2:] if name[1:2] == "-" else "" for name in names] + [""])
    outside = n  # sentinel index for "no previous tag"
    flat = np.where((flat >= 0) & (flat < n), flat, outside)
    prev = np.concatenate(([outside], flat[:-1]))
    starts_of_sentences = np.cumsum(lengths)[:-1]
    prev[starts_of_sentences[starts_of_sentences < len(prev)]] = outside
    if len(flat):
        prev[0] = outside
    is_i = prefix[flat] == "I"
    after_other = (prefix[prev] == "O") | (typ[prev] != typ[flat])
    violation = is_i & after_other
    start = (prefix[flat] == "B") | violation
    per_type: dict[str, int] = {}
    for t, c in zip(*np.unique(typ[flat][start], return_counts=True)):
        per_type[str(t)] = int(c)
    return {"entities": dict(sorted(per_type.items())), "bio_violations": int(violation.sum()), "tokens": int(len(flat))}


def _length_summary(lengths: np.ndarray) -> dict:
    if len(lengths) == 0:
        return {}
    return {"min": int(lengths.min()), "mean": round(float(lengths.mean()), 2), "median": float(np.median(lengths)),
            "p95": float(np.percentile(lengths, 95)), "max": int(lengths.max())}


def _sentence_keys(split) -> set[str]:
    return {"\x1f".join(tokens) for tokens in split["tokens"]}


def inspect_source(spec: str, lang: str | None = None, tagset_spec: str | None = None, limit: int | None = None,
                   reading: Reading | None = None) -> dict:
    """Statistics of a dataset (hub id, local folder) or of a prepared folder."""
    import pyarrow.compute as pc

    prepared_manifest = None
    if (Path(spec) / PREPARED_MANIFEST).is_file():
        prepared = load_prepared(Path(spec))
        prepared_manifest = prepared.manifest
        dataset = prepared.dataset
        names, names_from = prepared.labels, "the prepared dataset's tagset"
        doubt = None
        tagset = load_tagset(tagset_spec) if tagset_spec else None
        languages = sorted({lg for s in dataset.values() if "lang" in s.column_names for lg in pc.unique(s.data.column("lang")).to_pylist()})
    else:
        source = open_source(spec, lang, limit, reading)
        dataset = source.dataset
        tagset = resolve_tagset(tagset_spec, source.label_names, spec) if tagset_spec else None
        largest = largest_tag_id(source)
        width = max(largest, 0) + 1
        doubt = wikineural_doubt(source.label_names, tagset, largest)
        if tagset is not None:
            width = max(width, tagset.source_width(len(source.label_names) if source.label_names else None))
        names, names_from = _label_names(source.label_names, tagset, width)
        languages = source.languages
    report: dict = {"dataset": spec, "lang": lang, "labels_from": names_from, "languages": languages, "splits": {}}
    if doubt:
        report["labels_doubt"] = doubt
    if prepared_manifest is None and source.label_names is not None:
        report["scheme"] = (reading or Reading()).scheme.value  # the scheme named labels were read in
    if prepared_manifest is not None:
        report["prepared"] = {"dataset": prepared_manifest.dataset, "lang": prepared_manifest.lang, "tokenizer": prepared_manifest.tokenizer,
                              "max_length": prepared_manifest.max_length, "alignment": prepared_manifest.alignment.value}
    for split_name, split in dataset.items():
        table = split.data.table
        words = pc.list_value_length(table.column("tokens")).to_numpy(zero_copy_only=False)
        entry = {"sentences": len(split), "words": _length_summary(words), **tag_statistics(table.column("ner_tags"), names)}
        if "lang" in table.column_names:
            langs, counts = np.unique(np.asarray(table.column("lang").to_pylist(), dtype=object).astype(str), return_counts=True)
            entry["sentences_per_language"] = {str(lg): int(c) for lg, c in zip(langs, counts)}
        if "input_ids" in table.column_names:
            entry["subwords"] = _length_summary(pc.list_value_length(table.column("input_ids")).to_numpy(zero_copy_only=False))
            stats = prepared_manifest.splits.get(split_name)
            entry["truncated_sentences"] = stats.truncated_sentences if stats else None
        report["splits"][split_name] = entry
    if "train" in dataset and "test" in dataset:
        train_keys = _sentence_keys(dataset["train"])
        report["shared_train_test"] = sum(1 for key in _sentence_keys(dataset["test"]) if key in train_keys)
    if tagset is not None and prepared_manifest is None:
        report["restriction"] = restriction_report(report, tagset)
    if prepared_manifest is not None:
        from transformers import AutoTokenizer

        # the one the folder was prepared with; a folder from elsewhere may name code of its own, which never runs
        tokenizer = AutoTokenizer.from_pretrained(str(check_no_remote_code(prepared.tokenizer_dir)), trust_remote_code=False)
        report["rare_words"] = rare_words(dataset, names, tokenizer.unk_token_id, tokenizer.unk_token)
    report["findings"] = findings(report)
    return report


def restriction_report(report: dict, tagset: Tagset) -> dict:
    kept_types = set(tagset.types)
    out = {"tagset": tagset.name, "kept_types": tagset.types, "splits": {}}
    for name, entry in report["splits"].items():
        kept = {t: c for t, c in entry["entities"].items() if t in kept_types}
        dropped = {t: c for t, c in entry["entities"].items() if t not in kept_types}
        total = sum(entry["entities"].values())
        out["splits"][name] = {"kept": kept, "dropped": dropped,
                               "dropped_share": (sum(dropped.values()) / total) if total else 0.0}
    return out


def findings(report: dict) -> list[str]:
    lines = [report["labels_doubt"]] if report.get("labels_doubt") else []
    splits = report["splits"]
    all_types = sorted({t for e in splits.values() for t in e["entities"]})
    for name, entry in splits.items():
        if entry["bio_violations"]:
            iob1 = "; if the data is IOB1 (as CoNLL-2003's files are), read it in scheme iob1" if report.get("scheme") == "iob2" else ""
            lines.append(f"{name}: {entry['bio_violations']} I-X tags follow O or another type (BIO violations); "
                         f"conlleval scoring starts a new entity at each{iob1}")
        for t in all_types:
            count = entry["entities"].get(t, 0)
            if count == 0:
                lines.append(f"{name}: type {t} has no examples")
            elif count < 20:
                lines.append(f"{name}: type {t} has only {count} examples; its scores will be noisy")
        if entry.get("truncated_sentences"):
            lines.append(f"{name}: {entry['truncated_sentences']} sentences are longer than max length; their cut-off words count as O")
    shared = report.get("shared_train_test")
    if shared:
        lines.append(f"{shared} test sentences also appear in train; test scores overstate generalisation")
    restriction = report.get("restriction")
    if restriction:
        for name, r in restriction["splits"].items():
            if r["dropped"]:
                lines.append(f"{name}: restricting to {restriction['tagset']} turns {sum(r['dropped'].values())} entities "
                             f"({r['dropped_share']:.1%}) into O: " + ", ".join(f"{t} {c}" for t, c in r["dropped"].items()))
    if report.get("rare_words"):
        lines += rare_word_findings(report["rare_words"])
    return lines
