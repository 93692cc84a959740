"""Policies a user might plug in as `--policy user_policies:NAME` (tests/ is on the path)."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

NOT_CALLABLE = 3


class Eastward:
    """Full speed along the first action axis; records what it was built with."""

    def __init__(self, action_dim: int, env: gymnasium.Env) -> None:
        self.action_dim, self.env = action_dim, env
        self.resets = 0

    def reset(self, rng: np.random.Generator) -> None:
        self.resets += 1

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        action = np.zeros(self.action_dim, np.float32)
        action[0] = 1.0
        return action


def make_eastward(action_dim: int, env: gymnasium.Env) -> Eastward:
    """The factory `user_policies:make_eastward`."""
    return Eastward(action_dim, env)


def returns_junk(action_dim: int, env: gymnasium.Env) -> object:
    """Returns something that is not a policy."""
    return object()


def fails(action_dim: int, env: gymnasium.Env) -> Eastward:
    """Raises as a user's code might."""
    raise ValueError("no expert for this env")
