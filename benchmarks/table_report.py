"""The benchmark table's file, console table and curve plot (`python -m benchmarks.table`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.table import Table

from ami.errors import ConfigError
from ami.files import atomic_path
from benchmarks.cache import WORLD_RECIPES
from benchmarks.results_file import provenance, write_results
from benchmarks.table_seeds import format_spread


def merge_table(
    document: dict[str, Any], before: dict[str, Any], measured: dict[str, Any]
) -> dict[str, Any]:
    """This run's rows and worlds (each stamped `measured`), and the other worlds' from `before`.

    Raises:
        ConfigError: `before` is not a table.
    """
    rows = list(document["rows"])
    worlds = {world: {**facts, "measured": measured} for world, facts in document["worlds"].items()}
    if not before:
        return {"rows": rows, "worlds": worlds}
    try:
        kept = [row for row in before["rows"] if row["world"] not in worlds]
        earlier = {key: value for key, value in before.items() if key in measured}
        kept_worlds = {  # files from before per-world provenance: the file's own
            w: {"measured": earlier, **f} for w, f in before["worlds"].items() if w not in worlds
        }
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"the table file is not an ami table ({exc}); move it") from exc
    order = {world: i for i, world in enumerate(WORLD_RECIPES)}
    rows = sorted(kept + rows, key=lambda row: order.get(row["world"], len(order)))
    return {"rows": rows, "worlds": {**kept_worlds, **worlds}}


def write_table(document: dict[str, Any], path: Path, command: str | None = None) -> Path:
    """Write the table at `path` with its provenance (atomically), keeping other worlds' rows.

    Worlds this run did not cover keep their rows from the file already at `path`; every world
    carries the provenance of the run that measured it (`worlds[world]["measured"]`).

    Raises:
        ConfigError: the file at `path` is not an ami table.
    """
    measured = provenance(command)
    before: dict[str, Any] = {}
    if path.is_file():
        try:
            before = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"the table file {path} is not JSON ({exc}); move it") from exc
    merged = merge_table(document, before, measured)
    return write_results("table", merged, command=measured["command"], out=path)


def rich_table(document: dict[str, Any]) -> Table:
    """World × solver → success %, random floor, ms per plan, training minutes."""
    table = Table(title="ami benchmark table (anchor protocol: goal 25 steps ahead, budget 50)")
    columns = ("world", "solver", "success", "seeds", "random", "ms / plan", "train min", "anchors")
    for column in columns:
        table.add_column(column, justify="left" if column in ("world", "solver") else "right")
    for row in document["rows"]:
        facts = document["worlds"][row["world"]]
        anchors = facts["anchor_success_percent"]
        seeds = facts.get("seeds", {})
        spread = format_spread(seeds) if seeds.get("solver") == row["solver"] else ""
        other = "".join(
            f" ({name} {100 * rate:.0f}%)" for name, rate in row["other_success_rates"].items()
        )
        table.add_row(
            row["world"],
            row["solver"],
            f"{100 * row['success_rate']:.0f}%{other}",
            spread,
            f"{100 * row['random_success_rate']:.0f}%",
            f"{1000 * row['plan_seconds']:.0f}",
            f"{row['train_minutes']:.1f}",
            " ".join(f"{name} {value:.0f}" for name, value in anchors.items()),
        )
    return table


def plot_curves(document: dict[str, Any], path: Path) -> Path:
    """Success rate against training minutes, one line per world (the curve points + final)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for world, facts in document["worlds"].items():
        curve = facts["curve"]
        final = [
            row["success_rate"]
            for row in document["rows"]
            if row["world"] == world and row["solver"] == curve["solver"]
        ]
        minutes = [*curve["train_minutes"], *([facts["train_minutes"]] if final else [])]
        success = [*curve["success_rate"], *final]
        axes.plot(
            minutes, [100 * s for s in success], marker="o", label=f"{world} ({curve['solver']})"
        )
    axes.set_xlabel("training minutes")
    axes.set_ylabel("success % (anchor protocol)")
    axes.set_ylim(0, 100)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)
    return path
