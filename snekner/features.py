"""Prepared features: tag restriction, sub-word tokenization and label alignment.

A prepared dataset keeps, per sentence, the word-level `tokens` and restricted `ner_tags`
(the gold standard scoring uses), plus `input_ids`, `labels` (one per sub-word; -100 where
the loss ignores it) and `word_ids` (the word each sub-word came from, -1 for special
tokens), so a prediction can always be brought back to words.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snekner.artifacts import PREPARED_KIND, PREPARED_MANIFEST, atomic_directory, check_output_free, environment_versions, load_manifest, now_iso, write_json
from snekner.errors import SneknerError
from snekner.tagset import Tagset

IGNORE = -100
PREPARED_FIX = "run `snekner prep` to make one and pass its folder"


def restrict_tags(dataset, tagset: Tagset, width: int):
    """Map every split's ner_tags from source ids to the tagset's contiguous ids (others -> O)."""
    import datasets
    import pyarrow as pa
    import pyarrow.compute as pc

    table_map = np.asarray(tagset.remap_table(width), dtype=np.int64)
    out = {}
    for name, split in dataset.items():
        table = split.data.table
        tags = table.column("ner_tags").combine_chunks()
        flat = pc.list_flatten(tags).to_numpy(zero_copy_only=False)
        new = pa.ListArray.from_arrays(tags.offsets, pa.array(table_map[flat], type=pa.int64()))
        table = table.set_column(table.schema.get_field_index("ner_tags"), "ner_tags", new)
        keep = [c for c in ("tokens", "ner_tags", "lang") if c in table.column_names]
        out[name] = datasets.Dataset(table.select(keep))
    return datasets.DatasetDict(out)


def continuation_table(labels: list[str]) -> np.ndarray:
    """For label_all_tokens: a word's later sub-words get I-X where its first has B-X."""
    index = {label: i for i, label in enumerate(labels)}
    return np.asarray([index.get("I-" + l[2:], i) if l.startswith("B-") else i for i, l in enumerate(labels)], dtype=np.int64)


def align_labels(word_ids: list[int | None], tags: list[int], label_all_tokens: bool, cont: np.ndarray | None) -> tuple[list[int], list[int]]:
    """Sub-word labels for one sentence. Returns (labels, word_ids with -1 for specials)."""
    w = np.asarray([-1 if i is None else i for i in word_ids], dtype=np.int64)
    tag_arr = np.asarray(tags, dtype=np.int64)
    valid = w >= 0
    prev = np.concatenate(([-1], w[:-1]))
    first = valid & (w != prev)
    word_tags = tag_arr[np.where(valid, w, 0)] if len(tag_arr) else np.zeros_like(w)
    if label_all_tokens:
        later = cont[word_tags] if cont is not None else word_tags
        labels = np.where(first, word_tags, np.where(valid, later, IGNORE))
    else:
        labels = np.where(first, word_tags, IGNORE)
    return labels.tolist(), w.tolist()


def tokenize_and_align(dataset, tokenizer, max_length: int, label_all_tokens: bool, labels: list[str], num_proc: int | None = None):
    cont = continuation_table(labels) if label_all_tokens else None

    def encode(batch):
        enc = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length)
        out_labels, out_words = [], []
        for i, tags in enumerate(batch["ner_tags"]):
            lab, words = align_labels(enc.word_ids(i), tags, label_all_tokens, cont)
            out_labels.append(lab)
            out_words.append(words)
        return {"input_ids": enc["input_ids"], "labels": out_labels, "word_ids": out_words}

    return dataset.map(encode, batched=True, batch_size=1000, num_proc=num_proc, desc="tokenizing")


@dataclass
class PrepOptions:
    dataset: str
    lang: str | None
    tagset: str
    model: str
    max_length: int = 128
    label_all_tokens: bool = False
    limit: int | None = None
    num_proc: int | None = None


