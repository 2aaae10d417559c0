"""The one way snekner writes anything to disk: to a temporary path beside the target, then a rename.

An interrupted command therefore never leaves a half-written file or folder that a later
command would accept: the target is either the old version, whole, or the new one, whole.
Temporary paths start with a dot, carry the writer's pid and end in `.partial` (`.NAME.PID.XXXXXXXX.partial`,
XXXXXXXX: tempfile's eight random characters), so that nothing mistakes them for artifacts and
`remove_stale_partials` can tell those of dead processes (a kill -9 runs no clean-up) from those being
written. No artifact may have such a name (check_artifact_name; run names may not start with a dot at all),
so the clean-up removes only what snekner wrote. A folder replaces another in one
exchange (Linux renameat2 RENAME_EXCHANGE; two renames elsewhere). Files and folders get the
permissions the umask gives, whatever made them: not mkstemp's or mkdtemp's 0600 and 0700, nor the 0600 of a
library that writes through a temporary file of its own (safetensors' save_file).
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from snekner.errors import DiskFullError, OutputExistsError, SneknerError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def give_umask_modes(path: Path) -> None:
    """Give `path` and everything under it the mode open() and mkdir() would: 0o666 & ~umask for a file (0o777 for one
    that is executable), 0o777 & ~umask for a folder. Symbolic links are left alone (their targets are not ours)."""
    mask = _umask()
    inside = os.walk(path) if path.is_dir() and not path.is_symlink() else []  # os.walk does not follow links
    for item in [path, *(Path(root) / name for root, dirs, files in inside for name in [*dirs, *files])]:
        mode = item.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        wanted = (0o777 if stat.S_ISDIR(mode) or mode & 0o111 else 0o666) & ~mask
        if stat.S_IMODE(mode) != wanted:
            os.chmod(item, wanted)


@contextlib.contextmanager
def atomic_path(final: Path, directory: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary file path (or an empty folder) beside `final`; when the block
    ends normally it replaces `final` in one rename, otherwise it is removed and `final` stays.

    A folder that already exists at `final` is moved aside first and deleted only once the new
    one is in place.
    """
    final = Path(final)
    prefix = f".{final.name}.{os.getpid()}."
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        if directory:
            tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=PARTIAL, dir=final.parent))
        else:
            fd, name = tempfile.mkstemp(prefix=prefix, suffix=PARTIAL, dir=final.parent)
            os.close(fd)
            tmp = Path(name)
        give_umask_modes(tmp)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise
        raise cannot_write(final, e) from None
    try:
        yield tmp
        give_umask_modes(tmp)
        if directory and final.is_dir():
            replace_folder(tmp, final)
        else:
            os.replace(tmp, final)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        raise


PARTIAL = ".partial"
LOCK = ".lock"
# what atomic_path (and replace_folder, hub.hub_folder) name a temporary: .TARGET.PID.XXXXXXXX.partial, XXXXXXXX being
# the eight characters tempfile.mkstemp and mkdtemp draw from a-z, 0-9 and _
_PARTIAL_NAME = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.[a-z0-9_]{8}\.partial$")
# the longest name of a run or output: its temporary adds up to 26 characters (dots, a pid of up to 7 digits, 8 random
# characters and .partial) and a file name stops at 255 bytes on Linux file systems
MAX_NAME_BYTES = 200


def reserved_name(name: str) -> str | None:
    """Why `name` cannot name an artifact (a run, a prepared or exported folder, a file written beside others), or None.

    Names of snekner's own files beside artifacts are reserved, as git reserves `*.lock` and names starting with a
    dot: a temporary (.NAME.PID.XXXXXXXX.partial) or a lock (.NAME.lock) that the next command would remove or take
    for its own; and names too long for the temporary beside them."""
    if name.startswith(".") and (name.endswith(PARTIAL) or name.endswith(LOCK)):
        return f"{name!r} is a name snekner keeps for its own temporary and lock files (.NAME.lock, .NAME.PID.XXXXXXXX.partial)"
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        return (f"{name[:20]!r}... is {len(name.encode('utf-8', 'surrogateescape'))} bytes long; a name may have at most "
                f"{MAX_NAME_BYTES} (the temporary file beside it adds up to 26, and file names stop at 255)")
    return None


def check_artifact_name(path: Path | str, option: str = "out") -> None:
    """SneknerError naming `option` when the last part of `path` is a reserved name (see reserved_name)."""
    why = reserved_name(Path(path).name)
    if why is not None:
        raise SneknerError(why, fix="choose another {option}", option=option)


