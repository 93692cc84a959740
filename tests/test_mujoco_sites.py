"""Hidden MuJoCo sites (`ami.worlds.mujoco_sites`): gone from the frames, the physics untouched."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

from ami.errors import AmiError, ConfigError
from ami.worlds import from_gymnasium
from ami.worlds.mujoco_sites import hide_sites, mujoco_models

pytest.importorskip("mujoco")
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv  # noqa: E402

# A ball on a slide seen from above, and a big red site (a goal marker) beside it.
SCENE = """
<mujoco>
  <worldbody>
    <light pos="0 0 3"/>
    <camera name="top" pos="0 0 2.5" xyaxes="1 0 0 0 1 0"/>
    <geom type="plane" size="2 2 0.1" rgba="0.8 0.8 0.8 1"/>
    <body name="ball" pos="0 0 0.1">
      <joint name="slide" type="slide" axis="1 0 0"/>
      <geom type="sphere" size="0.1" rgba="0 0 1 1" mass="1"/>
    </body>
    <site name="marker" pos="0.5 0.5 0.1" size="0.3" rgba="1 0 0 1"/>
  </worldbody>
  <actuator><motor joint="slide" gear="5" ctrlrange="-1 1" ctrllimited="true"/></actuator>
</mujoco>
"""


class MarkedSlide(MujocoEnv):
    metadata = {
        "render_modes": ["rgb_array"],
        "render_fps": 250,
    }  # 1 / (timestep 0.002 x frame_skip 2)

    def __init__(self, xml: Path, **kwargs) -> None:
        observation = spaces.Box(-np.inf, np.inf, (2,), np.float64)
        super().__init__(str(xml), 2, observation, camera_name="top", width=64, height=64,
                         **kwargs)  # fmt: skip

    def step(self, action):
        self.do_simulation(action, self.frame_skip)
        return self._get_obs(), 0.0, False, False, {}

    def reset_model(self):
        self.set_state(self.init_qpos, self.init_qvel)
        return self._get_obs()

    def _get_obs(self):
        return np.concatenate([self.data.qpos, self.data.qvel])


class Holder(gymnasium.Env):
    """An env holding its MuJoCo env as an attribute, as gymnasium-robotics' mazes do."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, inner: MarkedSlide) -> None:
        self.inner_env, self.render_mode = inner, "rgb_array"
        self.observation_space, self.action_space = inner.observation_space, inner.action_space

    def reset(self, *, seed=None, options=None):
        return self.inner_env.reset(seed=seed, options=options)

    def step(self, action):
        return self.inner_env.step(action)

    def render(self):
        return self.inner_env.render()


def marked_slide(tmp_path: Path) -> MarkedSlide:
    xml = tmp_path / "slide.xml"
    xml.write_text(SCENE)
    env = MarkedSlide(xml, render_mode="rgb_array")
    env.reset(seed=0)
    try:
        env.render()
    except Exception as exc:  # no OpenGL backend on this machine
        pytest.skip(f"MuJoCo cannot render here: {exc}")
    return env


def red_pixels(frame: np.ndarray) -> int:
    frame = frame.astype(int)
    return int(((frame[..., 0] > 150) & (frame[..., 1] < 80) & (frame[..., 2] < 80)).sum())


def rollout(world, steps: int = 5) -> tuple[list[np.ndarray], list[np.ndarray]]:
    obs, _ = world.reset(seed=0)
    frames, states = [obs["pixels"]], [obs["state"]]
    for _ in range(steps):
        obs, *_ = world.step(np.array([0.8], np.float32))
        frames.append(obs["pixels"])
        states.append(obs["state"])
    return frames, states


@pytest.mark.parametrize("held", [False, True])
def test_a_hidden_site_leaves_the_frames_and_the_physics_is_the_same(tmp_path, held):
    wrap = Holder if held else (lambda env: env)
    shown = from_gymnasium(wrap(marked_slide(tmp_path)), size=32)
    hidden = from_gymnasium(wrap(marked_slide(tmp_path)), size=32, hidden_sites=["marker"])
    shown_frames, shown_states = rollout(shown)
    hidden_frames, hidden_states = rollout(hidden)
    assert all(red_pixels(frame) > 20 for frame in shown_frames)
    assert all(red_pixels(frame) == 0 for frame in hidden_frames)
    np.testing.assert_array_equal(np.stack(shown_states), np.stack(hidden_states))
    assert np.abs(np.diff(np.stack(hidden_states)[:, 0])).sum() > 0  # the ball did move
    for world in (shown, hidden):
        world.close()


def test_a_site_that_is_not_there_or_an_env_without_mujoco_is_a_one_line_error(tmp_path):
    env = marked_slide(tmp_path)
    assert len(mujoco_models(Holder(env))) == 1
    with pytest.raises(ConfigError, match=r"no site 'goal'; its sites: \['marker'\]"):
        hide_sites(env, ["goal"])
    with pytest.raises(ConfigError, match="no MuJoCo model"):
        hide_sites(gymnasium.make("CartPole-v1"), ["target"])
    with pytest.raises(ConfigError, match="list of site names"):
        from_gymnasium(env, size=16, hidden_sites="marker")
    hide_sites(gymnasium.make("CartPole-v1"), [])  # nothing to hide: nothing asked of the env


def test_point_maze_is_framed_without_its_goal_marker():
    from ami.worlds.gym_framing import framing, with_framing

    assert framing("gym:gymnasium_robotics:PointMaze_Large-v3") == {"hidden_sites": ["target"]}
    assert framing("gym:gymnasium_robotics:PointMaze_UMazeDense-v3") == {"hidden_sites": ["target"]}
    assert framing("gym:gymnasium_robotics:AntMaze_Large-v5") == {}
    assert framing("gym:otherpkg:PointMaze_Large-v3") == {}  # another package's env of that name
    assert with_framing("gym:gymnasium_robotics:PointMaze_Large-v3", {"hidden_sites": []}) == {
        "hidden_sites": []
    }  # the user's choice is kept
    pytest.importorskip("gymnasium_robotics")
    try:
        world = from_gymnasium("gym:gymnasium_robotics:PointMaze_UMaze-v3", size=32,
                               **framing("gym:gymnasium_robotics:PointMaze_UMaze-v3"))  # fmt: skip
    except AmiError as exc:
        pytest.skip(f"PointMaze cannot be made here: {exc}")
    obs, _ = world.reset(seed=0)
    assert red_pixels(obs["pixels"]) == 0
    world.close()
