"""Paired bootstrap over sentences: how sure is the difference between two runs?

Computed from the word-level predictions `snekner eval` stores beside its scores
(eval/<split>.predictions.jsonl), never by running a model again. Both runs must have been
evaluated on the same sentences; each resample draws sentence indices with replacement and
scores both runs on the same drawn sentences, so the interval of B-A accounts for the pairing.

Vectorised: the per-sentence tp/fp/fn counts of both runs form one [n, 2*types*3] matrix;
each chunk of resamples becomes a weight matrix W [chunk, n] (how often each sentence was
drawn) and its totals are one matrix product W @ counts.

Memory: compare reads the stored predictions with read_counts, READ_CHUNK sentences at a time, keeping
per sentence only a digest of its tokens and its counts, never every sentence's tokens and tags (at 100x
WikiNEuRal those were ~3 GB per run); the resampling goes CHUNK_ELEMENTS at a time.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from snekner.errors import DifferentSentencesError, MissingEvaluationError, SneknerError
from snekner.ner.metrics import DEFAULT_METRIC, Metric, metric_values
from snekner.ner.scoring import CorpusScorer, SentenceCounts, restrict_to_types, sentence_counts
from snekner.store.evaluations import Evaluation, recorded_predictions_sha256
from snekner.store.runs import Run, json_lines

CONFIDENCE = 0.95
# Elements of one chunk's index / weight matrices: bounds memory (~16 MB each) whatever the data size.
CHUNK_ELEMENTS = 2_000_000


def load_predictions(run: Run, split: str, bootstrap_only: bool = True) -> list[dict]:
    """The sentences of RUN/eval/<split>.predictions.jsonl, each with tokens, gold and pred.

    bootstrap_only: they are wanted only for the bootstrap (said in the error when they are missing).
    """
    path = run.predictions_path(split)

    def damaged(problem: str) -> MissingEvaluationError:
        return MissingEvaluationError(problem, run=run, split=split, part="predictions", bootstrap_only=bootstrap_only)

    if not path.is_file():
        raise damaged(f"run {run.name} has no {split} predictions ({path})")
    raw = path.read_bytes()
    expected = recorded_predictions_sha256(run, split)
    if expected is not None and hashlib.sha256(raw).hexdigest() != expected:
        raise damaged(f"{path} is not the predictions its scores {run.eval_path(split).name} were computed from "
                      "(an eval stopped between writing them)")
    sentences = []
    for lineno, row in json_lines(raw.decode("utf-8", "replace"), path, damaged):
        _check_row(row, lineno, path, damaged)
        sentences.append(row)
    return sentences


# stored predictions read and counted at once by read_counts (see StoredCounts)
READ_CHUNK = 10_000


@dataclass
class StoredCounts:
    """What compare needs of a run's stored predictions, read part by part (read_counts) instead of holding
    every sentence's tokens and tags: a digest of each sentence's tokens (to check that runs were evaluated on
    the same sentences), the per-sentence counts over the run's types and, when asked for, over common types."""

    digests: np.ndarray  # [n] uint64: the first 8 bytes of blake2b of the sentence's tokens as JSON
    counts: SentenceCounts
    common: SentenceCounts | None

    def __len__(self) -> int:
        return len(self.digests)


def _tokens_digest(tokens: list) -> int:
    return int.from_bytes(hashlib.blake2b(json.dumps(tokens, ensure_ascii=False).encode("utf-8"), digest_size=8).digest(), "little")


def read_counts(run: Run, split: str, types: list[str], mode: str, *, common_types: list[str] | None = None,
                bootstrap_only: bool = True) -> StoredCounts:
    """load_predictions' checks and checked sentences, kept as StoredCounts: the counts over `types` (what
    checked_counts counts) and, with `common_types`, over those only (what common_ground_counts counts).
    The file is read twice (its digest first, as load_predictions does), READ_CHUNK sentences at a time."""
    path = run.predictions_path(split)

    def damaged(problem: str) -> MissingEvaluationError:
        return MissingEvaluationError(problem, run=run, split=split, part="predictions", bootstrap_only=bootstrap_only)

    if not path.is_file():
        raise damaged(f"run {run.name} has no {split} predictions ({path})")
    expected = recorded_predictions_sha256(run, split)
    if expected is not None:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 24), b""):
                digest.update(block)
        if digest.hexdigest() != expected:
            raise damaged(f"{path} is not the predictions its scores {run.eval_path(split).name} were computed from "
                          "(an eval stopped between writing them)")
    scorer = CorpusScorer(mode, types, with_confusion=False)
    common = CorpusScorer(mode, list(common_types), with_confusion=False) if common_types is not None else None
    digests: list[int] = []
    gold, pred = [], []

    def count() -> None:
        scorer.add(gold, pred)
        if common is not None:
            common.add([restrict_to_types(g, common_types) for g in gold], [restrict_to_types(p, common_types) for p in pred])
        gold.clear()
        pred.clear()

    with open(path, encoding="utf-8", errors="replace", newline="\n") as lines:
        for lineno, row in json_lines(lines, path, damaged):
            _check_row(row, lineno, path, damaged)
            digests.append(_tokens_digest(row["tokens"]))
            gold.append(row["gold"])
            pred.append(row["pred"])
            if len(gold) == READ_CHUNK:
                count()
    if gold or not scorer.parts:
        count()
    return StoredCounts(np.asarray(digests, dtype=np.uint64), scorer.sentence_counts(),
                        common.sentence_counts() if common is not None else None)


