"""Arrow tables as `datasets` datasets, in memory and on disk, without holding or pickling a whole table.

In memory (`dataset_of`): a `datasets.Dataset` over an in-memory Arrow table, without datasets' whole-table
fingerprint. On disk (`save_splits`): what `DatasetDict.save_to_disk` writes, written a part at a time.

datasets fingerprints a Dataset made from a table by pickling the whole table into its hasher
(generate_fingerprint): a serialized copy of the data in memory, 3.5x the table at its peak
(0.5 GiB for a 0.15 GiB split at 10x WikiNEuRal, ~5 GiB at 100x). snekner never caches a
transform under that key, so the fingerprint is computed here by streaming the table's Arrow IPC
form through a hash, one record batch at a time: the same for the same schema and rows however the
table was cut into chunks or parts, bounded in memory. (Its value differs from datasets' own, which
only names cache files.)
"""
from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable
from pathlib import Path

ROWS_PER_BATCH = 65536


class _HashSink:
    """A write-only file that only hashes what is written to it."""

    def __init__(self):
        self.hash = hashlib.blake2b(digest_size=16)
        self.closed = False

    def write(self, data) -> int:
        self.hash.update(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class Fingerprint:
    """table_fingerprint of a table given a part at a time (the parts one after another, as pa.concat_tables
    would join them): the same record batches of ROWS_PER_BATCH rows go through the hash, holding at most one."""

    def __init__(self, schema):
        import pyarrow as pa

        self._sink = _HashSink()
        self._writer = pa.ipc.new_stream(pa.PythonFile(self._sink, mode="w"), schema)
        self._pending: list = []
        self._rows = 0

    def add(self, table) -> None:
        self._pending.append(table)
        self._rows += table.num_rows
        while self._rows >= ROWS_PER_BATCH:
            self._emit(ROWS_PER_BATCH)

    def _emit(self, n: int) -> None:
        import pyarrow as pa

        joined = pa.concat_tables(self._pending)
        head = joined.slice(0, n)
        # every column copied into fresh buffers: a slice of a larger array writes other bytes than the same values
        # cut apart (string and list offsets), and the fingerprint must not depend on where the parts were cut
        self._writer.write_batch(pa.RecordBatch.from_arrays([pa.concat_arrays(column.chunks) for column in head.columns], schema=head.schema))
        rest = joined.slice(n)
        self._pending, self._rows = ([rest] if rest.num_rows else []), self._rows - n

    def hexdigest(self) -> str:
        if self._rows:
            self._emit(self._rows)
        self._writer.close()
        return self._sink.hash.hexdigest()


def table_fingerprint(table) -> str:
    """A hex digest of the table's schema and content (its record batches as Arrow IPC)."""
    fingerprint = Fingerprint(table.schema)
    fingerprint.add(table)
    return fingerprint.hexdigest()


def dataset_of(table, info=None):
    """datasets.Dataset(table, info) with table_fingerprint as its fingerprint."""
    import datasets

    return datasets.Dataset(table, info=info, fingerprint=table_fingerprint(table))


def save_splits(folder: Path, splits: dict[str, Iterable]) -> None:
    """Write what `datasets.DatasetDict(...).save_to_disk(folder)` writes for splits given as Arrow tables a part at
    a time (each split's parts share a schema; a split has at least one part, which may have no rows), holding one
    part at a time: one data file per part (`data-0000k-of-0000n.arrow`, written by datasets' ArrowWriter), and the
    state and info files datasets itself writes for a zero-row dataset of that schema, its file list and fingerprint
    (table_fingerprint of the whole split, as dataset_of gives it) set to those of the whole. `load_from_disk` reads
    it as the split that pa.concat_tables(parts) is."""
    import datasets
    from datasets.arrow_writer import ArrowWriter

    folder = Path(folder)
    folder.mkdir(parents=True)
    for name, parts in splits.items():
        where = folder / name
        where.mkdir()
        fingerprint, empty, files = None, None, []
        for part in parts:
            if fingerprint is None:
                fingerprint, empty = Fingerprint(part.schema), part.slice(0, 0)
            fingerprint.add(part)
            files.append(where / f"part-{len(files)}.arrow")
            writer = ArrowWriter(features=datasets.Features.from_arrow_schema(part.schema), path=str(files[-1]))
            writer.write_table(part)
            writer.finalize()
            writer.close()
        if fingerprint is None:
            raise ValueError(f"split {name} has no parts (give a zero-row table for an empty split)")
        datasets.Dataset(empty, fingerprint=fingerprint.hexdigest()).save_to_disk(str(where / "meta"))
        state = json.loads((where / "meta" / "state.json").read_text(encoding="utf-8"))
        names = [f"data-{k:05d}-of-{len(files):05d}.arrow" for k in range(len(files))]
        state["_data_files"] = [{"filename": n} for n in names]
        for path, n in zip(files, names):
            path.rename(where / n)
        (where / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
        (where / "meta" / "dataset_info.json").rename(where / "dataset_info.json")
        shutil.rmtree(where / "meta")
    (folder / "dataset_dict.json").write_text(json.dumps({"splits": list(splits)}), encoding="utf-8")
