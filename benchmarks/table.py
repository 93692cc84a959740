"""The benchmark table: a world model per world, every solver, the anchors' protocol.

For each world a model is trained from its recipe (`ami.recipes.TABLE_RECIPES`) within the
recipe's step budget, or loaded when the models folder already holds one trained from the very
same recipe. Each model is then evaluated with every solver on the world's anchor protocol (goal =
the state 25 steps ahead in a held-out expert episode, budget 50 env steps, fixed seeds), beside
the random policy on the same episodes. While a model trains, its success with the recipe's solver
is measured at a few points (on fewer episodes) to draw the success-vs-training-time curve; the time
spent evaluating is not counted as training time (a curve point's minutes count from the start of
`run_train`, loading the windows included).

The models folder (default `bench-models/`, git-ignored) holds per world `data/experience.h5`,
`run/` (checkpoint, metrics, recipe) and `facts.json` (training minutes, curve, recipe).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from rich.table import Table

from ami.config import (
    config_from_dict,
    config_to_dict,
    require_choice,
    require_non_negative,
    require_positive,
)
from ami.errors import CheckpointError, ConfigError
from ami.evaluation.protocols import protocol_by_name
from ami.evaluation.runner import evaluate
from ami.files import atomic_path, atomic_write_bytes
from ami.model import WorldModel
from ami.pipeline import make_agent, run_collect, run_train
from ami.planning import SOLVERS
from ami.provenance import machine_facts
from ami.recipes import (
    DEMO,
    PUSH_T,
    REACHER,
    Recipe,
    trains_the_same_model,
    with_solver,
    world_settings,
)

TABLE_RECIPES: dict[str, Recipe] = {"two_room": DEMO, "push_t": PUSH_T, "reacher": REACHER}

# Published success rates (%) on the same protocol, for reference (LeWM paper, table 1).
ANCHOR_FIGURES: dict[str, dict[str, float]] = {
    "two_room": {"LeWM": 87, "PLDM": 97, "DINO-WM": 100},
    "push_t": {"LeWM": 96, "DINO-WM": 74, "PLDM": 78},
    "reacher": {"LeWM": 86, "DINO-WM": 79, "PLDM": 78},
}


@dataclass(frozen=True)
class TableConfig:
    """What the table covers.

    Attributes:
        worlds: worlds (rows), each with a recipe in `TABLE_RECIPES`.
        solvers: solvers (columns), by name.
        episodes: episodes of the anchor protocol per world and solver.
        curve_points: evaluations during training for the success-vs-time curve (0: none).
        curve_episodes: episodes per curve point.
        train_steps: overrides every recipe's training steps (None: the recipes').
        retrain: train even when a model from the same recipe exists.
    """

    worlds: tuple[str, ...] = tuple(TABLE_RECIPES)
    solvers: tuple[str, ...] = SOLVERS
    episodes: int = 50
    curve_points: int = 3
    curve_episodes: int = 20
    train_steps: int | None = None
    retrain: bool = False

    def __post_init__(self) -> None:
        if not self.worlds or not self.solvers:
            raise ConfigError("TableConfig needs at least one world and one solver")
        for world in self.worlds:
            require_choice("TableConfig", "worlds", world, tuple(TABLE_RECIPES))
        for solver in self.solvers:
            require_choice("TableConfig", "solvers", solver, SOLVERS)
        require_positive("TableConfig", "episodes", self.episodes)
        require_non_negative("TableConfig", "curve_points", self.curve_points)
        require_positive("TableConfig", "curve_episodes", self.curve_episodes)
        if self.train_steps is not None:
            require_positive("TableConfig", "train_steps", self.train_steps)

    def recipe(self, world: str) -> Recipe:
        """The recipe of `world`'s model, with the table's step override."""
        recipe = TABLE_RECIPES[world]
        if self.train_steps is not None:
            recipe = replace(recipe, train=replace(recipe.train, steps=self.train_steps))
        return recipe


def run_table(
    config: TableConfig,
    models_dir: Path,
    device: torch.device,
    progress: bool = True,
    on_world_done: Callable[[dict[str, Any]], object] | None = None,
) -> dict[str, Any]:
    """Train or load each world's model, evaluate every solver; the table as plain data.

    `on_world_done` gets the table so far after each world (to save partial results).
    """
    rows, worlds = [], {}
    for world in config.worlds:
        recipe = config.recipe(world)
        model, facts = world_model(world, recipe, config, models_dir / world, device, progress)
        protocol = protocol_by_name("anchor", config.episodes, world)
        for solver in config.solvers:
            result = evaluate(
                protocol,
                make_agent(model, with_solver(recipe, solver)),
                progress=progress,
                world_overrides=world_settings(recipe),
            )
            rows.append(
                {
                    "world": world,
                    "solver": solver,
                    "success_rate": result.success_rate,
                    "random_success_rate": result.random_success_rate,
                    "plan_seconds": result.plan_ms_per_call / 1000,
                    "train_minutes": facts["train_minutes"],
                    "other_success_rates": result.other_success_rates,
                    "episodes": result.episodes,
                }
            )
        worlds[world] = {
            **facts,
            "protocol": protocol.as_dict(),
            "anchor_success_percent": ANCHOR_FIGURES[world],
        }
        if on_world_done is not None:
            on_world_done({"rows": rows, "worlds": worlds})
    return {"rows": rows, "worlds": worlds}


def world_model(
    world: str,
    recipe: Recipe,
    config: TableConfig,
    folder: Path,
    device: torch.device,
    progress: bool,
) -> tuple[WorldModel, dict[str, Any]]:
    """`world`'s model and its training facts: loaded if trained from `recipe`, else trained."""
    facts_path = folder / "facts.json"
    checkpoint = folder / "run" / "checkpoint"
    if not config.retrain and facts_path.is_file():
        facts = json.loads(facts_path.read_text())
        if _same_recipe(facts.get("recipe"), recipe):
            try:
                return WorldModel.load(checkpoint, device=device), facts
            except CheckpointError:
                pass  # damaged or half-written: train again
    return _train(world, recipe, config, folder, device, progress)


