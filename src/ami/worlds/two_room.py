"""TwoRoom: a disc agent in two rooms joined by a door, rendered with numpy only.

The arena is the unit square, x to the right and y downwards (image coordinates: pixel column =
x * size, row = y * size). A vertical wall centred at x = 0.5 spans the full height except a door
gap. Collision is exact and simple: the agent disc is a point against the wall rectangles inflated
by the agent radius (and the arena shrunk by it); the point moves along x, then along y, and each
1-D move is clamped against every inflated rectangle whose other-axis span strictly contains the
point's other coordinate, so it never enters a rectangle's open interior nor jumps across one,
whatever the speed.

Rendering precomputes the anti-aliased background once; each frame copies it and alpha-blends an
anti-aliased disc only within a small patch around the agent, so sub-pixel positions show in the
image. The goal is never drawn; `goal_pixels()` is the view with the agent standing at the goal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from ami.config import require_in_range, require_positive
from ami.errors import ConfigError

FLOOR_RGB = (235.0, 235.0, 235.0)
WALL_RGB = (40.0, 40.0, 40.0)
AGENT_RGB = (220.0, 30.0, 30.0)


@dataclass(frozen=True)
class TwoRoomConfig:
    """Geometry, speed and episode length of TwoRoom (lengths in arena units, arena = [0, 1]^2).

    Attributes:
        size: Rendered image side in pixels (>= 16).
        max_speed: Arena units moved per step per axis at |action| = 1.
        wall_thickness: Thickness of the vertical wall centred at x = 0.5.
        door_center: y of the door's centre.
        door_width: Height of the door gap; must let the agent through (> 2 * agent_radius).
        agent_radius: Collision and rendering radius of the agent (a disc).
        success_radius: The episode terminates when the agent is this close to the goal.
        max_episode_steps: Steps after which an episode is truncated.
    """

    size: int = 64
    max_speed: float = 0.03
    wall_thickness: float = 0.04
    door_center: float = 0.5
    door_width: float = 0.2
    agent_radius: float = 0.025
    success_radius: float = 0.02
    max_episode_steps: int = 200

    def __post_init__(self) -> None:
        owner = "TwoRoomConfig"
        if not isinstance(self.size, int) or self.size < 16:
            raise ConfigError(f"{owner}.size must be an integer >= 16, got {self.size!r}")
        if not isinstance(self.max_episode_steps, int) or self.max_episode_steps < 1:
            raise ConfigError(
                f"{owner}.max_episode_steps must be an integer >= 1, got {self.max_episode_steps!r}"
            )
        require_in_range(owner, "max_speed", self.max_speed, 1e-6, 1.0)
        require_in_range(owner, "wall_thickness", self.wall_thickness, 1e-6, 0.5)
        require_positive(owner, "agent_radius", self.agent_radius)
        require_positive(owner, "success_radius", self.success_radius)
        require_in_range(owner, "door_width", self.door_width, 1e-6, 1.0)
        half = self.door_width / 2
        if not (half < self.door_center < 1 - half):
            raise ConfigError(
                f"{owner}.door_center must keep the door inside the arena "
                f"({half} < door_center < {1 - half}), got {self.door_center!r}"
            )
        if not self.door_width > 2 * self.agent_radius:
            raise ConfigError(
                f"{owner}.door_width must exceed 2 * agent_radius = {2 * self.agent_radius} so "
                f"the agent fits through, got {self.door_width!r}"
            )
        if not 0.5 - self.wall_thickness / 2 > 2 * self.agent_radius:
            raise ConfigError(
                f"{owner}.agent_radius {self.agent_radius!r} leaves no room for the agent "
                f"beside a wall of thickness {self.wall_thickness!r}"
            )


class TwoRoom(gymnasium.Env):
    """Two rooms joined by a door; reach a goal position. Observation: pixels and state.

    Observation: ``{"pixels": uint8 [size, size, 3], "state": float32 [2]}`` (agent x, y;
    for evaluation only). Action: float32 [2] in [-1, 1], velocity = action * max_speed.
    Info: ``{"goal_state": float32 [2], "distance": float, "is_success": bool}``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, config: TwoRoomConfig | None = None, render_mode: str | None = "rgb_array"):
        """Build the world.

        Args:
            config: Geometry and episode settings; the defaults when None.
            render_mode: "rgb_array" or None; `render()` returns the current frame either way.
        """
        self.config = config if config is not None else TwoRoomConfig()
        if render_mode not in (None, "rgb_array"):
            raise ConfigError(
                f"TwoRoom render_mode must be 'rgb_array' or None, got {render_mode!r}"
            )
        self.render_mode = render_mode
        c = self.config
        size = c.size
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = spaces.Dict(
            {
                "pixels": spaces.Box(0, 255, (size, size, 3), np.uint8),
                "state": spaces.Box(0.0, 1.0, (2,), np.float32),
            }
        )
        half_t, half_d = c.wall_thickness / 2, c.door_width / 2
        # Wall rectangles (x0, x1, y0, y1): above and below the door.
        self._walls = (
            (0.5 - half_t, 0.5 + half_t, 0.0, c.door_center - half_d),
            (0.5 - half_t, 0.5 + half_t, c.door_center + half_d, 1.0),
        )
        r = c.agent_radius
        self._inflated = tuple((x0 - r, x1 + r, y0 - r, y1 + r) for x0, x1, y0, y1 in self._walls)
        self._background = _render_background(size, self._walls)
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
    def door_waypoint(self) -> np.ndarray:
        """The door's centre, float64 [2] = (0.5, door_center)."""
        return np.array([0.5, self.config.door_center])

    def agent_position(self) -> np.ndarray:
        """The agent's (x, y), float64 [2] (a copy)."""
        return self._agent.copy()

    def goal_position(self) -> np.ndarray:
        """The goal's (x, y), float64 [2] (a copy)."""
        return self._goal.copy()

    def room_of(self, position: np.ndarray) -> int:
        """Room of a position [2]: 0 left (x < 0.5), 1 right."""
        return 0 if float(position[0]) < 0.5 else 1

    def is_free(self, position: np.ndarray) -> bool:
        """Whether the agent disc centred at `position` [2] is in the arena and off the walls."""
        x, y = float(position[0]), float(position[1])
        r = self.config.agent_radius
        if not (r <= x <= 1 - r and r <= y <= 1 - r):
            return False
        return not any(x0 < x < x1 and y0 < y < y1 for x0, x1, y0, y1 in self._inflated)

    def sample_free_position(self, rng: np.random.Generator, room: int | None = None) -> np.ndarray:
        """A free position float64 [2], uniform over free space (of `room` 0/1 if given)."""
        if room not in (None, 0, 1):
            raise ConfigError(f"room must be 0, 1 or None, got {room!r}")
        r = self.config.agent_radius
        while True:
            p = rng.uniform(r, 1 - r, size=2)
            if self.is_free(p) and (room is None or self.room_of(p) == room):
                return p

    def _move(self, velocity: np.ndarray) -> None:
        """Move the agent by `velocity` [2], x then y, clamped against inflated walls and arena."""
        r = self.config.agent_radius
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

    # --- gymnasium ----------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode; options may hold "agent" and/or "goal" (x, y) to place them exactly."""
        super().reset(seed=seed)
        options = {} if options is None else options
        unknown = sorted(set(options) - {"agent", "goal"})
        if unknown:
            raise ConfigError(f"TwoRoom.reset options has unknown key(s) {unknown}")
        for key in ("agent", "goal"):
            if key in options:
                p = np.asarray(options[key], dtype=np.float64)
                if p.shape != (2,) or not self.is_free(p):
                    raise ConfigError(f"TwoRoom.reset {key} position {options[key]!r} is not free")
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
        self._move(a * self.config.max_speed)
        self._steps += 1
        info = self._info()
        terminated = info["is_success"]
        truncated = self._steps >= self.config.max_episode_steps
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
        size, k = self.config.size, self._patch
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
            "is_success": distance <= self.config.success_radius,
        }


def _render_background(
    size: int, walls: tuple[tuple[float, float, float, float], ...]
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
    floor, wall = np.asarray(FLOOR_RGB), np.asarray(WALL_RGB)
    return (floor + coverage * (wall - floor) + 0.5).astype(np.uint8)
