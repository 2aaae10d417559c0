"""Sub-word tokenization of pre-split words and label alignment, for whole splits at once.

How the sub-words are made: a fast tokenizer given pre-split words encodes every word on its
own (normalizer, pre-tokenizer and model see only that word) and joins the words' sub-words
in order, then truncates to `max_length` and adds its special tokens. This module does the same
in bulk: it encodes each distinct word of the data once, lays the sentences' sub-words out with
numpy, cuts each sentence to the sub-words that fit (from the tokenizer's truncation side)
and frames it with the special tokens the tokenizer puts around a one-word sentence. The
result is the tokenizer's own output, `tokenizer(sentences, is_split_into_words=True,
truncation=True, max_length=max_length)`, at a fraction of the cost (checked on a spread of
sentences of every split; a tokenizer that disagrees is run sentence by sentence instead),
and the columns are built as Arrow arrays directly.

Memory: only the distinct words are encoded for the whole data at once; the sentences are laid out
SENTENCES_PER_CHUNK at a time, each chunk's columns built and its numpy scratch arrays dropped before
the next, so what a split costs beyond its own columns is bounded by the chunk, not by the corpus
(at 100x WikiNEuRal the whole-split layout held ~20 arrays of every sub-word at once).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snekner.data.arrow import dataset_of
from snekner.errors import OptionError, SneknerError
from snekner.ner.labels import IGNORE
from snekner.progress import NO_PROGRESS, Progress

# distinct words given to the tokenizer as one pre-split sequence: few long sequences cost far
# less than one short sequence per word, and still leave several sequences for its threads
WORDS_PER_SEQUENCE = 2000
SEQUENCES_PER_CALL = 16  # 32k words per tokenizer call (see encode_words)
# sentences laid out at once (see the module docstring): ~1M sub-words, a few tens of MB of scratch
SENTENCES_PER_CHUNK = 20_000


def continuation_table(labels: list[str]) -> np.ndarray:
    """For label_all_tokens: a word's later sub-words get I-X where its first has B-X."""
    index = {label: i for i, label in enumerate(labels)}
    return np.asarray([index.get("I-" + l[2:], i) if l.startswith("B-") else i for i, l in enumerate(labels)], dtype=np.int64)


def align_labels(word_ids: np.ndarray, offsets: np.ndarray, tags: np.ndarray, tag_offsets: np.ndarray, *,
                 label_all_tokens: bool, cont: np.ndarray | None) -> np.ndarray:
    """Sub-word labels of many sentences at once.

    word_ids: every sentence's sub-word word ids one after another (-1 for special tokens),
    sentence i being word_ids[offsets[i]:offsets[i + 1]]; its word tags are
    tags[tag_offsets[i]:tag_offsets[i + 1]]. A sub-word whose word id differs from the previous
    sub-word's in its sentence is the first of its word and gets the word's tag. The others get
    IGNORE, or with label_all_tokens the word's tag through `cont` (B-X -> I-X). Special tokens
    get IGNORE.
    """
    word_ids = np.asarray(word_ids, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.int64)
    valid = word_ids >= 0
    previous = np.concatenate(([-1], word_ids[:-1]))
    starts = offsets[:-1][offsets[:-1] < len(word_ids)]
    previous[starts] = -1  # a sentence's first sub-word has no predecessor
    first = valid & (word_ids != previous)
    sentence = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    word_tags = np.asarray(tags, dtype=np.int64)[np.asarray(tag_offsets)[sentence[valid]] + word_ids[valid]]
    if label_all_tokens and cont is not None:
        later = cont[word_tags]
    elif label_all_tokens:
        later = word_tags
    else:
        later = np.full_like(word_tags, IGNORE)
    labels = np.full(len(word_ids), IGNORE, dtype=np.int64)
    labels[valid] = np.where(first[valid], word_tags, later)
    return labels