def _check_row(row, lineno: int, path, damaged) -> None:
    if not isinstance(row, dict) or not all(isinstance(row.get(k), list) for k in ("tokens", "gold", "pred")):
        raise damaged(f"{path} line {lineno} lacks tokens, gold or pred lists")
    if not len(row["tokens"]) == len(row["gold"]) == len(row["pred"]):
        raise damaged(f"{path} line {lineno} has tokens, gold and pred of different lengths")


def check_same_sentences(name_a: str, a: list[dict] | StoredCounts, name_b: str, b: list[dict] | StoredCounts, split: str) -> None:
    if len(a) != len(b):
        raise DifferentSentencesError(f"runs {name_a} and {name_b} were evaluated on different sentences "
                                      f"({len(a)} vs {len(b)} {split} sentences)", split=split)
    if isinstance(a, StoredCounts) and isinstance(b, StoredCounts):
        differ = np.flatnonzero(a.digests != b.digests)
        first = int(differ[0]) if len(differ) else None
    else:
        first = next((i for i, (sa, sb) in enumerate(zip(a, b)) if sa["tokens"] != sb["tokens"]), None)
    if first is not None:
        raise DifferentSentencesError(f"runs {name_a} and {name_b} were evaluated on different sentences "
                                      f"(sentence {first + 1} of {split} differs)", split=split)


