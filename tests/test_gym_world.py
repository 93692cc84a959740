"""Tests of `gym:` world ids and the Gymnasium adapter on fake envs (and on Reacher-v5)."""

from __future__ import annotations

import sys

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

from ami.errors import AmiError, ConfigError, DependencyMissingError, ShapeError, UnknownWorldError
from ami.worlds import from_gymnasium, is_gym_world, make, names, parse_gym_id

LOW, HIGH = np.array([0.0, -2.0]), np.array([10.0, 2.0])


class FakeDictEnv(gymnasium.Env):
    """Dict observations with a uint8 camera entry, float64 Box actions, a 96 px render.

    The observation encodes the step count t: achieved_goal = [t, t + 1], desired_goal = [5, 6],
    observation = [t, 2t, 3t], camera filled with 10 t. Success comes as info["success"] from
    t = 3 on; info["custom"] is a raw key that must survive.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode="rgb_array", width=96, height=96):
        self.render_mode, self.width, self.height = render_mode, width, height
        self.action_space = spaces.Box(LOW, HIGH, dtype=np.float64)
        self.observation_space = spaces.Dict(
            {
                "observation": spaces.Box(-100, 100, (3,), np.float64),
                "camera": spaces.Box(0, 255, (20, 20, 3), np.uint8),
                "achieved_goal": spaces.Box(-100, 100, (2,), np.float64),
                "desired_goal": spaces.Box(-100, 100, (2,), np.float64),
            }
        )
        self.variation_space = "the fake's variations"
        self.t, self.received, self.options = 0, [], []

    def _obs(self):
        t = float(self.t)
        return {
            "observation": np.array([t, 2 * t, 3 * t]),
            "camera": np.full((20, 20, 3), 10 * self.t, np.uint8),
            "achieved_goal": np.array([t, t + 1]),
            "desired_goal": np.array([5.0, 6.0]),
        }

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.options.append(options)
        return self._obs(), {"custom": "kept"}

    def step(self, action):
        self.received.append(np.array(action))
        self.t += 1
        return self._obs(), 0.0, False, False, {"success": self.t >= 3, "custom": "kept"}

    def render(self):
        frame = np.zeros((self.height, self.width, 3), np.uint8)
        frame[: self.height // 2] = 200  # top half bright
        return frame


class TerminatingEnv(FakeDictEnv):
    """Says nothing about success in info; terminates at t = 2 (as swm's envs do on success)."""

    def step(self, action):
        obs, reward, _, truncated, _ = super().step(action)
        return obs, reward, self.t >= 2, truncated, {}


class NoRenderEnv(gymnasium.Env):
    """A Box observation and no rendering at all."""

    metadata = {"render_modes": []}

    def __init__(self, **_):
        self.render_mode = None
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)


class UnboundedEnv(FakeDictEnv):
    """Actions without bounds."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.action_space = spaces.Box(-np.inf, np.inf, (2,), np.float64)


class DiscreteActionEnv(FakeDictEnv):
    """Discrete actions."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.action_space = spaces.Discrete(4)


class StatefulEnv(FakeDictEnv):
    """Exposes get_state / set_state (the step count) and _get_obs."""

    def get_state(self):
        return np.array([self.t])

    def set_state(self, state):
        self.t = int(state[0])

    def _get_obs(self):
        return self._obs()


FAKES = {
    "AmiTest/FakeDict-v0": FakeDictEnv,
    "AmiTest/Terminating-v0": TerminatingEnv,
    "AmiTest/NoRender-v0": NoRenderEnv,
    "AmiTest/Unbounded-v0": UnboundedEnv,
    "AmiTest/DiscreteAction-v0": DiscreteActionEnv,
    "AmiTest/Stateful-v0": StatefulEnv,
}
for _id, _cls in FAKES.items():
    if _id not in gymnasium.registry:
        gymnasium.register(id=_id, entry_point=_cls, max_episode_steps=7)


# ----------------------------------------------------------------------------- ids and errors


def test_gym_ids_are_parsed_and_not_listed_as_built_in_worlds():
    assert is_gym_world("gym:Pendulum-v1") and not is_gym_world("two_room")
    assert parse_gym_id("gym:Pendulum-v1") == parse_gym_id("Pendulum-v1")
    parsed = parse_gym_id("gym:gymnasium_robotics:PointMaze_UMaze-v3")
    assert (parsed.module, parsed.env_id) == ("gymnasium_robotics", "PointMaze_UMaze-v3")
    assert parsed.world == "gym:gymnasium_robotics:PointMaze_UMaze-v3"
    assert "two_room" in names() and not any(is_gym_world(n) for n in names())