@dataclass
class WordPieces:
    """The sub-word ids of each distinct word: word k's are ids[starts[k]:starts[k + 1]]."""

    ids: np.ndarray  # int32
    starts: np.ndarray  # int64, one more entry than there are words

    @property
    def counts(self) -> np.ndarray:
        """Sub-words of each word (0 for a word the tokenizer drops entirely)."""
        return np.diff(self.starts)


@dataclass
class SentenceFrame:
    """What the tokenizer does to a sentence's sub-words: keep at most `budget` of them (the
    last ones when `keep_end`, i.e. truncation_side == "left") and put `prefix` before and
    `suffix` after them (its special tokens, e.g. [CLS] and [SEP])."""

    prefix: np.ndarray  # int32
    suffix: np.ndarray  # int32
    budget: int
    keep_end: bool


def _list_values(column) -> tuple[object, np.ndarray]:
    """A list column's values, flattened (an Arrow array), and the row offsets into them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    offsets = np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))
    return pc.list_flatten(column), offsets


def distinct_words(dataset) -> tuple[list[str], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Every distinct word of all splits, and for each split (index, offsets): the index of each
    of its words into that list (sentences one after another), sentence i's words being
    index[offsets[i]:offsets[i + 1]]."""
    import pyarrow as pa
    import pyarrow.compute as pc

    flat = {name: _list_values(split.data.table.column("tokens")) for name, split in dataset.items()}
    encoded = pc.dictionary_encode(pa.concat_arrays([words for words, _ in flat.values()]), null_encoding="encode")
    index = encoded.indices.to_numpy(zero_copy_only=False)  # int32, as Arrow made it: half the memory of int64
    per_split, start = {}, 0
    for name, (words, offsets) in flat.items():
        per_split[name] = (index[start:start + len(words)], offsets)
        start += len(words)
    return encoded.dictionary.to_pylist(), per_split


def _word_id_array(word_ids: list[int | None]) -> np.ndarray:
    """A tokenizer's word ids as int64, -1 for its special tokens (None)."""
    return np.asarray([-1 if w is None else w for w in word_ids], dtype=np.int64)


def _encode_sequences(tokenizer, sequences: list[list[str]]) -> list[tuple[list[int], list[int | None]]]:
    """(ids, word_ids) of pre-split sequences, without special tokens or truncation."""
    enc = tokenizer(sequences, is_split_into_words=True, add_special_tokens=False, truncation=False, padding=False,
                    return_attention_mask=False, return_token_type_ids=False, verbose=False)
    return [(e.ids, e.word_ids) for e in enc.encodings]


_WORKER_TOKENIZER = None


def _start_worker(tokenizer) -> None:
    global _WORKER_TOKENIZER
    _WORKER_TOKENIZER = tokenizer


def _encode_in_worker(sequence: list[str]) -> tuple[list[int], list[int | None]]:
    return _encode_sequences(_WORKER_TOKENIZER, [sequence])[0]


