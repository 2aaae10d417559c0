"""Unlabelled text for `snekner adapt`: read it, cut it into sub-word sequences, mask whole words.

A text source is one of
- a plain-text file: one sentence or paragraph per line (blank lines skipped);
- a folder of them: every `*.txt` file in it, in name order;
- a dataset snekner can read (hub layout folder, save_to_disk, CoNLL files, JSON lines, hub id):
  the words of one split's sentences, joined; their labels are not used.

Each line (or sentence) is tokenized as the tokenizer would for a model input; one longer than
`max_length` sub-words becomes several sequences, cut at sub-word boundaries. Every sub-word keeps
the number of the word it belongs to, so that masking can take whole words.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snekner.data.sources import not_utf8, open_source
from snekner.errors import OptionError, SneknerError
from snekner.ner.labels import IGNORE
from snekner.progress import NO_PROGRESS, Progress

TEXT_SUFFIX = ".txt"
LINES_PER_CALL = 2000  # lines per tokenizer call (it spreads each call over its own threads)


@dataclass
class Texts:
    """Lines of text (`words` None) or pre-split sentences (`words`: a word list per sentence), and where they came from."""

    spec: str
    kind: str  # "text file" | "text folder" | "dataset"
    lines: list[str] = field(default_factory=list)
    words: list[list[str]] | None = None
    files: list[str] = field(default_factory=list)
    split: str | None = None

    def __len__(self) -> int:
        return len(self.words) if self.words is not None else len(self.lines)

    def subset(self, indices: np.ndarray) -> Texts:
        if self.words is not None:
            return Texts(self.spec, self.kind, words=[self.words[i] for i in indices], files=self.files, split=self.split)
        return Texts(self.spec, self.kind, lines=[self.lines[i] for i in indices], files=self.files, split=self.split)

    def describe(self) -> dict:
        return {"source": self.spec, "kind": self.kind, "files": self.files, "split": self.split, "texts": len(self)}


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SneknerError(f"text file {path} {not_utf8(path)}", fix="convert it to UTF-8") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_texts(spec: str, split: str = "train", lang: str | None = None, limit: int | None = None) -> Texts:
    """The texts of `spec` (see the module docstring); `split` and `lang` apply to a dataset only."""
    if limit is not None and limit < 1:
        raise OptionError("limit", limit, "at least 1")
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix.lower() not in (".jsonl", ".json", ".conll", ".conllu", ".iob", ".bio"):
        texts = Texts(spec, "text file", lines=_read_lines(path), files=[str(path)])
    elif path.is_dir() and sorted(path.glob("*" + TEXT_SUFFIX)) and not _is_dataset_folder(path):
        files = sorted(path.glob("*" + TEXT_SUFFIX))
        texts = Texts(spec, "text folder", lines=[line for f in files for line in _read_lines(f)], files=[str(f) for f in files])
    else:
        texts = _dataset_texts(spec, split, lang)
    if limit is not None:
        texts = texts.subset(np.arange(min(limit, len(texts))))
    if len(texts) == 0:
        raise SneknerError(f"text source {spec} has no text (every line blank, or no sentences)", fix="pass a source with text to {option}",
                           option="text")
    return texts


def _is_dataset_folder(path: Path) -> bool:
    return (path / "dataset_dict.json").is_file() or (path / "state.json").is_file() or any(
        (path / s).is_dir() for s in ("train", "val", "validation", "test"))


def _dataset_texts(spec: str, split: str, lang: str | None) -> Texts:
    try:
        source = open_source(spec, lang=lang)
    except SneknerError:
        if not Path(spec).expanduser().exists() and "/" not in spec:
            raise SneknerError(f"text source {spec} not found: no such file or folder, and not a dataset",
                               fix="pass a text file, a folder of .txt files or a dataset to {option}", option="text") from None
        raise
    if split not in source.dataset:
        raise SneknerError(f"dataset {spec} has no {split} split (it has {', '.join(source.dataset)})", fix="choose one with {option}",
                           option="split")
    words = [list(map(str, tokens)) for tokens in source.dataset[split]["tokens"]]
    return Texts(spec, "dataset", words=[w for w in words if w], split=split)


@dataclass
class EncodedText:
    """Sub-word sequences, special tokens included, flat: sequence i is input_ids[offsets[i]:offsets[i+1]];
    word_of[k] numbers the word sub-word k belongs to across all sequences (-1: a special token)."""

    input_ids: np.ndarray  # int32
    word_of: np.ndarray  # int64
    lengths: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def words(self) -> int:
        return int(self.word_of.max()) + 1 if len(self.word_of) else 0

    def select(self, sequences: np.ndarray) -> EncodedText:
        """The given sequences, in that order (their words keep their numbers)."""
        offsets = np.concatenate(([0], np.cumsum(self.lengths)))
        parts = [np.arange(offsets[i], offsets[i + 1]) for i in sequences]
        take = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return EncodedText(self.input_ids[take], self.word_of[take], self.lengths[sequences])


def encode_texts(tokenizer, texts: Texts, max_length: int, progress: Progress = NO_PROGRESS) -> EncodedText:
    """Every text as sub-word sequences of at most `max_length` (special tokens included); a longer one is cut into several."""
    if max_length < 4:
        raise OptionError("max_length", max_length, "at least 4")
    ids: list[np.ndarray] = []
    words: list[np.ndarray] = []
    next_word = 0
    items = texts.words if texts.words is not None else texts.lines
    with progress.task("tokenize", len(items), unit="text") as task:
        for start in range(0, len(items), LINES_PER_CALL):
            part = items[start:start + LINES_PER_CALL]
            encoded = tokenizer(part, is_split_into_words=texts.words is not None, truncation=True, max_length=max_length,
                                return_overflowing_tokens=True, stride=0, add_special_tokens=True)
            mapping = np.asarray(encoded["overflow_to_sample_mapping"], dtype=np.int64)
            word_ids = [np.asarray([-1 if w is None else w for w in encoded.word_ids(k)], dtype=np.int64) for k in range(len(mapping))]
            # a text's words are numbered after those of every text before it (one text may span several sequences)
            most = np.full(len(part), -1, dtype=np.int64)
            for owner, w in zip(mapping, word_ids):
                most[owner] = max(most[owner], int(w.max()))
            bases = next_word + np.concatenate(([0], np.cumsum(most + 1)))[:-1]
            next_word += int((most + 1).sum())
            for sequence, owner, w in zip(encoded["input_ids"], mapping, word_ids):
                ids.append(np.asarray(sequence, dtype=np.int32))
                words.append(np.where(w >= 0, w + bases[owner], -1))
            task.advance(len(part))
    keep = [k for k, w in enumerate(words) if (w >= 0).any()]  # a sequence of special tokens only teaches nothing
    if not keep:
        raise SneknerError(f"text source {texts.spec} gives no sub-words to train on", fix="pass a source with text to {option}",
                           option="text")
    return EncodedText(np.concatenate([ids[k] for k in keep]), np.concatenate([words[k] for k in keep]),
                       np.asarray([len(ids[k]) for k in keep], dtype=np.int64))


@dataclass
class Masked:
    """One draw of masking: the inputs the model sees and the labels (the original id where masked, IGNORE elsewhere)."""

    input_ids: np.ndarray
    labels: np.ndarray

    @property
    def masked(self) -> int:
        return int((self.labels != IGNORE).sum())


def mask_whole_words(text: EncodedText, rate: float, rng: np.random.Generator, mask_id: int, vocab_size: int, *,
                     whole_words: bool = True) -> Masked:
    """BERT's masking of a share `rate` of the words (whole_words) or sub-words: every sub-word of a chosen
    word is predicted; of those, 80% are replaced by the mask token, 10% by a random token, 10% kept.

    Each word is chosen with probability `rate` on its own (so the share is `rate` on average, not
    exactly per sequence); special tokens never are. The draw depends on `rng` only.
    """
    ids = text.input_ids
    real = text.word_of >= 0
    if whole_words:
        chosen_words = rng.random(text.words) < rate
        chosen = real & chosen_words[np.maximum(text.word_of, 0)]
    else:
        chosen = real & (rng.random(len(ids)) < rate)
    labels = np.where(chosen, ids, IGNORE).astype(np.int32)
    draw = rng.random(len(ids))
    inputs = ids.copy()
    inputs[chosen & (draw < 0.8)] = mask_id
    randomised = chosen & (draw >= 0.8) & (draw < 0.9)
    inputs[randomised] = rng.integers(0, vocab_size, int(randomised.sum()), dtype=np.int64).astype(np.int32)
    return Masked(inputs, labels)
