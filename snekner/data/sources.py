"""Open NER source data: a hub id, a folder in the hub's layout, a `save_to_disk` folder, or CoNLL-style column files.

Every source comes back as a `datasets.DatasetDict` with splits named train / validation /
test and at least the columns `tokens` (list[str]) and `ner_tags` (list[int]); `lang` is
kept when present. Data laid out one file per language (the hub layout of
Babelscape/multinerd: `train/train_en.jsonl`, `val/val_en.jsonl`, `test/test_en.jsonl`) is
read only for the chosen language. Tags that are strings (JSON-lines, a saved or hub dataset,
column files) or integers with a ClassLabel feature are read in their scheme (`Reading.scheme`),
turned into IOB2 and numbered by ner.schemes.label_list; `Source.label_names` then names the ids.
Columns named otherwise are renamed by `Reading`.
"""
from __future__ import annotations

import re
from pathlib import Path

from snekner.data.arrow import dataset_of
from snekner.data.conll import conll_files, looks_like_conll, read_conll, split_of
from snekner.data.reading import Reading, Source
from snekner.data.sample import write_sample_dataset
from snekner.data.tags import tags_to_iob2_ids
from snekner.data.validation import validate_columns
from snekner.errors import OptionError, SneknerError
from snekner.settings import cache_dir
from snekner.store.prepared import canonical_split

DEFAULT_DATASET = "Babelscape/multinerd"
SAMPLE_DATASET = "snekner:sample"
# file-name prefix in the hub layout -> split name snekner uses
LAYOUT_SPLITS = {"train": "train", "val": "validation", "test": "test"}
_LAYOUT_FILE = re.compile(r"^(train|val|test)/(train|val|test)_([A-Za-z_-]+)\.jsonl$")


def sample_dataset_dir() -> Path:
    target = cache_dir() / "sample-data-v1"
    if not (target / "test").is_dir():
        write_sample_dataset(target)
    return target


def open_source(spec: str, lang: str | None = None, limit: int | None = None, reading: Reading | None = None) -> Source:
    reading = reading or Reading()
    if spec == SAMPLE_DATASET:
        source = _open_layout_dir(sample_dataset_dir(), spec, lang)
    else:
        path = Path(spec).expanduser()
        if path.is_dir():
            if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
                source = _open_saved(path, spec, lang, reading)
            elif _layout_files(path):
                source = _open_layout_dir(path, spec, lang)
            elif conll_files(path):
                source = _open_conll(conll_files(path), spec, lang, reading)
            else:
                raise SneknerError(f"dataset folder {spec} has neither train|val|test/<split>_<lang>.jsonl files, nor column files named "
                                   "for their split (train.txt, dev.conll, ...), nor a save_to_disk dataset",
                                   fix="point {option} at such a folder", option="dataset")
        elif path.is_file() and path.suffix.lower() in (".jsonl", ".json"):
            source = _open_jsonl_file(path, spec, lang, reading)
        elif path.is_file() and looks_like_conll(path):
            source = _open_conll({split_of(path) or "train": path}, spec, lang, reading)
        elif path.exists():
            raise SneknerError(f"dataset {spec} is a file snekner cannot read: neither JSON lines (.jsonl) nor word-and-tag columns",
                               fix="pass such a file, or a folder of them with {option}", option="dataset")
        elif _looks_like_hub_id(spec):
            source = _open_hub(spec, lang, reading)
        else:
            raise SneknerError(f"dataset {spec} not found: no such folder, and it is not a hub id like Babelscape/multinerd")
    source.lang = lang
    if limit is not None:
        if limit < 1:
            raise OptionError("limit", limit, "at least 1")
        source.select({name: _first_rows(split, limit) for name, split in source.dataset.items()})
    validate_columns(source)
    tags_to_iob2_ids(source, reading.scheme)  # what it leaves or makes are integer ids, so no second check
    return source


def _renamed(dd, reading: Reading, spec: str):
    """The splits with `reading`'s columns under snekner's names (tokens, ner_tags, lang)."""
    import datasets

    renames = reading.renames
    if not renames:
        return dd
    out = {}
    for name, split in dd.items():
        missing = [old for old, new in renames.items() if old not in split.column_names and new != "lang"]
        if missing:
            raise SneknerError(f"split {name} of {spec} has no column {missing[0]!r} (it has: {', '.join(split.column_names)})",
                               fix="name one of those with {option}", option="tokens_column" if missing[0] == reading.tokens_column else "tags_column")
        present = {old: new for old, new in renames.items() if old in split.column_names}
        clash = [new for new in present.values() if new in split.column_names and new not in present]
        out[name] = split.remove_columns(clash).rename_columns(present)
    return datasets.DatasetDict(out)


