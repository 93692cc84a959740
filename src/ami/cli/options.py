"""The options several `ami` commands share, spelt one way, and the recipe they resolve to.

`--world` takes a built-in world name or `gym:ENV_ID` (`gym:MODULE:ENV_ID`), `--world-kwargs` the
world's settings as a JSON object (for Gymnasium envs the `gym.make` keyword arguments) and
`--import MODULE` (repeatable) a module to import first so that it registers its envs. `--model`
is, in every command, a checkpoint folder (`RUN/checkpoint`), a run folder (`RUN`) or a demo
folder (`OUT`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ami.recipes import PRESETS, Recipe, load_recipe, with_seed
from ami.world_recipe import (
    adapt_recipe,
    import_world_modules,
    parse_world_kwargs,
    recipe_for_world,
)

PresetOption = Annotated[
    str | None,
    typer.Option(
        "--preset",
        help=f"Named settings to start from: {', '.join(PRESETS)} (default: the world's own; "
        "demo for a Gymnasium world).",
    ),
]
RecipeOption = Annotated[
    Path | None,
    typer.Option(help="A recipe JSON file (as saved in every run folder); overrides --preset."),
]
DeviceOption = Annotated[
    str, typer.Option(help="auto (GPU if present, else CPU), cpu, cuda, cuda:N or mps.")
]
SeedOption = Annotated[int, typer.Option(help="Seed of collection and training (reproducible).")]
QuietOption = Annotated[bool, typer.Option("--quiet", help="No progress bars.")]
WorldOption = Annotated[
    str,
    typer.Option(
        help="A world: two_room, maze, push_t, reacher, cube (needs OGBench), or any Gymnasium "
        "env as gym:ENV_ID (gym:MODULE:ENV_ID imports MODULE first)."
    ),
]
WorldKwargsOption = Annotated[
    str | None,
    typer.Option(
        "--world-kwargs",
        help="The world's settings as a JSON object, e.g. '{\"camera_id\": 0}' (for gym: "
        "worlds, keyword arguments of gymnasium.make).",
    ),
]
ImportOption = Annotated[
    list[str] | None,
    typer.Option(
        "--import",
        help="A module to import first (repeatable), e.g. gymnasium_robotics, so that it "
        "registers its envs.",
    ),
]
ModelOption = Annotated[
    Path, typer.Option(help="Checkpoint, run or demo folder (RUN/checkpoint, RUN or OUT).")
]


def resolve_recipe(
    world: str | None,
    world_kwargs: str | None,
    imports: list[str] | None,
    preset_name: str | None,
    recipe_file: Path | None,
    seed: int,
) -> Recipe:
    """The recipe the options name, seeded: the file, else the world's (`ami.world_recipe`).

    A recipe file is taken as it is, unless `--world` or `--world-kwargs` retarget it.
    """
    options = parse_world_kwargs(world_kwargs)
    named_world = import_world_modules(world, imports) if world is not None else None
    if recipe_file is not None:
        recipe = load_recipe(recipe_file)
        if named_world is not None and (named_world != recipe.collect.world or options):
            merged = {**recipe.collect.world_options, **options}
            recipe = adapt_recipe(recipe, named_world, merged)
    else:
        recipe = recipe_for_world(named_world or "two_room", options, preset_name)
    return with_seed(recipe, seed)
