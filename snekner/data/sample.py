"""Deterministic generator of a small, synthetic, MultiNERD-shaped NER sample dataset.

The sentences are produced from hand-written templates (English and German) and
hand-written entity fillers.  They were written for snekner and are not copied
from MultiNERD or any other corpus; only the label inventory (and its ids) and
the file layout follow Babelscape/multinerd, so that the rest of the toolkit can
treat the sample exactly like the real dataset.  It serves as the offline default
for the demo and the tests.

Only the standard library is used: this module is imported by the CLI, which
has to start fast.

The templates and words are package data in ``snekner/data/sample_templates/``,
read once per language when first needed:

* ``<lang>.templates.txt``  the templates; blank lines and lines starting with
  ``#`` are skipped.
* ``<lang>.lexicon.json``  ``fillers`` (entity type -> fillers), ``vocab``
  (untagged slot -> words) and ``markers`` (marker -> article of the filler ->
  words written).

Sentences are drawn by position in these lists, so editing, adding or reordering
any entry changes the generated data (``tests/test_sample_data.py`` pins it).

Template mini-language (one template per line, tokens separated by spaces,
punctuation is written as separate tokens):

* ``{PER}`` ... ``{VEHI}``  entity slot, filled with a random filler of that type
  (tagged B-X, I-X, ...).  A type used twice in a template gets two different
  fillers.
* ``{year}``, ``{num}``, ``{day}``, ``{month}``  untagged (O) vocabulary slot.
* ``(a|b|c)``  untagged choice; ``_`` inside an alternative separates tokens.
* ``[marker]``  untagged article/preposition that agrees with the filler of the
  *next* entity slot (English: "the" only where the name takes it, "a"/"an";
  German: gender-dependent article or contraction such as "im"/"in der"/"in").
  A capitalised marker (``[The]``, ``[D.nom]``) capitalises its output.

Fillers: English fillers starting with ``~`` take "the"; German fillers start
with their grammatical gender ``m:``, ``f:`` or ``n:`` (names without a prefix
take no article).  A marker's table is keyed by that article (``the``, ``m``,
``f``, ``n``, or ``none`` for a filler without one); a marker with no ``none``
entry needs a filler with an article.  English ``[a]`` has an empty table:
"a" or "an" follows from the filler's first letter.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import pathlib
import random

from snekner.store.atomic import atomic_path

__all__ = [
    "LABELS", "LABEL2ID", "ENTITY_TYPES", "SAMPLE_LANGUAGES", "SPLITS", "DEFAULT_SIZES",
    "TRAIN_NOISE_RATE", "split_seed", "generate_sentences", "write_sample_dataset",
]

ENTITY_TYPES = (
    "PER", "ORG", "LOC", "ANIM", "BIO", "CEL", "DIS", "EVE",
    "FOOD", "INST", "MEDIA", "MYTH", "PLANT", "TIME", "VEHI",
)

# The 31 MultiNERD labels in id order (O=0, then B-/I- pairs in the order above).
LABELS: list[str] = ["O"] + [f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I")]
LABEL2ID: dict[str, int] = {label: i for i, label in enumerate(LABELS)}

SAMPLE_LANGUAGES = ("en", "de")
SPLITS = ("train", "val", "test")
DEFAULT_SIZES = {"train": 800, "val": 200, "test": 200}

# Fraction of *train* sentences given a BIO violation (O followed by I-X).
TRAIN_NOISE_RATE = 0.015

_README_MARKER = "snekner synthetic MultiNERD-shaped sample"

# Marker-table key for fillers that take no article.
_NO_ARTICLE = "none"

# Share of sentences whose template is chosen for a given entity type ("focus"
# type; other types co-occur in multi-slot templates).  None = no entity.
_FOCUS_WEIGHTS: dict[str | None, float] = {
    "PER": 9, "ORG": 8, "LOC": 6, "ANIM": 8, "DIS": 8,
    "BIO": 5.1, "CEL": 5.1, "EVE": 5.1, "FOOD": 5.1, "INST": 5.1,
    "MEDIA": 5.1, "MYTH": 5.1, "PLANT": 5.1, "TIME": 5.1, "VEHI": 5.1,
    None: 10,
}

# Parsed template item kinds.
_LIT, _CHOICE, _VOCAB, _ENT, _MARK = range(5)


def _parse_filler(lang: str, text: str) -> tuple[tuple[str, ...], str]:
    art = _NO_ARTICLE
    if lang == "en" and text.startswith("~"):
        art, text = "the", text[1:]
    elif lang == "de" and len(text) > 2 and text[1] == ":" and text[0] in "mfn":
        art, text = text[0], text[2:]
    tokens = tuple(text.split())
    if not tokens:
        raise ValueError(f"empty filler in {lang}")
    return tokens, art


def _parse_template(line: str, vocab: dict, markers: dict) -> tuple[tuple, ...]:
    items: list[tuple] = []
    raw = line.split()
    for i, tok in enumerate(raw):
        if tok.startswith("{") and tok.endswith("}"):
            name = tok[1:-1]
            if name in ENTITY_TYPES:
                items.append((_ENT, name))
            elif name in vocab:
                items.append((_VOCAB, name))
            else:
                raise ValueError(f"unknown slot {tok!r} in template {line!r}")
        elif tok.startswith("(") and tok.endswith(")") and "|" in tok:
            alts = tuple(tuple(a.split("_")) for a in tok[1:-1].split("|"))
            if any(not a or not all(a) for a in alts):
                raise ValueError(f"empty alternative in {line!r}")
            items.append((_CHOICE, alts))
        elif tok.startswith("[") and tok.endswith("]"):
            name = tok[1:-1]
            key = name[0].lower() + name[1:]
            if key not in markers:
                raise ValueError(f"unknown marker {tok!r} in {line!r}")
            nxt = raw[i + 1] if i + 1 < len(raw) else ""
            if not (nxt.startswith("{") and nxt[1:-1] in ENTITY_TYPES):
                raise ValueError(f"marker {tok!r} must precede an entity slot in {line!r}")
            items.append((_MARK, key, name[0].isupper()))
        else:
            items.append((_LIT, tok))
    return tuple(items)


@functools.cache
def _language(lang: str) -> dict:
    """The parsed templates and words of ``lang``, read from the package data on first use."""
    if lang not in SAMPLE_LANGUAGES:
        raise ValueError(f"unsupported sample language {lang!r}; choose from {SAMPLE_LANGUAGES}")
    folder = importlib.resources.files("snekner.data") / "sample_templates"
    tmpl_text = (folder / f"{lang}.templates.txt").read_text(encoding="utf-8")
    lexicon = json.loads((folder / f"{lang}.lexicon.json").read_text(encoding="utf-8"))
    fillers, vocab, markers = lexicon["fillers"], lexicon["vocab"], lexicon["markers"]
    templates = [
        _parse_template(line, vocab, markers)
        for line in tmpl_text.strip().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    parsed_fillers = {t: [_parse_filler(lang, f) for f in fillers[t]] for t in ENTITY_TYPES}
    # Every marker must agree with every filler its slot can receive.
    for items in templates:
        for pos, it in enumerate(items):
            if it[0] == _MARK:
                for filler in parsed_fillers[items[pos + 1][1]]:
                    _marker_tokens(lang, markers, it[1], filler)
    by_type: dict[str | None, list[int]] = {t: [] for t in ENTITY_TYPES}
    by_type[None] = []
    for idx, items in enumerate(templates):
        types = {it[1] for it in items if it[0] == _ENT}
        if not types:
            by_type[None].append(idx)
        for t in types:
            by_type[t].append(idx)
    return {"templates": templates, "by_type": by_type, "fillers": parsed_fillers, "vocab": vocab, "markers": markers}


def _marker_tokens(lang: str, markers: dict, key: str, filler) -> list[str]:
    tokens, art = filler
    # "a" or "an" goes by the filler's sound, which its first letter approximates well enough here.
    if lang == "en" and key == "a":
        out = "an" if tokens[0][0].lower() in "aeiou" else "a"
    else:
        table = markers[key]
        if art not in table:
            raise ValueError(f"marker [{key}] needs a filler with an article, got {tokens!r}")
        out = table[art]
    return out.split()


def _render(lang: str, items: tuple, rng: random.Random, data: dict) -> tuple[list[str], list[int]]:
    # Choose fillers first (markers look ahead), distinct within a sentence per type.
    chosen: list = []
    used: dict[str, set[int]] = {}
    for it in items:
        if it[0] == _ENT:
            pool = data["fillers"][it[1]]
            taken = used.setdefault(it[1], set())
            j = rng.randrange(len(pool))
            while j in taken:
                j = rng.randrange(len(pool))
            taken.add(j)
            chosen.append(pool[j])
    tokens: list[str] = []
    tags: list[int] = []
    ent_i = 0
    for it in items:
        kind = it[0]
        if kind == _LIT:
            new = [it[1]]
        elif kind == _CHOICE:
            new = list(rng.choice(it[1]))
        elif kind == _VOCAB:
            new = rng.choice(data["vocab"][it[1]]).split()
        elif kind == _MARK:
            new = _marker_tokens(lang, data["markers"], it[1], chosen[ent_i])
            if new and it[2]:
                new[0] = new[0][0].upper() + new[0][1:]
        else:  # entity
            ftoks = chosen[ent_i][0]
            ent_i += 1
            b, i = LABEL2ID[f"B-{it[1]}"], LABEL2ID[f"I-{it[1]}"]
            tokens.extend(ftoks)
            tags.extend([b] + [i] * (len(ftoks) - 1))
            continue
        tokens.extend(new)
        tags.extend([0] * len(new))
    if tokens and tokens[0][0].islower():
        tokens[0] = tokens[0][0].upper() + tokens[0][1:]
    return tokens, tags


def _quota(n: int) -> list[str | None]:
    """Largest-remainder allocation of n sentences over the focus types."""
    total = sum(_FOCUS_WEIGHTS.values())
    keys = list(_FOCUS_WEIGHTS)
    exact = [n * _FOCUS_WEIGHTS[k] / total for k in keys]
    counts = [int(x) for x in exact]
    rest = n - sum(counts)
    order = sorted(range(len(keys)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[:rest]:
        counts[i] += 1
    out: list[str | None] = []
    for k, c in zip(keys, counts):
        out.extend([k] * c)
    return out


def _add_noise(sentences: list[dict], rate: float, rng: random.Random) -> None:
    """Turn the B- tag of one entity into I- (after an O) in round(rate*n) sentences."""
    k = round(rate * len(sentences))
    if k <= 0:
        return
    candidates = []
    for si, s in enumerate(sentences):
        tags = s["ner_tags"]
        starts = [p for p in range(1, len(tags)) if tags[p] % 2 == 1 and tags[p - 1] == 0]
        if starts:
            candidates.append((si, starts))
    for si, starts in rng.sample(candidates, min(k, len(candidates))):
        p = rng.choice(starts)
        sentences[si]["ner_tags"][p] += 1  # B-X (odd id) -> I-X (id + 1)


def generate_sentences(lang: str, n: int, seed: int, *, noise_rate: float = 0.0) -> list[dict]:
    """Generate ``n`` synthetic sentences for ``lang`` ("en" or "de").

    Each item is ``{"tokens": [...], "ner_tags": [...], "lang": lang}`` with tag ids
    indexing :data:`LABELS`.  The result depends only on (lang, n, seed, noise_rate).
    ``noise_rate`` > 0 puts a BIO violation (an ``I-X`` right after ``O``) into
    ``round(noise_rate * n)`` sentences, imitating annotation noise in real data;
    :func:`write_sample_dataset` uses :data:`TRAIN_NOISE_RATE` for train only.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if not 0.0 <= noise_rate <= 1.0:
        raise ValueError("noise_rate must be within [0, 1]")
    data = _language(lang)
    rng = random.Random(f"snekner-sample/{lang}/{int(seed)}")
    focus = _quota(n)
    rng.shuffle(focus)
    out = []
    for f in focus:
        items = data["templates"][rng.choice(data["by_type"][f])]
        tokens, tags = _render(lang, items, rng, data)
        out.append({"tokens": tokens, "ner_tags": tags, "lang": lang})
    if noise_rate > 0:
        _add_noise(out, noise_rate, random.Random(f"snekner-sample-noise/{lang}/{int(seed)}"))
    return out


