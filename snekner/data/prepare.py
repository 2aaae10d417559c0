"""Prep: a source dataset restricted to a tagset, tokenized, aligned and saved with its manifest.

A prepared dataset keeps, per sentence, the word-level `tokens` and restricted `ner_tags`
(the gold standard scoring uses), plus `input_ids`, `labels` (one per sub-word; -100 where
the loss ignores it) and `word_ids` (the word each sub-word came from, -1 for special
tokens), so a prediction can always be brought back to words. How the sub-words are made:
snekner/data/tokenize.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snekner.data.arrow import dataset_of, save_splits
from snekner.data.reading import Reading
from snekner.data.sources import SAMPLE_DATASET, open_source
from snekner.data.tokenize import aligned_parts
from snekner.data.validation import check_tag_range
from snekner.errors import OptionError
from snekner.modeling.models import check_position_limit, load_config, load_tokenizer, position_limit
from snekner.ner.tagset import Tagset, is_type_list, load_tagset, resolve_tagset, wikineural_doubt
from snekner.progress import NO_PROGRESS, Progress
from snekner.settings import DEFAULT_MODEL
from snekner.store.atomic import atomic_path, check_artifact_name, check_output_free, disk_full_is_an_error, remove_stale_partials
from snekner.store.locks import hold
from snekner.store.manifests import (Alignment, PreparedManifest, SplitStats, environment_versions, now_iso,
                                     write_prepared_manifest)

MIN_MAX_LENGTH = 8


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
        out[name] = dataset_of(table.select(keep))
    return datasets.DatasetDict(out)


@dataclass(kw_only=True)
class PrepOptions:
    dataset: str = "Babelscape/multinerd"
    lang: str | None = None  # None: every language
    tagset: str | None = None  # None: every label the dataset names (MultiNERD's: tagset a); a tagset, a file, or PER,ORG,LOC
    reading: Reading = field(default_factory=Reading)  # column names, tag column, scheme (for data not shaped like MultiNERD)
    model: str = DEFAULT_MODEL
    max_length: int = 128  # sub-words per sentence, special tokens included
    label_all_tokens: bool = False  # every sub-word labelled (later ones of a B-X word: I-X), or the first only
    limit: int | None = None  # at most this many sentences per split
    num_proc: int | None = None  # processes encoding the distinct words (None: this one, on the tokenizer's threads)

    def validate(self) -> None:
        if self.max_length < MIN_MAX_LENGTH:
            raise OptionError("max_length", self.max_length, f"at least {MIN_MAX_LENGTH}")
        if self.num_proc is not None and self.num_proc < 1:
            raise OptionError("num_proc", self.num_proc, "at least 1")
        if self.limit is not None and self.limit < 1:
            raise OptionError("limit", self.limit, "at least 1")


def _slug(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(text.rstrip("/")).name or text)
    return keep.strip("-.") or "data"


def default_prep_out(dataset: str, lang: str | None, tagset: str | None, model: str) -> Path:
    """Where prep writes when no folder is given: data/<dataset>-<lang>-<tagset>-<model>."""
    name = "sample" if dataset == SAMPLE_DATASET else _slug(Path(dataset.rstrip("/")).stem if Path(dataset).is_file() else dataset.split("/")[-1])
    return Path("data") / f"{name}-{lang or 'all'}-{_slug(Path(tagset).stem) if tagset else 'all'}-{_slug(model)}"


def split_stats(split, chunk: int = 20_000) -> SplitStats:
    """Sizes of a split (a datasets.Dataset); see table_stats."""
    return table_stats(split.data.table, chunk)


def table_stats(table, chunk: int = 20_000) -> SplitStats:
    """Sizes of a split's Arrow table; with sub-word columns, also sub-words and sentences cut by max length.
    Read `chunk` rows at a time, so that it costs no copy of a whole column. Additive over parts (add_stats)."""
    import pyarrow.compute as pc

    n_words = pc.list_value_length(table.column("tokens"))
    stats = SplitStats(sentences=len(table), words=int(pc.sum(n_words).as_py() or 0))
    if "word_ids" in table.column_names:
        stats.subwords = int(pc.sum(pc.list_value_length(table.column("input_ids"))).as_py() or 0)
        stats.truncated_sentences = stats.truncated_words = 0
        for start in range(0, len(table), chunk):
            part = table.slice(start, chunk)
            sentences, words = _truncated(part.column("word_ids").combine_chunks(),
                                          pc.list_value_length(part.column("tokens")).to_numpy(zero_copy_only=False))
            stats.truncated_sentences += sentences
            stats.truncated_words += words
    return stats


def add_stats(a: SplitStats, b: SplitStats) -> SplitStats:
    """The stats of two parts of a split, one after the other."""
    def plus(x, y):
        return None if x is None or y is None else x + y

    return SplitStats(sentences=a.sentences + b.sentences, words=a.words + b.words, subwords=plus(a.subwords, b.subwords),
                      truncated_sentences=plus(a.truncated_sentences, b.truncated_sentences),
                      truncated_words=plus(a.truncated_words, b.truncated_words))


def _truncated(word_ids, n_words: np.ndarray) -> tuple[int, int]:
    """Sentences whose last aligned word is not their last word, and the words after it (cut by the max length)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    flat = pc.list_flatten(word_ids)
    parents = pc.list_parent_indices(word_ids)
    seen = pa.table({"row": parents, "word": flat}).group_by("row").aggregate([("word", "max")])
    words_seen = np.zeros(len(word_ids), dtype=np.int64)
    words_seen[seen.column("row").to_numpy()] = seen.column("word_max").to_numpy() + 1
    return int(np.sum(words_seen < n_words)), int(np.sum(n_words - np.minimum(words_seen, n_words)))