def _same_recipe(stored: Any, recipe: Recipe) -> bool:
    """Whether a model trained from `stored` (a facts file's recipe) is `recipe`'s model.

    Only what shapes the model counts (data, windows, model, training): a recipe that plans or
    evaluates differently reuses the model. Fields added since, with their defaults, match.
    """
    try:
        before = config_from_dict(Recipe, stored)
    except (ConfigError, TypeError, ValueError, AttributeError):
        return False
    return trains_the_same_model(before, recipe)


def _train(
    world: str,
    recipe: Recipe,
    config: TableConfig,
    folder: Path,
    device: torch.device,
    progress: bool,
) -> tuple[WorldModel, dict[str, Any]]:
    started = time.perf_counter()
    data = run_collect(recipe.collect, folder / "data" / "experience.h5", progress=progress)
    collected = time.perf_counter()
    curve = _Curve(recipe, config, world)
    run_dir = folder / "run"
    if run_dir.exists():  # a different recipe's run: never resume it
        shutil.rmtree(run_dir)
    model, result = run_train(recipe, data, run_dir, device, progress, callbacks=[curve])
    train_minutes = (result.seconds - curve.seconds) / 60
    facts = {
        "recipe": config_to_dict(recipe),
        "collect_minutes": (collected - started) / 60,
        "train_minutes": train_minutes,
        "train_steps": result.steps,
        "train_frames_per_second": result.frames_per_second,
        "curve": {**curve.points, "solver": recipe.planner.solver.name},
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
    }
    atomic_write_bytes(folder / "facts.json", json.dumps(facts, indent=2).encode())
    return model, facts


class _Curve:
    """A training callback measuring success at a few steps, and the time that took."""

    def __init__(self, recipe: Recipe, config: TableConfig, world: str) -> None:
        steps, log_every = recipe.train.steps, recipe.train.log_every
        fractions = [(i + 1) / (config.curve_points + 1) for i in range(config.curve_points)]
        self.at = {max(log_every, round(f * steps / log_every) * log_every) for f in fractions}
        self.recipe, self.world = recipe, world
        self.protocol = protocol_by_name("anchor", config.curve_episodes, world)
        self.seconds = 0.0
        self.started = time.perf_counter()
        self.points: dict[str, list[float]] = {"step": [], "train_minutes": [], "success_rate": []}

    def __call__(self, model: WorldModel, step: int) -> None:
        if step not in self.at:
            return
        began = time.perf_counter()
        model.eval()
        result = evaluate(
            self.protocol,
            make_agent(model, self.recipe),
            progress=False,
            world_overrides=world_settings(self.recipe),
        )
        model.train()
        self.points["step"].append(step)
        self.points["train_minutes"].append((began - self.started - self.seconds) / 60)
        self.points["success_rate"].append(result.success_rate)
        self.seconds += time.perf_counter() - began


def write_results(document: dict[str, Any], path: Path, command: str) -> Path:
    """Write the table with the command, date, machine and git revision (atomically).

    Worlds this run did not cover keep their rows from the file already at `path`; every world
    carries the provenance of the run that measured it (`worlds[world]["measured"]`).
    """
    measured = {"command": command, **machine_facts()}
    rows, worlds = (
        list(document["rows"]),
        {world: {**facts, "measured": measured} for world, facts in document["worlds"].items()},
    )
    if path.is_file():
        try:
            before = json.loads(path.read_text())
            kept = [row for row in before["rows"] if row["world"] not in worlds]
            earlier = {key: value for key, value in before.items() if key in measured}
            kept_worlds = {  # files from before per-world provenance: the file's own
                w: {"measured": earlier, **f}
                for w, f in before["worlds"].items()
                if w not in worlds
            }
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(f"the table file {path} is not an ami table ({exc})") from exc
        order = {world: i for i, world in enumerate(TABLE_RECIPES)}
        rows = sorted(kept + rows, key=lambda row: order.get(row["world"], len(order)))
        worlds = {**kept_worlds, **worlds}
    return atomic_write_bytes(
        path, json.dumps({"rows": rows, "worlds": worlds, **measured}, indent=2).encode()
    )


def rich_table(document: dict[str, Any]) -> Table:
    """World × solver → success %, random floor, ms per plan, training minutes."""
    table = Table(title="ami benchmark table (anchor protocol: goal 25 steps ahead, budget 50)")
    for column in ("world", "solver", "success", "random", "ms / plan", "train min", "anchors"):
        table.add_column(column, justify="left" if column in ("world", "solver") else "right")
    for row in document["rows"]:
        anchors = document["worlds"][row["world"]]["anchor_success_percent"]
        other = "".join(
            f" ({name} {100 * rate:.0f}%)" for name, rate in row["other_success_rates"].items()
        )
        table.add_row(
            row["world"],
            row["solver"],
            f"{100 * row['success_rate']:.0f}%{other}",
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
