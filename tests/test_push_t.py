"""Tests of the PushT world (pymunk physics, numpy rendering, success) and its scripted expert."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ami.errors import ConfigError
from ami.experience.push_t_expert import PushTExpert
from ami.worlds.push_t import (
    ARENA,
    BLOCK_RGB,
    FLOOR_RGB,
    WALL,
    PushT,
    PushTConfig,
    block_vertices,
    make_push_t,
)

GOAL = (256.0, 256.0, 0.5)


def place(env: PushT, state, goal=GOAL):
    return env.reset(seed=0, options={"state": state, "goal": goal})


def clearance(env: PushT) -> float:
    return env.block_clearance(env.pusher_position(), env.block_pose())


# ----------------------------------------------------------------------------- physics


def test_block_stays_exactly_still_until_pushed_then_moves_and_stops():
    env = PushT()
    place(env, [60.0, 60.0, 260.0, 280.0, 0.3])
    start = env.block_pose()
    rng = np.random.default_rng(0)
    for _ in range(40):  # random wandering that is steered back into the top-left corner
        action = rng.uniform(-1, 1, 2) - 0.8 * (env.pusher_position() > 130)
        env.step(action.astype(np.float32))
        assert clearance(env) > 50
    np.testing.assert_array_equal(env.block_pose(), start)
    for _ in range(10):  # drive straight at the block's centre
        direction = env.block_pose()[:2] - env.pusher_position()
        env.step((direction / np.abs(direction).max()).astype(np.float32))
    moved = env.block_pose()
    assert np.hypot(*(moved[:2] - start[:2])) > 20
    for _ in range(5):  # back off: friction stops the block within a few steps
        env.step(np.array([-1.0, -1.0], np.float32))
    rest = env.block_pose()
    env.step(np.array([-1.0, -1.0], np.float32))
    np.testing.assert_array_equal(env.block_pose(), rest)


@pytest.mark.parametrize("angle", [0.0, 0.7, math.pi / 2, math.pi - 0.01, -2.0])
def test_block_never_tunnels_through_the_pusher_at_full_speed(angle):
    env = PushT()
    place(env, [40.0, 250.0, 170.0, 256.0, angle])
    start = env.block_pose()
    for _ in range(16):
        env.step(np.array([1.0, 0.0], np.float32))
        assert clearance(env) > -2.5  # contact overlaps by at most a few units
        assert env.pusher_position()[0] < env.block_pose()[0]  # still behind the block
    assert env.block_pose()[0] - start[0] > 80
    assert block_vertices(env.block_pose()).max() < ARENA - WALL  # the far wall was not reached


def test_reset_sets_the_state_exactly_with_zero_velocities():
    env = PushT()
    state = [100.25, 420.5, 300.125, 200.75, -1.25]
    obs, info = place(env, state, goal=(250.0, 260.0, 3.0))
    np.testing.assert_array_equal(obs["state"], np.array(state, np.float32))
    np.testing.assert_array_equal(env.pusher_position(), state[:2])
    np.testing.assert_array_equal(env.block_pose(), state[2:])
    np.testing.assert_array_equal(env.goal_pose(), [250.0, 260.0, 3.0])
    np.testing.assert_array_equal(info["goal_state"], np.array([250, 260, 3], np.float32))
    obs, *_ = env.step(np.zeros(2, np.float32))  # nothing moves: no leftover velocity
    np.testing.assert_array_equal(obs["state"], np.array(state, np.float32))


@pytest.mark.parametrize(
    "options",
    [{"state": [256.0, 256.0, 256.0, 256.0, 0.0]},  # pusher inside the block
     {"state": [30.0, 30.0, 20.0, 256.0, 0.0]},  # block through the wall
     {"state": [1.0, 30.0, 256.0, 256.0, 0.0]},  # pusher in the wall
     {"state": [30.0, 30.0, 256.0]}, {"goal": [1.0, 2.0]}, {"agent": [1.0, 2.0]}],
)  # fmt: skip
def test_reset_rejects_bad_options(options):
    with pytest.raises(ConfigError):
        PushT().reset(seed=0, options=options)


def test_same_seed_and_actions_give_identical_pixels_and_states():
    runs = []
    for _ in range(2):
        env = PushT()
        obs, info = env.reset(seed=3)
        trace = [obs["pixels"], obs["state"], info["goal_state"]]
        expert = PushTExpert(env.config)
        expert.reset(np.random.default_rng(1))
        for _ in range(40):
            obs, reward, _, _, info = env.step(expert(obs, info))
            trace += [obs["pixels"], obs["state"], np.array([reward, info["angle_error"]])]
        runs.append(trace)
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(runs[0][1], runs[0][-2])  # the state did change
    assert not np.array_equal(PushT().reset(seed=4)[0]["state"], runs[0][1])


def test_obs_contract_and_no_aliasing():
    env = make_push_t(size=32)
    obs, info = env.reset(seed=0)
    expected = env.step(np.zeros(2, np.float32))[0]
    obs, info = env.reset(seed=0)
    assert obs["pixels"].shape == (32, 32, 3) and obs["pixels"].dtype == np.uint8
    assert obs["state"].shape == (5,) and obs["state"].dtype == np.float32
    assert info["goal_state"].shape == (3,) and info["goal_state"].dtype == np.float32
    assert isinstance(info["distance"], float) and isinstance(info["is_success"], bool)
    assert isinstance(info["angle_error"], float)
    for array in (obs["pixels"], obs["state"], info["goal_state"], env.goal_pixels()):
        array[...] = 0
    for array in (env.pusher_position(), env.block_pose(), env.goal_pose()):
        array[...] = 0
    again = env.step(np.zeros(2, np.float32))[0]
    np.testing.assert_array_equal(again["pixels"], expected["pixels"])
    np.testing.assert_array_equal(again["state"], expected["state"])
    assert env.goal_pose().any()
    rng = np.random.default_rng(0)
    for _ in range(30):
        assert env.observation_space.contains(obs)
        obs = env.step(rng.uniform(-1, 1, 2).astype(np.float32))[0]


def test_truncation_at_max_episode_steps():
    env = PushT(PushTConfig(max_episode_steps=3))
    place(env, [40.0, 40.0, 300.0, 300.0, 0.0])
    assert [env.step(np.zeros(2, np.float32))[3] for _ in range(3)] == [False, False, True]


# ----------------------------------------------------------------------------- success


@pytest.mark.parametrize(
    "offset, angle_offset, success",
    [((19.9, 0.0), 0.0, True), ((0.0, -19.9), math.pi / 9 - 1e-3, True),
     ((20.1, 0.0), 0.0, False), ((14.0, 14.3), 0.0, False),
     ((0.0, 0.0), math.pi / 9 + 1e-3, False), ((0.0, 0.0), -math.pi / 9 - 1e-3, False)],
)  # fmt: skip
def test_success_at_20_units_and_pi_over_9(offset, angle_offset, success):
    env = PushT()
    state = [40.0, 40.0, GOAL[0] + offset[0], GOAL[1] + offset[1], GOAL[2] + angle_offset]
    _, info = place(env, state)
    assert info["is_success"] is success
    assert info["distance"] == pytest.approx(np.hypot(*offset) / 512)
    assert info["angle_error"] == pytest.approx(abs(angle_offset))
    _, reward, terminated, _, info = env.step(np.zeros(2, np.float32))
    assert terminated is success and reward == pytest.approx(-np.hypot(*offset) / 512)


def test_angle_error_wraps_around():
    _, info = place(PushT(), [40.0, 40.0, 256.0, 256.0, -math.pi + 0.1], goal=(256, 256, 3.0))
    assert info["angle_error"] == pytest.approx(0.1 + (math.pi - 3.0))
    assert info["is_success"]


# ----------------------------------------------------------------------------- rendering


def block_centroid(env: PushT, pusher: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Sub-pixel (column, row) centroid of the block: the frame against the frame without it."""
    frame = env.render_at(pusher, pose).astype(np.float64)
    empty = env.render_at(pusher, np.array([-1e4, -1e4, 0.0])).astype(np.float64)
    weight = (empty - frame).sum(-1) / (np.subtract(FLOOR_RGB, BLOCK_RGB)).sum()
    rows, cols = np.mgrid[0 : frame.shape[0], 0 : frame.shape[1]] + 0.5
    return np.array([(weight * cols).sum(), (weight * rows).sum()]) / weight.sum()


