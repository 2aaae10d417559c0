"""Speed of prediction with the model snekner trained in the first training round.

eval   word-tag prediction for the first M English test sentences with the same trained model
       (the snekner run's exported model, loaded with from_pretrained on both sides).
       Reference: transformers.pipeline("token-classification", framework="tf", dtype=None)
       called once per sentence on " ".join(tokens). snekner: snekner.modeling.forward.predict_word_tags
       as evaluation.evaluate_run calls it (batch 64). Timed: the prediction calls only (model
       and pipeline construction excluded). snekner's figure is its first call (tracing
       included, as evaluate_run measures it); a second, warm call is reported too.
"""
from __future__ import annotations

import time
from pathlib import Path


def phase_ref_eval(spec: dict) -> dict:
    import reference

    sentences = reference.read_test_sentences(spec["ref_prep_dir"], spec["eval_sentences"])
    t_build = time.perf_counter()
    nlp = reference.build_pipeline(spec["trained_model_dir"])
    build_seconds = time.perf_counter() - t_build
    t0 = time.perf_counter()
    outputs = reference.predict(nlp, sentences)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "sentences": len(sentences), "build_seconds": build_seconds,
            "predicted_entity_tokens": sum(len(o) for o in outputs)}


def phase_snekner_eval(spec: dict) -> dict:
    from transformers import AutoTokenizer

    from snekner.store.prepared import load_prepared
    from snekner.modeling.models import load_trained
    from snekner.modeling.forward import gold_word_tags, predict_word_tags
    from snekner.ner.scoring import score

    prepared = load_prepared(Path(spec["snekner_prep_dir"]))
    rows = prepared.split("test")
    rows = rows.select(range(min(spec["eval_sentences"], len(rows))))
    t_build = time.perf_counter()
    model = load_trained(Path(spec["trained_model_dir"]))
    tokenizer = AutoTokenizer.from_pretrained(spec["trained_model_dir"])
    build_seconds = time.perf_counter() - t_build
    t0 = time.perf_counter()
    predicted = predict_word_tags(model, rows, prepared.labels, tokenizer.pad_token_id, batch_size=spec["eval_batch_size"])
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    predict_word_tags(model, rows, prepared.labels, tokenizer.pad_token_id, batch_size=spec["eval_batch_size"])
    warm_seconds = time.perf_counter() - t1
    scores = score(gold_word_tags(rows, prepared.labels), predicted, types=prepared.tagset.types)
    return {"seconds": seconds, "warm_seconds": warm_seconds, "sentences": len(rows), "build_seconds": build_seconds,
            "f1_on_these_sentences": scores["overall"]["f1"]}


def eval_figures(phases: dict) -> dict:
    re_, se = phases["ref-eval"], phases["snekner-eval"]
    return {"sentences": se["sentences"], "ref_sentences_per_s": re_["sentences"] / re_["seconds"],
            "snekner_sentences_per_s": se["sentences"] / se["seconds"],
            "snekner_warm_sentences_per_s": se["sentences"] / se["warm_seconds"],
            "speedup": (se["sentences"] / se["seconds"]) / (re_["sentences"] / re_["seconds"])}


def add_eval_rows(table, e: dict, target: float) -> None:
    table.add(f"eval: sentences/s ({e['sentences']} sentences)", e["ref_sentences_per_s"], e["snekner_sentences_per_s"],
              e["snekner_sentences_per_s"] / e["ref_sentences_per_s"], "", target)
    table.add("eval: sentences/s, snekner warm 2nd call", e["ref_sentences_per_s"], e["snekner_warm_sentences_per_s"],
              e["snekner_warm_sentences_per_s"] / e["ref_sentences_per_s"])