def test_make_builds_a_gym_world_with_make_kwargs_and_size():
    env = make("gym:AmiTest/FakeDict-v0", size=32, width=48, height=40)
    obs, info = env.reset(seed=0)
    assert env.env.unwrapped.width == 48 and env.env.unwrapped.height == 40  # the user's wins
    assert obs["pixels"].shape == (32, 32, 3) and info["custom"] == "kept"
    assert env.env_id == "AmiTest/FakeDict-v0"


def test_width_and_height_default_to_the_pixel_size_where_the_env_takes_them():
    env = make("gym:AmiTest/FakeDict-v0", size=24)
    env.reset(seed=0)
    assert (env.env.unwrapped.width, env.env.unwrapped.height) == (24, 24)
    assert env.env.render().shape == (24, 24, 3)  # rendered at the size, not shrunk
    assert from_gymnasium(FakeDictEnv(), size=24).env.render().shape == (96, 96, 3)


def test_a_96_px_render_is_resized_to_the_pixel_size():
    env = from_gymnasium(FakeDictEnv(), size=16)
    obs, _ = env.reset(seed=0)
    assert obs["pixels"].shape == (16, 16, 3)
    np.testing.assert_array_equal(obs["pixels"][:7], 200)
    np.testing.assert_array_equal(obs["pixels"][9:], 0)


MODULE_THAT_REGISTERS = """
import gymnasium
import numpy as np


class Blank(gymnasium.Env):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, render_mode=None):
        self.render_mode = render_mode
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.observation_space = gymnasium.spaces.Box(-1.0, 1.0, (5,), np.float32)


gymnasium.register(id="AmiTestMod/Blank-v0", entry_point=Blank)
"""


def test_module_qualified_id_imports_the_module_that_registers_the_env(tmp_path, monkeypatch):
    (tmp_path / "ami_fake_envs.py").write_text(MODULE_THAT_REGISTERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UnknownWorldError, match="gym:MODULE:ENV_ID"):
        make("gym:AmiTestMod/Blank-v0", size=8)  # not registered before the import
    env = make("gym:ami_fake_envs:AmiTestMod/Blank-v0", size=8)
    assert "ami_fake_envs" in sys.modules
    assert env.env_id == "AmiTestMod/Blank-v0" and env.state_names == [
        f"obs[{i}]" for i in range(5)
    ]


@pytest.mark.parametrize(
    "world, kwargs, error, words",
    [
        ("gym:AmiTest/NoSuch-v0", {}, UnknownWorldError, "NoSuch"),
        ("gym:PointMaze_UMaze-v3", {}, UnknownWorldError, "gym:gymnasium_robotics:PointMaze"),
        ("gym:a:b:c", {}, UnknownWorldError, "gym:MODULE:ENV_ID"),
        ("gym:ami_no_such_module:X-v0", {}, DependencyMissingError, "pip install"),
        ("gym:AmiTest/NoRender-v0", {}, ConfigError, "rgb_array"),
        ("gym:AmiTest/Unbounded-v0", {}, ConfigError, "infinite bounds"),
        ("gym:AmiTest/DiscreteAction-v0", {}, ConfigError, "must be a Box"),
        ("gym:AmiTest/FakeDict-v0", {"colour": 3}, ConfigError, "colour"),
        ("gym:AmiTest/FakeDict-v0", {"pixels_key": "observation"}, ConfigError, "not a uint8"),
    ],
)
@pytest.mark.filterwarnings("ignore:.*render_mode='rgb_array' that is not in the possible")
def test_each_gym_error_is_one_line(world, kwargs, error, words):
    with pytest.raises(error, match=words) as caught:
        make(world, size=8, **kwargs)
    assert isinstance(caught.value, AmiError) and "\n" not in str(caught.value)


# ----------------------------------------------------------------------------- observations


def test_dict_observation_state_in_the_spaces_order_with_names():
    env = make("gym:AmiTest/FakeDict-v0", size=8)
    assert env.state_names == [
        "achieved_goal[0]", "achieved_goal[1]",
        "desired_goal[0]", "desired_goal[1]",
        "observation[0]", "observation[1]", "observation[2]",
    ]  # fmt: skip
    env.reset(seed=0)
    obs = env.step(np.zeros(2, np.float32))[0]  # t = 1
    np.testing.assert_array_equal(obs["state"], np.array([1, 2, 5, 6, 1, 2, 3], np.float32))
    assert obs["state"].dtype == np.float32 and env.observation_space.contains(obs)