def test_rendered_block_centroid_tracks_its_position():
    env = PushT()
    rng = np.random.default_rng(0)
    pusher = np.array([30.0, 30.0])
    for _ in range(30):
        pose = np.array([*rng.uniform(130, 380, 2), rng.uniform(-math.pi, math.pi)])
        np.testing.assert_allclose(block_centroid(env, pusher, pose), pose[:2] / 8, atol=0.3)


def test_angles_render_differently_and_the_frame_shows_block_and_pusher():
    env = PushT()
    pusher = np.array([64.0, 448.0])
    frames = [env.render_at(pusher, np.array([256.0, 256.0, a])) for a in (0.0, 0.3, math.pi)]
    assert not np.array_equal(frames[0], frames[1]) and not np.array_equal(frames[0], frames[2])
    obs, _ = place(env, [64.0, 448.0, 256.0, 256.0, 0.0])
    np.testing.assert_array_equal(obs["pixels"], frames[0])
    np.testing.assert_array_equal(frames[0][56, 8], [65, 105, 225])  # pusher centre
    np.testing.assert_array_equal(frames[0][32, 32], [119, 136, 153])  # block centre
    np.testing.assert_array_equal(frames[0][10, 50], [235, 235, 235])  # floor
    assert np.array_equal(env.render(), obs["pixels"])


