"""Evaluate a finished run on a prepared split and store scores and predictions beside it.

The model runs over the whole split at once (sorted by length, as every prediction does); what
follows it goes PREDICTION_CHUNK sentences at a time: words and tags are read from the Arrow
columns, brought to word level, counted (ner.scoring.CorpusScorer) and written to the predictions
file, so that no list of every sentence's tokens, tags or JSON line is ever held (at 100x WikiNEuRal
those lists were most of eval's memory). The scores and the file are those of the whole split at once.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from snekner.errors import SneknerError
from snekner.modeling.batches import EncodedSplit
from snekner.modeling.forward import EVAL_BATCH_SIZE, check_batch_size, flat_subword_predictions
from snekner.modeling.models import load_run_model, load_tokenizer
from snekner.modeling.precision import for_prediction
from snekner.ner.scoring import CorpusScorer, summarize, words_from_subwords
from snekner.progress import NO_PROGRESS, Progress
from snekner.store.atomic import atomic_path, disk_full_is_an_error, remove_stale_partials
from snekner.store.evaluations import Evaluation, write_evaluation
from snekner.store.locks import hold
from snekner.store.manifests import environment_versions, now_iso
from snekner.store.prepared import Prepared, canonical_split, load_prepared
from snekner.store.runs import Run

# sentences turned into words, scored and written at once (see the module docstring)
PREDICTION_CHUNK = 10_000


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
    scorer = CorpusScorer(mode, types)
    scorer.add(gold, pred)
    return scores_of(scorer, langs)


def scores_of(scorer: CorpusScorer, langs: list | None = None) -> dict:
    """score_predictions' result from the sentences a CorpusScorer was given (part by part)."""
    counts = scorer.sentence_counts()
    result = {"n_sentences": len(counts.words), **summarize(counts)}
    languages = per_language(counts, langs)
    if languages is not None:
        result["per_language"] = languages
    result["confusion"] = scorer.confusion()
    return result


def check_trained_data(run: Run, prepared, log=lambda msg: None) -> None:
    """The prepared data at the run's own path is still the data it was trained against (the splits' fingerprints the run
    recorded): SneknerError naming `data` when it was prepared again since. A run that recorded none (an earlier snekner's)
    is taken as it is, with a warning through `log` saying so."""
    recorded = run.manifest.data_fingerprint
    if recorded is None:
        log(f"warning: run {run.name} does not record a fingerprint of its data (an earlier snekner trained it), so whether "
            f"{prepared.path} still holds the data it was trained on is not known")
        return
    now = prepared.fingerprint
    changed = sorted(name for name in set(recorded) | set(now) if recorded.get(name) != now.get(name))
    if changed:
        raise SneknerError(f"the prepared data at {prepared.path} has changed since run {run.name} was trained on it (split"
                           f"{'s' if len(changed) != 1 else ''} {', '.join(changed)}: prepared again?)",
                           fix=f"to score the run on it anyway, pass {{option}} {prepared.path}", option="data")


def _prepared_for(run: Run, data: Path | None, log) -> Prepared:
    """The prepared data to score the run on: `data`, or the run's own (check_trained_data); its labels must be the run's."""
    prepared = load_prepared(Path(data) if data else Path(run.manifest.data))
    if not data:
        check_trained_data(run, prepared, log)
    if prepared.labels != run.labels:
        raise SneknerError(
            f"the data at {prepared.path} uses labels {prepared.labels}, but run {run.name} predicts {run.labels}",
            fix="evaluate on data prepared with the run's tagset",
        )
    return prepared


def _predict(run: Run, rows, *, batch_size: int, progress: Progress, split: str, mixed_precision: bool | None):
    """The model's sub-word predictions of every sentence of `rows`, flat (sorted by length, as every prediction runs),
    the offsets of each sentence's among them, the seconds the prediction took and its precision."""
    model, precision = for_prediction(load_run_model(run), mixed_precision)
    tokenizer = load_tokenizer(str(run.model_dir))
    started = time.perf_counter()
    encoded = EncodedSplit.from_split(rows, tokenizer.pad_token_id, with_labels=False)
    predicted, _ = flat_subword_predictions(model, encoded, batch_size=batch_size, progress=progress, description=f"eval {split}")
    seconds = time.perf_counter() - started
    return predicted, encoded.offsets(), seconds, precision


@dataclass
class _Written:
    """What writing the predictions found: their SHA-256, each sentence's language (None without a lang column), the words
    cut by the max length (after the last word with a sub-word) and the sentences they are in."""

    sha256: str
    langs: list | None
    cut_words: int
    cut_sentences: int


