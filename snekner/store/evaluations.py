"""A run's evaluation on a split (RUN/eval/<split>.json, written by `snekner eval`): typed and versioned, read and written here only.

The file carries its `kind` and `format_version` as the manifests do (store.manifests). Reading one validates it: a file of
another kind, of a version this snekner does not read, or without the scores snekner relies on is a one-line ManifestError,
not a KeyError in whatever reads it. Files written before evaluations had a kind and a version (neither key) hold the same
fields and are read as version 1.

The predictions beside it (RUN/eval/<split>.predictions.jsonl) are one JSON line per sentence, read by
snekner.evaluation.bootstrap; the evaluation records their SHA-256, so that a reader can tell they belong together.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from snekner import __version__
from snekner.errors import ManifestError, MissingEvaluationError
from snekner.ner.metrics import SCORE_ORDER, Metric
from snekner.store.atomic import write_json
from snekner.store.runs import Run

WHAT = "evaluation"
# a file without kind and format_version: written by a snekner before evaluations had them; it holds version 1's fields
UNVERSIONED = 1


_COUNTS = ("support", "tp", "fp", "fn")


@dataclass(frozen=True, kw_only=True)
class Scores:
    """Entity scores over one type, or over all types (overall, which adds word accuracy); every Metric is a field."""

    precision: float
    recall: float
    f1: float
    support: int  # gold entities (tp + fn)
    tp: int
    fp: int
    fn: int
    accuracy: float | None = None  # overall only: the share of words whose predicted tag is the gold one

    def value(self, metric: Metric | str) -> float:
        """The stored point value of `metric` (snekner.ner.metrics defines how it follows from tp, fp and fn)."""
        return getattr(self, Metric(metric).value)

    def to_dict(self) -> dict:
        values = {metric.value: self.value(metric) for metric in SCORE_ORDER}
        accuracy = {} if self.accuracy is None else {"accuracy": self.accuracy}
        return {**values, **accuracy, "support": self.support, "tp": self.tp, "fp": self.fp, "fn": self.fn}

    @classmethod
    def from_dict(cls, data: dict) -> Scores:
        scores = cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
        for f in fields(cls):
            value = getattr(scores, f.name)
            if value is None and f.name == "accuracy":
                continue
            if isinstance(value, bool) or not isinstance(value, int if f.name in _COUNTS else (int, float)):
                raise TypeError(f"{f.name} is {value!r}, not a {'count' if f.name in _COUNTS else 'number'}")
        return scores


def _scores_by_type(data: dict) -> dict[str, Scores]:
    return {typ: Scores.from_dict(scores) for typ, scores in data.items()}


@dataclass(frozen=True, kw_only=True)
class LanguageScores:
    """The scores of one language's sentences (an evaluation of more than one language has them per language)."""

    n_sentences: int
    overall: Scores
    per_type: dict[str, Scores]

    def to_dict(self) -> dict:
        return {"n_sentences": self.n_sentences, "overall": self.overall.to_dict(),
                "per_type": {typ: s.to_dict() for typ, s in self.per_type.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> LanguageScores:
        return cls(n_sentences=data["n_sentences"], overall=Scores.from_dict(data["overall"]), per_type=_scores_by_type(data["per_type"]))


@dataclass(kw_only=True)
class Evaluation:
    """What `eval` found on one split: the scores per type and overall (and per language), the confusion table, and
    what they were computed from (the run, the prepared data and its fingerprint, the predictions' SHA-256)."""

    KIND: ClassVar[str] = "snekner.evaluation"
    VERSION: ClassVar[int] = 1

    split: str
    mode: str  # conlleval or strict chunking
    n_sentences: int
    overall: Scores
    per_type: dict[str, Scores]
    run: str | None = None
    data: str | None = None  # the prepared data's folder, resolved
    data_fingerprint: dict[str, str] | None = None
    max_length: int | None = None
    cut_words: int | None = None  # words beyond max_length (no sub-word): counted as predicted O
    cut_sentences: int | None = None
    created: str | None = None
    prediction_seconds: float | None = None
    sentences_per_second: float | None = None
    versions: dict[str, str] = field(default_factory=dict)
    per_language: dict[str, LanguageScores] | None = None  # with more than one language
    confusion: dict[str, Any] | None = None  # snekner.ner.scoring.confusion's table
    predictions_sha256: str | None = None
    precision: str | None = None  # float32 or bfloat16_matmuls (snekner.modeling.precision); None: written before issue 23

    def rows(self) -> list[tuple[str, Scores]]:
        """(type, scores) for each type, then ("overall", scores)."""
        return [*self.per_type.items(), ("overall", self.overall)]

    def to_frame(self):
        """The scores as a pandas DataFrame: a row per type and the overall row; precision, recall, f1, support, tp, fp, fn."""
        import pandas as pd

        columns = [m.value for m in SCORE_ORDER] + ["support", "tp", "fp", "fn"]
        return pd.DataFrame([[getattr(s, c) for c in columns] for _, s in self.rows()], columns=columns,
                            index=pd.Index([t for t, _ in self.rows()], name="type"))

    def __repr__(self) -> str:
        width = max(len(t) for t, _ in self.rows())
        lines = [f"Evaluation({self.run!r} on {self.split}, {self.n_sentences} sentences, {self.mode})",
                 f"{'type':<{width}}  precision  recall      f1  support"]
        lines += [f"{t:<{width}}  {s.precision:9.4f}  {s.recall:6.4f}  {s.f1:6.4f}  {s.support:7d}" for t, s in self.rows()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape

        cells = "".join(f"<tr><td style='text-align:left'>{escape(t)}</td><td>{s.precision:.4f}</td><td>{s.recall:.4f}</td>"
                        f"<td>{s.f1:.4f}</td><td>{s.support}</td></tr>" for t, s in self.rows())
        head = "".join(f"<th>{h}</th>" for h in ("type", "precision", "recall", "f1", "support"))
        return (f"<p>{escape(str(self.run))} on {escape(self.split)}: {self.n_sentences} sentences ({escape(self.mode)})</p>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"kind": self.KIND, "format_version": self.VERSION}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name != "sentences_per_second":  # that one is null when no time was measured
                continue
            if f.name == "overall":
                value = value.to_dict()
            elif f.name == "per_type":
                value = {typ: s.to_dict() for typ, s in value.items()}
            elif f.name == "per_language":
                value = {lang: s.to_dict() for lang, s in value.items()}
            data[f.name] = value
        return data

    @classmethod
    def of_scores(cls, scores: dict, **fields_: Any) -> Evaluation:
        """An evaluation of the scores snekner.evaluation.evaluate.scores_of computed (n_sentences, overall, per_type,
        per_language with more than one language, confusion), with the other fields (split, mode, run, ...) given."""
        per_language = scores.get("per_language")
        return cls(n_sentences=scores["n_sentences"], overall=Scores.from_dict(scores["overall"]), per_type=_scores_by_type(scores["per_type"]),
                   per_language=None if per_language is None else {lang: LanguageScores.from_dict(s) for lang, s in per_language.items()},
                   confusion=scores.get("confusion"), **fields_)

    @classmethod
    def from_dict(cls, data: Any, path: Path) -> Evaluation:
        """An evaluation from its JSON data (path: where it was read, for the errors)."""
        _check_kind(data, path)
        missing = [name for name in ("split", "mode", "n_sentences", "overall", "per_type") if name not in data]
        if missing:
            raise ManifestError(f"{WHAT} {path} lacks {', '.join(missing)}", path=path, what=WHAT, problem="damaged")
        try:
            known = {f.name: data[f.name] for f in fields(cls) if f.name in data}
            known["overall"] = Scores.from_dict(data["overall"])
            known["per_type"] = _scores_by_type(data["per_type"])
            if known.get("per_language") is not None:
                known["per_language"] = {lang: LanguageScores.from_dict(s) for lang, s in data["per_language"].items()}
            return cls(**known)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ManifestError(f"{WHAT} {path} is damaged ({type(e).__name__}: {e})", path=path, what=WHAT, problem="damaged") from None


def _check_kind(data: Any, path: Path) -> None:
    if not isinstance(data, dict):
        raise ManifestError(f"{WHAT} {path} is damaged (not a JSON object)", path=path, what=WHAT, problem="damaged")
    if "kind" not in data and "format_version" not in data:
        return  # unversioned: version 1
    if data.get("kind") != Evaluation.KIND:
        raise ManifestError(f"{path} is not an {WHAT} (kind is not {Evaluation.KIND!r})", path=path, what=WHAT, problem="kind")
    version = data.get("format_version")
    if version != Evaluation.VERSION:
        newer = isinstance(version, int) and version > Evaluation.VERSION
        raise ManifestError(f"{WHAT} {path} has format version {version!r}, which this snekner ({__version__}) does not read "
                            f"(it reads {Evaluation.VERSION})", path=path, what=WHAT, problem="version", newer=newer)


def read_evaluation_file(path: Path) -> Evaluation:
    """The evaluation at `path`: ManifestError when it is missing, not JSON, of another kind or version, or damaged."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{WHAT} {path} not found", path=path, what=WHAT, problem="missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        reason = f"{e.msg}, line {e.lineno}" if isinstance(e, json.JSONDecodeError) else "not UTF-8"
        raise ManifestError(f"{WHAT} {path} is not valid JSON ({reason})", path=path, what=WHAT, problem="damaged") from None
    return Evaluation.from_dict(data, path)


def find_evaluation(run: Run, split: str) -> Evaluation | None:
    """The run's evaluation of `split`, None when it has none."""
    path = run.eval_path(split)
    return read_evaluation_file(path) if path.is_file() else None


def read_evaluation(run: Run, split: str) -> Evaluation:
    """The run's evaluation of `split`: MissingEvaluationError when it has none (ManifestError when it cannot be read)."""
    found = find_evaluation(run, split)
    if found is None:
        raise MissingEvaluationError(f"run {run.name} has no {split} evaluation", run=run, split=split, part="scores")
    return found


def recorded_predictions_sha256(run: Run, split: str) -> str | None:
    """The SHA-256 of the predictions the run's `split` scores were computed from (None: none recorded, or no readable scores)."""
    try:
        found = find_evaluation(run, split)
    except (ManifestError, OSError):
        return None
    return found.predictions_sha256 if found is not None else None


def write_evaluation(run: Run, split: str, evaluation: Evaluation) -> None:
    write_json(run.eval_path(split), evaluation.to_dict())
