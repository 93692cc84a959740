"""`ami memory stats|recall|label|export`: look inside an agent's persistent memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ami.files import atomic_write_bytes
from ami.memory import Memory

memory_app = typer.Typer(
    no_args_is_help=True,
    help="Look inside a memory file: counts, nearest remembered moments, labels, export.",
)
PathArgument = Annotated[Path, typer.Argument(help="The memory file (SQLite).")]


@memory_app.command()
def stats(path: PathArgument) -> None:
    """Sessions, episodes, steps, labels, graph size, model versions and file size."""
    with Memory.open(path, readonly=True) as memory:
        for key, value in memory.stats().items():
            typer.echo(f"{key}: {value}")


@memory_app.command()
def recall(
    path: PathArgument,
    step: Annotated[int, typer.Option(help="A remembered step whose embedding is the query.")],
    k: Annotated[int, typer.Option(help="How many nearest moments.")] = 5,
) -> None:
    """The remembered moments nearest (in embedding) to a remembered step."""
    with Memory.open(path, readonly=True) as memory:
        query = memory.step(step)
        table = Table(title=f"nearest to step {step}")
        for column in ("step", "distance", "episode", "t", "labels"):
            table.add_column(column)
        for hit in memory.recall(query["embedding"], k, query["model_version"]):
            table.add_row(
                str(hit.step),
                f"{hit.distance:.4f}",
                str(hit.episode),
                str(hit.t),
                ", ".join(hit.labels),
            )
        Console().print(table)


@memory_app.command()
def label(
    path: PathArgument,
    step: Annotated[int, typer.Option(help="The remembered step to label.")],
    name: Annotated[str, typer.Option(help='The label, e.g. "door" or "lava".')],
) -> None:
    """Attach a label to a remembered moment."""
    with Memory.open(path) as memory:
        memory.label(step, name)
    typer.echo(f"labelled step {step} {name!r}")


@memory_app.command()
def export(
    path: PathArgument,
    out: Annotated[Path, typer.Option(help="JSONL file to write, one step per line.")],
    embeddings: Annotated[bool, typer.Option(help="Include the embeddings.")] = False,
) -> None:
    """Every remembered step with its labels as JSON lines (embeddings on request)."""
    with Memory.open(path, readonly=True) as memory:
        lines = []
        for step_id in memory.step_ids():
            record = memory.step(step_id)
            record["action"] = record["action"].tolist()
            record["labels"] = list(record["labels"])
            if embeddings:
                record["embedding"] = record["embedding"].tolist()
            else:
                del record["embedding"]
            lines.append(json.dumps(record))
    atomic_write_bytes(out, ("\n".join(lines) + "\n").encode())
    typer.echo(f"wrote {len(lines)} steps to {out}")