def encode_words(tokenizer, words: list[str], num_proc: int | None = None, progress: Progress = NO_PROGRESS) -> WordPieces:
    """Sub-word ids of each word, as the tokenizer splits the word given on its own (no special tokens).

    The words go to the tokenizer WORDS_PER_SEQUENCE at a time as one pre-split sequence,
    which gives each word the same sub-words as encoding it alone. With num_proc > 1 the
    sequences are shared out over that many worker processes; otherwise they are encoded
    here, SEQUENCES_PER_CALL at a time (calls the tokenizer spreads over its own threads,
    few enough to cost nothing, many enough for `progress` to move).
    """
    import multiprocessing

    sequences = [words[i:i + WORDS_PER_SEQUENCE] for i in range(0, len(words), WORDS_PER_SEQUENCE)]
    counts = np.zeros(len(words), dtype=np.int64)
    ids = []

    def keep(k: int, sequence_ids: list[int], sequence_word_ids: list[int | None]) -> None:
        # to numpy as each sequence arrives: Python lists of every sub-word of millions of words cost ~10x the array
        word_ids = _word_id_array(sequence_word_ids)
        if (word_ids < 0).any() or (np.diff(word_ids) < 0).any():
            raise SneknerError(f"the tokenizer {type(tokenizer).__name__} does not keep each word's sub-words together and in order; "
                               "its output cannot be aligned with the words")
        counts[k * WORDS_PER_SEQUENCE:k * WORDS_PER_SEQUENCE + len(sequences[k])] = np.bincount(word_ids, minlength=len(sequences[k]))
        ids.append(np.asarray(sequence_ids, dtype=np.int32))

    with progress.task("tokenize", len(words), unit="word") as task:
        if num_proc is not None and num_proc > 1 and len(sequences) > 1:
            with multiprocessing.Pool(min(num_proc, len(sequences)), initializer=_start_worker, initargs=(tokenizer,)) as pool:
                for k, (sequence, result) in enumerate(zip(sequences, pool.imap(_encode_in_worker, sequences))):
                    keep(k, *result)
                    task.advance(len(sequence))
        else:
            for start in range(0, len(sequences), SEQUENCES_PER_CALL):
                part = sequences[start:start + SEQUENCES_PER_CALL]
                for k, result in enumerate(_encode_sequences(tokenizer, part), start):
                    keep(k, *result)
                task.advance(sum(map(len, part)))
    all_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int32)
    return WordPieces(all_ids, np.concatenate(([0], np.cumsum(counts))))


def sentence_frame(tokenizer, words: list[str], pieces: WordPieces, max_length: int) -> SentenceFrame:
    """Read the special tokens around a sentence off the tokenizer's own output for a one-word
    sentence (made of the word with the fewest sub-words, so that truncation cannot touch it)."""
    counts = pieces.counts
    candidates = np.flatnonzero(counts > 0)
    probe = [words[candidates[np.argmin(counts[candidates])]]] if len(candidates) else []
    enc = tokenizer([probe], is_split_into_words=True, truncation=True, max_length=max_length).encodings[0]
    ids = np.asarray(enc.ids, dtype=np.int32)
    inside = [i for i, w in enumerate(enc.word_ids) if w is not None]
    if not inside:  # no word of the data has a sub-word: every sentence is the special tokens alone
        prefix, suffix = ids, ids[:0]
    elif inside[-1] + 1 - inside[0] != len(inside):
        raise SneknerError(f"the tokenizer {type(tokenizer).__name__} puts special tokens inside a sentence; its output cannot be aligned with the words")
    else:
        prefix, suffix = ids[:inside[0]], ids[inside[-1] + 1:]
    budget = max_length - len(prefix) - len(suffix)
    if budget < 1:
        specials = len(ids) - len(inside)
        raise OptionError("max_length", max_length, f"more than the tokenizer's {specials} special tokens, to leave room for sub-words")
    return SentenceFrame(prefix, suffix, budget, getattr(tokenizer, "truncation_side", "right") == "left")


