"""The perturbation hooks of the cube world (`ami.worlds.cube`): events on its physics state.

The hooks' state is the whole physics state, qpos [21] then qvel [20] (`Cube.physics_state`),
set exactly through `Cube.reset(options=...)` with the target kept. Events:

- teleport: the cube jumps at least `min_jump` (0.1 m) across OGBench's target area, resting on
  the table (z = 0.02) with its orientation kept and its velocity zero, wherever it was (a
  cube in the gripper leaves it);
- wall_pass: the cube sinks through the table where it is, its centre `SUNK_Z` (1 cm) below
  the surface so that only its top centimetre shows (its velocity zero);
- colour_change and unchanged (controls), as in every hooked world.

`vanish` is not staged: the world has no public way to draw a state without the cube.
"""

from __future__ import annotations

import numpy as np

from ami.errors import ConfigError
from ami.experience.cube_expert import TABLE_Z, TARGET_AREA
from ami.worlds.cube import Cube

CUBE_EVENTS = ("teleport", "wall_pass", "colour_change", "unchanged")
SUNK_Z = -0.01  # the sunk cube's centre: 3 of its 4 cm below the table's surface
_TRIES = 64


class CubeHooks:
    """Hooks of a `Cube` (state: qpos [21] then qvel [20], float64)."""

    def __init__(self, world: Cube, min_jump: float = 0.1) -> None:
        """Args: world: the unwrapped cube world; min_jump: teleport distance in metres."""
        self.world, self.min_jump = world, min_jump
        joint = world.model.joint("object_joint_0")  # the cube's free joint
        self._nq = int(world.model.nq)
        self._position = int(joint.qposadr[0])  # x, y, z; then the quaternion
        self._velocity = self._nq + int(joint.dofadr[0])  # 6 velocities, in the state vector

    def state(self) -> np.ndarray:
        """The physics state: qpos then qvel, float64 `[41]`."""
        return np.concatenate(self.world.physics_state())

    def set_state(self, state: np.ndarray) -> dict[str, np.ndarray]:
        """Put the world in `state [41]`, keeping the target; the new observation."""
        options = {
            "qpos": state[: self._nq],
            "qvel": state[self._nq :],
            "goal": self.world.target_position(),
        }
        obs, _ = self.world.reset(options=options)
        return obs

    def can_set(self, state: np.ndarray) -> bool:
        """Every physics state can be set."""
        return True

    def teleport(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """The cube at rest on the table at least `min_jump` from where it is now."""
        (x0, y0), (x1, y1) = TARGET_AREA
        now = state[self._position : self._position + 2]
        for _ in range(_TRIES):
            place = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
            if np.linalg.norm(place - now) >= self.min_jump:
                return self._cube_moved(state, np.array([*place, TABLE_Z]))
        return None

    def wall_pass(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """The cube sunk through the table below where it is (centre at `SUNK_Z`)."""
        x, y = state[self._position : self._position + 2]
        return self._cube_moved(state, np.array([x, y, SUNK_Z]))

    def without_object(self, state: np.ndarray) -> np.ndarray:
        """Not staged in the cube world.

        Raises:
            ConfigError: always.
        """
        raise ConfigError(f"the cube world stages {', '.join(CUBE_EVENTS)}, not vanish")

    def _cube_moved(self, state: np.ndarray, position: np.ndarray) -> np.ndarray:
        moved = np.array(state, np.float64)
        moved[self._position : self._position + 3] = position
        moved[self._velocity : self._velocity + 6] = 0.0
        return moved
