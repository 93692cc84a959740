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
from dataclasses import dataclass, field, replace
from typing import Any

import gymnasium
import numpy as np

from ami.agent.episode import SCORE_AT, ScoreRule
from ami.config import require_choice, require_positive
from ami.errors import ConfigError, GoalUnreachableError, UnknownWorldError
from ami.evaluation.goal_episodes import goal_state_episodes
from ami.experience import CollectConfig, collect
from ami.worlds.goal_distance import GoalDistance, default_distance_name
from ami.worlds.gym_id import is_gym_world

PAIRINGS = ("cross_room", "dataset_offset", "goal_state", "world_tasks")
GOAL_25_STEPS = "goal_25_steps"
DEPRECATED_NAMES = {"anchor": GOAL_25_STEPS}  # old name -> name


@dataclass(frozen=True)
class EvalProtocol:
    """One reproducible evaluation.

    Attributes:
        name: short name ("cross_room", "goal_25_steps").
        version: bumped whenever the protocol's figures would change.
        world: registered world name.
        episodes: number of episodes.
        seed: seed of the start/goal pairs (and of held-out data).
        budget: env steps allowed per episode.
        success_radius: success distance in arena units (the world's success radius is set to
            it); None keeps the world's own success criterion.
        pairing: how start/goal pairs are drawn: "cross_room", "dataset_offset" (a built-in
            world's expert episodes, started through its `reset_options`), "goal_state" (a
            `gym:` world's own held-out episodes, started by replay or by its simulator state)
            or "world_tasks" (the world's own evaluation tasks: the cube's OGBench tasks).
        goal_offset: for "dataset_offset" and "goal_state": the goal is the state this many steps
            ahead.
        skip_solved_starts: for "dataset_offset": never start where the goal is already met (a
            window in which the expert left the block or arm where it was asks nothing);
            "goal_state" always refuses such starts.
        start_step: for "dataset_offset": every start is this step of its held-out episode
            (an episode whose start is unusable is refused and counted); None: a step drawn
            from each episode's usable ones.
        description: one paragraph stating the protocol for people.
        success: for "goal_state": the goal distance's name (`ami.worlds.goal_distance`) or
            "module:callable"; None for the world's default.
        success_threshold: for "goal_state": replaces the distance's own threshold.
        score_at: "any", "end" or "held" (`ami.agent.ScoreRule`).
        held_steps: for score_at "held": the consecutive steps the goal must hold.
        held_out_policy: for "goal_state": the collection policy of the held-out episodes
            (`ami.experience.collect`; "colored" noise moves a heavy body further than held
            uniform actions, so fewer goals lie where the world drifts by itself).
    """

    name: str
    version: int
    world: str
    episodes: int
    seed: int
    budget: int
    success_radius: float | None
    pairing: str
    goal_offset: int = 25
    skip_solved_starts: bool = False
    start_step: int | None = None
    description: str = ""
    success: str | None = None
    success_threshold: float | None = None
    score_at: str = "any"
    held_steps: int = 1
    held_out_policy: str = "colored"

    def __post_init__(self) -> None:
        for name in ("version", "episodes", "budget", "goal_offset", "held_steps"):
            require_positive("EvalProtocol", name, getattr(self, name))
        for name in ("success_radius", "success_threshold"):
            if getattr(self, name) is not None:
                require_positive("EvalProtocol", name, getattr(self, name))
        require_choice("EvalProtocol", "pairing", self.pairing, PAIRINGS)
        require_choice("EvalProtocol", "score_at", self.score_at, SCORE_AT)
        if self.start_step is not None and (
            self.pairing != "dataset_offset"
            or not isinstance(self.start_step, int)
            or self.start_step < 0
        ):
            raise ConfigError(
                f"EvalProtocol.start_step must be None or an integer >= 0 with pairing "
                f"'dataset_offset', got {self.start_step!r} with {self.pairing!r}"
            )
        if self.pairing != "goal_state" and (
            self.success is not None or self.success_threshold is not None
        ):
            raise ConfigError(
                f"protocol {self.name!r} on {self.world!r} scores by the world's own success "
                "test; a goal distance (success, success_threshold) is for gym: worlds"
            )

    @property
    def score(self) -> ScoreRule:
        """When an episode's per-step success makes it a success."""
        return ScoreRule(self.score_at, self.held_steps)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for results files."""
        return {
            "name": self.name,
            "version": self.version,
            "world": self.world,
            "episodes": self.episodes,
            "seed": self.seed,
            "budget": self.budget,
            "success_radius": self.success_radius,
            "pairing": self.pairing,
            "goal_offset": self.goal_offset,
            "skip_solved_starts": self.skip_solved_starts,
            "start_step": self.start_step,
            "success": self.success,
            "success_threshold": self.success_threshold,
            "score_at": self.score_at,
            "held_steps": self.held_steps,
            "held_out_policy": self.held_out_policy if self.pairing == "goal_state" else None,
            "description": self.description,
        }


@dataclass(frozen=True)
class EpisodeSpec:
    """One start/goal pair: reset options and, when the goal is a data frame, its pixels."""

    options: dict[str, np.ndarray]
    goal_pixels: np.ndarray | None = None


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
    },
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


@dataclass(frozen=True)
class PreparedEpisodes:
    """A protocol's episodes, ready to run.

    Attributes:
        specs: the start/goal pairs, in order.
        distance: for "goal_state" pairing, the goal distance the episodes' world must score by
            (`ami.evaluation.goal_episodes.GoalStateWorld`); None where the world scores itself.
        refusals: what was refused on the way, counted (plain data; empty where nothing is).
    """

    specs: list[EpisodeSpec]
    distance: GoalDistance | None = None
    refusals: dict[str, Any] = field(default_factory=dict)


def prepare_episodes(
    protocol: EvalProtocol, env: gymnasium.Env, world_options: dict[str, Any] | None = None
) -> PreparedEpisodes:
    """The protocol's episodes in `env` (see `episode_specs`), with their distance and refusals."""
    if protocol.pairing == "dataset_offset":
        rng = np.random.default_rng(protocol.seed)
        specs, refusals = _dataset_offset_specs(protocol, rng, env, world_options or {})
        return PreparedEpisodes(specs, refusals=refusals)
    if protocol.pairing != "goal_state":
        return PreparedEpisodes(episode_specs(protocol, env, world_options))
    made = goal_state_episodes(
        protocol.world,
        env,
        protocol.episodes,
        protocol.goal_offset,
        protocol.seed,
        world_options or {},
        protocol.success,
        protocol.success_threshold,
        protocol.held_out_policy,
    )
    specs = [
        EpisodeSpec(options, goal_pixels=pixels)
        for options, pixels in zip(made.options, made.goal_pixels, strict=True)
    ]
    return PreparedEpisodes(specs, made.distance, made.refusals.as_dict())


