"""Opening a memory file at its exact path, and SQLite's errors as one-line `MemoryFormatError`s.

Paths reach SQLite as percent-encoded `file:` URIs (`Path.absolute().as_uri()`), so a `#`, `?`,
`%41`, a space or a non-ASCII letter is part of the file name, never a query or an escape. A
reader opens with `mode=ro`. SQLite reads a WAL file through its `-shm` index, which it must be
able to create beside the file; in a read-only folder or file system it cannot, so a memory with
no pending commits (no `-wal` file, or an empty one: the state its writer leaves on closing) is
opened `immutable=1` there (nothing can write it), and one whose `-wal` still holds commits is
refused with the reason rather than read without them.

Before SQLite touches a file it is checked to be one: an empty file is a new memory only when
creating, a file without the SQLite header or with a header cut short is refused as such.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

from ami.errors import MemoryFormatError, MemoryLookupError

HEADER = b"SQLite format 3\x00"
HEADER_BYTES = 100
INTEGER_RANGE = range(-(2**63), 2**63)  # what a SQLite INTEGER holds
READ = "SELECT COUNT(*) FROM sqlite_master"  # a reader's first read (it opens the -shm index)

F = TypeVar("F", bound=Callable[..., Any])


def uri(path: Path, **query: object) -> str:
    """The percent-encoded `file:` URI of `path` with `query` (e.g. `mode="ro"`)."""
    text = path.absolute().as_uri()
    return text + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def connect(path: Path, readonly: bool, create: bool) -> sqlite3.Connection:
    """An autocommit connection to the memory file `path`, which it has not changed yet.

    Raises:
        MemoryLookupError: there is no file at `path` (and not `create`), or no folder for it.
        MemoryFormatError: `path` is not a SQLite file, is cut short, or cannot be opened.
    """
    _check_file(path, readonly, create)
    with sqlite_errors(path, readonly):
        if not readonly:
            return _open(uri(path, mode="rwc"), READ)
        try:
            return _open(uri(path, mode="ro"), READ)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_CANTOPEN":
                raise
        return _open_immutable(path)


def memory_error(path: Path, exc: Exception, readonly: bool) -> MemoryFormatError:
    """SQLite's error `exc` met on the memory `path`, as one line saying what is wrong.

    `exc` is a `sqlite3.DatabaseError` or the `UnicodeDecodeError` of a damaged text column.
    """
    name = str(getattr(exc, "sqlite_errorname", ""))
    reason = str(exc).replace("\n", " ")
    damaged = name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in reason
    if damaged or isinstance(exc, UnicodeDecodeError):
        return MemoryFormatError(
            f"{path} is not a readable ami memory file: it is corrupt or truncated ({reason}); "
            "restore it from a copy"
        )
    if name.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_CANTOPEN", "SQLITE_AUTH")):
        if readonly and name.startswith("SQLITE_READONLY"):
            return MemoryFormatError(f"memory {path} was opened read-only; open it to write it")
        return MemoryFormatError(
            f"memory {path} cannot be {'read' if readonly else 'written'}: "
            f"{_permission_problem(path)} ({reason})"
        )
    if name == "SQLITE_FULL":
        return MemoryFormatError(f"the disk holding memory {path} is full ({reason}); free space")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return MemoryFormatError(f"memory {path} is locked by another writer ({reason}); retry")
    if name.startswith("SQLITE_IOERR"):
        return MemoryFormatError(f"memory {path}: the disk reported an I/O error ({reason})")
    if name.startswith("SQLITE_CONSTRAINT"):
        return MemoryFormatError(f"memory {path} refused the write ({reason})")
    return MemoryFormatError(f"{path} is not a readable ami memory file ({reason})")


@contextlib.contextmanager
def sqlite_errors(path: Path, readonly: bool) -> Iterator[None]:
    """SQLite errors met in the block become `memory_error`s (one line, naming the file)."""
    try:
        yield
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # a damaged text column: not UTF-8
        raise memory_error(path, exc, readonly) from exc


def translated(method: F) -> F:
    """Decorate a method of an object with `path` and `readonly`: its SQLite errors are one line.

    Generator methods are translated while they are iterated.
    """
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            with sqlite_errors(self.path, self.readonly):
                yield from method(self, *args, **kwargs)

        return cast(F, generator)

    @functools.wraps(method)
    def plain(self: Any, *args: Any, **kwargs: Any) -> Any:
        with sqlite_errors(self.path, self.readonly):
            return method(self, *args, **kwargs)

    return cast(F, plain)


def is_sqlite_file(path: Path) -> bool:
    """Whether `path` is a file that starts with SQLite's header (an ami memory, or another)."""
    try:
        with open(path, "rb") as file:
            return file.read(len(HEADER)) == HEADER
    except OSError:  # missing or unreadable: not a SQLite file that could be lost
        return False


def sibling(path: Path, suffix: str) -> Path:
    """SQLite's companion file of `path`: `suffix` is "-wal" or "-shm"."""
    return path.with_name(path.name + suffix)


def _open(address: str, first: str) -> sqlite3.Connection:
    """A connection to `address` that has run the statement `first` (closed if that fails)."""
    db = sqlite3.connect(address, uri=True, isolation_level=None, timeout=30)
    try:
        db.execute(first).fetchone()
    except BaseException:
        db.close()
        raise
    return db


def _open_immutable(path: Path) -> sqlite3.Connection:
    wal = sibling(path, "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise MemoryFormatError(
            f"memory {path} cannot be read here: {wal.name} holds commits not yet in the file "
            f"and SQLite cannot create {path.name}-shm to read them ({_permission_problem(path)});"
            " copy the memory's files to a writable folder"
        )
    return _open(uri(path, mode="ro", immutable=1), READ)


def _check_file(path: Path, readonly: bool, create: bool) -> None:
    if path.is_dir():
        raise MemoryFormatError(f"{path} is a folder, not a memory file; name the file in it")
    if not path.exists():
        if readonly or not create:
            raise MemoryLookupError(f"memory file not found: {path}")
        if not path.absolute().parent.is_dir():
            raise MemoryLookupError(f"the folder of memory {path} does not exist; create it")
        _check_writable(path)
        return
    try:
        with open(path, "rb") as file:
            head = file.read(HEADER_BYTES)
    except OSError as exc:
        raise MemoryFormatError(f"memory {path} cannot be read ({exc.strerror})") from exc
    if not head and (readonly or not create):
        raise MemoryFormatError(f"{path} is an empty file, not an ami memory; name a memory file")
    if head and not head.startswith(HEADER):
        raise MemoryFormatError(f"{path} is not a readable ami memory file (not a SQLite file)")
    if head and len(head) < HEADER_BYTES:
        raise MemoryFormatError(
            f"{path} is not a readable ami memory file: it is truncated ({len(head)} bytes, "
            f"shorter than SQLite's {HEADER_BYTES}-byte header); restore it from a copy"
        )
    if not readonly:
        _check_writable(path)


def _check_writable(path: Path) -> None:
    """A writer needs the file and its folder (SQLite creates `-wal` and `-shm` beside it)."""
    folder_ok = os.access(path.absolute().parent, os.W_OK)
    if not folder_ok or (path.exists() and not os.access(path, os.W_OK)):
        raise MemoryFormatError(f"memory {path} cannot be written: {_permission_problem(path)}")


def _permission_problem(path: Path) -> str:
    folder = path.absolute().parent
    if not os.access(folder, os.W_OK):
        return f"its folder {folder} is read-only (permission denied or a read-only file system)"
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is read-only (permission denied or a read-only file system)"
    return "permission denied"
