"""The graph of places on a known maze: routes follow the doors, forbidden places are avoided."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ami.errors import GoalUnreachableError
from ami.memory import Memory
from ami.memory.place_graph import PlaceGraph, PlaceGraphConfig
from ami.worlds.maze import MazeConfig, maze_layout
from fakes import remember_maze_wandering

CONFIG = MazeConfig()
LAYOUT = maze_layout(CONFIG)


def room_of(position: np.ndarray) -> int:
    col, row = (np.minimum(position * 3, 2.999)).astype(int)
    return int(row * 3 + col)


@pytest.fixture(scope="module")
def memory(tmp_path_factory: pytest.TempPathFactory) -> Memory:
    """Memory of expert wandering in the maze, with the true position as the 'embedding'."""
    memory = Memory.open(tmp_path_factory.mktemp("graph") / "memory.db")
    remember_maze_wandering(memory, "state")
    return memory


def same_room(z_from: np.ndarray, z_to: np.ndarray) -> np.ndarray:
    """A stand-in for the world model's reachability judge: nearby places in the same room."""
    return np.array([room_of(a) == room_of(b) for a, b in zip(z_from, z_to, strict=True)])


LINKED = PlaceGraphConfig(stride=5, link_radius=0.1)


def test_lived_edges_alone_keep_episodes_apart(memory: Memory) -> None:
    graph = PlaceGraph.build(memory, "state", PlaceGraphConfig(stride=5))
    kinds = {kind for _, _, kind in graph.graph.edges(data="kind")}
    assert kinds == {"lived"}
    import networkx as nx

    assert nx.number_weakly_connected_components(graph.graph) == 12  # one per episode


def test_route_goes_through_the_doors_of_the_layout(memory: Memory) -> None:
    graph = PlaceGraph.build(memory, "state", LINKED, reachable=same_room)
    start, goal = np.array([1 / 6, 1 / 6]), np.array([5 / 6, 5 / 6])
    route = graph.route(start, goal)
    positions = graph.subgoals(route)
    assert room_of(positions[0]) == 0 and room_of(positions[-1]) == 8
    assert np.linalg.norm(positions[-1] - goal) < 0.1
    for a, b in zip(positions, positions[1:], strict=False):
        assert np.linalg.norm(a - b) <= 5 * 0.03 * 2**0.5 + 1e-6  # 5 steps at most, or < 0.1
        ra, rb = room_of(a), room_of(b)
        if ra != rb:  # rooms change only between rooms joined by a door
            assert (min(ra, rb), max(ra, rb)) in LAYOUT.doors
    rooms = [room_of(p) for p in positions]
    visited = [r for i, r in enumerate(rooms) if i == 0 or r != rooms[i - 1]]
    assert visited == LAYOUT.room_path(0, 8)  # a tree: the only way through the rooms


def test_imagined_edges_are_added_only_where_the_judge_accepts(memory: Memory) -> None:
    lived = PlaceGraph.build(memory, "state", PlaceGraphConfig(stride=5))

    def same_room(z_from: np.ndarray, z_to: np.ndarray) -> np.ndarray:
        return np.array([room_of(a) == room_of(b) for a, b in zip(z_from, z_to, strict=True)])

    graph = PlaceGraph.build(
        memory, "state", PlaceGraphConfig(stride=5, link_radius=0.1), reachable=same_room
    )
    imagined = [(a, b) for a, b, kind in graph.graph.edges(data="kind") if kind == "imagined"]
    assert imagined and graph.graph.number_of_edges() > lived.graph.number_of_edges()
    for a, b in imagined:
        assert room_of(graph.embeddings[a]) == room_of(graph.embeddings[b])


def test_forbidden_places_are_never_on_a_route(memory: Memory) -> None:
    graph = PlaceGraph.build(memory, "state", LINKED, reachable=same_room)
    path = LAYOUT.room_path(0, 8)
    lava = LAYOUT.door_centre(path[1], path[2])  # a door every route 0 -> 8 must pass
    blocked = graph.without_near(lava[None], radius=0.08)
    with pytest.raises(GoalUnreachableError, match="no remembered way"):
        blocked.route(np.array([1 / 6, 1 / 6]), np.array([5 / 6, 5 / 6]))
    # A goal on the near side of the lava is still reachable, and the route keeps away from it.
    near_side = graph.subgoals(graph.route(np.array([1 / 6, 1 / 6]), lava))[-3]
    route = blocked.subgoals(blocked.route(np.array([1 / 6, 1 / 6]), near_side))
    assert np.linalg.norm(route - lava, axis=1).min() > 0.08


def test_an_empty_graph_says_so(tmp_path: Path) -> None:
    with Memory.open(tmp_path / "empty.db") as memory:
        graph = PlaceGraph.build(memory, "state")
        with pytest.raises(GoalUnreachableError, match="empty"):
            graph.route(np.zeros(2), np.ones(2))


def test_episodes_are_linked_where_each_ones_own_steps_are_nearer(tmp_path: Path) -> None:
    # Two parallel walks 0.3 apart, each lived step 0.1 long: every node's nearest nodes are its
    # own episode's, already joined by lived edges; the nearest of the other walk is the one to ask.
    memory = Memory.open(tmp_path / "memory.db")
    session = memory.begin_session("line")
    for offset in (0.0, 0.3):
        episode = memory.begin_episode(session, "line")
        walk = np.stack([np.arange(20) * 0.02, np.full(20, offset)], axis=1).astype(np.float32)
        memory.remember(episode, np.arange(20), np.zeros((20, 2), np.float32), walk, "line")
    config = PlaceGraphConfig(stride=5, neighbours=2, link_radius=0.35)
    graph = PlaceGraph.build(memory, "line", config, reachable=lambda a, b: np.ones(len(a), bool))
    imagined = [(a, b) for a, b, kind in graph.graph.edges(data="kind") if kind == "imagined"]
    across = [(a, b) for a, b in imagined if graph.embeddings[a][1] != graph.embeddings[b][1]]
    assert across  # were the lived neighbours the candidates, no edge would join the walks
    memory.close()