def split_seed(seed: int, split: str) -> int:
    """Seed used by :func:`write_sample_dataset` for ``split`` (distinct per split)."""
    return int(seed) * len(SPLITS) + SPLITS.index(split)


def _readme(languages, sizes: dict, seed: int) -> str:
    lines = [
        f"# {_README_MARKER}",
        "",
        "Synthetic template sentences written for snekner (not taken from MultiNERD or any",
        "other corpus), generated by `snekner/data/sample.py`. Offline default for the demo",
        "and tests; far too easy and too small to say anything about real NER quality.",
        "",
        "Layout and fields follow the Hugging Face hub dataset Babelscape/multinerd:",
        "`{split}/{split}_{lang}.jsonl`, one JSON object per line with `tokens`, `ner_tags`, `lang`.",
        "Label ids are MultiNERD's: " + " ".join(f"{i}={l}" for i, l in enumerate(LABELS)),
        "",
        f"Languages: {', '.join(languages)}",
        "Sentences per language: " + ", ".join(f"{s}={sizes[s]}" for s in SPLITS),
        f"Seed: {seed} (split seeds: "
        + ", ".join(f"{s}={split_seed(seed, s)}" for s in SPLITS) + ")",
        f"Train contains deliberate BIO noise (I-X after O) in ~{TRAIN_NOISE_RATE:.1%} of sentences;"
        " val/test are clean.",
        "",
    ]
    return "\n".join(lines)


