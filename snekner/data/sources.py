"""Open NER source data: a hub id, a folder in the hub's layout, or a `save_to_disk` folder.

Every source comes back as a `datasets.DatasetDict` with splits named train / validation /
test and at least the columns `tokens` (list[str]) and `ner_tags` (list[int]); `lang` is
kept when present. Data laid out one file per language (the hub layout of
Babelscape/multinerd: `train/train_en.jsonl`, `val/val_en.jsonl`, `test/test_en.jsonl`) is
read only for the chosen language.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from snekner.data.sample import write_sample_dataset
from snekner.errors import OptionError, SneknerError
from snekner.settings import cache_dir
from snekner.store.prepared import canonical_split

DEFAULT_DATASET = "Babelscape/multinerd"
SAMPLE_DATASET = "snekner:sample"
# file-name prefix in the hub layout -> split name snekner uses
LAYOUT_SPLITS = {"train": "train", "val": "validation", "test": "test"}
_LAYOUT_FILE = re.compile(r"^(train|val|test)/(train|val|test)_([A-Za-z_-]+)\.jsonl$")


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

    def where(self, split: str, row: int) -> str:
        """A row of a split as the user can find it: file and line, or row of the saved split."""
        if split in self.kept_rows:
            row = int(self.kept_rows[split][row])
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


def sample_dataset_dir() -> Path:
    target = cache_dir() / "sample-data-v1"
    if not (target / "test").is_dir():
        write_sample_dataset(target)
    return target


def open_source(spec: str, lang: str | None = None, limit: int | None = None) -> Source:
    if spec == SAMPLE_DATASET:
        source = _open_layout_dir(sample_dataset_dir(), spec, lang)
    else:
        path = Path(spec).expanduser()
        if path.is_dir():
            if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
                source = _open_saved(path, spec, lang)
            elif _layout_files(path):
                source = _open_layout_dir(path, spec, lang)
            else:
                raise SneknerError(f"dataset folder {spec} has neither train|val|test/<split>_<lang>.jsonl files nor a save_to_disk dataset",
                                   fix="point {option} at such a folder", option="dataset")
        elif path.exists():
            raise SneknerError(f"dataset {spec} is a file; pass the folder that holds train/ val/ test/ (or a save_to_disk folder)")
        elif _looks_like_hub_id(spec):
            source = _open_hub(spec, lang)
        else:
            raise SneknerError(f"dataset {spec} not found: no such folder, and it is not a hub id like Babelscape/multinerd")
    source.lang = lang
    if limit is not None:
        if limit < 1:
            raise OptionError("limit", limit, "at least 1")
        source.select({name: _first_rows(split, limit) for name, split in source.dataset.items()})
    validate_columns(source)
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
            raise SneknerError(f"cannot read {p}: {_not_utf8(p) or str(e).splitlines()[0]}", fix="save the file as UTF-8") from None
    if not tables:
        empty = pa.table({"tokens": pa.array([], pa.list_(pa.string())), "ner_tags": pa.array([], pa.list_(pa.int64()))})
        return empty, rows
    if len(tables) == 1:
        return tables[0], rows
    try:
        return pa.concat_tables(tables, promote_options="default"), rows
    except pa.ArrowInvalid as e:
        raise SneknerError(f"files {', '.join(map(str, paths))} have different columns ({e}); make them alike") from None


def _not_utf8(path: Path) -> str | None:
    """Where a file first breaks UTF-8, as "line N (byte 0xff at column C)"; None if it does not."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, column = data.count(b"\n", 0, e.start) + 1, e.start - data.rfind(b"\n", 0, e.start)
        return f"line {line} is not UTF-8 (byte {data[e.start]:#04x} at column {column})"
    return None


