"""Reacher: a two-link planar arm simulated by MuJoCo, reaching a goal joint configuration.

Seen from above: the shoulder at the origin, link lengths 0.1 m and 0.11 m, hinge joints about
z, no gravity and no contacts. The shoulder is unlimited (its angle is kept wrapped to [-pi, pi)),
the elbow is limited to +-`ELBOW_LIMIT` rad (about 160 degrees) so the links never overlap. Each
joint has damping 0.025 N m s/rad and armature 0.005 kg m^2 and is driven by a motor of at most
0.125 N m: top speed ~5 rad/s, reached with a time constant of ~0.2 s. One env step is
`frame_skip` MuJoCo steps of 0.01 s with the action held.

The goal is a joint configuration; success is every joint within `joint_tolerance` of it after
wrapping the difference to [-pi, pi). The target drawn in every frame is the fingertip position of
the goal configuration; the fingertip inside it is reported as `info["fingertip_success"]`.

MuJoCo chooses its OpenGL backend from `MUJOCO_GL` when `mujoco` is first imported, so this
module sets it before its own `import mujoco`, and only when nobody chose: on Linux without a
display it picks "egl" if libEGL loads, else "osmesa" if libOSMesa does (a backend whose library
is missing would make `import mujoco` itself fail). If `mujoco` was imported earlier, or the
choice cannot render, `renderer="mujoco"` raises `DependencyMissingError`; "numpy" always works.
"""

from __future__ import annotations

import ctypes.util
import os
import sys


def _choose_headless_gl_backend() -> None:
    if "MUJOCO_GL" in os.environ or "mujoco" in sys.modules or sys.platform != "linux":
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return  # MuJoCo's default (glfw) works with a display
    for backend, library in (("egl", "EGL"), ("osmesa", "OSMesa")):
        if ctypes.util.find_library(library):
            os.environ["MUJOCO_GL"] = backend
            return


_choose_headless_gl_backend()

from dataclasses import dataclass  # noqa: E402
from typing import Any, ClassVar  # noqa: E402

import gymnasium  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402
from gymnasium import spaces  # noqa: E402

from ami.config import replace_config, require_choice, require_in_range  # noqa: E402
from ami.errors import ConfigError  # noqa: E402
from ami.worlds.reacher_render import TopDownPainter, open_mujoco_renderer  # noqa: E402

__all__ = ["ELBOW_LIMIT", "LINK_LENGTHS", "Reacher", "ReacherConfig", "make_reacher", "wrap_angle"]

LINK_LENGTHS = (0.1, 0.11)
ELBOW_LIMIT = 2.8  # rad
HALF_EXTENT = 0.25  # the rendered arena is [-0.25, 0.25]^2 m
LINK_RADIUS, JOINT_RADIUS = 0.01, 0.012

_MJCF = """
<mujoco model="ami_reacher">
  <compiler angle="radian"/>
  <option timestep="0.01" gravity="0 0 0" integrator="implicitfast">
    <flag contact="disable"/>
  </option>
  <visual>
    <global offwidth="{size}" offheight="{size}"/>
    <headlight ambient=".5 .5 .5" diffuse=".3 .3 .3" specular="0 0 0"/>
  </visual>
  <default>
    <joint type="hinge" axis="0 0 1" damping="0.025" armature="0.005"/>
    <motor gear="1" ctrllimited="true" ctrlrange="-0.125 0.125"/>
    <geom contype="0" conaffinity="0"/>
  </default>
  <worldbody>
    <light pos="0 0 1" directional="true" diffuse=".3 .3 .3" specular="0 0 0"/>
    <camera name="top" pos="0 0 1" projection="orthographic" fovy="{extent}"/>
    <geom name="floor" type="plane" size="{half} {half} 0.1" rgba=".88 .88 .84 1"/>
    <body name="target" mocap="true" pos="0 0 0.001">
      <geom name="target" type="cylinder" size="{target_r} 0.001" rgba=".9 .24 .24 1"/>
    </body>
    <body name="upper" pos="0 0 0.01">
      <joint name="shoulder"/>
      <geom type="capsule" fromto="0 0 0 {l1} 0 0" size="{link_r}" rgba=".2 .43 .78 1"/>
      <geom type="sphere" size="{joint_r}" rgba=".12 .12 .24 1"/>
      <body name="fore" pos="{l1} 0 0">
        <joint name="elbow" limited="true" range="-{limit} {limit}"/>
        <geom type="capsule" fromto="0 0 0 {l2} 0 0" size="{link_r}" rgba=".2 .43 .78 1"/>
        <geom type="sphere" size="{joint_r}" rgba=".12 .12 .24 1"/>
        <site name="fingertip" pos="{l2} 0 0" size="{joint_r}" rgba=".16 .75 .24 1"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor name="shoulder" joint="shoulder"/>
    <motor name="elbow" joint="elbow"/>
  </actuator>
</mujoco>
"""


