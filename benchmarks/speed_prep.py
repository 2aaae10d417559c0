"""Speed of prep, and a check that both preps give the same features.

prep   wall clock of the whole prep call (read, filter language, restrict tags, tokenize +
       align, save_to_disk), after `datasets`/`transformers` are imported on both sides.
       Reference: benchmarks/reference.py:prepare. snekner: snekner.data.prepare.prepare.
       Both produce every split of the language; figure = seconds (ratio = ref s / snekner s).
verify (not timed) both preps must yield the same sentences, tags, sub-word ids and labels.
"""
from __future__ import annotations

import time
from pathlib import Path


def _import_data_libs():
    import datasets  # noqa: F401
    import pyarrow  # noqa: F401
    import transformers  # noqa: F401
    from transformers import AutoTokenizer  # noqa: F401


def phase_ref_prep(spec: dict) -> dict:
    import reference

    _import_data_libs()
    t0 = time.perf_counter()
    dataset = reference.prepare(spec["data"], spec["lang"], spec["tagset"], spec["model"], spec["max_length"],
                                spec["ref_prep_dir"], spec["prep_limit"])
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "sentences": {k: len(v) for k, v in dataset.items()}}


def phase_snekner_prep(spec: dict) -> dict:
    from snekner.data.prepare import PrepOptions, prepare

    _import_data_libs()
    t0 = time.perf_counter()
    manifest = prepare(PrepOptions(dataset=spec["data"], lang=spec["lang"], tagset=spec["tagset"], model=spec["model"],
                                   max_length=spec["max_length"], limit=spec["prep_limit"]), Path(spec["snekner_prep_dir"]))
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "sentences": {k: v.sentences for k, v in manifest.splits.items()}}


def phase_verify(spec: dict) -> dict:
    """Both preps must yield the same sentences, tags, sub-word ids and labels (not timed)."""
    import datasets

    ref = datasets.load_from_disk(spec["ref_prep_dir"])
    snk = datasets.load_from_disk(str(Path(spec["snekner_prep_dir"]) / "data"))
    out = {}
    for name in sorted(set(ref) | set(snk)):
        if name not in ref or name not in snk:
            out[name] = {"present_in_both": False}
            continue
        r, s = ref[name], snk[name]
        entry = {"present_in_both": True, "rows": [len(r), len(s)]}
        if len(r) == len(s):
            for col in ("tokens", "ner_tags", "input_ids", "labels"):
                entry[f"{col}_mismatched_rows"] = sum(a != b for a, b in zip(r[col], s[col]))
        out[name] = entry
    ok = all(e.get("present_in_both") and e["rows"][0] == e["rows"][1]
             and all(v == 0 for k, v in e.items() if k.endswith("_mismatched_rows")) for e in out.values())
    return {"identical": ok, "splits": out}


def prep_figures(phases: dict) -> dict:
    rp, sp = phases["ref-prep"], phases["snekner-prep"]
    n_prep = sum(sp["sentences"].values())
    return {"sentences": n_prep, "ref_sentences_by_split": rp["sentences"], "snekner_sentences_by_split": sp["sentences"],
            "ref_seconds": rp["seconds"], "snekner_seconds": sp["seconds"],
            "ref_sentences_per_s": sum(rp["sentences"].values()) / rp["seconds"], "snekner_sentences_per_s": n_prep / sp["seconds"],
            "speedup": rp["seconds"] / sp["seconds"], "features_identical": phases["verify"]["identical"]}


def add_prep_rows(table, p: dict, target: float) -> None:
    table.add(f"prep: seconds (lower is better; ratio = ref/snekner), {p['sentences']} sentences",
              p["ref_seconds"], p["snekner_seconds"], p["ref_seconds"] / p["snekner_seconds"], " s", target)
    table.add("prep: sentences/s", p["ref_sentences_per_s"], p["snekner_sentences_per_s"], p["snekner_sentences_per_s"] / p["ref_sentences_per_s"])