def encode_sentences(word_index: np.ndarray, word_offsets: np.ndarray, pieces: WordPieces,
                     frame: SentenceFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """input_ids and word_ids of every sentence, one after another, and the row offsets.

    word_index: the distinct-word index of every word, sentences one after another, sentence i
    being word_index[word_offsets[i]:word_offsets[i + 1]]. Each sentence gets its words'
    sub-words in order, cut to frame.budget and framed by the special tokens.
    """
    n_sentences = len(word_offsets) - 1
    # every sub-word of every sentence before truncation: its id, word, and rank in its sentence
    counts = pieces.counts[word_index]
    word_start = np.concatenate(([0], np.cumsum(counts)))  # each word's first sub-word in the stream
    word = np.repeat(np.arange(len(word_index)), counts)
    position = np.arange(len(word))
    ids = pieces.ids[pieces.starts[word_index[word]] + position - word_start[word]]
    in_sentence = word_start[word_offsets[1:]] - word_start[word_offsets[:-1]]
    sentence = np.repeat(np.arange(n_sentences), in_sentence)
    rank = position - word_start[word_offsets[sentence]]
    # truncation: which sub-words fit, and where they go in the output rows
    kept = np.minimum(in_sentence, frame.budget)
    skipped = in_sentence - kept if frame.keep_end else np.zeros(n_sentences, dtype=np.int64)
    keep = (rank >= skipped[sentence]) & (rank < skipped[sentence] + kept[sentence])
    row_lengths = len(frame.prefix) + kept + len(frame.suffix)
    offsets = np.concatenate(([0], np.cumsum(row_lengths)))
    at = offsets[sentence[keep]] + len(frame.prefix) + rank[keep] - skipped[sentence[keep]]
    input_ids = np.empty(offsets[-1], dtype=np.int32)
    word_ids = np.full(offsets[-1], -1, dtype=np.int64)
    input_ids[at] = ids[keep]
    word_ids[at] = word[keep] - word_offsets[sentence[keep]]
    for j, token in enumerate(frame.prefix):
        input_ids[offsets[:-1] + j] = token
    for j, token in enumerate(frame.suffix):
        input_ids[offsets[1:] - len(frame.suffix) + j] = token
    return input_ids, word_ids, offsets


def encode_directly(tokenizer, sentences: list[list[str]], max_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What encode_sentences gives, from the tokenizer's own per-sentence output (the slow way)."""
    ids, word_ids, lengths = [], [], []
    for start in range(0, len(sentences), 1000):
        enc = tokenizer(sentences[start:start + 1000], is_split_into_words=True, truncation=True, max_length=max_length,
                        return_attention_mask=False, return_token_type_ids=False, verbose=False)
        for e in enc.encodings:
            ids.append(np.asarray(e.ids, dtype=np.int32))
            word_ids.append(_word_id_array(e.word_ids))
            lengths.append(len(e.ids))
    offsets = np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))
    if not ids:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64), offsets
    return np.concatenate(ids), np.concatenate(word_ids), offsets


