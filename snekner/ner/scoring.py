"""Word-level predictions and entity scores.

Scores are computed at word level: the prediction of a word's first sub-word stands for
the word, and a word the model never saw (cut off by max length) counts as predicted O.

Two chunking modes:
- "conlleval" (default) reproduces the CoNLL shared-task script conlleval: an I-X after O or
  after another type starts a new entity, exactly as conlleval (and seqeval's default mode) does.
- "strict" is IOB2 strict matching: an entity is B-X followed by I-X*; an I-X that does not
  continue a B-X/I-X of the same type belongs to no entity.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snekner.ner.metrics import SCORE_ORDER, Metric, point_value

MODES = ("conlleval", "strict")


def _split(tag: str) -> tuple[str, str]:
    if tag == "O" or len(tag) < 2 or tag[1] != "-":
        return ("O", "") if tag == "O" else (tag[:1], "")
    return tag[0], tag[2:]


def conlleval_chunks(tags: list[str]) -> list[tuple[str, int, int]]:
    """Entities as (type, first word, last word), following conlleval's start/end rules."""
    chunks = []
    start = None
    prev_prefix, prev_type = "O", ""
    for i, tag in enumerate([*tags, "O"]):
        prefix, typ = _split(tag)
        ends = start is not None and (
            prefix in ("B", "O") or (prev_prefix != "O" and prev_type != typ)
        )
        if ends:
            chunks.append((prev_type, start, i - 1))
            start = None
        starts = prefix == "B" or (prefix == "I" and (prev_prefix == "O" or prev_type != typ))
        if starts and i < len(tags):
            start = i
        prev_prefix, prev_type = prefix, typ
    return chunks


def strict_chunks(tags: list[str]) -> list[tuple[str, int, int]]:
    chunks = []
    start, current = None, ""
    for i, tag in enumerate([*tags, "O"]):
        prefix, typ = _split(tag)
        if start is not None and not (prefix == "I" and typ == current):
            chunks.append((current, start, i - 1))
            start = None
        if prefix == "B" and i < len(tags):
            start, current = i, typ
    return chunks


def chunk(tags: list[str], mode: str = "conlleval") -> list[tuple[str, int, int]]:
    return strict_chunks(tags) if mode == "strict" else conlleval_chunks(tags)


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 of the counts, as the metric registry (snekner.ner.metrics) defines them."""
    return tuple(point_value(metric, tp, fp, fn) for metric in (Metric.PRECISION, Metric.RECALL, Metric.F1))


def _scores(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Every metric of the registry from the counts, keyed by name, in the order they are stored."""
    return {metric.value: point_value(metric, tp, fp, fn) for metric in SCORE_ORDER}


@dataclass
class SentenceCounts:
    """Per sentence and type: true positives, false positives, false negatives (shape [n, types, 3])."""

    types: list[str]
    counts: np.ndarray
    correct_words: np.ndarray  # per sentence: words whose predicted tag equals the gold tag
    words: np.ndarray  # per sentence: number of words

    def totals(self, rows: np.ndarray | None = None) -> np.ndarray:
        c = self.counts if rows is None else self.counts[rows]
        return c.sum(axis=0)


