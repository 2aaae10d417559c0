"""Evaluate a finished run on a prepared split and store scores and predictions beside it."""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from snekner.errors import SneknerError
from snekner.modeling.forward import EVAL_BATCH_SIZE, check_batch_size, gold_word_tags, predict_word_tags
from snekner.modeling.models import load_run_model, load_tokenizer
from snekner.ner.scoring import confusion, sentence_counts, summarize
from snekner.progress import NO_PROGRESS, Progress
from snekner.store.atomic import disk_full_is_an_error, remove_stale_partials, write_json, write_text
from snekner.store.locks import hold
from snekner.store.manifests import environment_versions, now_iso
from snekner.store.prepared import canonical_split, load_prepared
from snekner.store.runs import Run


def per_language(counts, langs: list) -> dict | None:
    """Scores per language from sentence counts already computed, or None for one language.

    `counts` is a scoring.SentenceCounts over the same sentences, in the same order, as `langs`.
    """
    import numpy as np

    if langs is None:
        return None
    if len(langs) != len(counts.words):
        raise ValueError(f"{len(langs)} languages for {len(counts.words)} sentences")
    keys = np.asarray([str(lang) for lang in langs], dtype=object)
    distinct = sorted(set(keys.tolist()))
    if len(distinct) < 2:
        return None
    out = {}
    for lang in distinct:
        mask = keys == lang
        out[lang] = {"n_sentences": int(mask.sum()), **summarize(counts, rows=mask)}
    return out


def score_predictions(gold: list[list[str]], pred: list[list[str]], langs: list | None = None,
                      mode: str = "conlleval", types: list[str] | None = None) -> dict:
    """Everything the eval JSON says about the predictions (no model needed).

    Keys: n_sentences, overall, per_type, confusion (scoring.confusion), and per_language
    ({lang: {n_sentences, overall, per_type}}) when `langs` holds more than one language.
    """
    if langs is not None and len(langs) != len(gold):
        raise ValueError(f"{len(langs)} languages for {len(gold)} sentences")
    counts = sentence_counts(gold, pred, mode, types=types)
    result = {"n_sentences": len(gold), **summarize(counts)}
    languages = per_language(counts, langs)
    if languages is not None:
        result["per_language"] = languages
    result["confusion"] = confusion(gold, pred, mode, types=counts.types)
    return result


def evaluate_run(run: Run, split: str = "test", data: Path | None = None, strict: bool = False, batch_size: int = EVAL_BATCH_SIZE,
                 progress: Progress = NO_PROGRESS) -> dict:
    check_batch_size(batch_size)
    split = canonical_split(split)
    prepared = load_prepared(Path(data) if data else Path(run.manifest.data))
    labels = run.labels
    if prepared.labels != labels:
        raise SneknerError(
            f"the data at {prepared.path} uses labels {prepared.labels}, but run {run.name} predicts {labels}",
            fix="evaluate on data prepared with the run's tagset",
        )
    rows = prepared.split(split)
    model = load_run_model(run)
    tokenizer = load_tokenizer(str(run.model_dir))
    started = time.perf_counter()
    predicted = predict_word_tags(model, rows, labels, tokenizer.pad_token_id, batch_size, progress, f"eval {split}")
    seconds = time.perf_counter() - started
    gold = gold_word_tags(rows, labels)
    mode = "strict" if strict else "conlleval"
    langs = list(rows["lang"]) if "lang" in rows.column_names else None
    scores = score_predictions(gold, predicted, langs, mode, types=prepared.tagset.types)
    result = {
        "split": split,
        "mode": mode,
        **{key: scores.pop(key) for key in ("n_sentences", "overall", "per_type")},
        "run": run.name,
        "data": str(prepared.path.resolve()),
        "created": now_iso(),
        "prediction_seconds": seconds,
        "sentences_per_second": len(rows) / seconds if seconds else None,
        "versions": environment_versions(),
        **scores,  # per_language (more than one language), confusion
    }
    lines = []
    for i, (tokens, g, p) in enumerate(zip(rows["tokens"], gold, predicted)):
        line = {"id": i, "tokens": tokens, "gold": g, "pred": p}
        if langs is not None:
            line["lang"] = langs[i]
        lines.append(json.dumps(line, ensure_ascii=False))
    # two files, two renames: the scores name the predictions they go with, so that a kill between
    # the renames (new predictions, old scores) is caught by whoever reads both (bootstrap.load_predictions)
    text = "".join(line + "\n" for line in lines)
    result["predictions_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    with hold(run.path, "run", "eval", shared=True), disk_full_is_an_error():
        remove_stale_partials(run.eval_path(split).parent)
        write_text(run.predictions_path(split), text)
        write_json(run.eval_path(split), result)
    return result
