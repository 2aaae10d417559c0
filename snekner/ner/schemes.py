"""Tagging schemes in, IOB2 out: what snekner trains on, whatever the data was written in.

- iob2 (MultiNERD, WikiNEuRal, most hub datasets): every entity starts with B-.
- iob1 (CoNLL-2003's original files): an entity starts with I- unless it directly follows an
  entity of the same type, which then starts with B-.
- bioes (also written BILOU with L- and U-): B- begin, I- inside, E- (L-) end, S- (U-) a
  one-word entity.

String labels become ids by `label_list`: O first, then B-/I- per type in alphabetical order,
so that the same labels give the same ids in every split and every run.
"""
from __future__ import annotations

from enum import Enum

from snekner.errors import SchemeError


class Scheme(str, Enum):
    IOB2 = "iob2"
    IOB1 = "iob1"
    BIOES = "bioes"


_PREFIXES = {Scheme.IOB2: "BI", Scheme.IOB1: "BI", Scheme.BIOES: "BIESLU"}


def _split(tag: str, position: int, scheme: Scheme) -> tuple[str, str]:
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in _PREFIXES[scheme]:
        return tag[0], tag[2:]
    raise SchemeError(position, tag, scheme, _PREFIXES[scheme])


def to_iob2(tags: list[str], scheme: Scheme) -> list[str]:
    """One sentence's tags in IOB2; SchemeError at the first tag that is not of `scheme`."""
    out = []
    previous = ""  # the type of the entity the previous word is in ("" outside)
    for i, tag in enumerate(tags):
        prefix, typ = _split(tag, i, scheme)
        if prefix == "O":
            out.append("O")
        elif scheme == Scheme.IOB1:
            out.append(f"B-{typ}" if prefix == "B" or previous != typ else f"I-{typ}")
        elif prefix in "BSU":
            out.append(f"B-{typ}")
        else:  # I, E, L
            out.append(f"I-{typ}")
        previous = typ  # "" after O
    return out


def label_list(labels) -> list[str]:
    """The labels of IOB2 tags `labels` as ids will number them: O, then B-T, I-T per type T, alphabetically
    (both of a pair, even where the data has only one)."""
    types = sorted({label[2:] for label in labels if label != "O"})
    return ["O", *[f"{p}-{t}" for t in types for p in "BI"]]
