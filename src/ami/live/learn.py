"""What a live round learns from memory: the world model fine-tuned, the actor distilled.

Both read every remembered episode or decision (old and new experience, so nothing is forgotten),
and the memory's embeddings are always the current model's (`embed_memory_with`: never mixed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ami.agent.actor import Actor, ActorConfig
from ami.agent.distill import DistillConfig, calibrate_miss_threshold, distill_actor
from ami.agent.relabel import relabel_with_planner
from ami.errors import MemoryLookupError
from ami.live.config import LiveConfig
from ami.memory import Memory
from ami.memory.decisions import read_decisions
from ami.memory.replay import windows_from_memory
from ami.model import WorldModel
from ami.model.world_model import encode_frames
from ami.pipeline import make_agent
from ami.recipes import Recipe
from ami.training import train


def finetune_on_memory(
    recipe: Recipe,
    config: LiveConfig,
    model: WorldModel,
    memory: Memory,
    folder: Path,
    progress: bool,
) -> WorldModel:
    """Fine-tune `model` on every remembered episode of the world (resumable in `folder/train`)."""
    windows = windows_from_memory(memory, recipe.window, world=recipe.collect.world)
    train_windows, valid_windows = windows.split(recipe.valid_fraction, seed=config.seed)
    settings = replace(
        recipe.train,
        steps=config.finetune_steps,
        lr=config.finetune_lr,
        warmup_steps=min(recipe.train.warmup_steps, config.finetune_steps // 10),
        seed=config.seed + len(memory.episode_ids()),
        checkpoint_every=config.finetune_steps,
        valid_every=config.finetune_steps,
        log_every=min(recipe.train.log_every, config.finetune_steps),
    )
    train(
        model,
        train_windows,
        valid_windows,
        settings,
        folder / "train",
        metadata={"world": recipe.collect.world, "recipe": recipe.name, "memory": str(memory.path)},
        progress=progress,
    )
    return model


def distil_from_memory(
    model: WorldModel,
    recipe: Recipe,
    config: LiveConfig,
    memory: Memory,
    folder: Path,
    progress: bool,
) -> tuple[Actor | None, float | None, dict[str, Any] | None]:
    """The actor distilled from every planner decision in memory, and `auto`'s threshold.

    With `config.relabel`, the planner first labels the decisions the actor took (DAgger).
    """
    planner = make_agent(model, recipe)
    relabelled = relabel_with_planner(memory, planner) if config.relabel else 0
    try:
        decisions = read_decisions(memory, "plan")
    except MemoryLookupError:
        return None, None, None
    planned = planner.planned_model
    torch.manual_seed(config.seed)
    actor = Actor(
        ActorConfig(embed_dim=recipe.model.encoder.embed_dim, action_dim=planned.action_dim)
    )
    actor = actor.to(model.device)
    result = distill_actor(
        actor,
        planned,
        decisions,
        DistillConfig(
            steps=config.distill_steps, refine_weight=config.refine_weight, seed=config.seed
        ),
        progress,
    )
    threshold = calibrate_miss_threshold(decisions, config.miss_quantile)
    metadata = {"model_version": model.version(), "miss_threshold": threshold}
    actor.save(folder / "actor", metadata=metadata)
    return (
        actor,
        threshold,
        {
            "decisions": result.decisions,
            "relabelled": relabelled,
            "train_loss": result.train_loss,
            "valid_loss": result.valid_loss,
            "seconds": result.seconds,
        },
    )


def embed_memory_with(memory: Memory, model: WorldModel) -> None:
    """Re-embed the memory when any of its embeddings is not `model`'s (versions never mix)."""
    versions = set(memory.stats()["model_versions"])
    if versions and versions != {model.version()}:
        memory.reembed(memory_encoder(model), model.version())


def memory_encoder(model: WorldModel) -> Callable[[np.ndarray], np.ndarray]:
    """Frames `uint8 [N, h, w, 3]` → embeddings `float32 [N, D]` with `model`."""
    return lambda frames: encode_frames(model, frames)
