"""The Maze world: walls hold, rooms change only through doors, the layout is a connected tree of
rooms decided by its seed, and the expert wanders across many rooms."""

from __future__ import annotations

import numpy as np
import pytest

from ami.errors import ConfigError
from ami.experience import CollectConfig, collect
from ami.experience.maze_expert import MazeExpert
from ami.worlds import make
from ami.worlds.maze import Maze, MazeConfig, maze_layout, room_index

# ----------------------------------------------------------------------------- geometry, in words
# The walls are the interior grid lines x = k/n and y = k/n, thick `wall_thickness`, open only at
# the doors. The agent's centre keeps `agent_radius` off every wall, so along each line it is kept
# out of a band of half-width t/2 + r except within a gap of half-width w/2 - r around each door.


def gaps(world: Maze) -> tuple[dict[int, list[float]], dict[int, list[float]]]:
    """Door centres on each vertical line k (x = k/n) and each horizontal line k (y = k/n)."""
    n = world.config.rooms
    vertical: dict[int, list[float]] = {k: [] for k in range(1, n)}
    horizontal: dict[int, list[float]] = {k: [] for k in range(1, n)}
    for (a, b), along in world.layout.doors.items():
        if b - a == 1:
            vertical[a % n + 1].append(along)
        else:
            horizontal[a // n + 1].append(along)
    return vertical, horizontal


def in_gap(world: Maze, doors: list[float], along: float) -> bool:
    c = world.config  # 1e-9: the clamped position lands on the gap's edge up to rounding
    return any(abs(along - d) <= c.door_width / 2 - c.agent_radius + 1e-9 for d in doors)


def check_leg(world: Maze, fixed: float, a: float, b: float, along_x: bool) -> None:
    """An axis-aligned leg (x from a to b at y = fixed, or y from a to b at x = fixed) is legal."""
    c, n = world.config, world.config.rooms
    band = c.wall_thickness / 2 + c.agent_radius
    vertical, horizontal = gaps(world)
    crossed, alongside = (vertical, horizontal) if along_x else (horizontal, vertical)
    lo, hi = min(a, b), max(a, b)
    for k in range(1, n):
        line = k / n
        if lo < line + band and hi > line - band:  # the leg meets this wall's band
            assert in_gap(world, crossed[k], fixed), f"through a wall at {line}: {fixed}, {a}->{b}"
        if abs(fixed - line) < band:  # the leg runs inside a door passage of a wall along it
            assert in_gap(world, alongside[k], a) and in_gap(world, alongside[k], b), (fixed, a, b)


def check_move(world: Maze, prev: np.ndarray, new: np.ndarray) -> None:
    """The move x then y from `prev` to `new` never touches a wall; rooms change only in doors."""
    r = world.config.agent_radius
    assert r <= new[0] <= 1 - r and r <= new[1] <= 1 - r, f"out of the arena: {new}"
    check_leg(world, prev[1], prev[0], new[0], along_x=True)
    check_leg(world, new[0], prev[1], new[1], along_x=False)
    assert world.is_free(new)
    n = world.config.rooms
    vertical, horizontal = gaps(world)
    col0, col1 = sorted((world.room_of(prev) % n, world.room_of(new) % n))
    row0, row1 = sorted((world.room_of(prev) // n, world.room_of(new) // n))
    for k in range(col0 + 1, col1 + 1):  # crossed x = k/n at the old y
        assert in_gap(world, vertical[k], prev[1]), f"changed column outside a door: {prev}->{new}"
    for k in range(row0 + 1, row1 + 1):  # crossed y = k/n at the new x
        assert in_gap(world, horizontal[k], new[0]), f"changed row outside a door: {prev}->{new}"


def adversarial_starts(world: Maze) -> list[np.ndarray]:
    """Touching and just off every face and corner of every inflated wall, and in every door."""
    eps, c = 1e-4, world.config
    starts = []
    for x0, x1, y0, y1 in world._inflated:
        xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
        starts += [(x0, ym), (x0 - eps, ym), (x1, ym), (x1 + eps, ym)]
        starts += [(xm, y0), (xm, y0 - eps), (xm, y1), (xm, y1 + eps)]
        starts += [(x, y) for x in (x0, x1) for y in (y0, y1)]
        starts += [(x0 - eps, y0 - eps), (x1 + eps, y0 - eps), (x0 - eps, y1 + eps)]
        starts += [(x1 + eps, y1 + eps)]
    half_gap = c.door_width / 2 - c.agent_radius
    for a, b in world.layout.doors:  # the door's middle and its two jambs, seen from the passage
        centre = world.door_waypoints(a, b)
        along = np.array([0.0, 1.0]) if b - a == 1 else np.array([1.0, 0.0])
        starts += [centre, centre + half_gap * along, centre - half_gap * along]
    free = [np.array(s, np.float64) for s in starts if world.is_free(np.array(s))]
    assert len(free) > 0.6 * len(starts)  # most starts are legal positions, so they are used
    return free


DIRECTIONS = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0)]


@pytest.mark.parametrize("max_speed", [0.03, 0.3, 1.0])
def test_adversarial_pushes_never_enter_nor_cross_a_wall(max_speed: float) -> None:
    world = Maze(MazeConfig(max_speed=max_speed, max_episode_steps=10_000))
    rng = np.random.default_rng(0)
    moves = 0
    for start in adversarial_starts(world):
        plans = [np.tile(np.array(d, np.float32), (8, 1)) for d in DIRECTIONS]
        plans.append(rng.uniform(-1.5, 1.5, (40, 2)).astype(np.float32))
        for plan in plans:
            world.reset(seed=0, options={"agent": start, "goal": (0.05, 0.05)})
            np.testing.assert_array_equal(world.agent_position(), start)
            for action in plan:
                prev = world.agent_position()
                world.step(action)
                check_move(world, prev, world.agent_position())
                moves += 1
    assert moves > 20_000


def test_long_fast_random_walk_changes_rooms_only_through_doors() -> None:
    world = Maze(MazeConfig(max_speed=0.1, max_episode_steps=100_000))
    world.reset(seed=3)
    changes = 0
    for action in np.random.default_rng(1).choice([-1.0, 1.0], (10_000, 2)):
        prev = world.agent_position()
        world.step(action)
        check_move(world, prev, world.agent_position())
        changes += world.room_of(prev) != world.room_of(world.agent_position())
    assert changes > 20  # the walk went through doors, so the door checks were exercised


def test_pushing_into_a_wall_stops_at_its_face() -> None:
    world = Maze()
    vertical, _ = gaps(world)
    y = 1 / 6 if not in_gap(world, vertical[1], 1 / 6) else 0.3  # room 0's right wall, no door
    world.reset(seed=0, options={"agent": (0.1, y), "goal": (0.9, 0.9)})
    for _ in range(30):
        world.step(np.array([1.0, 0.0], np.float32))
    face = 1 / 3 - world.config.wall_thickness / 2 - world.config.agent_radius
    np.testing.assert_allclose(world.agent_position(), [face, y])


# ----------------------------------------------------------------------------- layout


def reachable(graph: dict[int, list[int]], start: int) -> set[int]:
    seen, frontier = {start}, [start]
    while frontier:
        for other in graph[frontier.pop()]:
            if other not in seen:
                seen.add(other)
                frontier.append(other)
    return seen


@pytest.mark.parametrize("seed, extra", [(0, 0), (1, 0), (2, 0), (7, 0), (3, 2), (5, 4)])
def test_room_graph_is_connected_symmetric_and_between_neighbours(seed: int, extra: int) -> None:
    world = Maze(MazeConfig(layout_seed=seed, extra_doors=extra))
    graph = world.room_graph()
    assert sorted(graph) == list(range(9))
    assert reachable(graph, 0) == set(range(9))
    assert sum(len(v) for v in graph.values()) == 2 * (8 + extra)  # a spanning tree + extras
    for a, others in graph.items():
        for b in others:
            assert a in graph[b]
            assert abs(a - b) == 3 or (abs(a - b) == 1 and a // 3 == b // 3)  # grid neighbours


def test_same_seed_same_layout_and_different_seeds_different_layouts() -> None:
    assert maze_layout(MazeConfig(layout_seed=3)) == maze_layout(MazeConfig(layout_seed=3))
    np.testing.assert_array_equal(
        Maze(MazeConfig(layout_seed=3)).render_at(np.array([0.5, 0.5])),
        Maze(MazeConfig(layout_seed=3)).render_at(np.array([0.5, 0.5])),
    )
    layouts = [maze_layout(MazeConfig(layout_seed=seed)) for seed in range(8)]
    assert len({tuple(sorted(layout.doors)) for layout in layouts}) >= 5  # which rooms are joined
    assert len({tuple(layout.doors.values()) for layout in layouts}) == 8  # where the doors are


@pytest.mark.parametrize("seed, extra", [(0, 0), (4, 0), (3, 3)])
def test_shortest_room_paths_step_through_doors_and_are_shortest(seed: int, extra: int) -> None:
    world = Maze(MazeConfig(layout_seed=seed, extra_doors=extra))
    graph = world.room_graph()
    for a in range(9):
        for b in range(9):
            path = world.shortest_room_path(a, b)
            assert path[0] == a and path[-1] == b and len(set(path)) == len(path)
            assert all(there in graph[here] for here, there in zip(path, path[1:], strict=False))
            assert world.room_distance(a, b) == len(path) - 1 == world.room_distance(b, a)
            # no shorter chain: the rooms within distance d - 1 of a do not include b
            near = {a}
            for _ in range(len(path) - 2):
                near |= {o for r in near for o in graph[r]}
            assert len(path) == 1 or b not in near


def test_door_waypoints_lie_in_the_door_between_the_two_rooms() -> None:
    world = Maze()
    step = world.config.wall_thickness / 2 + world.config.agent_radius + 1e-3
    for a, others in world.room_graph().items():
        for b in others:
            door = world.door_waypoints(a, b)
            np.testing.assert_array_equal(door, world.door_waypoints(b, a))
            assert world.is_free(door)
            normal = np.array([1.0, 0.0]) if abs(b - a) == 1 else np.array([0.0, 1.0])
            sign = 1.0 if b > a else -1.0
            assert world.room_of(door - sign * step * normal) == a
            assert world.room_of(door + sign * step * normal) == b
    with pytest.raises(ConfigError, match="not joined"):
        world.door_waypoints(0, 1)  # default layout: rooms 0 and 1 share a wall without a door
    with pytest.raises(ConfigError, match="room"):
        world.door_waypoints(0, 9)


def test_a_scripted_walk_through_the_door_waypoints_goes_from_room_0_to_room_8() -> None:
    world = Maze(MazeConfig(max_episode_steps=10_000))
    world.reset(seed=0, options={"agent": (1 / 6, 1 / 6), "goal": (5 / 6, 5 / 6)})
    path = world.shortest_room_path(0, 8)
    assert len(path) >= 4  # the default layout winds: several doors between the corners
    front = world.config.wall_thickness / 2 + world.config.agent_radius + 0.02
    waypoints = []
    for here, there in zip(path, path[1:], strict=False):
        door = world.door_waypoints(here, there)
        normal = (np.array([1.0, 0.0]) if abs(there - here) == 1 else np.array([0.0, 1.0])) * (
            1.0 if there > here else -1.0
        )
        waypoints += [door - front * normal, door, door + front * normal]
    waypoints.append(world.goal_position())
    rooms, terminated = [0], False
    for point in waypoints:
        for _ in range(200):
            delta = point - world.agent_position()
            if np.abs(delta).max() < 1e-9:
                break
            _, _, terminated, _, _ = world.step(np.clip(delta / world.config.max_speed, -1, 1))
            if world.room_of(world.agent_position()) != rooms[-1]:
                rooms.append(world.room_of(world.agent_position()))
        np.testing.assert_allclose(world.agent_position(), point, atol=1e-9)  # never blocked
    assert rooms == path and terminated


def test_a_straight_line_walk_gets_stuck_behind_a_wall() -> None:
    world = Maze()
    world.reset(seed=0, options={"agent": (1 / 6, 1 / 6), "goal": (5 / 6, 5 / 6)})
    for _ in range(300):
        delta = world.goal_position() - world.agent_position()
        world.step(np.clip(delta / world.config.max_speed, -1, 1))
    assert world.room_of(world.agent_position()) == 0


# ----------------------------------------------------------------------------- episodes


def test_reset_places_agent_and_goal_exactly() -> None:
    world = Maze()
    obs, info = world.reset(seed=5, options={"agent": (0.1, 0.25), "goal": (0.9, 0.6)})
    np.testing.assert_array_equal(world.agent_position(), [0.1, 0.25])
    np.testing.assert_array_equal(world.goal_position(), [0.9, 0.6])
    np.testing.assert_array_equal(obs["state"], np.array([0.1, 0.25], np.float32))
    np.testing.assert_array_equal(info["goal_state"], np.array([0.9, 0.6], np.float32))
    assert info["distance"] == pytest.approx(np.hypot(0.8, 0.35))


@pytest.mark.parametrize(
    "options, match",
    [({"agent": (1 / 3, 0.05)}, "agent"), ({"goal": (0.5, 2 / 3)}, "goal"),
     ({"agent": (0.01, 0.5)}, "agent"), ({"goal": (0.5, 1.2)}, "goal"),
     ({"agent": (0.2, 0.2, 0.2)}, "agent"), ({"start": (0.2, 0.2)}, "start")],
)  # fmt: skip
def test_reset_refuses_positions_that_are_not_free(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Maze().reset(seed=0, options=options)


def test_same_seed_same_episode_and_another_seed_another() -> None:
    actions = np.random.default_rng(1).uniform(-1, 1, (40, 2)).astype(np.float32)
    runs = []
    for seed in (5, 5, 6):
        world = Maze()
        obs, info = world.reset(seed=seed)
        trace = [obs["pixels"], obs["state"], info["goal_state"]]
        trace += [world.step(action)[0]["pixels"] for action in actions]
        runs.append(trace)
    for a, b in zip(runs[0], runs[1], strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(runs[0][1], runs[2][1])


def test_observation_contract_and_goal_view() -> None:
    world = Maze()
    obs, info = world.reset(seed=0, options={"agent": (0.2, 0.2), "goal": (0.75, 0.8)})
    assert world.observation_space.contains(obs) and obs["pixels"].shape == (64, 64, 3)
    assert obs["state"].dtype == np.float32 and info["goal_state"].dtype == np.float32
    assert isinstance(info["distance"], float) and info["is_success"] is False
    np.testing.assert_array_equal(obs["pixels"], world.render_at(np.array([0.2, 0.2])))
    np.testing.assert_array_equal(world.goal_pixels(), world.render_at(np.array([0.75, 0.8])))
    other, _ = world.reset(seed=0, options={"agent": (0.2, 0.2), "goal": (0.25, 0.1)})
    np.testing.assert_array_equal(obs["pixels"], other["pixels"])  # the goal is not drawn


def test_success_terminates_at_the_stated_radius() -> None:
    world = Maze()
    world.reset(seed=0, options={"agent": (0.5, 0.5), "goal": (0.5, 0.519)})
    _, reward, terminated, truncated, info = world.step(np.zeros(2, np.float32))
    assert terminated and info["is_success"] and not truncated
    assert reward == pytest.approx(-0.019)
    world.reset(seed=0, options={"agent": (0.5, 0.5), "goal": (0.5, 0.521)})
    _, _, terminated, _, info = world.step(np.zeros(2, np.float32))
    assert not terminated and not info["is_success"]


def test_truncation_at_max_episode_steps() -> None:
    world = Maze(MazeConfig(max_episode_steps=4))
    world.reset(seed=0, options={"agent": (0.1, 0.1), "goal": (0.9, 0.9)})
    assert [world.step(np.zeros(2, np.float32))[3] for _ in range(4)] == [False] * 3 + [True]


def test_sampled_positions_are_free_and_in_the_requested_room() -> None:
    world = Maze()
    rng = np.random.default_rng(0)
    for room in range(9):
        points = [world.sample_free_position(rng, room) for _ in range(30)]
        assert all(world.is_free(p) and world.room_of(p) == room for p in points)
    assert {world.room_of(world.sample_free_position(rng)) for _ in range(300)} == set(range(9))
    with pytest.raises(ConfigError, match="room"):
        world.sample_free_position(rng, 9)


def test_room_tints_tell_rooms_apart_and_can_be_turned_off() -> None:
    tinted, plain = Maze(), Maze(MazeConfig(room_tints=False))
    away = np.array([0.02, 0.98])  # the agent drawn in a corner, away from the sampled pixels
    floors = tinted.render_at(away)[[10, 10, 32, 54], [10, 54, 32, 10]]  # (row, column) pairs
    assert len({tuple(rgb) for rgb in floors}) == 4  # rooms 0, 2, 4, 6 all look different
    np.testing.assert_array_equal(plain.render_at(away)[[10, 10, 32], [10, 54, 32]], 235)


# ----------------------------------------------------------------------------- expert


def test_expert_wanders_across_many_rooms_and_acts_in_bounds() -> None:
    world = Maze(MazeConfig(max_episode_steps=300))
    expert = MazeExpert(world.config)
    counts = []
    for seed in range(5):
        obs, _ = world.reset(seed=seed)
        expert.reset(np.random.default_rng(seed))
        rooms = {world.room_of(world.agent_position())}
        for _ in range(300):
            action = expert(obs, {})
            assert action.dtype == np.float32 and action.shape == (2,)
            assert np.abs(action).max() <= 1.0
            obs, _, _, truncated, _ = world.step(action)
            rooms.add(world.room_of(world.agent_position()))
        assert truncated
        counts.append(len(rooms))
    assert sum(count >= 4 for count in counts) >= 4, counts


def test_expert_is_deterministic_under_its_rng() -> None:
    expert = MazeExpert(MazeConfig())
    obs = {"state": np.array([0.2, 0.2], np.float32)}
    actions = []
    for _ in range(2):
        expert.reset(np.random.default_rng(3))
        actions.append([expert(obs, {}) for _ in range(5)])
    np.testing.assert_array_equal(actions[0], actions[1])


def test_collect_uses_the_maze_expert() -> None:
    config = CollectConfig(world="maze", episodes=3, steps_per_episode=300, policy="expert")
    rooms = [{room_index(state, 3) for state in episode.states} for episode in collect(config)]
    assert all(len(visited) >= 3 for visited in rooms), rooms


# ----------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "overrides, field",
    [({"rooms": 1}, "rooms"), ({"rooms": 2.5}, "rooms"), ({"size": 8}, "size"),
     ({"door_width": 0.03}, "door_width"), ({"door_width": 0.25}, "door_width"),
     ({"extra_doors": -1}, "extra_doors"), ({"extra_doors": 5}, "extra_doors"),
     ({"layout_seed": 1.5}, "layout_seed"), ({"max_speed": 0.0}, "max_speed"),
     ({"agent_radius": 0.0}, "agent_radius"), ({"wall_thickness": -0.01}, "wall_thickness"),
     ({"max_episode_steps": 0}, "max_episode_steps"), ({"doors": 3}, "doors")],
)  # fmt: skip
def test_bad_config_is_a_config_error_naming_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        make("maze", **overrides)