def _check_replaceable(out_dir: pathlib.Path) -> None:
    """Raise FileExistsError unless ``out_dir`` is absent, empty or a previous sample,
    so that writing a sample never deletes user data."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a directory")
    if not any(out_dir.iterdir()):
        return
    try:
        readme = (out_dir / "README.md").read_text(encoding="utf-8")
    except OSError:
        readme = ""
    if _README_MARKER not in readme:
        raise FileExistsError(
            f"{out_dir} exists and does not look like a snekner sample dataset; refusing to replace it"
        )


def write_sample_dataset(out_dir, languages=SAMPLE_LANGUAGES, sizes=None, seed=0) -> pathlib.Path:
    """Write the sample in the Babelscape/multinerd hub layout and return ``out_dir``.

    Creates ``out_dir/{train,val,test}/{split}_{lang}.jsonl`` and ``out_dir/README.md``.
    ``sizes`` overrides entries of :data:`DEFAULT_SIZES` (sentences per language per
    split).  Everything is built in a temporary directory next to ``out_dir`` and
    renamed into place.  An existing ``out_dir`` is replaced only if it is empty or a
    previous sample (its README carries the sample marker); otherwise
    :class:`FileExistsError` is raised, so user data is never deleted.
    """
    out_dir = pathlib.Path(out_dir)
    languages = tuple(languages)
    for lang in languages:
        _language(lang)  # validates
    merged = dict(DEFAULT_SIZES)
    if sizes:
        unknown = set(sizes) - set(SPLITS)
        if unknown:
            raise ValueError(f"unknown split(s) in sizes: {sorted(unknown)}")
        merged.update({k: int(v) for k, v in sizes.items()})
    _check_replaceable(out_dir)
    with atomic_path(out_dir, directory=True) as tmp:
        for split in SPLITS:
            (tmp / split).mkdir()
            for lang in languages:
                rate = TRAIN_NOISE_RATE if split == "train" else 0.0
                sents = generate_sentences(lang, merged[split], split_seed(seed, split), noise_rate=rate)
                with open(tmp / split / f"{split}_{lang}.jsonl", "w", encoding="utf-8") as fh:
                    for s in sents:
                        fh.write(json.dumps(s, ensure_ascii=False) + "\n")
        (tmp / "README.md").write_text(_readme(languages, merged, seed), encoding="utf-8")
        # Again right before the swap: another process may have put its own folder at
        # out_dir while this sample was generated.
        _check_replaceable(out_dir)
    return out_dir


if __name__ == "__main__":  # pragma: no cover - convenience entry point
    import sys

    target = sys.argv[1] if len(sys.argv) > 1 else "multinerd_sample"
    print(write_sample_dataset(target))