def _open_conll(files: dict[str, Path], spec: str, lang: str | None, reading: Reading) -> Source:
    import datasets

    if lang is not None:
        raise SneknerError(f"language {lang} was asked for, but column files have no language", fix="drop {option}", option="lang")
    splits, row_lines = {}, {}
    for split, path in files.items():
        read = read_conll(path, reading.tag_column)
        splits[split] = datasets.Dataset.from_dict({"tokens": read.tokens, "ner_tags": read.tags},
                                                   features=datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                                                               "ner_tags": datasets.Sequence(datasets.Value("string"))}))
        row_lines[split] = (path, read.first_lines)
    return Source(datasets.DatasetDict(splits), spec, str(Path(spec).expanduser().resolve()), "column files", row_lines=row_lines)


def _open_jsonl_file(path: Path, spec: str, lang: str | None, reading: Reading) -> Source:
    """One JSON-lines file: one split, named by the file (train.jsonl, dev.jsonl, ...; else train)."""
    import datasets

    table, rows = _read_jsonl([path])
    split = split_of(path.with_suffix("")) or "train"
    dd = _renamed(datasets.DatasetDict({split: dataset_of(table)}), reading, spec)
    source = _filter_language_column(dd, spec, str(path.resolve()), "JSON-lines file", lang)
    if not source.kept_rows:
        source.files_read = {split: [(path, rows[0])]}
    return source


def _first_rows(split, limit: int):
    """The first `limit` rows, taken evenly from each language when there are several (in data order)."""
    import numpy as np

    if limit >= len(split):
        return range(len(split))
    if "lang" not in split.column_names:
        return range(limit)
    langs = np.asarray(split.data.table.column("lang").to_pylist(), dtype=object).astype(str)
    _, group = np.unique(langs, return_inverse=True)
    rank = np.empty(len(langs), dtype=np.int64)  # position of each row within its language
    for g in range(group.max() + 1):
        members = np.flatnonzero(group == g)
        rank[members] = np.arange(len(members))
    return np.sort(np.lexsort((np.arange(len(langs)), rank))[:limit])


