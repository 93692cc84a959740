"""A noisy scripted walker for the Maze that wanders across many rooms (for data collection)."""

from __future__ import annotations

import numpy as np

from ami.experience.policies import WaypointWalker
from ami.worlds.maze import MazeConfig, maze_layout, room_index


class MazeExpert(WaypointWalker):
    """Walks to random targets anywhere in the maze along the room path, through the doors.

    For each pair of consecutive rooms on the (unique in a tree) room path it passes a point in
    front of the door, the door's middle and a point behind it. Actions are the saturated step to
    the next waypoint plus Gaussian noise of std `noise`, clipped to [-1, 1]. It reads only
    `obs["state"]` and the config, as a scripted data-collection expert may (the learning agent
    never sees the state).
    """

    def __init__(
        self, config: MazeConfig, noise: float = 0.3, reach: float = 0.02, patience: int = 200
    ) -> None:
        """Build the walker.

        Args:
            config: the maze (its layout is recomputed from the layout seed).
            noise: action noise std.
            reach: a waypoint this close counts as reached.
            patience: steps after which an unreached target is replaced.
        """
        super().__init__(config.max_speed, noise, reach, patience)
        self.config = config
        self.layout = maze_layout(config)
        self._front = config.wall_thickness / 2 + config.agent_radius + 0.03

    def room_of(self, position: np.ndarray) -> int:
        """Row-major room index of `position` [2]."""
        return room_index(position, self.config.rooms)

    def plan(self, position: np.ndarray, target: np.ndarray) -> list[np.ndarray]:
        """Waypoints from `position` to `target` through the doors of the room path."""
        rooms = self.layout.room_path(self.room_of(position), self.room_of(target))
        waypoints = []
        for here, there in zip(rooms, rooms[1:], strict=False):
            door = self.layout.door_centre(here, there)
            normal = np.array([1.0, 0.0]) if abs(there - here) == 1 else np.array([0.0, 1.0])
            sign = 1.0 if there > here else -1.0
            waypoints += [
                door - sign * self._front * normal,
                door,
                door + sign * self._front * normal,
            ]
        return [*waypoints, target]

    def sample_target(self, position: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A target uniform inside a uniformly chosen room, away from its walls."""
        n = self.config.rooms
        room = int(rng.integers(n * n))
        row, col = divmod(room, n)
        margin = self.config.wall_thickness / 2 + self.config.agent_radius + 0.01
        side = 1.0 / n
        return np.array(
            [
                rng.uniform(col * side + margin, (col + 1) * side - margin),
                rng.uniform(row * side + margin, (row + 1) * side - margin),
            ]
        )
