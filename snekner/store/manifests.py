"""Typed, versioned manifests: what produced a prepared dataset or a run, read and written here only.

Every artifact folder carries one JSON manifest (`snekner-prepared.json`, `snekner-run.json`)
with its `kind` and `format_version`. Reading one validates it: a file of another kind, of a
version this snekner does not know, or without a field snekner relies on is a one-line error
here, not a KeyError three modules away.

The labels live in one place: the tagset of the prepared manifest (its `source_ids`, in the
order of the new ids). A run's labels are its data manifest's; the `labels` list that version 1
run manifests also carried is checked against them on read and no longer written. The model's
own config.json holds them as id2label/label2id too, because transformers needs them there; it
is written from the same list.
"""
from __future__ import annotations

import datetime as _dt
import json
import platform
import sys
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar

from snekner import __version__
from snekner.errors import ManifestError, SneknerError
from snekner.ner.tagset import Tagset
from snekner.store.atomic import write_json

PREPARED_MANIFEST = "snekner-prepared.json"
RUN_MANIFEST = "snekner-run.json"
GROUP_MANIFEST = "snekner-group.json"
ADAPTED_MANIFEST = "snekner-adapted.json"


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def environment_versions() -> dict[str, str]:
    """Versions of what produced an artifact (only packages already imported are asked)."""
    versions = {"snekner": __version__, "python": platform.python_version()}
    for name in ("tensorflow", "transformers", "datasets", "tokenizers", "numpy", "pyarrow"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = getattr(module, "__version__", "?")
    return versions


def read_json(path: Path, what: str) -> Any:
    """The JSON of `what`'s manifest at `path` (what: "prepared dataset" or "run")."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise ManifestError(f"{what} manifest not found: {path}", path=path, what=what, problem="missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        reason = f"{e.msg}, line {e.lineno}" if isinstance(e, json.JSONDecodeError) else "not UTF-8"
        raise ManifestError(f"{what} manifest {path} is not valid JSON ({reason})", path=path, what=what, problem="damaged") from None


class Alignment(str, Enum):
    """Which sub-words of a word carry its label in training."""

    FIRST_SUBWORD = "first-subword"
    ALL_SUBWORDS = "all-subwords"  # later sub-words of a B-X word get I-X


class RunStatus(str, Enum):
    RUNNING = "running"  # being trained, or killed while it was (store.locks tells which)
    FINISHED = "finished"
    FAILED = "failed"  # stopped by an error it cannot train through (a NaN loss): `failures` says where


@dataclass(kw_only=True)
class SplitStats:
    sentences: int
    words: int = 0
    subwords: int | None = None
    truncated_sentences: int | None = None
    truncated_words: int | None = None  # words beyond max_length (no sub-word): eval counts them as O


def _required(data: dict, names: tuple[str, ...], path: Path, what: str) -> None:
    missing = [n for n in names if n not in data]
    if missing:
        raise ManifestError(f"{what} manifest {path} lacks {', '.join(missing)}", path=path, what=what, problem="damaged")


def _known(cls, data: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _plain(value: Any) -> Any:
    """A manifest field as JSON data."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Tagset):
        return value.to_manifest()
    if isinstance(value, SplitStats):
        return {k: v for k, v in asdict(value).items() if v is not None}
    if isinstance(value, PreparedManifest):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _manifest_dict(manifest, keep_none: tuple[str, ...] = ()) -> dict:
    """kind, format_version, then every field that is set (and those in keep_none even when None)."""
    data = {"kind": manifest.KIND, "format_version": manifest.VERSION}
    for f in fields(manifest):
        value = getattr(manifest, f.name)
        if value is not None or f.name in keep_none:
            data[f.name] = _plain(value)
    return data


def _check_kind(data: Any, path: Path, kind: str, versions: tuple[int, ...], what: str) -> None:
    if not isinstance(data, dict) or data.get("kind") != kind:
        raise ManifestError(f"{path} is not a {what} manifest (kind is not {kind!r})", path=path, what=what, problem="kind")
    version = data.get("format_version")
    if version not in versions:
        newer = isinstance(version, int) and version > max(versions)
        raise ManifestError(f"{what} manifest {path} has format version {version!r}, which this snekner ({__version__}) "
                            f"does not read (it reads {', '.join(map(str, versions))})", path=path, what=what, problem="version", newer=newer)


@dataclass(kw_only=True)
class PreparedManifest:
    """What `prep` made: the source, the tagset (the labels), the tokenizer and its settings, split sizes."""

    KIND: ClassVar[str] = "snekner.prepared"
    VERSION: ClassVar[int] = 1

    dataset: str
    tagset: Tagset
    tokenizer: str
    max_length: int
    alignment: Alignment
    splits: dict[str, SplitStats]
    created: str | None = None
    dataset_resolved: str | None = None
    dataset_layout: str | None = None
    lang: str | None = None
    languages_in_source: list[str] = field(default_factory=list)
    limit: int | None = None
    source_label_count: int | None = None
    tokenizer_class: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    note: str | None = None  # e.g. how a benchmark derived this folder from another
    source_labels: list[str] | None = None  # the source's label names, when it has them (string tags, ClassLabel, column files)
    scheme: str | None = None  # the tagging scheme the source was read in (converted to IOB2)

    @property
    def labels(self) -> list[str]:
        return self.tagset.labels

    def to_dict(self) -> dict:
        return _manifest_dict(self, keep_none=("lang", "limit"))

    @classmethod
    def from_dict(cls, data: Any, path: Path) -> PreparedManifest:
        what = "prepared dataset"
        _check_kind(data, path, cls.KIND, (1,), what)
        _required(data, ("dataset", "tagset", "tokenizer", "max_length", "alignment", "splits"), path, what)
        try:
            known = _known(cls, data)
            known["tagset"] = Tagset.from_manifest(data["tagset"])
            known["alignment"] = Alignment(data["alignment"])
            known["splits"] = {name: SplitStats(**_known(SplitStats, s)) for name, s in data["splits"].items()}
            manifest = cls(**known)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ManifestError(f"{what} manifest {path} is damaged ({type(e).__name__}: {e})", path=path, what=what, problem="damaged") from None
        except SneknerError as e:  # a tagset edited into one that is not valid
            raise ManifestError(f"{what} manifest {path} holds an invalid tagset ({e.message})", path=path, what=what, problem="damaged") from None
        if data["tagset"].get("labels") not in (None, manifest.labels):
            raise ManifestError(f"{what} manifest {path} lists labels that differ from its tagset's source_ids", path=path, what=what,
                                problem="damaged")
        return manifest


@dataclass(kw_only=True)
class RunManifest:
    """What `train` made: the run's name and status, its data (whose manifest holds the labels),
    model, options (as TrainOptions writes them), devices, versions, and once finished its result."""

    KIND: ClassVar[str] = "snekner.run"
    VERSION: ClassVar[int] = 2  # 2: no `labels` of its own (version 1 repeated the data manifest's)

    name: str
    status: RunStatus
    data: str
    data_manifest: PreparedManifest
    model: str
    options: dict[str, Any]
    created: str | None = None
    devices: dict[str, Any] | None = None
    versions: dict[str, str] = field(default_factory=dict)
    finished: str | None = None
    epochs_run: int | None = None
    stopped_early: bool | None = None
    best_epoch: int | None = None
    best_validation_f1: float | None = None
    timings: dict[str, Any] | None = None
    imbalance: dict[str, Any] | None = None  # with --class-weights or --oversample: label counts, weights, repeats
    failures: list[dict[str, Any]] = field(default_factory=list)  # each stop by an error: when, epoch, global_step, reason, options
    # the prepared data's content fingerprint per split (store.prepared.Prepared.fingerprint) when training started, so that
    # `eval` knows the data at `data` is still what the run was trained against; None: trained by a snekner that did not record
    # it (unknown, said so, not refused). Optional, so version 2 stands: an older snekner reading it ignores the field.
    data_fingerprint: dict[str, str] | None = None

    @property
    def labels(self) -> list[str]:
        return self.data_manifest.labels

    @property
    def is_finished(self) -> bool:
        return self.status == RunStatus.FINISHED

    def to_dict(self) -> dict:
        return _manifest_dict(self)

    @classmethod
    def from_dict(cls, data: Any, path: Path) -> RunManifest:
        what = "run"
        _check_kind(data, path, cls.KIND, (1, 2), what)
        _required(data, ("name", "status", "data", "data_manifest", "model", "options"), path, what)
        try:
            data_manifest = PreparedManifest.from_dict(data["data_manifest"], path)
        except ManifestError as e:
            raise ManifestError(f"the data manifest inside {path} cannot be read ({e})", path=path, what=what, problem="damaged") from None
        if data.get("labels") not in (None, data_manifest.labels):
            raise ManifestError(f"run manifest {path} lists labels that differ from its data manifest's", path=path, what=what, problem="damaged")
        try:
            known = _known(cls, data)
            known["data_manifest"] = data_manifest
            known["status"] = RunStatus(data["status"])
            return cls(**known)
        except (TypeError, ValueError) as e:
            raise ManifestError(f"run manifest {path} is damaged ({type(e).__name__}: {e})", path=path, what=what, problem="damaged") from None


@dataclass(kw_only=True)
class GroupManifest:
    """What `train --seeds` made: one run per seed of the same recipe, its members' folders inside the group's.

    Each member is a normal run (its own RunManifest, model, evaluations) named GROUP/seed-N; the group
    records the seeds, the members' folder names and the options they share (TrainOptions without the seed).
    """

    KIND: ClassVar[str] = "snekner.group"
    VERSION: ClassVar[int] = 1

    name: str
    data: str
    seeds: list[int]
    members: list[str]
    options: dict[str, Any]
    created: str | None = None
    versions: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return _manifest_dict(self)

    @classmethod
    def from_dict(cls, data: Any, path: Path) -> GroupManifest:
        what = "run group"
        _check_kind(data, path, cls.KIND, (1,), what)
        _required(data, ("name", "data", "seeds", "members", "options"), path, what)
        seeds, members = data["seeds"], data["members"]
        if (not isinstance(seeds, list) or not isinstance(members, list) or len(seeds) != len(members) or not seeds
                or not all(isinstance(x, int) for x in seeds) or not all(isinstance(m, str) and m and "/" not in m for m in members)):
            raise ManifestError(f"{what} manifest {path} is damaged (seeds and members must be lists of the same length)", path=path,
                                what=what, problem="damaged")
        return cls(**_known(cls, data))


@dataclass(kw_only=True)
class AdaptedModelManifest:
    """What `adapt` made: a model folder continued with masked-language-model training on some text.

    The folder is a model folder like a hub model's (config.json, weights, tokenizer) once `status` is
    finished; while it is running (or after a failure) it holds the checkpoints `adapt --resume` continues from.
    `head` says whether the base model's masked-LM head was loaded ("pretrained") or had to start random ("new":
    a checkpoint without one, such as a sentence-transformers encoder). `history`: one line per epoch (train loss,
    held-out masked-LM loss and perplexity); `validation_before`: the held-out figures of the base model.
    """

    KIND: ClassVar[str] = "snekner.adapted-model"
    VERSION: ClassVar[int] = 1

    status: RunStatus
    base_model: str
    text: dict[str, Any]
    options: dict[str, Any]
    head: str | None = None
    created: str | None = None
    finished: str | None = None
    devices: dict[str, Any] | None = None
    versions: dict[str, str] = field(default_factory=dict)
    sequences: dict[str, int] | None = None  # train / validation sub-word sequences
    validation_before: dict[str, float] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, Any] | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_finished(self) -> bool:
        return self.status == RunStatus.FINISHED

    def to_dict(self) -> dict:
        return _manifest_dict(self)

    @classmethod
    def from_dict(cls, data: Any, path: Path) -> AdaptedModelManifest:
        what = "adapted model"
        _check_kind(data, path, cls.KIND, (1,), what)
        _required(data, ("status", "base_model", "text", "options"), path, what)
        try:
            known = _known(cls, data)
            known["status"] = RunStatus(data["status"])
            return cls(**known)
        except (TypeError, ValueError) as e:
            raise ManifestError(f"adapted model manifest {path} is damaged ({type(e).__name__}: {e})", path=path, what=what,
                                problem="damaged") from None


