"""Tests of the cube world (OGBench's cube-single): exact resets, contacts, success, the expert."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from ami.errors import ConfigError, DependencyMissingError

pytest.importorskip("ogbench", reason="the cube world needs OGBench (pip install 'ami[cube]')")

from ami.experience.cube_expert import CubeExpert  # noqa: E402
from ami.worlds import cube_state  # noqa: E402
from ami.worlds.cube import Cube, make_cube  # noqa: E402
from ami.worlds.cube_state import STATE_NAMES, state_slice  # noqa: E402

HALF = 0.02  # the cube's half side, metres; the table is at z = 0
FAST = importlib.util.find_spec("ami.worlds.mujoco_raster") is not None
RENDERER = "fast" if FAST else "mujoco"


def open_world(**overrides) -> Cube:
    try:
        return make_cube(**{"size": 32, "renderer": RENDERER, **overrides})
    except DependencyMissingError as exc:
        pytest.skip(f"no renderer for the cube world here: {exc}")


@pytest.fixture(scope="module")
def world() -> Cube:
    env = open_world()
    yield env
    env.close()


def state_part(state: np.ndarray, name: str) -> np.ndarray:
    return np.asarray(state)[state_slice(name)]


def lowest_corner_z(env: Cube) -> float:
    """The height of the cube's lowest corner, from its pose (independent of MuJoCo contacts)."""
    w, x, y, z = env.cube_quaternion() / np.linalg.norm(env.cube_quaternion())
    rotation_z_row = np.array([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)])
    return float(env.cube_position()[2] - HALF * np.abs(rotation_z_row).sum())


def gripper_geoms(env: Cube) -> list[int]:
    m = env.model
    return [
        g
        for g in range(m.ngeom)
        if m.body(m.geom_bodyid[g]).name.startswith("ur5e/robotiq/")
        and (m.geom_contype[g] or m.geom_conaffinity[g])
    ]


def run(env: Cube, actions) -> list[np.ndarray]:
    return [env.step(np.asarray(a, np.float32))[0]["state"] for a in actions]


# ----------------------------------------------------------------------------- reset


def test_reset_sets_the_physics_state_exactly_and_reads_it_back(world):
    world.reset(seed=1)
    for _ in range(5):
        world.step(np.array([0.5, -0.3, -0.4, 0.2, 0.7], np.float32))
    qpos, qvel = world.physics_state()
    goal = np.array([0.45, 0.1, 0.02])
    obs, info = world.reset(seed=9, options={"qpos": qpos, "qvel": qvel, "goal": goal})
    np.testing.assert_array_equal(world.physics_state()[0], qpos)
    np.testing.assert_array_equal(world.physics_state()[1], qvel)
    np.testing.assert_array_equal(world.target_position(), goal)
    np.testing.assert_array_equal(info["goal_state"], goal.astype(np.float32))
    f32 = qpos.astype(np.float32)
    np.testing.assert_array_equal(state_part(obs["state"], "cube_position"), f32[14:17])
    np.testing.assert_array_equal(state_part(obs["state"], "cube_quaternion"), f32[17:21])
    np.testing.assert_array_equal(state_part(obs["state"], "arm_joint_angles"), f32[:6])
    np.testing.assert_allclose(
        state_part(obs["state"], "effector_position"), world.effector_position(), atol=1e-7
    )
    assert state_part(obs["state"], "gripper_opening")[0] == pytest.approx(qpos[6] / 0.8)
    assert len(STATE_NAMES) == obs["state"].shape[0] == 45
    assert STATE_NAMES[:3] == ("cube_position[0]", "cube_position[1]", "cube_position[2]")


