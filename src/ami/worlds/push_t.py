"""PushT: push a T-shaped block to a goal pose with a disc pusher (pymunk rigid-body physics).

As in Diffusion Policy and DINO-WM: a 512 x 512 arena (x right, y down, image coordinates), a
pusher disc of radius 15 and a T made of a 120 x 30 bar and a 30 x 90 stem, mass 1. The block's
pose (x, y, angle) is that of its centre of mass, the T's area centroid, which lies on the stem's
axis 40.7 units from the bar's outer edge; at angle 0 the bar is on top (smaller y) and the stem
hangs along +y. (The original's pose is the middle of the bar's outer edge; the centroid is used
here so that a pose set by `reset` reads back bit for bit and the position is the centre that
turns.)

Notable choices:
- Actions are relative: the PD target of a step is the pusher's position plus
  `action * max_displacement`, clipped to the arena; a PD controller (k_p, k_v) drives the
  kinematic pusher's velocity for `sim_hz / control_hz` physics substeps, so contacts are resolved
  by pymunk. The pusher's velocity carries over between steps, as in the original.
- The floor has Coulomb-like friction (a pivot and a gear joint to the static body with zero bias
  and bounded force, pymunk's top-down friction recipe), so a block that is no longer pushed
  stops within a step or two and an untouched block does not move at all. Contacts themselves are
  frictionless, as in the original.
- The walls are boxes reaching 100 units outside the arena (their inner faces 7 units in), so a
  block squeezed against a wall by the kinematic pusher cannot be pushed out of the arena.
- Success (DINO-WM's criterion on the block): block position within `success_distance` (20) units
  of the goal, that is 20/512 of the arena width, and wrapped angle error below `success_angle`
  (pi/9). DINO-WM also counts the pusher's position in its distance; the goal here is the block's.

The T's shape (boxes, vertices, signed distance) and the numpy painter of frames live in
`ami.worlds.push_t_render`; the names are re-exported here. The goal is never drawn;
`goal_pixels()` shows the block at the goal pose with the pusher where it is now.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium
import numpy as np
import pymunk
from gymnasium import spaces

from ami.config import replace_config, require_in_range, require_positive
from ami.errors import ConfigError
from ami.worlds.push_t_render import (
    BLOCK_BOXES,
    BLOCK_RGB,
    BLOCK_VERTICES,
    PUSHER_RGB,
    PushTPainter,
    block_signed_distance,
    block_vertices,
    to_block_frame,
)
from ami.worlds.symmetry import SQUARE_SYMMETRIES, SquareSymmetry
from ami.worlds.walled_arena import FLOOR_RGB, WALL_RGB

__all__ = [
    "ARENA",
    "BLOCK_BOXES",
    "BLOCK_RGB",
    "BLOCK_VERTICES",
    "FLOOR_RGB",
    "PUSHER_RADIUS",
    "PUSHER_RGB",
    "WALL",
    "WALL_RGB",
    "PushT",
    "PushTConfig",
    "block_signed_distance",
    "block_vertices",
    "make_push_t",
    "to_block_frame",
]

ARENA = 512.0  # arena side, in units
WALL = 7.0  # thickness of the walls inside the arena
OUTER = 100.0  # how far the wall boxes reach outside the arena
PUSHER_RADIUS = 15.0
_T_MIRROR = np.diag([-1.0, 1.0])  # the T is symmetric about its stem (block-frame x -> -x)


@dataclass(frozen=True)
class PushTConfig:
    """Control, friction, success and episode settings of PushT (lengths in arena units, 512).

    Attributes:
        size: Rendered image side in pixels (>= 16).
        max_displacement: PD target offset from the pusher at |action| = 1, units per step. 40
            (8% of the arena) crosses the arena in ~15 steps and moves the block by about a
            pusher diameter per step, yet stays below a pusher radius per physics substep.
        control_hz: Env steps per simulated second.
        sim_hz: Physics substeps per simulated second (a multiple of control_hz).
        k_p: PD stiffness (1/s^2), as in the original.
        k_v: PD damping (1/s), as in the original (critically damped with k_p = 100).
        floor_friction: Largest floor friction force on the block (mass 1), units/s^2; the
            friction torque limit is this times the block's radius of gyration.
        success_distance: Block position error (units) below which the goal is reached.
        success_angle: Wrapped block angle error (radians) below which the goal is reached.
        max_episode_steps: Steps after which an episode is truncated.
    """

    size: int = 64
    max_displacement: float = 40.0
    control_hz: int = 10
    sim_hz: int = 100
    k_p: float = 100.0
    k_v: float = 20.0
    floor_friction: float = 2000.0
    success_distance: float = 20.0
    success_angle: float = math.pi / 9
    max_episode_steps: int = 300

    def __post_init__(self) -> None:
        owner = "PushTConfig"
        for name, low in (("size", 16), ("control_hz", 1), ("sim_hz", 1), ("max_episode_steps", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"{owner}.{name} must be an integer >= {low}, got {value!r}")
        if self.sim_hz % self.control_hz != 0:
            raise ConfigError(
                f"{owner}.sim_hz must be a multiple of control_hz = {self.control_hz}, "
                f"got {self.sim_hz!r}"
            )
        require_in_range(owner, "max_displacement", self.max_displacement, 1e-6, ARENA)
        for name in ("k_p", "k_v", "floor_friction", "success_distance"):
            require_positive(owner, name, getattr(self, name))
        require_in_range(owner, "success_angle", self.success_angle, 1e-9, math.pi)

    @property
    def substeps(self) -> int:
        """Physics substeps per env step."""
        return self.sim_hz // self.control_hz


def wrap_angle(angle: float) -> float:
    """`angle` in [-pi, pi), unchanged (bit for bit) when it already is."""
    return angle if -math.pi <= angle < math.pi else (angle + math.pi) % (2 * math.pi) - math.pi


class PushT(gymnasium.Env):
    """Push the T to a goal pose. Observation: pixels and state.

    Observation: ``{"pixels": uint8 [size, size, 3], "state": float32 [5]}``, the state being
    (pusher x, pusher y, block x, block y, block angle in [-pi, pi)), for evaluation only.
    Action: float32 [2] in [-1, 1], the pusher's PD target offset over `max_displacement`.
    Info: ``{"goal_state": float32 [3] (x, y, angle), "distance": float (arena widths),
    "angle_error": float (radians), "is_success": bool}``. Reward: -distance.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    steps_past_end: ClassVar[bool] = True  # stepping on after success or truncation is defined
    draws_its_goal: ClassVar[bool] = False  # frames do not show the goal pose
    # a square walled arena, isotropic friction and a T that is its own mirror image: every
    # quarter turn and mirror image of a scene is a scene (and its motion a motion) of PushT
    plane_symmetries: ClassVar[tuple[SquareSymmetry, ...]] = SQUARE_SYMMETRIES

    def __init__(self, config: PushTConfig | None = None, render_mode: str | None = "rgb_array"):
        """Build the world.

        Args:
            config: Control and episode settings; the defaults when None.
            render_mode: "rgb_array" or None; `render()` returns the current frame either way.
        """
        if render_mode not in (None, "rgb_array"):
            raise ConfigError(f"PushT render_mode must be 'rgb_array' or None, got {render_mode!r}")
        self.config = config if config is not None else PushTConfig()
        self.render_mode = render_mode
        size = self.config.size
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = spaces.Dict(
            {
                "pixels": spaces.Box(0, 255, (size, size, 3), np.uint8),
                "state": spaces.Box(
                    np.array([0, 0, 0, 0, -math.pi], np.float32),
                    np.array([ARENA, ARENA, ARENA, ARENA, math.pi], np.float32),
                    dtype=np.float32,
                ),
            }
        )
        self._painter = PushTPainter(size, ARENA, WALL, PUSHER_RADIUS)
        self._goal = np.array([ARENA / 2, ARENA / 2, math.pi / 4])
        self._steps = 0
        self._build_space(np.array([256.0, 400.0, 256.0, 300.0, 0.0]))

    # --- physics ------------------------------------------------------------------------------
    def _build_space(self, state: np.ndarray) -> None:
        """A fresh space with the pusher and block at `state` [5], all velocities zero."""
        space = pymunk.Space()
        space.gravity = (0.0, 0.0)
        far = OUTER
        for x0, x1, y0, y1 in (
            (-far, WALL, -far, ARENA + far),
            (ARENA - WALL, ARENA + far, -far, ARENA + far),
            (-far, ARENA + far, -far, WALL),
            (-far, ARENA + far, ARENA - WALL, ARENA + far),
        ):
            space.add(pymunk.Poly(space.static_body, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]))
        pusher = pymunk.Body(body_type=pymunk.Body.KINEMATIC)
        pusher.position = (float(state[0]), float(state[1]))
        space.add(pusher, pymunk.Circle(pusher, PUSHER_RADIUS))
        block = pymunk.Body()
        shapes = []
        for cx, cy, hx, hy in BLOCK_BOXES:
            box = [(cx - hx, cy - hy), (cx + hx, cy - hy), (cx + hx, cy + hy), (cx - hx, cy + hy)]
            shape = pymunk.Poly(block, box)
            shape.mass = 4 * hx * hy / 6300.0  # total mass 1, spread by area
            shapes.append(shape)
        space.add(block, *shapes)
        block.center_of_gravity = (0.0, 0.0)  # the centroid (pymunk's sum leaves ~1e-15)
        block.position = (float(state[2]), float(state[3]))
        block.angle = float(state[4])
        gyration = math.sqrt(block.moment / block.mass)
        pivot = pymunk.PivotJoint(space.static_body, block, (0.0, 0.0), (0.0, 0.0))
        gear = pymunk.GearJoint(space.static_body, block, 0.0, 1.0)
        pivot.max_bias = gear.max_bias = 0.0
        pivot.max_force = self.config.floor_friction * block.mass
        gear.max_force = self.config.floor_friction * block.mass * gyration
        space.add(pivot, gear)
        self._space, self._pusher, self._block = space, pusher, block

    def pusher_position(self) -> np.ndarray:
        """The pusher's (x, y), float64 [2] (a new array)."""
        return np.array(self._pusher.position)

    def block_pose(self) -> np.ndarray:
        """The block's (x, y, angle in [-pi, pi)), float64 [3] (a new array)."""
        x, y = self._block.position
        return np.array([x, y, wrap_angle(self._block.angle)])

    def symmetric_actions(self, symmetry: SquareSymmetry) -> np.ndarray:
        """The map float64 [2, 2] of an action under `symmetry` (actions are displacements)."""
        return symmetry.matrix

    def symmetric_states(self, symmetry: SquareSymmetry, states: np.ndarray) -> np.ndarray:
        """True states [..., 5] (pusher x, y, block x, y, angle) of the scene under `symmetry`."""
        states = np.asarray(states)
        moved = np.empty(states.shape, np.float64)
        moved[..., 0:2] = symmetry.apply_to_points(states[..., 0:2], ARENA / 2)
        moved[..., 2:4] = symmetry.apply_to_points(states[..., 2:4], ARENA / 2)
        moved[..., 4] = symmetry.apply_to_angles(states[..., 4], _T_MIRROR)
        return moved.astype(states.dtype)

    def goal_pose(self) -> np.ndarray:
        """The goal pose of the block (x, y, angle), float64 [3] (a new array)."""
        return self._goal.copy()

    def block_clearance(self, pusher: np.ndarray, pose: np.ndarray) -> float:
        """Gap between the pusher disc at `pusher` [2] and a block at `pose` [3] (< 0: overlap)."""
        local = to_block_frame(np.asarray(pusher, float), np.asarray(pose, float))
        return float(block_signed_distance(local)) - PUSHER_RADIUS

    def is_free(self, state: np.ndarray) -> bool:
        """Whether `state` [5] has the pusher and block inside the arena and apart."""
        low, high = WALL + PUSHER_RADIUS, ARENA - WALL - PUSHER_RADIUS
        if not np.all(np.isfinite(state)) or not (
            low <= state[0] <= high and low <= state[1] <= high
        ):
            return False
        corners = block_vertices(state[2:])
        if corners.min() < WALL or corners.max() > ARENA - WALL:
            return False
        return self.block_clearance(state[:2], state[2:]) > 0

    def sample_state(self, rng: np.random.Generator) -> np.ndarray:
        """A free state float64 [5]: ranges of the original (pusher 50..450, block 100..400)."""
        while True:
            pusher = rng.uniform(50.0, 450.0, 2)
            block = np.array([*rng.uniform(100.0, 400.0, 2), rng.uniform(-math.pi, math.pi)])
            state = np.concatenate([pusher, block])
            if self.is_free(state):
                return state

    def reset_options(self, start: np.ndarray, goal: np.ndarray) -> dict[str, np.ndarray] | None:
        """Reset options for true state `start` [5] and the block's goal from state `goal` [5].

        None when `start` cannot be set exactly: the pusher touching the block (a contact
        recorded mid-push) or anything outside the arena.
        """
        state = np.asarray(start, np.float64)
        if not self.is_free(state):
            return None
        return {"state": state, "goal": np.asarray(goal[2:5], np.float64)}

    # --- gymnasium ----------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode; options may hold "state" [5] and/or "goal" [3] to set them exactly."""
        super().reset(seed=seed)
        options = {} if options is None else options
        unknown = sorted(set(options) - {"state", "goal"})
        if unknown:
            raise ConfigError(f"PushT.reset options has unknown key(s) {unknown}")
        if "state" in options:
            state = np.asarray(options["state"], np.float64)
            if state.shape != (5,) or not self.is_free(state):
                raise ConfigError(f"PushT.reset state {options['state']!r} is not free")
        else:
            state = self.sample_state(self.np_random)
        if "goal" in options:
            goal = np.asarray(options["goal"], np.float64)
            if goal.shape != (3,) or not np.all(np.isfinite(goal)):
                raise ConfigError(f"PushT.reset goal {options['goal']!r} is not (x, y, angle)")
            self._goal = np.array([goal[0], goal[1], wrap_angle(float(goal[2]))])
        else:
            self._goal = self.sample_state(self.np_random)[2:]
        self._build_space(state)
        self._steps = 0
        return self._observation(), self._info()

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Drive the pusher towards its position + clip(action, -1, 1) * max_displacement."""
        c = self.config
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        low, high = WALL + PUSHER_RADIUS, ARENA - WALL - PUSHER_RADIUS
        px, py = self._pusher.position
        tx = min(max(px + float(a[0]) * c.max_displacement, low), high)
        ty = min(max(py + float(a[1]) * c.max_displacement, low), high)
        dt = 1.0 / c.sim_hz
        pusher, space = self._pusher, self._space
        for _ in range(c.substeps):
            (x, y), (vx, vy) = pusher.position, pusher.velocity
            vx += (c.k_p * (tx - x) - c.k_v * vx) * dt
            vy += (c.k_p * (ty - y) - c.k_v * vy) * dt
            pusher.velocity = (vx, vy)
            space.step(dt)
        self._steps += 1
        info = self._info()
        truncated = self._steps >= c.max_episode_steps
        return self._observation(), -info["distance"], info["is_success"], truncated, info

    def render(self) -> np.ndarray:
        """The current frame, uint8 [size, size, 3] (a new array)."""
        return self.render_at(self.pusher_position(), self.block_pose())

    # --- rendering ----------------------------------------------------------------------------
    def goal_pixels(self) -> np.ndarray:
        """The block at the goal pose, the pusher where it is now, uint8 [size, size, 3]."""
        return self.render_at(self.pusher_position(), self._goal)

    def render_at(self, pusher: np.ndarray, block_pose: np.ndarray) -> np.ndarray:
        """The frame with the pusher at `pusher` [2] and the block at `block_pose` [3]."""
        return self._painter.paint(pusher, block_pose)

    def _observation(self) -> dict[str, np.ndarray]:
        pusher, pose = self.pusher_position(), self.block_pose()
        state = np.concatenate([pusher, pose]).astype(np.float32)
        return {"pixels": self.render_at(pusher, pose), "state": state}

    def _info(self) -> dict[str, Any]:
        pose = self.block_pose()
        distance = float(np.hypot(*(pose[:2] - self._goal[:2])))
        angle_error = abs(wrap_angle(float(pose[2] - self._goal[2])))
        c = self.config
        return {
            "goal_state": self._goal.astype(np.float32),
            "distance": distance / ARENA,
            "angle_error": angle_error,
            "is_success": bool(distance < c.success_distance and angle_error < c.success_angle),
        }


def make_push_t(render_mode: str | None = "rgb_array", **config_overrides: Any) -> PushT:
    """A PushT whose default config is changed by `config_overrides` (validated)."""
    return PushT(replace_config(PushTConfig(), **config_overrides), render_mode=render_mode)
