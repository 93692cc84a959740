"""When has an agent in a Gymnasium world reached a goal state? Distances on the true state.

The `goal_k_steps` protocol (`ami.evaluation.protocols`) scores an episode in a world ami was not
written for by a distance between the state the agent is in and the goal state (both `obs["state"]`
vectors, named by the adapter's `state_names`) and a threshold. Known envs have their own
(the criteria their communities report):

| env ids | distance | threshold |
|---|---|---|
| `Reacher-v4`, `Reacher-v5` | fingertip position (kinematics, links 0.1, 0.11 m) | 0.02 m |
| `PointMaze_*` | the ball's position (`achieved_goal`) | 0.45 |
| `Pendulum-v1` | angle within 0.2 rad and velocity within 1 rad/s (the larger) | 1 |

Any other env gets `state`: the root mean square of the state difference, each component
divided by its spread (standard deviation) in the held-out episodes, threshold 0.1; components
that never vary are left out. A user's own distance is `module:callable`, a function
`(state float64 [S], goal float64 [S]) -> float`, with its threshold given alongside.

Example:
    >>> import numpy as np
    >>> d = goal_distance("gym:Pendulum-v1", ["obs[0]", "obs[1]", "obs[2]"])
    >>> d.name, d.threshold
    ('pendulum_angle_velocity', 1.0)
    >>> round(d(np.array([1.0, 0.0, 0.5]), np.array([1.0, 0.0, 0.0])), 3)
    0.5
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ami.errors import ConfigError
from ami.worlds.gym_id import is_gym_world, parse_gym_id

Measure = Callable[[np.ndarray, np.ndarray], float]  # (state [S], goal [S]) -> distance


@dataclass(frozen=True)
class GoalDistance:
    """A distance between a state and a goal state, and the threshold meaning "reached".

    Attributes:
        name: the distance's name ("reacher_fingertip", "state", "mypkg.goals:near", ...).
        measure: `(state float64 [S], goal float64 [S]) -> float`.
        threshold: the goal is reached where the distance is at most this.
        description: the criterion in words, for results files.
    """

    name: str
    measure: Measure
    threshold: float
    description: str

    def __post_init__(self) -> None:
        if not (isinstance(self.threshold, int | float) and self.threshold > 0):
            raise ConfigError(
                f"the success threshold of {self.name!r} must be positive, got {self.threshold!r}"
            )

    def __call__(self, state: np.ndarray, goal: np.ndarray) -> float:
        """The distance from `state` [S] to `goal` [S]."""
        return float(self.measure(np.asarray(state, np.float64), np.asarray(goal, np.float64)))

    def reached(self, state: np.ndarray, goal: np.ndarray) -> bool:
        """Whether `state` [S] is within the threshold of `goal` [S]."""
        return self(state, goal) <= self.threshold


def _indices(state_names: Sequence[str], wanted: Sequence[str], distance: str) -> list[int]:
    """The positions of the components `wanted` in `state_names`."""
    missing = [name for name in wanted if name not in state_names]
    if missing:
        raise ConfigError(
            f"the {distance!r} distance needs state components {missing}, which this world's "
            f"state lacks (it has {list(state_names)[:12]})"
        )
    return [list(state_names).index(name) for name in wanted]


class ReacherFingertip:
    """Distance between fingertips, from the joint angles' cos/sin (Reacher's observation)."""

    LINKS = (0.1, 0.11)  # metres: upper arm, forearm to the fingertip (reacher.xml)

    def __init__(self, state_names: Sequence[str]):
        names = ["obs[0]", "obs[1]", "obs[2]", "obs[3]"]  # cos q1, cos q2, sin q1, sin q2
        self.cos1, self.cos2, self.sin1, self.sin2 = _indices(state_names, names, "reacher")

    def fingertip(self, state: np.ndarray) -> np.ndarray:
        """The fingertip's (x, y) in metres, float64 [2]."""
        q1 = np.arctan2(state[self.sin1], state[self.cos1])
        q2 = np.arctan2(state[self.sin2], state[self.cos2])
        upper, fore = self.LINKS
        return np.array(
            [
                upper * np.cos(q1) + fore * np.cos(q1 + q2),
                upper * np.sin(q1) + fore * np.sin(q1 + q2),
            ]
        )

    def __call__(self, state: np.ndarray, goal: np.ndarray) -> float:
        """Euclidean distance of the two fingertips, in metres."""
        return float(np.linalg.norm(self.fingertip(state) - self.fingertip(goal)))


class ComponentsDistance:
    """Euclidean distance over some named components of the state."""

    def __init__(self, state_names: Sequence[str], components: Sequence[str], name: str):
        self.index = _indices(state_names, components, name)

    def __call__(self, state: np.ndarray, goal: np.ndarray) -> float:
        """Euclidean distance over the components."""
        return float(np.linalg.norm(state[self.index] - goal[self.index]))


class PendulumAngleVelocity:
    """max(angle difference / 0.2 rad, angular velocity difference / 1 rad/s)."""

    ANGLE, VELOCITY = 0.2, 1.0

    def __init__(self, state_names: Sequence[str]):
        self.cos, self.sin, self.velocity = _indices(
            state_names, ["obs[0]", "obs[1]", "obs[2]"], "pendulum"
        )

    def __call__(self, state: np.ndarray, goal: np.ndarray) -> float:
        """The larger of the two normalised differences (1 = at one tolerance)."""
        angle = np.arctan2(state[self.sin], state[self.cos])
        goal_angle = np.arctan2(goal[self.sin], goal[self.cos])
        wrapped = abs((angle - goal_angle + np.pi) % (2 * np.pi) - np.pi)
        velocity = abs(state[self.velocity] - goal[self.velocity])
        return float(max(wrapped / self.ANGLE, velocity / self.VELOCITY))


