"""The memory's SQLite schema and its migrations.

`PRAGMA user_version` holds the schema version. Opening a file migrates it forward, one step per
migration, all in one transaction; a file from a newer ami is refused. Each migration is a list of
SQL statements and is never edited once released: changes are new migrations.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

from ami.errors import MemoryFormatError

# Version 1: sessions, episodes, steps (embedding and action as float32 blobs), frames, labels.
V1 = [
    """CREATE TABLE sessions (
        id INTEGER PRIMARY KEY, started REAL NOT NULL, model_version TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '')""",
    """CREATE TABLE episodes (
        id INTEGER PRIMARY KEY, session INTEGER NOT NULL REFERENCES sessions(id),
        world TEXT NOT NULL, started REAL NOT NULL)""",
    """CREATE TABLE steps (
        id INTEGER PRIMARY KEY, episode INTEGER NOT NULL REFERENCES episodes(id),
        t INTEGER NOT NULL, time REAL NOT NULL, action BLOB NOT NULL, embedding BLOB NOT NULL,
        model_version TEXT NOT NULL)""",
    """CREATE TABLE frames (
        step INTEGER PRIMARY KEY REFERENCES steps(id), height INTEGER NOT NULL,
        width INTEGER NOT NULL, pixels BLOB NOT NULL)""",
    """CREATE TABLE labels (
        id INTEGER PRIMARY KEY, step INTEGER NOT NULL REFERENCES steps(id), name TEXT NOT NULL,
        created REAL NOT NULL)""",
    "CREATE INDEX steps_by_episode ON steps(episode, t)",
    "CREATE INDEX labels_by_name ON labels(name)",
]

# Version 2: the graph of places (nodes are remembered steps, edges lived or imagined), and an
# index to load one model version's embeddings quickly.
V2 = [
    """CREATE TABLE edges (
        from_step INTEGER NOT NULL REFERENCES steps(id),
        to_step INTEGER NOT NULL REFERENCES steps(id),
        kind TEXT NOT NULL CHECK (kind IN ('lived', 'imagined')), cost REAL NOT NULL,
        PRIMARY KEY (from_step, to_step, kind))""",
    "CREATE TABLE nodes (step INTEGER PRIMARY KEY REFERENCES steps(id))",
    "CREATE INDEX steps_by_model ON steps(model_version, id)",
]

# Version 3: the decisions the agent took at its decision points (which mode chose, from which
# observation, towards which goal, the chosen plan), so that the fast actor can be distilled from
# the planner's own decisions. Frames are zlib-compressed raw pixels, as in `frames`.
V3 = [
    """CREATE TABLE decisions (
        id INTEGER PRIMARY KEY, episode INTEGER NOT NULL REFERENCES episodes(id),
        t INTEGER NOT NULL, mode TEXT NOT NULL CHECK (mode IN ('plan', 'act')),
        plan BLOB NOT NULL, plan_steps INTEGER NOT NULL, energy REAL,
        height INTEGER NOT NULL, width INTEGER NOT NULL, observation BLOB NOT NULL,
        goal BLOB NOT NULL)""",
    "CREATE INDEX decisions_by_mode ON decisions(mode, id)",
]

MIGRATIONS: list[list[str]] = [V1, V2, V3]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(connection: sqlite3.Connection) -> int:
    """The file's schema version (0 for a new, empty file)."""
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def check_readable(connection: sqlite3.Connection, path: str) -> None:
    """Refuse, in one line, a file a reader cannot read as a memory of this schema version.

    Only an intact memory of an older schema (its tables there, SQLite's `quick_check` ok) is
    told to be opened for writing to migrate it; a damaged one is called damaged.

    Raises:
        MemoryFormatError: not a memory, damaged, from an older ami (migrate) or a newer one.
    """
    found = schema_version(connection)
    if found > SCHEMA_VERSION:
        raise MemoryFormatError(
            f"memory {path} has schema version {found}; this ami reads up to {SCHEMA_VERSION} "
            f"(upgrade ami)"
        )
    if found == SCHEMA_VERSION:
        return
    _check_not_foreign(connection, path, found)
    if found == 0:
        raise MemoryFormatError(f"{path} is an empty SQLite database, not an ami memory")
    _check_intact(connection, path, found)
    raise MemoryFormatError(
        f"memory {path} has schema version {found}, this ami reads {SCHEMA_VERSION}; open it "
        f"once for writing to migrate it"
    )


def check_writable(connection: sqlite3.Connection, path: str, create: bool) -> None:
    """Refuse to migrate a file that is not an ami memory (or, unless `create`, a new one).

    Raises:
        MemoryFormatError: another program's SQLite database, a damaged memory (its schema
            version or, for an older schema, its pages), or (not `create`) an empty database.
    """
    found = schema_version(connection)
    _check_not_foreign(connection, path, found)
    if found == 0 and not create:
        raise MemoryFormatError(f"{path} is an empty SQLite database, not an ami memory")
    if 0 < found < SCHEMA_VERSION:  # never migrate a damaged file
        _check_intact(connection, path, found)


def tables_of(version: int) -> list[str]:
    """The tables a memory of schema `version` holds."""
    statements = [s for migration in MIGRATIONS[:version] for s in migration]
    return [s.split()[2] for s in statements if s.startswith("CREATE TABLE")]


def _check_not_foreign(connection: sqlite3.Connection, path: str, found: int) -> None:
    tables = _tables(connection)
    if found == 0 and tables & set(tables_of(SCHEMA_VERSION)):
        raise MemoryFormatError(
            f"{path} is not a readable ami memory file: it is damaged (it holds ami's tables "
            "but its schema version reads 0); restore it from a copy"
        )
    if found == 0 and tables:
        raise MemoryFormatError(
            f"{path} is a SQLite database of another program (tables {sorted(tables)[:5]}), "
            "not an ami memory; name a memory file"
        )


def _check_intact(connection: sqlite3.Connection, path: str, found: int) -> None:
    """Refuse a memory of schema `found` whose tables are missing or that SQLite finds damaged."""
    check = str(connection.execute("PRAGMA quick_check").fetchone()[0])
    missing = set(tables_of(found)) - _tables(connection)
    if check != "ok" or missing:
        problem = f"SQLite's check: {check}" if check != "ok" else f"no table {sorted(missing)}"
        raise MemoryFormatError(
            f"{path} is not a readable ami memory file: it is damaged ({problem}); restore it "
            "from a copy"
        )


def _tables(connection: sqlite3.Connection) -> set[str]:
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(r[0]) for r in rows}


def migrate(connection: sqlite3.Connection, path: str) -> int:
    """Bring the schema up to `SCHEMA_VERSION` in one transaction; return the version found.

    Raises:
        MemoryFormatError: the file is from a newer ami.
    """
    found = schema_version(connection)
    if found > SCHEMA_VERSION:
        raise MemoryFormatError(
            f"memory {path} has schema version {found}; this ami reads up to {SCHEMA_VERSION} "
            f"(upgrade ami)"
        )
    if found == SCHEMA_VERSION:
        return found
    with transaction(connection):  # all migrations or none
        for statements in MIGRATIONS[found:]:
            for statement in statements:
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return found


@contextlib.contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` … `COMMIT` (or `ROLLBACK` on error) on an autocommit connection."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