def cannot_write(path: Path, error: OSError) -> SneknerError:
    """A one-line error for an OSError writing beside `path`: a read-only file system, no permission, a name too long,
    a file where a folder should be."""
    where = error.filename or path
    if error.errno in (errno.ENOTDIR, errno.EEXIST):
        blocking = next((p for p in [Path(path), *Path(path).parents] if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            return SneknerError(f"cannot write {path}: {blocking} is a file, not a folder", fix="move it away, or write elsewhere")
    if error.errno == errno.EISDIR:
        return SneknerError(f"cannot write {path}: {where} is a folder, where snekner writes a file of its own",
                            fix="move that folder away")
    return SneknerError(f"cannot write {path}: {error.strerror or error} ({where})",
                        fix="write somewhere you may" if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM) else None)


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2); False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    AT_FDCWD = -100
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # a file system or kernel without it
        return False
    raise OSError(code, os.strerror(code), str(b))


def replace_folder(new: Path, final: Path) -> None:
    """Put folder `new` at `final` in place of the folder there, then delete the old one.

    With renameat2 the swap is one step, so `final` is at every moment the old folder or the new one;
    without it, two renames leave a moment in which `final` is missing and the old folder waits
    beside it (`.NAME.PID.XXXX.partial/previous`, removed by remove_stale_partials if the process dies then).
    """
    if _exchange(new, final):
        shutil.rmtree(new, ignore_errors=True)  # now the old folder
        return
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}.", suffix=PARTIAL, dir=final.parent))
    os.replace(final, old / "previous")
    try:
        os.replace(new, final)
    except BaseException:
        os.replace(old / "previous", final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_partials(folder: Path, recursive: bool = False, target: str | None = None) -> list[Path]:
    """Delete the temporary paths in `folder` (and, `recursive`, its sub-folders) whose writer has died
    (killed before it could clean up); returns them. Those of live processes are left alone, and so is
    anything not named as atomic_path names its temporaries. `target`: only the temporaries of that name
    (in a folder that is not snekner's own, such as the one an --out file is written to)."""
    folder = Path(folder)
    removed = []
    for root, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            match = _PARTIAL_NAME.match(name)
            if match and (target is None or match.group("target") == target) and not _alive(int(match.group("pid"))):
                path = Path(root) / name
                if name in dirs and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                removed.append(path)
        dirs[:] = [d for d in dirs if recursive and not d.endswith(PARTIAL)]
    return removed


def _no_space(error: BaseException) -> str | None:
    """What filled up, if `error` is a full disk: an OSError's file, or TensorFlow's message (its errors are not OSErrors)."""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return str(error.filename or "a file")
    text = str(error)
    if type(error).__module__.startswith("tensorflow") and "No space left on device" in text:
        # e.g. "{{function_node ..._device_/job:localhost/...}} /runs/T/checkpoints/ckpt-15_temp/part-0...; No space left on device"
        paths = [p for p in re.findall(r"(?:^|\s)(/[^\s;,'\"{}]+)", text.split("No space left on device")[0]) if ":" not in p]
        return re.sub(r"_temp/.*$", "", paths[-1]) if paths else "a file"  # TensorFlow's temporary name: the checkpoint it was
    return None


@contextlib.contextmanager
def disk_full_is_an_error(written: Path | None = None, writing: Path | None = None) -> Iterator[None]:
    """Turn a full disk inside the block into DiskFullError, after deleting `written` (what this command made, if anything).
    `writing`: what to name when the error does not say which file (pyarrow's, for one)."""
    try:
        yield
    except Exception as e:
        where = _no_space(e)
        if where is None:
            raise
        if where == "a file" and writing is not None:
            where = str(writing)
        if written is not None and Path(written).exists():
            shutil.rmtree(written, ignore_errors=True) if Path(written).is_dir() else Path(written).unlink()
        raise DiskFullError(where, removed=written if written is not None else None) from None


def check_output_free(final: Path, overwrite: bool, what: str) -> None:
    """Refuse to replace an existing artifact unless asked to (`what`: "prepared dataset", "run", ...), and a reserved name."""
    check_artifact_name(final)
    if Path(final).exists() and not overwrite:
        raise OutputExistsError(f"{what} {final} already exists", path=Path(final), what=what)


def check_output_file(path: Path, option: str = "out") -> Path:
    """A file a command may write (replacing one that exists): not a folder, in a folder that exists."""
    path = Path(path)
    check_artifact_name(path, option)
    if path.is_dir():
        raise SneknerError(f"{path} is a folder", fix="pass {option} a file name", option=option)
    if not path.parent.is_dir():
        raise SneknerError(f"folder {path.parent} does not exist", fix="create it or pass another {option}", option=option)
    return path


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_lines(path: Path, lines: list[str]) -> None:
    write_text(path, "".join(line + "\n" for line in lines))
