"""The physical quantities a probe reads, per world, and how features and targets are built.

A `QuantityGroup` is a set of state columns probed together (e.g. the agent's x and y). TwoRoom,
PushT and the cube have named quantities (`WORLD_QUANTITIES`; the cube's from
`ami.worlds.cube_state`: the cube's position, orientation and velocity, the effector's position
and velocity, the gripper's opening); any other world that gives a state
(`obs["state"]`, e.g. a `gym:` world) is probed component by component, each named as the world
names it (`state_names`, e.g. "observation[0]", "achieved_goal[1]"; "state[i]" for a world
without names), one group of kind "value" per observation entry.

- position, value: features `z_t [D]`, targets the state columns at t.
- angle: features `z_t [D]`, targets `(sin, cos)` of the angle; the probe's angle is their
  `atan2`, reported unwrapped to within pi of the true angle, so that r and R² score the wrapped
  error (a prediction of 3.1 for a true -3.1 is off by 0.08 rad, not by 6.2).
- velocity: features `[z_t, z_{t+k}]` (two consecutive model steps, `[2D]`), targets
  `(s_{t+k} - s_t) / k`, per env step (angle differences wrapped).

`k` is the model's frameskip: consecutive embeddings are one model step apart, as the model sees
them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from ami.config import require_choice
from ami.errors import ConfigError, ShapeError
from ami.worlds import make
from ami.worlds.cube_state import state_slice

KINDS = ("position", "angle", "velocity", "value")
STATE_UNIT = "env units"  # the unit of a state component a world does not describe


@dataclass(frozen=True)
class QuantityGroup:
    """State columns probed together.

    Attributes:
        name: the group's name, e.g. "block position".
        kind: "position", "angle", "velocity" or "value" (a state component as it is).
        columns: the state columns it reads.
        names: the reported quantity of each column, e.g. ("block_x", "block_y").
        unit: the unit of the reported values.
        angular: the columns are angles (velocity differences are wrapped).
    """

    name: str
    kind: str
    columns: tuple[int, ...]
    names: tuple[str, ...]
    unit: str
    angular: bool = False

    def __post_init__(self) -> None:
        require_choice("QuantityGroup", "kind", self.kind, KINDS)
        if len(self.columns) != len(self.names) or not self.columns:
            raise ConfigError(f"QuantityGroup {self.name!r} needs one name per column")
        if self.kind == "angle" and len(self.columns) != 1:
            raise ConfigError(f"QuantityGroup {self.name!r}: an angle group has one column")


def _columns(component: str) -> tuple[int, ...]:
    """The state columns of a cube state component (`ami.worlds.cube_state.STATE_LAYOUT`)."""
    where = state_slice(component)
    return tuple(range(where.start, where.stop))


WORLD_QUANTITIES: dict[str, tuple[QuantityGroup, ...]] = {
    "two_room": (
        QuantityGroup("agent position", "position", (0, 1), ("agent_x", "agent_y"), "arena"),
        QuantityGroup("agent velocity", "velocity", (0, 1), ("agent_vx", "agent_vy"), "arena/step"),
    ),
    "push_t": (
        QuantityGroup("block position", "position", (2, 3), ("block_x", "block_y"), "units"),
        QuantityGroup("block angle", "angle", (4,), ("block_angle",), "rad", angular=True),
        QuantityGroup("pusher position", "position", (0, 1), ("pusher_x", "pusher_y"), "units"),
        QuantityGroup("block velocity", "velocity", (2, 3), ("block_vx", "block_vy"), "units/step"),
        QuantityGroup(
            "block angular velocity",
            "velocity",
            (4,),
            ("block_omega",),
            "rad/step",
            angular=True,
        ),
        QuantityGroup(
            "pusher velocity", "velocity", (0, 1), ("pusher_vx", "pusher_vy"), "units/step"
        ),
    ),
    "cube": (
        QuantityGroup(
            "cube position",
            "position",
            _columns("cube_position"),
            tuple(f"cube_{a}" for a in "xyz"),
            "m",
        ),
        QuantityGroup(
            "cube quaternion",
            "value",
            _columns("cube_quaternion"),
            tuple(f"cube_q{a}" for a in "wxyz"),
            "unit quaternion",
        ),
        QuantityGroup(
            "effector position",
            "position",
            _columns("effector_position"),
            tuple(f"effector_{a}" for a in "xyz"),
            "m",
        ),
        QuantityGroup(
            "gripper opening",
            "value",
            _columns("gripper_opening"),
            ("gripper_opening",),
            "0 open .. 1 closed",
        ),
        QuantityGroup(
            "cube velocity",
            "velocity",
            _columns("cube_position"),
            tuple(f"cube_v{a}" for a in "xyz"),
            "m/step",
        ),
        QuantityGroup(
            "effector velocity",
            "velocity",
            _columns("effector_position"),
            tuple(f"effector_v{a}" for a in "xyz"),
            "m/step",
        ),
    ),
}


def quantity_groups(
    world: str, world_options: Mapping[str, Any] | None = None
) -> tuple[QuantityGroup, ...]:
    """The groups probed in `world`: its named quantities, else one group per state entry.

    Args:
        world: a registry name or a `gym:` id.
        world_options: the world's settings (`make(world, **world_options)`), for its state names.

    Raises:
        ConfigError: the world gives no state to probe.
    """
    if world in WORLD_QUANTITIES:
        return WORLD_QUANTITIES[world]
    env = make(world, **dict(world_options or {}))
    try:
        names = state_names(env)
    finally:
        env.close()
    if not names:
        raise ConfigError(
            f"world {world!r} gives no state (its observation holds nothing besides the pixels); "
            "probes and surprise need the true state to score against"
        )
    return state_groups(names)


def state_names(env: gymnasium.Env) -> list[str]:
    """One name per component of `env`'s `obs["state"]` (empty without a state).

    The world's own `state_names` where it has them, else "state[i]".
    """
    named = getattr(env.unwrapped, "state_names", None)
    if named is not None:
        return [str(name) for name in named]
    space = env.observation_space
    if not isinstance(space, spaces.Dict) or "state" not in space.spaces:
        return []
    shape = space.spaces["state"].shape or ()
    return [f"state[{i}]" for i in range(int(np.prod(shape)))]


def state_groups(names: Sequence[str]) -> tuple[QuantityGroup, ...]:
    """One "value" group per observation entry (the name before "["), columns in state order."""
    entries: dict[str, list[int]] = {}
    for column, name in enumerate(names):
        entries.setdefault(name.split("[", 1)[0], []).append(column)
    return tuple(
        QuantityGroup(entry, "value", tuple(columns), tuple(names[c] for c in columns), STATE_UNIT)
        for entry, columns in entries.items()
    )


def features(z: np.ndarray, group: QuantityGroup, k: int) -> np.ndarray:
    """Probe inputs of one episode: `z [L+1, D]` → `[L+1, D]`, or `[L+1-k, 2D]` for velocities."""
    if z.ndim != 2:
        raise ShapeError(f"features expects z [L+1, D], got {z.shape}")
    if group.kind != "velocity":
        return z
    return np.concatenate([z[:-k], z[k:]], axis=1)


def true_values(states: np.ndarray, group: QuantityGroup, k: int) -> np.ndarray:
    """The reported quantities of one episode, `[N, len(columns)]` (N as in `features`)."""
    s = np.asarray(states, np.float64)[:, list(group.columns)]
    if group.kind != "velocity":
        return s
    step = s[k:] - s[:-k]
    if group.angular:
        step = wrap(step)
    return step / k


def targets(values: np.ndarray, group: QuantityGroup) -> np.ndarray:
    """What the probe regresses: the values, or `(sin, cos)` `[N, 2]` for an angle."""
    if group.kind == "angle":
        return np.concatenate([np.sin(values), np.cos(values)], axis=1)
    return values


def readout(predicted: np.ndarray, truth: np.ndarray, group: QuantityGroup) -> np.ndarray:
    """The probe's values `[N, len(columns)]` from its outputs (angles unwrapped near `truth`)."""
    if group.kind != "angle":
        return predicted
    angle = np.arctan2(predicted[:, :1], predicted[:, 1:2])
    return truth + wrap(angle - truth)


def wrap(angle: np.ndarray) -> np.ndarray:
    """Angles in [-pi, pi)."""
    return (angle + math.pi) % (2 * math.pi) - math.pi