def cut_words_note(stats: dict[str, SplitStats], max_length: int) -> str | None:
    """What the max length cut, split by split (None: nothing)."""
    cut = {name: s for name, s in stats.items() if s.truncated_words}
    if not cut:
        return None
    words, sentences = sum(s.truncated_words for s in cut.values()), sum(s.truncated_sentences for s in cut.values())
    parts = ", ".join(f"{name} {s.truncated_words} in {s.truncated_sentences}" for name, s in cut.items())
    return (f"max length {max_length} cuts {words} word{'s' if words != 1 else ''} in {sentences} sentence{'s' if sentences != 1 else ''} "
            f"({parts}): they get no sub-word, are not trained on, and eval predicts O for them")


def prepare(options: PrepOptions, out: Path, overwrite: bool = False, log=lambda msg: None,
            progress: Progress = NO_PROGRESS) -> PreparedManifest:
    """Filter, restrict, tokenize and save a dataset; returns the manifest written beside it. `progress`
    shows the tokenizing (reading and saving show datasets' own bars, on a terminal).

    `out` is locked for the call (a second prep of the same folder fails at once); it is written
    whole or not at all, and what a killed prep left beside it is removed first."""
    check_artifact_name(out)
    with hold(out, "prepared dataset", "prep"), disk_full_is_an_error(writing=out):
        remove_stale_partials(Path(out).parent, target=Path(out).name)  # the folder is the user's: only this output's temporaries
        return _prepare(options, out, overwrite, log, progress)


def _prepare(options: PrepOptions, out: Path, overwrite: bool, log, progress: Progress) -> PreparedManifest:
    options.validate()
    if options.tagset is not None and not is_type_list(options.tagset):
        load_tagset(options.tagset)  # a bad tagset file fails before the data is read
    check_output_free(out, overwrite, "prepared dataset")
    check_position_limit(options.max_length, position_limit(load_config(options.model)))
    source = open_source(options.dataset, options.lang, options.limit, options.reading)
    tagset = resolve_tagset(options.tagset, source.label_names, options.dataset)
    tagset.check_against_source(source.label_names)
    width = tagset.source_width(len(source.label_names) if source.label_names else None)
    largest = check_tag_range(source, width)
    log(f"read {options.dataset} ({source.layout}): " + ", ".join(f"{k} {len(v)}" for k, v in source.dataset.items()))
    doubt = wikineural_doubt(source.label_names, tagset, largest)
    if doubt:
        log(doubt.prefixed("warning: "))
    tokenizer = load_tokenizer(options.model)
    restricted = restrict_tags(source.dataset, tagset, width)
    source.dataset = None  # its source-id ner_tags are not needed again: one column of every word less held
    parts = aligned_parts(restricted, tokenizer, options.max_length, options.label_all_tokens, tagset.labels, num_proc=options.num_proc,
                          progress=progress)
    stats: dict[str, SplitStats] = {}

    def counted(name: str, split_parts):
        for part in split_parts:
            stats[name] = add_stats(stats[name], table_stats(part)) if name in stats else table_stats(part)
            yield part

    with atomic_path(out, directory=True) as tmp:
        # written a part (20,000 sentences) at a time as it is laid out: no split is ever held whole
        save_splits(tmp / "data", {name: counted(name, split_parts) for name, split_parts in parts.items()})
        tokenizer.save_pretrained(str(tmp / "tokenizer"))
        manifest = PreparedManifest(
            created=now_iso(), dataset=options.dataset, dataset_resolved=source.resolved, dataset_layout=source.layout,
            lang=options.lang, languages_in_source=source.languages, limit=options.limit, tagset=tagset, source_label_count=width,
            source_labels=source.label_names, scheme=options.reading.scheme.value,
            tokenizer=options.model, tokenizer_class=type(tokenizer).__name__, max_length=options.max_length,
            alignment=Alignment.ALL_SUBWORDS if options.label_all_tokens else Alignment.FIRST_SUBWORD,
            splits=stats, versions=environment_versions(),
        )
        write_prepared_manifest(tmp, manifest)
    note = cut_words_note(stats, options.max_length)
    if note:
        log(f"warning: {note}")
    return manifest
