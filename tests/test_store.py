"""The store: versioned manifests read and written in one place, and the one atomic writer."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from cli_helpers import invoke, one_line_error
from fakes import prepared_manifest, write_run

from snekner.errors import ManifestError
from snekner.store.atomic import atomic_path, write_text
from snekner.store.manifests import RUN_MANIFEST, PreparedManifest, RunManifest, read_run_manifest
from snekner.store.runs import open_run

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def test_prepared_manifest_round_trips_and_keeps_the_labels_in_its_tagset():
    manifest = prepared_manifest(LABELS, lang="en", limit=None)
    data = manifest.to_dict()
    assert data["kind"] == "snekner.prepared" and data["format_version"] == 1
    assert data["tagset"]["labels"] == LABELS  # written for people; the source_ids order is what is read
    again = PreparedManifest.from_dict(json.loads(json.dumps(data)), path=None)
    assert again == manifest and again.labels == LABELS


def test_run_manifest_has_no_labels_of_its_own(tmp_path):
    write_run(tmp_path / "R", "R", LABELS)
    data = json.loads((tmp_path / "R" / RUN_MANIFEST).read_text())
    assert data["format_version"] == 2 and "labels" not in data
    assert open_run(str(tmp_path / "R")).labels == LABELS


def test_a_missing_run_says_where_it_looked_and_what_the_runs_folder_holds(tmp_path):
    from snekner.errors import RunNotFoundError

    runs = tmp_path / "runs"
    with pytest.raises(RunNotFoundError) as missing:
        open_run("R", runs)
    assert str(missing.value) == f"run R not found: looked for {runs / 'R'}; {runs}/ does not exist"
    for name in ["S", *(f"T{i:02}" for i in range(11))]:
        write_run(runs / name, name, LABELS)
    with pytest.raises(RunNotFoundError) as missing:
        open_run("G/seed-1", runs)
    assert missing.value.looked == [Path("G/seed-1"), runs / "G" / "seed-1"] and len(missing.value.known) == 12
    assert str(missing.value) == (f"run G/seed-1 not found: looked for G/seed-1 and {runs / 'G' / 'seed-1'}; {runs}/ holds 12 runs: "
                                  "S, T00, T01, T02, T03, T04, T05, T06, T07, T08, ...")


def test_version_1_run_manifest_is_read_and_its_label_copy_checked(tmp_path):
    path = write_run(tmp_path / "R", "R", LABELS)
    data = json.loads((path / RUN_MANIFEST).read_text())
    (path / RUN_MANIFEST).write_text(json.dumps({**data, "format_version": 1, "labels": LABELS}))
    assert read_run_manifest(path).labels == LABELS
    (path / RUN_MANIFEST).write_text(json.dumps({**data, "format_version": 1, "labels": LABELS[:3]}))
    with pytest.raises(ManifestError, match="lists labels that differ") as caught:
        read_run_manifest(path)
    assert caught.value.problem == "damaged" and caught.value.what == "run"


@pytest.mark.parametrize("change, fragments", [
    ({"format_version": 3}, ["format version 3", "reads 1, 2", "upgrade snekner"]),
    ({"format_version": 0}, ["format version 0", "make it again with this snekner"]),
    ({"kind": "snekner.prepared"}, ["is not a run manifest"]),
    ({"data_manifest": {"kind": "snekner.prepared", "format_version": 1}}, ["data manifest inside", "lacks dataset", "train it again"]),
    ({"status": "half-done"}, ["is damaged", "half-done"]),
])
def test_a_manifest_snekner_cannot_read_is_one_line(tmp_path, change, fragments):
    path = write_run(tmp_path / "runs" / "R", "R", LABELS)
    data = json.loads((path / RUN_MANIFEST).read_text())
    (path / RUN_MANIFEST).write_text(json.dumps({**data, **change}))
    one_line_error(invoke("card", "R", "--runs-dir", tmp_path / "runs"), *fragments)


def test_missing_fields_are_named(tmp_path):
    path = write_run(tmp_path / "R", "R", LABELS)
    data = json.loads((path / RUN_MANIFEST).read_text())
    del data["model"], data["options"]
    (path / RUN_MANIFEST).write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="lacks model, options"):
        RunManifest.from_dict(data, path / RUN_MANIFEST)


def test_atomic_path_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "out.txt"
    write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    folder = tmp_path / "folder"
    with atomic_path(folder, directory=True) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_path(folder, directory=True) as tmp:
            (tmp / "b").write_text("2")
            raise RuntimeError("killed")
    assert sorted(p.name for p in folder.iterdir()) == ["a"]
    with atomic_path(folder, directory=True) as tmp:
        (tmp / "c").write_text("3")
    assert sorted(p.name for p in folder.iterdir()) == ["c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "out.txt"]  # nothing left aside


def test_atomic_writes_take_the_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_text(tmp_path / "f", "x")
        with atomic_path(tmp_path / "d", directory=True):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755


@pytest.mark.parametrize("umask", [0o022, 0o077], ids=["umask-022", "umask-077"])
def test_what_a_writer_makes_private_takes_the_umask_permissions_too(tmp_path, umask):
    """A library that writes through its own temporary file (safetensors: 0600, then a rename) or makes private
    folders: what atomic_path puts in place still has the umask's modes; executables stay executable."""
    def private_file(path, text="x", mode=0o600):
        os.close(os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT, mode))
        os.replace(path.with_suffix(".tmp"), path)

    old = os.umask(umask)
    try:
        with atomic_path(tmp_path / "f") as tmp:
            private_file(tmp)
        with atomic_path(tmp_path / "d", directory=True) as tmp:
            (tmp / "sub").mkdir(mode=0o700)
            private_file(tmp / "sub" / "weights")
            private_file(tmp / "run", mode=0o700)
    finally:
        os.umask(old)
    found = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [tmp_path / "f", *(tmp_path / "d").rglob("*")]}
    assert found == {"f": 0o666 & ~umask, "sub": 0o777 & ~umask, "weights": 0o666 & ~umask, "run": 0o777 & ~umask}
