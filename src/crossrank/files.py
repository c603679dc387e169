"""Atomic writes, one helper for all of them: an output is built under a temporary name beside its final one and
put in place by a rename, so a crash never leaves a truncated file or half a folder that looks complete.

A folder that already exists is swapped with the new one in one step (Linux ``renameat2(RENAME_EXCHANGE)``),
so there is no moment without a complete copy at the final path; where the kernel cannot swap, the old copy
is moved aside and the new one moved in (two renames, microseconds apart) before the old one is deleted.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crossrank.errors import CrossrankError

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, inf) replaced by ``None``, so it is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux ``renameat2``); False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(tmp: Path, dest: Path) -> Path | None:
    """Put the finished ``tmp`` at ``dest`` without a moment of no ``dest``; returns where the previous folder
    now is (to delete), or None."""
    if not tmp.is_dir() or not dest.exists():
        os.replace(tmp, dest)  # a file (atomic on POSIX), or a folder where there was none
        return None
    if _exchange(tmp, dest):
        return tmp  # it holds the previous folder now
    old = dest.with_name(f".{dest.name}.{os.getpid()}.old")
    os.rename(dest, old)
    os.rename(tmp, dest)
    return old


def move_into_place(built: Path, dest: Path) -> None:
    """A finished folder built elsewhere on the same file system (under a name known only once it is built, as a
    cache keyed by files the build downloads) put at ``dest`` in one step; an earlier ``dest`` is replaced."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    previous = _swap_in(built, dest)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clear_leftovers(dest: Path) -> None:
    """Remove the temporary and previous copies that processes which died left beside ``dest``."""
    for path in [*dest.parent.glob(f".{dest.name}.*.tmp"), *dest.parent.glob(f".{dest.name}.*.old")]:
        pid = path.name[len(dest.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            _remove(path)


def _write_error(dest: Path, tmp: Path, e: OSError) -> str:
    """One line naming ``dest``, and the other file when the failure was there (a source that vanished)."""
    other = e.filename and not str(e.filename).startswith(str(tmp)) and str(e.filename) != str(dest)
    return f"{dest}: not written: {e.filename}: {e.strerror or e}" if other else \
        f"{dest}: cannot write ({e.strerror or e})"


@contextlib.contextmanager
def atomic_path(dest: str | Path, folder: bool = False) -> Iterator[Path]:
    """A temporary path beside ``dest`` to build the output in (a file, or with ``folder`` an empty folder);
    when the block ends it replaces ``dest``; when the block fails it is removed and ``dest`` is untouched.
    A write that fails for want of space or permission becomes one line naming ``dest``. What a killed process
    left beside ``dest`` is removed first."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(dest)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")  # per process: two writers never share one
    _remove(tmp)
    if folder:
        tmp.mkdir()
    try:
        yield tmp
        previous = _swap_in(tmp, dest)
    except OSError as e:
        _remove(tmp)
        raise CrossrankError(_write_error(dest, tmp, e)) from None
    except BaseException:
        _remove(tmp)
        raise
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)  # the new copy is in place: this is only cleaning up


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def file_stamp(path: Path | None) -> list[object] | None:
    """A file's path, size and modification time, the part of a cache key that changes when the file does (None:
    no such file)."""
    if path is None or not path.is_file():
        return None
    return [str(path), path.stat().st_size, path.stat().st_mtime_ns]


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (flushed to disk before the rename)."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    return Path(path)


def write_json(path: str | Path, payload: Any) -> Path:
    """Strict JSON (no NaN: missing values are ``null``), written atomically."""
    return write_text(path, json.dumps(json_safe(payload), indent=2, allow_nan=False) + "\n")


def cache_root() -> Path:
    """Where crossrank keeps what it builds (pair sets, BM25 indexes, generated data): ``$CROSSRANK_CACHE``, else
    ``~/.cache/crossrank`` (the configs' ``paths.cache_dir``; the ``crossrank`` commands' default)."""
    import os

    return Path(os.environ.get("CROSSRANK_CACHE") or Path(os.environ.get("HOME", ".")) / ".cache" / "crossrank")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if need be) for the block: processes that build the same cached
    thing (DDP ranks on a cold cache, two runs) take turns, and the later ones find it built."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
