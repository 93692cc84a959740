"""Goal episodes in any Gymnasium world: back to a recorded state, scored by a state distance.

The `goal_k_steps` protocol on a `gym:` world (`ami.evaluation.protocols`) draws its episodes
from held-out episodes that it collects itself (seeded, an exploration policy): a start index `t`
and the goal `k` frames later, the goal image being that frame. A world built elsewhere has no
`reset_options`, so the start is reached by **replay**: reset with the held-out episode's seed and
replay its recorded actions up to `t`. Each replay is checked: the state reached must equal the
recorded one (to 1e-5), else the episode is refused and counted (a nondeterministic env). Where
the adapter can set the simulator's state (`GymnasiumAdapter.sim_state`, e.g. MuJoCo's qpos and
qvel), the state found by the checked replay is kept and later episodes set it directly after
the seeded reset (the **sim-state** fast path; checked the same way, else replay is used).

Success is a `GoalDistance` between `obs["state"]` and the goal state (`ami.worlds.goal_distance`):
`GoalStateWorld` puts `is_success` (distance within the threshold) and `distance` in every
step's info, and `run_episode`'s `ScoreRule` turns those into the episode's success. Starts
already within the threshold of their goal are refused and counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import gymnasium
import numpy as np

from ami.errors import GoalUnreachableError
from ami.experience import CollectConfig, Episode, collect
from ami.worlds.goal_distance import GoalDistance, goal_distance

REPLAY_TOLERANCE = 1e-5  # largest |replayed - recorded| state component that counts as equal


@dataclass
class Refusals:
    """What was refused on the way to the protocol's episodes, counted."""

    solved_starts: int = 0  # (episode, start) pairs already within the threshold of their goal
    starts_considered: int = 0  # (episode, start) pairs looked at
    replay_mismatches: int = 0  # held-out episodes whose replay did not reach the recorded state
    without_start: int = 0  # held-out episodes with no usable start
    start_methods: dict[str, int] = field(default_factory=dict)  # "replay" / "sim_state" -> count

    def as_dict(self) -> dict[str, Any]:
        """Plain data for results files."""
        return {
            "solved_starts": self.solved_starts,
            "starts_considered": self.starts_considered,
            "replay_mismatches": self.replay_mismatches,
            "episodes_without_start": self.without_start,
            "start_methods": dict(self.start_methods),
        }


class GoalStateWorld(gymnasium.Wrapper):  # type: ignore[type-arg]
    """A `gym:` world whose reset goes to a recorded state and whose info scores a goal state.

    `reset(options=...)` takes a goal episode's options: `seed` (int), `actions` (float32 [t, A],
    replayed after the seeded reset), optionally `sim_state` (float64 [N], set instead of the
    replay), `goal_state` (float32 [S]) and `distance` (the `GoalDistance` to score by). Every
    info then holds `distance` to the goal state and `is_success` (the distance within the
    threshold). Once the wrapped env terminates, further steps leave the world where it stopped.
    """

    def __init__(self, env: gymnasium.Env):  # type: ignore[type-arg]
        """Wrap `env` (a `GymnasiumAdapter`)."""
        super().__init__(env)
        self.distance: GoalDistance | None = None
        self._goal: np.ndarray | None = None
        self._last: tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]] | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Go to the options' start state (see the class docstring)."""
        if options is None or "goal_state" not in options or "distance" not in options:
            raise GoalUnreachableError("a goal-state world resets to a goal episode's options")
        obs = reach_start(self.env, options)
        self._goal = np.asarray(options["goal_state"], np.float64)
        self.distance = options["distance"]
        self._last = None
        return obs, self._scored(obs, {})

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Step the wrapped env (unless it terminated) and score the new state."""
        if self._last is not None and self._last[2]:
            return self._last
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._last = (obs, float(reward), terminated, truncated, self._scored(obs, dict(info)))
        return self._last

    def _scored(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> dict[str, Any]:
        """`info` with the distance to the goal state and whether it is within the threshold."""
        assert self._goal is not None and self.distance is not None, "reset first"
        distance = self.distance(obs["state"], self._goal)
        info.pop("is_success", None)  # the env's own goal is not the protocol's
        return {**info, "distance": distance, "is_success": distance <= self.distance.threshold}


def reach_start(env: gymnasium.Env, options: dict[str, Any]) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
    """Reset `env` with the options' seed and set or replay its way to the start state."""
    obs, _ = env.reset(seed=int(options["seed"]))
    if options.get("sim_state") is not None:
        obs = env.unwrapped.set_sim_state(options["sim_state"])  # type: ignore[attr-defined]
    else:
        for action in options["actions"]:
            obs, *_ = env.step(action)
    return obs  # type: ignore[no-any-return]


@dataclass(frozen=True)
class GoalEpisodes:
    """A protocol's goal episodes in a `gym:` world, their distance and what was refused."""

    options: list[dict[str, Any]]  # reset options of `GoalStateWorld` (distance included)
    goal_pixels: list[np.ndarray]  # the goal frames, uint8 [h, w, 3]
    distance: GoalDistance
    refusals: Refusals


