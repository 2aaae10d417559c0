"""How rare each entity type's words are to a prepared dataset's tokenizer: the share of its words
that hit the unknown token, and its sub-words per word, beside the same figures for O words.

A type whose words hit [UNK] or split into many more pieces than ordinary words do is one the
model sees through a poor vocabulary: a cased model (for names whose case matters) or one adapted
to the domain's text should help it. Only words with at least one sub-word in the prepared
columns count (a word cut off by max_length, or one the tokenizer drops, was never seen).
"""
from __future__ import annotations

import numpy as np

# a type's words are "far" rarer than O's when its unknown rate is at least this many times O's
# (and UNKNOWN_MARGIN above it), or its sub-words per word at least SUBWORD_FACTOR times O's
UNKNOWN_FACTOR = 2.0
UNKNOWN_MARGIN = 0.01
SUBWORD_FACTOR = 1.5


def _flat(column) -> tuple[np.ndarray, np.ndarray]:
    """A list column's values as int64 and its row offsets."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    values = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(np.int64)
    return values, np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))


def word_pieces(table, unk_id: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every word of a prepared split (sentences one after another): its tag id, its sub-words in
    input_ids, and how many of them are the unknown token."""
    tags, tag_offsets = _flat(table.column("ner_tags"))
    input_ids, offsets = _flat(table.column("input_ids"))
    word_ids, _ = _flat(table.column("word_ids"))
    sentence = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    inside = word_ids >= 0
    word = tag_offsets[sentence[inside]] + word_ids[inside]
    pieces = np.bincount(word, minlength=len(tags))
    unknown = np.zeros(len(tags), dtype=np.int64)
    if unk_id is not None:
        unknown = np.bincount(word, weights=input_ids[inside] == unk_id, minlength=len(tags)).astype(np.int64)
    return tags, pieces, unknown


def type_figures(tags: np.ndarray, pieces: np.ndarray, unknown: np.ndarray, labels: list[str], has_unk: bool) -> dict:
    """Per entity type (B-X and I-X words), then "O": words, words hitting the unknown token, its
    rate, and sub-words per word, over the words that have sub-words."""
    types = np.array([label[2:] if label[1:2] == "-" else "O" for label in labels])
    seen = pieces > 0
    word_type = types[tags[seen]]
    out = {}
    for t in [*sorted(set(types) - {"O"}), "O"]:
        mine = word_type == t
        n = int(mine.sum())
        hits = int((unknown[seen][mine] > 0).sum())
        out[str(t)] = {"words": n,
                       "unknown_words": hits if has_unk else None,
                       "unknown_rate": (round(hits / n, 4) if n else 0.0) if has_unk else None,
                       "subwords_per_word": round(float(pieces[seen][mine].sum()) / n, 3) if n else 0.0}
    return out


def rare_words(dataset, labels: list[str], unk_id: int | None, unk_token: str | None, combined=("train", "test")) -> dict:
    """type_figures for each split of a prepared DatasetDict, and for `combined` splits together."""
    per_split, parts = {}, []
    for name, split in dataset.items():
        figures = word_pieces(split.data.table, unk_id)
        per_split[name] = type_figures(*figures, labels, unk_id is not None)
        if name in combined:
            parts.append(figures)
    together = [n for n in dataset if n in combined] or list(dataset)
    if not parts:
        parts = [word_pieces(dataset[n].data.table, unk_id) for n in together]
    joined = [np.concatenate(column) for column in zip(*parts)]
    return {"unk_token": unk_token, "combined_splits": together, "splits": per_split,
            "combined": type_figures(*joined, labels, unk_id is not None)}


def rare_word_findings(rare: dict) -> list[str]:
    """A line for each type whose words are far rarer to the tokenizer than O words are."""
    figures = rare["combined"]
    base = figures.get("O")
    if not base or not base["words"]:
        return []
    where = "+".join(rare["combined_splits"])
    lines = []
    for t, f in figures.items():
        if t == "O" or not f["words"]:
            continue
        reasons = []
        if f["unknown_rate"] is not None and f["unknown_rate"] >= max(UNKNOWN_FACTOR * base["unknown_rate"], base["unknown_rate"] + UNKNOWN_MARGIN):
            reasons.append(f"{f['unknown_rate']:.1%} of its words hit {rare['unk_token']} (O words: {base['unknown_rate']:.1%})")
        if f["subwords_per_word"] >= SUBWORD_FACTOR * base["subwords_per_word"]:
            reasons.append(f"{f['subwords_per_word']:.2f} sub-words per word (O words: {base['subwords_per_word']:.2f})")
        if reasons:
            lines.append(f"{where}: type {t} is rare to this tokenizer: {'; '.join(reasons)}; "
                         "a cased or domain-adapted model may serve it better")
    return lines
