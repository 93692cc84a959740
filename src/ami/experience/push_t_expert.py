"""A noisy scripted pusher for PushT that moves the block a lot (for data collection).

It reads only `obs["state"]` (pusher x, y, block x, y, angle) and the world's geometry, as a
scripted collector may; the learning agent never sees the state.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ami.errors import ConfigError
from ami.experience.policies import _started
from ami.worlds.push_t import ARENA, BLOCK_VERTICES, PUSHER_RADIUS, PushTConfig, block_vertices

_REACH_AROUND = float(np.max(np.hypot(*BLOCK_VERTICES.T)))  # 80.7, around the centre


class PushTExpert:
    """Pushes the block's centre of mass towards random targets, walking around the block.

    For each target (uniform in the arena's middle, with a random lateral offset of the push line
    that makes the block turn) it goes to a point behind the block on the line from the target
    through the block's centre (offset sideways), circling the block at a safe radius when the
    straight way would cross it, and then pushes along that line. Actions are the step towards
    the current waypoint (saturated) plus Gaussian noise of std `noise`, clipped to [-1, 1]. A
    target is replaced when the block's centre is within `reach` of it or after `patience` steps.
    """

    def __init__(
        self,
        config: PushTConfig,
        noise: float = 0.3,
        reach: float = 25.0,
        patience: int = 60,
        max_offset: float = 30.0,
    ) -> None:
        """Build the expert.

        Args:
            config: the world's settings (its `max_displacement` maps units to actions).
            noise: action noise std.
            reach: the block's centre this close (units) to the target counts as reached.
            patience: steps after which a target is replaced.
            max_offset: largest sideways offset (units) of the push line from the block's centre.
        """
        if not noise >= 0:
            raise ConfigError(f"PushTExpert.noise must be non-negative, got {noise!r}")
        if not (isinstance(patience, int) and patience >= 1):
            raise ConfigError(f"PushTExpert.patience must be an integer >= 1, got {patience!r}")
        self.config, self.noise, self.reach, self.patience = config, float(noise), reach, patience
        self.max_offset = float(max_offset)
        self._rng: np.random.Generator | None = None
        self._target: np.ndarray | None = None
        self._offset = 0.0
        self._steps_on_target = 0

    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode drawing from `rng`; the first target is drawn at the first action."""
        self._rng, self._target, self._steps_on_target = rng, None, 0

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        """The noisy step towards the next waypoint, float32 `[2]`."""
        rng = _started(self._rng, self)
        state = np.asarray(obs["state"], np.float64)
        pusher, centre, vertices = state[:2], state[2:4], block_vertices(state[2:])
        done = self._target is not None and np.linalg.norm(self._target - centre) < self.reach
        if self._target is None or done or self._steps_on_target >= self.patience:
            self._target = rng.uniform(0.3 * ARENA, 0.7 * ARENA, 2)
            self._offset = float(rng.uniform(-self.max_offset, self.max_offset))
            self._steps_on_target = 0
        self._steps_on_target += 1
        waypoint = self.waypoint(pusher, centre, vertices, self._target, self._offset)
        step = (waypoint - pusher) / self.config.max_displacement
        action = np.clip(step, -1.0, 1.0) + rng.normal(0.0, self.noise, 2)
        return np.clip(action, -1.0, 1.0).astype(np.float32)

    @staticmethod
    def waypoint(
        pusher: np.ndarray,
        centre: np.ndarray,
        vertices: np.ndarray,
        target: np.ndarray,
        offset: float,
    ) -> np.ndarray:
        """Where the pusher heads next [2]: through the block when behind it, else behind it."""
        u = target - centre
        u = u / max(float(np.linalg.norm(u)), 1e-9)
        n = np.array([-u[1], u[0]])
        rel = pusher - centre
        along, side = float(rel @ u), float(rel @ n)
        depth = float(np.max((centre - vertices) @ u))  # how far the block reaches behind
        if along < -20.0 and abs(side - offset) < 12.0:  # behind the block, on the line: push
            return centre + offset * n + 40.0 * u
        behind = centre + offset * n - (depth + PUSHER_RADIUS + 10.0) * u
        safe = _REACH_AROUND + PUSHER_RADIUS + 10.0
        if _segment_distance(centre, pusher, behind) > _REACH_AROUND + PUSHER_RADIUS:
            return behind
        here, there = math.atan2(rel[1], rel[0]), math.atan2(*(behind - centre)[::-1])
        turn = (there - here + math.pi) % (2 * math.pi) - math.pi
        angle = here + float(np.clip(turn, -math.pi / 4, math.pi / 4))
        return centre + safe * np.array([math.cos(angle), math.sin(angle)])


def _segment_distance(point: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Distance from `point` [2] to the segment from `a` to `b`."""
    ab = b - a
    t = float(np.clip((point - a) @ ab / max(float(ab @ ab), 1e-12), 0.0, 1.0))
    return float(np.linalg.norm(point - (a + t * ab)))