def split_stats(split) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc

    table = split.data.table
    n_words = pc.list_value_length(table.column("tokens"))
    stats = {"sentences": len(split), "words": int(pc.sum(n_words).as_py() or 0)}
    if "word_ids" in table.column_names:
        word_ids = table.column("word_ids").combine_chunks()
        n_sub = pc.list_value_length(table.column("input_ids"))
        stats["subwords"] = int(pc.sum(n_sub).as_py() or 0)
        # a sentence is truncated when its last aligned word is not its last word
        flat = pc.list_flatten(word_ids)
        parents = pc.list_parent_indices(word_ids)
        seen = pa.table({"row": parents, "word": flat}).group_by("row").aggregate([("word", "max")])
        words_seen = np.zeros(len(split), dtype=np.int64)
        words_seen[seen.column("row").to_numpy()] = seen.column("word_max").to_numpy() + 1
        stats["truncated_sentences"] = int(np.sum(words_seen < n_words.to_numpy(zero_copy_only=False)))
    return stats


def prepare(options: PrepOptions, out: Path, overwrite: bool = False, log=lambda msg: None) -> dict:
    """Filter, restrict, tokenize and save a dataset; returns the manifest written beside it."""
    from snekner.datasource import check_tag_range, open_source
    from snekner.modeling import load_tokenizer
    from snekner.tagset import load_tagset

    if options.max_length < 8:
        raise SneknerError(f"--max-length must be at least 8, not {options.max_length}")
    tagset = load_tagset(options.tagset)
    check_output_free(out, overwrite, "prepared dataset")
    source = open_source(options.dataset, options.lang, options.limit)
    tagset.check_against_source(source.label_names)
    width = tagset.source_width(len(source.label_names) if source.label_names else None)
    check_tag_range(source, width)
    log(f"read {options.dataset} ({source.layout}): " + ", ".join(f"{k} {len(v)}" for k, v in source.dataset.items()))
    tokenizer = load_tokenizer(options.model)
    restricted = restrict_tags(source.dataset, tagset, width)
    prepared = tokenize_and_align(restricted, tokenizer, options.max_length, options.label_all_tokens, tagset.labels, options.num_proc)
    manifest = {
        "kind": PREPARED_KIND,
        "format_version": 1,
        "created": now_iso(),
        "dataset": options.dataset,
        "dataset_resolved": source.resolved,
        "dataset_layout": source.layout,
        "lang": options.lang,
        "languages_in_source": source.languages,
        "limit": options.limit,
        "tagset": tagset.to_manifest(),
        "source_label_count": width,
        "tokenizer": options.model,
        "tokenizer_class": type(tokenizer).__name__,
        "max_length": options.max_length,
        "alignment": "all-subwords" if options.label_all_tokens else "first-subword",
        "splits": {name: split_stats(split) for name, split in prepared.items()},
        "versions": environment_versions(),
    }
    with atomic_directory(out, overwrite, "prepared dataset") as tmp:
        prepared.save_to_disk(str(tmp / "data"))
        tokenizer.save_pretrained(str(tmp / "tokenizer"))
        write_json(tmp / PREPARED_MANIFEST, manifest)
    return manifest


@dataclass
class Prepared:
    path: Path
    manifest: dict
    dataset: object  # datasets.DatasetDict

    @property
    def tagset(self) -> Tagset:
        return Tagset.from_manifest(self.manifest["tagset"])

    @property
    def labels(self) -> list[str]:
        return self.manifest["tagset"]["labels"]

    def split(self, name: str):
        from snekner.datasource import canonical_split

        name = canonical_split(name)
        if name not in self.dataset:
            raise SneknerError(f"prepared dataset {self.path} has no {name} split (it has: {', '.join(self.dataset)}); choose another --split")
        return self.dataset[name]


def read_prepared_manifest(path: Path) -> dict:
    return load_manifest(Path(path), PREPARED_MANIFEST, PREPARED_KIND, "prepared dataset", PREPARED_FIX)


def load_prepared(path: Path) -> Prepared:
    import datasets

    manifest = read_prepared_manifest(path)
    try:
        dataset = datasets.load_from_disk(str(Path(path) / "data"))
    except Exception as e:
        raise SneknerError(f"prepared dataset {path} is damaged ({str(e).splitlines()[0]}); {PREPARED_FIX} again with --overwrite") from None
    return Prepared(Path(path), manifest, dataset)
