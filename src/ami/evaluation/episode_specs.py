"""A protocol's episodes, drawn: the start/goal pairs `EpisodeSpec` of every pairing.

- "cross_room": start and goal drawn uniformly in the two rooms, alternating.
- "dataset_offset": a frame of a held-out expert episode and the frame `goal_offset` later,
  only where the world can be reset to that state exactly (and, with `skip_solved_starts`,
  where the goal is not already met); what is refused is counted.
- "goal_state": a `gym:` world's own held-out episodes (`ami.evaluation.goal_episodes`), with
  the goal distance they are scored by.
- "world_tasks": the world's own evaluation tasks (the cube's, `ami.evaluation.cube_protocols`).

The same protocol gives the same episodes on every call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np

from ami.errors import ConfigError, GoalUnreachableError
from ami.evaluation import cube_protocols
from ami.evaluation.eval_protocol import EpisodeSpec, EvalProtocol
from ami.evaluation.goal_episodes import goal_state_episodes
from ami.experience import CollectConfig, collect
from ami.worlds.goal_distance import GoalDistance


@dataclass(frozen=True)
class PreparedEpisodes:
    """A protocol's episodes, ready to run.

    Attributes:
        specs: the start/goal pairs, in order.
        distance: for "goal_state" pairing, the goal distance the episodes' world must score by
            (`ami.evaluation.goal_episodes.GoalStateWorld`); None where the world scores itself.
        refusals: what was refused on the way, counted (plain data; empty where nothing is).
    """

    specs: list[EpisodeSpec]
    distance: GoalDistance | None = None
    refusals: dict[str, Any] = field(default_factory=dict)


def prepare_episodes(
    protocol: EvalProtocol, env: gymnasium.Env, world_options: dict[str, Any] | None = None
) -> PreparedEpisodes:
    """The protocol's episodes in `env` (see `episode_specs`), with their distance and refusals."""
    if protocol.pairing == "dataset_offset":
        rng = np.random.default_rng(protocol.seed)
        specs, refusals = _dataset_offset_specs(protocol, rng, env, world_options or {})
        return PreparedEpisodes(specs, refusals=refusals)
    if protocol.pairing != "goal_state":
        return PreparedEpisodes(episode_specs(protocol, env, world_options))
    made = goal_state_episodes(
        protocol.world,
        env,
        protocol.episodes,
        protocol.goal_offset,
        protocol.seed,
        world_options or {},
        protocol.success,
        protocol.success_threshold,
        protocol.held_out_policy,
    )
    specs = [
        EpisodeSpec(options, goal_pixels=pixels)
        for options, pixels in zip(made.options, made.goal_pixels, strict=True)
    ]
    return PreparedEpisodes(specs, made.distance, made.refusals.as_dict())


def episode_specs(
    protocol: EvalProtocol, env: gymnasium.Env, world_options: dict[str, Any] | None = None
) -> list[EpisodeSpec]:
    """The protocol's start/goal pairs, identical on every call.

    `world_options` (world settings beyond the size) are those of `env`, so that goal images
    taken from held-out data look like the agent's observations.
    """
    if protocol.pairing in ("goal_state", "dataset_offset"):
        return prepare_episodes(protocol, env, world_options).specs
    if protocol.pairing == "world_tasks":
        return cube_protocols.task_specs(protocol, env, world_options or {})
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
    raise ConfigError(f"unknown pairing {protocol.pairing!r}")  # __post_init__ refuses it first


def _dataset_offset_specs(
    protocol: EvalProtocol,
    rng: np.random.Generator,
    env: gymnasium.Env,
    world_options: dict[str, Any],
) -> tuple[list[EpisodeSpec], dict[str, Any]]:
    """Start at a frame of a held-out expert episode, goal `goal_offset` frames later.

    The frame is drawn at random, or is `start_step` in every episode. Only frames whose state
    the world can be reset to exactly are starts (`reset_options` gives None for the others,
    e.g. PushT's pusher in contact with the block), and with `skip_solved_starts` only those
    where the goal is not already met. A world that draws its goal in every frame renders the
    goal image itself; otherwise it is the data's frame.

    Returns:
        The specs and the refusals counted: starts considered, refused as not settable or as
        already solved, and held-out episodes left without a start.
    """
    world = env.unwrapped
    image_size = int(env.observation_space["pixels"].shape[0])  # type: ignore[index]
    draws_its_goal = bool(getattr(world, "draws_its_goal", False))
    length = protocol.goal_offset + 25
    if protocol.start_step is not None:
        length = protocol.start_step + protocol.goal_offset
    refused = {"starts_considered": 0, "unsettable_starts": 0, "solved_starts": 0,
               "episodes_without_start": 0}  # fmt: skip
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
        steps = range(episode.length - protocol.goal_offset + 1)
        if protocol.start_step is not None:
            steps = range(protocol.start_step, min(protocol.start_step + 1, steps.stop))
        candidates = []
        for t in steps:
            refused["starts_considered"] += 1
            options = world.reset_options(  # type: ignore[attr-defined]
                episode.states[t].astype(np.float64),
                episode.states[t + protocol.goal_offset].astype(np.float64),
            )
            if options is None:
                refused["unsettable_starts"] += 1
            elif protocol.skip_solved_starts and env.reset(options=options)[1]["is_success"]:
                refused["solved_starts"] += 1
            else:
                candidates.append((t, options))
        if not candidates:
            refused["episodes_without_start"] += 1
            continue
        t, options = candidates[int(rng.integers(len(candidates)))]
        goal_pixels = None if draws_its_goal else episode.pixels[t + protocol.goal_offset]
        specs.append(EpisodeSpec(options, goal_pixels=goal_pixels))
        if len(specs) == protocol.episodes:
            return specs, refused
    raise GoalUnreachableError(
        f"{protocol.world}: only {len(specs)} of {protocol.episodes} held-out episodes have a "
        f"usable start ({refused['unsettable_starts']} starts cannot be set, "
        f"{refused['solved_starts']} are already at their goal)"
    )
