"""Versioned evaluation protocols: which world, which start/goal pairs, what budget, what success.

"TwoRoom" names three different benchmarks in the literature, so every figure ami reports names
its protocol (and version). Two are defined for TwoRoom, and the anchor protocol for every world
with a scripted expert:

- `cross_room` (ours, at least as strict as PLDM's): start uniformly in one room, goal uniformly in
  the *other*, so the agent must find the door; success = the agent's centre within 0.02 arena
  widths of the goal (1.28 px at 64 px; PLDM: ≈1.4 px of 65 px = 0.0215); budget 200 env steps.
- `anchor` (stable-worldmodel / LeWM): goal = the state 25 steps ahead in a held-out expert
  episode, budget 50 env steps, success within 16/224 arena widths (16 px of 224 px). On PushT
  success is the world's (DINO-WM's block criterion: within 20/512 of the arena width and pi/9 of
  the goal angle), on Reacher every joint within 0.1 rad of the goal configuration (LeWM's
  protocol; fingertip-in-target is reported beside it).

Both are held out from training: start/goal pairs come from their own seeds, never from the
training data's. A protocol's version is bumped whenever anything that changes its figures does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np

from ami.config import require_choice, require_positive
from ami.errors import GoalUnreachableError, UnknownWorldError
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
        success_radius: success distance in arena units (the world's success radius is set to
            it); None keeps the world's own success criterion.
        pairing: how start/goal pairs are drawn: "cross_room" or "dataset_offset".
        goal_offset: for "dataset_offset": the goal is the state this many steps ahead.
        skip_solved_starts: for "dataset_offset": never start where the goal is already met (a
            window in which the expert left the block or arm where it was asks nothing).
        description: one paragraph stating the protocol for people.
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
    description: str = ""

    def __post_init__(self) -> None:
        for field in ("version", "episodes", "budget", "goal_offset"):
            require_positive("EvalProtocol", field, getattr(self, field))
        if self.success_radius is not None:
            require_positive("EvalProtocol", "success_radius", self.success_radius)
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
            "skip_solved_starts": self.skip_solved_starts,
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


def _anchor(
    world: str,
    episodes: int,
    seed: int,
    success_radius: float | None,
    skip_solved_starts: bool,
    description: str,
) -> EvalProtocol:
    """The anchors' protocol v1 on `world`: goal 25 steps ahead, budget 50 env steps."""
    return EvalProtocol(
        name="anchor",
        version=1,
        world=world,
        episodes=episodes,
        seed=seed,
        budget=50,
        success_radius=success_radius,
        pairing="dataset_offset",
        goal_offset=25,
        skip_solved_starts=skip_solved_starts,
        description=description,
    )


def two_room_anchor(episodes: int = 50, seed: int = 1_000_003) -> EvalProtocol:
    """The anchors' (stable-worldmodel/LeWM): goal 25 steps ahead, budget 50, radius 16/224."""
    return _anchor(
        "two_room",
        episodes,
        seed,
        success_radius=16 / 224,
        skip_solved_starts=False,
        description=(
            "TwoRoom anchor protocol (stable-worldmodel/LeWM): start = a state of a held-out "
            "expert episode, goal = the state 25 steps later (goal image = that frame), budget "
            "50 env steps, success within 16/224 arena widths (16 px of 224 px)."
        ),
    )


def push_t_anchor(episodes: int = 50, seed: int = 1_000_003) -> EvalProtocol:
    """The anchors' protocol on PushT: goal 25 steps ahead, budget 50, DINO-WM's success."""
    return _anchor(
        "push_t",
        episodes,
        seed,
        success_radius=None,
        skip_solved_starts=True,
        description=(
            "PushT anchor protocol (DINO-WM/LeWM): start = a state of a held-out expert "
            "episode where the pusher is clear of the block and the block is not already at "
            "the goal; goal = the state 25 steps later (goal image = that frame); budget 50 "
            "env steps; success when the block is within 20/512 of the arena width and pi/9 "
            "rad of the goal pose (the block's criterion; DINO-WM also counts the pusher)."
        ),
    )


