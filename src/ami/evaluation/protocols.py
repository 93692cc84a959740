"""Versioned evaluation protocols: which world, which start/goal pairs, what budget, what success.

"TwoRoom" names three different benchmarks in the literature, so every figure ami reports names
its protocol (and version):

- `cross_room` (ami's, at least as strict as PLDM's): start uniformly in one room, goal uniformly
  in the *other*, so the agent must find the door; success = the agent's centre within 0.02 arena
  widths of the goal (1.28 px at 64 px; PLDM: ≈1.4 px of 65 px = 0.0215); budget 200 env steps.
- `goal_25_steps` (stable-worldmodel / LeWM's protocol, on every world; `anchor` is its old,
  deprecated name): start at a state of a held-out episode, goal = the frame 25 steps later,
  budget 50 env steps. On the built-in worlds the held-out episodes are the scripted expert's and
  success is the world's own test: TwoRoom within 16/224 arena widths (16 px of 224 px); PushT
  DINO-WM's block criterion (within 20/512 of the arena width and pi/9 of the goal angle);
  Reacher every joint within 0.1 rad of the goal configuration (LeWM's; fingertip-in-target is
  reported beside it).
- `goal_K_steps` v1 on a `gym:` world (any K; `goal_25_steps` is K = 25): the same generalised to a
  world built elsewhere: held-out episodes of pink-noise exploration, the start reached by replaying
  the episode's actions from its seed (or by setting the simulator's state), budget 2K env steps,
  success by a distance on the true state (`ami.worlds.goal_distance`: Reacher's fingertip within
  0.02 m, PointMaze's ball within 0.45, Pendulum's angle and velocity, any other world's scaled
  state), scored at any step, at the end of the budget, or held for N steps
  (`ami.evaluation.goal_episodes`). Starts already within the threshold are refused and counted.
- On the cube (`ami.evaluation.cube_protocols`): `goal_25_steps` (the cube within 0.04 m of its
  goal position), `goal_25_steps_fixed` (the start a fixed step into every held-out episode) and
  `ogbench_tasks` (OGBench's five evaluation tasks, its success test and 200-step budget).

Every protocol is held out from training: start/goal pairs come from their own seeds, never from
the training data's. A random policy and (on `gym:` worlds) the zero action run the same episodes
as floors. A protocol's version is bumped whenever anything that changes its figures does.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import replace

from ami.agent.episode import ScoreRule
from ami.errors import UnknownWorldError
from ami.evaluation.cube_protocols import (
    GOAL_25_STEPS_FIXED,
    OGBENCH_TASKS,
    cube_goal_25_steps,
    cube_goal_25_steps_fixed,
    cube_ogbench_tasks,
)
from ami.evaluation.eval_protocol import GOAL_25_STEPS, EpisodeSpec, EvalProtocol
from ami.worlds.goal_distance import default_distance_name
from ami.worlds.gym_id import is_gym_world

__all__ = [
    "DEPRECATED_NAMES",
    "GOAL_25_STEPS",
    "PROTOCOLS",
    "EpisodeSpec",
    "EvalProtocol",
    "current_name",
    "goal_k_steps",
    "protocol_by_name",
    "protocols_of",
    "push_t_goal_25_steps",
    "reacher_goal_25_steps",
    "two_room_cross_room",
    "two_room_goal_25_steps",
    "with_scoring",
]

DEPRECATED_NAMES = {"anchor": GOAL_25_STEPS}  # old name -> name


def two_room_cross_room(episodes: int = 50, seed: int = 2_000_003) -> EvalProtocol:
    """Ours: start and goal in different rooms, radius 0.02, budget 200 steps."""
    return EvalProtocol(
        name="cross_room",
        version=1,
        world="two_room",
        episodes=episodes,
        seed=seed,
        budget=200,
        success_radius=0.02,
        pairing="cross_room",
        description=(
            "TwoRoom cross-room (ami v1): start uniform in one room, goal uniform in the other "
            "(rooms alternate), success when the agent's centre is within 0.02 arena widths "
            "(1.28 px at 64 px) of the goal within 200 env steps. Stricter than PLDM's 1.4 px "
            "of 65 px."
        ),
    )


def _goal_25_steps(
    world: str,
    episodes: int,
    seed: int,
    success_radius: float | None,
    skip_solved_starts: bool,
    description: str,
) -> EvalProtocol:
    """`goal_25_steps` v1 on a built-in `world`: goal 25 steps ahead, budget 50 env steps."""
    return EvalProtocol(
        name=GOAL_25_STEPS,
        version=1,
        world=world,
        episodes=episodes,
        seed=seed,
        budget=50,
        success_radius=success_radius,
        pairing="dataset_offset",
        goal_offset=25,
        skip_solved_starts=skip_solved_starts,
        description=description,
    )


def two_room_goal_25_steps(episodes: int = 50, seed: int = 1_000_003) -> EvalProtocol:
    """stable-worldmodel/LeWM's: goal 25 steps ahead, budget 50, radius 16/224."""
    return _goal_25_steps(
        "two_room",
        episodes,
        seed,
        success_radius=16 / 224,
        skip_solved_starts=False,
        description=(
            "TwoRoom goal_25_steps protocol (stable-worldmodel/LeWM): start = a state of a "
            "held-out expert episode, goal = the state 25 steps later (goal image = that "
            "frame), budget 50 env steps, success within 16/224 arena widths (16 px of 224 px)."
        ),
    )


