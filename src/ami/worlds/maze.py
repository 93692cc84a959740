"""Maze: a grid of rooms (3×3 by default) joined by doors; most goals are several rooms away.

The layout comes from `layout_seed`: a random spanning tree of the room grid (randomised
depth-first search) plus `extra_doors` extra connections, with each door at a random place along
its wall. A spanning tree makes the maze a tree of rooms: between two rooms there is exactly one
way, often around several walls, so a greedy straight-line approach gets stuck. Physics and
rendering are `WalledArena`'s (the agent never passes through a wall); rooms get faint floor
tints (`room_tints`) that help an encoder tell them apart.

Room `i` is row `i // rooms`, column `i % rooms`; rows go down (y), columns right (x).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ami.config import require_in_range, require_positive
from ami.errors import ConfigError
from ami.worlds.walled_arena import FLOOR_RGB, Rect, WalledArena

Door = tuple[int, int]  # (room a, room b) with a < b


@dataclass(frozen=True)
class MazeConfig:
    """Layout, geometry and episode settings of the maze (lengths in arena units).

    Attributes:
        size: rendered image side in pixels (>= 16).
        rooms: rooms per side (the grid is rooms × rooms, >= 2).
        layout_seed: seed of the spanning tree and the door positions.
        extra_doors: doors added beyond the spanning tree (loops in the room graph).
        wall_thickness: interior wall thickness.
        door_width: width of each door gap.
        max_speed: arena units per step per axis at |action| = 1.
        agent_radius: collision and rendering radius of the agent.
        success_radius: success distance to the goal.
        max_episode_steps: steps before `truncated`.
        room_tints: faint per-room floor tints.
    """

    size: int = 64
    rooms: int = 3
    layout_seed: int = 0
    extra_doors: int = 0
    wall_thickness: float = 0.03
    door_width: float = 0.1
    max_speed: float = 0.03
    agent_radius: float = 0.02
    success_radius: float = 0.02
    max_episode_steps: int = 500
    room_tints: bool = True

    def __post_init__(self) -> None:
        owner = "MazeConfig"
        if not isinstance(self.size, int) or self.size < 16:
            raise ConfigError(f"{owner}.size must be an integer >= 16, got {self.size!r}")
        if not isinstance(self.rooms, int) or not 2 <= self.rooms <= 8:
            raise ConfigError(f"{owner}.rooms must be an integer in [2, 8], got {self.rooms!r}")
        for name in ("layout_seed", "extra_doors", "max_episode_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"{owner}.{name} must be an integer, got {value!r}")
        require_positive(owner, "max_episode_steps", self.max_episode_steps)
        for name in ("agent_radius", "success_radius", "wall_thickness"):
            require_positive(owner, name, getattr(self, name))
        require_in_range(owner, "max_speed", self.max_speed, 1e-6, 1.0)
        spare = (self.rooms - 1) ** 2  # adjacent room pairs beyond a spanning tree
        if not 0 <= self.extra_doors <= spare:
            raise ConfigError(
                f"{owner}.extra_doors must be in [0, {spare}] for {self.rooms}x{self.rooms} rooms, "
                f"got {self.extra_doors!r}"
            )
        room = 1.0 / self.rooms
        if not room - self.wall_thickness > 2 * self.agent_radius:
            raise ConfigError(
                f"{owner}.agent_radius {self.agent_radius!r} leaves no room for the agent between "
                f"walls of thickness {self.wall_thickness!r} in rooms of side {room}"
            )
        # A door keeps wall_thickness + agent_radius from each corner, so it never opens
        # onto a perpendicular wall.
        widest = room - 2 * (self.wall_thickness + self.agent_radius)
        if not 2 * self.agent_radius < self.door_width < widest:
            raise ConfigError(
                f"{owner}.door_width must be in (2 * agent_radius, room side - 2 * (wall + "
                f"agent_radius)) = ({2 * self.agent_radius}, {widest}), got {self.door_width!r}"
            )


@dataclass(frozen=True)
class MazeLayout:
    """Which rooms are joined, and where each door's centre lies along its wall."""

    rooms: int
    doors: dict[Door, float]  # door -> position of its centre along the shared wall

    def neighbours(self, room: int) -> list[int]:
        """Rooms joined to `room` by a door."""
        return sorted(b if a == room else a for a, b in self.doors if room in (a, b))

    def room_path(self, start: int, goal: int) -> list[int]:
        """The shortest chain of rooms from `start` to `goal` (both included), by BFS."""
        previous = {start: start}
        queue = deque([start])
        while queue:
            room = queue.popleft()
            if room == goal:
                break
            for other in self.neighbours(room):
                if other not in previous:
                    previous[other] = room
                    queue.append(other)
        if goal not in previous:
            raise ConfigError(f"room {goal} cannot be reached from room {start}")
        path = [goal]
        while path[-1] != start:
            path.append(previous[path[-1]])
        return path[::-1]

    def door_centre(self, a: int, b: int) -> np.ndarray:
        """The middle of the door between adjacent joined rooms `a` and `b`, float64 [2]."""
        key = (min(a, b), max(a, b))
        if key not in self.doors:
            raise ConfigError(f"rooms {a} and {b} are not joined by a door")
        n, (low, high) = self.rooms, key
        along = self.doors[key]
        if high - low == 1:  # side by side: a vertical wall at the right edge of `low`
            return np.array([(low % n + 1) / n, along])
        return np.array([along, (low // n + 1) / n])  # one above the other: a horizontal wall


def maze_layout(config: MazeConfig) -> MazeLayout:
    """The layout `config.layout_seed` describes (deterministic)."""
    n, rng = config.rooms, np.random.default_rng(config.layout_seed)
    adjacent = [(a, a + 1) for a in range(n * n) if a % n < n - 1]
    adjacent += [(a, a + n) for a in range(n * n - n)]
    visited, stack, tree = {0}, [0], set()
    while stack:  # randomised depth-first search: a spanning tree of the room grid
        room = stack[-1]
        options = [b for a, b in _pairs_of(room, adjacent) if b not in visited]
        if not options:
            stack.pop()
            continue
        other = int(rng.choice(options))
        tree.add((min(room, other), max(room, other)))
        visited.add(other)
        stack.append(other)
    spare = [pair for pair in adjacent if pair not in tree]
    rng.shuffle(spare)
    chosen = sorted(tree) + sorted(spare[: config.extra_doors])
    side = 1.0 / n
    margin = config.door_width / 2 + config.wall_thickness + config.agent_radius
    doors = {}
    for a, b in chosen:
        first = (a // n) * side if b - a == 1 else (a % n) * side  # start of the shared wall
        doors[(a, b)] = float(first + rng.uniform(margin, side - margin))
    return MazeLayout(n, doors)


def _pairs_of(room: int, adjacent: list[Door]) -> list[Door]:
    return [(room, b) for a, b in adjacent if a == room] + [
        (room, a) for a, b in adjacent if b == room
    ]


def maze_walls(config: MazeConfig, layout: MazeLayout) -> tuple[Rect, ...]:
    """Interior wall rectangles (x0, x1, y0, y1), each wall split around its door if it has one."""
    n, half, side = config.rooms, config.wall_thickness / 2, 1.0 / config.rooms
    half_door = config.door_width / 2
    walls: list[Rect] = []
    for a in range(n * n):
        row, col = divmod(a, n)
        if col < n - 1:  # wall to the right of room a
            x, y0, y1 = (col + 1) * side, row * side - half, (row + 1) * side + half
            door = layout.doors.get((a, a + 1))
            spans = [(y0, y1)] if door is None else [(y0, door - half_door), (door + half_door, y1)]
            walls += [(x - half, x + half, lo, hi) for lo, hi in spans]
        if row < n - 1:  # wall below room a
            y, x0, x1 = (row + 1) * side, col * side - half, (col + 1) * side + half
            door = layout.doors.get((a, a + n))
            spans = [(x0, x1)] if door is None else [(x0, door - half_door), (door + half_door, x1)]
            walls += [(lo, hi, y - half, y + half) for lo, hi in spans]
    return tuple(
        (max(x0, 0.0), min(x1, 1.0), max(y0, 0.0), min(y1, 1.0)) for x0, x1, y0, y1 in walls
    )


def _tinted_floor(config: MazeConfig) -> np.ndarray:
    """Floor colours float [size, size, 3]: each room a faint tint of the TwoRoom floor."""
    size, n = config.size, config.rooms
    floor = np.broadcast_to(np.asarray(FLOOR_RGB), (size, size, 3)).copy()
    tints = np.random.default_rng(1234).uniform(-14.0, 10.0, (n * n, 3))
    centres = (np.arange(size) + 0.5) / size
    index = np.minimum((centres * n).astype(int), n - 1)
    rooms = index[:, None] * n + index[None, :]  # [size(y), size(x)]
    return floor + tints[rooms]


class Maze(WalledArena):
    """A grid of rooms joined by doors; reach a goal position (see `WalledArena`)."""

    def __init__(self, config: MazeConfig | None = None, render_mode: str | None = "rgb_array"):
        """Build the maze from `config` (its layout from `config.layout_seed`)."""
        self.config = config if config is not None else MazeConfig()
        c = self.config
        self.layout = maze_layout(c)
        super().__init__(
            maze_walls(c, self.layout),
            c.size,
            c.max_speed,
            c.agent_radius,
            c.success_radius,
            c.max_episode_steps,
            render_mode,
            _tinted_floor(c) if c.room_tints else None,
        )

    @property
    def num_rooms(self) -> int:
        """Rooms × rooms."""
        return self.config.rooms**2

    def room_of(self, position: np.ndarray) -> int:
        """Row-major index of the room holding `position` [2]."""
        return room_index(position, self.config.rooms)

    def room_graph(self) -> dict[int, list[int]]:
        """Room → rooms joined to it by a door (sorted)."""
        return {room: self.layout.neighbours(room) for room in range(self.num_rooms)}

    def shortest_room_path(self, a: int, b: int) -> list[int]:
        """The fewest-doors chain of rooms from room `a` to room `b`, both included (BFS)."""
        return self.layout.room_path(self._room_arg(a), self._room_arg(b))

    def room_distance(self, a: int, b: int) -> int:
        """Doors to pass from room `a` to room `b`."""
        return len(self.shortest_room_path(a, b)) - 1

    def door_waypoints(self, a: int, b: int) -> np.ndarray:
        """The middle of the door between adjacent joined rooms `a` and `b`, float64 [2]."""
        return self.layout.door_centre(self._room_arg(a), self._room_arg(b))

    def _room_arg(self, room: int) -> int:
        if not isinstance(room, (int, np.integer)) or not 0 <= room < self.num_rooms:
            raise ConfigError(f"room must be in 0..{self.num_rooms - 1}, got {room!r}")
        return int(room)


def room_index(position: np.ndarray, rooms: int) -> int:
    """Row-major index of the room of `position` [2] in a `rooms` × `rooms` grid."""
    col = min(max(int(float(position[0]) * rooms), 0), rooms - 1)
    row = min(max(int(float(position[1]) * rooms), 0), rooms - 1)
    return row * rooms + col