def _line_of_row(path: Path, row: int) -> int:
    """The line of a JSON-lines file that holds row `row` (0-based) as read: blank lines are skipped."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                if row == 0:
                    return number
                row -= 1
    raise ValueError(f"{path} has fewer rows than were read from it")


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
        splits[split] = datasets.Dataset(table)
        files_read[split] = list(zip(paths, rows))
    return datasets.DatasetDict(splits), files_read


def _open_layout_dir(root: Path, spec: str, lang: str | None) -> Source:
    files = _layout_files(root)
    present = sorted({lg for by_lang in files.values() for lg in by_lang})
    chosen = _pick_languages(present, lang, spec)
    dataset, files_read = _dataset_from_files(files, chosen)
    return Source(dataset, spec, str(root), "per-language files", present, files_read=files_read)


def _open_saved(path: Path, spec: str, lang: str | None) -> Source:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as e:  # datasets raises several types for a damaged folder
        raise SneknerError(f"cannot load the saved dataset {spec}: {str(e).splitlines()[0]}; re-create it with save_to_disk") from None
    if isinstance(loaded, datasets.Dataset):
        loaded = datasets.DatasetDict({"train": loaded})
    loaded = datasets.DatasetDict({canonical_split(k): v for k, v in loaded.items()})
    return _filter_language_column(loaded, spec, str(path), "save_to_disk", lang)


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
            filtered[name] = datasets.Dataset(split.data.table.filter(mask), info=split.info)
        dd = datasets.DatasetDict(filtered)
    return Source(dd, spec, resolved, layout, present if chosen else [], label_names, kept_rows=kept_rows)


def _hub_error(spec: str, e: Exception) -> SneknerError:
    first = str(e).splitlines()[0] if str(e) else type(e).__name__
    return SneknerError(
        f"cannot fetch dataset {spec} from the Hugging Face hub ({first})",
        fix="check the id and your network, or pass a local folder with {option}", option="dataset"
    )


def _open_hub(spec: str, lang: str | None) -> Source:
    from huggingface_hub import HfApi, hf_hub_download

    try:
        repo_files = HfApi().list_repo_files(spec, repo_type="dataset")
    except Exception as e:  # offline, unknown repo, auth: all reported the same way
        raise _hub_error(spec, e) from None
    layout = [m for m in map(_LAYOUT_FILE.match, repo_files) if m and m.group(1) == m.group(2)]
    if not layout:
        return _open_hub_builder(spec, lang)
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


def _open_hub_builder(spec: str, lang: str | None) -> Source:
    import datasets

    try:
        dd = datasets.load_dataset(spec)
    except Exception as e:
        raise _hub_error(spec, e) from None
    dd = datasets.DatasetDict({canonical_split(k): v for k, v in dd.items()})
    return _filter_language_column(dd, spec, f"hf://datasets/{spec}", "hub builder", lang)


def validate_columns(source: Source) -> None:
    """Every split has tokens and ner_tags of equal length per row and is not empty."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not source.dataset:
        raise SneknerError(f"dataset {source.spec} has no train/val/test splits; check the folder layout")
    for name, split in source.dataset.items():
        missing = [c for c in ("tokens", "ner_tags") if c not in split.column_names]
        if missing:
            raise SneknerError(
                f"split {name} of {source.spec} has no {' or '.join(missing)} column (it has: {', '.join(split.column_names)}); "
                "NER data needs tokens (list of words) and ner_tags (list of label ids)"
            )
        if len(split) == 0:
            which = f"has no {source.lang} sentences" if source.lang else "is empty"
            raise SneknerError(f"split {name} of {source.spec} {which}", fix="choose another {option} or dataset", option="lang")
        table = split.data.table
        _check_column_type(table, name, "tokens", pa.types.is_string, "words (strings)")
        _check_column_type(table, name, "ner_tags", pa.types.is_integer, "integer label ids (map label names to ids first)")
        for col in ("tokens", "ner_tags"):
            if table.column(col).null_count:
                row = pc.index(pc.is_null(table.column(col)), True).as_py()
                raise SneknerError(f"{source.where(name, row)}: {col} is missing; fix or drop that row")
        n_tok = pc.list_value_length(table.column("tokens"))
        n_tag = pc.list_value_length(table.column("ner_tags"))
        differ = pc.not_equal(n_tok, n_tag)
        if pc.any(differ).as_py():
            row = pc.index(differ, True).as_py()
            raise SneknerError(
                f"{source.where(name, row)}: {n_tok[row].as_py()} tokens but {n_tag[row].as_py()} ner_tags; "
                "fix that row so each token has one tag"
            )


def check_tag_range(source: Source, width: int) -> None:
    """Every tag id is in 0..width-1; names the first offending split and row."""
    import pyarrow.compute as pc

    for name, split in source.dataset.items():
        tags = split.data.table.column("ner_tags").combine_chunks()
        flat = pc.list_flatten(tags)
        if len(flat) == 0:
            continue
        lo, hi = pc.min_max(flat).values()
        if lo.as_py() >= 0 and hi.as_py() < width:
            continue
        bad_value = lo.as_py() if lo.as_py() < 0 else hi.as_py()
        parents = pc.list_parent_indices(tags)
        bad = pc.or_(pc.less(flat, 0), pc.greater_equal(flat, width))
        row = parents[pc.index(bad, True).as_py()].as_py()
        raise SneknerError(
            f"{source.where(name, row)}: tag id {bad_value} is outside the source label range 0..{width - 1}; "
            "fix the data, or use a tagset whose ids cover it"
        )


def _check_column_type(table, split: str, column: str, is_value_type, wanted: str) -> None:
    import pyarrow as pa

    typ = table.schema.field(column).type
    if not (pa.types.is_list(typ) or pa.types.is_large_list(typ)):
        raise SneknerError(f"split {split}: {column} must be a list per row, not {typ}; each row needs a list of {wanted}")
    inner = typ.value_type
    if not (pa.types.is_null(inner) or is_value_type(inner) or (column == "tokens" and pa.types.is_large_string(inner))):
        raise SneknerError(f"split {split}: {column} must hold {wanted}, not {inner}")
