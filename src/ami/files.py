"""Atomic file writes: a temporary file in the same folder, fsync, rename, fsync the folder.

Readers see either the old file or the whole new one, never a half-written file that looks whole;
a failure (or Ctrl-C) while writing removes the temporary file and leaves the old file as it was.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; once the body is done, move it onto `path`.

    The body writes the temporary file (closing it before the block ends); then it is fsynced,
    renamed onto `path`, and the folder is fsynced so the rename survives a power cut.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        _fsync(tmp)
        os.chmod(tmp, _default_mode())  # temporary files may be created 0600
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_with(path: str | Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Write `path` atomically by calling `write` on the open temporary file; return `path`."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        write(handle)
    return Path(path)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically; return `path`."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _default_mode() -> int:
    """The mode a new file gets from `open`: 0o666 less the process's umask (0o644 usually)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is atomic all the same
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
