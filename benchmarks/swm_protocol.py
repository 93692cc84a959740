"""stable-worldmodel's own evaluation, as close as the `gym:` adapter allows.

swm's `World.evaluate(dataset=..., goal_offset=25, eval_budget=50)` (LeWM's setting) starts each
env at a state of a recorded expert episode, sets the env's goal to the state `goal_offset`
steps later (`_set_state`, `_set_goal_state`), shows the goal frame, and counts an episode a
success when the env reports `terminated` within the budget: TwoRoom when the agent is within
16 px (of 224) of the goal position, PushT when pusher and block positions are within 20 px
and the block's angle within pi/9 of the goal's.

Here: held-out episodes of swm's own expert (`benchmarks.swm_experts`) from their own seeds;
in each episode long enough, a start drawn uniformly among the indices with a goal 25 steps
ahead; the start is reached by replaying the recorded actions from the episode's seed (checked
against the recorded state to 1e-5, else refused and counted, as ami's `goal_state` pairing
does), then the env's goal is set to the goal state with swm's own `_set_goal_state`, and
success is the env's `terminated` (the adapter's `is_success`), frozen once reached. Where swm
sets the start state directly, this replays to it: the same state, reached another way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np

from ami.agent import Agent, RandomAgent, run_episode
from ami.errors import GoalUnreachableError
from ami.evaluation.goal_episodes import REPLAY_TOLERANCE, reach_start
from ami.experience import CollectConfig, Episode, collect

GOAL_OFFSET = 25
BUDGET = 50
HELD_OUT_SEED = 1_000_003  # as ami's protocols: never a training episode's seed

GoalOf = Callable[[np.ndarray, list[str]], np.ndarray]  # (state [S], state names) -> swm's goal


def _named(prefix: str) -> GoalOf:
    """The components of the state whose names start with `prefix` (an observation entry)."""

    def goal(state: np.ndarray, names: list[str]) -> np.ndarray:
        return np.asarray([s for s, n in zip(state, names, strict=True) if n.startswith(prefix)])

    return goal


# env id -> (swm's `_set_goal_state` argument from ami's state, swm's success test in words)
GOALS: dict[str, tuple[GoalOf, str]] = {
    "swm/TwoRoom-v1": (
        lambda state, names: np.asarray(state[:2]),
        "the agent within 16 px (of 224) of the goal's agent position",
    ),
    "swm/PushT-v1": (
        _named("state["),
        "pusher and block positions within 20 px (norm of the 4) and block angle within pi/9",
    ),
}


@dataclass(frozen=True)
class SwmEpisodes:
    """The protocol's episodes: reset options, goal frames, and what was refused."""

    options: list[dict[str, Any]]  # seed, actions [t, A], goal_state (swm's) [G], start [S]
    goal_pixels: list[np.ndarray]  # uint8 [h, w, 3]
    refused: dict[str, int]


class SwmGoalWorld(gymnasium.Wrapper):  # type: ignore[type-arg]
    """An swm env (its `GymnasiumAdapter`) reset to a recorded state with swm's goal set there.

    `reset(options=...)` takes `SwmEpisodes.options`; every step's `is_success` is the env's
    `terminated`; once it terminated, further steps leave the world where it stopped (swm's
    "wait" mode).
    """

    def __init__(self, env: gymnasium.Env):  # type: ignore[type-arg]
        """Wrap `env` (a `GymnasiumAdapter` of an swm env)."""
        super().__init__(env)
        self._last: tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]] | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Replay to the start state, then set swm's goal (see the class docstring)."""
        if options is None or "goal_state" not in options:
            raise GoalUnreachableError("an swm goal world resets to an swm episode's options")
        obs = reach_start(self.env, options)
        self.env.unwrapped.env.unwrapped._set_goal_state(options["goal_state"])  # type: ignore[attr-defined]
        self._last = None
        return obs, {"is_success": False}

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Step (unless the env terminated); success is the env's own `terminated`."""
        if self._last is not None and self._last[2]:
            return self._last
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._last = (obs, reward, terminated, truncated, {**info, "is_success": terminated})
        return self._last


def swm_episodes(
    world: str, policy: str, env: gymnasium.Env, episodes: int, seed: int = HELD_OUT_SEED
) -> SwmEpisodes:
    """`episodes` start/goal pairs from held-out episodes of `policy` in `world` (`env` made).

    Up to four held-out episodes are collected per asked one (100 steps at most each; swm's
    expert ends an episode where it reaches its own target); episode i has seed `seed + i`.

    Raises:
        GoalUnreachableError: fewer than `episodes` episodes gave a checked start.
    """
    goal_of = GOALS[world.split(":")[-1]][0]
    adapter = env.unwrapped
    names = list(adapter.state_names)  # type: ignore[attr-defined]
    rng = np.random.default_rng(seed)
    refused = {"too_short": 0, "replay_mismatches": 0}
    options: list[dict[str, Any]] = []
    goal_pixels: list[np.ndarray] = []
    for index, episode in enumerate(_held_out(world, policy, env, 4 * episodes, seed)):
        steps = len(episode.actions)
        if steps < GOAL_OFFSET:
            refused["too_short"] += 1
            continue
        start = int(rng.integers(steps - GOAL_OFFSET + 1))
        option = {
            "seed": seed + index,
            "actions": episode.actions[:start].copy(),
            "goal_state": goal_of(episode.states[start + GOAL_OFFSET], names),
        }
        reached = np.asarray(reach_start(adapter, option)["state"], np.float64)
        if np.max(np.abs(reached - episode.states[start])) > REPLAY_TOLERANCE:
            refused["replay_mismatches"] += 1
            continue
        options.append(option)
        goal_pixels.append(episode.pixels[start + GOAL_OFFSET])
        if len(options) == episodes:
            return SwmEpisodes(options, goal_pixels, refused)
    raise GoalUnreachableError(
        f"{world}: only {len(options)} of {episodes} swm goal episodes ({refused})"
    )


def _held_out(
    world: str, policy: str, env: gymnasium.Env, episodes: int, seed: int
) -> list[Episode]:
    """Held-out episodes of `policy`, episode i from `seed + i`, 100 steps at most."""
    size = int(env.observation_space["pixels"].shape[0])  # type: ignore[index]
    config = CollectConfig(
        world=world,
        episodes=episodes,
        steps_per_episode=100,
        policy=policy,
        seed=seed,
        image_size=size,
    )
    return list(collect(config, progress=False))


def run_swm_protocol(
    env: gymnasium.Env,  # type: ignore[type-arg]
    agent: Agent,
    episodes: SwmEpisodes,
    floor_seed: int = HELD_OUT_SEED,
) -> dict[str, Any]:
    """The agent's and the random floor's success rates on `episodes`, and their outcomes."""
    world = SwmGoalWorld(env)
    action_dim = int(np.prod(env.action_space.shape or ()))
    rates: dict[str, Any] = {}
    for name, runner in (("agent", agent), ("random", RandomAgent(action_dim, seed=floor_seed))):
        outcomes = [
            run_episode(world, runner, option, BUDGET, goal)
            for option, goal in zip(episodes.options, episodes.goal_pixels, strict=True)
        ]
        rates[name] = {
            "success_rate": float(np.mean([o.success for o in outcomes])),
            "outcomes": [bool(o.success) for o in outcomes],
            "mean_steps_to_success": float(np.mean([o.steps for o in outcomes if o.success]))
            if any(o.success for o in outcomes)
            else None,
        }
    return rates
