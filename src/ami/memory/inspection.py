"""`MemoryInspection`: what a person looks at inside a memory (mixed into `Memory`).

Counts and file sizes (`stats`), every step as plain data (`records`, what `ami memory export`
writes) and SQLite's integrity check. Every value is read back checked (frames.py), and SQLite's
errors are one-line `MemoryFormatError`s (sqlite.py), so a damaged file is reported, not a
traceback.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ami.memory.frames import decode_floats, stored_float, stored_int
from ami.memory.schema import schema_version
from ami.memory.sqlite import sibling, translated


class MemoryInspection:
    """Stats, plain-data records and the integrity check of a memory."""

    _db: sqlite3.Connection
    path: Path
    readonly: bool

    @translated
    def stats(self) -> dict[str, Any]:
        """Counts, model versions (with their step counts), schema version and file sizes."""
        count = {
            table: int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            for table in ("sessions", "episodes", "steps", "frames", "labels", "nodes", "edges")
        }
        versions = {
            str(version): int(n)
            for version, n in self._db.execute(
                "SELECT model_version, COUNT(*) FROM steps GROUP BY model_version ORDER BY MIN(id)"
            )
        }
        wal = sibling(self.path, "-wal")
        return {
            **count,
            "model_versions": versions,
            "schema_version": schema_version(self._db),
            "bytes": self.path.stat().st_size,
            "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        }

    @translated
    def records(self, embeddings: bool = False) -> Iterator[dict[str, Any]]:
        """Every step as plain data, oldest first, for people to look inside.

        Each record holds step, episode, world, t, time, action, model version and labels, and
        the embedding when `embeddings`.
        """
        labels: dict[int, list[str]] = {}
        for step, name in self._db.execute("SELECT step, name FROM labels ORDER BY id"):
            labels.setdefault(stored_int(step, f"a label of memory {self.path}"), []).append(
                str(name)
            )
        rows = self._db.execute(
            "SELECT s.id, s.episode, e.world, s.t, s.time, s.action, s.embedding, s.model_version "
            "FROM steps s JOIN episodes e ON e.id = s.episode ORDER BY s.id"
        )
        for step, episode, world, t, when, action, embedding, version in rows:
            where = f"step {step} of memory {self.path}"
            record = {
                "step": step,
                "episode": stored_int(episode, where),
                "world": str(world),
                "t": stored_int(t, where),
                "time": stored_float(when, where),
                "action": decode_floats(action, f"the action of {where}").tolist(),
                "model_version": str(version),
                "labels": labels.get(step, []),
            }
            if embeddings:
                record["embedding"] = decode_floats(embedding, f"the embedding of {where}").tolist()
            yield record

    @translated
    def integrity_check(self) -> str:
        """SQLite's `PRAGMA integrity_check` ("ok" when the file is sound)."""
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])
