"""Throughput of a world: env steps per second with rendering, on the calling thread."""

from __future__ import annotations

import time

import gymnasium
import numpy as np


def measure_steps_per_second(env: gymnasium.Env, steps: int = 5000, seed: int = 0) -> float:
    """Steps per second of `env` under uniform random actions in [-1, 1], pixels included.

    Every step renders (the observation holds the pixels); episodes reset when they end, and the
    resets are counted in the time.

    Args:
        env: A world whose action space is a Box in [-1, 1] (the ami action contract).
        steps: Number of env steps to time.
        seed: Seed of the first reset and of the random actions.

    Returns:
        Steps per second (wall clock).
    """
    rng = np.random.default_rng(seed)
    shape = tuple(env.action_space.shape or ())
    actions = rng.uniform(-1.0, 1.0, size=(steps, *shape)).astype(np.float32)
    env.reset(seed=seed)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)
