"""Text from runs and data (type names, run names, paths, option values) put where other programs interpret it:
Markdown (model cards, which `push` uploads and the hub renders; `compare --format markdown`) and CSV cells
that spreadsheets open (`compare --format csv`). Such text comes from folders and files anyone may have made,
so it is neutralised here: it can show, never act.

- Markdown text: HTML's `&`, `<` and `>` become entities (no tag, image or script reaches the page) and
  Markdown's marks are backslash-escaped (no link, image, emphasis or table cell is made from a name).
- Code spans: fenced with more backticks than the text holds, so that it cannot close the span early.
- CSV: OWASP's rule against formula injection: a cell a spreadsheet would take for a formula (starting
  with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading single quote. A number such as
  `-0.0123` is left as it is: a spreadsheet reads it as the number, not as a formula.
"""
from __future__ import annotations

import re

_MARKS = re.compile(r"[\\`*\[\]|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")  # _ inside a word (learning_rate) emphasises nothing
_BACKTICKS = re.compile(r"`+")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _one_line(value) -> str:
    return str(value).replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


def md(value) -> str:
    """`value` as Markdown text that shows as it is: HTML specials as entities, Markdown marks escaped, on one line."""
    text = _one_line(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKS.sub(lambda m: "\\" + m.group(), text)


def code(value, in_table: bool = False) -> str:
    """`value` as a Markdown code span (shown literally; HTML in it is text). In a table cell a `|` is escaped too,
    as GitHub-flavoured Markdown splits cells on it even inside a code span."""
    text = _one_line(value)
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    if in_table:
        text = text.replace("|", "\\|")
    return f"{fence}{pad}{text}{pad}{fence}"


def code_fence(text: str) -> str:
    """The fence of a code block holding `text`: three backticks, or more than the longest run of them in it."""
    return "`" * max(3, max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)


def csv_cell(value) -> str:
    """A CSV cell a spreadsheet shows as text, never runs (OWASP: prefix a formula's first character with a quote)."""
    text = str(value)
    if text.startswith(FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text
