"""Every file the app writes is written whole or not at all: a temporary file beside the target,
flushed to disk, renamed over it in one step, and the folder's entry flushed too.

A crash, a kill or a full disk leaves either the old file or the whole new one, never half of
one; the temporary file is removed on any failure. Callers turn the ``OSError`` into their own
message (what was being written, and where).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def temporary_sibling(path: Path) -> Path:
    """A hidden, unique name in ``path``'s folder (same file system, so the rename is atomic)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


@contextlib.contextmanager
def atomic_write(path: Path, mode: str = "wb", *, encoding: str | None = None,
                 newline: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary file for writing; on a clean exit it replaces ``path`` whole.

    ``mode`` is ``"wb"`` or ``"w"`` (text, with ``encoding`` and ``newline`` as for ``open``).
    An exception inside the block leaves ``path`` untouched. A folder, device, pipe or socket
    at ``path`` is refused (OSError) before anything is written: renaming over one would
    replace it with a plain file.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes new files ('w' or 'wb'), not {mode!r}")
    path = Path(path)
    _refuse_special(path)
    tmp = temporary_sibling(path)
    try:
        with open(tmp, mode.replace("w", "x"), encoding=encoding, newline=newline) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # replaces a symlink at ``path`` itself, never the file it points to
        fsync_dir(path.parent)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _refuse_special(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "it is a folder", str(path))
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise OSError(errno.EEXIST, "it is a device, pipe or socket, not a file", str(path))


def write_json_atomic(path: Path, data: Any, *, indent: int | None = 2) -> None:
    with atomic_write(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=indent, ensure_ascii=False)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_write(path) as f:
        f.write(data)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk; a no-op where folders cannot be opened."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