def chunk_rows(n_sentences: int) -> int:
    return max(1, CHUNK_ELEMENTS // max(1, n_sentences))


def resample_indices(n_sentences: int, resamples: int, seed: int):
    """Yield the drawn sentence indices, chunk by chunk ([rows, n] arrays); deterministic for (n, resamples, seed)."""
    rng = np.random.default_rng(seed)
    step = chunk_rows(n_sentences)
    for start in range(0, resamples, step):
        rows = min(step, resamples - start)
        yield rng.integers(0, n_sentences, size=(rows, n_sentences))


def weights(indices: np.ndarray, n_sentences: int) -> np.ndarray:
    """How often each sentence was drawn, per resample: [rows, n] from [rows, n] indices (one bincount for all rows)."""
    rows = indices.shape[0]
    offsets = (np.arange(rows, dtype=np.int64) * n_sentences)[:, None]
    return np.bincount((indices + offsets).ravel(), minlength=rows * n_sentences).reshape(rows, n_sentences)


def resample_scores(counts: list[np.ndarray], metric: Metric | str, resamples: int, seed: int) -> list[np.ndarray]:
    """For each [n, types, 3] count array: the metric per type and overall (last column) on every resample, [resamples, types + 1].

    All arrays are resampled with the same sentence indices (the pairing).
    """
    n = counts[0].shape[0]
    if any(c.shape[0] != n for c in counts):
        raise ValueError("count arrays of different sentence counts")
    widths = [c.shape[1] * 3 for c in counts]
    joined = np.concatenate([c.reshape(n, -1) for c in counts], axis=1).astype(np.float64)  # exact: counts are small integers
    out = [np.empty((resamples, c.shape[1] + 1)) for c in counts]
    done = 0
    for indices in resample_indices(n, resamples, seed):
        totals = weights(indices, n).astype(np.float64) @ joined
        col = 0
        for c, width, scores in zip(counts, widths, out):
            part = totals[:, col:col + width].reshape(-1, c.shape[1], 3)
            scores[done:done + len(part), :-1] = metric_values(part, metric)
            scores[done:done + len(part), -1] = metric_values(part.sum(axis=1), metric)
            col += width
        done += len(indices)
    return out


def interval(diffs: np.ndarray, confidence: float = CONFIDENCE) -> dict:
    tail = (1 - confidence) / 2 * 100
    low, high = (float(x) for x in np.percentile(diffs, [tail, 100 - tail]))
    return {"low": low, "high": high, "significant": bool(low > 0 or high < 0)}


def checked_counts(run: Run, sentences: list[dict] | StoredCounts, evaluation: Evaluation, *, mode: str, split: str):
    """The per-sentence counts over the evaluation's types (read_counts' when given StoredCounts, which it counted over
    these types), checked against its stored scores."""
    if isinstance(sentences, StoredCounts):
        sc = sentences.counts
    else:
        sc = sentence_counts([s["gold"] for s in sentences], [s["pred"] for s in sentences], mode, types=list(evaluation.per_type))
    stored = (evaluation.overall.tp, evaluation.overall.fp, evaluation.overall.fn)
    found = tuple(int(x) for x in sc.counts.sum(axis=(0, 1))) if sc.types else (0, 0, 0)
    if stored != found or evaluation.n_sentences != len(sentences):
        raise MissingEvaluationError(f"the {split} predictions of run {run.name} do not match its {split} scores "
                                     "(written by another evaluation?)", run=run, split=split, part="predictions")
    return sc


def common_ground_counts(sentences: list[dict] | StoredCounts, types: list[str], mode: str) -> SentenceCounts:
    """Per-sentence counts over `types` only, every other type mapped to O in gold and prediction alike
    (read_counts' when given StoredCounts read with these common types)."""
    if isinstance(sentences, StoredCounts):
        return sentences.common
    return sentence_counts([restrict_to_types(s["gold"], types) for s in sentences],
                           [restrict_to_types(s["pred"], types) for s in sentences], mode, types=list(types))


def paired_intervals(runs: list[Run], evals: list[Evaluation], *, split: str, mode: str, metric: Metric | str = DEFAULT_METRIC,
                     resamples: int = 1000, seed: int = 0, sentences: list[list[dict]] | None = None,
                     common: list[SentenceCounts] | None = None) -> dict:
    """The first run against each later one: 95% percentile intervals of (later - first) per type and overall.

    The runs must have been evaluated in `mode` (snekner.evaluation.compare.check_comparable says so).
    Per type only where the type is scored by both runs (else None). The overall interval is on common
    ground: `common` holds each run's counts over the types every run has (common_ground_counts;
    default: over each run's own types, right only when all runs have the same types).
    `sentences`: the runs' stored predictions when the caller has read them and checked that they are
    for the same sentences already (else they are read and checked here).
    It is group_intervals with one seed per group, whose second level then draws nothing but that seed.
    Returns {"resamples", "seed", "confidence", "pairs": {later run: {"per_type": {type: interval | None}, "overall": interval}}}.
    """
    if resamples < 1:
        raise ValueError(f"{resamples} resamples: at least 1 is needed")
    if sentences is None:
        sentences = [load_predictions(r, split) for r in runs]
        for r, s in zip(runs[1:], sentences[1:]):
            check_same_sentences(runs[0].name, sentences[0], r.name, s, split)
    counts = [checked_counts(r, s, e, mode=mode, split=split) for r, s, e in zip(runs, sentences, evals)]
    if not sentences[0]:
        raise SneknerError(f"run {runs[0].name} has no {split} sentences to resample", fix="evaluate on a non-empty split, or pass {option} 0",
                           option="bootstrap")
    found = group_intervals([[c] for c in counts], [[c] for c in (common if common is not None else counts)], metric, resamples, seed)
    pairs = {run.name: {"per_type": per_type, "overall": overall}
             for run, per_type, overall in zip(runs[1:], found["per_type"], found["overall"])}
    return {"resamples": resamples, "seed": seed, "confidence": CONFIDENCE, "pairs": pairs}


def seed_resampled_means(member_scores: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """The second level of the bootstrap: on each resample, draw the group's seeds with replacement and
    average their scores. member_scores: one [resamples, columns] array per seed, all scored on the same
    drawn sentences; returns [resamples, columns]. One seed: its own scores."""
    stacked = np.stack(member_scores)  # [seeds, resamples, columns]
    k, resamples = stacked.shape[:2]
    drawn = rng.integers(0, k, size=(resamples, k))
    return stacked[drawn, np.arange(resamples)[:, None], :].mean(axis=1)


def group_intervals(groups: list[list[SentenceCounts]], commons: list[list[SentenceCounts]], metric: str, resamples: int,
                    seed: int) -> dict:
    """Two-level paired bootstrap of groups of runs (one per seed) on the same sentences: each resample draws
    the sentences once for every run (the pairing), then each group's seeds with replacement, and takes the
    mean over the drawn seeds. The interval of (later group's mean - first group's mean) thus covers the
    spread of both seeds and sentences.

    groups: per group, each member's per-type counts (the same types within a group); commons: per group,
    each member's counts on the types all groups share (common_ground_counts).
    Returns {"per_type": [per later group: {type: interval | None}], "overall": [per later group: interval | None]}.
    """
    flat = [c.counts for g in groups for c in g] + [c.counts for g in commons for c in g]
    scores = resample_scores(flat, metric, resamples, seed)
    rng = np.random.default_rng([seed, 1])
    means, common_means, at = [], [], 0
    for g in groups:
        means.append(seed_resampled_means(scores[at:at + len(g)], rng))
        at += len(g)
    for g in commons:
        common_means.append(seed_resampled_means(scores[at:at + len(g)], rng))
        at += len(g)
    types = [g[0].types for g in groups]
    per_type, overall = [], []
    for j in range(1, len(groups)):
        found = {}
        for typ in dict.fromkeys(types[0] + types[j]):
            both = typ in types[0] and typ in types[j]
            found[typ] = interval(means[j][:, types[j].index(typ)] - means[0][:, types[0].index(typ)]) if both else None
        per_type.append(found)
        overall.append(interval(common_means[j][:, -1] - common_means[0][:, -1]) if commons[0][0].types else None)
    return {"per_type": per_type, "overall": overall}
