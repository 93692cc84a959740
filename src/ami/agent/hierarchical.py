"""Mode-2 planning beyond the horizon: a route through remembered places, then latent MPC.

The agent finds the remembered place nearest to where it is and the one nearest to its goal,
takes the cheapest route between them on the graph of places, and lets the latent planner reach
a sub-goal a few places ahead on that route; when it gets close to a sub-goal it aims further
along, and when a sub-goal is not reached within `patience` env steps it routes again from where
it now is. Forbidden places are simply absent from the graph it is given. A goal no remembered
route leads to raises `GoalUnreachableError` at the first step (the agent says so instead of
wandering). Goals need not be images: `begin_labelled` aims at a place labelled in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ami.agent.planning_agent import PlanningAgent
from ami.config import require_positive
from ami.errors import MemoryLookupError
from ami.memory import Memory
from ami.memory.place_graph import PlaceGraph


@dataclass(frozen=True)
class HierarchyConfig:
    """How sub-goals are followed.

    Attributes:
        lookahead: places ahead on the route to aim at (within the planner's horizon).
        reached: embedding distance at which a place counts as reached.
        patience: env steps allowed per sub-goal before routing again.
    """

    lookahead: int = 3
    reached: float = 2.0
    patience: int = 40

    def __post_init__(self) -> None:
        for name in ("lookahead", "reached", "patience"):
            require_positive("HierarchyConfig", name, getattr(self, name))


class HierarchicalAgent:
    """Follows routes on a `PlaceGraph` with a `PlanningAgent` for each stretch."""

    def __init__(self, planner: PlanningAgent, graph: PlaceGraph, config: HierarchyConfig) -> None:
        self.planner, self.graph, self.config = planner, graph, config
        self._goal = np.zeros(0, np.float32)
        self._route: list[int] = []
        self._index = 0
        self._aimed: int | None = None
        self._steps_on_target = 0
        self.routes = 0

    @property
    def plan_seconds(self) -> list[float]:
        """Seconds of each low-level planning call since the last sub-goal change."""
        return self.planner.plan_seconds

    def begin(self, goal_pixels: np.ndarray) -> None:
        """Start an episode towards `goal_pixels`; the route is found at the first step."""
        self.begin_at(self.planner.embed(goal_pixels).cpu().numpy())

    def begin_at(self, z_goal: np.ndarray) -> None:
        """Start an episode towards a goal given as an embedding `[D]` (e.g. a labelled place)."""
        self._goal = np.array(z_goal, dtype=np.float32)  # a writable copy
        self._route, self._index, self._aimed, self.routes = [], 0, None, 0
        self.graph.nearest(self._goal)  # an empty graph fails here, not mid-episode

    def begin_labelled(self, memory: Memory, label: str, model_version: str) -> None:
        """Start an episode towards the place labelled `label` in `memory` (its latest moment)."""
        moment = memory.step(memory.find(label)[-1])
        if moment["model_version"] != model_version:
            raise MemoryLookupError(
                f"the place labelled {label!r} was embedded by model {moment['model_version']!r}, "
                f"not {model_version!r}; re-embed the memory first"
            )
        self.begin_at(moment["embedding"])

    def act(self, pixels: np.ndarray) -> np.ndarray:
        """The next env action towards the current sub-goal."""
        z = self.planner.embed(pixels).cpu().numpy()
        if not self._route or self._steps_on_target >= self.config.patience:
            self._route, self._index = self.graph.route(z, self._goal), 0
            self._aimed, self.routes = None, self.routes + 1
        places = self.graph.subgoals(self._route)
        while (
            self._index < len(self._route) - 1
            and np.linalg.norm(places[self._index] - z) <= self.config.reached
        ):
            self._index += 1
        target = min(self._index + self.config.lookahead, len(self._route) - 1)
        final = target == len(self._route) - 1
        if target != self._aimed:
            aim = self._goal if final else places[target]
            self.planner.aim(torch.as_tensor(aim, device=self.planner.model.device))
            self._aimed, self._steps_on_target = target, 0
        self._steps_on_target += 1
        return self.planner.act(pixels)
