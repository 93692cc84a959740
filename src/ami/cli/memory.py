"""`ami memory stats|recall|label|export`: look inside an agent's persistent memory.

Mounted in `ami.cli` with `app.add_typer(memory_app, name="memory")`. Errors a user can cause
(missing or corrupt file, unknown step) are `AmiError`s; `ami.cli.main` prints their one line and
exits 2. A file that is damaged past its header surfaces as SQLite errors mid-command; the memory
turns them into the same one-line `MemoryFormatError`. No command creates a memory (`label` on a
missing file is an error), and `export` never writes over the memory, its -wal/-shm, a folder or
any SQLite file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ami.files import atomic_path
from ami.memory import Memory, MemoryFormatError
from ami.memory.sqlite import is_sqlite_file, sibling

memory_app = typer.Typer(
    no_args_is_help=True,
    help="Look inside a memory file: counts, nearest remembered moments, labels, export.",
)
PathArgument = Annotated[Path, typer.Argument(help="The memory file (SQLite).")]


def opened(path: Path, readonly: bool = True) -> Memory:
    """The memory at `path`; a writer never creates one (a missing file is an error)."""
    return Memory.open(path, readonly=readonly, create=False)


@memory_app.command()
def stats(path: PathArgument) -> None:
    """Sessions, episodes, steps, labels, graph size, model versions and file size."""
    with opened(path) as memory:
        for key, value in memory.stats().items():
            typer.echo(f"{key}: {value}")


@memory_app.command()
def recall(
    path: PathArgument,
    step: Annotated[int, typer.Option(help="A remembered step whose embedding is the query.")],
    k: Annotated[int, typer.Option(min=1, help="How many nearest moments.")] = 5,
) -> None:
    """The remembered moments nearest (in embedding) to a remembered step, itself first."""
    with opened(path) as memory:
        query = memory.step(step)
        table = Table(title=f"nearest to step {step} (model {query['model_version']})")
        for column in ("step", "distance", "episode", "t", "labels"):
            table.add_column(column)
        for hit in memory.recall(query["embedding"], k, query["model_version"]):
            table.add_row(
                str(hit.step_id),
                f"{hit.distance:.4f}",
                str(hit.episode),
                str(hit.t),
                ", ".join(hit.labels),
            )
        Console(width=100).print(table)


@memory_app.command()
def label(
    path: PathArgument,
    step: Annotated[int, typer.Option(help="The remembered step to label.")],
    name: Annotated[str, typer.Option(help='The label, e.g. "door" or "lava".')],
) -> None:
    """Attach a label to a remembered moment."""
    with opened(path, readonly=False) as memory:
        memory.label(step, name)
    typer.echo(f"labelled step {step} {name!r}")


@memory_app.command()
def export(
    path: PathArgument,
    out: Annotated[Path, typer.Option(help="JSONL file to write, one step per line.")],
    embeddings: Annotated[bool, typer.Option(help="Include the embeddings.")] = False,
) -> None:
    """Every remembered step with its labels as JSON lines (embeddings on request)."""
    refuse_export_target(path, out)
    count = 0
    with opened(path) as memory, atomic_path(out) as tmp, open(tmp, "w") as handle:
        for record in memory.records(embeddings=embeddings):
            handle.write(json.dumps(record) + "\n")
            count += 1
    typer.echo(f"wrote {count} steps to {out}")


def refuse_export_target(memory: Path, out: Path) -> None:
    """Refuse an `--out` that is a folder, the memory or its -wal/-shm, or any SQLite file.

    Raises:
        MemoryFormatError: `out` would replace a folder, the memory, or an ami memory file.
    """
    if out.is_dir():
        raise MemoryFormatError(f"--out {out} is a folder; name the JSONL file to write in it")
    own = [memory, *(sibling(memory, suffix) for suffix in ("-wal", "-shm"))]
    if any(_same_file(out, file) for file in own):
        raise MemoryFormatError(
            f"--out {out} is the memory {memory} itself (or its -wal/-shm); exporting there "
            "would replace the memory: name another file"
        )
    if is_sqlite_file(out):
        raise MemoryFormatError(
            f"--out {out} is a SQLite file (an ami memory?); export will not replace it with "
            "JSON lines: name another file"
        )


def _same_file(a: Path, b: Path) -> bool:
    if a.absolute().resolve() == b.absolute().resolve():
        return True
    try:
        return a.samefile(b)
    except OSError:  # either is missing: not the same file
        return False
