"""The one way snekner writes anything to disk: to a temporary path beside the target, then a rename.

An interrupted command therefore never leaves a half-written file or folder that a later
command would accept: the target is either the old version, whole, or the new one, whole.
Temporary paths start with a dot and end in `.partial`, so that nothing mistakes them for
artifacts. Files and folders get the permissions the umask gives (not mkstemp's 0600).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from snekner.errors import OutputExistsError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(final: Path, directory: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary file path (or an empty folder) beside `final`; when the block
    ends normally it replaces `final` in one rename, otherwise it is removed and `final` stays.

    A folder that already exists at `final` is moved aside first and deleted only once the new
    one is in place.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
        os.chmod(tmp, 0o777 & ~_umask())
    else:
        fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
        os.close(fd)
        tmp = Path(name)
        os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield tmp
        if directory and final.is_dir():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
            os.replace(final, old / "previous")
            try:
                os.replace(tmp, final)
            except BaseException:
                os.replace(old / "previous", final)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        raise


def check_output_free(final: Path, overwrite: bool, what: str) -> None:
    """Refuse to replace an existing artifact unless asked to (`what`: "prepared dataset", "run", ...)."""
    if Path(final).exists() and not overwrite:
        raise OutputExistsError(f"{what} {final} already exists", path=Path(final), what=what)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_lines(path: Path, lines: list[str]) -> None:
    write_text(path, "".join(line + "\n" for line in lines))
