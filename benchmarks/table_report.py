"""`ami bench table`: the benchmark table, world × solver on the anchors' protocol.

Mounted in `ami.cli` with `app.add_typer(bench_app, name="bench")`.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from benchmarks.table import TABLE_RECIPES, TableConfig, plot_curves, rich_table, run_table
from benchmarks.table import write_results as write_table
from ami.device import resolve_device, seed_everything
from ami.planning import SOLVERS

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks against the anchors' protocols.")


@bench_app.command()
def table(
    out: Annotated[
        Path, typer.Option(help="The table's JSON file; the curve plot goes beside it.")
    ] = Path("benchmarks/results/table.json"),
    models: Annotated[
        Path, typer.Option(help="Folder of the trained models (reused when the recipe matches).")
    ] = Path("bench-models"),
    world: Annotated[
        list[str] | None,
        typer.Option(help=f"World(s), repeatable: {', '.join(TABLE_RECIPES)} (default: all)."),
    ] = None,
    solver: Annotated[
        list[str] | None,
        typer.Option(help=f"Solver(s), repeatable: {', '.join(SOLVERS)} (default: all)."),
    ] = None,
    episodes: Annotated[int, typer.Option(help="Episodes per world and solver.")] = 50,
    train_steps: Annotated[
        int | None, typer.Option(help="Training steps for every model (default: the recipes').")
    ] = None,
    curve_points: Annotated[
        int, typer.Option(help="Success measured this many times during training.")
    ] = 3,
    retrain: Annotated[bool, typer.Option("--retrain", help="Train even if a model exists.")] = (
        False
    ),
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Train (or load) a model per world, plan with every solver, print and write the table."""
    config = TableConfig(
        worlds=tuple(world or TABLE_RECIPES),
        solvers=tuple(solver or SOLVERS),
        episodes=episodes,
        curve_points=curve_points,
        train_steps=train_steps,
        retrain=retrain,
    )
    seed_everything(0)
    command = "ami " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    document = run_table(
        config,
        models,
        resolve_device(device),
        progress=not quiet,
        on_world_done=lambda partial: write_table(partial, out, command),
    )
    if out.is_file():  # every world's rows: this run's, and those it kept from before
        document = json.loads(out.read_text())
    plot = plot_curves(document, out.with_name(out.stem + "_curve.png"))
    Console().print(rich_table(document))
    Console(stderr=True).print(f"table: {out}; curve: {plot}")