def test_image_entry_gives_the_pixels_when_the_env_does_not_render():
    env = make("gym:AmiTest/FakeDict-v0", size=10, render_mode=None)
    env.reset(seed=0)
    env.step(np.zeros(2, np.float32))
    obs = env.step(np.zeros(2, np.float32))[0]  # t = 2: camera filled with 20
    np.testing.assert_array_equal(obs["pixels"], np.full((10, 10, 3), 20, np.uint8))
    assert "camera[0]" not in env.state_names and len(env.state_names) == 7


def test_pixels_key_takes_the_entry_even_when_the_env_renders():
    env = make("gym:AmiTest/FakeDict-v0", size=10, pixels_key="camera")
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs["pixels"], 0)  # the camera at t = 0, not the render


def test_reset_options_are_passed_through():
    env = make("gym:AmiTest/FakeDict-v0", size=8)
    env.reset(seed=0, options={"goal": [1, 2]})
    assert env.env.unwrapped.options[-1] == {"goal": [1, 2]}


# ----------------------------------------------------------------------------- actions


def test_float64_actions_are_scaled_and_round_trip():
    env = make("gym:AmiTest/FakeDict-v0", size=8)
    env.reset(seed=0)
    for action in ([-1, -1], [1, 1], [0, 0.5], [3, -7]):
        env.step(np.array(action, np.float32))
    received = env.env.unwrapped.received
    np.testing.assert_allclose(received, [[0, -2], [10, 2], [5, 1], [10, -2]], atol=1e-6)
    assert all(a.dtype == np.float64 for a in received)
    unit = np.array([0.25, -0.6], np.float32)
    np.testing.assert_allclose(env.unit_action(env.env_action(unit)), unit, atol=1e-6)
    np.testing.assert_allclose(env.unit_action(np.array([7.5, -1.0])), [0.5, -0.5], atol=1e-6)
    assert env.action_space == spaces.Box(-1.0, 1.0, (2,), np.float32)


# ----------------------------------------------------------------------------- success, limits


def test_success_from_the_success_key_keeping_the_raw_keys():
    env = make("gym:AmiTest/FakeDict-v0", size=8)
    _, info = env.reset(seed=0)
    assert info["is_success"] is False and info["custom"] == "kept"
    infos = [env.step(np.zeros(2, np.float32))[4] for _ in range(3)]
    assert [i["is_success"] for i in infos] == [False, False, True]
    assert infos[-1]["success"] is True and infos[-1]["custom"] == "kept"


def test_success_from_terminated_only_where_declared():
    declared = make("gym:AmiTest/Terminating-v0", size=8, success_from_terminated=True)
    plain = make("gym:AmiTest/Terminating-v0", size=8)
    assert declared.success_from_terminated and not plain.success_from_terminated
    for env in (declared, plain):
        env.reset(seed=0)
        flags = [env.step(np.zeros(2, np.float32))[4]["is_success"] for _ in range(2)]
        assert flags == ([False, True] if env is declared else [False, False])


def test_swm_family_reads_terminated_as_success():
    from ami.worlds.gym_success import terminated_means_success

    assert terminated_means_success("swm/TwoRoom-v1")
    assert not terminated_means_success("Reacher-v5") and not terminated_means_success(None)


def test_max_episode_steps_is_the_time_limit():
    assert make("gym:AmiTest/FakeDict-v0", size=8).max_episode_steps == 7
    assert make("gym:AmiTest/FakeDict-v0", size=8, max_episode_steps=20).max_episode_steps == 20
    assert from_gymnasium(FakeDictEnv(), size=8).max_episode_steps is None


# ----------------------------------------------------------------------------- unwrapped, state


def test_unwrapped_keeps_the_adapter_and_falls_through_to_the_wrapped_env():
    env = make("gym:AmiTest/FakeDict-v0", size=8)
    assert env.unwrapped is env
    assert env.unwrapped.variation_space == "the fake's variations"
    assert getattr(env.unwrapped, "draws_its_goal", False) is False
    with pytest.raises(AttributeError, match="no_such_attribute"):
        _ = env.unwrapped.no_such_attribute


