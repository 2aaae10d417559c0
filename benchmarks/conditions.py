"""Data conditions for the quality benchmarks, built from ../shared data at run time (never committed).

    wikineural  English WikiNEuRal as it is (../shared/data/wikineural, --lang en): Wikipedia sentences, whose
                length says little about their kind.
    fragments   the same sentences, where length and kind go together, as on news text: about 30% of the sentences
                of every split (chosen by a hash of split and position) are replaced by their entity windows, one
                short line per entity holding it whole with 0-2 words of context on each side (like a byline or a
                row of a results table: short and dense with entities), the rest stay whole. Sorting by length puts
                the short entity-dense lines in batches of their own. Lines stay in the order of the sentences they
                come from, so the first N training lines are a prefix as for `wikineural`.
    pieces      as fragments, but the words between the entity windows become short lines too (at most 6 words, no
                entity: like a headline without a name), so the short lines are of two kinds, dense with entities or
                without any, and hold every word of the sentence they were cut from.

    python benchmarks/conditions.py fragments|pieces OUT_DIR     # writes OUT_DIR in the hub layout (train/ val/ test/)
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "wikineural"
SPLITS = (("train", "train"), ("val", "val"), ("test", "test"))
FRAGMENT_SHARE = 0.3
CONDITIONS = ("wikineural", "fragments", "pieces")
PIECE_WORDS = 6


def _draw(*parts) -> int:
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "big")


def entity_spans(tags: list[int]) -> list[tuple[int, int]]:
    """[start, end) of each entity in MultiNERD-style integer tags (odd ids begin an entity, even ones continue it)."""
    spans, start = [], None
    for i, t in enumerate(tags):
        if t % 2 == 1 or (t and start is None):  # a B- tag, or an I- tag after O (real data has those)
            if start is not None:
                spans.append((start, i))
            start = i
        elif t == 0 and start is not None:
            spans.append((start, i))
            start = None
    if start is not None:
        spans.append((start, len(tags)))
    return spans


def fragments(row: dict, key: str, between: bool = False) -> list[dict]:
    """The entity windows of one sentence (see the module docstring); the sentence itself when it has no entity.
    between: the words outside the windows too, as lines of at most PIECE_WORDS words (`pieces`)."""
    tokens, tags = row["tokens"], row["ner_tags"]
    windows = []
    for k, (start, end) in enumerate(entity_spans(tags)):
        draw = _draw(key, k)
        a, b = max(0, start - draw % 3), min(len(tokens), end + (draw // 3) % 3)
        while a < start and tags[a] % 2 == 0 and tags[a] != 0:  # do not start inside a neighbouring entity
            a += 1
        while end < b < len(tokens) and tags[b] % 2 == 0 and tags[b] != 0:  # nor end inside one
            b -= 1
        windows.append((a, b))
    if not windows:
        return [row]
    if between:
        covered, gaps, last = sorted(windows), [], 0
        for a, b in covered:
            if a > last:
                gaps.append((last, a))
            last = max(last, b)
        gaps.append((last, len(tokens)))
        for a, b in gaps:
            windows += [(i, min(i + PIECE_WORDS, b)) for i in range(a, b, PIECE_WORDS)]
        windows.sort()
    return [{**row, "tokens": tokens[a:b], "ner_tags": tags[a:b]} for a, b in windows if b > a]


def build_fragments(out: Path, source: Path = SHARED_DATA, lang: str = "en", between: bool = False) -> Path:
    if (out / "DONE").is_file():
        return out
    for folder, prefix in SPLITS:
        lines = []
        for i, line in enumerate((source / folder / f"{prefix}_{lang}.jsonl").read_text(encoding="utf-8").splitlines()):
            row = json.loads(line)
            fragmented = _draw(folder, i) % 1000 < FRAGMENT_SHARE * 1000
            lines.extend(fragments(row, f"{folder}/{i}", between) if fragmented else [row])
        (out / folder).mkdir(parents=True, exist_ok=True)
        (out / folder / f"{prefix}_{lang}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    (out / "DONE").write_text("")
    return out


def dataset_for(condition: str, work: Path) -> Path:
    """The hub-layout folder of a condition (built under `work` when it is made here)."""
    if condition == "wikineural":
        return SHARED_DATA
    if condition in ("fragments", "pieces"):
        return build_fragments(work / f"data-{condition}", between=condition == "pieces")
    raise SystemExit(f"unknown condition {condition}; known: {', '.join(CONDITIONS)}")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("fragments", "pieces"):
        raise SystemExit(__doc__)
    print(build_fragments(Path(sys.argv[2]), between=sys.argv[1] == "pieces"))
