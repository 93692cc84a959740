"""A Gymnasium env whose observation is its camera image only (`gym:fake_image_envs:...`).

`CameraPoint` is `fake_gym_envs.DictPoint` seen through a uint8 [96, 96, 3] observation: ami
takes its pixels from the observation and finds no state in it.
"""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces

from fake_gym_envs import SIZE, DictPoint


class CameraPoint(DictPoint):
    """A DictPoint that shows only its frame."""

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(render_mode)
        self.observation_space = spaces.Box(0, 255, (SIZE, SIZE, 3), np.uint8)

    def _obs(self) -> np.ndarray:  # type: ignore[override]
        return self.render()


if "AmiTest/CameraPoint-v0" not in gymnasium.registry:
    gymnasium.register(id="AmiTest/CameraPoint-v0", entry_point=CameraPoint, max_episode_steps=30)
