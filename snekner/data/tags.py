"""A source's tags as IOB2 ids: string tags (or ClassLabel ids) in any scheme of ner.schemes, numbered by label_list.

The tags of MultiNERD's own files are integer ids without names and pass through untouched (a
tagset names them); anything that names its labels is read in its scheme, converted to IOB2,
and numbered the same way in every split, so that label ids never depend on which split or
file came first.
"""
from __future__ import annotations

from snekner.data.arrow import dataset_of
from snekner.data.reading import Source
from snekner.errors import SchemeError, SneknerError
from snekner.ner.schemes import Scheme, label_list, to_iob2


def tags_to_iob2_ids(source: Source, scheme: Scheme) -> None:
    """String tags (or ClassLabel ids, when the scheme is not IOB2) in `scheme` -> IOB2 ids, numbered by label_list;
    source.label_names names them. Integer tags without names (MultiNERD's files) are left as they are."""
    import datasets
    import pyarrow as pa

    kinds = {}  # split -> are its tags strings (None: no tags at all, an Arrow null list)
    for name, split in source.dataset.items():
        typ = split.data.table.schema.field("ner_tags").type.value_type
        kinds[name] = None if pa.types.is_null(typ) else pa.types.is_string(typ) or pa.types.is_large_string(typ)
    if True in kinds.values() and False in kinds.values():
        strings = next(n for n, k in kinds.items() if k)
        ids = next(n for n, k in kinds.items() if k is False)
        raise SneknerError(f"split {strings} of {source.spec} has ner_tags as strings, but split {ids} as integer ids",
                           fix="give every split the same kind of tags")
    names = source.label_names
    if True not in kinds.values():
        if names is None:
            if scheme != Scheme.IOB2:
                raise SneknerError(f"{source.spec} has integer tags without label names, so its scheme cannot be converted",
                                   fix="drop {option}, or give the tags as strings", option="scheme")
            return
        if scheme == Scheme.IOB2 and all(n == "O" or n[:2] in ("B-", "I-") for n in names):
            return  # ClassLabel names already in IOB2: ids stay the dataset's own (tagset files refer to them)
    converted: dict[str, list[list[str]]] = {}
    for name, split in source.dataset.items():
        rows = split.data.table.column("ner_tags").to_pylist()
        if names is not None:
            rows = [[names[i] for i in row] for row in rows]
        sentences = []
        for row, tags in enumerate(rows):
            try:
                sentences.append(to_iob2(tags, scheme))
            except SchemeError as e:
                raise SneknerError(f"{source.where(name, row, e.position)}: {e}", fix="pass the scheme the data is in with {option}",
                                   option="scheme") from None
        converted[name] = sentences
    labels = label_list(tag for sentences in converted.values() for tags in sentences for tag in tags)
    check_types_in_train(source, converted)
    ids = {label: i for i, label in enumerate(labels)}
    out = {}
    for name, split in source.dataset.items():
        table = split.data.table
        column = pa.array([[ids[t] for t in tags] for tags in converted[name]], type=pa.list_(pa.int64()))
        out[name] = dataset_of(table.set_column(table.schema.get_field_index("ner_tags"), "ner_tags", column))
    source.dataset = datasets.DatasetDict(out)
    source.label_names = labels


def check_types_in_train(source: Source, converted: dict[str, list[list[str]]]) -> None:
    """Every entity type of the other splits is in train: a type the model never sees cannot be learnt, only missed."""
    if "train" not in converted:
        return
    seen = {tag[2:] for tags in converted["train"] for tag in tags if tag != "O"}
    for name, sentences in converted.items():
        for row, tags in enumerate(sentences):
            for word, tag in enumerate(tags):
                if tag != "O" and tag[2:] not in seen:
                    raise SneknerError(f"{source.where(name, row, word)}: type {tag[2:]} is in the {name} split but not in train "
                                       f"(which has {', '.join(sorted(seen)) or 'none'})",
                                       fix="add training sentences of that type, or keep the types train has with {option}",
                                       option="tagset")