def _write_predictions(path: Path, rows, predicted, offsets, *, labels: list[str], scorer: CorpusScorer, chunk: int) -> _Written:
    """Bring the predictions of `rows` to word level `chunk` sentences at a time, give them to `scorer` and write them to `path`
    (one JSON line per sentence: id, tokens, gold, pred and its lang when the data has languages)."""
    table = rows.data.table
    langs = [] if "lang" in table.column_names else None
    digest = hashlib.sha256()
    cut_words = cut_sentences = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
        for start in range(0, len(rows), chunk):
            part = table.slice(start, chunk)
            tokens = part.column("tokens").to_pylist()
            gold = [[labels[t] for t in tags] for tags in part.column("ner_tags").to_pylist()]
            word_ids = part.column("word_ids").to_pylist()
            pred = [words_from_subwords(predicted[offsets[start + i]:offsets[start + i + 1]], w, len(words), labels)
                    for i, (w, words) in enumerate(zip(word_ids, tokens))]
            lost = [len(words) - (max(w, default=-1) + 1) for w, words in zip(word_ids, tokens)]  # words after the last with a sub-word
            cut_words, cut_sentences = cut_words + sum(max(n, 0) for n in lost), cut_sentences + sum(n > 0 for n in lost)
            part_langs = part.column("lang").to_pylist() if langs is not None else None
            scorer.add(gold, pred)
            text = _prediction_lines(start, tokens, gold, pred, part_langs)
            out.write(text)
            digest.update(text.encode("utf-8"))
            if langs is not None:
                langs += part_langs
    return _Written(digest.hexdigest(), langs, cut_words, cut_sentences)


def _prediction_lines(start: int, tokens: list, gold: list, pred: list, langs: list | None) -> str:
    lines = []
    for i, (words, g, p) in enumerate(zip(tokens, gold, pred)):
        line = {"id": start + i, "tokens": words, "gold": g, "pred": p}
        if langs is not None:
            line["lang"] = langs[i]
        lines.append(json.dumps(line, ensure_ascii=False) + "\n")
    return "".join(lines)


def evaluate_run(run: Run, split: str = "test", *, data: Path | None = None, strict: bool = False, batch_size: int = EVAL_BATCH_SIZE,
                 progress: Progress = NO_PROGRESS, chunk: int | None = None, log=lambda msg: None,
                 mixed_precision: bool | None = None) -> Evaluation:
    """Predict `split`, score it, and write RUN/eval/<split>.json and its predictions; returns the evaluation written.
    chunk: sentences scored and written at once (default PREDICTION_CHUNK); the result does not depend on it.
    Without `data`, the run's own prepared data, which must not have changed since training (check_trained_data);
    `data` given is taken as asked, whatever it holds. Words cut by the max length (no sub-word) count as O; how
    many is in the result (cut_words, cut_sentences) and said through `log`. mixed_precision: the dense layers' products
    in bfloat16 (None: on a CPU with AMX; snekner.modeling.precision), recorded as the result's `precision`."""
    check_batch_size(batch_size)
    split = canonical_split(split)
    prepared = _prepared_for(run, data, log)
    rows = prepared.split(split)
    if getattr(rows, "_indices", None) is not None:
        rows = rows.flatten_indices()
    predicted, offsets, seconds, precision = _predict(run, rows, batch_size=batch_size, progress=progress, split=split,
                                                      mixed_precision=mixed_precision)
    mode = "strict" if strict else "conlleval"
    scorer = CorpusScorer(mode, prepared.tagset.types)
    # two files, two renames: the scores name the predictions they go with, so that a kill between
    # the renames (new predictions, old scores) is caught by whoever reads both (bootstrap.load_predictions)
    with hold(run.path, "run", "eval", shared=True), disk_full_is_an_error():
        remove_stale_partials(run.eval_path(split).parent)
        written = _write_predictions(run.predictions_path(split), rows, predicted, offsets, labels=run.labels, scorer=scorer,
                                     chunk=chunk or PREDICTION_CHUNK)
        evaluation = Evaluation.of_scores(
            scores_of(scorer, written.langs), split=split, mode=mode, run=run.name, data=str(prepared.path.resolve()),
            data_fingerprint=prepared.fingerprint, max_length=prepared.manifest.max_length, cut_words=written.cut_words,
            cut_sentences=written.cut_sentences, created=now_iso(), prediction_seconds=seconds,
            sentences_per_second=len(rows) / seconds if seconds else None, versions=environment_versions(),
            predictions_sha256=written.sha256, precision=precision)
        write_evaluation(run, split, evaluation)
    if written.cut_words:
        cut_words, cut_sentences = written.cut_words, written.cut_sentences
        log(f"{cut_words} word{'s' if cut_words != 1 else ''} in {cut_sentences} sentence{'s' if cut_sentences != 1 else ''} of "
            f"{split} lie beyond max length {prepared.manifest.max_length} (no sub-word) and count as predicted O")
    return evaluation