def push_t_goal_25_steps(episodes: int = 50, seed: int = 1_000_003) -> EvalProtocol:
    """goal_25_steps on PushT: goal 25 steps ahead, budget 50, DINO-WM's success."""
    return _goal_25_steps(
        "push_t",
        episodes,
        seed,
        success_radius=None,
        skip_solved_starts=True,
        description=(
            "PushT goal_25_steps protocol (DINO-WM/LeWM): start = a state of a held-out expert "
            "episode where the pusher is clear of the block and the block is not already at "
            "the goal; goal = the state 25 steps later (goal image = that frame); budget 50 "
            "env steps; success when the block is within 20/512 of the arena width and pi/9 "
            "rad of the goal pose (the block's criterion; DINO-WM also counts the pusher)."
        ),
    )


def reacher_goal_25_steps(episodes: int = 50, seed: int = 1_000_003) -> EvalProtocol:
    """goal_25_steps on Reacher: goal 25 steps ahead, budget 50, joints within 0.1 rad."""
    return _goal_25_steps(
        "reacher",
        episodes,
        seed,
        success_radius=None,
        skip_solved_starts=True,
        description=(
            "Reacher goal_25_steps protocol (LeWM): start = a state of a held-out expert "
            "episode (not already at the goal), goal = the joint configuration 25 steps later "
            "(goal image rendered by the world: the arm at rest there, the target drawn at its "
            "fingertip), budget 50 env steps, success when both joints are within 0.1 rad of "
            "the goal's."
        ),
    )


def goal_k_steps(
    world: str,
    episodes: int = 50,
    seed: int = 1_000_003,
    k: int = 25,
    success: str | None = None,
    success_threshold: float | None = None,
    score_at: str = "any",
    held_steps: int = 1,
) -> EvalProtocol:
    """`goal_K_steps` v1 on a `gym:` world: goal k steps ahead, budget 2k, a state distance.

    Args:
        world: a `gym:` world id.
        episodes: episodes.
        seed: seed of the held-out episodes and of the start draws.
        k: the goal is the state k steps after the start; the budget is 2k env steps.
        success: the goal distance (`ami.worlds.goal_distance`); None: the world's default.
        success_threshold: replaces the distance's threshold.
        score_at: "any", "end" or "held" (`ami.agent.ScoreRule`).
        held_steps: for "held", the steps the goal must hold.
    """
    if not is_gym_world(world):
        raise UnknownWorldError(
            f"goal_{k}_steps on {world!r}: the generic protocol is for gym: worlds; built-in "
            f"worlds have {GOAL_25_STEPS} with their own success test"
        )
    distance = default_distance_name(world) if success is None else success
    threshold = "its threshold" if success_threshold is None else f"within {success_threshold}"
    scored = _scored(ScoreRule(score_at, held_steps))
    return EvalProtocol(
        name=f"goal_{k}_steps",
        version=1,
        world=world,
        episodes=episodes,
        seed=seed,
        budget=2 * k,
        success_radius=None,
        pairing="goal_state",
        goal_offset=k,
        description=(
            f"goal_{k}_steps v1 on {world}: start = a state of a held-out episode of pink-noise "
            f"exploration (reached by replaying its actions from its seed, or by setting the "
            f"simulator's state; checked against the recorded state), goal = the frame {k} "
            f"steps later, budget {2 * k} env steps, success = the {distance} distance "
            f"{threshold} {scored}; starts already there are refused and counted."
        ),
        success=success,
        success_threshold=success_threshold,
        score_at=score_at,
        held_steps=held_steps,
    )


