"""Events in a world whose simulator state can be set (`gym:` worlds with `set_sim_state`).

Such a world is known only through its simulator state (MuJoCo qpos + qvel, or an env's
`get_state`/`set_state`), not through places and obstacles, so it offers the events that need
nothing more (`STATE_EVENTS`):

- teleport: mid-episode the simulator jumps to a state recorded at some time of another
  episode (of the donors, the farthest from the state now of `DRAWS` drawn at random);
- unchanged (control): the simulator is set to the very state it is in;
- colour_change (control): only the view changes, as in every world.

Wall passes need an obstacle and vanishing needs a way to draw the world without its object;
neither is known for such a world. A world without a state setter offers only colour_change, a
control, which measures nothing on its own: `require_state_setter` refuses it in one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ami.errors import ConfigError
from ami.worlds import make

STATE_EVENTS = ("teleport", "colour_change", "unchanged")
DRAWS = 8  # donor states drawn per teleport; the farthest is taken


class SimStateHooks:
    """The hooks of `perturbations.EventWorld` for a world with `sim_state`/`set_sim_state`."""

    def __init__(self, world: Any, donors: np.ndarray) -> None:
        """Args: world: the unwrapped world; donors: simulator states to teleport to `[M, N]`."""
        self.world = world
        self.donors = np.asarray(donors, np.float64)
        if self.donors.ndim != 2 or len(self.donors) == 0:
            raise ConfigError(f"teleport needs donor states [M, N], got {self.donors.shape}")

    def state(self) -> np.ndarray:
        """The simulator state now, float64 `[N]`."""
        state = self.world.sim_state()
        if state is None:
            raise ConfigError(f"{type(self.world).__name__} gives no simulator state")
        return np.asarray(state, np.float64)

    def set_state(self, state: np.ndarray) -> dict[str, np.ndarray]:
        """Set the simulator to `state [N]`; the observation there."""
        return dict(self.world.set_sim_state(state))

    def can_set(self, state: np.ndarray) -> bool:
        """Every recorded state can be set."""
        return True

    def teleport(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """Of `DRAWS` donor states drawn by `rng`, the farthest from `state` (a copy)."""
        drawn = self.donors[rng.integers(0, len(self.donors), size=DRAWS)]
        return drawn[int(np.argmax(np.linalg.norm(drawn - state, axis=1)))].copy()

    def wall_pass(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """No obstacle is known: a wall pass never fits."""
        return None

    def without_object(self, state: np.ndarray) -> np.ndarray:
        """Not known for a simulator state.

        Raises:
            ConfigError: always.
        """
        raise ConfigError("vanish needs a world that draws itself without its object")


def require_state_setter(world: str, world_options: Mapping[str, Any]) -> None:
    """Refuse a world whose simulator state cannot be read and set (no state event fits).

    Raises:
        ConfigError: `sim_state()` is missing or None.
    """
    env = make(world, **dict(world_options))
    try:
        state = getattr(env.unwrapped, "sim_state", lambda: None)()
    finally:
        env.close()
    if state is None:
        raise ConfigError(
            f"surprise in {world!r} needs a simulator state to set (MuJoCo qpos/qvel, or "
            "get_state/set_state with _get_obs) and its env has none: teleport and unchanged "
            "cannot be staged, and colour_change alone is only a control"
        )


def record_sim_states(world: Any, seed: int, actions: np.ndarray) -> np.ndarray:
    """Reset `world` (made by `make`) with `seed`, take `actions [L, A]`; its states `[L+1, N]`."""
    world.reset(seed=seed)
    states = [world.sim_state()]
    for action in actions:
        world.step(action)
        states.append(world.sim_state())
    return np.stack(states).astype(np.float64)
