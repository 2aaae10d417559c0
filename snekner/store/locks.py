"""Locks held for a command's life: one writer per run or prepared output, and readers that know it.

A lock is an `fcntl.flock` on a dotfile beside the artifact (runs/.NAME.lock, data/.OUT.lock). The
kernel drops it when its process ends, however it ends (kill -9 included), so a dead process never
leaves a lock behind: the next command simply takes it. Why not the `filelock` package: it holds the
same kind of lock, but has no shared mode and no way to say who holds it, and both are wanted here.

- exclusive: `train` (the run, or the group and each member), `prep` (its output folder). The holder
  writes its pid and what it does into the lock file, for the error a second writer gets.
- shared: commands that write into a finished run (`eval`, `card`, `push`): any number at once, but
  not while the run is being trained or replaced.
- probe (`holder`): readers of an unfinished run ask whether it is being trained right now.

The last holder removes the lock file; one left by a killed process stays until the next holder
is done (it holds no lock, only an old pid). Locks are per process and re-entrant within it: `train --seeds` holds its group and then each member.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from snekner.errors import ArtifactBusyError
from snekner.store.atomic import cannot_write

_held: dict[Path, int] = {}  # lock files this process holds -> nesting depth


@dataclass(frozen=True)
class Holder:
    """Who holds an exclusive lock: the pid and what it does ("train", "prep"), as the holder wrote them."""

    pid: int | None
    doing: str

    def describe(self) -> str:
        return f"{self.doing} (pid {self.pid})" if self.pid else self.doing


def lock_file(target: Path) -> Path:
    target = Path(target)
    return target.parent / f".{target.name}.lock"


def _read_holder(fd: int) -> Holder:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 200).decode("utf-8", "replace").split()
    pid = int(text[0]) if text and text[0].isdigit() else None
    return Holder(pid, text[1] if len(text) > 1 else "a command")


def _try(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


@contextlib.contextmanager
def hold(target: Path, what: str, doing: str, shared: bool = False) -> Iterator[None]:
    """Hold `target`'s lock (exclusive, or `shared`) until the block ends; ArtifactBusyError at once if it is taken.

    what: the artifact as errors name it ("run", "prepared dataset"); doing: what this process does ("train").
    """
    path = lock_file(target).resolve()
    if path in _held:  # this process holds it already (a group's members, a retried step)
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    fd = _acquire(path, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, what, target)
    try:
        if not shared:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {doing}\n".encode(), 0)
        _held[path] = 1
        try:
            yield
        finally:
            del _held[path]
            # the last holder removes the file, while it still holds the lock (see _acquire)
            if _try(fd, fcntl.LOCK_EX) and _same_file(fd, path):
                os.unlink(path)
    finally:
        os.close(fd)  # releases the lock


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _acquire(path: Path, mode: int, what: str, target: Path) -> int:
    """An open descriptor of `path` locked in `mode`. A lock taken on a file its last holder has just
    removed is worthless (the next command makes a new one), so that case opens the file again."""
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:  # a read-only file system, a file where the folder should be, a folder where the lock should be
            raise cannot_write(Path(target), e) from None
        if not _try(fd, mode):
            busy = _exclusive_holder(fd)
            os.close(fd)
            raise ArtifactBusyError(what, target, busy)
        if _same_file(fd, path):
            return fd
        os.close(fd)


def _exclusive_holder(fd: int) -> Holder | None:
    """The writer holding the lock of `fd`'s file, or None when only shared holders (readers) have it."""
    if _try(fd, fcntl.LOCK_SH):  # readers hold it, or it was freed just now
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    return _read_holder(fd)


def holder(target: Path) -> Holder | None:
    """Who is writing `target` right now (None: nobody, or only this process)."""
    path = lock_file(target)
    if not path.is_file() or path.resolve() in _held:
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        return _exclusive_holder(fd)
    finally:
        os.close(fd)