def test_reset_to_a_recorded_state_reproduces_the_recorded_next_states(world):
    obs, _ = world.reset(seed=4)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (40, 5)).astype(np.float32)
    actions[:, 2] = -1.0  # down to the table, where the fingers meet the cube and the floor
    states, physics = [obs["state"]], [world.physics_state()]
    for a in actions:
        states.append(world.step(a)[0]["state"])
        physics.append(world.physics_state())
    start = 15
    qpos, qvel = physics[start]
    world.reset(seed=77, options={"qpos": qpos, "qvel": qvel})
    replayed = run(world, actions[start:])
    np.testing.assert_array_equal(np.stack(replayed), np.stack(states[start + 1 :]))
    # from the float32 state vector a dataset records: the same to float32 rounding at first
    options = world.reset_options(states[start].astype(np.float64), states[-1].astype(np.float64))
    obs, info = world.reset(seed=78, options=options)
    np.testing.assert_allclose(obs["state"], states[start], atol=1e-6)
    np.testing.assert_allclose(info["goal_state"], state_part(states[-1], "cube_position"))
    again = np.stack(run(world, actions[start : start + 10]))
    recorded = np.stack(states[start + 1 : start + 11])
    positions = np.r_[state_slice("cube_position"), state_slice("effector_position")]
    np.testing.assert_allclose(again[:, positions], recorded[:, positions], atol=1e-3)


def test_goal_pixels_show_the_recorded_goal_state(world):
    world.reset(seed=2)
    run(world, [[0.0, 0.0, -1.0, 0.0, 0.0]] * 4)
    goal_obs = world.step(np.zeros(5, np.float32))[0]
    start_obs, _ = world.reset(seed=3)
    world.reset(seed=5, options=world.reset_options(start_obs["state"], goal_obs["state"]))
    np.testing.assert_allclose(world.goal_pixels(), goal_obs["pixels"], atol=2)
    assert np.abs(world.goal_pixels().astype(int) - world.render()).sum() > 100


@pytest.mark.parametrize(
    "options, message",
    [({"qpos": np.zeros(20)}, "qpos"), ({"qvel": np.full(20, np.nan)}, "qvel"),
     ({"goal": [0.4, 0.0]}, "goal"), ({"state": np.zeros(45)}, "unknown"),
     ({"qpos": np.zeros(21)}, "quaternion")],
)  # fmt: skip
def test_reset_rejects_bad_options(world, options, message):
    with pytest.raises(ConfigError, match=message):
        world.reset(seed=0, options=options)


def test_reset_draws_from_the_seed_and_options_do_not_change_the_draws(world):
    a = world.reset(seed=11)[0]["state"]
    b = world.reset(seed=11)[0]["state"]
    c = world.reset(seed=12)[0]["state"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[:3], c[:3])  # the cube is placed anew
    moved, info = world.reset(seed=11, options={"goal": [0.4, 0.0, 0.02]})
    np.testing.assert_array_equal(moved["state"], a)  # the start drawn as without the option
    np.testing.assert_array_equal(info["goal_state"], np.float32([0.4, 0.0, 0.02]))


# ----------------------------------------------------------------------------- physics


def test_an_untouched_cube_rests_on_the_table(world):
    world.reset(seed=0)
    start = world.cube_position()
    run(world, [np.zeros(5)] * 20)
    np.testing.assert_allclose(world.cube_position(), start, atol=1e-3)
    assert world.cube_position()[2] == pytest.approx(HALF, abs=1e-3)


