"""`MemoryReads`: everything `Memory` answers without writing (mixed into `Memory`).

Recall by embedding (through one in-memory `EmbeddingIndex` per model version, loaded on first
use and caught up with other connections' commits through `PRAGMA data_version`), labels, steps,
frames, episodes for replay, the graph's edges, and what a person inspects (stats, records, the
integrity check). It reads the connection and index cache that `Memory` owns.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ami.errors import MemoryFormatError, MemoryLookupError, ShapeError
from ami.memory.embedding_index import EmbeddingIndex
from ami.memory.frames import decode_floats, decode_frame, stored_int
from ami.memory.sqlite import INTEGER_RANGE, translated


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
    readonly: bool
    _indexes: dict[str, EmbeddingIndex]
    _synced: dict[str, int]

    @translated
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

    @translated
    def newest_model_version(self) -> str | None:
        """The model version of the most recently remembered step (None for an empty memory)."""
        row = self._db.execute(
            "SELECT model_version FROM steps ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else str(row[0])

    @translated
    def find(self, name: str) -> list[int]:
        """Steps labelled `name` (oldest first)."""
        rows = self._db.execute(
            "SELECT step FROM labels WHERE name = ? ORDER BY id", (name,)
        ).fetchall()
        if not rows:
            known = [r[0] for r in self._db.execute("SELECT DISTINCT name FROM labels ORDER BY 1")]
            raise MemoryLookupError(f"no remembered moment is labelled {name!r}; labels: {known}")
        return [self._id(r[0]) for r in rows]

    @translated
    def step(self, step: int) -> dict[str, Any]:
        """One remembered step: episode, t, action, embedding, model version, labels."""
        row = self._row(
            step, "SELECT episode, t, action, embedding, model_version FROM steps WHERE id = ?"
        )
        if row is None:
            raise MemoryLookupError(f"step {step} is not in the memory {self.path}")
        where = self._where(step)
        return {
            "step": step,
            "episode": stored_int(row[0], where),
            "t": stored_int(row[1], where),
            "action": decode_floats(row[2], f"the action of {where}"),
            "embedding": decode_floats(row[3], f"the embedding of {where}"),
            "model_version": str(row[4]),
            "labels": self._labels(step),
        }

    @translated
    def frame(self, step: int) -> np.ndarray:
        """The remembered frame of `step`, `uint8 [h, w, 3]`."""
        row = self._row(step, "SELECT height, width, pixels FROM frames WHERE step = ?")
        if row is None:
            raise MemoryLookupError(f"step {step} has no frame in the memory {self.path}")
        return self._frame_of(step, *row)

    @translated
    def episode_arrays(self, episode: int) -> tuple[np.ndarray, np.ndarray]:
        """Frames `uint8 [L, h, w, 3]` and actions `float32 [L, A]` of an episode, for replay."""
        rows = self._db.execute(
            "SELECT s.id, s.action, f.height, f.width, f.pixels FROM steps s JOIN frames f "
            "ON f.step = s.id WHERE s.episode = ? ORDER BY s.t",
            (episode,),
        ).fetchall()
        if not rows:
            raise MemoryLookupError(f"episode {episode} has no remembered frames in {self.path}")
        steps = [self._id(r[0]) for r in rows]
        frames = [self._frame_of(step, *r[2:]) for step, r in zip(steps, rows, strict=True)]
        actions = [self._floats(step, "action", r[1]) for step, r in zip(steps, rows, strict=True)]
        return (
            self._stacked(f"episode {episode}", "frame", steps, frames),
            self._stacked(f"episode {episode}", "action", steps, actions),
        )

    @translated
    def steps(self, episode: int) -> EpisodeSteps:
        """Ids, t, actions and embeddings of every remembered step of `episode`, in time order."""
        rows = self._db.execute(
            "SELECT id, t, action, embedding, model_version FROM steps WHERE episode = ? "
            "ORDER BY t, id",
            (episode,),
        ).fetchall()
        if not rows:
            raise MemoryLookupError(f"episode {episode} has no remembered steps in {self.path}")
        ids = [self._id(r[0]) for r in rows]
        z = [self._floats(step, "embedding", r[3]) for step, r in zip(ids, rows, strict=True)]
        if len({len(v) for v in z}) > 1:
            raise ShapeError(
                f"episode {episode} mixes embedding sizes {sorted({len(v) for v in z})}; reembed it"
            )
        actions = [self._floats(step, "action", r[2]) for step, r in zip(ids, rows, strict=True)]
        return EpisodeSteps(
            ids=np.array(ids, dtype=np.int64),
            t=np.array([stored_int(r[1], self._where(r[0])) for r in rows], dtype=np.int64),
            actions=self._stacked(f"episode {episode}", "action", ids, actions),
            embeddings=np.stack(z),
            model_versions=tuple(str(r[4]) for r in rows),
        )

    @translated
    def embeddings_by_episode(
        self, model_version: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every step of a model version: ids `[N]`, embeddings `[N, D]`, episodes and t `[N]`."""
        rows = self._db.execute(
            "SELECT id, episode, t FROM steps WHERE model_version = ? ORDER BY id", (model_version,)
        ).fetchall()
        index = self._index(model_version)
        meta = np.array(
            [[i, stored_int(e, self._where(i)), stored_int(t, self._where(i))] for i, e, t in rows],
            dtype=np.int64,
        ).reshape(-1, 3)
        if not np.array_equal(meta[:, 0], np.sort(index.ids)):
            raise MemoryLookupError(f"memory {self.path} changed while it was read; read again")
        order = np.argsort(index.ids, kind="stable")
        return index.ids[order], index.matrix[order], meta[:, 1], meta[:, 2]

    @translated
    def episode_ids(self, world: str | None = None) -> list[int]:
        """Every remembered episode id (of `world`, when given), oldest first."""
        if world is None:
            rows = self._db.execute("SELECT id FROM episodes ORDER BY id")
        else:
            rows = self._db.execute("SELECT id FROM episodes WHERE world = ? ORDER BY id", (world,))
        return [self._id(r[0]) for r in rows]

    @translated
    def step_ids(self) -> list[int]:
        """Every remembered step id, oldest first."""
        return [self._id(r[0]) for r in self._db.execute("SELECT id FROM steps ORDER BY id")]

    @translated
    def edges(self) -> list[tuple[int, int, str, float]]:
        """Every graph edge `(from_step, to_step, kind, cost)`."""
        return [tuple(r) for r in self._db.execute("SELECT * FROM edges")]  # type: ignore[misc]

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
            index = EmbeddingIndex(0)  # the first rows loaded set the size
            self._load(index, version, after=0)
        self._indexes[version] = index
        self._synced[version] = data_version
        return index

    def _load(self, index: EmbeddingIndex, version: str, after: int) -> None:
        rows = self._db.execute(
            "SELECT id, embedding FROM steps WHERE model_version = ? AND id > ? ORDER BY id",
            (version, after),
        ).fetchall()
        if not rows:
            return
        sizes = {len(r[1]) if isinstance(r[1], bytes) else -1 for r in rows}
        if len(sizes) > 1 or min(sizes) % 4 or (index.size and sizes != {4 * index.dim}):
            self._refuse_sizes(version, rows, 4 * index.dim if index.size else None)
        ids = np.fromiter((self._id(r[0]) for r in rows), dtype=np.int64, count=len(rows))
        blob = b"".join(r[1] for r in rows)
        index.append(ids, np.frombuffer(blob, dtype=np.float32).reshape(len(rows), -1))

    def _refuse_sizes(self, version: str, rows: list[Any], held: int | None) -> None:
        """Raise naming the first step whose embedding is odd or differs from the most common."""
        for step, blob in rows:
            self._floats(step, "embedding", blob)  # raises for a blob that is no float32 vector
        sizes = Counter(len(blob) for _, blob in rows)
        size = sizes.most_common(1)[0][0] if held is None else held
        for step, blob in rows:
            found = len(blob) // 4
            if 4 * found != size:
                raise MemoryFormatError(
                    f"{self._where(step)} has an embedding of size {found} where the other steps "
                    f"of model version {version!r} have {size // 4}; the memory mixes embedding "
                    "sizes under one version, so recall would misalign: re-embed it (ami live) "
                    "or restore it from a copy"
                )

    def _labels(self, step: int) -> tuple[str, ...]:
        rows = self._db.execute("SELECT name FROM labels WHERE step = ? ORDER BY id", (step,))
        return tuple(str(r[0]) for r in rows)

    def _recalled(self, step: int, distance: float) -> Recalled:
        row = self._db.execute("SELECT episode, t FROM steps WHERE id = ?", (step,)).fetchone()
        where = self._where(step)
        if row is None:  # its embedding was read, its row is not found: a damaged index
            raise MemoryFormatError(f"{where} is damaged: it cannot be found by its id")
        episode, t = row
        return Recalled(
            step, distance, stored_int(episode, where), stored_int(t, where), self._labels(step)
        )

    def _row(self, step: int, query: str) -> tuple[Any, ...] | None:
        """The row `query` finds for `step` (None for an id no SQLite INTEGER can hold)."""
        if step not in INTEGER_RANGE:
            return None
        row: tuple[Any, ...] | None = self._db.execute(query, (step,)).fetchone()
        return row

    def _id(self, value: object) -> int:
        return stored_int(value, f"an id in memory {self.path}")

    def _where(self, step: object) -> str:
        return f"step {step} of memory {self.path}"

    def _floats(self, step: int, what: str, blob: object) -> np.ndarray:
        return decode_floats(blob, f"the {what} of {self._where(step)}")

    def _frame_of(self, step: int, height: object, width: object, blob: object) -> np.ndarray:
        return decode_frame(height, width, blob, self._where(step))

    def _stacked(self, owner: str, what: str, steps: list[int], arrays: list[Any]) -> Any:
        """`np.stack(arrays)`, refused naming the first step whose shape differs from the first.

        `owner` names what the steps are of, e.g. "episode 3".
        """
        for step, array in zip(steps, arrays, strict=True):
            if array.shape != arrays[0].shape:
                raise MemoryFormatError(
                    f"{owner} of memory {self.path} mixes {what} sizes: "
                    f"{arrays[0].shape} at step {steps[0]}, {array.shape} at step {step}"
                )
        return np.stack(arrays)
