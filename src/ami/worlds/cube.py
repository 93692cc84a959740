"""Cube: OGBench's cube-single, a UR5e arm with a Robotiq 2F-85 gripper moving one cube.

The physics, the scene and the controller are OGBench's (`ogbench.manipspace`, the `ami[cube]`
extra): a 4 cm cube on a table at z = 0 inside low walls, MuJoCo steps of 2 ms, 25 per env step
(20 Hz). The action float32 [5] in [-1, 1] is OGBench's: a relative move of the pinch point
(x, y, z, up to 5 cm a step, kept inside the workspace), a relative yaw (up to 0.3 rad) and a
relative gripper command; differential IK turns it into joint targets for the arm's PD servos.

One change to OGBench's physics, on by default (`stiff_contacts`): every contact is made as stiff
as the cube's own (MuJoCo solref time constant 4 ms, twice the time step; OGBench leaves the
table, the walls and the finger links at MuJoCo's default 20 ms). Under the arm's full servo
force OGBench's soft table lets a pressed cube's corner sink 15 mm into it and a finger link
sink 17 mm into a cube pinned at a wall; stiff, both stay within about 6 mm (tests/test_cube.py),
and the scripted expert's grasps are unchanged.

The task: the cube's position within `success_radius` (OGBench's 0.04 m) of a target. With
`task=0` every reset draws, as OGBench's data collection does, the arm's pose, the cube's pose and
the target; tasks 1..5 are OGBench's cube-single evaluation tasks (start jittered by 1 cm, yaw
random). The target is not drawn by default (OGBench's visual envs), so a goal is given as an
image: `goal_pixels()` shows the goal scene (by default the start scene with the cube moved to the
target; with `reset_options` the recorded goal state itself).

Frames come from OGBench's "front_pixels" camera: renderer "fast" (the default) rasterises the
scene's geoms in numpy (`ami.worlds.mujoco_raster`), "mujoco" is MuJoCo's own OpenGL renderer
(MUJOCO_GL is chosen as `ami.worlds.reacher` describes, before `mujoco` is imported). The state
vector and its names are in `ami.worlds.cube_state`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces

import ami.worlds.reacher  # noqa: F401  (chooses MUJOCO_GL before the first `import mujoco`)
from ami.config import replace_config, require_choice, require_in_range
from ami.errors import ConfigError
from ami.worlds.cube_state import (
    STATE_NAMES,
    STATE_SIZE,
    StateIndex,
    load_cube_scene,
    open_renderer,
    state_slice,
)

__all__ = ["CAMERA", "Cube", "CubeConfig", "make_cube"]

CAMERA = "front_pixels"  # OGBench's camera for its pixel observations
TARGET_ALPHA = 0.2  # OGBench's see-through target cube
TASKS = 5  # OGBench's cube-single evaluation tasks


@dataclass(frozen=True)
class CubeConfig:
    """Rendering, task and episode length of the cube world.

    Attributes:
        size: Rendered image side in pixels (16..1024).
        renderer: "fast" (numpy rasteriser of the scene's geoms) or "mujoco" (MuJoCo's OpenGL
            renderer; needs an EGL, OSMesa or GLFW backend).
        task: 0: arm, cube and target drawn anew each episode (OGBench's data-collection scenes);
            1..5: OGBench's cube-single evaluation task of that number.
        target_visible: Draw the target as OGBench's see-through cube (its state envs do; its
            pixel envs do not).
        stiff_contacts: Every contact as stiff as the cube's (see the module docstring); False
            keeps OGBench's physics exactly.
        success_radius: Success when the cube's centre is within this many metres of the target.
        max_episode_steps: Steps after which an episode is truncated.
    """

    size: int = 64
    renderer: str = "fast"
    task: int = 0
    target_visible: bool = False
    stiff_contacts: bool = True
    success_radius: float = 0.04
    max_episode_steps: int = 200

    def __post_init__(self) -> None:
        owner = "CubeConfig"
        if not isinstance(self.size, int) or not 16 <= self.size <= 1024:
            raise ConfigError(f"{owner}.size must be an integer in [16, 1024], got {self.size!r}")
        require_choice(owner, "renderer", self.renderer, ("fast", "mujoco"))
        if not isinstance(self.task, int) or isinstance(self.task, bool):
            raise ConfigError(f"{owner}.task must be an integer in [0, {TASKS}], got {self.task!r}")
        require_in_range(owner, "task", self.task, 0, TASKS)
        for name in ("target_visible", "stiff_contacts"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"{owner}.{name} must be true or false, got {getattr(self, name)!r}"
                )
        require_in_range(owner, "success_radius", self.success_radius, 1e-3, 0.3)
        if not isinstance(self.max_episode_steps, int) or self.max_episode_steps < 1:
            raise ConfigError(
                f"{owner}.max_episode_steps must be an integer >= 1, got {self.max_episode_steps!r}"
            )


class Cube(gymnasium.Env):
    """Move one cube to a target with a UR5e arm and a Robotiq gripper (OGBench's physics).

    Observation: ``{"pixels": uint8 [size, size, 3], "state": float32 [45]}``, the state being
    `ami.worlds.cube_state.STATE_NAMES` (cube pose, effector, gripper, joints, velocities; for
    evaluation only). Action: float32 [5] in [-1, 1] (see the module docstring).
    Info: ``{"goal_state": float32 [3] (the target position), "distance": cube-to-target metres,
    "is_success": distance within success_radius}``. Reward = -distance; success terminates.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    steps_past_end: ClassVar[bool] = True  # stepping on after success or truncation is defined
    state_names: ClassVar[tuple[str, ...]] = STATE_NAMES

    def __init__(self, config: CubeConfig | None = None, render_mode: str | None = "rgb_array"):
        """Build the world (OGBench compiles its scene: about two seconds).

        Args:
            config: Rendering, task and episode settings; the defaults when None.
            render_mode: "rgb_array" or None; `render()` returns the current frame either way.

        Raises:
            DependencyMissingError: OGBench is not installed, or the renderer cannot start.
        """
        if render_mode not in (None, "rgb_array"):
            raise ConfigError(f"Cube render_mode must be 'rgb_array' or None, got {render_mode!r}")
        self.config = config if config is not None else CubeConfig()
        self.render_mode = render_mode
        import mujoco  # after ami.worlds.reacher chose MUJOCO_GL

        self._mujoco = mujoco
        self.scene = load_cube_scene(self.config.size)  # OGBench's CubeEnv: physics and IK
        self.model, self.data = self.scene.model, self.scene.data
        if self.config.stiff_contacts:
            colliding = (self.model.geom_contype | self.model.geom_conaffinity) != 0
            stiffest = float(self.model.geom_solref[self.model.geom("object_0").id, 0])
            soft = colliding & (self.model.geom_solref[:, 0] > stiffest)
            self.model.geom_solref[soft, 0] = stiffest
        self._goal_data = mujoco.MjData(self.model)  # the goal scene, for goal_pixels
        self._index = StateIndex(
            self.model,
            self.scene._arm_joint_ids,
            np.array([self.model.joint(j.full_identifier).id for j in self.scene._gripper_jnts]),
        )
        self._pinch = self.scene._pinch_site_id
        self._driver = self.model.jnt_qposadr[self.scene._gripper_opening_joint_id]
        self._target_mocap = self.scene._cube_target_mocap_ids[0]
        self._target_geoms = list(self.scene._cube_target_geom_ids_list[0])
        self.scene.set_tasks()  # OGBench's evaluation tasks (its data-collection mode skips this)
        self._tasks = list(self.scene.task_infos)
        self.action_space = spaces.Box(-1.0, 1.0, (5,), np.float32)
        self.observation_space = spaces.Dict(
            {
                "pixels": spaces.Box(0, 255, (self.config.size, self.config.size, 3), np.uint8),
                "state": spaces.Box(-np.inf, np.inf, (STATE_SIZE,), np.float32),
            }
        )
        self._show_target()  # before the renderer opens: the fast one drafts only visible geoms
        self._renderer = open_renderer(self.config.renderer, self.model, self.config.size, CAMERA)
        self._steps = 0
        self._begin(scene_seed=0, options={})  # a defined scene before the first reset

    @property
    def draws_its_goal(self) -> bool:
        """Whether every frame shows the target (then goal images are rendered by the world)."""
        return self.config.target_visible

    # --- named accessors ----------------------------------------------------------------------
    def cube_position(self) -> np.ndarray:
        """The cube's centre (x, y, z) in metres, float64 [3] (a copy); the table is at z = 0."""
        return self.data.qpos[self._index.cube_q[:3]].copy()

    def cube_quaternion(self) -> np.ndarray:
        """The cube's orientation (w, x, y, z), float64 [4] (a copy)."""
        return self.data.qpos[self._index.cube_q[3:]].copy()

    def effector_position(self) -> np.ndarray:
        """The pinch point between the fingers (x, y, z) in metres, float64 [3] (a copy)."""
        return self.data.site_xpos[self._pinch].copy()

    def gripper_opening(self) -> float:
        """OGBench's gripper opening: 0 fully open .. 1 fully closed."""
        return float(np.clip(self.data.qpos[self._driver] / 0.8, 0.0, 1.0))

    def arm_joint_angles(self) -> np.ndarray:
        """The UR5e's six joint angles in rad, float64 [6] (a copy)."""
        return self.data.qpos[self._index.arm_q].copy()

    def target_position(self) -> np.ndarray:
        """The target (x, y, z) of the cube's centre in metres, float64 [3] (a copy)."""
        return self.data.mocap_pos[self._target_mocap].copy()

    def target_quaternion(self) -> np.ndarray:
        """The target's orientation (w, x, y, z), a turn about z, float64 [4] (a copy)."""
        return self.data.mocap_quat[self._target_mocap].copy()

    def physics_state(self) -> tuple[np.ndarray, np.ndarray]:
        """(qpos [21], qvel [20]) float64 copies: the reset options "qpos" and "qvel"."""
        return self.data.qpos.copy(), self.data.qvel.copy()

    def oracle_info(self) -> dict[str, Any]:
        """OGBench's info dict of the current state (proprio/*, privileged/*, time), copies."""
        return dict(self.scene.compute_ob_info())

    def reset_options(self, start: np.ndarray, goal: np.ndarray) -> dict[str, np.ndarray] | None:
        """Reset options for the recorded states `start` and `goal` (state vectors [45])."""
        qpos, qvel = self._index.physics(start)
        goal_qpos, _ = self._index.physics(goal)
        cube = state_slice("cube_position")
        return {"qpos": qpos, "qvel": qvel, "goal": np.asarray(goal[cube], np.float64),
                "goal_qpos": goal_qpos}  # fmt: skip

    # --- gymnasium ----------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode; options "qpos" [21], "qvel" [20], "goal" [3] set the state exactly.

        "goal_qpos" [21] is the scene `goal_pixels()` shows (by default the start with the cube at
        the target). Unset parts are drawn from `np_random` as OGBench draws them (the task's
        start and target for tasks 1..5), always all of them, so giving one option does not
        change what the others draw.
        """
        super().reset(seed=seed)
        self._begin(int(self.np_random.integers(2**31)), {} if options is None else options)
        return self._observation(), self._info()

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """OGBench's control of clip(action [5], -1, 1), then 25 MuJoCo steps of 2 ms."""
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(5), -1.0, 1.0)
        self.scene.set_control(a)  # differential IK to the arm's and gripper's targets
        self._mujoco.mj_step(self.model, self.data, nstep=self.scene._n_steps)
        self._mujoco.mj_forward(self.model, self.data)  # positions of the new state
        self._mujoco.mj_rnePostConstraint(self.model, self.data)  # contact forces, for info
        self._steps += 1
        info = self._info()
        truncated = self._steps >= self.config.max_episode_steps
        return self._observation(), -info["distance"], info["is_success"], truncated, info

    def render(self) -> np.ndarray:
        """The current frame, uint8 [size, size, 3] (a new array)."""
        return self._frame(self.data)

    def goal_pixels(self) -> np.ndarray:
        """The goal scene (see `reset`), uint8 [size, size, 3]."""
        return self._frame(self._goal_data)

    def close(self) -> None:
        """Free the MuJoCo renderer's OpenGL context, if any."""
        if self.config.renderer == "mujoco" and self._renderer is not None:
            self._renderer.close()
        self._renderer = None

    # --- internals ----------------------------------------------------------------------------
    def _begin(self, scene_seed: int, options: dict[str, Any]) -> None:
        """Draw a scene (OGBench's reset seeded with `scene_seed`), then apply `options`."""
        unknown = sorted(set(options) - {"qpos", "qvel", "goal", "goal_qpos"})
        if unknown:
            raise ConfigError(f"Cube.reset options has unknown key(s) {unknown}")
        self.scene.reset(seed=scene_seed)  # arm, cube and target drawn
        if self.config.task:
            self._place_task(self._tasks[self.config.task - 1], np.random.default_rng(scene_seed))
        data = self.data
        qpos = _option(options, "qpos", data.qpos, self._index.nq)
        qvel = _option(options, "qvel", np.zeros(self._index.nv), self._index.nv)
        goal = _option(options, "goal", data.mocap_pos[self._target_mocap], 3)
        if np.linalg.norm(qpos[self._index.cube_q[3:]]) < 1e-6:
            raise ConfigError("Cube.reset qpos holds a zero quaternion for the cube")
        data.qpos[:], data.qvel[:] = qpos, qvel
        data.mocap_pos[self._target_mocap] = goal
        data.ctrl[:] = 0.0
        data.qacc_warmstart[:] = 0.0  # the same reset whatever came before
        data.time = 0.0
        self._mujoco.mj_forward(self.model, data)
        self._mujoco.mj_rnePostConstraint(self.model, data)
        default_goal = qpos.copy()
        default_goal[self._index.cube_q[:3]] = goal
        default_goal[self._index.cube_q[3:]] = data.mocap_quat[self._target_mocap]
        self._set_goal_scene(_option(options, "goal_qpos", default_goal, self._index.nq))
        self._show_target()  # OGBench's reset hid it
        self._steps = 0

    def _place_task(self, task: dict[str, Any], rng: np.random.Generator) -> None:
        """The cube at an OGBench task's start (1 cm jitter, yaw random), the target at its goal."""
        cube_q = self._index.cube_q
        start = np.asarray(task["init_xyzs"][0], np.float64).copy()
        start[:2] += rng.uniform(-0.01, 0.01, size=2)
        yaw = rng.uniform(0, 2 * np.pi)
        self.data.qpos[cube_q[:3]] = start
        self.data.qpos[cube_q[3:]] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))
        self.data.mocap_pos[self._target_mocap] = task["goal_xyzs"][0]
        self.data.mocap_quat[self._target_mocap] = (1.0, 0.0, 0.0, 0.0)

    def _show_target(self) -> None:
        for geom in self._target_geoms:
            self.model.geom_rgba[geom, 3] = TARGET_ALPHA if self.config.target_visible else 0.0

    def _set_goal_scene(self, qpos: np.ndarray) -> None:
        self._goal_data.qpos[:] = qpos
        self._goal_data.qvel[:] = 0.0
        self._goal_data.mocap_pos[:] = self.data.mocap_pos
        self._goal_data.mocap_quat[:] = self.data.mocap_quat
        self._mujoco.mj_forward(self.model, self._goal_data)

    def _frame(self, data: Any) -> np.ndarray:
        if self._renderer is None:
            raise ConfigError("Cube: the world was closed; make a new one to render")
        if self.config.renderer == "mujoco":
            self._renderer.update_scene(data, camera=CAMERA)
            return np.array(self._renderer.render(), dtype=np.uint8)
        return np.array(self._renderer.render(data), dtype=np.uint8)

    def _observation(self) -> dict[str, np.ndarray]:
        opening = self.gripper_opening()
        state = self._index.state(self.data.qpos, self.data.qvel, self.effector_position(), opening)
        return {"pixels": self._frame(self.data), "state": state}

    def _info(self) -> dict[str, Any]:
        target = self.target_position()
        distance = float(np.linalg.norm(self.cube_position() - target))
        return {
            "goal_state": target.astype(np.float32),
            "distance": distance,
            "is_success": distance <= self.config.success_radius,
        }


def _option(options: dict[str, Any], key: str, default: np.ndarray, size: int) -> np.ndarray:
    """options[key] as float64 [size], checked finite, else a copy of `default`."""
    if key not in options:
        return np.array(default, np.float64)
    value = np.asarray(options[key], dtype=np.float64)
    if value.shape != (size,) or not np.all(np.isfinite(value)):
        raise ConfigError(f"Cube.reset {key} must be {size} finite numbers, got {options[key]!r}")
    return value.copy()


def make_cube(render_mode: str | None = "rgb_array", **config_overrides: Any) -> Cube:
    """A Cube whose default config is changed by `config_overrides` (validated)."""
    return Cube(replace_config(CubeConfig(), **config_overrides), render_mode=render_mode)