def test_the_cube_sinks_into_neither_table_nor_fingers_under_adversarial_actions(world):
    """Bang-bang at the cube: the fingers driven into it at full speed, gripper slammed.

    MuJoCo's contacts are soft, so the arm's full servo force presses a few millimetres in
    (measured: at most 6 mm into the table, 3.5 mm into a finger); sinking or tunnelling through
    would be the cube's half side, 20 mm. OGBench's softer defaults (`stiff_contacts=False`)
    measured 15 mm and 17 mm.
    """
    import mujoco

    fingers = gripper_geoms(world)
    cube = world.model.geom("object_0").id
    rng = np.random.default_rng(3)
    deepest_table, deepest_finger, touching = 0.0, 0.0, 0
    for episode in range(2):
        world.reset(seed=20 + episode)
        for step in range(200):
            toward = world.cube_position() - world.effector_position()
            toward[2] -= 0.03  # aim below the cube's centre: press it into the table
            if step % 40 < 8:  # now and then a random extreme action instead
                action = rng.choice([-1.0, 1.0], 5)
            else:
                action = np.r_[np.sign(toward), rng.choice([-1.0, 1.0], 2)]
            world.step(action.astype(np.float32))
            deepest_table = min(deepest_table, lowest_corner_z(world))
            fromto = np.zeros(6)
            gaps = [mujoco.mj_geomDistance(world.model, world.data, cube, g, 0.01, fromto)
                    for g in fingers]  # fmt: skip
            deepest_finger = min(deepest_finger, min(gaps))
            touching += min(gaps) < 1e-3
    assert touching > 50  # the fingers really were at the cube
    assert deepest_table > -0.008, deepest_table
    assert deepest_finger > -0.006, deepest_finger


def test_arm_moves_the_effector_in_the_commanded_direction(world):
    world.reset(seed=6)
    for axis in range(3):
        before = world.effector_position()
        action = np.zeros(5, np.float32)
        action[axis] = 1.0 if axis < 2 else -1.0
        run(world, [action] * 3)
        moved = world.effector_position() - before
        assert abs(moved[axis]) > 0.05 and np.sign(moved[axis]) == np.sign(action[axis])


# ----------------------------------------------------------------------------- success


@pytest.mark.parametrize("gap, success", [(0.039, True), (0.041, False)])
def test_success_at_the_stated_radius(world, gap, success):
    world.reset(seed=0)
    goal = world.cube_position() + np.array([0.0, gap, 0.0])
    _, info = world.reset(seed=0, options={"goal": goal})
    assert info["is_success"] is success and info["distance"] == pytest.approx(gap)
    _, reward, terminated, truncated, info = world.step(np.zeros(5, np.float32))
    assert terminated is success and not truncated
    assert reward == pytest.approx(-info["distance"])


def test_task_starts_and_targets_are_ogbench_s():
    env = open_world(task=2, max_episode_steps=3)
    for seed in range(3):
        env.reset(seed=seed)
        np.testing.assert_allclose(env.cube_position(), [0.35, 0.0, 0.02], atol=0.0101)
        np.testing.assert_array_equal(env.target_position(), [0.50, 0.0, 0.02])
    flags = [env.step(np.zeros(5, np.float32))[3] for _ in range(3)]
    assert flags == [False, False, True]


@pytest.mark.parametrize(
    "overrides",
    [{"size": 8}, {"renderer": "opengl"}, {"task": 6}, {"task": True}, {"success_radius": 0.0},
     {"max_episode_steps": 0}, {"target_visible": "no"}, {"stiff_contacts": 1},
     {"no_such_field": 1}],
)  # fmt: skip
def test_bad_config_is_a_config_error(overrides):
    with pytest.raises(ConfigError):
        make_cube(**overrides)


def test_gymnasium_env_checker_passes(world):
    from gymnasium.utils.env_checker import check_env

    check_env(world, skip_render_check=True)


# ----------------------------------------------------------------------------- rendering


@pytest.mark.parametrize("renderer", ["fast", "mujoco"])
def test_frames_follow_the_cube_and_the_visible_target(renderer):
    if renderer == "fast":
        pytest.importorskip("ami.worlds.mujoco_raster")
    shown = open_world(renderer=renderer, size=64, target_visible=True)
    hidden = open_world(renderer=renderer, size=64)
    try:
        options = {"goal": [0.45, 0.2, 0.02]}
        frame = hidden.reset(seed=0, options=options)[0]["pixels"]
        assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8 and frame.std() > 5
        np.testing.assert_array_equal(hidden.render(), frame)
        qpos, qvel = hidden.physics_state()
        qpos[14:16] += (0.0, 0.1)  # the cube 10 cm to the side
        moved = hidden.reset(seed=0, options={**options, "qpos": qpos})[0]["pixels"]
        assert np.abs(moved.astype(int) - frame).sum() > 300
        with_target = shown.reset(seed=0, options=options)[0]["pixels"]
        assert np.any(with_target != frame) and shown.draws_its_goal and not hidden.draws_its_goal
    finally:
        shown.close()
        hidden.close()


