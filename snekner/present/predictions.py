"""Predictions of `snekner predict` as a table, JSON lines, CoNLL columns or an HTML page."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from enum import Enum

from snekner.predict import Prediction
from snekner.present.html import Span, esc, legend, marked_text, page, type_colors, words_text


class PredictFormat(str, Enum):
    TABLE = "table"  # sentence, entity, type, words start-end, score
    JSONL = "jsonl"  # {"text"?, "tokens", "entities": [{"text", "type", "start", "end", "start_char"?, "end_char"?, "score"}]}
    CONLL = "conll"  # word<TAB>tag lines, blank line between sentences
    HTML = "html"  # one self-contained page, entities highlighted per type


def format_jsonl(predictions: list[Prediction]) -> str:
    """A line per sentence; raw text keeps its `text`, to which the entities' start_char/end_char point."""
    return "".join(jsonl_pieces(predictions))


def jsonl_pieces(predictions: Iterable[Prediction]) -> Iterator[str]:
    """format_jsonl's text in pieces, one sentence at a time (for output written as it comes)."""
    for i, p in enumerate(predictions):
        text = {"text": p.sentence.text} if p.sentence.text is not None else {}
        yield ("\n" if i else "") + json.dumps({**text, "tokens": p.sentence.words, "entities": p.entities}, ensure_ascii=False)


def conll_pieces(predictions: Iterable[Prediction]) -> Iterator[str]:
    """format_conll's text in pieces, one sentence at a time."""
    for i, p in enumerate(predictions):
        yield ("\n\n" if i else "") + "\n".join(f"{word}\t{tag}" for word, tag in zip(p.sentence.words, p.tags))


def format_pieces(predictions: Iterable[Prediction], fmt: str) -> Iterator[str]:
    """The text of format_predictions in pieces: sentence by sentence for jsonl and conll, whole for the others."""
    fmt = PredictFormat(fmt)
    if fmt == PredictFormat.JSONL:
        return jsonl_pieces(predictions)
    if fmt == PredictFormat.CONLL:
        return conll_pieces(predictions)
    return iter([format_predictions(list(predictions), fmt)])


def format_html(predictions: list[Prediction], title: str = "snekner predict") -> str:
    """A page with each sentence's entities marked in displaCy's look (raw text as given, token lists joined by spaces)."""
    counts = Counter(e["type"] for p in predictions for e in p.entities)
    colors = type_colors(sorted(counts))
    sentences = []
    for p in predictions:
        if p.sentence.text is not None and p.sentence.offsets is not None:
            text, offsets = p.sentence.text, p.sentence.offsets
        else:
            text, offsets = words_text(p.sentence.words)
        spans = [Span(offsets[e["start"]][0], offsets[e["end"] - 1][1], e["type"],
                      title="" if e["score"] is None else f"{e['type']} {e['score']:.3f}") for e in p.entities]
        sentences.append(marked_text(text, spans, colors))
    n_entities = sum(counts.values())
    head = (f"<h1>{esc(title)}</h1>\n<p class=\"meta\">{len(predictions)} sentence{'s' if len(predictions) != 1 else ''}, "
            f"{n_entities} entit{'ies' if n_entities != 1 else 'y'} (hover an entity for its score)</p>\n"
            f'<div class="entities" id="legend">{legend(dict(sorted(counts.items())), colors)}</div>\n<hr>')
    return page(title, head + '\n<div id="sentences">\n' + "\n".join(sentences) + "\n</div>")


def format_conll(predictions: list[Prediction]) -> str:
    return "".join(conll_pieces(predictions))


def format_table(predictions: list[Prediction]) -> str:
    from tabulate import tabulate

    rows = [[str(i), e["text"], e["type"], f"{e['start']}-{e['end']}", "-" if e["score"] is None else f"{e['score']:.3f}"]
            for i, p in enumerate(predictions) for e in p.entities]
    if not rows:
        return f"no entities found in {len(predictions)} sentence{'s' if len(predictions) != 1 else ''}"
    return tabulate(rows, headers=["sentence", "entity", "type", "words", "score"], tablefmt="simple",
                    disable_numparse=True, colalign=("right", "left", "left", "right", "right"))


def format_predictions(predictions: list[Prediction], fmt: str) -> str:
    return {PredictFormat.TABLE: format_table, PredictFormat.JSONL: format_jsonl, PredictFormat.CONLL: format_conll,
            PredictFormat.HTML: format_html}[PredictFormat(fmt)](predictions)
