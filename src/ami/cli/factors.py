"""`ami eval --factors`: the checkpoint's success under test-time factors, beside the clean run.

The eval command evaluates clean as always (`run_eval`), then hands the factors here: each
protocol is run once per factor on the same episodes (`ami.evaluation.factor_eval`), the table
factor x success and `factors.png` are added to the report folder and the table is printed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ami.agent import Agent
from ami.evaluation.factor_eval import (
    evaluate_factors,
    factor_frames,
    factor_rows,
    write_factor_report,
)
from ami.evaluation.factors import KINDS, Factor, parse_factors
from ami.evaluation.protocols import EvalProtocol
from ami.model import WorldModel
from ami.pipeline import make_agent
from ami.recipes import Recipe, world_settings

FactorsOption = Annotated[
    str | None,
    typer.Option(
        help="Test-time factors, comma-separated NAME:VALUE[@SEED] (e.g. hue:120,"
        "brightness:0.6,shift:3,size:+20): evaluated clean and once per factor on the same "
        f"episodes; the table and factors.png go into OUT. Names: {', '.join(KINDS)}."
    ),
]


def factors_of(text: str | None) -> tuple[Factor, ...]:
    """The factors `--factors` names (none without the option); one-line errors."""
    return () if text is None else parse_factors(text)


def report_factors(
    factors: Sequence[Factor],
    model: WorldModel,
    recipe: Recipe,
    protocols: list[EvalProtocol],
    document: dict[str, Any],
    out: Path,
    agent: Agent | None = None,
    workers: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate under each factor, add the table and the picture to `out`; print the table."""
    agent = make_agent(model, recipe) if agent is None else agent
    overrides = world_settings(recipe)
    factored = evaluate_factors(protocols, agent, factors, overrides, workers, progress)
    rows = factor_rows(document["protocols"], factored, factors)
    frames = factor_frames(protocols[0], factors, overrides)
    updated = write_factor_report(out, document, rows, frames)
    print_factor_table(rows)
    return updated


def print_factor_table(rows: list[dict[str, Any]]) -> None:
    """The table factor x success on stdout."""
    table = Table(title="ami test-time factors (success rates)")
    for column in ("protocol", "factor", "agent", "random", "ratio to clean", "episodes"):
        table.add_column(column, justify="left" if column in ("protocol", "factor") else "right")
    for row in rows:
        ratio = row["ratio_to_clean"]
        table.add_row(
            row["protocol"],
            row["factor"],
            f"{100 * row['success_rate']:.1f} %",
            f"{100 * row['random_success_rate']:.1f} %",
            "-" if ratio is None else f"{ratio:.2f}",
            str(row["episodes"]),
        )
    console = Console()
    Console(width=max(console.width, 96)).print(table)