def wrap_angle(angle: np.ndarray | float) -> np.ndarray:
    """Angles wrapped to [-pi, pi), float64 (unchanged where already inside)."""
    a = np.asarray(angle, np.float64)
    inside = (a >= -np.pi) & (a < np.pi)
    return np.where(inside, a, np.mod(a + np.pi, 2 * np.pi) - np.pi)


@dataclass(frozen=True)
class ReacherConfig:
    """Rendering, control rate, success tolerances and episode length of Reacher.

    Attributes:
        size: Rendered image side in pixels (16..1024).
        renderer: "numpy" (fast top-down painter, always available) or "mujoco" (MuJoCo's own
            OpenGL renderer; needs an EGL, OSMesa or GLFW backend).
        frame_skip: MuJoCo steps of 0.01 s per env step (the action is held across them).
        joint_tolerance: Success when every joint is within this many radians of the goal.
        target_radius: Radius (m) of the target; the fingertip inside it is
            `fingertip_success`.
        target_visible: Draw the target in the frames (both renderers). Without it the frames
            show the arm alone: the goal is still given as the image of the goal configuration,
            and the target, placed anew each episode, no longer dominates what an encoder learns
            (see `benchmarks/predictor_ranking.py`).
        max_episode_steps: Steps after which an episode is truncated.
    """

    size: int = 64
    renderer: str = "numpy"
    frame_skip: int = 2
    joint_tolerance: float = 0.1
    target_radius: float = 0.02
    target_visible: bool = True
    max_episode_steps: int = 200

    def __post_init__(self) -> None:
        owner = "ReacherConfig"
        if not isinstance(self.size, int) or not 16 <= self.size <= 1024:
            raise ConfigError(f"{owner}.size must be an integer in [16, 1024], got {self.size!r}")
        require_choice(owner, "renderer", self.renderer, ("numpy", "mujoco"))
        if not isinstance(self.frame_skip, int) or self.frame_skip < 1:
            raise ConfigError(
                f"{owner}.frame_skip must be an integer >= 1, got {self.frame_skip!r}"
            )
        if not isinstance(self.max_episode_steps, int) or self.max_episode_steps < 1:
            raise ConfigError(
                f"{owner}.max_episode_steps must be an integer >= 1, got {self.max_episode_steps!r}"
            )
        require_in_range(owner, "joint_tolerance", self.joint_tolerance, 1e-6, np.pi)
        require_in_range(owner, "target_radius", self.target_radius, 1e-4, 0.1)
        if not isinstance(self.target_visible, bool):
            raise ConfigError(
                f"{owner}.target_visible must be true or false, got {self.target_visible!r}"
            )


