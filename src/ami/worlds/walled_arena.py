"""A disc agent among axis-aligned walls in the unit square, reaching goal positions.

The shared physics and rendering of TwoRoom and Maze. The arena is the unit square, x to the
right and y downwards (image coordinates: pixel column = x * size, row = y * size). Collision is
exact and simple: the agent disc is a point against the wall rectangles inflated by the agent
radius (and the arena shrunk by it); the point moves along x, then along y, and each 1-D move is
clamped against every inflated rectangle whose other-axis span strictly contains the point's other
coordinate, so it never enters a rectangle's open interior nor jumps across one, whatever the
speed.

Rendering precomputes the anti-aliased background once; each frame copies it and alpha-blends an
anti-aliased disc only within a small patch around the agent, so sub-pixel positions show in the
image. The goal is never drawn; `goal_pixels()` is the view with the agent standing at the goal.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces

from ami.errors import ConfigError

FLOOR_RGB = (235.0, 235.0, 235.0)
WALL_RGB = (40.0, 40.0, 40.0)
AGENT_RGB = (220.0, 30.0, 30.0)

Rect = tuple[float, float, float, float]  # x0, x1, y0, y1


class WalledArena(gymnasium.Env):
    """Goal reaching for a disc agent among walls. Observation: pixels and state.

    Observation: ``{"pixels": uint8 [size, size, 3], "state": float32 [2]}`` (agent x, y;
    for evaluation only). Action: float32 [2] in [-1, 1], velocity = action * max_speed.
    Info: ``{"goal_state": float32 [2], "distance": float, "is_success": bool}``.
    Subclasses give the walls, the floor colours and `room_of`.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}
    steps_past_end: ClassVar[bool] = True  # stepping on after success or truncation is defined
    draws_its_goal: ClassVar[bool] = False  # frames do not show the goal

    def __init__(
        self,
        walls: tuple[Rect, ...],
        size: int,
        max_speed: float,
        agent_radius: float,
        success_radius: float,
        max_episode_steps: int,
        render_mode: str | None,
        floor: np.ndarray | None = None,
    ) -> None:
        """Build the arena.

        Args:
            walls: wall rectangles (x0, x1, y0, y1) in arena units.
            size: image side in pixels.
            max_speed: arena units per step per axis at |action| = 1.
            agent_radius: collision and rendering radius of the agent.
            success_radius: success distance to the goal.
            max_episode_steps: steps before `truncated`.
            render_mode: "rgb_array" or None; `render()` returns the current frame either way.
            floor: optional floor colours float [size, size, 3] (default: uniform light grey).
        """
        if render_mode not in (None, "rgb_array"):
            raise ConfigError(
                f"{type(self).__name__} render_mode must be 'rgb_array' or None, "
                f"got {render_mode!r}"
            )
        self.render_mode = render_mode
        self._size, self._max_speed, self._radius = size, max_speed, agent_radius
        self._success_radius, self._max_steps = success_radius, max_episode_steps
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = spaces.Dict(
            {
                "pixels": spaces.Box(0, 255, (size, size, 3), np.uint8),
                "state": spaces.Box(0.0, 1.0, (2,), np.float32),
            }
        )
        r = agent_radius
        self._walls = walls
        self._inflated = tuple((x0 - r, x1 + r, y0 - r, y1 + r) for x0, x1, y0, y1 in walls)
        self._background = render_background(size, walls, floor)
        self._background_f = self._background.astype(np.float32)
        self._agent_rgb = np.asarray(AGENT_RGB, np.float32)
        self._radius_px = r * size
        self._patch = int(math.ceil(2 * self._radius_px + 3))
        self._offsets = np.arange(self._patch, dtype=np.float32) + 0.5
        self._agent = np.full(2, 0.25)
        self._goal = np.full(2, 0.75)
        self._steps = 0

    # --- geometry -----------------------------------------------------------------------------
    @property
    def num_rooms(self) -> int:
        """How many rooms `room_of` distinguishes."""
        raise NotImplementedError

    def room_of(self, position: np.ndarray) -> int:
        """Room index of a position [2]."""
        raise NotImplementedError

    def agent_position(self) -> np.ndarray:
        """The agent's (x, y), float64 [2] (a copy)."""
        return self._agent.copy()

    def goal_position(self) -> np.ndarray:
        """The goal's (x, y), float64 [2] (a copy)."""
        return self._goal.copy()

    def is_free(self, position: np.ndarray) -> bool:
        """Whether the agent disc centred at `position` [2] is in the arena and off the walls."""
        x, y = float(position[0]), float(position[1])
        r = self._radius
        if not (r <= x <= 1 - r and r <= y <= 1 - r):
            return False
        return not any(x0 < x < x1 and y0 < y < y1 for x0, x1, y0, y1 in self._inflated)

    def sample_free_position(self, rng: np.random.Generator, room: int | None = None) -> np.ndarray:
        """A free position float64 [2], uniform over free space (of `room` if given)."""
        if room is not None and room not in range(self.num_rooms):
            raise ConfigError(f"room must be in 0..{self.num_rooms - 1} or None, got {room!r}")
        r = self._radius
        while True:
            p = rng.uniform(r, 1 - r, size=2)
            if self.is_free(p) and (room is None or self.room_of(p) == room):
                return p

    def _move(self, velocity: np.ndarray) -> None:
        """Move the agent by `velocity` [2], x then y, clamped against inflated walls and arena."""
        r = self._radius
        x, y = float(self._agent[0]), float(self._agent[1])
        dx, dy = float(velocity[0]), float(velocity[1])
        nx = x + dx
        for x0, x1, y0, y1 in self._inflated:
            if y0 < y < y1:
                if dx > 0 and x <= x0:
                    nx = min(nx, x0)
                elif dx < 0 and x >= x1:
                    nx = max(nx, x1)
        x = min(max(nx, r), 1 - r)
        ny = y + dy
        for x0, x1, y0, y1 in self._inflated:
            if x0 < x < x1:
                if dy > 0 and y <= y0:
                    ny = min(ny, y0)
                elif dy < 0 and y >= y1:
                    ny = max(ny, y1)
        y = min(max(ny, r), 1 - r)
        self._agent[0], self._agent[1] = x, y

    def reset_options(self, start: np.ndarray, goal: np.ndarray) -> dict[str, np.ndarray] | None:
        """Reset options putting the agent at true state `start` [2] with the goal at `goal` [2]."""
        return {
            "agent": np.asarray(start[:2], np.float64),
            "goal": np.asarray(goal[:2], np.float64),
        }

    # --- gymnasium ----------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode; options may hold "agent" and/or "goal" (x, y) to place them exactly."""
        super().reset(seed=seed)
        options = {} if options is None else options
        unknown = sorted(set(options) - {"agent", "goal"})
        if unknown:
            raise ConfigError(f"{type(self).__name__}.reset options has unknown key(s) {unknown}")
        for key in ("agent", "goal"):
            if key in options:
                p = np.asarray(options[key], dtype=np.float64)
                if p.shape != (2,) or not self.is_free(p):
                    raise ConfigError(
                        f"{type(self).__name__}.reset {key} position {options[key]!r} is not free"
                    )
                position = p.copy()
            else:
                position = self.sample_free_position(self.np_random)
            if key == "agent":
                self._agent = position
            else:
                self._goal = position
        self._steps = 0
        return self._observation(), self._info()

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Move by clip(action [2], -1, 1) * max_speed; reward = -distance to the goal."""
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        self._move(a * self._max_speed)
        self._steps += 1
        info = self._info()
        terminated = info["is_success"]
        truncated = self._steps >= self._max_steps
        return self._observation(), -info["distance"], terminated, truncated, info

    def render(self) -> np.ndarray:
        """The current frame, uint8 [size, size, 3] (a new array)."""
        return self.render_at(self._agent)

    # --- rendering ----------------------------------------------------------------------------
    def goal_pixels(self) -> np.ndarray:
        """What the agent sees standing at the goal, uint8 [size, size, 3]."""
        return self.render_at(self._goal)

    def render_at(self, position: np.ndarray) -> np.ndarray:
        """The frame with the agent at `position` [2], uint8 [size, size, 3] (a new array)."""
        size, k = self._size, self._patch
        cx, cy = float(position[0]) * size, float(position[1]) * size
        i0 = int(math.floor(cy - self._radius_px - 1))
        j0 = int(math.floor(cx - self._radius_px - 1))
        frame = self._background.copy()
        ia, ib = max(i0, 0), min(i0 + k, size)
        ja, jb = max(j0, 0), min(j0 + k, size)
        if ia >= ib or ja >= jb:
            return frame
        dy = self._offsets[ia - i0 : ib - i0] + (i0 - cy)
        dx = self._offsets[ja - j0 : jb - j0] + (j0 - cx)
        dist = np.sqrt(dy[:, None] ** 2 + dx[None, :] ** 2)
        cover = np.clip(self._radius_px + 0.5 - dist, 0.0, 1.0)[:, :, None]
        bg = self._background_f[ia:ib, ja:jb]
        frame[ia:ib, ja:jb] = (bg + cover * (self._agent_rgb - bg) + 0.5).astype(np.uint8)
        return frame

    def _observation(self) -> dict[str, np.ndarray]:
        return {"pixels": self.render_at(self._agent), "state": self._agent.astype(np.float32)}

    def _info(self) -> dict[str, Any]:
        distance = float(np.linalg.norm(self._agent - self._goal))
        return {
            "goal_state": self._goal.astype(np.float32),
            "distance": distance,
            "is_success": distance <= self._success_radius,
        }


def render_background(
    size: int, walls: tuple[Rect, ...], floor: np.ndarray | None = None
) -> np.ndarray:
    """Floor with anti-aliased walls (exact pixel-area coverage), uint8 [size, size, 3]."""
    edges = np.arange(size + 1, dtype=np.float64) / size
    lo, hi = edges[:-1], edges[1:]
    coverage = np.zeros((size, size))
    for x0, x1, y0, y1 in walls:
        cover_x = np.clip(np.minimum(hi, x1) - np.maximum(lo, x0), 0.0, None) * size
        cover_y = np.clip(np.minimum(hi, y1) - np.maximum(lo, y0), 0.0, None) * size
        coverage += cover_y[:, None] * cover_x[None, :]
    coverage = np.clip(coverage, 0.0, 1.0)[:, :, None]
    floor = np.asarray(FLOOR_RGB) if floor is None else floor
    wall = np.asarray(WALL_RGB)
    return (floor + coverage * (wall - floor) + 0.5).astype(np.uint8)