def goal_state_episodes(
    world: str,
    env: gymnasium.Env,  # type: ignore[type-arg]
    episodes: int,
    goal_offset: int,
    seed: int,
    world_options: dict[str, Any],
    distance_name: str | None = None,
    threshold: float | None = None,
    policy: str = "colored",
) -> GoalEpisodes:
    """`episodes` goal episodes in `env` (the world `world`), from held-out episodes of its own.

    Held-out episodes of `goal_offset + 25` steps are collected with `policy` from
    `seed` (episode i from seed + i; up to three per asked episode, for those refused); in each,
    the start is drawn uniformly among the indices whose goal (`goal_offset` frames later) is
    not already met. The "state" distance's spread is that of the first `episodes` episodes.

    Raises:
        GoalUnreachableError: fewer than `episodes` held-out episodes gave a usable start.
    """
    if isinstance(env, GoalStateWorld):
        env = env.env  # replay in the world itself
    length = goal_offset + 25
    first = list(_held_out(world, env, policy, episodes, length, seed, world_options))
    states = np.concatenate([episode.states for episode in first])
    names = list(getattr(env.unwrapped, "state_names", []))
    distance = goal_distance(world, names, states.std(axis=0), distance_name, threshold)
    rng = np.random.default_rng(seed)
    refusals = Refusals()
    options: list[dict[str, Any]] = []
    goal_pixels: list[np.ndarray] = []
    more = _held_out(world, env, policy, 2 * episodes, length, seed + episodes, world_options)
    seen = 0
    for index, episode in enumerate(chain(first, more)):
        seen += 1
        start = _draw_start(episode, goal_offset, distance, rng, refusals)
        if start is None:
            refusals.without_start += 1
            continue
        option = _checked_start(env, episode, seed + index, start, goal_offset, refusals)
        if option is None:
            continue
        options.append({**option, "distance": distance})
        goal_pixels.append(episode.pixels[start + goal_offset])
        if len(options) == episodes:
            return GoalEpisodes(options, goal_pixels, distance, refusals)
    raise GoalUnreachableError(
        f"{world}: only {len(options)} of {episodes} goal episodes could be made from "
        f"{seen} held-out episodes ({refusals.replay_mismatches} did not replay to "
        f"their recorded state: is the env deterministic given its seed?; "
        f"{refusals.without_start} had no start short of its goal)"
    )


def _held_out(
    world: str,
    env: gymnasium.Env,  # type: ignore[type-arg]
    policy: str,
    episodes: int,
    length: int,
    seed: int,
    world_options: dict[str, Any],
) -> Iterator[Episode]:
    """Held-out episodes of `length` steps of `policy`, episode i from `seed + i`."""
    return collect(
        CollectConfig(
            world=world,
            episodes=episodes,
            steps_per_episode=length,
            policy=policy,
            seed=seed,
            image_size=int(env.observation_space["pixels"].shape[0]),  # type: ignore[index]
            world_options={**world_options, "max_episode_steps": length + 1},
        ),
        progress=False,
    )


def _draw_start(
    episode: Episode,
    goal_offset: int,
    distance: GoalDistance,
    rng: np.random.Generator,
    refusals: Refusals,
) -> int | None:
    """A start index drawn among those whose goal is not already met, or None."""
    candidates = []
    for t in range(episode.length - goal_offset + 1):
        refusals.starts_considered += 1
        if distance.reached(episode.states[t], episode.states[t + goal_offset]):
            refusals.solved_starts += 1
        else:
            candidates.append(t)
    return candidates[int(rng.integers(len(candidates)))] if candidates else None


def _checked_start(
    env: gymnasium.Env,  # type: ignore[type-arg]
    episode: Episode,
    seed: int,
    start: int,
    goal_offset: int,
    refusals: Refusals,
) -> dict[str, Any] | None:
    """The reset options reaching `episode`'s state at `start`, checked; None if not reached."""
    option: dict[str, Any] = {
        "seed": seed,
        "actions": episode.actions[:start].copy(),
        "goal_state": episode.states[start + goal_offset].copy(),
    }
    recorded = episode.states[start]
    if not _matches(reach_start(env, option)["state"], recorded):
        refusals.replay_mismatches += 1
        return None
    sim_state = getattr(env.unwrapped, "sim_state", lambda: None)()
    if sim_state is not None:
        fast = {**option, "sim_state": sim_state}
        if _matches(reach_start(env, fast)["state"], recorded):
            option = fast
    method = "sim_state" if "sim_state" in option else "replay"
    refusals.start_methods[method] = refusals.start_methods.get(method, 0) + 1
    return option


def _matches(state: np.ndarray, recorded: np.ndarray) -> bool:
    """Whether a reached state equals the recorded one (to `REPLAY_TOLERANCE`)."""
    reached = np.asarray(state, np.float64)
    return reached.shape == recorded.shape and bool(
        np.all(np.abs(reached - recorded) <= REPLAY_TOLERANCE)
    )
