"""OGBench's "play" collector for the cube world: pick-and-place after pick-and-place, with noise.

OGBench's cube-single-play data come from `CubePlanOracle` (noise 0.1, smoothing 0.5): for a
target it plans keyframes (above the cube, down, grasp, up, a random clearance point, above the
target, down, release, up, a random final arm pose), interpolates them into a time-indexed plan
with temporally correlated noise, and each step acts towards the plan's current pose. When the
plan is over OGBench draws a new target and plans again; here the collector draws its own targets
(the world's goal is left alone): the first is the world's target, the next ones uniform over
OGBench's target area. On top, with probability `random_probability` per step a segment of
uniform random actions (held 1 to 5 steps) starts, so the data also hold dropped and pushed
cubes.

The oracle draws from NumPy's global generator; each plan is made with that generator seeded from
the episode's `rng` and restored afterwards, so episodes are reproducible and nobody else's
global random state changes. It reads the true scene (`Cube.oracle_info`), as a scripted
collector may; agents never do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ami.errors import ConfigError
from ami.experience.policies import _started
from ami.worlds.cube import Cube

TARGET_AREA = ((0.3, -0.3), (0.55, 0.3))  # OGBench's target sampling bounds (x, y), metres
TABLE_Z = 0.02  # the cube's centre resting on the table


class CubeExpert:
    """OGBench's `CubePlanOracle` moving the cube from target to target, with random segments."""

    def __init__(
        self,
        world: Cube,
        noise: float = 0.1,
        noise_smoothing: float = 0.5,
        random_probability: float = 0.01,
        random_hold: tuple[int, int] = (1, 5),
    ) -> None:
        """Build the expert.

        Args:
            world: The cube world it acts in (it reads the scene's true state).
            noise: OGBench's plan noise level (0.1 in its play data).
            noise_smoothing: Std (in steps) of the Gaussian smoothing of that noise.
            random_probability: Per-step probability of starting a random-action segment.
            random_hold: Inclusive (min, max) steps a random segment's action is held.
        """
        for name, value in (("noise", noise), ("noise_smoothing", noise_smoothing)):
            if not value >= 0:
                raise ConfigError(f"CubeExpert.{name} must be non-negative, got {value!r}")
        if not 0 <= random_probability <= 1:
            raise ConfigError(
                f"CubeExpert.random_probability must be in [0, 1], got {random_probability!r}"
            )
        if not 1 <= random_hold[0] <= random_hold[1]:
            raise ConfigError(f"CubeExpert.random_hold must be 1 <= min <= max, got {random_hold}")
        from ogbench.manipspace.oracles.plan.cube_plan import CubePlanOracle  # world has it

        self.world = world
        self.random_probability, self.random_hold = random_probability, random_hold
        self._oracle = CubePlanOracle(env=world.scene, noise=noise, noise_smoothing=noise_smoothing)
        self._rng: np.random.Generator | None = None
        self._planned = False
        self.targets_planned = 0  # plans made this episode (the first is the world's target)
        self._random_action = np.zeros(5, np.float32)
        self._random_left = 0

    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode drawing from `rng`; the first plan is made at the first action."""
        self._rng, self._planned, self._random_left, self.targets_planned = rng, False, 0, 0

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        """The next action float32 [5] in [-1, 1]: the plan's, or a random segment's."""
        rng = _started(self._rng, self)
        scene = self.world.oracle_info()
        if not self._planned or self._oracle.done:
            self._plan(scene, rng)
        action = np.asarray(self._oracle.select_action(None, scene), np.float64)
        if self._random_left == 0 and rng.random() < self.random_probability:
            self._random_action = rng.uniform(-1.0, 1.0, 5).astype(np.float32)
            self._random_left = int(rng.integers(self.random_hold[0], self.random_hold[1] + 1))
        if self._random_left > 0:
            self._random_left -= 1
            return self._random_action.copy()
        return np.clip(action, -1.0, 1.0).astype(np.float32)

    def _plan(self, scene: dict[str, Any], rng: np.random.Generator) -> None:
        """Plan a pick-and-place to the next target (the world's first, then random ones)."""
        if self.targets_planned == 0:
            target = self.world.target_position()
            quat = self.world.target_quaternion()
            yaw = 2.0 * float(np.arctan2(quat[3], quat[0]))  # a rotation about z
        else:
            (x0, y0), (x1, y1) = TARGET_AREA
            target = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1), TABLE_Z])
            yaw = float(rng.uniform(0.0, 2.0 * np.pi))
        scene = {
            **scene,
            "privileged/target_block_pos": target,
            "privileged/target_block_yaw": np.array([yaw]),
        }
        with _global_numpy_seeded(rng):
            self._oracle.reset(None, scene)
        self._planned = True
        self.targets_planned += 1


@contextlib.contextmanager
def _global_numpy_seeded(rng: np.random.Generator) -> Iterator[None]:
    """NumPy's global generator seeded from `rng` inside the block, restored after it."""
    saved = np.random.get_state()
    np.random.seed(int(rng.integers(2**32)))
    try:
        yield
    finally:
        np.random.set_state(saved)
