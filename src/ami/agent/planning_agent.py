"""Agents that turn a goal image into actions: the latent planner (Mode-2) and a random baseline.

An agent is told its goal as pixels (`begin`) and then maps each observation's pixels to one env
action (`act`). `PlanningAgent` encodes the goal, builds the goal energy and lets an MPC controller
plan model-level actions; with action blocks (one model step = k env steps) it hands out the k env
actions of each planned block one at a time, and plans again only at block boundaries. By default
it plans one action per block, held for its k steps (`HeldActions`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from ami.config import require_choice, require_non_negative
from ami.model import WorldModel
from ami.planning import (
    ActionMagnitude,
    Cost,
    GoalEnergy,
    HeldActions,
    LatentModel,
    MPCConfig,
    MPCController,
    Solver,
)


class Agent(Protocol):
    """Pixels in, env actions out."""

    def begin(self, goal_pixels: np.ndarray) -> None:
        """Start an episode towards the goal seen as `goal_pixels uint8 [h, w, 3]`."""
        ...

    def act(self, pixels: np.ndarray) -> np.ndarray:
        """The next env action `float32 [A]` in [-1, 1] for observation `pixels uint8 [h, w, 3]`."""
        ...


@dataclass(frozen=True)
class GoalCostConfig:
    """How the goal energy is built.

    Attributes:
        reduce: how the per-step distance to the goal is reduced over the horizon:
            "min" (closest approach), "sum" (mean over steps) or "last".
        action_weight: weight of the action-magnitude term (prefers small, calm actions; this
            also makes the agent settle on the goal instead of wandering around it).
    """

    reduce: str = "min"
    action_weight: float = 0.01

    def __post_init__(self) -> None:
        require_choice("GoalCostConfig", "reduce", self.reduce, ("min", "sum", "last"))
        require_non_negative("GoalCostConfig", "action_weight", self.action_weight)


class PlanningAgent:
    """Plans in the world model's latent space with MPC around any solver."""

    def __init__(
        self,
        model: WorldModel,
        solver: Solver,
        mpc: MPCConfig,
        cost: GoalCostConfig = GoalCostConfig(),
        hold_actions: bool = True,
    ) -> None:
        self.model = model
        self.cost_config = cost
        self.frameskip = model.config.frameskip
        self.env_action_dim = model.config.env_action_dim
        self.hold_actions = hold_actions
        planned = HeldActions(model, self.frameskip) if hold_actions else model
        self.controller = MPCController(planned, solver, mpc, model.device)
        self._pending: deque[np.ndarray] = deque()
        self.constraints: Cost | None = None

    @property
    def plan_seconds(self) -> list[float]:
        """Seconds of each planning call in the current episode."""
        return self.controller.plan_seconds

    @property
    def decision_seconds(self) -> list[float]:
        """Seconds of each decision in the current episode (here: each plan)."""
        return self.controller.plan_seconds

    def embed(self, pixels: np.ndarray) -> torch.Tensor:
        """The embedding `[D]` of one observation `uint8 [h, w, 3]`."""
        with torch.no_grad():
            frame = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)
            return self.model.encode(frame[None, None].to(self.model.device))[0, 0]

    def goal_cost(self, goal_pixels: np.ndarray) -> Cost:
        """The energy to minimise for a goal seen as `goal_pixels uint8 [h, w, 3]`."""
        return self.embedding_cost(self.embed(goal_pixels))

    def embedding_cost(self, z_goal: torch.Tensor) -> Cost:
        """The energy to minimise for a goal given as an embedding `[D]`."""
        cost: Cost = GoalEnergy(z_goal, reduce=self.cost_config.reduce)
        if self.cost_config.action_weight > 0:
            cost = cost + ActionMagnitude(self.cost_config.action_weight)
        if self.constraints is not None:
            cost = cost + self.constraints
        return cost

    def begin(self, goal_pixels: np.ndarray) -> None:
        """Start an episode towards `goal_pixels`."""
        self.aim(self.embed(goal_pixels))

    def aim(self, z_goal: torch.Tensor) -> None:
        """Plan towards the embedding `z_goal [D]` from now on (a new goal or sub-goal)."""
        self.controller.reset(self.embedding_cost(z_goal))
        self._pending.clear()

    def replan(self, *_reason: object) -> None:
        """Drop what is left of the current plan, so that the next `act` plans at once.

        Fits any callback signature (e.g. a surprise monitor's `on_surprise(event)`).
        """
        self._pending.clear()
        self.controller.drop_queue()

    def act(self, pixels: np.ndarray) -> np.ndarray:
        """The next env action; plans a new block of k actions when the last one is used up."""
        if not self._pending:
            self._pending.extend(self.next_block(pixels))
        return self._pending.popleft()

    def next_block(self, pixels: np.ndarray) -> np.ndarray:
        """The env actions `float32 [k, A]` of the next model step (planning when needed)."""
        return self.block_of(self.controller.act(pixels))

    def block_of(self, planned: np.ndarray) -> np.ndarray:
        """The env actions `float32 [k, A]` of one planner-level action (held or a whole block)."""
        if self.hold_actions:
            planned = np.tile(planned, self.frameskip)
        return planned.reshape(self.frameskip, self.env_action_dim).astype(np.float32)

    @property
    def planned_model(self) -> LatentModel:
        """The world model as the planner sees it (planner-level actions, e.g. held)."""
        return self.controller.model


class RandomAgent:
    """Uniform random actions in [-1, 1]: the floor every result is reported against."""

    def __init__(self, action_dim: int, seed: int = 0) -> None:
        self.action_dim = action_dim
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def begin(self, goal_pixels: np.ndarray) -> None:
        """Ignore the goal."""

    def act(self, pixels: np.ndarray) -> np.ndarray:
        """A uniform random action `float32 [A]`."""
        return self._rng.uniform(-1.0, 1.0, self.action_dim).astype(np.float32)


class ZeroAgent:
    """The zero action (the middle of the action bounds) every step: the do-nothing floor.

    Where a goal lies where the world drifts by itself (a pendulum at rest, a ball that stays
    put), doing nothing reaches it; a result is only worth its margin over this floor too.
    """

    def __init__(self, action_dim: int) -> None:
        self.action_dim = action_dim

    def begin(self, goal_pixels: np.ndarray) -> None:
        """Ignore the goal."""

    def act(self, pixels: np.ndarray) -> np.ndarray:
        """Zeros `float32 [A]`."""
        return np.zeros(self.action_dim, np.float32)
