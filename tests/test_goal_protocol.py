"""The goal_K_steps protocol on gym: worlds: distances, starts by replay or sim state, scoring."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest

import fake_gym_envs  # noqa: F401  (registers the AmiTest envs)
from ami.agent import Agent, RandomAgent, ScoreRule, ZeroAgent, run_episode
from ami.errors import AmiError, ConfigError, GoalUnreachableError, UnknownWorldError
from ami.evaluation.goal_episodes import GoalStateWorld, goal_state_episodes, reach_start
from ami.evaluation.protocols import goal_k_steps, protocol_by_name, protocols_of
from ami.evaluation.runner import episode_world, evaluate, protocol_world_settings
from ami.experience import CollectConfig, collect
from ami.live.goals import propose_goals
from ami.worlds import make
from ami.worlds.goal_distance import default_distance_name, goal_distance

POINT = "gym:fake_gym_envs:AmiTest/DictPoint-v0"
POINT_NAMES = ["position[0]", "position[1]", "velocity[0]", "velocity[1]"]


def reacher_state(q1: float, q2: float) -> np.ndarray:
    """A Reacher-v5 observation [10] with joint angles q1, q2 (the rest zeros)."""
    state = np.zeros(10)
    state[:4] = np.cos(q1), np.cos(q2), np.sin(q1), np.sin(q2)
    return state


def test_reacher_distance_is_the_fingertips_distance_in_metres():
    distance = goal_distance("gym:Reacher-v5", [f"obs[{i}]" for i in range(10)])
    assert distance.name == "reacher_fingertip" and distance.threshold == 0.02
    # straight arm: the fingertip at 0.21 m; folded back: at 0.1 - 0.11 = -0.01 m on the x axis
    assert distance(reacher_state(0, 0), reacher_state(0, np.pi)) == pytest.approx(0.22)
    # a forearm turned by 0.1 rad moves the fingertip by the chord 2 * 0.11 * sin(0.05)
    near = distance(reacher_state(0.3, 0.0), reacher_state(0.3, 0.1))
    assert near == pytest.approx(2 * 0.11 * np.sin(0.05))
    assert not distance.reached(reacher_state(0.3, 0.0), reacher_state(0.3, 0.2))
    assert distance.reached(reacher_state(0.3, 0.0), reacher_state(0.3, 0.15))


def test_point_maze_distance_reads_the_achieved_goal_components_by_name():
    names = ["achieved_goal[0]", "achieved_goal[1]", "desired_goal[0]", "desired_goal[1]"]
    names += [f"observation[{i}]" for i in range(4)]
    distance = goal_distance("gym:gymnasium_robotics:PointMaze_Medium-v3", names)
    assert (distance.name, distance.threshold) == ("point_maze_position", 0.45)
    state, goal = np.zeros(8), np.zeros(8)
    goal[:2] = 0.3, 0.4
    goal[2:] = 9.0  # the env's own goal and the velocities do not count
    assert distance(state, goal) == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="achieved_goal"):
        goal_distance("gym:PointMaze_UMaze-v3", POINT_NAMES)


def test_pendulum_distance_wraps_the_angle_and_needs_the_velocity_too():
    distance = goal_distance("gym:Pendulum-v1", ["obs[0]", "obs[1]", "obs[2]"])

    def pendulum(angle: float, velocity: float) -> np.ndarray:
        return np.array([np.cos(angle), np.sin(angle), velocity])

    assert distance(pendulum(np.pi - 0.05, 0), pendulum(-np.pi + 0.05, 0)) == pytest.approx(0.5)
    assert distance.reached(pendulum(0.1, 0.5), pendulum(0.0, 0.0))
    assert not distance.reached(pendulum(0.0, 1.5), pendulum(0.0, 0.0))  # right angle, too fast
    assert not distance.reached(pendulum(0.3, 0.0), pendulum(0.0, 0.0))


def test_any_other_world_is_scored_by_the_state_in_units_of_its_spread():
    assert default_distance_name(POINT) == "state"
    distance = goal_distance(POINT, POINT_NAMES, spread=np.array([0.5, 0.5, 0.0, 2.0]))
    state, goal = np.zeros(4), np.array([0.1, 0.0, 7.0, 0.2])  # the constant component is left out
    assert distance(state, goal) == pytest.approx(np.sqrt((0.2**2 + 0.1**2) / 3))


def test_a_user_distance_and_a_threshold_replace_the_known_ones():
    distance = goal_distance(POINT, POINT_NAMES, name="fake_gym_envs:position_gap", threshold=0.3)
    assert distance(np.zeros(4), np.array([0.3, 0.4, 5.0, 5.0])) == pytest.approx(0.5)
    tighter = goal_distance("gym:Reacher-v5", [f"obs[{i}]" for i in range(10)], threshold=0.01)
    assert tighter.threshold == 0.01 and "instead of 0.02" in tighter.description
    for name, threshold, message in (
        ("fake_gym_envs:position_gap", None, "needs a threshold"),
        ("nowhere_module:gap", 0.1, "cannot import"),
        ("fake_gym_envs:SIZE", 0.1, "not a callable"),
        ("fingertip", None, "unknown goal distance"),
    ):
        with pytest.raises(ConfigError, match=message) as error:
            goal_distance(POINT, POINT_NAMES, name=name, threshold=threshold)
        assert "\n" not in str(error.value)


def test_score_rules_any_end_and_held():
    assert ScoreRule("any").success(streak=1, steps=3, budget=10)
    assert not ScoreRule("end").success(streak=1, steps=3, budget=10)
    assert ScoreRule("end").success(streak=1, steps=10, budget=10)
    assert not ScoreRule("end").success(streak=0, steps=10, budget=10)
    assert not ScoreRule("held", 3).success(streak=2, steps=5, budget=10)
    assert ScoreRule("held", 3).success(streak=3, steps=5, budget=10)
    with pytest.raises(ConfigError, match="ScoreRule.at"):
        ScoreRule("sometimes")


def point_episodes(world: str = POINT, episodes: int = 4, **kwargs):
    env = make(world, size=16, max_episode_steps=200)
    return env, goal_state_episodes(world, env, episodes, 10, 7, {}, **kwargs)


def test_replay_reaches_every_recorded_start_exactly_and_repeats_itself():
    env, made = point_episodes()
    again = point_episodes()[1]
    assert len(made.options) == 4 and made.refusals.start_methods == {"replay": 4}
    assert made.refusals.replay_mismatches == 0
    for option, twin in zip(made.options, again.options, strict=True):
        assert option["seed"] == twin["seed"]
        np.testing.assert_array_equal(option["actions"], twin["actions"])
        np.testing.assert_array_equal(option["goal_state"], twin["goal_state"])
    # the start is where the held-out episode (collected again here) was; its goal 10 steps later
    option = made.options[1]
    assert option["seed"] == 7 + 1  # held-out episode 1 (none was refused)
    config = CollectConfig(POINT, 2, 35, "colored", seed=7, image_size=16)
    _, episode = collect(replace(config, world_options={"max_episode_steps": 36}), progress=False)
    start = len(option["actions"])
    np.testing.assert_array_equal(reach_start(env, option)["state"], episode.states[start])
    np.testing.assert_array_equal(option["goal_state"], episode.states[start + 10])
    obs, info = GoalStateWorld(env).reset(options=option)
    assert info["distance"] > made.distance.threshold and not info["is_success"]
    assert obs["pixels"].shape == (16, 16, 3)


def test_a_nondeterministic_env_is_refused_and_counted():
    with pytest.raises(GoalUnreachableError, match="deterministic") as error:
        point_episodes("gym:fake_gym_envs:AmiTest/NoisyPoint-v0")
    assert "0 of 4" in str(error.value) and "\n" not in str(error.value)


def test_a_settable_simulator_state_is_used_instead_of_replay():
    env, made = point_episodes("gym:fake_gym_envs:AmiTest/StatefulPoint-v0")
    assert made.refusals.start_methods == {"sim_state": 4}
    for option in made.options:
        replayed = reach_start(env, {**option, "sim_state": None})["state"]
        np.testing.assert_array_equal(reach_start(env, option)["state"], replayed)


def test_mujoco_reacher_starts_by_its_qpos_and_qvel():
    env = make("gym:Reacher-v5", size=16, max_episode_steps=200)
    made = goal_state_episodes("gym:Reacher-v5", env, 3, 25, 3, {})
    assert sum(made.refusals.start_methods.values()) == 3
    assert made.refusals.start_methods.get("sim_state", 0) >= 1
    assert made.distance.name == "reacher_fingertip"


def test_starts_already_at_their_goal_are_refused_and_counted():
    with pytest.raises(GoalUnreachableError, match="no start short of its goal"):
        point_episodes(threshold=1e6)
    _, made = point_episodes(threshold=0.5)
    assert made.refusals.solved_starts > 0
    assert made.refusals.starts_considered == 4 * 26


class GoalSeeker(Agent):
    """An agent that knows the goal state (test-only): pushes the point straight at it."""

    def __init__(self, world: GoalStateWorld):
        self.world = world

    def begin(self, goal_pixels: np.ndarray) -> None:
        """Nothing to plan."""

    def act(self, pixels: np.ndarray) -> np.ndarray:
        position = self.world.env.unwrapped.env.unwrapped.position
        goal = self.world._goal[:2]
        return np.clip((goal - position) / 0.05, -1, 1).astype(np.float32)


def test_an_agent_that_reaches_the_goal_succeeds_and_the_score_rule_counts():
    env, made = point_episodes(distance_name="fake_gym_envs:position_gap", threshold=0.02)
    world = GoalStateWorld(env)
    seeker, zero = GoalSeeker(world), ZeroAgent(2)
    for option, pixels in zip(made.options, made.goal_pixels, strict=True):
        reached = run_episode(world, seeker, option, 20, pixels)
        assert reached.success and reached.steps < 20 and reached.final_distance <= 0.02
        held = run_episode(world, seeker, option, 20, pixels, score=ScoreRule("held", 5))
        assert held.success and held.steps == reached.steps + 4
        at_end = run_episode(world, seeker, option, 20, pixels, score=ScoreRule("end"))
        assert at_end.success and at_end.steps == 20
        assert not run_episode(world, zero, option, 20, pixels).success


def test_evaluate_reports_both_floors_and_the_refusals():
    protocol = goal_k_steps(POINT, episodes=3, k=5, success="fake_gym_envs:position_gap")
    with pytest.raises(ConfigError, match="needs a threshold"):
        evaluate(protocol, RandomAgent(2), progress=False, world_overrides={"size": 16})
    protocol = goal_k_steps(
        POINT, episodes=3, k=5, success="fake_gym_envs:position_gap", success_threshold=0.05
    )
    result = evaluate(protocol, ZeroAgent(2), progress=False, world_overrides={"size": 16})
    figures = result.as_dict()
    assert figures["episodes"] == 3 and figures["budget"] == 10
    assert figures["zero_success_rate"] == result.success_rate == 0.0  # zero never moves
    assert figures["refused"]["start_methods"] == {"replay": 3}
    assert figures["protocol"]["success"] == "fake_gym_envs:position_gap"
    assert protocol_world_settings(protocol)["max_episode_steps"] == 10 + 5 + 26


def test_protocol_names_on_gym_worlds_and_the_deprecated_anchor():
    assert protocols_of(POINT) == ["goal_25_steps"]
    assert protocols_of("two_room") == ["cross_room", "goal_25_steps"]
    long = protocol_by_name("goal_50_steps", 5, POINT)
    assert (long.goal_offset, long.budget, long.pairing) == (50, 100, "goal_state")
    with pytest.warns(DeprecationWarning, match="goal_25_steps"):
        old = protocol_by_name("anchor", 5, "push_t")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert old == protocol_by_name("goal_25_steps", 5, "push_t")
    for name, world, message in (
        ("goal_50_steps", "push_t", "unknown protocol"),
        ("cross_room", POINT, "not defined on world"),
    ):
        with pytest.raises(UnknownWorldError, match=message):
            protocol_by_name(name, 5, world)
    with pytest.raises(AmiError, match="for gym: worlds"):
        goal_k_steps("reacher")
    with pytest.raises(ConfigError, match="own success test"):
        protocol = protocol_by_name("goal_25_steps", 5, "reacher")
        type(protocol)(**{**protocol.__dict__, "success": "state"})


def test_live_goals_on_a_gym_world_run_in_its_goal_state_world():
    protocol = protocol_by_name("goal_10_steps", 2, POINT)
    env = episode_world(make(POINT, size=16, **protocol_world_settings(protocol)), protocol)
    specs = propose_goals(protocol, env, 2, round_index=1)
    assert len(specs) == 2 and all("distance" in spec.options for spec in specs)
    outcome = run_episode(
        env, ZeroAgent(2), specs[0].options, protocol.budget, specs[0].goal_pixels
    )
    assert outcome.steps == protocol.budget and np.isfinite(outcome.final_distance)
