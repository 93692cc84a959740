"""Tests of the MuJoCo Reacher: exact resets, physics, success, both renderers, the expert."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ami.errors import ConfigError, DependencyMissingError
from ami.experience.reacher_expert import ReacherExpert
from ami.worlds.reacher import ELBOW_LIMIT, Reacher, ReacherConfig, make_reacher
from ami.worlds.reacher_render import FINGERTIP_RGB

L1, L2 = 0.1, 0.11  # link lengths as the module docstring states them
HALF = 0.25  # the rendered arena is [-0.25, 0.25]^2


def fingertip_of(q1: float, q2: float) -> np.ndarray:
    """Planar two-link forward kinematics, written independently of MuJoCo."""
    return np.array(
        [L1 * math.cos(q1) + L2 * math.cos(q1 + q2), L1 * math.sin(q1) + L2 * math.sin(q1 + q2)]
    )


def run(env: Reacher, action, steps: int) -> list[np.ndarray]:
    return [env.step(np.asarray(action, np.float32))[0]["state"] for _ in range(steps)]


# ----------------------------------------------------------------------------- reset and physics


def test_reset_sets_the_state_exactly_and_reads_it_back():
    env = make_reacher()
    options = {"qpos": [0.7, -1.3], "qvel": [0.4, -2.0], "goal": [-2.9, 2.1]}
    obs, info = env.reset(seed=3, options=options)
    np.testing.assert_array_equal(env.joint_angles(), [0.7, -1.3])
    np.testing.assert_array_equal(env.joint_velocities(), [0.4, -2.0])
    np.testing.assert_array_equal(env.goal_configuration(), [-2.9, 2.1])
    np.testing.assert_array_equal(obs["state"], np.float32([0.7, -1.3, 0.4, -2.0]))
    np.testing.assert_array_equal(info["goal_state"], np.float32([-2.9, 2.1]))
    np.testing.assert_allclose(env.fingertip_position(), fingertip_of(0.7, -1.3), atol=1e-12)
    np.testing.assert_allclose(env.target_position(), fingertip_of(-2.9, 2.1), atol=1e-12)


@pytest.mark.parametrize(
    "options, message",
    [({"qpos": [0.0, ELBOW_LIMIT + 0.01]}, "qpos"), ({"goal": [0.0, -3.0]}, "goal"),
     ({"qvel": [0.0, np.nan]}, "qvel"), ({"qpos": [1.0, 2.0, 3.0]}, "qpos"),
     ({"agent": [0.1, 0.1]}, "unknown")],
)  # fmt: skip
def test_reset_rejects_bad_options(options, message):
    with pytest.raises(ConfigError, match=message):
        make_reacher().reset(seed=0, options=options)


def test_zero_torque_from_rest_stays_at_rest():
    env = make_reacher()
    env.reset(seed=0, options={"qpos": [1.0, -0.5], "qvel": [0.0, 0.0]})
    states = run(env, [0.0, 0.0], 50)
    np.testing.assert_array_equal(states[-1], np.float32([1.0, -0.5, 0.0, 0.0]))


def test_motion_with_zero_torque_decays_by_damping():
    env = make_reacher()
    env.reset(seed=0, options={"qpos": [0.0, 0.0], "qvel": [3.0, 0.0]})
    speeds = [abs(s[2]) for s in run(env, [0.0, 0.0], 100)]
    assert all(b < a for a, b in zip(speeds, speeds[1:], strict=False))
    assert speeds[-1] < 0.01 * 3.0


@pytest.mark.parametrize("joint", [0, 1])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_constant_torque_turns_the_joint_in_its_sign_direction(joint, sign):
    env = make_reacher()
    env.reset(seed=0, options={"qpos": [0.0, 0.0], "qvel": [0.0, 0.0]})
    action = np.zeros(2)
    action[joint] = sign
    states = run(env, action, 10)
    assert sign * states[-1][joint] > 0.2 and sign * states[-1][joint + 2] > 1.0


def test_elbow_limit_is_respected_when_pushed_and_when_hit_at_speed():
    env = make_reacher(max_episode_steps=1000)
    env.reset(seed=0, options={"qpos": [0.0, 2.0], "qvel": [0.0, 0.0]})
    pushed = [s[1] for s in run(env, [0.0, 1.0], 300)]  # MuJoCo limits are soft: small overshoot
    assert ELBOW_LIMIT - 0.05 < max(pushed) <= ELBOW_LIMIT + 0.035
    assert abs(pushed[-1] - ELBOW_LIMIT) <= 0.01  # held at the limit
    env.reset(seed=0, options={"qpos": [0.0, -2.0], "qvel": [0.0, -6.0]})
    hit = min(s[1] for s in run(env, [0.0, -1.0], 300))
    assert -ELBOW_LIMIT - 0.06 <= hit < -ELBOW_LIMIT + 0.05


def test_shoulder_is_unlimited_and_kept_wrapped():
    env = make_reacher(max_episode_steps=1000)
    env.reset(seed=0, options={"qpos": [3.0, 0.0], "qvel": [5.0, 0.0]})
    q1 = np.array([s[0] for s in run(env, [1.0, 0.0], 100)])
    assert (q1 >= -np.pi).all() and (q1 < np.pi).all()
    assert (np.diff(q1) < -6).sum() >= 2  # it went round at least twice


# ----------------------------------------------------------------------------- success


@pytest.mark.parametrize("offset, success", [(0.099, True), (0.101, False)])
def test_joint_success_at_the_stated_tolerance(offset, success):
    env = make_reacher()
    _, info = env.reset(seed=0, options={"qpos": [0.5, 1.0], "goal": [0.5 + offset, 1.0 - offset]})
    assert info["is_success"] is success
    assert info["distance"] == pytest.approx(offset * math.sqrt(2))
    _, reward, terminated, _, info = env.step(np.zeros(2, np.float32))
    assert terminated is success and reward == pytest.approx(-offset * math.sqrt(2))


def test_joint_success_wraps_the_shoulder_angle():
    env = make_reacher()
    _, info = env.reset(seed=0, options={"qpos": [3.1, 0.0], "goal": [-3.1, 0.0]})
    assert info["is_success"] and info["distance"] == pytest.approx(2 * math.pi - 6.2)


@pytest.mark.parametrize("gap, success", [(0.019, True), (0.021, False)])
def test_fingertip_success_at_the_target_radius(gap, success):
    q2 = 0.8
    reach = float(np.linalg.norm(fingertip_of(0.0, q2)))  # fingertip distance to the shoulder
    turn = 2 * math.asin(gap / (2 * reach))  # the shoulder turn that moves the fingertip by gap
    env = make_reacher()
    _, info = env.reset(seed=0, options={"qpos": [0.0, q2], "goal": [turn, q2]})
    assert np.linalg.norm(env.fingertip_position() - env.target_position()) == pytest.approx(gap)
    assert info["fingertip_success"] is success


# ----------------------------------------------------------------------------- numpy rendering


def test_rendering_is_deterministic_and_follows_the_state():
    a, b = make_reacher(), make_reacher()
    options = {"qpos": [0.3, 1.2], "goal": [-1.0, 0.5]}
    a.reset(seed=0, options=options)
    b.reset(seed=9, options=options)
    np.testing.assert_array_equal(a.render(), b.render())
    b.reset(seed=9, options={**options, "qpos": [0.32, 1.2]})
    assert not np.array_equal(a.render(), b.render())
    b.reset(seed=9, options={**options, "goal": [-1.02, 0.5]})
    assert not np.array_equal(a.render(), b.render())  # the target moved


@pytest.mark.parametrize("q", [(0.0, 0.0), (0.9, -1.7), (-2.4, 2.2), (2.0, 0.31)])
def test_rendered_fingertip_tracks_its_true_position(q):
    env = make_reacher(size=64)
    obs, _ = env.reset(seed=0, options={"qpos": q, "goal": [q[0] + np.pi, 0.0]})
    pixels = obs["pixels"].astype(np.float64)
    close = np.linalg.norm(pixels - np.asarray(FINGERTIP_RGB), axis=-1) < 40
    rows, cols = np.nonzero(close)
    assert 4 <= len(rows) <= 40  # one small disc, not a smear
    x, y = fingertip_of(*q)
    expected_col, expected_row = (x + HALF) / (2 * HALF) * 64, (HALF - y) / (2 * HALF) * 64
    assert abs(cols.mean() + 0.5 - expected_col) < 0.6
    assert abs(rows.mean() + 0.5 - expected_row) < 0.6


def test_goal_pixels_show_the_arm_at_the_goal():
    env = make_reacher()
    env.reset(seed=0, options={"qpos": [0.3, 1.2], "goal": [-1.0, 0.5]})
    goal_view = env.goal_pixels()
    env.reset(seed=5, options={"qpos": [-1.0, 0.5], "goal": [-1.0, 0.5]})
    np.testing.assert_array_equal(goal_view, env.render())


# ----------------------------------------------------------------------------- mujoco rendering


def mujoco_reacher() -> Reacher:
    try:
        return make_reacher(renderer="mujoco", size=32)
    except DependencyMissingError as exc:
        pytest.skip(f"no OpenGL backend for MuJoCo here: {exc}")


@pytest.mark.parametrize("renderer", ["numpy", "mujoco"])
def test_a_hidden_target_changes_only_the_target_disc(renderer):
    try:
        shown = make_reacher(renderer=renderer)
        hidden = make_reacher(renderer=renderer, target_visible=False)
    except DependencyMissingError:
        pytest.skip("no OpenGL backend for MuJoCo's renderer on this machine")
    frame, _ = shown.reset(seed=3)
    bare, info = hidden.reset(seed=3)
    changed = np.argwhere(np.any(frame["pixels"] != bare["pixels"], axis=-1))
    column, row = (shown.target_position() + 0.25) * 128  # HALF_EXTENT 0.25 m at 64 px
    row = 64 - row
    assert len(changed) > 10  # the disc (radius 0.02 m = 2.6 px) was drawn, and is gone
    assert np.all(np.hypot(changed[:, 1] + 0.5 - column, changed[:, 0] + 0.5 - row) < 4.5)
    assert info["goal_state"].tolist() == shown.reset(seed=3)[1]["goal_state"].tolist()
    goal_changed = np.any(shown.goal_pixels() != hidden.goal_pixels(), axis=-1)
    assert 10 < goal_changed.sum() < 40  # the goal image loses the disc too, and only it


def test_mujoco_renderer_draws_frames_that_follow_the_state():
    env = mujoco_reacher()
    try:
        obs, _ = env.reset(seed=0, options={"qpos": [0.3, 1.2], "goal": [-1.0, 0.5]})
        assert obs["pixels"].shape == (32, 32, 3) and obs["pixels"].dtype == np.uint8
        assert obs["pixels"].std() > 5
        np.testing.assert_array_equal(env.render(), obs["pixels"])
        moved, _ = env.reset(seed=0, options={"qpos": [2.0, -1.2], "goal": [-1.0, 0.5]})
        assert np.abs(moved["pixels"].astype(int) - obs["pixels"]).sum() > 500
        assert not np.array_equal(env.goal_pixels(), obs["pixels"])
    finally:
        env.close()


def test_mujoco_renderer_without_a_backend_is_a_one_line_dependency_error(monkeypatch):
    import mujoco  # imported after ami, which chooses MUJOCO_GL before the first import

    def no_backend(*args, **kwargs):  # what MuJoCo raises when its GL library did not load
        raise ImportError("Failed to import OpenGL backend (MUJOCO_GL='egl'): no libEGL")

    monkeypatch.setattr(mujoco, "Renderer", no_backend)
    with pytest.raises(DependencyMissingError, match="apt-get install") as caught:
        make_reacher(renderer="mujoco")
    assert "\n" not in str(caught.value)
    assert make_reacher(renderer="numpy").reset(seed=0)[0]["pixels"].shape == (64, 64, 3)


# ----------------------------------------------------------------------------- contract


def test_observation_contract_and_no_aliasing():
    env = make_reacher(size=32)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert obs["state"].dtype == np.float32 and obs["state"].shape == (4,)
    assert set(info) == {"goal_state", "distance", "is_success", "fingertip_success"}
    before = env.joint_angles()
    obs["pixels"][:] = 0
    obs["state"][:] = 9
    env.joint_angles()[:] = 9
    env.target_position()[:] = 9
    info["goal_state"][:] = 9
    np.testing.assert_array_equal(env.joint_angles(), before)
    assert env.render().std() > 0 and np.abs(env.target_position()).max() < 1
    assert env.render() is not env.render()


def test_deterministic_under_seed_and_truncated_at_max_steps():
    actions = np.random.default_rng(0).uniform(-1, 1, (20, 2)).astype(np.float32)
    runs = []
    for _ in range(2):
        env = make_reacher(size=16, max_episode_steps=20)
        obs, _ = env.reset(seed=11)
        frames, flags = [obs["pixels"]], []
        for action in actions:
            obs, _, _, truncated, _ = env.step(action)
            frames.append(obs["pixels"])
            flags.append(truncated)
        runs.append((np.stack(frames), env.joint_angles(), flags))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][2] == [False] * 19 + [True]
    other = make_reacher()
    other.reset(seed=12)
    assert not np.array_equal(other.joint_angles(), make_reacher().reset(seed=11)[0]["state"][:2])


@pytest.mark.parametrize(
    "overrides",
    [{"size": 8}, {"renderer": "opengl"}, {"frame_skip": 0}, {"joint_tolerance": 0.0},
     {"target_radius": -0.01}, {"max_episode_steps": 0}, {"no_such_field": 1},
     {"target_visible": "no"}],
)  # fmt: skip
def test_bad_config_is_a_config_error(overrides):
    with pytest.raises(ConfigError):
        make_reacher(**overrides)


def test_bad_render_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="render_mode"):
        Reacher(ReacherConfig(), render_mode="human")


# ----------------------------------------------------------------------------- expert


def test_expert_drives_the_joints_to_its_targets():
    env = make_reacher(size=16, max_episode_steps=1000)
    expert = ReacherExpert(noise=0.2, patience=1000)
    expert.reset(np.random.default_rng(0))
    obs, info = env.reset(seed=0)
    targets, reached = [], 0
    for _ in range(400):
        action = expert(obs, info)
        assert action.dtype == np.float32 and np.all(np.abs(action) <= 1)
        if not targets or not np.array_equal(expert.target, targets[-1]):
            targets.append(expert.target.copy())
        obs, _, _, _, info = env.step(action)
    # with patience 1000 a target is replaced only when reached (both joints within 0.1 rad)
    reached = len(targets) - 1
    assert reached >= 5


def test_expert_needs_reset_first():
    with pytest.raises(RuntimeError, match="reset"):
        ReacherExpert()({"state": np.zeros(4, np.float32)}, {})
