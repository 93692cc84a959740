"""The benchmark table: a world model per world, every solver, the anchors' protocol.

For each world the model of its recipe (`benchmarks.cache.WORLD_RECIPES`) comes from the cache
(`--cache`, default `benchmarks/.cache/`): trained there within the recipe's step budget when the
cache holds no model trained from the very same recipe. Each model is then evaluated with every
solver on the world's anchor protocol (goal = the state 25 steps ahead in a held-out expert
episode, budget 50 env steps, fixed seeds), beside the random policy on the same episodes. While
a model trains here, its success with the recipe's solver is measured at a few points (on fewer
episodes) to draw the success-vs-training-time curve; the time spent evaluating is not counted as
training time (a curve point's minutes count from the start of `run_train`, loading the windows
included). A model another benchmark trained has no curve (`--retrain` draws it).

    python -m benchmarks.table --curve-points 2      # make bench-table (~2 h on 2 cores)
    python -m benchmarks.table --world reacher --solver cem

Writes benchmarks/results/table.json (a run of some worlds replaces their rows and keeps the
others') and table_curve.png beside it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from ami.config import require_choice, require_non_negative, require_positive
from ami.device import resolve_device, seed_everything
from ami.errors import ConfigError
from ami.evaluation.protocols import protocol_by_name
from ami.evaluation.runner import evaluate
from ami.model import WorldModel
from ami.pipeline import make_agent
from ami.planning import SOLVERS
from ami.recipes import Recipe, with_solver, world_settings
from benchmarks.cache import WORLD_RECIPES, add_cache_argument, model_facts, trained_model
from benchmarks.results_file import RESULTS, read_results
from benchmarks.table_report import plot_curves, rich_table, write_table
from benchmarks.table_seeds import best_row, seeded, spread

TABLE = RESULTS / "table.json"

# Rows beyond each world's own recipe: a variant of a world's recipe, named for its row.
# Reacher with its target disc in every frame, as LeWM's frames show it (like for like with its
# 86 %); the world's own recipe hides the disc.
_REACHER = WORLD_RECIPES["reacher"]
VARIANTS: dict[str, Recipe] = {
    "reacher_target": replace(
        _REACHER,
        name="reacher_target",
        collect=replace(_REACHER.collect, world_options={"target_visible": True}),
    )
}


def row_recipes() -> dict[str, Recipe]:
    """Every row's recipe: each world's own (`WORLD_RECIPES`), then the variants."""
    return {**WORLD_RECIPES, **VARIANTS}


# Published success rates (%) on the same protocol, for reference (LeWM paper, table 1).
ANCHOR_FIGURES: dict[str, dict[str, float]] = {
    "two_room": {"LeWM": 87, "PLDM": 97, "DINO-WM": 100},
    "push_t": {"LeWM": 96, "DINO-WM": 74, "PLDM": 78},
    "reacher": {"LeWM": 86, "DINO-WM": 79, "PLDM": 78},
    "reacher_target": {"RC-aux": 87.2, "LeWM": 86, "DINO-WM": 79, "PLDM": 78},
    # OGBench cube-single on stable-worldmodel's protocol (LeWM paper, table 1).
    "cube": {"DINO-WM": 86, "GCBC": 84, "RC-aux": 76, "LeWM": 74, "PLDM": 65, "TD-MPC2": 4},
}


@dataclass(frozen=True)
class TableConfig:
    """What the table covers.

    Attributes:
        worlds: rows: worlds, each with its recipe in `WORLD_RECIPES`, or `VARIANTS`' names.
        solvers: solvers (columns), by name.
        episodes: episodes of the anchor protocol per world and solver.
        curve_points: evaluations during training for the success-vs-time curve (0: none).
        curve_episodes: episodes per curve point.
        train_steps: overrides every recipe's training steps (None: the recipes').
        retrain: train even when the cache holds a model from the same recipe.
        seeds: training seeds of each world's best solver (1: the single run only; more: the
            recipe trained again from seeds 1.. on the same data, `benchmarks.table_seeds`).
        collect_workers: processes collecting a world's data when the cache lacks it (the same
            data as one process).
    """

    worlds: tuple[str, ...] = tuple(row_recipes())
    solvers: tuple[str, ...] = SOLVERS
    episodes: int = 50
    curve_points: int = 3
    curve_episodes: int = 20
    train_steps: int | None = None
    retrain: bool = False
    seeds: int = 1
    collect_workers: int = 1

    def __post_init__(self) -> None:
        if not self.worlds or not self.solvers:
            raise ConfigError("TableConfig needs at least one world and one solver")
        for world in self.worlds:
            require_choice("TableConfig", "worlds", world, tuple(row_recipes()))
        for solver in self.solvers:
            require_choice("TableConfig", "solvers", solver, SOLVERS)
        require_positive("TableConfig", "episodes", self.episodes)
        require_non_negative("TableConfig", "curve_points", self.curve_points)
        require_positive("TableConfig", "curve_episodes", self.curve_episodes)
        require_positive("TableConfig", "seeds", self.seeds)
        require_positive("TableConfig", "collect_workers", self.collect_workers)
        if self.train_steps is not None:
            require_positive("TableConfig", "train_steps", self.train_steps)

    def recipe(self, world: str) -> Recipe:
        """The recipe of `world`'s model, with the table's step override (a name of its own)."""
        recipe = row_recipes()[world]
        if self.train_steps is not None and self.train_steps != recipe.train.steps:
            train = replace(recipe.train, steps=self.train_steps)
            recipe = replace(recipe, name=f"{recipe.name}_{self.train_steps}_steps", train=train)
        return recipe


def run_table(
    config: TableConfig,
    cache_dir: Path,
    device: torch.device,
    progress: bool = True,
    on_world_done: Callable[[dict[str, Any]], object] | None = None,
) -> dict[str, Any]:
    """Get each world's model from the cache, evaluate every solver; the table as plain data.

    `on_world_done` gets the table so far after each world (to save partial results).
    """
    rows, worlds = [], {}
    for world in config.worlds:
        recipe = config.recipe(world)
        model, facts = world_model(world, recipe, config, cache_dir, device, progress)
        protocol = protocol_by_name("goal_25_steps", config.episodes, recipe.collect.world)
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
        if config.seeds > 1:
            worlds[world]["seeds"] = seed_spread(
                world, recipe, best_row(rows, world), config, cache_dir, device, progress
            )
        if on_world_done is not None:
            on_world_done({"rows": rows, "worlds": worlds})
    return {"rows": rows, "worlds": worlds}


def seed_spread(
    world: str,
    recipe: Recipe,
    best: dict[str, Any],
    config: TableConfig,
    cache_dir: Path,
    device: torch.device,
    progress: bool,
) -> dict[str, Any]:
    """`best`'s solver on models trained from seeds 1.. (seed 0 is `best`'s): the spread."""
    protocol = protocol_by_name("goal_25_steps", config.episodes, recipe.collect.world)
    values = [best["success_rate"]]
    minutes = [best["train_minutes"]]
    quiet = replace(config, curve_points=0)
    for seed in range(1, config.seeds):
        other = seeded(recipe, seed)
        model, facts = world_model(world, other, quiet, cache_dir, device, progress)
        result = evaluate(
            protocol,
            make_agent(model, with_solver(other, best["solver"])),
            progress=progress,
            world_overrides=world_settings(other),
        )
        values.append(result.success_rate)
        minutes.append(facts["train_minutes"])
    return {
        "solver": best["solver"],
        "train_seeds": list(range(config.seeds)),
        "train_minutes": minutes,
        **spread(values),
    }


def world_model(
    world: str,
    recipe: Recipe,
    config: TableConfig,
    cache_dir: Path,
    device: torch.device,
    progress: bool,
) -> tuple[WorldModel, dict[str, Any]]:
    """`world`'s model from the cache (trained there, with the curve, when absent); its facts."""
    curve = _Curve(recipe, config, world)
    checkpoint = trained_model(
        recipe, cache_dir, device, progress, curve, config.retrain, config.collect_workers
    )
    facts = model_facts(checkpoint)
    empty = {"step": [], "train_minutes": [], "success_rate": []}
    facts.setdefault("curve", {**empty, "solver": recipe.planner.solver.name})
    return WorldModel.load(checkpoint, device=device), facts