def episode_specs(
    protocol: EvalProtocol, env: gymnasium.Env, world_options: dict[str, Any] | None = None
) -> list[EpisodeSpec]:
    """The protocol's start/goal pairs, identical on every call.

    `world_options` (world settings beyond the size) are those of `env`, so that goal images
    taken from held-out data look like the agent's observations.
    """
    if protocol.pairing in ("goal_state", "dataset_offset"):
        return prepare_episodes(protocol, env, world_options).specs
    if protocol.pairing == "world_tasks":
        return cube_protocols.task_specs(protocol, env, world_options or {})
    world = env.unwrapped
    rng = np.random.default_rng(protocol.seed)
    if protocol.pairing == "cross_room":
        specs = []
        for index in range(protocol.episodes):
            room = index % 2
            start = world.sample_free_position(rng, room=room)  # type: ignore[attr-defined]
            goal = world.sample_free_position(rng, room=1 - room)  # type: ignore[attr-defined]
            specs.append(EpisodeSpec({"agent": start, "goal": goal}))
        return specs
    raise ConfigError(f"unknown pairing {protocol.pairing!r}")  # __post_init__ refuses it first


def _dataset_offset_specs(
    protocol: EvalProtocol,
    rng: np.random.Generator,
    env: gymnasium.Env,
    world_options: dict[str, Any],
) -> tuple[list[EpisodeSpec], dict[str, Any]]:
    """Start at a frame of a held-out expert episode, goal `goal_offset` frames later.

    The frame is drawn at random, or is `start_step` in every episode. Only frames whose state
    the world can be reset to exactly are starts (`reset_options` gives None for the others,
    e.g. PushT's pusher in contact with the block), and with `skip_solved_starts` only those
    where the goal is not already met. A world that draws its goal in every frame renders the
    goal image itself; otherwise it is the data's frame.

    Returns:
        The specs and the refusals counted: starts considered, refused as not settable or as
        already solved, and held-out episodes left without a start.
    """
    world = env.unwrapped
    image_size = int(env.observation_space["pixels"].shape[0])  # type: ignore[index]
    draws_its_goal = bool(getattr(world, "draws_its_goal", False))
    length = protocol.goal_offset + 25
    if protocol.start_step is not None:
        length = protocol.start_step + protocol.goal_offset
    refused = {"starts_considered": 0, "unsettable_starts": 0, "solved_starts": 0,
               "episodes_without_start": 0}  # fmt: skip
    held_out = collect(
        CollectConfig(
            world=protocol.world,
            # spare episodes for those without a usable start (only with skip_solved_starts)
            episodes=protocol.episodes * (3 if protocol.skip_solved_starts else 1),
            steps_per_episode=length,
            policy="expert",
            seed=protocol.seed,
            image_size=image_size,
            world_options=world_options,
        ),
        progress=False,
    )
    specs = []
    for episode in held_out:
        steps = range(episode.length - protocol.goal_offset + 1)
        if protocol.start_step is not None:
            steps = range(protocol.start_step, min(protocol.start_step + 1, steps.stop))
        candidates = []
        for t in steps:
            refused["starts_considered"] += 1
            options = world.reset_options(  # type: ignore[attr-defined]
                episode.states[t].astype(np.float64),
                episode.states[t + protocol.goal_offset].astype(np.float64),
            )
            if options is None:
                refused["unsettable_starts"] += 1
            elif protocol.skip_solved_starts and env.reset(options=options)[1]["is_success"]:
                refused["solved_starts"] += 1
            else:
                candidates.append((t, options))
        if not candidates:
            refused["episodes_without_start"] += 1
            continue
        t, options = candidates[int(rng.integers(len(candidates)))]
        goal_pixels = None if draws_its_goal else episode.pixels[t + protocol.goal_offset]
        specs.append(EpisodeSpec(options, goal_pixels=goal_pixels))
        if len(specs) == protocol.episodes:
            return specs, refused
    raise GoalUnreachableError(
        f"{protocol.world}: only {len(specs)} of {protocol.episodes} held-out episodes have a "
        f"usable start ({refused['unsettable_starts']} starts cannot be set, "
        f"{refused['solved_starts']} are already at their goal)"
    )


# the cube's protocols register themselves in PROTOCOLS; imported last, as they use this module
from ami.evaluation import cube_protocols  # noqa: E402