# protocol name -> built-in world -> factory(episodes=..., seed=...); gym: worlds: `goal_k_steps`
PROTOCOLS: dict[str, dict[str, Callable[..., EvalProtocol]]] = {
    "cross_room": {"two_room": two_room_cross_room},
    GOAL_25_STEPS: {
        "two_room": two_room_goal_25_steps,
        "push_t": push_t_goal_25_steps,
        "reacher": reacher_goal_25_steps,
        "cube": cube_goal_25_steps,
    },
    GOAL_25_STEPS_FIXED: {"cube": cube_goal_25_steps_fixed},
    OGBENCH_TASKS: {"cube": cube_ogbench_tasks},
}
_GOAL_K_STEPS = re.compile(r"goal_([1-9][0-9]*)_steps")


def current_name(name: str) -> str:
    """`name`, or the current name of a deprecated protocol name (with a DeprecationWarning)."""
    if name in DEPRECATED_NAMES:
        warnings.warn(
            f"protocol {name!r} is now called {DEPRECATED_NAMES[name]!r}; the old name will go",
            DeprecationWarning,
            stacklevel=3,
        )
        return DEPRECATED_NAMES[name]
    return name


def protocol_by_name(name: str, episodes: int = 50, world: str = "two_room") -> EvalProtocol:
    """The protocol `name` on `world`, with `episodes` episodes.

    On a `gym:` world any `goal_K_steps` is defined (`goal_k_steps`); "anchor" is the deprecated
    name of `goal_25_steps`.
    """
    name = current_name(name)
    match = _GOAL_K_STEPS.fullmatch(name)
    if is_gym_world(world) and match is not None:
        return goal_k_steps(world, episodes=episodes, k=int(match.group(1)))
    if name not in PROTOCOLS:
        raise UnknownWorldError(
            f"unknown protocol {name!r}; known: {sorted(PROTOCOLS)} (and goal_K_steps on gym: "
            "worlds)"
        )
    if world not in PROTOCOLS[name]:
        raise UnknownWorldError(
            f"protocol {name!r} is not defined on world {world!r}; "
            f"it is on {sorted(PROTOCOLS[name])}"
            + (" and on every gym: world" if name == GOAL_25_STEPS else "")
        )
    return PROTOCOLS[name][world](episodes=episodes)


def with_scoring(
    protocol: EvalProtocol,
    success: str | None = None,
    success_threshold: float | None = None,
    score_at: str = "any",
    held_steps: int = 1,
) -> EvalProtocol:
    """`protocol` scored otherwise: a goal distance and threshold (gym: worlds), a score rule.

    Raises:
        ConfigError: a goal distance for a world that scores itself, or a bad score rule.
    """
    if protocol.pairing == "goal_state":
        return goal_k_steps(
            protocol.world,
            protocol.episodes,
            protocol.seed,
            protocol.goal_offset,
            success,
            success_threshold,
            score_at,
            held_steps,
        )
    rule = ScoreRule(score_at, held_steps)
    changed = replace(
        protocol,
        success=success,
        success_threshold=success_threshold,
        score_at=score_at,
        held_steps=held_steps,
    )
    if rule == ScoreRule():
        return changed
    return replace(changed, description=f"{protocol.description} Scored {_scored(rule)}.")


def _scored(rule: ScoreRule) -> str:
    """The score rule in words."""
    return {
        "any": "at any step",
        "end": "at the end of the budget",
        "held": f"held for {rule.steps} consecutive steps",
    }[rule.at]


def protocols_of(world: str) -> list[str]:
    """The names of the protocols defined on `world` (`goal_25_steps` on every gym: world)."""
    if is_gym_world(world):
        return [GOAL_25_STEPS]
    return [name for name, worlds in PROTOCOLS.items() if world in worlds]