def _looks_like_hub_id(spec: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", spec)) and not spec.startswith((".", "/"))


def _layout_files(root: Path) -> dict[str, dict[str, Path]]:
    """{split: {lang: path}} for files named like the hub layout."""
    found: dict[str, dict[str, Path]] = {}
    for prefix in LAYOUT_SPLITS:
        for p in sorted((root / prefix).glob(f"{prefix}_*.jsonl")):
            m = _LAYOUT_FILE.match(f"{prefix}/{p.name}")
            if m and m.group(1) == m.group(2):
                found.setdefault(LAYOUT_SPLITS[prefix], {})[m.group(3)] = p
    return found


def _pick_languages(present: list[str], lang: str | None, spec: str) -> list[str]:
    if lang is None:
        return present
    if lang not in present:
        raise SneknerError(f"language {lang!r} is not in {spec}; it has: {', '.join(present) or 'none'}")
    return [lang]


def _read_jsonl(paths: list[Path]):
    """The files' rows as one table, and how many rows each file gave (for errors that name a file and line)."""
    import pyarrow as pa
    import pyarrow.json as paj

    tables, rows = [], []
    for p in paths:
        if _is_blank(p):
            rows.append(0)  # an empty file is a language with no rows in this split
            continue
        try:
            tables.append(paj.read_json(p, read_options=paj.ReadOptions(block_size=1 << 24)))
            rows.append(len(tables[-1]))
        except (pa.ArrowInvalid, OSError) as e:
            raise SneknerError(f"cannot read {p}: {str(e).splitlines()[0]}; each line must be one JSON object") from None
        try:
            tables[-1].validate(full=True)  # Arrow's JSON reader takes bytes that are not UTF-8 into its strings
        except pa.ArrowInvalid as e:
            raise SneknerError(f"cannot read {p}: {not_utf8(p) or str(e).splitlines()[0]}", fix="save the file as UTF-8") from None
    if not tables:
        empty = pa.table({"tokens": pa.array([], pa.list_(pa.string())), "ner_tags": pa.array([], pa.list_(pa.int64()))})
        return empty, rows
    if len(tables) == 1:
        return tables[0], rows
    try:
        return pa.concat_tables(tables, promote_options="default"), rows
    except pa.ArrowInvalid as e:
        raise SneknerError(f"files {', '.join(map(str, paths))} have different columns ({e}); make them alike") from None


def not_utf8(path: Path) -> str | None:
    """Where a file first breaks UTF-8, as "line N (byte 0xff at column C)"; None if it does not."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, column = data.count(b"\n", 0, e.start) + 1, e.start - data.rfind(b"\n", 0, e.start)
        return f"line {line} is not UTF-8 (byte {data[e.start]:#04x} at column {column})"
    return None


def _is_blank(path: Path) -> bool:
    size = path.stat().st_size
    return size == 0 or (size < 4096 and not path.read_bytes().strip())


def _dataset_from_files(files: dict[str, dict[str, Path]], languages: list[str]):
    """The chosen languages' files of each split, and (path, rows) per file read.

    A split that has files for other languages but none for the chosen ones comes back
    empty, so that validation says so instead of the split silently going missing."""
    import datasets

    splits, files_read = {}, {}
    for split, by_lang in files.items():
        paths = [by_lang[lg] for lg in languages if lg in by_lang]
        table, rows = _read_jsonl(paths)
        splits[split] = dataset_of(table)
        files_read[split] = list(zip(paths, rows))
    return datasets.DatasetDict(splits), files_read


def _open_layout_dir(root: Path, spec: str, lang: str | None) -> Source:
    files = _layout_files(root)
    present = sorted({lg for by_lang in files.values() for lg in by_lang})
    chosen = _pick_languages(present, lang, spec)
    dataset, files_read = _dataset_from_files(files, chosen)
    return Source(dataset, spec, str(root), "per-language files", present, files_read=files_read)


def _open_saved(path: Path, spec: str, lang: str | None, reading: Reading) -> Source:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as e:  # datasets raises several types for a damaged folder
        raise SneknerError(f"cannot load the saved dataset {spec}: {str(e).splitlines()[0]}; re-create it with save_to_disk") from None
    if isinstance(loaded, datasets.Dataset):
        loaded = datasets.DatasetDict({"train": loaded})
    loaded = datasets.DatasetDict({canonical_split(k): v for k, v in loaded.items()})
    return _filter_language_column(_renamed(loaded, reading, spec), spec, str(path), "save_to_disk", lang)


def _filter_language_column(dd, spec: str, resolved: str, layout: str, lang: str | None) -> Source:
    import datasets
    import pyarrow.compute as pc

    first = next(iter(dd.values()))
    label_names = None
    feature = first.features.get("ner_tags")
    inner = getattr(feature, "feature", None)
    if isinstance(inner, datasets.ClassLabel):
        label_names = list(inner.names)
    if "lang" not in first.column_names:
        if lang is not None:
            raise SneknerError(f"language {lang} was asked for, but {spec} has no 'lang' column", fix="drop {option}", option="lang")
        return Source(dd, spec, resolved, layout, [], label_names)
    present = sorted({str(v) for split in dd.values() for v in pc.unique(split.data.column("lang")).to_pylist()})
    chosen = _pick_languages(present, lang, spec)
    kept_rows = {}
    if lang is not None and len(present) > 1:
        filtered = {}
        for name, split in dd.items():
            mask = pc.equal(split.data.column("lang"), lang)
            kept_rows[name] = pc.indices_nonzero(mask).to_numpy()
            filtered[name] = dataset_of(split.data.table.filter(mask), info=split.info)
        dd = datasets.DatasetDict(filtered)
    return Source(dd, spec, resolved, layout, present if chosen else [], label_names, kept_rows=kept_rows)


def _hub_error(spec: str, e: Exception) -> SneknerError:
    first = str(e).splitlines()[0] if str(e) else type(e).__name__
    return SneknerError(
        f"cannot fetch dataset {spec} from the Hugging Face hub ({first})",
        fix="check the id and your network, or pass a local folder with {option}", option="dataset"
    )


def _open_hub(spec: str, lang: str | None, reading: Reading) -> Source:
    from huggingface_hub import HfApi, hf_hub_download

    try:
        repo_files = HfApi().list_repo_files(spec, repo_type="dataset")
    except Exception as e:  # offline, unknown repo, auth: all reported the same way
        raise _hub_error(spec, e) from None
    layout = [m for m in map(_LAYOUT_FILE.match, repo_files) if m and m.group(1) == m.group(2)]
    if not layout:
        return _open_hub_builder(spec, lang, reading)
    present = sorted({m.group(3) for m in layout})
    chosen = _pick_languages(present, lang, spec)
    files: dict[str, dict[str, Path]] = {}
    try:
        for m in layout:
            if m.group(3) in chosen:
                local = hf_hub_download(spec, m.group(0), repo_type="dataset")
                files.setdefault(LAYOUT_SPLITS[m.group(1)], {})[m.group(3)] = Path(local)
    except Exception as e:
        raise _hub_error(spec, e) from None
    dataset, files_read = _dataset_from_files(files, chosen)
    return Source(dataset, spec, f"hf://datasets/{spec}", "per-language files", present, files_read=files_read)


def _open_hub_builder(spec: str, lang: str | None, reading: Reading) -> Source:
    import datasets

    try:
        dd = datasets.load_dataset(spec)
    except Exception as e:
        raise _hub_error(spec, e) from None
    dd = datasets.DatasetDict({canonical_split(k): v for k, v in dd.items()})
    return _filter_language_column(_renamed(dd, reading, spec), spec, f"hf://datasets/{spec}", "hub builder", lang)
