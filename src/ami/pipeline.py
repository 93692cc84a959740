"""The whole job, composed at the top: collect → train → plan and evaluate → report.

Each stage is one function that builds its parts from a `Recipe` and passes them down; the CLI's
commands are thin wrappers around these.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ami.agent import Agent, PlanningAgent
from ami.agent.actor import Actor
from ami.agent.two_mode import ModeConfig, TwoModeAgent
from ami.checks import checkpoint_folder
from ami.config import config_to_dict
from ami.errors import ConfigError, DatasetError
from ami.evaluation.episodes_gif import write_episodes_gif
from ami.evaluation.plots import plot_success_bars, plot_training_curves, read_metrics
from ami.evaluation.protocols import EvalProtocol, protocol_by_name, protocols_of
from ami.evaluation.report import write_html_report
from ami.evaluation.runner import ProtocolResult, evaluate
from ami.experience import CollectConfig, ExperienceDataset, WindowDataset, collect_to_file
from ami.experience.sources import WORLDLESS_PREFIX
from ami.files import atomic_write_bytes
from ami.memory import Memory
from ami.memory.replay import windows_from_memory
from ami.model import WorldModel
from ami.planning import build_solver_from
from ami.provenance import machine_facts
from ami.recipes import Recipe, image_size, save_recipe, world_settings
from ami.training import TrainResult, train
from ami.training.checkpoint import check_run_folder
from ami.training.colour_shift import ColourShiftWindows
from ami.training.distributed import current_rank
from ami.training.frame_augment import FrameAugmentWindows
from ami.training.stages import load_encoder
from ami.training.symmetry import SymmetricWindows
from ami.training.trainer import METRICS_FILE, WindowSampler
from ami.worlds import make


def run_collect(config: CollectConfig, path: Path, progress: bool = True, workers: int = 1) -> Path:
    """Collect experience into an HDF5 dataset at `path` (with `workers` processes)."""
    env = make(config.world, size=config.image_size, **config.world_options)  # fails early
    limit = getattr(env, "max_episode_steps", None)
    env.close()
    if isinstance(limit, int) and limit < config.steps_per_episode:
        warnings.warn(
            f"world {config.world!r} ends its episodes after {limit} steps (its TimeLimit), "
            f"fewer than the {config.steps_per_episode} asked for; episodes will be {limit} "
            "steps long (gym: worlds take max_episode_steps in --world-kwargs)",
            stacklevel=2,
        )
    return collect_to_file(config, path, progress=progress, workers=workers)


def run_train(
    recipe: Recipe,
    data: Path,
    run_dir: Path,
    device: torch.device,
    progress: bool = True,
    callbacks: Sequence[Callable[[WorldModel, int], None]] = (),
    windows: WindowDataset | None = None,
    encoder_from: Path | None = None,
) -> tuple[WorldModel, TrainResult]:
    """Train a world model on `data` (HDF5 experience or a memory file); writes the run folder.

    `callbacks` are called with `(model, step)` at every logged step (e.g. to evaluate the model
    part-way through training). `windows`, when given, are `training_windows(recipe, data)`
    already loaded (not loaded again). `encoder_from` (a checkpoint, run or demo folder) starts
    the encoder from that model's (the second stage of learning from video,
    `ami.training.stages`; recorded in the checkpoint's metadata). Under torchrun each rank
    trains on its own shard of the training episodes and only rank 0 writes the run folder.

    Raises:
        ConfigError: `recipe.train.freeze_encoder` without `encoder_from`, or an encoder config
            that differs from `encoder_from`'s.
    """
    rank = current_rank()
    if recipe.train.freeze_encoder and encoder_from is None:
        raise ConfigError(
            "TrainConfig.freeze_encoder keeps the encoder as it starts: name a pre-trained "
            "model to start it from (--encoder-from)"
        )
    check_run_folder(run_dir, recipe.train.steps)  # before the data is loaded, recipe.json written
    source = None if encoder_from is None else checkpoint_folder(encoder_from)
    if windows is None:
        windows = training_windows(recipe, data, progress=progress and rank.is_main)
    train_windows, valid_windows = windows.split(recipe.valid_fraction, seed=recipe.train.seed)
    if rank.world_size > 1:
        train_windows = train_windows.shard(rank.rank, rank.world_size)
    sampler = augmented(recipe, train_windows)
    torch.manual_seed(recipe.train.seed)
    model = WorldModel(recipe.model).to(device)
    metadata: dict[str, Any] = {
        "world": recipe.collect.world,
        "dataset": str(data),
        "recipe": recipe.name,
    }
    if source is not None:
        metadata["encoder_from"] = {
            "checkpoint": str(source),
            "version": load_encoder(model, source),
        }
    if rank.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_recipe(recipe, run_dir / "recipe.json")
    result = train(
        model,
        sampler,
        valid_windows,
        recipe.train,
        run_dir,
        metadata=metadata,
        progress=progress,
        callbacks=[_with_model(callback, model) for callback in callbacks],
    )
    if rank.is_main:
        plot_training_curves(read_metrics(run_dir / METRICS_FILE), run_dir / "training_curves.png")
    return model, result


def augmented(recipe: Recipe, windows: WindowSampler) -> WindowSampler:
    """The training windows with the recipe's augmentations.

    In order: symmetries, colour shift, then random shift and lighting (`FrameAugmentWindows`).
    """
    if recipe.train.symmetries:
        world: Any = make(recipe.collect.world, **world_settings(recipe)).unwrapped
        windows = SymmetricWindows(windows, world, name=recipe.collect.world)
    if recipe.train.colour_shift > 0:
        windows = ColourShiftWindows(windows, recipe.train.colour_shift)
    if recipe.train.shift_pixels > 0 or recipe.train.lighting > 0:
        windows = FrameAugmentWindows(windows, recipe.train.shift_pixels, recipe.train.lighting)
    return windows


def training_windows(recipe: Recipe, data: Path, progress: bool = True) -> WindowDataset:
    """The recipe's windows over `data`: an HDF5 experience file or an ami memory file.

    From a memory, every remembered episode of the recipe's world (with frames) is replayed, so
    experience from earlier sessions is learnt from.

    Raises:
        DatasetError: the data's world, action size or image size differs from the recipe's.
    """
    if not is_memory_file(data):
        check_dataset_fits(recipe, data)
        return WindowDataset.from_file(data, recipe.window, progress=progress)
    with Memory.open(data, readonly=True) as memory:
        windows = windows_from_memory(memory, recipe.window, world=recipe.collect.world)
    action_dim, side = windows.actions.shape[1], windows.pixels.shape[-1]
    if action_dim != recipe.model.env_action_dim or side != image_size(recipe):
        raise DatasetError(
            f"memory {data} holds {side}px frames and actions of size {action_dim}; the model "
            f"expects {image_size(recipe)}px and {recipe.model.env_action_dim}"
        )
    return windows


def is_memory_file(path: Path) -> bool:
    """Whether `path` is a SQLite file (an ami memory), by its header."""
    try:
        with open(path, "rb") as file:
            return file.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _with_model(
    callback: Callable[[WorldModel, int], None], model: WorldModel
) -> Callable[[int, dict[str, float]], None]:
    """A trainer callback `(step, metrics)` that calls `callback(model, step)`."""
    return lambda step, _metrics: callback(model, step)


def check_dataset_fits(recipe: Recipe, data: Path) -> None:
    """Refuse a dataset whose world, action size or image size differs from the recipe's.

    Learning from frames alone (`TrainConfig.actions = "none"`) reads no actions, so their size
    does not matter then; a dataset without actions (imported from video) needs it.
    """
    frames_only = recipe.train.actions == "none"
    with ExperienceDataset.open(data) as dataset:
        if not frames_only and dataset.meta.get("actions") == "none":
            raise DatasetError(
                f"dataset {data} has no actions (its frames come from video): train on it with "
                "--actions none (TrainConfig.actions), then on action-labelled data"
            )
        if dataset.world != recipe.collect.world:
            raise DatasetError(
                f"dataset {data} holds {dataset.world!r} experience but the recipe trains a "
                f"{recipe.collect.world!r} model; use that world's data or recipe"
            )
        if not dataset.world.startswith(WORLDLESS_PREFIX):  # data:FORMAT has no env to ask
            env = make(dataset.world, size=dataset.image_size)
            world_action_dim = int(np.prod(env.action_space.shape or ()))
            env.close()
            if dataset.action_dim != world_action_dim and not frames_only:
                raise DatasetError(
                    f"dataset {data} has actions of size {dataset.action_dim} but world "
                    f"{dataset.world!r} has actions of size {world_action_dim}"
                )
        if dataset.action_dim != recipe.model.env_action_dim and not frames_only:
            raise DatasetError(
                f"dataset {data} has actions of size {dataset.action_dim} but the model expects "
                f"{recipe.model.env_action_dim}"
            )
        if dataset.image_size != image_size(recipe):
            raise DatasetError(
                f"dataset {data} has {dataset.image_size}px images but the model expects "
                f"{image_size(recipe)}px"
            )


def make_agent(model: WorldModel, recipe: Recipe) -> PlanningAgent:
    """The latent-planning agent the recipe describes (agents are built here and nowhere else).

    Raises:
        ConfigError: the model was trained without actions (`train.actions` none): its
            predictor ignores them, so no plan can be told from another.
    """
    if recipe.train.actions == "none":
        raise ConfigError(
            "this model was trained without actions (train.actions none): its predictor ignores "
            "them and cannot plan; learn the action-conditioned predictor on labelled data with "
            "ami train --encoder-from RUN"
        )
    planner = recipe.planner
    return PlanningAgent(
        model, build_solver_from(planner.solver), planner.mpc, planner.cost, planner.hold_actions
    )


def make_two_mode_agent(
    model: WorldModel,
    recipe: Recipe,
    actor: Actor | None,
    mode: str,
    miss_threshold: float | None = None,
) -> TwoModeAgent:
    """The recipe's planner beside a Mode-1 `actor`, in `mode` ("plan", "act" or "auto").

    `miss_threshold` is the imagined goal miss above which `auto` hands a decision to the
    planner (None: never on that ground).
    """
    threshold = math.inf if miss_threshold is None else miss_threshold
    rule = ModeConfig(mode=mode, miss_threshold=threshold)
    return TwoModeAgent(make_agent(model, recipe), actor, rule)


def load_actor(path: Path, model: WorldModel) -> tuple[Actor, float | None]:
    """The actor saved at `path` and its `auto` threshold; it must be distilled for `model`.

    Raises:
        ConfigError: the actor was distilled for another model.
    """
    actor, metadata = Actor.load(path, model.device)
    trained_for = metadata.get("model_version")
    if trained_for is not None and trained_for != model.version():
        raise ConfigError(
            f"the actor in {path} was distilled for model {trained_for}, not for this "
            f"model ({model.version()}); use the actor of the same round"
        )
    return actor, metadata.get("miss_threshold")


def run_eval(
    model: WorldModel,
    recipe: Recipe,
    protocols: list[EvalProtocol],
    out_dir: Path,
    progress: bool = True,
    run_facts: dict[str, Any] | None = None,
    metrics_path: Path | None = None,
    workers: int = 1,
    agent: Agent | None = None,
) -> dict[str, Any]:
    """Evaluate on each protocol, write `results.json`, plots, the GIF and `report.html`.

    `workers` processes run the agent's episodes (the same results as serially). The agent is the
    recipe's planner unless one is given (e.g. a `TwoModeAgent` with an actor).
    """
    if not protocols:
        raise ConfigError(
            f"no evaluation protocol is defined on world {recipe.collect.world!r}; name one "
            "with --protocol"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    agent = make_agent(model, recipe) if agent is None else agent
    results: dict[str, ProtocolResult] = {}
    for protocol in protocols:
        results[protocol.name] = evaluate(
            protocol,
            agent,
            record=recipe.gif_episodes,
            progress=progress,
            world_overrides=world_settings(recipe),
            workers=workers,
        )
    main = results[protocols[0].name]
    document: dict[str, Any] = {
        "success_rate": main.success_rate,
        "random_success_rate": main.random_success_rate,
        "episodes": main.episodes,
        "protocol": main.protocol.as_dict(),
        "plan_seconds_per_episode": main.plan_seconds_per_episode,
        "plan_ms_per_call": main.plan_ms_per_call,
        "protocols": {name: result.as_dict() for name, result in results.items()},
        "planner": config_to_dict(recipe.planner),
        "run": {**machine_facts(), **(run_facts or {})},
    }
    atomic_write_bytes(out_dir / "results.json", json.dumps(document, indent=2).encode())
    images = {"Success rates": plot_success_bars(document, out_dir / "success.png").name}
    recorded = [episode for result in results.values() for episode in result.recorded]
    if recorded:
        images["Planned episodes (left: agent, right: goal)"] = write_episodes_gif(
            recorded, out_dir / "episodes.gif"
        ).name
    if metrics_path is not None and metrics_path.exists():
        curves = plot_training_curves(read_metrics(metrics_path), out_dir / "training_curves.png")
        images["Training curves"] = curves.name
    write_html_report(out_dir, document, images)
    return document


def run_demo(
    recipe: Recipe, out_dir: Path, device: torch.device, progress: bool = True
) -> dict[str, Any]:
    """Collect, train, evaluate on the world's protocols and write the report into `out_dir`."""
    started = time.perf_counter()
    data = out_dir / "data" / "experience.h5"
    run_collect(recipe.collect, data, progress=progress)
    collected = time.perf_counter()
    model, trained = run_train(recipe, data, out_dir / "run", device, progress=progress)
    train_minutes = (time.perf_counter() - collected) / 60
    world = recipe.collect.world
    protocols = [
        protocol_by_name(name, recipe.eval_episodes, world) for name in protocols_of(world)
    ]
    facts = {
        "recipe": recipe.name,
        "world": recipe.collect.world,
        "seed": recipe.train.seed,
        "device": str(device),
        "collect_minutes": (collected - started) / 60,
        "train_minutes": train_minutes,
        "train_steps": trained.steps,
        "train_frames_per_second": trained.frames_per_second,
    }
    document = run_eval(
        model, recipe, protocols, out_dir, progress, facts, out_dir / "run" / METRICS_FILE
    )
    document["run"]["total_minutes"] = (time.perf_counter() - started) / 60
    atomic_write_bytes(out_dir / "results.json", json.dumps(document, indent=2).encode())
    return document


def with_eval_episodes(recipe: Recipe, episodes: int) -> Recipe:
    """The recipe with a different number of evaluation episodes."""
    return replace(recipe, eval_episodes=episodes)
