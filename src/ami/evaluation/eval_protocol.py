"""The contract of an evaluation protocol: `EvalProtocol`, validated, and its `EpisodeSpec`s.

An `EvalProtocol` is plain, frozen data (which world, how start/goal pairs are drawn, what
budget, what success); the built-in ones are made in `ami.evaluation.protocols`, and their
episodes are drawn in `ami.evaluation.episode_specs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ami.agent.episode import SCORE_AT, ScoreRule
from ami.config import require_choice, require_positive
from ami.errors import ConfigError

PAIRINGS = ("cross_room", "dataset_offset", "goal_state", "world_tasks")
GOAL_25_STEPS = "goal_25_steps"


@dataclass(frozen=True)
class EvalProtocol:
    """One reproducible evaluation.

    Attributes:
        name: short name ("cross_room", "goal_25_steps").
        version: bumped whenever the protocol's figures would change.
        world: registered world name.
        episodes: number of episodes.
        seed: seed of the start/goal pairs (and of held-out data).
        budget: env steps allowed per episode.
        success_radius: success distance in arena units (the world's success radius is set to
            it); None keeps the world's own success criterion.
        pairing: how start/goal pairs are drawn: "cross_room", "dataset_offset" (a built-in
            world's expert episodes, started through its `reset_options`), "goal_state" (a
            `gym:` world's own held-out episodes, started by replay or by its simulator state)
            or "world_tasks" (the world's own evaluation tasks: the cube's OGBench tasks).
        goal_offset: for "dataset_offset" and "goal_state": the goal is the state this many steps
            ahead.
        skip_solved_starts: for "dataset_offset": never start where the goal is already met (a
            window in which the expert left the block or arm where it was asks nothing);
            "goal_state" always refuses such starts.
        start_step: for "dataset_offset": every start is this step of its held-out episode
            (an episode whose start is unusable is refused and counted); None: a step drawn
            from each episode's usable ones.
        description: one paragraph stating the protocol for people.
        success: for "goal_state": the goal distance's name (`ami.worlds.goal_distance`) or
            "module:callable"; None for the world's default.
        success_threshold: for "goal_state": replaces the distance's own threshold.
        score_at: "any", "end" or "held" (`ami.agent.ScoreRule`).
        held_steps: for score_at "held": the consecutive steps the goal must hold.
        held_out_policy: for "goal_state": the collection policy of the held-out episodes
            (`ami.experience.collect`; "colored" noise moves a heavy body further than held
            uniform actions, so fewer goals lie where the world drifts by itself).
    """

    name: str
    version: int
    world: str
    episodes: int
    seed: int
    budget: int
    success_radius: float | None
    pairing: str
    goal_offset: int = 25
    skip_solved_starts: bool = False
    start_step: int | None = None
    description: str = ""
    success: str | None = None
    success_threshold: float | None = None
    score_at: str = "any"
    held_steps: int = 1
    held_out_policy: str = "colored"

    def __post_init__(self) -> None:
        for name in ("version", "episodes", "budget", "goal_offset", "held_steps"):
            require_positive("EvalProtocol", name, getattr(self, name))
        for name in ("success_radius", "success_threshold"):
            if getattr(self, name) is not None:
                require_positive("EvalProtocol", name, getattr(self, name))
        require_choice("EvalProtocol", "pairing", self.pairing, PAIRINGS)
        require_choice("EvalProtocol", "score_at", self.score_at, SCORE_AT)
        if self.start_step is not None and (
            self.pairing != "dataset_offset"
            or not isinstance(self.start_step, int)
            or self.start_step < 0
        ):
            raise ConfigError(
                f"EvalProtocol.start_step must be None or an integer >= 0 with pairing "
                f"'dataset_offset', got {self.start_step!r} with {self.pairing!r}"
            )
        if self.pairing != "goal_state" and (
            self.success is not None or self.success_threshold is not None
        ):
            raise ConfigError(
                f"protocol {self.name!r} on {self.world!r} scores by the world's own success "
                "test; a goal distance (success, success_threshold) is for gym: worlds"
            )

    @property
    def score(self) -> ScoreRule:
        """When an episode's per-step success makes it a success."""
        return ScoreRule(self.score_at, self.held_steps)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for results files."""
        return {
            "name": self.name,
            "version": self.version,
            "world": self.world,
            "episodes": self.episodes,
            "seed": self.seed,
            "budget": self.budget,
            "success_radius": self.success_radius,
            "pairing": self.pairing,
            "goal_offset": self.goal_offset,
            "skip_solved_starts": self.skip_solved_starts,
            "start_step": self.start_step,
            "success": self.success,
            "success_threshold": self.success_threshold,
            "score_at": self.score_at,
            "held_steps": self.held_steps,
            "held_out_policy": self.held_out_policy if self.pairing == "goal_state" else None,
            "description": self.description,
        }


@dataclass(frozen=True)
class EpisodeSpec:
    """One start/goal pair: reset options and, when the goal is a data frame, its pixels."""

    options: dict[str, np.ndarray]
    goal_pixels: np.ndarray | None = None
