"""Checks of a source's columns before anything is built on them: one line naming the split, file and row at fault."""
from __future__ import annotations

from snekner.data.reading import Source
from snekner.errors import SneknerError


def validate_columns(source: Source) -> None:
    """Every split has tokens and ner_tags of equal length per row and is not empty; the tags are integer ids or
    strings (data.tags.tags_to_iob2_ids turns strings into ids)."""
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
        _check_column_type(table, name, "ner_tags", _is_integer_or_string, "integer label ids or string labels")
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


def largest_tag_id(source: Source) -> int:
    """The largest tag id in any split (-1 when there are no tags)."""
    import pyarrow.compute as pc

    largest = [pc.max(pc.list_flatten(split.data.table.column("ner_tags").combine_chunks())).as_py() for split in source.dataset.values()]
    return max((x for x in largest if x is not None), default=-1)


def check_tag_range(source: Source, width: int) -> int:
    """Every tag id is in 0..width-1; names the first offending split and row. Returns the largest id (-1: no tags)."""
    import pyarrow.compute as pc

    largest = -1
    for name, split in source.dataset.items():
        tags = split.data.table.column("ner_tags").combine_chunks()
        flat = pc.list_flatten(tags)
        if len(flat) == 0:
            continue
        lo, hi = pc.min_max(flat).values()
        if lo.as_py() >= 0 and hi.as_py() < width:
            largest = max(largest, hi.as_py())
            continue
        bad_value = lo.as_py() if lo.as_py() < 0 else hi.as_py()
        parents = pc.list_parent_indices(tags)
        bad = pc.or_(pc.less(flat, 0), pc.greater_equal(flat, width))
        row = parents[pc.index(bad, True).as_py()].as_py()
        raise SneknerError(
            f"{source.where(name, row)}: tag id {bad_value} is outside the source label range 0..{width - 1}; "
            "fix the data, or use a tagset whose ids cover it"
        )
    return largest


def _is_integer_or_string(typ) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(typ) or pa.types.is_string(typ) or pa.types.is_large_string(typ)


def _check_column_type(table, split: str, column: str, is_value_type, wanted: str) -> None:
    import pyarrow as pa

    typ = table.schema.field(column).type
    if not (pa.types.is_list(typ) or pa.types.is_large_list(typ)):
        raise SneknerError(f"split {split}: {column} must be a list per row, not {typ}; each row needs a list of {wanted}")
    inner = typ.value_type
    if not (pa.types.is_null(inner) or is_value_type(inner) or (column == "tokens" and pa.types.is_large_string(inner))):
        raise SneknerError(f"split {split}: {column} must hold {wanted}, not {inner}")
