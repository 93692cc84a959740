"""Gymnasium envs a user might bring, registered on import (`gym:fake_gym_envs:AmiTest/...`).

`DictPoint` is a deterministic point in a square: a Dict observation (float64 position and
velocity), float64 Box actions in [-2, 2], a 96 px render and a 30-step TimeLimit. The others are
the ones ami must refuse (no rgb_array rendering, an unbounded action space), one whose steps its
seed does not determine (NoisyPoint) and one with a simulator state setter (StatefulPoint).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

SIZE = 96


class DictPoint(gymnasium.Env):
    """A point pushed by its actions in [-1, 1]^2; drawn as a disc at 96 px."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, speed: float = 0.05) -> None:
        self.render_mode = render_mode
        self.speed = speed
        self.observation_space = spaces.Dict(
            {
                "position": spaces.Box(-1.0, 1.0, (2,), np.float64),
                "velocity": spaces.Box(-1.0, 1.0, (2,), np.float64),
            }
        )
        self.action_space = spaces.Box(-2.0, 2.0, (2,), np.float64)
        self.position = np.zeros(2)
        self.velocity = np.zeros(2)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        self.position = self.np_random.uniform(-0.8, 0.8, 2)
        self.velocity = np.zeros(2)
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        action = np.clip(np.asarray(action, np.float64), -2.0, 2.0)
        self.velocity = self.speed * action / 2.0
        self.position = np.clip(self.position + self.velocity, -1.0, 1.0)
        return self._obs(), 0.0, False, False, {}

    def render(self) -> np.ndarray:
        frame = np.full((SIZE, SIZE, 3), 30, np.uint8)
        centre = (self.position + 1.0) / 2.0 * (SIZE - 1)
        rows, cols = np.mgrid[0:SIZE, 0:SIZE]
        disc = (rows - centre[1]) ** 2 + (cols - centre[0]) ** 2 <= 8**2
        frame[disc] = (240, 200, 40)
        return frame

    def _obs(self) -> dict[str, np.ndarray]:
        return {"position": self.position.copy(), "velocity": self.velocity.copy()}


class NoPixels(DictPoint):
    """Renders nothing a camera could see."""

    metadata = {"render_modes": ["human"], "render_fps": 10}


class Unbounded(DictPoint):
    """Actions without bounds: ami cannot map [-1, 1] onto them."""

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(render_mode)
        self.action_space = spaces.Box(-np.inf, np.inf, (2,), np.float64)


class NoisyPoint(DictPoint):
    """Steps jittered by a generator its seed does not reach: replaying actions cannot repeat it."""

    _jitter = np.random.default_rng()

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        obs, *rest = super().step(action)
        self.position = np.clip(self.position + self._jitter.normal(0, 0.01, 2), -1.0, 1.0)
        return self._obs(), *rest  # type: ignore[return-value]


class StatefulPoint(DictPoint):
    """A DictPoint whose simulator state can be read and set (`get_state` / `set_state`)."""

    def get_state(self) -> np.ndarray:
        return np.concatenate([self.position, self.velocity])

    def set_state(self, state: np.ndarray) -> None:
        self.position, self.velocity = np.array(state[:2]), np.array(state[2:])

    def _get_obs(self) -> dict[str, np.ndarray]:
        return self._obs()


for _name, _entry, _limit in (
    ("AmiTest/DictPoint-v0", DictPoint, 30),
    ("AmiTest/NoisyPoint-v0", NoisyPoint, 30),
    ("AmiTest/StatefulPoint-v0", StatefulPoint, 30),
    ("AmiTest/NoPixels-v0", NoPixels, 30),
    ("AmiTest/Unbounded-v0", Unbounded, 30),
):
    if _name not in gymnasium.registry:
        gymnasium.register(id=_name, entry_point=_entry, max_episode_steps=_limit)


def position_gap(state: np.ndarray, goal: np.ndarray) -> float:
    """A user's goal distance (`fake_gym_envs:position_gap`): how far apart the positions are."""
    return float(np.linalg.norm(state[:2] - goal[:2]))
