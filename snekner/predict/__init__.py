"""Tag new text with a trained run: split into words, window long sentences, batch, find entities.

- Words: raw text is split by Moses' rules (sacremoses; predict/words.py), so that abbreviations and initials stay
  whole ("Dr. Smith", "U.S.", "J. R. R. Tolkien") and a sentence's final period splits off, each word with its
  offsets into the original string, so that an entity's text is a slice of the input. Token lists are used as given.
- Windows: a sentence whose sub-words do not fit `max_length` (special tokens included) is cut
  into overlapping windows of whole words, so no word is dropped; each word takes its prediction
  from the window in which it has the most context on its worse side (sub-words to the nearer
  window edge; the sentence's own start and end are no edge).
- Batches: the windows of all sentences go through the model together, sorted by length, with
  the same forward function `snekner eval` uses (snekner.modeling.forward.subword_predictions).
- Scores: a word's score is the softmax probability of its predicted label on its first sub-word;
  an entity's score is the mean over its words. Entities are chunked as conlleval does.
- Offsets: windows hold word indices, so each word keeps its character span in the input text, and an
  entity of raw text carries `start_char`/`end_char` (its first word's start, its last word's end).
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snekner.errors import OptionError, SneknerError
from snekner.modeling.batches import EncodedSplit
from snekner.modeling.forward import EVAL_BATCH_SIZE, check_batch_size, flat_subword_predictions
from snekner.modeling.precision import for_prediction
from snekner.modeling.models import check_position_limit, load_config, load_run_model, load_tokenizer, position_limit, run_model_dir
from snekner.ner.scoring import chunk
from snekner.predict.sentences import (INPUT_FIX, PART, Sentence, SentenceSource, iter_input_lines, make_sentences, parse_input_lines,
                                       read_input, split_words)
from snekner.progress import NO_PROGRESS, Progress
from snekner.store.runs import Run

__all__ = ["INPUT_FIX", "PART", "Prediction", "Sentence", "SentenceSource", "TaggedWords", "WindowPlan", "assign_windows",
           "check_max_length", "find_entities", "iter_input_lines", "iter_run", "make_sentences", "make_windows", "parse_input_lines",
           "predict_entities", "predict_run", "predict_tags", "read_input", "split_words", "tag_words", "word_context", "word_lengths"]


@dataclass
class Prediction:
    sentence: Sentence
    tags: list[str]
    scores: list[float | None]  # None: the word has no sub-word (the tokenizer drops it), tagged O
    entities: list[dict] = field(default_factory=list)


# ---------------------------------------------------------------- windows

def make_windows(lengths: list[int], budget: int, stride: int | None = None) -> list[tuple[int, int]]:
    """Word ranges [start, end) of at most `budget` sub-words each, overlapping by `stride` words.

    Windows hold whole words and together cover every word; a single word longer than the budget
    gets a window of its own (the model then sees its first `budget` sub-words). Without a
    stride, consecutive windows share a quarter of the earlier window's words (at least one);
    they share fewer when the budget leaves no room for them beside the next new word.
    A sentence that fits is one window.
    """
    if budget < 1:
        raise ValueError(f"window budget must be positive, not {budget}")
    if stride is not None and stride < 0:
        raise ValueError(f"stride must not be negative, not {stride}")
    n = len(lengths)
    if sum(lengths) <= budget:
        return [(0, n)] if n else []
    windows = []
    start = 0
    while True:
        end, used = start, 0
        while end < n and (end == start or used + lengths[end] <= budget):
            used += lengths[end]
            end += 1
        windows.append((start, end))
        if end == n:
            return windows
        overlap = max(1, (end - start) // 4) if stride is None else stride
        start = max(start + 1, end - overlap)
        # every window reaches at least one word further: overlap less when the next word is long
        while start < end and sum(lengths[start:end + 1]) > budget:
            start += 1


def word_context(lengths: list[int], window: tuple[int, int], word: int) -> float:
    """Sub-words of context a word has in a window on its worse side (the sentence's own edges are no limit)."""
    start, end = window
    left = sum(lengths[start:word]) if start > 0 else math.inf
    right = sum(lengths[word + 1:end]) if end < len(lengths) else math.inf
    return min(left, right)


def assign_windows(lengths: list[int], windows: list[tuple[int, int]]) -> list[int]:
    """For every word, the index of the window it takes its prediction from: the one where
    `word_context` is largest (ties go to the earlier window)."""
    n = len(lengths)
    before = [0, *itertools.accumulate(lengths)]  # sub-words before word i: before[i]
    choice = [-1] * n
    best = [-math.inf] * n
    for w, (start, end) in enumerate(windows):
        for i in range(start, end):
            left = before[i] - before[start] if start > 0 else math.inf
            right = before[end] - before[i + 1] if end < n else math.inf
            context = min(left, right)
            if context > best[i]:
                best[i], choice[i] = context, w
    missing = [i for i, c in enumerate(choice) if c < 0]
    if missing:
        raise ValueError(f"windows {windows} do not cover words {missing}")
    return choice


# ---------------------------------------------------------------- prediction

def word_lengths(tokenizer, sentences: list[list[str]]) -> list[list[int]]:
    """Sub-words per word (no special tokens), as the tokenizer splits the words given separately."""
    out: list[list[int]] = [[] for _ in sentences]
    todo = [i for i, words in enumerate(sentences) if words]
    for chunk_start in range(0, len(todo), 1000):
        part = todo[chunk_start:chunk_start + 1000]
        enc = tokenizer([sentences[i] for i in part], is_split_into_words=True, add_special_tokens=False)
        for row, i in enumerate(part):
            counts = [0] * len(sentences[i])
            for w in enc.word_ids(row):
                if w is not None:
                    counts[w] += 1
            out[i] = counts
    return out


def check_max_length(tokenizer, max_length: int, limit: int | None = None, stride: int | None = None) -> int:
    """The sub-words a window's words may use: max_length less the special tokens. Checks max_length
    against them and the model's `limit` of positions, and that a `stride` lets each window move on
    (a stride as long as the window would move it one word at a time: quadratic in a sentence's words)."""
    specials = tokenizer.num_special_tokens_to_add(pair=False)
    if max_length < specials + 1:
        raise OptionError("max_length", max_length, f"at least {specials + 1}, to leave room for words next to the {specials} special tokens")
    check_position_limit(max_length, limit)
    budget = max_length - specials
    if stride is not None and not 0 <= stride < budget:
        raise OptionError("stride", stride, f"from 0 to {budget - 1}: fewer words than a window holds ({budget} sub-words: "
                                            f"max length {max_length} less {specials} special tokens)")
    return budget


def predict_tags(model, tokenizer, sentences: list[list[str]], labels: list[str], max_length: int, *, stride: int | None = None,
                 batch_size: int = EVAL_BATCH_SIZE, progress: Progress = NO_PROGRESS) -> tuple[list[list[str]], list[list[float | None]], int]:
    """Word tags and scores for token lists, windowing sentences that do not fit. Also returns the window count.
    `progress` counts the windows (one per sentence that fits)."""
    tagged = tag_words(model, tokenizer, sentences, labels, max_length, stride=stride, batch_size=batch_size, progress=progress)
    read = list(tagged.sentences())
    return [t for t, _ in read], [sc for _, sc in read], tagged.n_windows


class WindowPlan:
    """Predict's first pass: the windows of whole words of every sentence, encoded into flat arrays, and for every
    word the flat position of the sub-word its prediction is read from (-1: none; the tokenizer drops the word).
    Sentences come a part at a time (`add`); what is kept is a few numbers a sub-word, no Python object a sentence."""

    def __init__(self, tokenizer, max_length: int, stride: int | None = None, limit: int | None = None):
        self.tokenizer, self.max_length, self.stride = tokenizer, max_length, stride
        self.budget = check_max_length(tokenizer, max_length, limit, stride)
        self._ids: list[np.ndarray] = []
        self._lengths: list[np.ndarray] = []  # sub-words per window
        self._positions: list[np.ndarray] = []  # per word
        self._n_words: list[np.ndarray] = []  # per sentence
        self.n_subwords = self.n_windows = 0

    def add(self, sentences: list[list[str]]) -> None:
        n_words = np.fromiter((len(words) for words in sentences), dtype=np.int64, count=len(sentences))
        word_base = np.concatenate(([0], np.cumsum(n_words)))
        chosen = np.full(word_base[-1], -1, dtype=np.int64)  # per word: the window (of this part) it takes its prediction from
        win_sentence, win_start, win_end = [], [], []
        for s, lens in enumerate(word_lengths(self.tokenizer, sentences)):
            spans = make_windows(lens, self.budget, self.stride)  # windows of whole words, each the model's input
            if spans:
                chosen[word_base[s]:word_base[s + 1]] = len(win_sentence) + np.asarray(assign_windows(lens, spans), dtype=np.int64)
                win_sentence += [s] * len(spans)
                win_start += [a for a, _ in spans]
                win_end += [b for _, b in spans]
        position = np.full(word_base[-1], -1, dtype=np.int64)
        first_word = word_base[np.asarray(win_sentence, dtype=np.int64)] + np.asarray(win_start, dtype=np.int64)  # per window
        for start in range(0, len(win_sentence), 1000):  # 1000 windows at a time: flat numpy, not a Python int per sub-word
            part = range(start, min(start + 1000, len(win_sentence)))
            enc = self.tokenizer([sentences[win_sentence[w]][win_start[w]:win_end[w]] for w in part], is_split_into_words=True,
                                 truncation=True, max_length=self.max_length)
            ids = np.asarray([t for row in enc["input_ids"] for t in row], dtype=np.int32)
            lengths = np.asarray([len(row) for row in enc["input_ids"]], dtype=np.int64)
            local = np.asarray([-1 if w is None else w for row in range(len(part)) for w in enc.word_ids(row)], dtype=np.int64)
            # the first sub-word of every word in every window, kept where the word takes its prediction from that window
            window = np.repeat(np.arange(part.start, part.stop), lengths)
            inside = np.flatnonzero(local >= 0)
            if len(inside):
                _, first = np.unique(window[inside] * (int(local.max()) + 1) + local[inside], return_index=True)
                at = inside[first]
                word = first_word[window[at]] + local[at]
                mine = chosen[word] == window[at]
                position[word[mine]] = self.n_subwords + at[mine]
            self._ids.append(ids)
            self._lengths.append(lengths)
            self.n_subwords += len(ids)
        self._positions.append(position)
        self._n_words.append(n_words)
        self.n_windows += len(win_sentence)

    def encoded(self) -> EncodedSplit:
        pad_id = self.tokenizer.pad_token_id
        return EncodedSplit(input_ids=np.concatenate([np.zeros(0, np.int32), *self._ids]), labels=None,
                            lengths=np.concatenate([np.zeros(0, np.int64), *self._lengths]), pad_id=int(pad_id if pad_id is not None else 0))

    def positions(self) -> np.ndarray:
        return np.concatenate([np.zeros(0, np.int64), *self._positions])

    def words_per_sentence(self) -> np.ndarray:
        return np.concatenate([np.zeros(0, np.int64), *self._n_words])


class TaggedWords:
    """Every word's tag and score, for all sentences at once, in flat arrays (a few bytes a word); `sentences()` gives
    each sentence's lists a few thousand sentences at a time, so that a caller writing them out never holds all of them.
    All windows go through the model together, sorted by length: the results do not depend on how the input was
    read in parts nor on the read-out."""

    def __init__(self, model, plan: WindowPlan, labels: list[str], batch_size: int = EVAL_BATCH_SIZE, progress: Progress = NO_PROGRESS):
        self.labels = np.asarray([*labels, "O"], dtype=object)  # the last: a word no window gave a prediction
        self.word_base = np.concatenate(([0], np.cumsum(plan.words_per_sentence())))
        self.n_windows = plan.n_windows
        position = plan.positions()
        self.has = position >= 0  # a word some window gave its prediction
        self.tag = np.full(len(position), len(labels), dtype=np.int32)
        self.score = np.zeros(len(position), dtype=np.float32)
        if self.n_windows:
            preds, probs = flat_subword_predictions(model, plan.encoded(), batch_size=batch_size, progress=progress, description="predict",
                                                    unit="window")
            self.tag[self.has], self.score[self.has] = preds[position[self.has]], probs[position[self.has]]

    def sentences(self, chunk: int = 5000):
        """(tags, scores) of each sentence in order; a word without a prediction is O with score None."""
        for a in range(0, len(self.word_base) - 1, chunk):
            b = min(a + chunk, len(self.word_base) - 1)
            lo, hi = self.word_base[a], self.word_base[b]
            tags = self.labels[self.tag[lo:hi]].tolist()
            scores = [x if h else None for x, h in zip(self.score[lo:hi].tolist(), self.has[lo:hi].tolist())]
            for s in range(a, b):
                i, j = self.word_base[s] - lo, self.word_base[s + 1] - lo
                yield tags[i:j], scores[i:j]


def tag_words(model, tokenizer, sentences: list[list[str]], labels: list[str], max_length: int, *, stride: int | None = None,
              batch_size: int = EVAL_BATCH_SIZE, progress: Progress = NO_PROGRESS, part: int = PART) -> TaggedWords:
    """TaggedWords of token lists, planned `part` sentences at a time."""
    plan = WindowPlan(tokenizer, max_length, stride, position_limit(getattr(model, "config", None)))
    for start in range(0, len(sentences), part):
        plan.add(sentences[start:start + part])
    return TaggedWords(model, plan, labels, batch_size, progress)


def find_entities(sentence: Sentence, tags: list[str], scores: list[float | None]) -> list[dict]:
    """Entities of one sentence: text, type, start, end (word indices, end exclusive), mean word score;
    for raw text also start_char, end_char: the entity's span in the text (end exclusive), `text` its slice."""
    entities = []
    raw = sentence.offsets is not None and sentence.text is not None
    for typ, first, last in chunk(tags, "conlleval"):
        known = [s for s in scores[first:last + 1] if s is not None]
        entity = {
            "text": " ".join(sentence.words[first:last + 1]),
            "type": typ,
            "start": first,
            "end": last + 1,
            "score": round(float(np.mean(known)), 4) if known else None,
        }
        if raw:
            start_char, end_char = sentence.offsets[first][0], sentence.offsets[last][1]
            entity.update(text=sentence.text[start_char:end_char], start_char=start_char, end_char=end_char)
        entities.append(entity)
    return entities


def predict_entities(model, tokenizer, sentences: list[Sentence], labels: list[str], max_length: int, *,
                     stride: int | None = None, batch_size: int = EVAL_BATCH_SIZE, progress: Progress = NO_PROGRESS) -> list[Prediction]:
    tagged = tag_words(model, tokenizer, [s.words for s in sentences], labels, max_length, stride=stride, batch_size=batch_size,
                       progress=progress)
    return [Prediction(s, t, sc, find_entities(s, t, sc)) for s, (t, sc) in zip(sentences, tagged.sentences())]


# ---------------------------------------------------------------- a run

def predict_run(run: Run, texts: list[str] | None = None, *, input_path: str | Path | None = None, max_length: int | None = None,
                stride: int | None = None, batch_size: int = EVAL_BATCH_SIZE, progress: Progress = NO_PROGRESS) -> list[Prediction]:
    """Tag TEXT arguments or an input file with a finished run (checks the input before loading the model)."""
    return list(iter_run(run, texts, input_path=input_path, max_length=max_length, stride=stride, batch_size=batch_size,
                         progress=progress))


def iter_run(run: Run, texts: list[str] | None = None, *, input_path: str | Path | None = None, max_length: int | None = None,
             stride: int | None = None, batch_size: int = EVAL_BATCH_SIZE, progress: Progress = NO_PROGRESS,
             part: int = PART, mixed_precision: bool | None = None) -> Iterator[Prediction]:
    """predict_run one sentence at a time, for output written as it comes. Every check, the windows of the whole
    input and the model's pass over all of them happen before the first; the input is read `part` sentences at a
    time, twice (windows, then output), so memory holds flat arrays of the whole input and Python objects of a part."""
    texts = [t for t in (texts or []) if t.strip()]
    if texts and input_path is not None:
        raise SneknerError("sentences were given both as texts and in an input file", fix="pass them as texts or with {option} FILE, not both",
                           option="input")
    if input_path is None and not texts:
        raise SneknerError("nothing to predict", fix="pass sentences as texts or with {option} FILE", option="input")
    source = SentenceSource.of_file(input_path) if input_path is not None else SentenceSource.of_texts(texts)
    try:
        check_batch_size(batch_size)
        model_dir = run_model_dir(run)
        tokenizer = load_tokenizer(str(model_dir))
        if max_length is None:
            max_length = run.manifest.data_manifest.max_length
        plan = WindowPlan(tokenizer, max_length, stride, position_limit(load_config(str(model_dir))))
        for items in source.parts(part):
            plan.add([s.words for s in make_sentences(items, tokenizer)])
        model, _ = for_prediction(load_run_model(run), mixed_precision)
    except BaseException:
        source.close()
        raise
    return _read_out(source, tokenizer, plan, model, run.labels, batch_size=batch_size, progress=progress, part=part)


def _read_out(source: SentenceSource, tokenizer, plan: WindowPlan, model, labels: list[str], *, batch_size: int, progress: Progress,
              part: int) -> Iterator[Prediction]:
    tagged = TaggedWords(model, plan, labels, batch_size, progress)
    del plan
    read = tagged.sentences()
    changed = SneknerError(f"{source.name} changed while predict read it", fix="predict from a file nothing writes to")
    try:
        for items in source.parts(part):
            for sentence in make_sentences(items, tokenizer):
                tags, scores = next(read, (None, None))
                if tags is None or len(tags) != len(sentence.words):  # fewer sentences, or other words, than the first reading
                    raise changed
                yield Prediction(sentence, tags, scores, find_entities(sentence, tags, scores))
        if next(read, None) is not None:  # more sentences than the second reading
            raise changed
    finally:
        source.close()
