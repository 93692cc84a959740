"""TwoRoom: a disc agent in two rooms joined by a door, rendered with numpy only.

The arena is the unit square, x to the right and y downwards. A vertical wall centred at x = 0.5
spans the full height except a door gap. Physics and rendering are `WalledArena`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ami.config import require_in_range, require_positive
from ami.errors import ConfigError
from ami.worlds.walled_arena import AGENT_RGB, FLOOR_RGB, WALL_RGB, WalledArena

__all__ = ["AGENT_RGB", "FLOOR_RGB", "WALL_RGB", "TwoRoom", "TwoRoomConfig"]


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


class TwoRoom(WalledArena):
    """Two rooms joined by a door; reach a goal position (see `WalledArena` for the contract)."""

    def __init__(self, config: TwoRoomConfig | None = None, render_mode: str | None = "rgb_array"):
        """Build the world.

        Args:
            config: Geometry and episode settings; the defaults when None.
            render_mode: "rgb_array" or None; `render()` returns the current frame either way.
        """
        self.config = config if config is not None else TwoRoomConfig()
        c = self.config
        half_t, half_d = c.wall_thickness / 2, c.door_width / 2
        # Wall rectangles (x0, x1, y0, y1): above and below the door.
        walls = (
            (0.5 - half_t, 0.5 + half_t, 0.0, c.door_center - half_d),
            (0.5 - half_t, 0.5 + half_t, c.door_center + half_d, 1.0),
        )
        super().__init__(
            walls,
            c.size,
            c.max_speed,
            c.agent_radius,
            c.success_radius,
            c.max_episode_steps,
            render_mode,
        )

    @property
    def num_rooms(self) -> int:
        """Two rooms: 0 left, 1 right."""
        return 2

    @property
    def door_waypoint(self) -> np.ndarray:
        """The door's centre, float64 [2] = (0.5, door_center)."""
        return np.array([0.5, self.config.door_center])

    def room_of(self, position: np.ndarray) -> int:
        """Room of a position [2]: 0 left (x < 0.5), 1 right."""
        return 0 if float(position[0]) < 0.5 else 1