def test_goal_is_not_drawn_and_goal_pixels_show_the_block_at_the_goal():
    env = PushT()
    a, _ = place(env, [64.0, 448.0, 300.0, 200.0, 0.2], goal=(200.0, 300.0, 1.0))
    b, _ = place(env, [64.0, 448.0, 300.0, 200.0, 0.2], goal=(256.0, 256.0, -1.0))
    assert np.array_equal(a["pixels"], b["pixels"])
    at_goal, _ = place(env, [64.0, 448.0, 256.0, 256.0, -1.0], goal=(256.0, 256.0, -1.0))
    place(env, [64.0, 448.0, 300.0, 200.0, 0.2], goal=(256.0, 256.0, -1.0))
    assert np.array_equal(env.goal_pixels(), at_goal["pixels"])


# ----------------------------------------------------------------------------- expert


def test_expert_moves_the_block_a_lot_in_most_episodes():
    env = PushT()
    expert = PushTExpert(env.config)
    moved = []
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        expert.reset(np.random.default_rng(seed))
        path, previous = 0.0, env.block_pose()
        for _ in range(120):
            action = expert(obs, info)
            assert action.dtype == np.float32 and np.all(np.abs(action) <= 1)
            obs, _, _, _, info = env.step(action)
            path += float(np.hypot(*(env.block_pose()[:2] - previous[:2])))
            previous = env.block_pose()
        moved.append(path)
    assert sum(path > 150 for path in moved) >= 2, moved


def test_expert_needs_reset_and_valid_settings():
    with pytest.raises(RuntimeError, match="reset"):
        PushTExpert(PushTConfig())({"state": np.zeros(5, np.float32)}, {})
    with pytest.raises(ConfigError, match="noise"):
        PushTExpert(PushTConfig(), noise=-1.0)


# ----------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "overrides, field",
    [({"sise": 32}, "sise"), ({"size": 8}, "size"), ({"max_displacement": 0.0}, "max_displacement"),
     ({"sim_hz": 95}, "sim_hz"), ({"control_hz": 0}, "control_hz"), ({"k_p": -1.0}, "k_p"),
     ({"floor_friction": 0.0}, "floor_friction"), ({"success_angle": 4.0}, "success_angle"),
     ({"success_distance": 0.0}, "success_distance"),
     ({"max_episode_steps": 0}, "max_episode_steps")],
)  # fmt: skip
def test_bad_config_is_a_config_error_naming_the_field(overrides, field):
    with pytest.raises(ConfigError, match=field):
        make_push_t(**overrides)


def test_bad_render_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="render_mode"):
        PushT(render_mode="human")
