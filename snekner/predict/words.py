"""Raw text -> words, each with its character span in the text (an entity's start_char/end_char come from them).

Words are split by the Moses tokenizer (sacremoses), the rules most NER and translation corpora were tokenized with
(WikiNEuRal and MultiNERD among them), so a model sees at predict time the words it was trained on. Its rules keep
abbreviations and initials whole ("Dr.", "U.S.", "J.", "z.B.", "m.in.", "тыс.") and split sentence-final periods,
commas, quotes and brackets off; hyphenated words stay whole ("Jean-Luc"). The text's language is not known (a run
may be multilingual), so snekner uses Moses without a language, with what no language needs: the abbreviations of
every language sacremoses bundles (not numbers or Roman numerals: "on August 21. The" ends a sentence), and on top of
Moses, in this module:

- apostrophes between letters: English clitics split off ("Smith's" -> "Smith" "'s", "don't" -> "do" "n't"), French
  and Italian elisions keep theirs ("l'équipe" -> "l'" "équipe", "dell'Italia"), any other stays one word ("O'Leary",
  "Qur'an", "aujourd'hui");
- the text's last period always splits off ("It ends here." and "... in 1941 г."), unless the word has a period inside
  ("Washington D.C.");
- combining marks never split a word (Thai tone marks, decomposed accents);
- CJK ideographs are split as the run's tokenizer splits them (its normalizer and pre-tokenizer: BERT's puts each
  ideograph on its own, SentencePiece keeps a run whole), as before.

benchmarks/word_splitting.py measures it on WikiNEuRal rendered as raw text (README, "Predict"). Moses only moves
spaces, so every word is found in the text in order; should it ever change a character, the text is split by the
tokenizer's pre-tokenizer instead (pre_tokenizer_split: what snekner did before, with every punctuation character a
word of its own).
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

Span = tuple[int, int]

# English clitics after an apostrophe ('s 're 'll 've 'm 'd; n't is the "t" rule); French/Italian elided words before one
CLITICS = {"s", "re", "ll", "ve", "m", "d"}
ELISIONS = {"l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu", "presqu",
            "dell", "dall", "nell", "sull", "coll", "all", "un", "quest", "quell", "anch", "bell", "sant", "tutt", "senz", "nessun"}
APOSTROPHES = "'’"
NOT_ABBREVIATIONS = re.compile(r"\d+|[IVXLCDM]{2,}")  # numbers and Roman numerals end sentences too ("in 1999. The")


@dataclass
class Words:
    """Words of a text and their spans in it."""

    words: list[str]
    offsets: list[Span]


# ---------------------------------------------------------------- before: the tokenizer's pre-tokenizer

def pre_tokenizer_split(text: str, tokenizer=None) -> Words:
    """Words of `text` as the tokenizer's normalizer + pre-tokenizer split it (whitespace without one).

    Each word is the slice of the original text at its offsets, stripped of the spaces some
    pre-tokenizers (Metaspace, ByteLevel) attach to it; pieces that are only space are dropped.
    """
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    pre = getattr(backend, "pre_tokenizer", None) if backend is not None else None
    if pre is None:
        splits = [(m.group(), m.span()) for m in re.finditer(r"\S+", text)]
    else:
        splits = None
        normalizer = getattr(backend, "normalizer", None)
        if normalizer is not None:
            # the normalizer can split too (BERT puts spaces around CJK characters); offsets stay original
            try:
                from tokenizers import PreTokenizedString

                pts = PreTokenizedString(text)
                pts.normalize(lambda ns: normalizer.normalize(ns))
                pre.pre_tokenize(pts)
                splits = [(s, offsets) for s, offsets, _ in pts.get_splits(offset_referential="original", offset_type="char")]
            except Exception:  # an exotic normalizer: the pre-tokenizer alone still splits sensibly
                splits = None
        if splits is None:
            splits = pre.pre_tokenize_str(text)
    words, offsets = [], []
    for _, (start, end) in splits:
        piece = text[start:end]
        stripped = piece.strip()
        if not stripped:
            continue
        start += len(piece) - len(piece.lstrip())
        end = start + len(stripped)
        if offsets and start < offsets[-1][1]:  # never overlap the previous word
            continue
        words.append(stripped)
        offsets.append((start, end))
    return Words(words, offsets)


# ---------------------------------------------------------------- Moses

@functools.lru_cache(maxsize=1)
def _moses():
    """A Moses tokenizer of no language (no language's apostrophe rules) with every bundled language's abbreviations."""
    from sacremoses import MosesTokenizer
    from sacremoses.corpus import NonbreakingPrefixes

    moses = MosesTokenizer(lang="und")
    entries = {w.strip() for w in NonbreakingPrefixes().words(None)}  # None: all languages
    entries = {w for w in entries if not NOT_ABBREVIATIONS.fullmatch(w.split()[0])}
    moses.NONBREAKING_PREFIXES = entries  # a set: looked up once per word that ends with a period
    moses.NUMERIC_ONLY_PREFIXES = {w.rpartition(" ")[0] for w in entries if w.endswith("#NUMERIC_ONLY#")}
    return moses


def _moses_spans(text: str) -> list[Span] | None:
    """Spans of Moses' words in `text`, in order; None when a word is not found where it should be."""
    spans, at = [], 0
    for word in _moses().tokenize(text, escape=False):
        found = text.find(word, at)
        if found < 0 or text[at:found].strip():
            return None
        spans.append((found, found + len(word)))
        at = found + len(word)
    return spans


# ---------------------------------------------------------------- on top of Moses

def _is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")


def _join_marks(text: str, spans: list[Span]) -> list[Span]:
    """Adjacent words joined where a combining mark meets the boundary (Moses splits Thai at its tone marks)."""
    out: list[Span] = []
    for start, end in spans:
        if out and out[-1][1] == start and (_is_mark(text[start]) or _is_mark(text[start - 1])):
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def _apostrophe_split(left: str, right: str) -> int | None:
    """Where the word `left` + apostrophe + `right` splits, counted from the apostrophe (0: before it, 1: after it),
    None: it stays one word."""
    if right.lower() in CLITICS:
        return 0  # Smith 's
    if right.lower() == "t" and left.lower().endswith("n") and len(left) > 1:
        return -1  # do n't
    if left.lower() in ELISIONS and left != "O":  # l' équipe, dell' Italia; O'Leary stays whole
        return 1
    return None


def _apostrophes(text: str, spans: list[Span]) -> list[Span]:
    """Letters, an apostrophe, letters (Moses without a language splits it into three words), split as
    _apostrophe_split says."""
    out: list[Span] = []
    i = 0
    while i < len(spans):
        if (out and i + 1 < len(spans) and text[spans[i][0]:spans[i][1]] in APOSTROPHES
                and out[-1][1] == spans[i][0] and spans[i][1] == spans[i + 1][0]
                and text[out[-1][1] - 1].isalpha() and text[spans[i + 1][0]].isalpha()):
            (a, b), apostrophe, e = out[-1], spans[i][0], spans[i + 1][1]
            at = _apostrophe_split(text[a:b], text[apostrophe + 1:e])
            out[-1:] = [(a, e)] if at is None else [(a, apostrophe + at), (apostrophe + at, e)]
            i += 2
        else:
            out.append(spans[i])
            i += 1
    return out


def _final_period(text: str, spans: list[Span]) -> list[Span]:
    """The text's last word loses its period unless it has one inside ("D.C."): Moses keeps it on any abbreviation."""
    if spans:
        a, b = spans[-1]
        if b - a > 1 and text[b - 1] == "." and "." not in text[a:b - 1]:
            return spans[:-1] + [(a, b - 1), (b - 1, b)]
    return spans


def _is_cjk(char: str) -> bool:
    """CJK ideographs, as BERT's normalizer defines them (it puts spaces around each)."""
    cp = ord(char)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B81F
            or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def _cjk_as_tokenizer_splits(text: str, spans: list[Span], tokenizer) -> list[Span]:
    """Each stretch of adjacent words with CJK ideographs in it, split as the tokenizer splits it."""
    out: list[Span] = []
    stretch: Span | None = None
    for start, end in [*spans, (len(text) + 1, len(text) + 1)]:  # a sentinel closes the last stretch
        cjk = any(_is_cjk(c) for c in text[start:end])
        if cjk and stretch is not None and stretch[1] == start:
            stretch = (stretch[0], end)
            continue
        if stretch is not None:
            part = pre_tokenizer_split(text[stretch[0]:stretch[1]], tokenizer)
            out += [(stretch[0] + a, stretch[0] + b) for a, b in part.offsets]
            stretch = None
        if cjk:
            stretch = (start, end)
        elif start <= len(text):
            out.append((start, end))
    return out


def split_words(text: str, tokenizer=None) -> Words:
    """Words of raw `text` and their spans in it (module doc): Moses' rules, CJK as the tokenizer splits it (without
    a tokenizer, as Moses does: each ideograph a word)."""
    spans = _moses_spans(text)
    if spans is None:
        return pre_tokenizer_split(text, tokenizer)
    spans = _final_period(text, _apostrophes(text, _join_marks(text, spans)))
    if tokenizer is not None and any(_is_cjk(c) for c in text):
        spans = _cjk_as_tokenizer_splits(text, spans, tokenizer)
    return Words([text[a:b] for a, b in spans], spans)
