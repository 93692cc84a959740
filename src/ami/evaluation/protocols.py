"""Versioned evaluation protocols: which world, which start/goal pairs, what budget, what success.

"TwoRoom" names three different benchmarks in the literature, so every figure ami reports names
its protocol (and version). Two are defined for TwoRoom:

- `cross_room` (ours, at least as strict as PLDM's): start uniformly in one room, goal uniformly in
  the *other*, so the agent must find the door; success = the agent's centre within 0.02 arena
  widths of the goal (1.28 px at 64 px; PLDM: ≈1.4 px of 65 px = 0.0215); budget 200 env steps.
- `anchor` (stable-worldmodel / LeWM): goal = the state 25 steps ahead in a held-out expert
  episode, budget 50 env steps, success within 16/224 arena widths (16 px of 224 px).

Both are held out from training: start/goal pairs come from their own seeds, never from the
training data's. A protocol's version is bumped whenever anything that changes its figures does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np

from ami.config import require_choice, require_positive
from ami.errors import UnknownWorldError
from ami.experience import CollectConfig, collect


@dataclass(frozen=True)
class EvalProtocol:
    """One reproducible evaluation.

    Attributes:
        name: short name ("cross_room", "anchor").
        version: bumped whenever the protocol's figures would change.
        world: registered world name.
        episodes: number of episodes.
        seed: seed of the start/goal pairs (and of held-out data).
        budget: env steps allowed per episode.
        success_radius: success distance in arena units (the world's success radius is set to it).
        pairing: how start/goal pairs are drawn: "cross_room" or "dataset_offset".
        goal_offset: for "dataset_offset": the goal is the state this many steps ahead.
        description: one paragraph stating the protocol for people.
    """

    name: str
    version: int
    world: str
    episodes: int
    seed: int
    budget: int
    success_radius: float
    pairing: str
    goal_offset: int = 25
    description: str = ""

    def __post_init__(self) -> None:
        for field in ("version", "episodes", "budget", "success_radius", "goal_offset"):
            require_positive("EvalProtocol", field, getattr(self, field))
        require_choice("EvalProtocol", "pairing", self.pairing, ("cross_room", "dataset_offset"))

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
            "description": self.description,
        }


@dataclass(frozen=True)
class EpisodeSpec:
    """One start/goal pair: reset options and, when the goal is a data frame, its pixels."""

    options: dict[str, np.ndarray]
    goal_pixels: np.ndarray | None = None


def two_room_cross_room(episodes: int = 50, seed: int = 2_000_003) -> EvalProtocol:
    """Ours: start and goal in different rooms, radius 0.02, budget 200 steps."""
    return EvalProtocol(
        name="cross_room",
        version=1,
        world="two_room",
        episodes=episodes,
        seed=seed,
        budget=200,
        success_radius=0.02,
        pairing="cross_room",
        description=(
            "TwoRoom cross-room (ami v1): start uniform in one room, goal uniform in the other "
            "(rooms alternate), success when the agent's centre is within 0.02 arena widths "
            "(1.28 px at 64 px) of the goal within 200 env steps. Stricter than PLDM's 1.4 px "
            "of 65 px."
        ),
    )


def two_room_anchor(episodes: int = 50, seed: int = 1_000_003) -> EvalProtocol:
    """The anchors' (stable-worldmodel/LeWM): goal 25 steps ahead, budget 50, radius 16/224."""
    return EvalProtocol(
        name="anchor",
        version=1,
        world="two_room",
        episodes=episodes,
        seed=seed,
        budget=50,
        success_radius=16 / 224,
        pairing="dataset_offset",
        goal_offset=25,
        description=(
            "TwoRoom anchor protocol (stable-worldmodel/LeWM): start = a state of a held-out "
            "expert episode, goal = the state 25 steps later (goal image = that frame), budget "
            "50 env steps, success within 16/224 arena widths (16 px of 224 px)."
        ),
    )


PROTOCOLS = {"cross_room": two_room_cross_room, "anchor": two_room_anchor}


def protocol_by_name(name: str, episodes: int = 50) -> EvalProtocol:
    """The named protocol with `episodes` episodes."""
    if name not in PROTOCOLS:
        raise UnknownWorldError(f"unknown protocol {name!r}; known: {sorted(PROTOCOLS)}")
    return PROTOCOLS[name](episodes=episodes)


def episode_specs(protocol: EvalProtocol, env: gymnasium.Env) -> list[EpisodeSpec]:
    """The protocol's start/goal pairs, identical on every call."""
    world = env.unwrapped
    rng = np.random.default_rng(protocol.seed)
    if protocol.pairing == "cross_room":
        specs = []
        for index in range(protocol.episodes):
            room = index % 2
            start = world.sample_free_position(rng, room=room)  # type: ignore[attr-defined]
            goal = world.sample_free_position(rng, room=1 - room)  # type: ignore[attr-defined]
            specs.append(EpisodeSpec({"agent": start, "goal": goal}))
        return specs
    image_size = int(env.observation_space["pixels"].shape[0])  # type: ignore[index]
    return _dataset_offset_specs(protocol, rng, image_size)


def _dataset_offset_specs(
    protocol: EvalProtocol, rng: np.random.Generator, image_size: int
) -> list[EpisodeSpec]:
    """Start at a random frame of a held-out expert episode, goal `goal_offset` frames later."""
    length = protocol.goal_offset + 25
    held_out = collect(
        CollectConfig(
            world=protocol.world,
            episodes=protocol.episodes,
            steps_per_episode=length,
            policy="expert",
            seed=protocol.seed,
            image_size=image_size,
        ),
        progress=False,
    )
    specs = []
    for episode in held_out:
        t = int(rng.integers(0, episode.length - protocol.goal_offset + 1))
        goal_t = t + protocol.goal_offset
        specs.append(
            EpisodeSpec(
                {
                    "agent": episode.states[t].astype(np.float64),
                    "goal": episode.states[goal_t].astype(np.float64),
                },
                goal_pixels=episode.pixels[goal_t],
            )
        )
    return specs
