"""Distil the planner into the actor: regress its decisions, optionally refine through the model.

The data are the planner's own remembered decisions (`ami.memory.decisions`): the observation, the
goal and the plan it chose. Both frames are embedded by the current world model (never by the one
that planned), and the actor learns `(z, g) → plan[:chunk]` by mean squared error. With
`refine_weight > 0` it also descends the goal energy of its own imagined closed-loop rollout
(`imagine` + `goal_miss`): gradients flow through the frozen world model into the actor.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ami.agent.actor import Actor, goal_miss, imagine
from ami.config import require_in_range, require_non_negative, require_positive
from ami.errors import ShapeError
from ami.memory.decisions import Decisions
from ami.planning.mpc import LatentModel
from ami.progress import progress_bar
from ami.worlds.symmetry import IDENTITY, map_action_blocks, moved_frames, symmetries_of


@dataclass(frozen=True)
class DistillConfig:
    """How the actor is trained.

    Attributes:
        steps: optimiser steps.
        batch: decisions per step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        refine_weight: weight of the imagined goal energy of the actor's own rollouts (0: pure
            distillation).
        refine_horizon: model steps of those rollouts.
        refine_batch: decisions of each step's batch whose rollouts are refined (the imagined
            rollout costs about ten times the regression per decision).
        valid_fraction: share of decisions held out to measure the fit.
        seed: seed of the initialisation, the split and the batches.
    """

    steps: int = 2000
    batch: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    refine_weight: float = 0.0
    refine_horizon: int = 5
    refine_batch: int = 128
    valid_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch", "refine_horizon", "refine_batch"):
            require_positive("DistillConfig", name, getattr(self, name))
        require_positive("DistillConfig", "lr", self.lr)
        require_non_negative("DistillConfig", "weight_decay", self.weight_decay)
        require_non_negative("DistillConfig", "refine_weight", self.refine_weight)
        require_in_range("DistillConfig", "valid_fraction", self.valid_fraction, 0.0, 0.5)


@dataclass(frozen=True)
class DistillResult:
    """How the distillation went (losses are mean squared action errors)."""

    decisions: int
    training_rows: int  # the training decisions and their symmetric copies
    steps: int
    train_loss: float
    valid_loss: float
    seconds: float


def embed_frames(
    model: LatentModel, frames: np.ndarray, device: torch.device, batch: int = 512
) -> Tensor:
    """Embeddings `[N, D]` of `frames uint8 [N, h, w, 3]` (no gradient), on `device`."""
    out = []
    with torch.no_grad():
        for start in range(0, len(frames), batch):
            chunk = torch.from_numpy(np.ascontiguousarray(frames[start : start + batch]))
            pixels = chunk.permute(0, 3, 1, 2)[:, None].to(device)  # [B, 1, 3, h, w]
            out.append(model.encode(pixels)[:, 0])
    return torch.cat(out)


def distill_actor(
    actor: Actor,
    model: LatentModel,
    decisions: Decisions,
    config: DistillConfig = DistillConfig(),
    progress: bool = False,
    world: object | None = None,
) -> DistillResult:
    """Train `actor` on `decisions` (the planner's); returns losses on the train and held-out sets.

    With a `world` that declares symmetries (`ami.worlds.symmetry`; PushT), the actor also learns
    from every training decision moved by each of them: the frame and the goal turned or mirrored,
    the plan's actions mapped alike (a decision the planner would have made in the moved scene,
    were it as equivariant as the world). The held-out decisions stay as they were.

    Args:
        actor: the actor to train (in place).
        model: the planner's view of the world model (planner-level actions), frozen here.
        decisions: the planner's decisions, with plans of at least `actor.config.chunk` steps.
        config: optimiser settings.
        progress: show a progress bar.
        world: the world the decisions were taken in, for its symmetries (None: none used).

    Raises:
        ShapeError: the plans are shorter than the actor's chunk or of another action size.
    """
    chunk, action_dim = actor.config.chunk, actor.config.action_dim
    if decisions.plans.shape[1] < chunk or decisions.plans.shape[2] != action_dim:
        raise ShapeError(
            f"the actor predicts {chunk} actions of size {action_dim} but the remembered plans "
            f"are {list(decisions.plans.shape[1:])}"
        )
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    device = next(actor.parameters()).device
    z = embed_frames(model, decisions.observations, device)
    goal = embed_frames(model, decisions.goals, device)
    target = torch.from_numpy(decisions.plans[:, :chunk]).to(device)
    order = torch.randperm(len(z), generator=torch.Generator().manual_seed(config.seed))
    n_valid = int(round(config.valid_fraction * len(z))) if len(z) > 1 else 0
    valid, train = order[:n_valid], order[n_valid:]
    if world is not None and symmetries_of(world):
        z, goal, target, train = _with_symmetric_copies(
            model, decisions, world, (z, goal, target), train
        )
    optimiser = torch.optim.AdamW(
        actor.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.steps)
    batches = torch.Generator().manual_seed(config.seed + 1)
    actor.train()
    loss_value = float("nan")
    with progress_bar(progress, "distil actor", config.steps) as advance, _frozen(model):
        for _ in range(config.steps):
            loss_value = _step(actor, model, optimiser, z, goal, target, train, batches, config)
            schedule.step()
            advance(1)
    actor.eval()
    return DistillResult(
        decisions=len(decisions),
        training_rows=len(train),
        steps=config.steps,
        train_loss=_action_error(actor, z[train], goal[train], target[train]),
        valid_loss=_action_error(actor, z[valid], goal[valid], target[valid])
        if n_valid
        else loss_value,
        seconds=time.perf_counter() - started,
    )


def _with_symmetric_copies(
    model: LatentModel,
    decisions: Decisions,
    world: Any,
    data: tuple[Tensor, Tensor, Tensor],
    train: Tensor,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """`(z, goal, target)` extended by the training decisions under each symmetry of `world`.

    Returns the extended `z [M, D]`, `goal [M, D]`, `target [M, chunk, A]` and the indices of
    every training row (the originals' and their copies').
    """
    z, goal, target = data
    rows = train.numpy()
    parts_z, parts_goal, parts_target, indices = [z], [goal], [target], [train]
    for symmetry in symmetries_of(world):
        if symmetry == IDENTITY:
            continue
        matrix = torch.as_tensor(world.symmetric_actions(symmetry), dtype=target.dtype)
        start = sum(len(part) for part in parts_z)
        parts_z.append(
            embed_frames(model, moved_frames(decisions.observations[rows], symmetry), z.device)
        )
        parts_goal.append(
            embed_frames(model, moved_frames(decisions.goals[rows], symmetry), z.device)
        )
        parts_target.append(map_action_blocks(target[train], matrix.to(target.device)))
        indices.append(torch.arange(start, start + len(rows)))
    return torch.cat(parts_z), torch.cat(parts_goal), torch.cat(parts_target), torch.cat(indices)


@contextmanager
def _frozen(model: LatentModel) -> Iterator[None]:
    """No gradients for the world model's weights (they still flow through it to the actor)."""
    module = model if isinstance(model, nn.Module) else getattr(model, "model", None)
    parameters = [p for p in module.parameters() if p.requires_grad] if module is not None else []
    for parameter in parameters:
        parameter.requires_grad_(False)
    try:
        yield
    finally:
        for parameter in parameters:
            parameter.requires_grad_(True)


