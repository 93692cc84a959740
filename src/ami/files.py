"""Atomic file writes: a temporary file in the same folder, fsync, rename, fsync the folder.

Readers see either the old file or the whole new one, never a half-written file that looks whole;
a failure (disk full, quota, read-only folder, Ctrl-C) while writing removes the temporary file and
leaves the old file as it was. An `OSError` met while writing is one `FileWriteError` line naming
the path and the reason. The file gets the mode a new file gets from `open` (0o666 less the
umask), not the temporary file's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import IO

from ami.errors import FileWriteError


def temporary_name(name: str) -> str:
    """The name `atomic_path` writes `name`'s new contents under until it is whole."""
    return f".{name}.tmp-{os.getpid()}"


def is_temporary_of(entry: str, names: Collection[str]) -> bool:
    """Whether `entry` is an atomic write in progress (or cut off) of one of `names`."""
    stem, dot, pid = entry.rpartition(".tmp-")
    return bool(dot) and pid.isdigit() and stem.startswith(".") and stem[1:] in names


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; once the body is done, move it onto `path`.

    The body writes the temporary file (closing it before the block ends); then it is fsynced,
    renamed onto `path`, and the folder is fsynced so the rename survives a power cut. Whatever
    ends the body (an error, Ctrl-C), the temporary file is removed and `path` is untouched.

    Raises:
        FileWriteError: `path` is a folder, its folder cannot be made, or an `OSError` (ENOSPC,
            EDQUOT, EROFS, EACCES, ...) arose while writing, syncing or renaming.
    """
    path = Path(path)
    if path.is_dir():
        raise FileWriteError(f"{path} is a folder; give the path of a file to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileWriteError(f"cannot make the folder of {path}: {reason(exc)}") from exc
    tmp = path.with_name(temporary_name(path.name))
    try:
        yield tmp
        _fsync(tmp)
        os.chmod(tmp, _default_mode())  # temporary files may be created 0600
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except OSError as exc:
        raise FileWriteError(write_failure(path, exc)) from exc
    finally:
        with contextlib.suppress(OSError):  # cleaning up must not hide why writing failed
            tmp.unlink(missing_ok=True)


def write_failure(path: str | Path, error: OSError) -> str:
    """One line for `error` met while writing `path`: the reason, the path, what was kept."""
    return (
        f"{reason(error)} writing {path}; nothing was written there (an earlier file at that "
        "path is unchanged)"
    )


def reason(error: OSError) -> str:
    """The reason of an `OSError` in words, e.g. "no space left on device"."""
    text = error.strerror or str(error) or type(error).__name__
    return text[:1].lower() + text[1:]


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
