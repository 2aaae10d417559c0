"""Self-describing artifacts on disk: JSON manifests and atomic writes.

Every file or directory snekner produces is written to a temporary path beside its final
place and renamed into place, so an interrupted command never leaves a half-written artifact
that a later command would accept.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

from snekner import __version__
from snekner.errors import SneknerError

PREPARED_MANIFEST = "snekner-prepared.json"
RUN_MANIFEST = "snekner-run.json"
PREPARED_KIND = "snekner.prepared"
RUN_KIND = "snekner.run"


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def write_text(path: Path, text: str) -> None:
    """Write text atomically (temp file in the same directory, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically."""
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_lines(path: Path, lines: list[str]) -> None:
    """Write text lines atomically."""
    write_text(path, "".join(line + "\n" for line in lines))


def read_json(path: Path, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise SneknerError(f"{what} not found: {path}") from None
    except json.JSONDecodeError as e:
        raise SneknerError(f"{what} {path} is not valid JSON ({e.msg}, line {e.lineno}); delete it and re-create it") from None


def check_output_free(final: Path, overwrite: bool, what: str) -> None:
    if final.exists() and not overwrite:
        raise SneknerError(f"{what} {final} already exists; pass --overwrite to replace it, or choose another --out/--name")


@contextlib.contextmanager
def atomic_directory(final: Path, overwrite: bool, what: str) -> Iterator[Path]:
    """Yield a fresh temporary directory; on success it replaces `final` in one rename.

    On failure the temporary directory is removed and `final` (if any) is untouched.
    """
    final = Path(final)
    check_output_free(final, overwrite, what)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def environment_versions() -> dict[str, str]:
    """Versions of what produced an artifact (only packages already imported are asked)."""
    versions = {"snekner": __version__, "python": platform.python_version()}
    for name in ("tensorflow", "transformers", "datasets", "tokenizers", "numpy", "pyarrow"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = getattr(module, "__version__", "?")
    return versions


def load_manifest(directory: Path, filename: str, kind: str, what: str, fix: str) -> dict:
    directory = Path(directory)
    if not directory.is_dir():
        raise SneknerError(f"{what} {directory} does not exist; {fix}")
    path = directory / filename
    if not path.is_file():
        raise SneknerError(f"{directory} is not a {what} (no {filename} in it); {fix}")
    manifest = read_json(path, f"{what} manifest")
    if not isinstance(manifest, dict) or manifest.get("kind") != kind:
        raise SneknerError(f"{path} is not a {what} manifest (kind is not {kind!r}); {fix}")
    return manifest
