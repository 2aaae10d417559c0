"""The sentences `snekner predict` tags: raw text split into words, token lists as given, read from texts, a file or
standard input, a part at a time (predict reads its input twice: windows first, then the output).

- Words: raw text is split by Moses' rules (snekner.predict.words: abbreviations and initials stay whole, a
  sentence's final period splits off), each word with its offsets into the original string, so that an entity's
  text is a slice of the input. Token lists are used as given.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from snekner.errors import SneknerError
from snekner.predict import words

INPUT_FIX = "pass a UTF-8 text file with one sentence per line, or a .jsonl file with a \"tokens\" list per line"


@dataclass
class Sentence:
    """Words to tag; `text` and `offsets` (character spans of the words in it) when split from raw text."""

    words: list[str]
    text: str | None = None
    offsets: list[tuple[int, int]] | None = None


# ---------------------------------------------------------------- words

def split_words(text: str, tokenizer=None) -> Sentence:
    """Raw text as a sentence of words with their spans in it (snekner.predict.words)."""
    split = words.split_words(text, tokenizer)
    return Sentence(split.words, text, split.offsets)


# ---------------------------------------------------------------- input

PART = 10_000  # sentences held at once while reading the input (twice: windows first, then the output)


def _is_jsonl(path: Path, first_line: str) -> bool:
    return path.suffix.lower() in (".jsonl", ".json") or first_line.lstrip().startswith("{")


def iter_input_lines(lines: Iterable[str], name: str, jsonl: bool) -> Iterator[str | list[str]]:
    """Sentences from input lines: raw strings (text) or token lists (JSON lines). A blank line is a sentence without
    words (its output is empty), so that the output has one sentence per input line, in the input's order."""
    found = False
    for number, line in enumerate(lines, 1):
        if not line.strip():
            yield [] if jsonl else line.rstrip("\r\n")
            continue
        found = True
        if not jsonl:
            yield line.rstrip("\r\n")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise SneknerError(f"{name} line {number} is not valid JSON ({e.msg}); {INPUT_FIX}") from None
        tokens = obj.get("tokens") if isinstance(obj, dict) else None
        if isinstance(tokens, list) and all(isinstance(t, str) for t in tokens):
            yield tokens
        elif isinstance(obj, dict) and "tokens" not in obj and isinstance(obj.get("text"), str):
            yield obj["text"]
        else:
            raise SneknerError(f"{name} line {number} has no \"tokens\" list of strings (nor a \"text\" string); {INPUT_FIX}")
    if not found:
        raise SneknerError(f"{name} has no sentences (it is empty or blank); {INPUT_FIX}")


def parse_input_lines(lines: list[str], name: str, jsonl: bool) -> list[str | list[str]]:
    return list(iter_input_lines(lines, name, jsonl))


class SentenceSource:
    """The sentences to tag, read as often as needed, a part at a time: predict reads its input twice (the windows
    first, then the output after the model's pass), so it never holds more than a part of it as Python objects.
    Standard input is copied to an anonymous temporary file (gone when closed) to be read twice too."""

    def __init__(self, texts: list[str] | None = None, path: Path | None = None, name: str = "", spooled=None):
        self.texts, self.path, self.name, self._spooled = texts, path, name, spooled
        self.jsonl = False
        if texts is None:
            first = next((line for line in self._lines() if line.strip()), "")
            self.jsonl = _is_jsonl(path or Path("-"), first)

    @classmethod
    def of_texts(cls, texts: list[str]) -> "SentenceSource":
        return cls(texts=list(texts), name="texts")

    @classmethod
    def of_file(cls, path: str | Path) -> "SentenceSource":
        """An input file ("-": standard input): plain text lines or JSON lines with tokens (checked when read)."""
        if str(path) == "-":
            import shutil
            import tempfile

            spooled = tempfile.TemporaryFile()
            shutil.copyfileobj(sys.stdin.buffer, spooled)
            return cls(name="standard input", spooled=spooled)
        path = Path(path)
        if not path.exists():
            raise SneknerError(f"input file {path} not found; {INPUT_FIX}")
        if not path.is_file():
            raise SneknerError(f"input {path} is not a file; {INPUT_FIX}")
        return cls(path=path, name=f"input file {path}")

    def _lines(self) -> Iterator[str]:
        """The lines as str.splitlines() splits the whole text (a UTF-8 error names its byte): bytes 0x0a never
        occur inside a UTF-8 character, so the file is cut at them and each piece split as the whole would be."""
        if self._spooled is not None:
            self._spooled.seek(0)
            handle = contextlib.nullcontext(self._spooled)
        else:
            handle = open(self.path, "rb")
        with handle as f:
            at = 0
            for raw in f:
                try:
                    text = raw.decode("utf-8-sig" if at == 0 else "utf-8")
                except UnicodeDecodeError as e:
                    raise SneknerError(f"{self.name} is not UTF-8 text (byte {at + e.start}); {INPUT_FIX}") from None
                at += len(raw)
                yield from text.splitlines()

    def items(self) -> Iterator[str | list[str]]:
        """Raw strings (text) or token lists (JSON lines), in order; bad input raises a one-line SneknerError."""
        if self.texts is not None:
            return iter(self.texts)
        return iter_input_lines(self._lines(), self.name, self.jsonl)

    def parts(self, size: int = PART) -> Iterator[list[str | list[str]]]:
        items = self.items()
        while part := list(itertools.islice(items, size)):
            yield part

    def close(self) -> None:
        if self._spooled is not None:
            self._spooled.close()


def read_input(path: str | Path) -> list[str | list[str]]:
    """Sentences of an input file ("-": standard input): plain text lines or JSON lines with tokens."""
    source = SentenceSource.of_file(path)
    try:
        return list(source.items())
    finally:
        source.close()


def make_sentences(items: list[str | list[str]], tokenizer=None) -> list[Sentence]:
    return [Sentence(list(item)) if isinstance(item, list) else split_words(item, tokenizer) for item in items]
