"""`ami live`: the agent lives in its world for R rounds, remembers everything, and improves."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ami.checks import (
    checkpoint_folder,
    require_checkpoint_world,
    require_input_file,
    require_output_folder,
)
from ami.cli.options import (
    DeviceOption,
    ImportOption,
    PresetOption,
    QuietOption,
    RecipeOption,
    WorldKwargsOption,
    WorldOption,
    resolve_recipe,
)
from ami.config import require_in_range
from ami.device import resolve_device, seed_everything
from ami.evaluation.protocols import protocol_by_name
from ami.live import GOAL_STRATEGIES, LiveConfig, run_live
from ami.live.state import open_state
from ami.pipeline import run_collect

console = Console(stderr=True)


def live(
    out: Annotated[
        Path,
        typer.Option(
            help="Run folder (memory.db, round-NNN/, live.json): a new or empty folder, or an "
            "earlier live run's to resume it."
        ),
    ],
    world: WorldOption = "two_room",
    world_kwargs: WorldKwargsOption = None,
    imports: ImportOption = None,
    rounds: Annotated[int, typer.Option(help="Rounds after the seed round.")] = 4,
    episodes: Annotated[int, typer.Option(help="Goals pursued per round.")] = 40,
    goals: Annotated[str, typer.Option(help=f"Goal choice: {', '.join(GOAL_STRATEGIES)}.")] = (
        "uniform"
    ),
    mode: Annotated[
        str, typer.Option(help="Who acts once an actor exists: plan, act or auto.")
    ] = "auto",
    seed_data: Annotated[
        Path | None,
        typer.Option(
            help="HDF5 seed experience (default: collect --seed-fraction of the recipe's)."
        ),
    ] = None,
    seed_fraction: Annotated[
        float, typer.Option(help="Share of the recipe's episodes collected as seed data.")
    ] = 0.05,
    init_model: Annotated[
        Path | None,
        typer.Option(
            help="Start from this model (checkpoint, run or demo folder) instead of training one."
        ),
    ] = None,
    finetune_steps: Annotated[int, typer.Option(help="World-model steps per round.")] = 300,
    distill_steps: Annotated[int, typer.Option(help="Actor steps per round.")] = 1000,
    eval_episodes: Annotated[int, typer.Option(help="Episodes measured per round.")] = 50,
    preset_name: PresetOption = None,
    recipe_file: RecipeOption = None,
    device: DeviceOption = "auto",
    seed: Annotated[int, typer.Option(help="Seed of collection, training and goals.")] = 0,
    quiet: QuietOption = False,
) -> None:
    """Live R rounds: pursue goals, remember every step, fine-tune model and actor on memory.

    Round 0 trains on a small seed dataset; each round then acts (every step and decision to
    memory), fine-tunes the world model on all of memory, distils the actor from the planner's
    decisions and measures success. Killed, it resumes after the last finished round.
    """
    recipe = resolve_recipe(world, world_kwargs, imports, preset_name, recipe_file, seed)
    world = recipe.collect.world
    config = LiveConfig(
        rounds=rounds,
        episodes=episodes,
        goals=goals,
        mode=mode,
        finetune_steps=finetune_steps,
        distill_steps=distill_steps,
        eval_episodes=eval_episodes,
        seed=seed,
    )
    # every option is checked before anything is collected, trained or written
    require_in_range("ami live", "seed_fraction", seed_fraction, 1e-6, 1.0)
    protocol_by_name(config.protocol, config.eval_episodes, world)
    run_device = resolve_device(device)
    require_output_folder(out)
    if seed_data is not None:
        require_input_file(seed_data, "--seed-data")
    if init_model is not None:
        init_model = checkpoint_folder(init_model)
        require_checkpoint_world(init_model, world, f"ami live --world {world}")
    open_state(out, recipe, config)  # claims OUT (a new or empty folder, or this run's)
    seed_everything(seed)
    if seed_data is None:
        seed_data = out / "seed.h5"
        if not seed_data.is_file():
            count = max(1, round(seed_fraction * recipe.collect.episodes))
            run_collect(replace(recipe.collect, episodes=count), seed_data, progress=not quiet)
    state = run_live(recipe, config, out, seed_data, run_device, not quiet, init_model)
    _print_rounds(state, world, goals)
    console.print(f"state: {out / 'live.json'}; curve: {out / 'live_curve.png'}")


def _print_rounds(state: dict[str, Any], world: str, goals: str) -> None:
    """The table of finished rounds."""
    table = Table(title=f"ami live: {world}, {goals} goals")
    for column in ("round", "env steps", "success", "random", "acted (plan/act)", "minutes"):
        table.add_column(column, justify="right")
    for entry in state["rounds"]:
        acted = entry.get("acted", {}).get("decisions", {})
        table.add_row(
            str(entry["round"]),
            str(entry["env_steps"]),
            f"{100 * entry['success_rate']:.0f} %",
            f"{100 * entry['random_success_rate']:.0f} %",
            f"{acted.get('plan', '-')}/{acted.get('act', '-')}",
            f"{entry['minutes']:.1f}",
        )
    Console().print(table)
