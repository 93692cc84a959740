"""Data-collection policies: random wandering, a noisy TwoRoom expert, and a per-episode mixture.

A policy is reset with the episode's `np.random.Generator` and then maps `(obs, info)` to an
action float32 `[A]` in `[-1, 1]`. The expert is a scripted collector and reads the true state
`obs["state"]`; the learning agent never does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ami.errors import ConfigError
from ami.worlds.two_room import TwoRoomConfig


class Policy(Protocol):
    """Chooses actions for one episode at a time."""

    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode; all randomness of the episode comes from `rng`."""

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        """The action float32 `[A]` in `[-1, 1]` for the current observation."""


class RandomPolicy:
    """Smooth random wandering: a uniform action in `[-1, 1]^A`, held for a random few steps.

    Holding an action carries the agent across a room and into walls and corners, which covers
    the arena far better than fresh noise every step.
    """

    def __init__(self, action_dim: int, hold_steps: tuple[int, int] = (1, 10)) -> None:
        """Args: action_dim: `A`; hold_steps: inclusive (min, max) steps each action is held."""
        if not isinstance(action_dim, int) or action_dim < 1:
            raise ConfigError(
                f"RandomPolicy.action_dim must be a positive integer, got {action_dim!r}"
            )
        low, high = hold_steps
        if not 1 <= low <= high:
            raise ConfigError(
                f"RandomPolicy.hold_steps must be 1 <= min <= max, got {hold_steps!r}"
            )
        self.action_dim, self.hold_steps = action_dim, (int(low), int(high))
        self._rng: np.random.Generator | None = None
        self._action = np.zeros(action_dim, np.float32)
        self._left = 0

    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode drawing from `rng`."""
        self._rng, self._left = rng, 0

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        """The held action float32 `[A]`, redrawn when its hold runs out."""
        rng = _started(self._rng, self)
        if self._left == 0:
            self._action = rng.uniform(-1.0, 1.0, self.action_dim).astype(np.float32)
            self._left = int(rng.integers(self.hold_steps[0], self.hold_steps[1] + 1))
        self._left -= 1
        return self._action.copy()


class WaypointWalker:
    """A noisy walker along waypoints to random targets; subclasses choose targets and routes.

    Each action is the saturated step towards the next waypoint plus Gaussian noise of std
    `noise`, clipped to `[-1, 1]`. A waypoint within `reach` counts as reached; a target not
    reached within `patience` steps (say, pinned by noise) is replaced.
    """

    def __init__(self, max_speed: float, noise: float, reach: float, patience: int) -> None:
        if not noise >= 0:
            raise ConfigError(f"{type(self).__name__}.noise must be non-negative, got {noise!r}")
        self.max_speed, self.noise, self.reach, self.patience = (
            max_speed,
            float(noise),
            reach,
            patience,
        )
        self._rng: np.random.Generator | None = None
        self._waypoints: list[np.ndarray] = []
        self._steps_on_target = 0

    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode drawing from `rng`; the first target is drawn at the first action."""
        self._rng, self._waypoints, self._steps_on_target = rng, [], 0

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        """The noisy step towards the next waypoint, float32 `[2]`; reads `obs["state"]` (x, y)."""
        rng = _started(self._rng, self)
        position = np.asarray(obs["state"], np.float64)[:2]
        while self._waypoints and np.linalg.norm(self._waypoints[0] - position) <= self.reach:
            self._waypoints.pop(0)
        if not self._waypoints or self._steps_on_target >= self.patience:
            self._waypoints = self.plan(position, self.sample_target(position, rng))
            self._steps_on_target = 0
        self._steps_on_target += 1
        step = (self._waypoints[0] - position) / self.max_speed
        action = np.clip(step, -1.0, 1.0) + rng.normal(0.0, self.noise, 2)
        return np.clip(action, -1.0, 1.0).astype(np.float32)

    def sample_target(self, position: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A new target [2]."""
        raise NotImplementedError

    def plan(self, position: np.ndarray, target: np.ndarray) -> list[np.ndarray]:
        """Waypoints from `position` to `target` (the target last)."""
        raise NotImplementedError


class TwoRoomExpert(WaypointWalker):
    """A noisy scripted walker for TwoRoom that often crosses the door.

    It draws a target uniformly in free space (in the other room with probability 1/2) and walks
    to it; to change rooms it goes first to a point in front of the door on its own side, then to
    the door's centre, then to a point in front of the door on the far side, then to the target.
    Each action is the saturated step towards the next waypoint plus Gaussian noise of std
    `noise`, clipped to `[-1, 1]`. A waypoint within `reach` counts as reached; a target not
    reached within `patience` steps (say, pinned by noise) is replaced.
    """

    def __init__(
        self, config: TwoRoomConfig, noise: float = 0.3, reach: float = 0.03, patience: int = 150
    ) -> None:
        """Args: config: the world's geometry; noise: action noise std; reach, patience: above."""
        super().__init__(config.max_speed, noise, reach, patience)
        self.config = config
        margin = config.agent_radius + 0.01  # targets keep this far from walls
        self._margin = margin
        self._half_wall = config.wall_thickness / 2
        front = self._half_wall + config.agent_radius + 0.04
        self._door_fronts = (  # (left room side, right room side)
            np.array([0.5 - front, config.door_center]),
            np.array([0.5 + front, config.door_center]),
        )
        self._door = np.array([0.5, config.door_center])

    def _room(self, position: np.ndarray) -> int:
        return 0 if position[0] < 0.5 else 1

    def sample_target(self, position: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A free target [2] (x, y): the other room or the own one with equal probability."""
        room = self._room(position)
        if rng.random() < 0.5:
            room = 1 - room
        m = self._margin
        low, high = (
            (m, 0.5 - self._half_wall - m) if room == 0 else (0.5 + self._half_wall + m, 1 - m)
        )
        return np.array([rng.uniform(low, high), rng.uniform(m, 1 - m)])

    def plan(self, position: np.ndarray, target: np.ndarray) -> list[np.ndarray]:
        """Waypoints from `position` to `target`, through the door when the rooms differ."""
        here, there = self._room(position), self._room(target)
        if here == there:
            return [target]
        return [self._door_fronts[here], self._door, self._door_fronts[there], target]


class MixedPolicy:
    """Picks one of several policies at each episode's start, with given probabilities."""

    def __init__(self, policies: Sequence[Policy], probabilities: Sequence[float]) -> None:
        """Args: policies: the choices; probabilities: one each, non-negative, summing to 1."""
        p = np.asarray(probabilities, np.float64)
        if len(policies) == 0 or p.shape != (len(policies),):
            raise ConfigError(
                f"MixedPolicy needs one probability per policy, got {len(policies)} policies "
                f"and {list(p.reshape(-1))}"
            )
        if (p < 0).any() or not np.isclose(p.sum(), 1.0):
            raise ConfigError(f"MixedPolicy.probabilities must be >= 0 and sum to 1, got {list(p)}")
        self.policies, self.probabilities = tuple(policies), p / p.sum()
        self.current: Policy | None = None

    def reset(self, rng: np.random.Generator) -> None:
        """Choose this episode's policy with `rng` and reset it with the same `rng`."""
        self.current = self.policies[int(rng.choice(len(self.policies), p=self.probabilities))]
        self.current.reset(rng)

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        """The action of this episode's policy."""
        return _started(self.current, self)(obs, info)


def _started(value: Any, policy: object) -> Any:
    """`value`, or a RuntimeError saying that `policy` was used before `reset`."""
    if value is None:
        raise RuntimeError(f"{type(policy).__name__}: call reset(rng) before asking for actions")
    return value
