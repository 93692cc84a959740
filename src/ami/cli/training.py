"""`ami train`: a JEPA world model from a dataset (any format ami imports) or a memory file.

The recipe comes from the flags (a preset, a JSON file, `--world`) or, without them, from the
dataset's own world (its preset, or one derived from a Gymnasium env); the run folder resumes.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ami.checks import require_output_folder
from ami.cli.data import (
    ActionKeyOption,
    CameraOption,
    MaxEpisodesOption,
    StateKeyOption,
    require_actions_for,
    training_data,
)
from ami.cli.options import (
    DeviceOption,
    ImportOption,
    PresetOption,
    QuietOption,
    RecipeOption,
    SeedOption,
    WorldKwargsOption,
    resolve_recipe,
)
from ami.config import replace_config
from ami.device import resolve_device, seed_everything
from ami.errors import ConfigError
from ami.experience import ExperienceDataset
from ami.experience.sources import WORLDLESS_PREFIX, ImportOptions
from ami.pipeline import is_memory_file, run_train
from ami.recipes import image_size
from ami.training.checkpoint import check_run_folder
from ami.training.distributed import distributed_session
from ami.world_recipe import recipe_for_data

__all__ = ["dataset_world", "train"]

console = Console(stderr=True)


def train(
    data: Annotated[
        str,
        typer.Option(
            help="HDF5 dataset written by `ami collect` (its world is the model's), an ami "
            "memory file (its remembered episodes of the recipe's world are replayed), or a "
            "dataset of another format as FORMAT:PATH (swm-h5, ogbench, lerobot; imported into "
            "OUT/imported.h5 first)."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Run folder (checkpoint, metrics, curves).")],
    preset_name: PresetOption = None,
    recipe_file: RecipeOption = None,
    world: Annotated[
        str | None,
        typer.Option(help="The world (default: the dataset's; for a memory file: two_room)."),
    ] = None,
    world_kwargs: WorldKwargsOption = None,
    imports: ImportOption = None,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps (default: recipe's).")] = None,
    precision: Annotated[
        str | None,
        typer.Option(
            help="auto (bf16 where the device runs it natively, else fp32), fp32 or bf16 "
            "(autocast) (default: recipe's)."
        ),
    ] = None,
    compile_model: Annotated[
        bool, typer.Option("--compile", help="Run the loss through torch.compile.")
    ] = False,
    actions: Annotated[
        str | None,
        typer.Option(
            help="given (learn from the data's actions) or none (frames alone: the encoder and "
            "an action-free predictor; takes video:PATH, an .mp4 or a folder of them) "
            "(default: recipe's)."
        ),
    ] = None,
    encoder_from: Annotated[
        Path | None,
        typer.Option(
            help="Start the encoder from this model's (a run, checkpoint or demo folder, e.g. "
            "one trained with --actions none); its encoder config must be the recipe's."
        ),
    ] = None,
    freeze_encoder: Annotated[
        bool,
        typer.Option(
            "--freeze-encoder", help="Keep the --encoder-from encoder fixed; learn the predictor."
        ),
    ] = False,
    camera: CameraOption = None,
    action_key: ActionKeyOption = None,
    state_key: StateKeyOption = None,
    max_episodes: MaxEpisodesOption = None,
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Train a JEPA world model on a dataset or a memory (resumes if OUT holds a checkpoint).

    A dataset of another format is imported first (frames at the recipe's size, actions to
    [-1, 1]); without `--world` its world is `data:FORMAT`, which trains but has no env to plan
    in.

    Learning from video: `--actions none` pre-trains the encoder and an action-free predictor
    on frames alone (any dataset, or `video:PATH`: an .mp4 or a folder of them); then
    `--encoder-from RUN [--freeze-encoder]` learns the action-conditioned predictor on
    action-labelled data from that encoder.

    Without a recipe the recipe is the dataset's world's (its preset, or one derived from a
    Gymnasium env: action size, settings). Under `torchrun --nproc_per_node=N -m ami train ...`
    the N processes train one model with DistributedDataParallel (gloo on CPU, NCCL on CUDA),
    each on its own shard of the windows with the recipe's batch size; rank 0 writes the run
    folder.
    """
    require_output_folder(out)
    check_run_folder(out)  # before the data is read or imported
    if freeze_encoder and encoder_from is None:
        raise ConfigError(
            "--freeze-encoder keeps a pre-trained encoder: name it with --encoder-from"
        )
    named = resolve_recipe(world, world_kwargs, imports, preset_name, recipe_file, seed)
    require_actions_for(data, actions or named.train.actions)
    options = ImportOptions(
        image_size(named), camera, action_key, state_key, max_episodes, named.model.env_action_dim
    )
    named_world = named.collect.world if world is not None else None
    data_path = training_data(data, out, options, named_world, progress=not quiet)
    recipe = named
    if world is None and world_kwargs is None and recipe_file is None:
        world, world_kwargs = dataset_world(data_path)  # the recipe is the dataset's world's
        if world is not None and not world.startswith(WORLDLESS_PREFIX):
            recipe = resolve_recipe(world, world_kwargs, imports, preset_name, None, seed)
    if world is not None and world.startswith(WORLDLESS_PREFIX):
        with ExperienceDataset.open(data_path) as dataset:
            recipe = recipe_for_data(world, dataset.action_dim, named)
    changes: dict[str, object] = {"compile": True} if compile_model else {}
    if steps is not None:
        changes["steps"] = steps
    if precision is not None:
        changes["precision"] = precision
    if actions is not None:
        changes["actions"] = actions
    if freeze_encoder:
        changes["freeze_encoder"] = True
    recipe = replace(recipe, train=replace_config(recipe.train, **changes))
    seed_everything(seed)
    with distributed_session(resolve_device(device)) as (rank, rank_device):
        _, result = run_train(
            recipe, data_path, out, rank_device, not quiet, encoder_from=encoder_from
        )
    if rank.is_main:
        console.print(
            f"trained {result.steps} steps (from {result.resumed_from}) in {result.seconds:.0f}s, "
            f"{result.frames_per_second:.0f} frames/s over {rank.world_size} process(es); "
            f"checkpoint: {result.checkpoint}"
        )


def dataset_world(data: Path) -> tuple[str | None, str | None]:
    """The world and its settings (as `--world-kwargs` JSON) an HDF5 dataset was collected in.

    (None, None) for a memory file or a path that is not a dataset (training then says why).
    """
    if is_memory_file(data) or not data.is_file():
        return None, None
    with ExperienceDataset.open(data) as dataset:
        options = dataset.meta.get("collect", {}).get("world_options", {})
        return dataset.world, json.dumps(options) if options else None