class ScaledStateDistance:
    """Root mean square of the state difference, each component divided by its spread."""

    def __init__(self, spread: np.ndarray):
        spread = np.asarray(spread, np.float64)
        self.index = np.flatnonzero(spread > 1e-8)
        self.spread = spread[self.index]

    def __call__(self, state: np.ndarray, goal: np.ndarray) -> float:
        """RMS of (state - goal) / spread over the components that vary."""
        if self.index.size == 0:
            return 0.0
        scaled = (state[self.index] - goal[self.index]) / self.spread
        return float(np.sqrt(np.mean(scaled**2)))


def _reacher(state_names: Sequence[str], spread: np.ndarray | None) -> GoalDistance:
    return GoalDistance(
        "reacher_fingertip",
        ReacherFingertip(state_names),
        0.02,
        "the fingertip within 0.02 m of the goal state's fingertip",
    )


def _point_maze(state_names: Sequence[str], spread: np.ndarray | None) -> GoalDistance:
    components = ["achieved_goal[0]", "achieved_goal[1]"]
    return GoalDistance(
        "point_maze_position",
        ComponentsDistance(state_names, components, "point_maze_position"),
        0.45,
        "the ball within 0.45 of the goal state's ball (gymnasium-robotics' success radius)",
    )


def _pendulum(state_names: Sequence[str], spread: np.ndarray | None) -> GoalDistance:
    return GoalDistance(
        "pendulum_angle_velocity",
        PendulumAngleVelocity(state_names),
        1.0,
        "the angle within 0.2 rad and the angular velocity within 1 rad/s of the goal state's",
    )


def _state(state_names: Sequence[str], spread: np.ndarray | None) -> GoalDistance:
    if spread is None:
        spread = np.ones(len(state_names))
    return GoalDistance(
        "state",
        ScaledStateDistance(spread),
        0.1,
        "the state within 0.1 of the goal state (RMS of the difference, each component in "
        "units of its spread in the held-out episodes)",
    )


Factory = Callable[[Sequence[str], "np.ndarray | None"], GoalDistance]

# (env id pattern, distance name, factory); the first matching pattern is the env's distance
KNOWN_DISTANCES: tuple[tuple[str, str, Factory], ...] = (
    ("Reacher-v[45]", "reacher_fingertip", _reacher),
    ("PointMaze_*", "point_maze_position", _point_maze),
    ("Pendulum-v1", "pendulum_angle_velocity", _pendulum),
)
_BY_NAME: dict[str, Factory] = {name: factory for _, name, factory in KNOWN_DISTANCES}
_BY_NAME["state"] = _state


def distance_names() -> list[str]:
    """The names of the known distances."""
    return sorted(_BY_NAME)


def default_distance_name(world: str) -> str:
    """The distance a world is scored by: its env's known distance, else "state"."""
    if is_gym_world(world):
        env_id = parse_gym_id(world).env_id
        for pattern, name, _ in KNOWN_DISTANCES:
            if fnmatch.fnmatchcase(env_id, pattern):
                return name
    return "state"


def goal_distance(
    world: str,
    state_names: Sequence[str],
    spread: np.ndarray | None = None,
    name: str | None = None,
    threshold: float | None = None,
) -> GoalDistance:
    """The goal distance of `world` (or the one `name`d), with its threshold or `threshold`.

    Args:
        world: the world id, e.g. "gym:Reacher-v5".
        state_names: the names of the state's components (`GymnasiumAdapter.state_names`).
        spread: each component's standard deviation in the held-out episodes, float [S] (the
            "state" distance's units; ones where None).
        name: a known distance name or "module:callable"; None: the world's default.
        threshold: replaces the distance's own threshold (needed for "module:callable").

    Raises:
        ConfigError: an unknown name, a callable that cannot be imported, or no threshold for
            a user's distance.
    """
    chosen = default_distance_name(world) if name is None else name
    if chosen in _BY_NAME:
        distance = _BY_NAME[chosen](state_names, spread)
    elif ":" in chosen:
        if threshold is None:
            raise ConfigError(f"the distance {chosen!r} needs a threshold (--success-threshold)")
        distance = GoalDistance(
            chosen, _import_measure(chosen), threshold, f"{chosen} at most {threshold}"
        )
    else:
        raise ConfigError(
            f"unknown goal distance {chosen!r}; known: {distance_names()} or module:callable"
        )
    if threshold is None or threshold == distance.threshold:
        return distance
    return GoalDistance(
        distance.name,
        distance.measure,
        threshold,
        f"{distance.description}; threshold {threshold} instead of {distance.threshold}",
    )


def _import_measure(spec: str) -> Measure:
    """The callable `module:name`, one-line errors where it cannot be had."""
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import the distance's module {module_name!r}: {exc}") from exc
    measure: Any = getattr(module, attribute, None)
    if not callable(measure):
        raise ConfigError(f"{spec!r} is not a callable (state, goal) -> distance")
    return measure  # type: ignore[no-any-return]
