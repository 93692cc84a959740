"""Where a living agent goes next: goals drawn like the protocol's, or the least visited ones.

"uniform" draws start/goal pairs exactly as the evaluation protocol does, with seeds of its own
(never the evaluation's). "novel" draws `candidates` times as many and keeps the pairs whose goal
frame is farthest from everything remembered (the distance of its embedding to its `k`-th nearest
remembered step): goals where the agent has least been, so that new experience is informative.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import gymnasium
import numpy as np

from ami.agent.planning_agent import PlanningAgent
from ami.errors import ConfigError
from ami.evaluation.episode_specs import episode_specs
from ami.evaluation.eval_protocol import EpisodeSpec, EvalProtocol
from ami.memory import Memory

GOAL_SEED = 9_000_011  # far from every evaluation seed (1_000_003, 2_000_003)


def goal_pixels_of(env: gymnasium.Env, spec: EpisodeSpec) -> np.ndarray:
    """The goal frame of `spec` (the data's frame, or the world's rendering of the goal)."""
    if spec.goal_pixels is not None:
        return spec.goal_pixels
    env.reset(options=spec.options)
    return env.unwrapped.goal_pixels()  # type: ignore[attr-defined]


def propose_goals(
    protocol: EvalProtocol,
    env: gymnasium.Env,
    episodes: int,
    round_index: int,
    strategy: str = "uniform",
    memory: Memory | None = None,
    agent: PlanningAgent | None = None,
    candidates: int = 4,
    k: int = 5,
    world_options: dict[str, Any] | None = None,
) -> list[EpisodeSpec]:
    """`episodes` start/goal pairs for round `round_index` (reproducible per round and seed).

    Args:
        protocol: the protocol whose pairing the goals follow (its seed is replaced).
        env: the world, built with the protocol's settings.
        episodes: how many pairs.
        round_index: the round; with the protocol's seed it seeds the draw.
        strategy: "uniform" or "novel".
        memory: with "novel": the memory to measure visits in (its newest model version).
        agent: with "novel": embeds the goal frames (the model of that version).
        candidates: with "novel": pairs drawn per pair kept.
        k: with "novel": the neighbour whose distance measures how visited a goal is.
        world_options: the world settings `env` was built with beyond its size (the recipe's
            `collect.world_options`), for goal frames taken from held-out data.
    """
    drawn = episodes * (candidates if strategy == "novel" else 1)
    seed = GOAL_SEED + 7919 * round_index + protocol.seed % 1000
    specs = episode_specs(replace(protocol, episodes=drawn, seed=seed), env, world_options)
    if strategy == "uniform":
        return specs
    if memory is None or agent is None:
        raise ConfigError("novel goals need the memory and the agent that embeds goals")
    novelty = [
        _distance_to_kth(memory, agent.embed(goal_pixels_of(env, spec)).cpu().numpy(), k)
        for spec in specs
    ]
    keep = np.argsort(novelty, kind="stable")[::-1][:episodes]
    return [specs[i] for i in sorted(keep)]


def _distance_to_kth(memory: Memory, z: np.ndarray, k: int) -> float:
    """Distance of `z` to its `k`-th nearest remembered step (inf when fewer are remembered)."""
    hits = memory.recall(z, k)
    return hits[-1].distance if len(hits) == k else float("inf")