def test_sim_state_is_none_where_unknown_and_setting_it_is_an_error():
    env = make("gym:AmiTest/FakeDict-v0", size=8)
    env.reset(seed=0)
    assert env.sim_state() is None
    with pytest.raises(ConfigError, match="replaying"):
        env.set_sim_state(np.zeros(3))


def test_get_set_state_envs_round_trip():
    env = make("gym:AmiTest/Stateful-v0", size=8)
    env.reset(seed=0)
    for _ in range(4):
        env.step(np.zeros(2, np.float32))
    state = env.sim_state()
    np.testing.assert_array_equal(state, [4.0])
    env.reset(seed=1)
    obs = env.set_sim_state(state)
    np.testing.assert_array_equal(obs["state"], np.array([4, 5, 5, 6, 4, 8, 12], np.float32))
    with pytest.raises(ShapeError, match="1 values"):
        env.set_sim_state(np.zeros(2))


def _reacher(size):
    pytest.importorskip("imageio")
    try:
        return make("gym:Reacher-v5", size=size)
    except AmiError as exc:
        pytest.skip(f"Reacher-v5 cannot be made here: {exc}")


def test_mujoco_sim_state_round_trip_on_reacher():
    env = _reacher(32)
    assert (env.env.unwrapped.width, env.env.unwrapped.height) == (32, 32)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        env.step(rng.uniform(-1, 1, 2).astype(np.float32))
    state = env.sim_state()
    assert state is not None and state.shape == (4 + 4,)  # Reacher: nq = nv = 4
    actions = rng.uniform(-1, 1, (3, 2)).astype(np.float32)
    recorded = [env.step(a)[0] for a in actions]
    first, _ = env.reset(seed=1)
    assert not np.allclose(env.sim_state(), state)
    env.set_sim_state(state)
    np.testing.assert_allclose(env.sim_state(), state)
    replayed = [env.step(a)[0] for a in actions]
    for a, b in zip(recorded, replayed, strict=True):
        np.testing.assert_allclose(a["state"], b["state"], atol=1e-5)
        assert np.abs(a["pixels"].astype(int) - b["pixels"].astype(int)).max() <= 2
    env.close()


def test_gym_names_cannot_be_registered_and_built_envs_take_no_make_kwargs():
    from ami.worlds import register

    with pytest.raises(ConfigError, match="reserved"):
        register("gym:Mine-v0", lambda **_: FakeDictEnv())
    with pytest.raises(ConfigError, match="make_kwargs"):
        from_gymnasium(FakeDictEnv(), size=8, make_kwargs={"width": 8})


def test_known_envs_are_framed_for_small_frames_unless_the_user_sets_the_camera():
    from ami.world_recipe import recipe_for_world
    from ami.worlds.gym_framing import framing, with_framing

    camera = framing("gym:Reacher-v5")["default_camera_config"]
    assert camera["elevation"] == -90.0  # straight down on the arena
    assert framing("gym:Reacher-v4") == framing("gym:Reacher-v5")
    assert framing("gym:somepkg:Reacher-v5") == {}  # another package's env of that name
    assert framing("reacher") == {} and framing("gym:Pendulum-v1") == {}
    mine = {"default_camera_config": {"distance": 2.0}}
    assert with_framing("gym:Reacher-v5", mine) == mine
    framing("gym:Reacher-v5")["default_camera_config"]["distance"] = 9.0  # a copy each time
    assert framing("gym:Reacher-v5")["default_camera_config"]["distance"] == 0.6
    pytest.importorskip("imageio")
    try:
        recipe = recipe_for_world("gym:Reacher-v5", {"max_episode_steps": 100})
    except AmiError as exc:
        pytest.skip(f"Reacher-v5 cannot be made here: {exc}")
    assert recipe.collect.world_options == {
        "max_episode_steps": 100,
        "default_camera_config": camera,
    }


def test_the_framed_reacher_shows_its_arm_larger():
    default = _reacher(64)
    framed = make("gym:Reacher-v5", size=64, **framing_of_reacher())
    pixels = []
    for env in (default, framed):
        obs, _ = env.reset(seed=0)
        frame = obs["pixels"].astype(int)
        # the arm is drawn blue-green against grey: pixels whose blue exceeds red clearly
        pixels.append(int(((frame[..., 2] - frame[..., 0]) > 30).sum()))
        env.close()
    assert pixels[1] > 3 * pixels[0], pixels


def framing_of_reacher():
    from ami.worlds.gym_framing import framing

    return framing("gym:Reacher-v5")