def reacher_anchor(episodes: int = 50, seed: int = 1_000_003) -> EvalProtocol:
    """The anchors' protocol on Reacher: goal 25 steps ahead, budget 50, joints within 0.1 rad."""
    return _anchor(
        "reacher",
        episodes,
        seed,
        success_radius=None,
        skip_solved_starts=True,
        description=(
            "Reacher anchor protocol (LeWM): start = a state of a held-out expert episode (not "
            "already at the goal), goal = the joint configuration 25 steps later (goal image "
            "rendered by the world: the arm at rest there, the target drawn at its fingertip), "
            "budget 50 env steps, success when both joints are within 0.1 rad of the goal's."
        ),
    )


# protocol name -> world -> factory(episodes=..., seed=...)
PROTOCOLS: dict[str, dict[str, Callable[..., EvalProtocol]]] = {
    "cross_room": {"two_room": two_room_cross_room},
    "anchor": {"two_room": two_room_anchor, "push_t": push_t_anchor, "reacher": reacher_anchor},
}


def protocol_by_name(name: str, episodes: int = 50, world: str = "two_room") -> EvalProtocol:
    """The protocol `name` on `world`, with `episodes` episodes."""
    if name not in PROTOCOLS:
        raise UnknownWorldError(f"unknown protocol {name!r}; known: {sorted(PROTOCOLS)}")
    if world not in PROTOCOLS[name]:
        raise UnknownWorldError(
            f"protocol {name!r} is not defined on world {world!r}; "
            f"it is on {sorted(PROTOCOLS[name])}"
        )
    return PROTOCOLS[name][world](episodes=episodes)


def protocols_of(world: str) -> list[str]:
    """The names of the protocols defined on `world`."""
    return [name for name, worlds in PROTOCOLS.items() if world in worlds]


def episode_specs(
    protocol: EvalProtocol, env: gymnasium.Env, world_options: dict[str, Any] | None = None
) -> list[EpisodeSpec]:
    """The protocol's start/goal pairs, identical on every call.

    `world_options` (world settings beyond the size) are those of `env`, so that goal images
    taken from held-out data look like the agent's observations.
    """
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
    return _dataset_offset_specs(protocol, rng, env, world_options or {})


def _dataset_offset_specs(
    protocol: EvalProtocol,
    rng: np.random.Generator,
    env: gymnasium.Env,
    world_options: dict[str, Any],
) -> list[EpisodeSpec]:
    """Start at a random frame of a held-out expert episode, goal `goal_offset` frames later.

    Only frames whose state the world can be reset to exactly are starts (`reset_options` gives
    None for the others, e.g. PushT's pusher in contact with the block), and with
    `skip_solved_starts` only those where the goal is not already met. A world that draws its
    goal in every frame renders the goal image itself; otherwise it is the data's frame.
    """
    world = env.unwrapped
    image_size = int(env.observation_space["pixels"].shape[0])  # type: ignore[index]
    draws_its_goal = bool(getattr(world, "draws_its_goal", False))
    length = protocol.goal_offset + 25
    held_out = collect(
        CollectConfig(
            world=protocol.world,
            # spare episodes for those without a usable start (only with skip_solved_starts)
            episodes=protocol.episodes * (3 if protocol.skip_solved_starts else 1),
            steps_per_episode=length,
            policy="expert",
            seed=protocol.seed,
            image_size=image_size,
            world_options=world_options,
        ),
        progress=False,
    )
    specs = []
    for episode in held_out:
        candidates = []
        for t in range(episode.length - protocol.goal_offset + 1):
            options = world.reset_options(  # type: ignore[attr-defined]
                episode.states[t].astype(np.float64),
                episode.states[t + protocol.goal_offset].astype(np.float64),
            )
            if options is not None and not (
                protocol.skip_solved_starts and env.reset(options=options)[1]["is_success"]
            ):
                candidates.append((t, options))
        if not candidates:
            continue
        t, options = candidates[int(rng.integers(len(candidates)))]
        goal_pixels = None if draws_its_goal else episode.pixels[t + protocol.goal_offset]
        specs.append(EpisodeSpec(options, goal_pixels=goal_pixels))
        if len(specs) == protocol.episodes:
            return specs
    raise GoalUnreachableError(
        f"{protocol.world}: only {len(specs)} of {protocol.episodes} held-out episodes have a "
        "start the world can be reset to"
    )
