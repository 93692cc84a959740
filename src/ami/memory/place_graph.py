"""The graph of places: remembered moments as nodes, lived and imagined transitions as edges.

Nodes are remembered steps, sub-sampled every `stride` steps of each episode. Edges are
- *lived*: consecutive nodes of an episode (the agent went from one to the other in `stride`
  steps; cost = `stride`), both ways when `symmetric_lived` (the worlds here are reversible);
- *imagined*: pairs of nearby nodes (in embedding) that a `reachable` judge accepts, typically the
  world model checking by imagined rollouts that one is reachable from the other within a few
  steps (cost = `imagined_cost`).
Shortest paths (networkx's Dijkstra) give chains of sub-goals far beyond one planning horizon.
Places the agent must never enter (remembered moments with a forbidden label) are constraints:
every node within `forbidden_radius` of one is removed with all its edges, so no route passes
through them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from ami.config import require_non_negative, require_positive
from ami.errors import GoalUnreachableError
from ami.memory.store import Memory

Reachable = Callable[[np.ndarray, np.ndarray], np.ndarray]  # z_from [K, D], z_to [K, D] -> bool [K]


@dataclass(frozen=True)
class PlaceGraphConfig:
    """How the graph is built.

    Attributes:
        stride: keep every `stride`-th remembered step of an episode as a node.
        symmetric_lived: add each lived edge in both directions.
        neighbours: candidates per node for imagined edges (nearest in embedding).
        link_radius: only nodes closer than this (embedding distance) are candidates.
        imagined_cost: cost of an imagined edge (in env steps).
        forbidden_radius: nodes this close (embedding distance) to a forbidden moment are removed.
    """

    stride: int = 5
    symmetric_lived: bool = True
    neighbours: int = 8
    link_radius: float = 1.0
    imagined_cost: float = 5.0
    forbidden_radius: float = 0.5

    def __post_init__(self) -> None:
        for name in ("stride", "neighbours", "imagined_cost"):
            require_positive("PlaceGraphConfig", name, getattr(self, name))
        for name in ("link_radius", "forbidden_radius"):
            require_non_negative("PlaceGraphConfig", name, getattr(self, name))


class PlaceGraph:
    """Remembered places and the ways between them; `route` finds chains of sub-goals."""

    def __init__(self, steps: np.ndarray, embeddings: np.ndarray, graph: nx.DiGraph) -> None:
        """Args: steps: node step ids `[M]`; embeddings: `float32 [M, D]`; graph: on 0..M-1."""
        self.steps, self.embeddings, self.graph = steps, embeddings, graph

    @classmethod
    def build(
        cls,
        memory: Memory,
        model_version: str,
        config: PlaceGraphConfig = PlaceGraphConfig(),
        reachable: Reachable | None = None,
    ) -> PlaceGraph:
        """Nodes and lived edges from every episode in `memory`; imagined edges if `reachable`."""
        steps, embeddings, episodes, times = memory.embeddings_by_episode(model_version)
        keep = times % config.stride == 0
        steps, embeddings, episodes, times = (a[keep] for a in (steps, embeddings, episodes, times))
        graph = nx.DiGraph()
        graph.add_nodes_from(range(len(steps)))
        order = np.lexsort((times, episodes))
        for a, b in zip(order, order[1:], strict=False):
            if episodes[a] == episodes[b]:
                cost = float(times[b] - times[a])
                graph.add_edge(int(a), int(b), cost=cost, kind="lived")
                if config.symmetric_lived:
                    graph.add_edge(int(b), int(a), cost=cost, kind="lived")
        if reachable is not None and len(steps) > 1:
            _add_imagined_edges(graph, embeddings, config, reachable)
        return cls(steps, embeddings, graph)

    def without_near(self, forbidden: np.ndarray, radius: float) -> PlaceGraph:
        """The graph with every node within `radius` of a forbidden embedding `[F, D]` removed."""
        if len(forbidden) == 0:
            return self
        distance = np.linalg.norm(self.embeddings[:, None, :] - forbidden[None], axis=-1).min(1)
        graph = self.graph.copy()
        graph.remove_nodes_from(np.flatnonzero(distance <= radius).tolist())
        return PlaceGraph(self.steps, self.embeddings, graph)

    def nearest(self, z: np.ndarray) -> int:
        """The node (still in the graph) whose embedding is nearest to `z [D]`."""
        alive = np.fromiter(self.graph.nodes, dtype=np.int64)
        if len(alive) == 0:
            raise GoalUnreachableError("the graph of places is empty")
        distance = np.linalg.norm(self.embeddings[alive] - z, axis=1)
        return int(alive[np.argmin(distance)])

    def route(self, z_start: np.ndarray, z_goal: np.ndarray) -> list[int]:
        """Nodes from the one nearest `z_start` to the one nearest `z_goal`, cheapest first.

        Raises:
            GoalUnreachableError: no chain of remembered places joins them.
        """
        start, goal = self.nearest(z_start), self.nearest(z_goal)
        try:
            return list(nx.dijkstra_path(self.graph, start, goal, weight="cost"))
        except nx.NetworkXNoPath as exc:
            raise GoalUnreachableError(
                f"no remembered way leads from place {start} to place {goal} "
                f"({self.graph.number_of_nodes()} places and "
                f"{self.graph.number_of_edges()} ways remembered)"
            ) from exc

    def subgoals(self, route: Sequence[int]) -> np.ndarray:
        """The embeddings `[len(route), D]` of a route's nodes (the chain of sub-goals)."""
        return self.embeddings[np.asarray(route, dtype=np.int64)]


def _add_imagined_edges(
    graph: nx.DiGraph, embeddings: np.ndarray, config: PlaceGraphConfig, reachable: Reachable
) -> None:
    """Ask `reachable` about each node's nearest neighbours and add the accepted pairs.

    The neighbours are the nearest nodes not yet linked from the node: a lived edge already joins
    the steps next to it in its episode, which would otherwise fill the candidates.
    """
    squared = np.einsum("nd,nd->n", embeddings, embeddings)
    pairs = []
    for a in range(len(embeddings)):
        distance = np.sqrt(np.maximum(squared - 2 * embeddings @ embeddings[a] + squared[a], 0))
        distance[a] = np.inf
        distance[list(graph.successors(a))] = np.inf
        k = min(config.neighbours, len(embeddings) - 1)
        near = np.argpartition(distance, k - 1)[:k]
        pairs += [(a, int(b)) for b in near if distance[b] <= config.link_radius]
    if not pairs:
        return
    sources, targets = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    accepted = reachable(embeddings[sources], embeddings[targets])
    for (a, b), ok in zip(pairs, accepted, strict=True):
        if ok:
            graph.add_edge(a, b, cost=config.imagined_cost, kind="imagined")