def _chunk_corpus(gold: list[list[str]], pred: list[list[str]], mode: str, types: list[str] | None):
    """Entities of every gold and predicted sentence, and the types: those given, then any other found (sorted)."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    gold_chunks = [chunk(g, mode) for g in gold]
    pred_chunks = [chunk(p, mode) for p in pred]
    found = sorted({c[0] for cs in gold_chunks + pred_chunks for c in cs})
    types = list(types) if types is not None else []
    types += [t for t in found if t not in types]
    return gold_chunks, pred_chunks, types


def sentence_counts(gold: list[list[str]], pred: list[list[str]], mode: str = "conlleval", types: list[str] | None = None) -> SentenceCounts:
    gold_chunks, pred_chunks, types = _chunk_corpus(gold, pred, mode, types)
    index = {t: i for i, t in enumerate(types)}
    counts = np.zeros((len(gold), len(types), 3), dtype=np.int64)
    correct_words = np.zeros(len(gold), dtype=np.int64)
    words = np.zeros(len(gold), dtype=np.int64)
    for s, (g, p, gc, pc) in enumerate(zip(gold, pred, gold_chunks, pred_chunks)):
        if len(g) != len(p):
            raise ValueError(f"sentence {s}: {len(g)} gold tags but {len(p)} predicted")
        both = set(gc) & set(pc)
        for typ, _, _ in both:
            counts[s, index[typ], 0] += 1
        for typ, _, _ in set(pc) - both:
            counts[s, index[typ], 1] += 1
        for typ, _, _ in set(gc) - both:
            counts[s, index[typ], 2] += 1
        words[s] = len(g)
        correct_words[s] = sum(a == b for a, b in zip(g, p))
    return SentenceCounts(types, counts, correct_words, words)


def summarize(sc: SentenceCounts, rows: np.ndarray | None = None) -> dict:
    """Overall and per-type precision / recall / F1 (micro-averaged over entities)."""
    totals = sc.totals(rows)
    per_type = {}
    for i, typ in enumerate(sc.types):
        tp, fp, fn = (int(x) for x in totals[i])
        per_type[typ] = {**_scores(tp, fp, fn), "support": tp + fn, "tp": tp, "fp": fp, "fn": fn}
    tp, fp, fn = (int(x) for x in totals.sum(axis=0)) if len(sc.types) else (0, 0, 0)
    words = sc.words if rows is None else sc.words[rows]
    correct = sc.correct_words if rows is None else sc.correct_words[rows]
    accuracy = float(correct.sum() / words.sum()) if words.sum() else 0.0
    overall = {**_scores(tp, fp, fn), "accuracy": accuracy, "support": tp + fn, "tp": tp, "fp": fp, "fn": fn}
    return {"overall": overall, "per_type": per_type}


def restrict_to_types(tags: list[str], types) -> list[str]:
    """The tags with every entity of a type outside `types` turned into O (its B- and I- tags alike)."""
    keep = set(types)
    return [t if t == "O" or t[2:] in keep else "O" for t in tags]


def score(gold: list[list[str]], pred: list[list[str]], mode: str = "conlleval", types: list[str] | None = None) -> dict:
    return summarize(sentence_counts(gold, pred, mode, types))


def words_from_subwords(subword_preds: np.ndarray, word_ids: list[int], n_words: int, labels: list[str], outside: str = "O") -> list[str]:
    """Word tags from one sentence's sub-word predictions (first sub-word stands for the word)."""
    tags = [outside] * n_words
    seen = set()
    for pred, w in zip(subword_preds, word_ids):
        if w >= 0 and w not in seen:
            seen.add(w)
            tags[w] = labels[int(pred)]
    return tags


