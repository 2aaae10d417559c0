"""Tagsets: which BIO labels of a source dataset to keep, and their new contiguous ids.

A tagset file is a JSON object mapping each kept BIO label to its id in the source data,
e.g. {"O": 0, "B-PER": 1, "I-PER": 2, "B-DIS": 13, "I-DIS": 14}. Restricting data to it turns
every other tag into O and renumbers the kept labels 0..n-1 in the file's order.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from snekner.errors import Notice, SneknerError

# MultiNERD has 31 labels; data without a declared label list is assumed to be at most that
# wide unless the tagset itself names a larger id.
DEFAULT_SOURCE_LABELS = 31
# source ids are label ids, and a remap table holds one entry per id up to the largest: a bound
# far above any dataset's label count keeps a typo (10**20) from asking for that much memory
MAX_SOURCE_ID = 10_000
NAMED_FIX = "pass a tagset file, type names such as PER,ORG,LOC, or one of the named tagsets ({names})"
MULTINERD_TAGSET = "a"  # MultiNERD's 31 labels: what a dataset's integer tags mean when it does not name them
_TYPE_LIST = re.compile(r"^[\w-]+(,[\w-]+)*$")  # PER,ORG,LOC


def tagset_dirs() -> list[Path]:
    package = Path(__file__).resolve().parents[1]
    # An installed wheel carries the tagsets inside the package; a source checkout has them
    # at the top level beside the package.
    return [d for d in (package / "tagsets", package.parent / "tagsets") if d.is_dir()]


def named_tagsets() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in reversed(tagset_dirs()):
        for p in sorted(d.glob("*.json")):
            found[p.stem] = p
    return dict(sorted(found.items()))


def resolve_tagset_path(spec: str) -> Path:
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    named = named_tagsets()
    if spec in named:
        return named[spec]
    names = ", ".join(named) or "none found"
    if path.suffix == ".json" or "/" in spec:
        raise SneknerError(f"tagset file {spec} not found; " + NAMED_FIX.format(names=names))
    raise SneknerError(f"unknown tagset {spec!r}; " + NAMED_FIX.format(names=names))


def _reject_duplicate_keys(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise SneknerError(f"label {key!r} appears twice")
        seen[key] = value
    return seen


@dataclass(frozen=True)
class Tagset:
    name: str
    source_ids: dict[str, int]  # kept label -> id in the source data, in file order
    path: str | None = None

    @property
    def labels(self) -> list[str]:
        """New label list: index = new contiguous id."""
        return list(self.source_ids)

    @property
    def label2id(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.source_ids)}

    @property
    def types(self) -> list[str]:
        return [label[2:] for label in self.source_ids if label.startswith("B-")]

    @property
    def outside_id(self) -> int:
        return self.label2id["O"]

    def source_to_new(self) -> dict[int, int]:
        return {src: new for new, src in enumerate(self.source_ids.values())}

    def remap_table(self, n_source: int) -> list[int]:
        """table[source_id] = new id; source ids outside the tagset map to O."""
        table = [self.outside_id] * n_source
        for src, new in self.source_to_new().items():
            table[src] = new
        return table

    def source_width(self, declared: int | None = None) -> int:
        """How many source ids are valid: the dataset's own label count when it declares one."""
        if declared is not None:
            return declared
        return max(DEFAULT_SOURCE_LABELS, max(self.source_ids.values()) + 1)

    def check_against_source(self, source_names: list[str] | None) -> None:
        """When the dataset names its labels, the tagset's ids must point at the same names."""
        if source_names is None:
            return
        for label, src in self.source_ids.items():
            if src >= len(source_names):
                raise SneknerError(
                    f"tagset {self.name}: {label} has id {src}, but the dataset has only {len(source_names)} labels; "
                    f"fix the id in {self.path or self.name}"
                )
            if source_names[src] != label:
                raise SneknerError(
                    f"tagset {self.name}: id {src} is {source_names[src]!r} in the dataset, not {label!r}; "
                    f"fix the id in {self.path or self.name}"
                )

    def to_manifest(self) -> dict:
        return {
            "name": self.name,
            "path": self.path,
            "labels": self.labels,
            "types": self.types,
            "source_ids": self.source_ids,
            "source_to_new": {str(k): v for k, v in self.source_to_new().items()},
        }

    @classmethod
    def from_manifest(cls, data: dict) -> "Tagset":
        """The tagset a manifest stores, checked as a tagset file is (SneknerError when an edit made it invalid)."""
        checked = parse_tagset(data["source_ids"], name=data["name"])
        return cls(name=checked.name, source_ids=checked.source_ids, path=data.get("path"))


