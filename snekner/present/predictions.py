"""Predictions of `snekner predict` as a table, JSON lines or CoNLL columns."""
from __future__ import annotations

import json
from enum import Enum

from snekner.predict import Prediction


class PredictFormat(str, Enum):
    TABLE = "table"  # sentence, entity, type, words start-end, score
    JSONL = "jsonl"  # {"tokens", "entities": [{"text", "type", "start", "end", "score"}]} per sentence
    CONLL = "conll"  # word<TAB>tag lines, blank line between sentences


def format_jsonl(predictions: list[Prediction]) -> str:
    return "\n".join(json.dumps({"tokens": p.sentence.words, "entities": p.entities}, ensure_ascii=False) for p in predictions)


def format_conll(predictions: list[Prediction]) -> str:
    blocks = ["\n".join(f"{word}\t{tag}" for word, tag in zip(p.sentence.words, p.tags)) for p in predictions]
    return "\n\n".join(blocks)


def format_table(predictions: list[Prediction]) -> str:
    from tabulate import tabulate

    rows = [[str(i), e["text"], e["type"], f"{e['start']}-{e['end']}", "-" if e["score"] is None else f"{e['score']:.3f}"]
            for i, p in enumerate(predictions) for e in p.entities]
    if not rows:
        return f"no entities found in {len(predictions)} sentence{'s' if len(predictions) != 1 else ''}"
    return tabulate(rows, headers=["sentence", "entity", "type", "words", "score"], tablefmt="simple",
                    disable_numparse=True, colalign=("right", "left", "left", "right", "right"))


def format_predictions(predictions: list[Prediction], fmt: str) -> str:
    return {PredictFormat.TABLE: format_table, PredictFormat.JSONL: format_jsonl, PredictFormat.CONLL: format_conll}[PredictFormat(fmt)](predictions)
