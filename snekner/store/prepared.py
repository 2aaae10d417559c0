"""A prepared dataset on disk: its manifest, its tokenized splits and its tokenizer.

data/<name>/
  snekner-prepared.json   the PreparedManifest (source, tagset = labels, tokenizer, max length, ...)
  data/                   the tokenized DatasetDict in the layout of datasets' save_to_disk (load_from_disk reads it),
                          written a part at a time by snekner.data.arrow.save_splits
  tokenizer/              the tokenizer it was made with
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from snekner.errors import ManifestError, MissingSplitError
from snekner.ner.tagset import Tagset
from snekner.store.manifests import PREPARED_MANIFEST, PreparedManifest, read_prepared_manifest

SPLIT_ALIASES = {"val": "validation", "dev": "validation", "valid": "validation"}


def canonical_split(name: str) -> str:
    """train / validation / test, whatever a source or a user calls them (val, dev, valid)."""
    return SPLIT_ALIASES.get(name, name)


@dataclass
class Prepared:
    path: Path
    manifest: PreparedManifest
    dataset: object  # datasets.DatasetDict

    @property
    def tagset(self) -> Tagset:
        return self.manifest.tagset

    @property
    def labels(self) -> list[str]:
        return self.manifest.labels

    @property
    def splits(self):
        """The splits as a datasets.DatasetDict (input_ids, labels, ... per sentence)."""
        return self.dataset

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name} {len(split)}" for name, split in self.dataset.items())
        return (f"Prepared({str(self.path)!r}: {sizes}; {len(self.tagset.types)} types ({' '.join(self.tagset.types)}); "
                f"tokenizer {self.manifest.tokenizer})")

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(f"<tr><td>{escape(name)}</td><td>{len(split)}</td></tr>" for name, split in self.dataset.items())
        return (f"<p>prepared {escape(str(self.path))}: {len(self.tagset.types)} types ({escape(' '.join(self.tagset.types))}); "
                f"tokenizer {escape(str(self.manifest.tokenizer))}</p><table><thead><tr><th>split</th><th>sentences</th></tr>"
                f"</thead><tbody>{rows}</tbody></table>")

    @property
    def tokenizer_dir(self) -> Path:
        return self.path / "tokenizer"

    @property
    def fingerprint(self) -> dict[str, str]:
        """Each split's content fingerprint, as saved with it (data.arrow.save_splits: a hash of its rows; datasets'
        own for folders it saved): another prep into the same folder, from other data, gives others."""
        return {name: str(split._fingerprint) for name, split in self.dataset.items()}

    def split(self, name: str):
        name = canonical_split(name)
        if name not in self.dataset:
            raise MissingSplitError(f"prepared dataset {self.path} has no {name} split (it has: {', '.join(self.dataset)})",
                                    split=name, available=list(self.dataset))
        return self.dataset[name]


def load_prepared(path: Path) -> Prepared:
    import datasets

    manifest = read_prepared_manifest(path)
    try:
        dataset = datasets.load_from_disk(str(Path(path) / "data"))
    except Exception as e:  # datasets raises several types for a damaged folder
        raise ManifestError(f"prepared dataset {path} is damaged ({str(e).splitlines()[0]})", path=Path(path),
                            what="prepared dataset", problem="damaged") from None
    check_label_ids(dataset, len(manifest.labels), Path(path))
    return Prepared(Path(path), manifest, dataset)


def check_label_ids(dataset, n_labels: int, path: Path) -> None:
    """Every label id in the data (word tags and sub-word labels) names one of the manifest's labels."""
    import pyarrow.compute as pc

    for name, split in dataset.items():
        for column in ("ner_tags", "labels"):
            if column not in split.column_names:
                continue
            top = pc.max(pc.list_flatten(split.data.table.column(column))).as_py()
            if top is not None and top >= n_labels:
                raise ManifestError(f"split {name} of prepared dataset {path} has label id {top} in {column}, but its manifest "
                                    f"{PREPARED_MANIFEST} lists {n_labels} labels", path=path, what="prepared dataset", problem="damaged")