def test_mujoco_renderer_without_a_backend_is_a_one_line_dependency_error(monkeypatch):
    import mujoco

    def no_backend(*args, **kwargs):
        raise ImportError("Failed to import OpenGL backend (MUJOCO_GL='egl'): no libEGL")

    monkeypatch.setattr(mujoco, "Renderer", no_backend)
    with pytest.raises(DependencyMissingError, match="renderer='fast'") as caught:
        make_cube(renderer="mujoco", size=32)
    assert "\n" not in str(caught.value)


def test_missing_ogbench_is_a_one_line_dependency_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ogbench.manipspace.envs.cube_env", None)
    cube_state._physics_only_cube_env.cache_clear()
    try:
        with pytest.raises(DependencyMissingError, match=r"pip install 'ami\[cube\]'") as caught:
            make_cube(size=32)
    finally:
        cube_state._physics_only_cube_env.cache_clear()
    assert "\n" not in str(caught.value)


# ----------------------------------------------------------------------------- expert


def test_expert_picks_the_cube_up_and_places_it_at_the_world_s_target(world):
    expert = CubeExpert(world, random_probability=0.0)
    successes, heights = 0, []
    for episode in range(3):
        obs, info = world.reset(seed=40 + episode)
        expert.reset(np.random.default_rng(episode))
        highest = 0.0
        for _ in range(80):
            obs, _, terminated, _, info = world.step(expert(obs, info))
            highest = max(highest, world.cube_position()[2])
            if terminated:
                successes += 1
                break
        heights.append(highest)
    assert successes == 3 and min(heights) > 0.06  # carried through the air, not pushed


def test_expert_is_reproducible_from_its_rng_and_leaves_the_global_rng_alone(world):
    runs = []
    np.random.seed(123)
    expected_global = np.random.random()
    np.random.seed(123)
    for _ in range(2):
        expert = CubeExpert(world, random_probability=0.2)
        obs, info = world.reset(seed=8)
        expert.reset(np.random.default_rng(5))
        actions = []
        for _ in range(30):
            action = expert(obs, info)
            assert action.dtype == np.float32 and np.all(np.abs(action) <= 1)
            actions.append(action)
            obs, _, _, _, info = world.step(action)
        runs.append(np.stack(actions))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert np.random.random() == expected_global


def test_expert_needs_reset_first(world):
    with pytest.raises(RuntimeError, match="reset"):
        CubeExpert(world)({"state": np.zeros(45, np.float32)}, {})


@pytest.mark.slow
def test_cli_collects_expert_episodes(tmp_path):
    from ami.experience.dataset import ExperienceDataset
    from cli_run import ami

    out = tmp_path / "cube.h5"
    result = ami("collect", "--world", "cube", "--policy", "expert", "--episodes", "2",
                 "--steps", "50", "--image-size", "32", "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    with ExperienceDataset.open(out) as data:
        assert data.world == "cube" and data.num_episodes == 2
        assert data.state_dim == 45 and data.action_dim == 5 and data.image_size == 32
        episodes = [data.episode(i) for i in range(2)]
    for episode in episodes:
        assert episode.pixels.shape == (51, 32, 32, 3) and episode.actions.shape == (50, 5)
        effector = episode.states[:, state_slice("effector_position")]
        assert np.linalg.norm(effector[-1] - effector[0]) > 0.05  # the arm went for the cube
