"""The cube world's state vector and its names; OGBench's cube-single scene and its renderers.

OGBench's scene has 21 qpos and 20 qvel: the UR5e's 6 arm joints, the Robotiq 2F-85's 8 linkage
joints (right then left: driver, coupler, spring link, follower) and the cube's free joint
(position, quaternion w x y z; linear then angular velocity). `obs["state"]` holds the named
quantities first (what probes and evaluation read) and then the rest of the physics state, so
that `reset_options(start, goal)` can set a recorded state exactly:

    cube_position [3] m, cube_quaternion [4] (w x y z), effector_position [3] m (the pinch
    site between the fingers), gripper_opening [1] (OGBench's: 0 open .. 1 closed),
    arm_joint_angles [6] rad, gripper_joint_angles [8] rad, arm_joint_velocities [6] rad/s,
    gripper_joint_velocities [8] rad/s, cube_velocity [6] (m/s, then rad/s)

The effector position and the gripper opening are functions of the joints; they are there to be
read, and `physics_from_state` ignores them.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ami.errors import DependencyMissingError
from ami.worlds.mujoco_raster import GeomRasterizer, RasterConfig
from ami.worlds.reacher_render import open_mujoco_renderer

__all__ = [
    "INSTALL_HINT",
    "STATE_LAYOUT",
    "STATE_NAMES",
    "STATE_SIZE",
    "StateIndex",
    "load_cube_scene",
    "open_renderer",
    "state_slice",
]

INSTALL_HINT = "pip install 'ami[cube]'"

STATE_LAYOUT: tuple[tuple[str, int], ...] = (
    ("cube_position", 3),
    ("cube_quaternion", 4),
    ("effector_position", 3),
    ("gripper_opening", 1),
    ("arm_joint_angles", 6),
    ("gripper_joint_angles", 8),
    ("arm_joint_velocities", 6),
    ("gripper_joint_velocities", 8),
    ("cube_velocity", 6),
)
STATE_NAMES: tuple[str, ...] = tuple(
    f"{name}[{i}]" for name, width in STATE_LAYOUT for i in range(width)
)
STATE_SIZE = len(STATE_NAMES)  # 45


def state_slice(name: str) -> slice:
    """Where the component `name` (e.g. "cube_position") lies in the state vector."""
    start = 0
    for component, width in STATE_LAYOUT:
        if component == name:
            return slice(start, start + width)
        start += width
    raise KeyError(name)


class StateIndex:
    """Where the arm, gripper and cube live in the scene's qpos and qvel (read from the model)."""

    def __init__(self, model: Any, arm_joints: np.ndarray, gripper_joints: np.ndarray) -> None:
        """Args: model: the MjModel; arm_joints [6], gripper_joints [8]: joint ids."""
        cube = model.joint("object_joint_0")
        self.nq, self.nv = int(model.nq), int(model.nv)
        self.arm_q = model.jnt_qposadr[arm_joints].copy()
        self.arm_v = model.jnt_dofadr[arm_joints].copy()
        self.gripper_q = model.jnt_qposadr[gripper_joints].copy()
        self.gripper_v = model.jnt_dofadr[gripper_joints].copy()
        self.cube_q = np.arange(cube.qposadr[0], cube.qposadr[0] + 7)
        self.cube_v = np.arange(cube.dofadr[0], cube.dofadr[0] + 6)
        if len(self.arm_q) != 6 or len(self.gripper_q) != 8 or (self.nq, self.nv) != (21, 20):
            raise DependencyMissingError(
                f"OGBench's cube-single scene has changed (nq={self.nq}, nv={self.nv}, "
                f"{len(self.arm_q)} arm and {len(self.gripper_q)} gripper joints; ami expects 21, "
                "20, 6 and 8); install the OGBench ami supports with " + INSTALL_HINT
            )

    def state(
        self, qpos: np.ndarray, qvel: np.ndarray, effector: np.ndarray, opening: float
    ) -> np.ndarray:
        """The state vector float32 [45] of a physics state and its effector and opening."""
        return np.concatenate(
            [
                qpos[self.cube_q],
                effector,
                [opening],
                qpos[self.arm_q],
                qpos[self.gripper_q],
                qvel[self.arm_v],
                qvel[self.gripper_v],
                qvel[self.cube_v],
            ]
        ).astype(np.float32)

    def physics(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(qpos [21], qvel [20]) float64 held by a state vector [45]."""
        s = np.asarray(state, np.float64)
        qpos, qvel = np.zeros(self.nq), np.zeros(self.nv)
        qpos[self.cube_q] = s[0:7]
        qpos[self.arm_q] = s[state_slice("arm_joint_angles")]
        qpos[self.gripper_q] = s[state_slice("gripper_joint_angles")]
        qvel[self.arm_v] = s[state_slice("arm_joint_velocities")]
        qvel[self.gripper_v] = s[state_slice("gripper_joint_velocities")]
        qvel[self.cube_v] = s[state_slice("cube_velocity")]
        return qpos, qvel


def load_cube_scene(size: int) -> Any:
    """OGBench's cube-single scene (its "pixels" look), compiled and reset once; it never renders.

    Built in OGBench's data-collection mode, so that every reset draws the arm pose, the cube's
    pose and the target. `compute_observation` is switched off: the world renders its own frames.

    Raises:
        DependencyMissingError: OGBench (or dm_control) is not installed.
    """
    scene_class = _physics_only_cube_env()
    scene = scene_class(
        env_type="single",
        ob_type="pixels",  # OGBench's colours for pixels: purple gripper, see-through arm
        mode="data_collection",
        visualize_info=False,  # the world shows the target itself (CubeConfig.target_visible)
        width=size,
        height=size,
    )
    scene.reset(seed=0)  # compiles the model
    return scene


@functools.cache
def _physics_only_cube_env() -> type:
    """OGBench's `CubeEnv` with `compute_observation` switched off (imported on first use)."""
    try:
        from ogbench.manipspace.envs.cube_env import CubeEnv
    except ImportError as exc:
        missing = getattr(exc, "name", None) or str(exc).splitlines()[0]
        raise DependencyMissingError(
            f"the cube world needs OGBench and dm_control ({missing} is missing); {INSTALL_HINT}"
        ) from exc

    class PhysicsOnlyCubeEnv(CubeEnv):  # type: ignore[misc]
        def compute_observation(self) -> None:
            return None  # OGBench would render a frame here; ami renders its own

    return PhysicsOnlyCubeEnv


def open_renderer(renderer: str, model: Any, size: int, camera: str) -> Any:
    """The frame source of `renderer` ("fast" or "mujoco") for `model` at size x size.

    Raises:
        DependencyMissingError: the renderer cannot start here (one line saying why).
    """
    if renderer == "mujoco":
        return open_mujoco_renderer(model, size, fallback="renderer='fast'")
    return GeomRasterizer(model, RasterConfig(size=size, camera=camera))
