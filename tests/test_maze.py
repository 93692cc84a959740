"""The Maze world: walls hold, the layout is a connected tree of rooms, the expert wanders far."""

from __future__ import annotations

import numpy as np
import pytest

from ami.errors import ConfigError
from ami.experience import CollectConfig, collect
from ami.experience.maze_expert import MazeExpert
from ami.worlds import make
from ami.worlds.maze import Maze, MazeConfig, maze_layout


def inside_a_wall(world: Maze, position: np.ndarray) -> bool:
    x, y = position
    return any(x0 < x < x1 and y0 < y < y1 for x0, x1, y0, y1 in world._inflated)


def test_adversarial_pushes_never_enter_or_cross_a_wall() -> None:
    env = make("maze", max_episode_steps=10_000)
    world = env.unwrapped
    rng = np.random.default_rng(0)
    directions = [
        np.array(d, np.float32)
        for d in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1))
    ]
    # Start next to every wall rectangle's corners and push in every direction, also randomly.
    for x0, x1, y0, y1 in world._inflated:
        for corner in ((x0, y0), (x0, y1), (x1, y0), (x1, y1)):
            start = np.clip(np.array(corner) + rng.normal(0, 0.01, 2), 0.03, 0.97)
            if not world.is_free(start):
                continue
            env.reset(
                options={
                    "agent": start,
                    "goal": (0.5, 0.5)
                    if world.is_free((0.5, 0.5))
                    else world.sample_free_position(rng),
                }
            )
            for action in directions * 3 + list(rng.uniform(-1, 1, (20, 2)).astype(np.float32)):
                before = world.agent_position()
                for _ in range(5):
                    env.step(action)
                after = world.agent_position()
                assert not inside_a_wall(world, after)
                if world.room_of(before) != world.room_of(after):
                    rooms = {world.room_of(before), world.room_of(after)}
                    a, b = min(rooms), max(rooms)
                    # Changing rooms is only possible through a door of the layout.
                    assert (a, b) in world.layout.doors
                    assert np.linalg.norm(world.layout.door_centre(a, b) - after) < 0.2


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_layout_is_a_connected_tree_of_rooms(seed: int) -> None:
    layout = maze_layout(MazeConfig(layout_seed=seed))
    assert len(layout.doors) == 8  # a spanning tree of 9 rooms
    for goal in range(9):
        path = layout.room_path(0, goal)
        assert path[0] == 0 and path[-1] == goal
        for a, b in zip(path, path[1:], strict=False):
            assert (min(a, b), max(a, b)) in layout.doors


def test_layout_seed_decides_the_layout() -> None:
    assert maze_layout(MazeConfig(layout_seed=3)) == maze_layout(MazeConfig(layout_seed=3))
    assert maze_layout(MazeConfig(layout_seed=3)).doors != maze_layout(MazeConfig()).doors
    assert len(maze_layout(MazeConfig(extra_doors=2)).doors) == 10


def test_the_door_path_leads_from_the_first_room_to_the_last() -> None:
    env = make("maze", max_episode_steps=10_000)
    world = env.unwrapped
    start, goal = np.array([1 / 6, 1 / 6]), np.array([5 / 6, 5 / 6])
    obs, _ = env.reset(options={"agent": start, "goal": goal})
    walker = MazeExpert(world.config, noise=0.0)
    walker.reset(np.random.default_rng(0))
    walker._waypoints = walker.plan(start, goal)
    assert world.room_distance(0, 8) >= 2
    for _ in range(2000):
        obs, _, terminated, _, _ = env.step(walker(obs, {}))
        if terminated:
            break
    assert terminated and world.room_of(world.agent_position()) == 8


def test_reset_places_agent_and_goal_and_refuses_walls() -> None:
    env = make("maze")
    obs, info = env.reset(options={"agent": (0.1, 0.1), "goal": (0.9, 0.9)})
    np.testing.assert_allclose(obs["state"], [0.1, 0.1], atol=1e-7)
    np.testing.assert_allclose(info["goal_state"], [0.9, 0.9], atol=1e-7)
    with pytest.raises(ConfigError, match="not free"):
        env.reset(options={"agent": (1 / 3, 0.05)})  # inside the wall between rooms 0 and 1


def test_same_seed_same_pixels_and_rooms_look_different() -> None:
    a, b = make("maze"), make("maze")
    actions = np.random.default_rng(1).uniform(-1, 1, (30, 2)).astype(np.float32)
    a.reset(seed=5), b.reset(seed=5)
    for action in actions:
        np.testing.assert_array_equal(a.step(action)[0]["pixels"], b.step(action)[0]["pixels"])
    world = a.unwrapped
    frame = world.render_at(np.array([0.5, 0.5]))
    assert not np.array_equal(frame[5, 5], frame[58, 58])  # room tints differ


def test_expert_visits_many_rooms() -> None:
    config = CollectConfig(world="maze", episodes=4, steps_per_episode=300, policy="expert")
    visited = []
    for episode in collect(config, progress=False):
        n = 3
        rooms = {int(min(y * n, 2)) * n + int(min(x * n, 2)) for x, y in episode.states}
        visited.append(len(rooms))
    assert sum(v >= 4 for v in visited) >= 3, visited


def test_bad_config_values() -> None:
    with pytest.raises(ConfigError, match="rooms"):
        MazeConfig(rooms=1)
    with pytest.raises(ConfigError, match="door_width"):
        MazeConfig(door_width=0.01)
    with pytest.raises(ConfigError, match="extra_doors"):
        MazeConfig(extra_doors=-1)
