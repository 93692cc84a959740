"""`Memory`: the agent's persistent memory, one SQLite file in WAL mode.

Every step the agent lives is a row (time, action, embedding, model version) with its frame in a
`frames` table (zlib-1-compressed raw pixels: ≈ 0.3–1 KB for a 64×64 TwoRoom frame instead of
12 KB, several times faster to encode than PNG at a similar size; see `make bench`), grouped in
episodes and sessions. Labels name remembered moments ("door", "lava"). Embeddings carry the
model version that produced them; `reembed` recomputes them under a new model from the frames.

Durability (`synchronous`, chosen at `open`): with WAL, `FULL` (the default) fsyncs the log at
every commit, so a `remember` that returned survives a SIGKILL, an OS crash and a power cut;
`NORMAL` fsyncs only at checkpoints, so a returned commit survives a SIGKILL of the process but the
last commits may be rolled back (never half-applied) by a power cut. One writer and any number of
readers at once (readers open with `readonly=True` and see every committed batch).

Recall is exact: the embeddings of one model version are kept in memory (`EmbeddingIndex`,
loaded on first use, extended by every `remember`, caught up with commits of other connections
through `PRAGMA data_version`), so a query is one matrix-vector product and an `argpartition`
(≈ 7 ms at 1 M steps of D = 64 on this machine, see `benchmarks/memory.py`). One model version
has one embedding size: `remember` refuses embeddings of another size under a version the memory
already holds. The reading methods live in `MemoryReads` (reading.py), the frame codec in
frames.py.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from ami.errors import MemoryFormatError, MemoryLookupError, ShapeError
from ami.memory.embedding_index import EmbeddingIndex
from ami.memory.frames import encode_frame
from ami.memory.inspection import MemoryInspection
from ami.memory.reading import MemoryReads
from ami.memory.schema import check_readable, check_writable, migrate, transaction
from ami.memory.sqlite import INTEGER_RANGE, connect, sqlite_errors, translated

Synchronous = Literal["FULL", "NORMAL"]


class Memory(MemoryReads, MemoryInspection):
    """The persistent memory. Open with `Memory.open(path)`; use as a context manager."""

    def __init__(self, connection: sqlite3.Connection, path: Path, readonly: bool) -> None:
        self._db = connection
        self.path = path
        self.readonly = readonly
        self._indexes: dict[str, EmbeddingIndex] = {}
        self._synced: dict[str, int] = {}  # version -> `PRAGMA data_version` its index matches

    @classmethod
    def open(
        cls,
        path: str | Path,
        readonly: bool = False,
        synchronous: Synchronous = "FULL",
        create: bool = True,
    ) -> Memory:
        """Open (creating and migrating if needed) the memory file at `path`.

        Args:
            path: the SQLite file (any characters; it is never parsed as a URI).
            readonly: open for reading only (any number of readers beside one writer).
            synchronous: "FULL" (a commit survives a power cut) or "NORMAL" (a commit survives
                the process being killed; a power cut may roll back the last commits).
            create: when writing, create a new memory if there is none (else refuse).

        Raises:
            MemoryFormatError: not a memory file, corrupt, truncated, from an older ami (when
                `readonly`) or a newer one, or it cannot be read or written (permissions).
            MemoryLookupError: no file at `path` (when `readonly` or not `create`).
        """
        path = Path(path)
        if synchronous not in ("FULL", "NORMAL"):
            raise MemoryFormatError(f"synchronous must be FULL or NORMAL, got {synchronous!r}")
        db = connect(path, readonly, create)
        try:
            with sqlite_errors(path, readonly):
                if readonly:
                    check_readable(db, str(path))
                else:
                    check_writable(db, str(path), create)  # before anything is written
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute(f"PRAGMA synchronous={synchronous}")
                    migrate(db, str(path))
                db.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            db.close()
            raise
        return cls(db, path, readonly)

    @property
    def connection(self) -> sqlite3.Connection:
        """The SQLite connection (autocommit), for the memory's companion tables (decisions)."""
        return self._db

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------- writing
    @translated
    def begin_session(self, model_version: str, note: str = "") -> int:
        """A new session (one run of an agent); returns its id."""
        with transaction(self._db):
            cursor = self._db.execute(
                "INSERT INTO sessions(started, model_version, note) VALUES (?, ?, ?)",
                (time.time(), model_version, note),
            )
        return int(cursor.lastrowid or 0)

    @translated
    def begin_episode(self, session: int, world: str) -> int:
        """A new episode of `session` in `world`; returns its id."""
        with transaction(self._db):
            cursor = self._db.execute(
                "INSERT INTO episodes(session, world, started) VALUES (?, ?, ?)",
                (session, world, time.time()),
            )
        return int(cursor.lastrowid or 0)

    @translated
    def remember(
        self,
        episode: int,
        t: np.ndarray,
        actions: np.ndarray,
        embeddings: np.ndarray,
        model_version: str,
        frames: np.ndarray | None = None,
    ) -> list[int]:
        """Write N steps in one transaction; returns their ids.

        Args:
            episode: the episode they belong to.
            t: `int [N]` step indices in the episode.
            actions: `float32 [N, A]`.
            embeddings: `float32 [N, D]`.
            model_version: the model that produced the embeddings.
            frames: optional `uint8 [N, h, w, 3]`.
        """
        t = np.asarray(t, dtype=np.int64).reshape(-1)
        actions = np.ascontiguousarray(actions, dtype=np.float32)
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        n = t.shape[0]
        if actions.ndim != 2 or embeddings.ndim != 2 or len(actions) != n or len(embeddings) != n:
            raise ShapeError(
                f"remember expects t [N], actions [N, A], embeddings [N, D]; got {t.shape}, "
                f"{actions.shape}, {embeddings.shape}"
            )
        if frames is not None and (
            frames.ndim != 4 or len(frames) != n or frames.dtype != np.uint8
        ):
            raise ShapeError(f"frames must be uint8 [N={n}, h, w, 3], got {frames.shape}")
        now = time.time()
        with transaction(self._db):
            self._check_embedding_size(model_version, embeddings.shape[1])
            first = self._next_id()
            ids = list(range(first, first + n))
            self._db.executemany(
                "INSERT INTO steps(id, episode, t, time, action, embedding, model_version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        ids[i],
                        episode,
                        int(t[i]),
                        now,
                        actions[i].tobytes(),
                        embeddings[i].tobytes(),
                        model_version,
                    )
                    for i in range(n)
                ),
            )
            if frames is not None:
                self._db.executemany(
                    "INSERT INTO frames(step, height, width, pixels) VALUES (?, ?, ?, ?)",
                    (
                        (
                            ids[i],
                            frames.shape[1],
                            frames.shape[2],
                            encode_frame(frames[i]),
                        )
                        for i in range(n)
                    ),
                )
        index = self._indexes.get(model_version)
        if index is not None:
            index.append(np.asarray(ids, dtype=np.int64), embeddings)
        return ids

    @translated
    def label(self, step: int, name: str) -> None:
        """Attach the label `name` to a remembered step."""
        known = "SELECT 1 FROM steps WHERE id = ?"
        if step not in INTEGER_RANGE or self._db.execute(known, (step,)).fetchone() is None:
            raise MemoryLookupError(f"step {step} is not in the memory {self.path}")
        with transaction(self._db):
            self._db.execute(
                "INSERT INTO labels(step, name, created) VALUES (?, ?, ?)",
                (step, name, time.time()),
            )

    @translated
    def add_edges(self, edges: list[tuple[int, int, str, float]]) -> None:
        """Add graph edges `(from_step, to_step, kind, cost)`; kind is "lived" or "imagined"."""
        with transaction(self._db):
            self._db.executemany(
                "INSERT OR REPLACE INTO edges(from_step, to_step, kind, cost) VALUES (?, ?, ?, ?)",
                edges,
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO nodes(step) VALUES (?)",
                [(e[0],) for e in edges] + [(e[1],) for e in edges],
            )

    @translated
    def reembed(
        self,
        encode: Callable[[np.ndarray], np.ndarray],
        model_version: str,
        batch: int = 256,
    ) -> int:
        """Recompute every stored frame's embedding with `encode` under `model_version`.

        The old embeddings are replaced (a step has one embedding, tagged with the model that made
        it): recall under the old version no longer finds re-embedded steps, and steps without a
        frame keep their old embedding and version. Each batch is one transaction, so a crash
        leaves a mix of old and new versions that a second `reembed` completes. Returns the
        number of steps re-embedded.
        """
        rows = self._db.execute(
            "SELECT step, height, width, pixels FROM frames ORDER BY step"
        ).fetchall()
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            steps = [self._id(row[0]) for row in chunk]
            decoded = [self._frame_of(*row) for row in chunk]
            pixels = self._stacked("the frames", "frame", steps, decoded)
            z = np.ascontiguousarray(encode(pixels), dtype=np.float32)
            with transaction(self._db):
                self._db.executemany(
                    "UPDATE steps SET embedding = ?, model_version = ? WHERE id = ?",
                    ((z[i].tobytes(), model_version, chunk[i][0]) for i in range(len(chunk))),
                )
        self._indexes.clear()
        self._synced.clear()
        return len(rows)

    # ------------------------------------------------------------------------------- internals
    def _check_embedding_size(self, model_version: str, size: int) -> None:
        """Refuse embeddings of `size` where `model_version`'s steps already hold another size."""
        row = self._db.execute(
            "SELECT id, LENGTH(embedding) FROM steps WHERE model_version = ? LIMIT 1",
            (model_version,),
        ).fetchone()
        if row is not None and row[1] != 4 * size:
            raise ShapeError(
                f"embeddings of size {size} cannot join memory {self.path}: its steps of model "
                f"version {model_version!r} hold size {row[1] / 4:g} (step {row[0]}); remember "
                "them under another model version"
            )

    def _next_id(self) -> int:
        return int(self._db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM steps").fetchone()[0])