def parse_tagset(mapping: object, name: str, path: str | None = None) -> Tagset:
    """A tagset from its JSON mapping, checked: BIO labels in B-/I- pairs with O, each with its own source id.

    Errors carry the fix apart from the message (SneknerError.fix), so that a manifest holding an
    invalid tagset can say what is wrong with it and give its own fix."""
    where = path or name
    if not isinstance(mapping, dict) or not mapping:
        raise SneknerError(f"tagset {where} must be a JSON object mapping BIO labels to ids",
                           fix="write it like {{\"O\": 0, \"B-PER\": 1, \"I-PER\": 2}}")
    ids_seen: dict[int, str] = {}
    for label, src in mapping.items():
        if not isinstance(src, int) or isinstance(src, bool) or not 0 <= src < MAX_SOURCE_ID:
            raise SneknerError(f"tagset {where}: {label!r} has id {src!r}",
                               fix=f"ids must be non-negative integers from the source dataset, below {MAX_SOURCE_ID}")
        if src in ids_seen:
            raise SneknerError(f"tagset {where}: {ids_seen[src]!r} and {label!r} both have id {src}", fix="give each label its own source id")
        ids_seen[src] = label
        if label != "O" and not (len(label) > 2 and label[:2] in ("B-", "I-")):
            raise SneknerError(f"tagset {where}: label {label!r} is not BIO", fix="use O, B-TYPE or I-TYPE")
    if "O" not in mapping:
        raise SneknerError(f"tagset {where} has no \"O\" label", fix="add \"O\": <its source id> (0 in MultiNERD)")
    for label in mapping:
        if label == "O":
            continue
        twin = ("I-" if label.startswith("B-") else "B-") + label[2:]
        if twin not in mapping:
            raise SneknerError(f"tagset {where}: {label} has no {twin}", fix=f"add {twin} with its source id, or remove {label}")
    return Tagset(name=name, source_ids=dict(mapping), path=path)


def load_tagset(spec: str) -> Tagset:
    path = resolve_tagset_path(spec)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SneknerError(f"cannot read tagset {path}: {e.strerror}") from None
    try:
        mapping = json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except json.JSONDecodeError as e:
        raise SneknerError(f"tagset {path} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}); fix the file") from None
    except SneknerError as e:
        raise SneknerError(f"tagset {path}: {e}; keep one entry per label") from None
    return parse_tagset(mapping, name=path.stem, path=str(path))


def is_type_list(spec: str) -> bool:
    """Whether a --tagset value names types (PER,ORG,LOC) rather than a tagset file or a named tagset."""
    return not (Path(spec).expanduser().is_file() or spec in named_tagsets()) and bool(_TYPE_LIST.match(spec))


def wikineural_doubt(label_names: list[str] | None, tagset: "Tagset | None", largest_id: int) -> Notice | None:
    """A warning when unnamed integer tags are read by MultiNERD's numbering but look like WikiNEuRal's: only ids
    0-8, 7-8 among them, which MultiNERD calls ANIM and WikiNEuRal (whose layout MultiNERD copied) calls MISC.
    None when the labels are named, other ids occur, or the tagset does not read 7-8 as ANIM."""
    if label_names is not None or largest_id not in (7, 8):
        return None
    ids = (tagset or load_tagset(MULTINERD_TAGSET)).source_ids
    if ids.get("B-ANIM") != 7 and ids.get("I-ANIM") != 8:
        return None
    return Notice("the tags use only ids 0-8, which MultiNERD's numbering reads as PER ORG LOC ANIM",
                  fix="if the data is WikiNEuRal (PER ORG LOC MISC: 7-8 are MISC), pass {option} wikineural", option="tagset")


def resolve_tagset(spec: str | None, label_names: list[str] | None, dataset: str = "the dataset") -> Tagset:
    """The tagset a dataset is restricted to, given its labels (`label_names`; None: MultiNERD's ids):

    None: every label the dataset names (MultiNERD's all, tagset a, when it names none); a named
    tagset or a tagset file; or type names, "PER,ORG,LOC", each kept with its B- and I- label.
    """
    if spec is None:
        if label_names is None:
            return load_tagset(MULTINERD_TAGSET)
        return parse_tagset({label: i for i, label in enumerate(label_names)}, name="all")
    if not is_type_list(spec):
        return load_tagset(spec)
    names = label_names if label_names is not None else load_tagset(MULTINERD_TAGSET).labels
    ids = {label: i for i, label in enumerate(names)} if label_names is not None else load_tagset(MULTINERD_TAGSET).source_ids
    available = sorted({label[2:] for label in ids if label[:2] == "B-"})
    if "," not in spec and spec not in available:
        return load_tagset(spec)  # not a type: the unknown-tagset error, which lists the named ones
    mapping = {"O": ids["O"]} if "O" in ids else {}
    for typ in (t.strip() for t in spec.split(",")):
        if f"B-{typ}" not in ids or f"I-{typ}" not in ids:
            raise SneknerError(f"type {typ!r} is not one of {dataset}'s ({', '.join(available) or 'none'})",
                               fix="name types it has in {option}, or a tagset file", option="tagset")
        mapping[f"B-{typ}"], mapping[f"I-{typ}"] = ids[f"B-{typ}"], ids[f"I-{typ}"]
    return parse_tagset(mapping, name=spec)