def _step(
    actor: Actor,
    model: LatentModel,
    optimiser: torch.optim.Optimizer,
    z: Tensor,
    goal: Tensor,
    target: Tensor,
    train: Tensor,
    batches: torch.Generator,
    config: DistillConfig,
) -> float:
    """One optimiser step on a random batch of the training decisions; returns its loss."""
    pick = train[torch.randint(len(train), (min(config.batch, len(train)),), generator=batches)]
    loss = (actor(z[pick], goal[pick]) - target[pick]).pow(2).mean()
    if config.refine_weight > 0:
        some = pick[: config.refine_batch]
        imagined, _ = imagine(actor, model, z[some], goal[some], config.refine_horizon)
        loss = loss + config.refine_weight * goal_miss(imagined, goal[some]).mean()
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return float(loss.detach())


def _action_error(actor: Actor, z: Tensor, goal: Tensor, target: Tensor) -> float:
    """Mean squared error of the actor's chunk against `target [N, chunk, A]`."""
    with torch.no_grad():
        return float((actor(z, goal) - target).pow(2).mean())


def calibrate_miss_threshold(decisions: Decisions, quantile: float = 0.9) -> float:
    """The energy the planner expects of its plans in a `quantile` of its decisions.

    In `auto` mode the actor is trusted when its imagined closest approach to the goal is no worse
    than this: as good as the planner itself usually expects to do.
    """
    require_in_range("calibrate_miss_threshold", "quantile", quantile, 0.0, 1.0)
    return float(np.nanquantile(decisions.energies, quantile))