def _overlaps(a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    return a[1] <= b[2] and b[1] <= a[2]


def confusion(gold: list[list[str]], pred: list[list[str]], mode: str = "conlleval", types: list[str] | None = None) -> dict:
    """Where each gold entity went, and which predicted entities have no gold counterpart.

    Entities are the chunks of `chunk(tags, mode)` (type, first word, last word), sentence by
    sentence. Every gold entity of type T falls in exactly one of these, checked in this order:

    - "correct": a predicted entity has the same span and type T (a true positive of T);
    - "wrong_type" {X: n}: a predicted entity has the same span but type X != T;
    - "boundary": no predicted entity has the same span, but a predicted entity of type T
      overlaps it (shares at least one word);
    - "missed": anything else (no prediction on those words, or only predictions of another
      type with another span).

    So correct + sum(wrong_type) + boundary + missed == support (the gold count of T).
    A predicted entity of type X is "spurious" (counted under its predicted type X) when it
    overlaps no gold entity of any type. Predicted entities that overlap a gold entity without
    matching it exactly are not counted separately; they show up through the gold entity's
    class (wrong_type, boundary or missed).

    Returns {"mode", "types", "gold": {T: {"support", "correct", "wrong_type", "boundary",
    "missed"}}, "spurious": {X: n}} with every type of `types` (then any other type found).
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {MODES}")
    gold_chunks, pred_chunks, types = _chunk_corpus(gold, pred, mode, types)
    table = {t: {"support": 0, "correct": 0, "wrong_type": {}, "boundary": 0, "missed": 0} for t in types}
    spurious = {t: 0 for t in types}
    for s, (g, p, gc, pc) in enumerate(zip(gold, pred, gold_chunks, pred_chunks)):
        if len(g) != len(p):
            raise ValueError(f"sentence {s}: {len(g)} gold tags but {len(p)} predicted")
        by_span = {(start, end): typ for typ, start, end in pc}
        for entity in gc:
            typ, start, end = entity
            row = table[typ]
            row["support"] += 1
            same_span = by_span.get((start, end))
            if same_span == typ:
                row["correct"] += 1
            elif same_span is not None:
                row["wrong_type"][same_span] = row["wrong_type"].get(same_span, 0) + 1
            elif any(q[0] == typ and _overlaps(entity, q) for q in pc):
                row["boundary"] += 1
            else:
                row["missed"] += 1
        for q in pc:
            if not any(_overlaps(q, entity) for entity in gc):
                spurious[q[0]] += 1
    for row in table.values():
        row["wrong_type"] = {t: row["wrong_type"][t] for t in types if t in row["wrong_type"]}
    return {"mode": mode, "types": types, "gold": table, "spurious": spurious}


class CorpusScorer:
    """Sentence counts and the confusion table of a corpus given part by part (e.g. a few thousand
    sentences at a time), so that no caller has to hold every sentence's tags at once. What it gives
    equals sentence_counts(...) and confusion(...) of the whole corpus: the types are those given,
    then any other found in any part (sorted), as for the whole corpus at once."""

    def __init__(self, mode: str = "conlleval", types: list[str] | None = None, with_confusion: bool = True):
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {MODES}")
        self.mode = mode
        self.given = list(types) if types is not None else []
        self.with_confusion = with_confusion
        self.parts: list[SentenceCounts] = []
        self.tables: list[dict] = []

    def add(self, gold: list[list[str]], pred: list[list[str]]) -> None:
        counts = sentence_counts(gold, pred, self.mode, types=self.given)
        self.parts.append(counts)
        if self.with_confusion:
            self.tables.append(confusion(gold, pred, self.mode, types=counts.types))

    @property
    def types(self) -> list[str]:
        found = sorted({t for part in self.parts for t in part.types} - set(self.given))
        return self.given + found

    def sentence_counts(self) -> SentenceCounts:
        types = self.types
        n = sum(len(part.words) for part in self.parts)
        counts = np.zeros((n, len(types), 3), dtype=np.int64)
        at = 0
        for part in self.parts:
            columns = [types.index(t) for t in part.types]
            counts[at:at + len(part.words), columns] = part.counts
            at += len(part.words)
        words = np.concatenate([p.words for p in self.parts]) if self.parts else np.zeros(0, dtype=np.int64)
        correct = np.concatenate([p.correct_words for p in self.parts]) if self.parts else np.zeros(0, dtype=np.int64)
        return SentenceCounts(types, counts, correct, words)

    def confusion(self) -> dict:
        types = self.types
        table = {t: {"support": 0, "correct": 0, "wrong_type": {}, "boundary": 0, "missed": 0} for t in types}
        spurious = {t: 0 for t in types}
        for part in self.tables:
            for typ, row in part["gold"].items():
                into = table[typ]
                for key in ("support", "correct", "boundary", "missed"):
                    into[key] += row[key]
                for other, n in row["wrong_type"].items():
                    into["wrong_type"][other] = into["wrong_type"].get(other, 0) + n
            for typ, n in part["spurious"].items():
                spurious[typ] += n
        for row in table.values():
            row["wrong_type"] = {t: row["wrong_type"][t] for t in types if t in row["wrong_type"]}
        return {"mode": self.mode, "types": types, "gold": table, "spurious": spurious}
