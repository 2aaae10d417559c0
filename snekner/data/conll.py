"""CoNLL-style column files: one word per line, its tag in the last column, a blank line between sentences.

A folder holds one file per split, found by a split word in the file name: train; dev, valid, val,
validation or testa (CoNLL-2003's development file); test or testb. Files end in .txt, .conll,
.iob, .tsv or .bio, or in the split word itself (`eng.train`). A single file is one split.
Columns are split on tabs when the line has one (so a word may hold spaces), else on whitespace.
`-DOCSTART-` lines are skipped. A UTF-8 byte-order mark at the start of a file (Windows editors write one) is
dropped. The tags stay strings here; sources.py turns them into ids.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from snekner.errors import SneknerError

SUFFIXES = (".txt", ".conll", ".iob", ".tsv", ".bio")
BOM = "\ufeff".encode("utf-8")
SPLIT_WORDS = {"train": "train", "dev": "validation", "valid": "validation", "val": "validation", "validation": "validation",
               "testa": "validation", "test": "test", "testb": "test"}


@dataclass
class ConllSplit:
    """A split read from one file: words and string tags per sentence, and the line each sentence starts on."""

    path: Path
    tokens: list[list[str]] = field(default_factory=list)
    tags: list[list[str]] = field(default_factory=list)
    first_lines: list[int] = field(default_factory=list)


def split_of(path: Path) -> str | None:
    """The split a file name names (train.txt, eng.testa, en_ewt-ud-dev.conll), or None."""
    name = path.name.lower()
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    words = [SPLIT_WORDS[w] for w in re.split(r"[._\-\s]+", name) if w in SPLIT_WORDS]
    return words[-1] if words else None


def conll_files(folder: Path) -> dict[str, Path]:
    """{split: file} for the column files of a folder (empty when it has none)."""
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith(".") and (path.suffix.lower() in SUFFIXES or path.suffix.lower().lstrip(".") in SPLIT_WORDS):
            split = split_of(path)
            if split is not None:
                found.setdefault(split, []).append(path)
    for split, paths in found.items():
        if len(paths) > 1:
            raise SneknerError(f"{folder} has {len(paths)} files for the {split} split ({', '.join(p.name for p in paths)})",
                               fix="keep one file per split in the folder")
    return {split: paths[0] for split, paths in found.items()}


def looks_like_conll(path: Path) -> bool:
    """A single file that is not JSON: its first non-blank line has at least two columns."""
    with open(path, "rb") as f:
        for raw in f:
            line = raw.removeprefix(BOM).strip()
            if line:
                return not line.startswith((b"{", b"[")) and len(line.split()) >= 2
    return False


def read_conll(path: Path, tag_column: int = -1) -> ConllSplit:
    """The sentences of one column file; a one-line error naming the line for anything else.
    tag_column: the tag's column counted from 1 (negative: from the end; -1, the last)."""
    out = ConllSplit(path)
    words: list[str] = []
    tags: list[str] = []

    def end_sentence() -> None:
        if words:
            out.tokens.append(list(words))
            out.tags.append(list(tags))
            words.clear()
            tags.clear()

    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")  # utf-8-sig: without the byte-order mark
            except UnicodeDecodeError as e:
                raise SneknerError(f"cannot read {path}: line {number} is not UTF-8 (byte {raw[e.start]:#04x} at column {e.start + 1})",
                                   fix="save the file as UTF-8") from None
            if not line.strip():
                end_sentence()
                continue
            columns = line.split("\t") if "\t" in line else line.split()
            if columns[0] == "-DOCSTART-":
                end_sentence()
                continue
            if len(columns) < 2:
                raise SneknerError(f"{path} line {number} has one column ({line.strip()[:40]!r}); a line needs the word first and its tag "
                                   "after it, separated by a tab or spaces", fix="fix that line")
            try:
                tag = columns[tag_column - 1 if tag_column > 0 else tag_column].strip()
            except IndexError:
                raise SneknerError(f"{path} line {number} has {len(columns)} columns, so no column {tag_column}",
                                   fix="choose another {option}", option="tag_column") from None
            if not words:
                out.first_lines.append(number)
            words.append(columns[0].strip())
            tags.append(tag)
    end_sentence()
    return out
