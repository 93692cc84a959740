"""`MemoryReads`: everything `Memory` answers without writing (mixed into `Memory`).

Recall by embedding (through one in-memory `EmbeddingIndex` per model version, loaded on first
use and caught up with other connections' commits through `PRAGMA data_version`), labels, steps,
frames, episodes for replay, the graph's edges, and what a person inspects (stats, records, the
integrity check). It reads the connection and index cache that `Memory` owns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ami.errors import MemoryLookupError, ShapeError
from ami.memory.embedding_index import EmbeddingIndex
from ami.memory.frames import decode_frame
from ami.memory.schema import schema_version


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


class MemoryReads:
    """The reading half of `Memory`."""

    _db: sqlite3.Connection
    path: Path
    _indexes: dict[str, EmbeddingIndex]
    _synced: dict[str, int]

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
        return decode_frame(*row)

    def episode_arrays(self, episode: int) -> tuple[np.ndarray, np.ndarray]:
        """Frames `uint8 [L, h, w, 3]` and actions `float32 [L, A]` of an episode, for replay."""
        rows = self._db.execute(
            "SELECT s.action, f.height, f.width, f.pixels FROM steps s JOIN frames f "
            "ON f.step = s.id WHERE s.episode = ? ORDER BY s.t",
            (episode,),
        ).fetchall()
        if not rows:
            raise MemoryLookupError(f"episode {episode} has no remembered frames in {self.path}")
        frames = np.stack([decode_frame(h, w, blob) for _, h, w, blob in rows])
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