class _Curve:
    """A training callback measuring success at a few steps, and the time that took."""

    def __init__(self, recipe: Recipe, config: TableConfig, world: str) -> None:
        steps, log_every = recipe.train.steps, recipe.train.log_every
        fractions = [(i + 1) / (config.curve_points + 1) for i in range(config.curve_points)]
        self.at = {max(log_every, round(f * steps / log_every) * log_every) for f in fractions}
        self.recipe, self.world = recipe, world
        self.protocol = protocol_by_name(
            "goal_25_steps", config.curve_episodes, recipe.collect.world
        )
        self.seconds = 0.0
        self.started = time.perf_counter()
        self.solver = recipe.planner.solver.name
        self.points: dict[str, list[float]] = {"step": [], "train_minutes": [], "success_rate": []}

    def begin(self) -> None:
        """Training starts now (the data is collected)."""
        self.started = time.perf_counter()

    def facts(self) -> dict[str, Any]:
        """The curve, for the model's facts."""
        return {"curve": {**self.points, "solver": self.solver}}

    def __call__(self, model: WorldModel, step: int) -> None:
        """Measure success when `step` is a curve point."""
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


def main() -> None:
    """Train (or take from the cache) a model per world, plan with every solver, write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=TABLE, help="the table's JSON file")
    add_cache_argument(parser)
    parser.add_argument("--world", action="append", choices=list(row_recipes()))
    parser.add_argument("--solver", action="append", choices=list(SOLVERS))
    parser.add_argument("--episodes", type=int, default=50, help="episodes per world and solver")
    parser.add_argument("--train-steps", type=int, default=None, help="(default: the recipes')")
    parser.add_argument("--curve-points", type=int, default=3, help="success measured N times")
    parser.add_argument("--retrain", action="store_true", help="train even if a model exists")
    parser.add_argument("--seeds", type=int, default=1, help="training seeds of the best solver")
    parser.add_argument("--collect-workers", type=int, default=1, help="collecting processes")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args()
    config = TableConfig(
        worlds=tuple(args.world or row_recipes()),
        solvers=tuple(args.solver or SOLVERS),
        episodes=args.episodes,
        curve_points=args.curve_points,
        train_steps=args.train_steps,
        retrain=args.retrain,
        seeds=args.seeds,
        collect_workers=args.collect_workers,
    )
    seed_everything(0)
    run_table(
        config,
        args.cache,
        resolve_device(args.device),
        progress=not args.quiet,
        on_world_done=lambda partial: write_table(partial, args.out),
    )
    document = read_results("table", args.out)  # this run's rows and those it kept
    plot = plot_curves(document, args.out.with_name(args.out.stem + "_curve.png"))
    Console().print(rich_table(document))
    Console(stderr=True).print(f"table: {args.out}; curve: {plot}")


if __name__ == "__main__":
    main()
