"""What reading a source takes and gives: `Reading` (how to read data not shaped like MultiNERD) and
`Source` (the splits read, with where each row came from, for errors that name a file and line)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from snekner.errors import OptionError
from snekner.ner.schemes import Scheme


@dataclass(kw_only=True)
class Reading:
    """How to read a source that is not laid out as MultiNERD is: column names, the tag column of
    column files (from 1; negative from the end), the tagging scheme of string (or ClassLabel) tags."""

    tokens_column: str = "tokens"
    tags_column: str = "ner_tags"
    lang_column: str = "lang"
    tag_column: int = -1
    scheme: Scheme = Scheme.IOB2

    def __post_init__(self):
        try:
            self.scheme = Scheme(self.scheme)
        except ValueError:
            raise OptionError("scheme", self.scheme, "one of " + ", ".join(s.value for s in Scheme)) from None
        if self.tag_column == 0:
            raise OptionError("tag_column", 0, "a column number from 1 (or negative, from the end: -1 is the last)")

    @property
    def renames(self) -> dict[str, str]:
        return {old: new for old, new in ((self.tokens_column, "tokens"), (self.tags_column, "ner_tags"), (self.lang_column, "lang"))
                if old != new}


@dataclass
class Source:
    dataset: object  # datasets.DatasetDict
    spec: str
    resolved: str
    layout: str  # "per-language files" | "save_to_disk" | "hub builder"
    languages: list[str] = field(default_factory=list)  # present before filtering
    label_names: list[str] | None = None  # when the data declares its ClassLabel names
    # where each row came from, so that errors name a row one can find: per split, the files
    # read in order with their row counts (when the data came from files), and which of the rows
    # read are kept (when the language filter or the limit dropped some)
    files_read: dict = field(default_factory=dict)  # split -> [(path, rows)]
    kept_rows: dict = field(default_factory=dict)  # split -> indices of the kept rows among the rows read
    lang: str | None = None  # the language chosen, if any
    row_lines: dict = field(default_factory=dict)  # split -> (path, line each row starts on): column files

    def where(self, split: str, row: int, word: int | None = None) -> str:
        """A row (and word) of a split as the user can find it: file and line, or row of the saved split."""
        if split in self.kept_rows:
            row = int(self.kept_rows[split][row])
        if split in self.row_lines:
            path, lines = self.row_lines[split]
            return f"{path} line {lines[row] + (word or 0)}"
        if word is not None:
            return f"{self.where(split, row)}, word {word + 1}"
        if split in self.files_read:
            for path, rows in self.files_read[split]:
                if row < rows:
                    return f"split {split} row {row} of {path.name} ({path} line {_line_of_row(path, row)})"
                row -= rows
        return f"split {split} row {row}"

    def select(self, rows: dict) -> None:
        """Keep only `rows` (split -> indices into the split as it is now); `where` follows them."""
        import numpy as np

        for name, indices in rows.items():
            indices = np.asarray(indices, dtype=np.int64)
            self.kept_rows[name] = np.asarray(self.kept_rows[name])[indices] if name in self.kept_rows else indices
        # flatten_indices: later steps work on the Arrow tables, which must hold only the kept rows
        self.dataset = type(self.dataset)(
            {name: split.select(rows[name]).flatten_indices() if name in rows else split for name, split in self.dataset.items()}
        )


def _line_of_row(path: Path, row: int) -> int:
    """The line of a JSON-lines file that holds row `row` (0-based) as read: blank lines are skipped."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                if row == 0:
                    return number
                row -= 1
    raise ValueError(f"{path} has fewer rows than were read from it")