class Reacher(gymnasium.Env):
    """Reach a goal joint configuration with a two-link arm (MuJoCo physics).

    Observation: ``{"pixels": uint8 [size, size, 3], "state": float32 [4]}``, the state being
    (q1, q2, qdot1, qdot2) in rad and rad/s, q1 wrapped to [-pi, pi) (for evaluation only).
    Action: float32 [2] in [-1, 1], mapped affinely to each motor's torque range.
    Info: ``{"goal_state": float32 [2] (q1*, q2*), "distance": wrapped joint-space distance,
    "is_success": every joint within joint_tolerance, "fingertip_success": fingertip within
    target_radius of the target}``. Reward = -distance; success terminates the episode.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}
    steps_past_end: ClassVar[bool] = True  # stepping on after success or truncation is defined
    # Every frame shows the target at the goal's fingertip, so a goal image must be rendered by
    # the world (`goal_pixels()`), not taken from another episode whose target lies elsewhere.
    draws_its_goal: ClassVar[bool] = True

    def __init__(self, config: ReacherConfig | None = None, render_mode: str | None = "rgb_array"):
        """Build the world.

        Args:
            config: Rendering and episode settings; the defaults when None.
            render_mode: "rgb_array" or None; `render()` returns the current frame either way.
        """
        if render_mode not in (None, "rgb_array"):
            raise ConfigError(
                f"Reacher render_mode must be 'rgb_array' or None, got {render_mode!r}"
            )
        self.config = config if config is not None else ReacherConfig()
        self.render_mode = render_mode
        c = self.config
        l1, l2 = LINK_LENGTHS
        xml = _MJCF.format(
            size=max(c.size, 64), extent=2 * HALF_EXTENT, half=HALF_EXTENT, l1=l1, l2=l2,
            limit=ELBOW_LIMIT, link_r=LINK_RADIUS, joint_r=JOINT_RADIUS, target_r=c.target_radius,
        )  # fmt: skip
        self.model = mujoco.MjModel.from_xml_string(xml)
        if not c.target_visible:
            self.model.geom_rgba[self.model.geom("target").id, 3] = 0.0  # MuJoCo draws it clear
        self.data = mujoco.MjData(self.model)
        self._goal_data = mujoco.MjData(self.model)  # the arm posed at the goal, for goal_pixels
        self._fingertip = self.model.site("fingertip").id
        self._upper, self._fore = self.model.body("upper").id, self.model.body("fore").id
        self._ctrl_low = self.model.actuator_ctrlrange[:, 0].copy()
        self._ctrl_high = self.model.actuator_ctrlrange[:, 1].copy()
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        high = np.array([np.pi, ELBOW_LIMIT, np.inf, np.inf], np.float32)
        self.observation_space = spaces.Dict(
            {
                "pixels": spaces.Box(0, 255, (c.size, c.size, 3), np.uint8),
                "state": spaces.Box(-high, high, (4,), np.float32),
            }
        )
        self._painter = TopDownPainter(c.size, HALF_EXTENT, LINK_RADIUS, JOINT_RADIUS)
        self._renderer = (
            open_mujoco_renderer(self.model, c.size) if c.renderer == "mujoco" else None
        )
        self._goal = np.zeros(2)
        self._target = np.zeros(2)
        self._steps = 0
        self._set_state(self.data, np.array([0.0, 0.5]), np.zeros(2))
        self._set_goal(np.array([1.0, -0.5]))

    # --- named accessors ----------------------------------------------------------------------
    def joint_angles(self) -> np.ndarray:
        """(q1, q2) in rad, float64 [2] (a copy), q1 in [-pi, pi)."""
        return self.data.qpos[:2].copy()

    def joint_velocities(self) -> np.ndarray:
        """(qdot1, qdot2) in rad/s, float64 [2] (a copy)."""
        return self.data.qvel[:2].copy()

    def goal_configuration(self) -> np.ndarray:
        """The goal joint angles (q1*, q2*), float64 [2] (a copy)."""
        return self._goal.copy()

    def fingertip_position(self) -> np.ndarray:
        """The fingertip's (x, y) in metres, float64 [2] (a copy)."""
        return self.data.site_xpos[self._fingertip, :2].copy()

    def target_position(self) -> np.ndarray:
        """The target's (x, y): the fingertip position of the goal configuration, float64 [2]."""
        return self._target.copy()

    def reset_options(self, start: np.ndarray, goal: np.ndarray) -> dict[str, np.ndarray] | None:
        """Reset options for true state `start` [4] (angles, velocities) and `goal`'s angles."""
        return {
            "qpos": np.asarray(start[:2], np.float64),
            "qvel": np.asarray(start[2:4], np.float64),
            "goal": np.asarray(goal[:2], np.float64),
        }

    # --- gymnasium ----------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode; options "qpos", "qvel", "goal" ([2] each) set the state exactly.

        Unset parts are drawn from `np_random`: q1 uniform in [-pi, pi), q2 uniform in
        +-0.9 * ELBOW_LIMIT, velocities zero. Both configurations are always drawn, so giving
        one option does not change what the others draw.
        """
        super().reset(seed=seed)
        options = {} if options is None else options
        unknown = sorted(set(options) - {"qpos", "qvel", "goal"})
        if unknown:
            raise ConfigError(f"Reacher.reset options has unknown key(s) {unknown}")
        qpos, goal = self._sample_configuration(), self._sample_configuration()
        qpos = _option(options, "qpos", qpos, limited=True)
        qvel = _option(options, "qvel", np.zeros(2), limited=False)
        goal = _option(options, "goal", goal, limited=True)
        self._set_goal(goal)
        self._set_state(self.data, qpos, qvel)
        self._steps = 0
        return self._observation(), self._info()

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Hold torques from clip(action [2], -1, 1) for `frame_skip` MuJoCo steps."""
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        self.data.ctrl[:] = self._ctrl_low + (a + 1.0) / 2.0 * (self._ctrl_high - self._ctrl_low)
        for _ in range(self.config.frame_skip):
            mujoco.mj_step(self.model, self.data)
        self.data.qpos[0] = wrap_angle(self.data.qpos[0])
        mujoco.mj_forward(self.model, self.data)  # positions of the new state (mj_step's are old)
        self._steps += 1
        info = self._info()
        terminated = info["is_success"]
        truncated = self._steps >= self.config.max_episode_steps
        return self._observation(), -info["distance"], terminated, truncated, info

    def render(self) -> np.ndarray:
        """The current frame, uint8 [size, size, 3] (a new array)."""
        return self._frame(self.data)

    def goal_pixels(self) -> np.ndarray:
        """The arm at rest in the goal configuration (target drawn as always), uint8 [s, s, 3]."""
        return self._frame(self._goal_data)

    def close(self) -> None:
        """Free the MuJoCo renderer's OpenGL context, if any."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # --- internals ----------------------------------------------------------------------------
    def _sample_configuration(self) -> np.ndarray:
        q1 = self.np_random.uniform(-np.pi, np.pi)
        q2 = self.np_random.uniform(-0.9 * ELBOW_LIMIT, 0.9 * ELBOW_LIMIT)
        return np.array([q1, q2])

    def _set_state(self, data: Any, qpos: np.ndarray, qvel: np.ndarray) -> None:
        data.qpos[:2] = (wrap_angle(qpos[0]), qpos[1])
        data.qvel[:2] = qvel
        data.ctrl[:] = 0.0
        data.mocap_pos[0, :2] = self._target
        mujoco.mj_forward(self.model, data)

    def _set_goal(self, goal: np.ndarray) -> None:
        self._goal = np.array([wrap_angle(goal[0]), goal[1]], np.float64)
        self._set_state(self._goal_data, self._goal, np.zeros(2))
        self._target = self._goal_data.site_xpos[self._fingertip, :2].copy()
        self._goal_data.mocap_pos[0, :2] = self._target
        mujoco.mj_forward(self.model, self._goal_data)

    def _frame(self, data: Any) -> np.ndarray:
        if self._renderer is not None:
            self._renderer.update_scene(data, camera="top")
            return np.array(self._renderer.render(), dtype=np.uint8)
        return self._painter.paint(
            data.xpos[self._upper],
            data.xpos[self._fore],
            data.site_xpos[self._fingertip],
            self._target if self.config.target_visible else None,
            self.config.target_radius,
        )

    def _observation(self) -> dict[str, np.ndarray]:
        state = np.concatenate([self.data.qpos[:2], self.data.qvel[:2]]).astype(np.float32)
        return {"pixels": self._frame(self.data), "state": state}

    def _info(self) -> dict[str, Any]:
        error = wrap_angle(self.data.qpos[:2] - self._goal)
        reach = float(np.linalg.norm(self.fingertip_position() - self._target))
        return {
            "goal_state": self._goal.astype(np.float32),
            "distance": float(np.linalg.norm(error)),
            "is_success": bool(np.all(np.abs(error) <= self.config.joint_tolerance)),
            "fingertip_success": reach <= self.config.target_radius,
        }


def _option(options: dict[str, Any], key: str, default: np.ndarray, limited: bool) -> np.ndarray:
    """options[key] as float64 [2], checked (finite; elbow within its limit), else `default`."""
    if key not in options:
        return default
    value = np.asarray(options[key], dtype=np.float64)
    if value.shape != (2,) or not np.all(np.isfinite(value)):
        raise ConfigError(f"Reacher.reset {key} must be 2 finite numbers, got {options[key]!r}")
    if limited and abs(value[1]) > ELBOW_LIMIT:
        raise ConfigError(
            f"Reacher.reset {key} elbow angle {value[1]!r} is outside +-{ELBOW_LIMIT} rad"
        )
    return value.copy()


def make_reacher(render_mode: str | None = "rgb_array", **config_overrides: Any) -> Reacher:
    """A Reacher whose default config is changed by `config_overrides` (validated)."""
    return Reacher(replace_config(ReacherConfig(), **config_overrides), render_mode=render_mode)