def _read(directory: Path, filename: str, what: str) -> tuple[Path, Any]:
    directory = Path(directory)
    if not directory.is_dir():
        raise ManifestError(f"{what} {directory} does not exist", path=directory, what=what, problem="missing")
    path = directory / filename
    if not path.is_file():
        raise ManifestError(f"{directory} is not a {what} (no {filename} in it)", path=directory, what=what, problem="missing")
    return path, read_json(path, what)


def read_prepared_manifest(directory: Path) -> PreparedManifest:
    path, data = _read(directory, PREPARED_MANIFEST, "prepared dataset")
    return PreparedManifest.from_dict(data, path)


def read_run_manifest(directory: Path) -> RunManifest:
    path, data = _read(directory, RUN_MANIFEST, "run")
    return RunManifest.from_dict(data, path)


def read_group_manifest(directory: Path) -> GroupManifest:
    path, data = _read(directory, GROUP_MANIFEST, "run group")
    return GroupManifest.from_dict(data, path)


def read_adapted_manifest(directory: Path) -> AdaptedModelManifest:
    path, data = _read(directory, ADAPTED_MANIFEST, "adapted model")
    return AdaptedModelManifest.from_dict(data, path)


def write_adapted_manifest(directory: Path, manifest: AdaptedModelManifest) -> None:
    write_json(Path(directory) / ADAPTED_MANIFEST, manifest.to_dict())


def write_group_manifest(directory: Path, manifest: GroupManifest) -> None:
    write_json(Path(directory) / GROUP_MANIFEST, manifest.to_dict())


def write_prepared_manifest(directory: Path, manifest: PreparedManifest) -> None:
    write_json(Path(directory) / PREPARED_MANIFEST, manifest.to_dict())


def write_run_manifest(directory: Path, manifest: RunManifest) -> None:
    write_json(Path(directory) / RUN_MANIFEST, manifest.to_dict())