def _rows(values: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> list[list[int]]:
    return [values[offsets[i]:offsets[i + 1]].tolist() for i in rows]


def check_rows(n_sentences: int, sample: int = 256) -> np.ndarray:
    """The sentences fast_path_agrees checks: a spread of `sample` over the split."""
    return np.unique(np.linspace(0, n_sentences - 1, num=min(sample, n_sentences)).astype(np.int64))


def fast_path_agrees(tokenizer, tokens, encoded: tuple[np.ndarray, np.ndarray, np.ndarray], max_length: int, *, sample: int = 256,
                     rows: np.ndarray | None = None) -> bool:
    """Whether the distinct-word encoding equals the tokenizer's own on a spread of sentences.

    A fast tokenizer given pre-split words encodes each word on its own, so they agree; should
    a tokenizer ever split a word differently by its place in the sentence, this fails and the
    tokenizer is run sentence by sentence instead. `encoded` holds every sentence of `tokens`, or
    with `rows` (check_rows) only those sentences, in order.
    """
    if rows is None:
        rows = check_rows(len(tokens), sample)
        at = rows
    else:
        at = np.arange(len(rows))
    direct_ids, direct_word_ids, direct_offsets = encode_directly(tokenizer, tokens.take(rows).to_pylist(), max_length)
    input_ids, word_ids, offsets = encoded
    every = np.arange(len(rows))
    return (_rows(input_ids, offsets, at) == _rows(direct_ids, direct_offsets, every)
            and _rows(word_ids, offsets, at) == _rows(direct_word_ids, direct_offsets, every))


def _take_sentences(word_index: np.ndarray, word_offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index, offsets) of the given sentences only, in that order."""
    lengths = word_offsets[rows + 1] - word_offsets[rows]
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    at = np.repeat(word_offsets[rows] - offsets[:-1], lengths) + np.arange(offsets[-1])
    return word_index[at], offsets


def _list_array(offsets: np.ndarray, values: np.ndarray):
    """An Arrow list array (32-bit offsets, like the one datasets writes) from flat values and row offsets."""
    import pyarrow as pa

    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values))


def tokenize_and_align(dataset, tokenizer, max_length: int, label_all_tokens: bool, labels: list[str], *, num_proc: int | None = None,
                       progress: Progress = NO_PROGRESS, chunk: int | None = None):
    """Add input_ids (int32), labels and word_ids (int64) to every split of `dataset`, in memory: aligned_parts
    joined (what prep writes to disk a part at a time)."""
    import datasets
    import pyarrow as pa

    parts = aligned_parts(dataset, tokenizer, max_length, label_all_tokens, labels, num_proc=num_proc, progress=progress, chunk=chunk)
    return datasets.DatasetDict({name: dataset_of(pa.concat_tables(list(split_parts))) for name, split_parts in parts.items()})


def aligned_parts(dataset, tokenizer, max_length: int, label_all_tokens: bool, labels: list[str], *, num_proc: int | None = None,
                  progress: Progress = NO_PROGRESS, chunk: int | None = None) -> dict:
    """Every split of `dataset` with input_ids (int32), labels and word_ids (int64) added, as Arrow tables of `chunk`
    sentences (default SENTENCES_PER_CHUNK; the joined result does not depend on it), each laid out when it is taken:
    {split: iterator of tables}, to be taken split after split, in order. An empty split is one table without rows.

    Gives what `tokenizer(tokens, is_split_into_words=True, truncation=True,
    max_length=max_length)` gives, aligned as `align_labels` describes. num_proc: worker
    processes for encoding the distinct words (see `encode_words`, which shows through `progress`).
    """
    chunk = chunk or SENTENCES_PER_CHUNK
    cont = continuation_table(labels) if label_all_tokens else None
    words, split_words = distinct_words(dataset)
    pieces = encode_words(tokenizer, words, num_proc, progress)
    frame = sentence_frame(tokenizer, words, pieces, max_length)
    del words
    fast = True
    for name, split in dataset.items():
        index, offsets = split_words[name]
        if len(split) == 0:
            continue
        rows = check_rows(len(split))
        probe = encode_sentences(*_take_sentences(index, offsets, rows), pieces, frame)
        if not fast_path_agrees(tokenizer, split.data.table.column("tokens"), probe, max_length, rows=rows):
            fast = False
            break

    def parts(name: str, split):
        table = split.data.table
        if fast:
            index, word_offsets = split_words.pop(name)  # each split's word index goes once its sentences are laid out
            encoded = (encode_sentences(index[word_offsets[a]:word_offsets[b]], word_offsets[a:b + 1] - word_offsets[a], pieces, frame)
                       for a, b in _spans(len(split), chunk))
        else:
            encoded = (encode_directly(tokenizer, table.slice(a, b - a).column("tokens").to_pylist(), max_length)
                       for a, b in _spans(len(split), chunk))
        if len(split) == 0:  # an empty split keeps its columns
            empty = np.zeros(1, dtype=np.int64)
            yield (table.append_column("input_ids", _list_array(empty, np.zeros(0, np.int32)))
                   .append_column("labels", _list_array(empty, np.zeros(0, np.int64)))
                   .append_column("word_ids", _list_array(empty, np.zeros(0, np.int64))))
            return
        for (a, b), (input_ids, word_ids, offsets) in zip(_spans(len(split), chunk), encoded):
            part = table.slice(a, b - a)
            tags, tag_offsets = _list_values(part.column("ner_tags"))
            sub_labels = align_labels(word_ids, offsets, tags.to_numpy(zero_copy_only=False), tag_offsets, label_all_tokens=label_all_tokens,
                                      cont=cont)
            part = part.append_column("input_ids", _list_array(offsets, input_ids))
            part = part.append_column("labels", _list_array(offsets, sub_labels))
            yield part.append_column("word_ids", _list_array(offsets, word_ids))

    return {name: parts(name, split) for name, split in dataset.items()}


def _spans(n: int, chunk: int) -> list[tuple[int, int]]:
    return [(a, min(a + chunk, n)) for a in range(0, n, chunk)]
