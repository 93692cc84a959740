"""Reading and setting a Gymnasium env's simulator state, for the env families that allow it.

Known families (of the unwrapped env):

- MuJoCo (every `gymnasium.envs.mujoco.MujocoEnv`, and any env with `data.qpos`, `data.qvel`,
  `set_state(qpos, qvel)` and `_get_obs()`): the state is float64 [nq + nv], qpos then qvel
  (for Reacher-v5 the target's position is in qpos, so the state includes the goal). Neither
  MuJoCo's time nor its warm-start accelerations are part of it, so stepping on from a set state
  matches the recorded run to solver precision, not bit for bit.
- Envs with `get_state()` returning a numeric array and `set_state(state)` taking it back, and
  `_get_obs()` giving the observation after a set.

Any other env has no known state access: `sim_state` gives None, and a caller that needs a
recorded state reaches it another way (replaying the recorded actions from the episode's seed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ami.errors import ConfigError, ShapeError


def state_family(world: Any) -> str | None:
    """How the state of the unwrapped env `world` is reached: "mujoco", "get_set_state" or None."""
    if not callable(getattr(world, "_get_obs", None)):
        return None
    data = getattr(world, "data", None)
    if (
        hasattr(data, "qpos")
        and hasattr(data, "qvel")
        and callable(getattr(world, "set_state", None))
    ):
        return "mujoco"
    if callable(getattr(world, "get_state", None)) and callable(getattr(world, "set_state", None)):
        return "get_set_state"
    return None


def read_state(world: Any, family: str) -> np.ndarray:
    """The simulator state of `world` (family `family`), float64 [N], a copy."""
    if family == "mujoco":
        return np.concatenate([world.data.qpos, world.data.qvel]).astype(np.float64)
    try:
        return np.array(world.get_state(), dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{type(world).__name__}.get_state() did not return a numeric array ({exc}); "
            "reach recorded states by replaying actions instead"
        ) from exc


def write_state(world: Any, family: str, state: np.ndarray) -> Any:
    """Set `world` (family `family`) to `state` (from `read_state`); returns its raw observation.

    Raises:
        ShapeError: `state` does not have the size the env's state has.
    """
    state = np.asarray(state, dtype=np.float64).reshape(-1)
    expected = read_state(world, family).shape[0]
    if state.shape[0] != expected:
        raise ShapeError(
            f"{type(world).__name__} simulator state has {expected} values, got {state.shape[0]}"
        )
    if family == "mujoco":
        nq = world.data.qpos.shape[0]
        world.set_state(state[:nq].copy(), state[nq:].copy())
    else:
        world.set_state(state)
    return world._get_obs()
