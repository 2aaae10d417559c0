"""Evaluate a finished run on a prepared split and store scores and predictions beside it."""
from __future__ import annotations

import json
import time
from pathlib import Path

from snekner.artifacts import environment_versions, now_iso, write_json, write_lines
from snekner.errors import SneknerError
from snekner.runs import Run


def evaluate_run(run: Run, split: str = "test", data: Path | None = None, strict: bool = False, batch_size: int = 64) -> dict:
    from snekner.datasource import canonical_split
    from snekner.features import load_prepared
    from snekner.modeling import load_trained
    from snekner.prediction import gold_word_tags, predict_word_tags
    from snekner.scoring import sentence_counts, summarize

    split = canonical_split(split)
    prepared = load_prepared(Path(data) if data else Path(run.manifest["data"]))
    labels = run.manifest["labels"]
    if prepared.labels != labels:
        raise SneknerError(
            f"the data at {prepared.path} uses labels {prepared.labels}, but run {run.name} predicts {labels}; "
            "evaluate on data prepared with the run's tagset"
        )
    rows = prepared.split(split)
    model = load_trained(run.model_dir)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(run.model_dir))
    started = time.perf_counter()
    predicted = predict_word_tags(model, rows, labels, tokenizer.pad_token_id, batch_size)
    seconds = time.perf_counter() - started
    gold = gold_word_tags(rows, labels)
    mode = "strict" if strict else "conlleval"
    counts = sentence_counts(gold, predicted, mode, types=prepared.tagset.types)
    result = {
        "split": split,
        "mode": mode,
        "n_sentences": len(rows),
        **summarize(counts),
        "run": run.name,
        "data": str(prepared.path.resolve()),
        "created": now_iso(),
        "prediction_seconds": seconds,
        "sentences_per_second": len(rows) / seconds if seconds else None,
        "versions": environment_versions(),
    }
    langs = rows["lang"] if "lang" in rows.column_names else None
    lines = []
    for i, (tokens, g, p) in enumerate(zip(rows["tokens"], gold, predicted)):
        line = {"id": i, "tokens": tokens, "gold": g, "pred": p}
        if langs is not None:
            line["lang"] = langs[i]
        lines.append(json.dumps(line, ensure_ascii=False))
    write_lines(run.predictions_path(split), lines)
    write_json(run.eval_path(split), result)
    return result
