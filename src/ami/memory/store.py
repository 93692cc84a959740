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
(≈ 8 ms at 1 M steps of D = 64 on this machine, see `benchmarks/memory_bench.py`).
"""

from __future__ import annotations

import sqlite3
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ami.errors import MemoryFormatError, MemoryLookupError, ShapeError
from ami.memory.embedding_index import EmbeddingIndex
from ami.memory.schema import SCHEMA_VERSION, migrate, schema_version, transaction

Synchronous = Literal["FULL", "NORMAL"]


@dataclass(frozen=True)
class Recalled:
    """A remembered moment returned by `recall`."""

    step_id: int
    distance: float
    episode: int
    t: int
    labels: tuple[str, ...]


@dataclass(frozen=True)
class EpisodeSteps:
    """The remembered steps of one episode in time order (`L` steps).

    Attributes:
        ids: step ids `int64 [L]`.
        t: step indices in the episode `int64 [L]`.
        actions: `float32 [L, A]`.
        embeddings: `float32 [L, D]`.
        model_versions: the model version of each embedding.
    """

    ids: np.ndarray
    t: np.ndarray
    actions: np.ndarray
    embeddings: np.ndarray
    model_versions: tuple[str, ...]


class Memory:
    """The persistent memory. Open with `Memory.open(path)`; use as a context manager."""

    def __init__(self, connection: sqlite3.Connection, path: Path, readonly: bool) -> None:
        self._db = connection
        self.path = path
        self.readonly = readonly
        self._indexes: dict[str, EmbeddingIndex] = {}
        self._synced: dict[str, int] = {}  # version -> `PRAGMA data_version` its index matches

    @classmethod
    def open(
        cls, path: str | Path, readonly: bool = False, synchronous: Synchronous = "FULL"
    ) -> Memory:
        """Open (creating and migrating if needed) the memory file at `path`.

        Args:
            path: the SQLite file.
            readonly: open for reading only (any number of readers beside one writer).
            synchronous: "FULL" (a commit survives a power cut) or "NORMAL" (a commit survives
                the process being killed; a power cut may roll back the last commits).

        Raises:
            MemoryFormatError: not a memory file, corrupt, or from a newer ami.
            MemoryLookupError: `readonly` and there is no file at `path`.
        """
        path = Path(path)
        if synchronous not in ("FULL", "NORMAL"):
            raise MemoryFormatError(f"synchronous must be FULL or NORMAL, got {synchronous!r}")
        if readonly and not path.is_file():
            raise MemoryLookupError(f"memory file not found: {path}")
        uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
        try:
            db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
            try:
                if not readonly:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute(f"PRAGMA synchronous={synchronous}")
                    migrate(db, str(path))
                else:
                    _check_version(db, path)
                db.execute("PRAGMA foreign_keys=ON")
            except BaseException:
                db.close()
                raise
        except sqlite3.DatabaseError as exc:
            raise MemoryFormatError(f"{path} is not a readable ami memory file ({exc})") from exc
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
    def begin_session(self, model_version: str, note: str = "") -> int:
        """A new session (one run of an agent); returns its id."""
        with transaction(self._db):
            cursor = self._db.execute(
                "INSERT INTO sessions(started, model_version, note) VALUES (?, ?, ?)",
                (time.time(), model_version, note),
            )
        return int(cursor.lastrowid or 0)

    def begin_episode(self, session: int, world: str) -> int:
        """A new episode of `session` in `world`; returns its id."""
        with transaction(self._db):
            cursor = self._db.execute(
                "INSERT INTO episodes(session, world, started) VALUES (?, ?, ?)",
                (session, world, time.time()),
            )
        return int(cursor.lastrowid or 0)

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
                            zlib.compress(np.ascontiguousarray(frames[i]).tobytes(), 1),
                        )
                        for i in range(n)
                    ),
                )
        index = self._indexes.get(model_version)
        if index is not None:
            index.append(np.asarray(ids, dtype=np.int64), embeddings)
        return ids

    def label(self, step: int, name: str) -> None:
        """Attach the label `name` to a remembered step."""
        if self._db.execute("SELECT 1 FROM steps WHERE id = ?", (step,)).fetchone() is None:
            raise MemoryLookupError(f"step {step} is not in the memory {self.path}")
        with transaction(self._db):
            self._db.execute(
                "INSERT INTO labels(step, name, created) VALUES (?, ?, ?)",
                (step, name, time.time()),
            )

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
            pixels = np.stack([_decode_frame(h, w, blob) for _, h, w, blob in chunk])
            z = np.ascontiguousarray(encode(pixels), dtype=np.float32)
            with transaction(self._db):
                self._db.executemany(
                    "UPDATE steps SET embedding = ?, model_version = ? WHERE id = ?",
                    ((z[i].tobytes(), model_version, chunk[i][0]) for i in range(len(chunk))),
                )
        self._indexes.clear()
        self._synced.clear()
        return len(rows)

    # ------------------------------------------------------------------------------- reading
    def recall(self, z: np.ndarray, k: int, model_version: str | None = None) -> list[Recalled]:
        """The `k` remembered steps nearest to `z [D]` (exact Euclidean), nearest first.

        Args:
            z: the query embedding `float32 [D]`.
            k: how many (fewer when the memory holds fewer).
            model_version: search the embeddings of this model; by default the newest version
                (that of the most recently remembered step). Versions are never mixed: their
                embedding spaces differ.
        """
        version = self.newest_model_version() if model_version is None else model_version
        if version is None:
            return []
        ids, distances = self._index(version).nearest(z, k)
        return [self._recalled(int(i), float(d)) for i, d in zip(ids, distances, strict=True)]

    def newest_model_version(self) -> str | None:
        """The model version of the most recently remembered step (None for an empty memory)."""
        row = self._db.execute(
            "SELECT model_version FROM steps ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else str(row[0])

    def find(self, name: str) -> list[int]:
        """Steps labelled `name` (oldest first)."""
        rows = self._db.execute(
            "SELECT step FROM labels WHERE name = ? ORDER BY id", (name,)
        ).fetchall()
        if not rows:
            known = [r[0] for r in self._db.execute("SELECT DISTINCT name FROM labels ORDER BY 1")]
            raise MemoryLookupError(f"no remembered moment is labelled {name!r}; labels: {known}")
        return [int(r[0]) for r in rows]

    def step(self, step: int) -> dict[str, Any]:
        """One remembered step: episode, t, action, embedding, model version, labels."""
        row = self._db.execute(
            "SELECT episode, t, action, embedding, model_version FROM steps WHERE id = ?", (step,)
        ).fetchone()
        if row is None:
            raise MemoryLookupError(f"step {step} is not in the memory {self.path}")
        return {
            "step": step,
            "episode": row[0],
            "t": row[1],
            "action": np.frombuffer(row[2], dtype=np.float32),
            "embedding": np.frombuffer(row[3], dtype=np.float32),
            "model_version": row[4],
            "labels": self._labels(step),
        }

    def frame(self, step: int) -> np.ndarray:
        """The remembered frame of `step`, `uint8 [h, w, 3]`."""
        row = self._db.execute(
            "SELECT height, width, pixels FROM frames WHERE step = ?", (step,)
        ).fetchone()
        if row is None:
            raise MemoryLookupError(f"step {step} has no frame in the memory {self.path}")
        return _decode_frame(*row)

    def episode_arrays(self, episode: int) -> tuple[np.ndarray, np.ndarray]:
        """Frames `uint8 [L, h, w, 3]` and actions `float32 [L, A]` of an episode, for replay."""
        rows = self._db.execute(
            "SELECT s.action, f.height, f.width, f.pixels FROM steps s JOIN frames f "
            "ON f.step = s.id WHERE s.episode = ? ORDER BY s.t",
            (episode,),
        ).fetchall()
        if not rows:
            raise MemoryLookupError(f"episode {episode} has no remembered frames in {self.path}")
        frames = np.stack([_decode_frame(h, w, blob) for _, h, w, blob in rows])
        actions = np.stack([np.frombuffer(a, dtype=np.float32) for a, *_ in rows])
        return frames, actions

    def steps(self, episode: int) -> EpisodeSteps:
        """Ids, t, actions and embeddings of every remembered step of `episode`, in time order."""
        rows = self._db.execute(
            "SELECT id, t, action, embedding, model_version FROM steps WHERE episode = ? "
            "ORDER BY t, id",
            (episode,),
        ).fetchall()
        if not rows:
            raise MemoryLookupError(f"episode {episode} has no remembered steps in {self.path}")
        sizes = {len(r[3]) for r in rows}
        if len(sizes) > 1:
            raise ShapeError(f"episode {episode} mixes embedding sizes {sorted(sizes)}; reembed it")
        return EpisodeSteps(
            ids=np.array([r[0] for r in rows], dtype=np.int64),
            t=np.array([r[1] for r in rows], dtype=np.int64),
            actions=np.stack([np.frombuffer(r[2], dtype=np.float32) for r in rows]),
            embeddings=np.stack([np.frombuffer(r[3], dtype=np.float32) for r in rows]),
            model_versions=tuple(str(r[4]) for r in rows),
        )

    def embeddings_by_episode(
        self, model_version: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every step of a model version: ids `[N]`, embeddings `[N, D]`, episodes and t `[N]`."""
        rows = self._db.execute(
            "SELECT id, episode, t FROM steps WHERE model_version = ? ORDER BY id", (model_version,)
        ).fetchall()
        index = self._index(model_version)
        meta = np.array(rows, dtype=np.int64).reshape(-1, 3)
        if not np.array_equal(meta[:, 0], np.sort(index.ids)):
            raise MemoryLookupError(f"memory {self.path} changed while it was read; read again")
        order = np.argsort(index.ids, kind="stable")
        return index.ids[order], index.matrix[order], meta[:, 1], meta[:, 2]

    def episode_ids(self, world: str | None = None) -> list[int]:
        """Every remembered episode id (of `world`, when given), oldest first."""
        if world is None:
            rows = self._db.execute("SELECT id FROM episodes ORDER BY id")
        else:
            rows = self._db.execute("SELECT id FROM episodes WHERE world = ? ORDER BY id", (world,))
        return [int(r[0]) for r in rows]

    def step_ids(self) -> list[int]:
        """Every remembered step id, oldest first."""
        return [int(r[0]) for r in self._db.execute("SELECT id FROM steps ORDER BY id")]

    def edges(self) -> list[tuple[int, int, str, float]]:
        """Every graph edge `(from_step, to_step, kind, cost)`."""
        return [tuple(r) for r in self._db.execute("SELECT * FROM edges")]  # type: ignore[misc]

    def stats(self) -> dict[str, Any]:
        """Counts, model versions (with their step counts), schema version and file sizes."""
        count = {
            table: int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            for table in ("sessions", "episodes", "steps", "frames", "labels", "nodes", "edges")
        }
        versions = dict(
            self._db.execute(
                "SELECT model_version, COUNT(*) FROM steps GROUP BY model_version ORDER BY MIN(id)"
            ).fetchall()
        )
        wal = self.path.with_name(self.path.name + "-wal")
        return {
            **count,
            "model_versions": versions,
            "schema_version": schema_version(self._db),
            "bytes": self.path.stat().st_size,
            "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        }

    def records(self, embeddings: bool = False) -> Iterator[dict[str, Any]]:
        """Every step as plain data, oldest first, for people to look inside.

        Each record holds step, episode, world, t, time, action, model version and labels, and
        the embedding when `embeddings`.
        """
        labels: dict[int, list[str]] = {}
        for step, name in self._db.execute("SELECT step, name FROM labels ORDER BY id"):
            labels.setdefault(int(step), []).append(str(name))
        rows = self._db.execute(
            "SELECT s.id, s.episode, e.world, s.t, s.time, s.action, s.embedding, s.model_version "
            "FROM steps s JOIN episodes e ON e.id = s.episode ORDER BY s.id"
        )
        for step, episode, world, t, when, action, embedding, version in rows:
            record = {
                "step": step,
                "episode": episode,
                "world": world,
                "t": t,
                "time": when,
                "action": np.frombuffer(action, dtype=np.float32).tolist(),
                "model_version": version,
                "labels": labels.get(step, []),
            }
            if embeddings:
                record["embedding"] = np.frombuffer(embedding, dtype=np.float32).tolist()
            yield record

    def integrity_check(self) -> str:
        """SQLite's `PRAGMA integrity_check` ("ok" when the file is sound)."""
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    # ------------------------------------------------------------------------------- internals
    def _next_id(self) -> int:
        return int(self._db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM steps").fetchone()[0])

    def _index(self, version: str) -> EmbeddingIndex:
        """The embedding index of `version`, loaded on first use, caught up with others' commits.

        Steps that other connections committed since are appended; a re-embedding (a count that
        no longer matches) reloads the index.
        """
        data_version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
        index = self._indexes.get(version)
        if index is not None and self._synced[version] != data_version:
            self._load(index, version, after=index.last_id)
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM steps WHERE model_version = ?", (version,)
            ).fetchone()
            if count != index.size:  # rows changed version or interleaved: start again
                index = None
        if index is None:
            row = self._db.execute(
                "SELECT LENGTH(embedding) FROM steps WHERE model_version = ? LIMIT 1", (version,)
            ).fetchone()
            index = EmbeddingIndex(0 if row is None else int(row[0]) // 4)
            self._load(index, version, after=0)
        self._indexes[version] = index
        self._synced[version] = data_version
        return index

    def _load(self, index: EmbeddingIndex, version: str, after: int) -> None:
        rows = self._db.execute(
            "SELECT id, embedding FROM steps WHERE model_version = ? AND id > ? ORDER BY id",
            (version, after),
        ).fetchall()
        if rows:
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            blob = b"".join(r[1] for r in rows)
            index.append(ids, np.frombuffer(blob, dtype=np.float32).reshape(len(rows), -1))

    def _labels(self, step: int) -> tuple[str, ...]:
        rows = self._db.execute("SELECT name FROM labels WHERE step = ? ORDER BY id", (step,))
        return tuple(r[0] for r in rows)

    def _recalled(self, step: int, distance: float) -> Recalled:
        episode, t = self._db.execute(
            "SELECT episode, t FROM steps WHERE id = ?", (step,)
        ).fetchone()
        return Recalled(step, distance, int(episode), int(t), self._labels(step))


def _decode_frame(height: int, width: int, blob: bytes) -> np.ndarray:
    return np.frombuffer(zlib.decompress(blob), dtype=np.uint8).reshape(height, width, 3)


def _check_version(db: sqlite3.Connection, path: Path) -> None:
    found = schema_version(db)
    if found != SCHEMA_VERSION:
        raise MemoryFormatError(
            f"memory {path} has schema version {found}, this ami reads {SCHEMA_VERSION}; open it "
            f"once for writing to migrate it"
            if found < SCHEMA_VERSION
            else f"memory {path} has schema version {found}; this ami reads up to {SCHEMA_VERSION}"
        )
