"""Far goals in gymnasium-robotics' PointMaze_Large: routes through remembered places vs flat MPC.

The world ami was not written for, the way a user's would go: the recipe derived from the world
(`ami.world_recipe`, the demo preset adapted), data from the colored-noise explorer (PointMaze has
no scripted expert), a model trained on it (kept in the benchmark cache). Then:

1. a memory session: the explorer wanders `--memory-episodes` fresh episodes; every step goes into
   a fresh memory, embedded by the model, and the graph of places is built from it (lived edges
   plus the model's imagined ones), as `benchmarks.maze` does in ami's own Maze;
2. the generic `goal_K_steps` v1 protocol with far goals (K = 100 by default: the goal is the frame
   100 steps later in a held-out explorer episode, budget 2K, success = the ball within 0.45 of
   the goal position; starts already within it are refused and counted), with flat latent MPC
   and with the hierarchical agent (the same model and planner for each stretch), each beside
   the random and zero-action floors on the same episodes.

The world is framed as `ami.worlds.gym_framing` frames it: PointMaze's goal marker hidden, since
with the marker drawn every episode's places lay apart in embedding and no route linked two
episodes. The reachability judge is calibrated on the memory's lived 5-step pairs
(`ImaginedReachability.calibrated`, the median miss). A goal that no remembered route leads to
sends the hierarchical agent straight at the goal (flat MPC); such episodes are counted. Writes
benchmarks/results/point_maze_far.json.

Run: python -m benchmarks.point_maze_far   (needs `pip install gymnasium-robotics`; about 45 min
on 2 CPU cores: 4 min collection, 10 min training, 10-15 min per agent)
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from ami.agent import PlanningAgent
from ami.agent.hierarchical import HierarchicalAgent, HierarchyConfig
from ami.errors import GoalUnreachableError
from ami.evaluation.protocols import protocol_by_name
from ami.evaluation.runner import evaluate
from ami.experience import CollectConfig, collect
from ami.memory import Memory
from ami.memory.place_graph import PlaceGraph, PlaceGraphConfig
from ami.model import WorldModel
from ami.pipeline import make_agent
from ami.planning.reachability import ImaginedReachability
from ami.recipes import Recipe, world_settings
from ami.world_recipe import recipe_for_world
from benchmarks.cache import add_cache_argument, model_facts, scratch, trained_model
from benchmarks.results_file import write_results

WORLD = "gym:gymnasium_robotics:PointMaze_Large-v3"
OPTIONS: dict[str, Any] = {"max_episode_steps": 100}
MODEL_VERSION = "point-maze-large"


def recipe(quick: bool, goal_marker: bool = False) -> Recipe:
    """The recipe a user's `ami demo --world gym:...PointMaze_Large-v3` derives, colored data.

    `goal_marker` draws PointMaze's goal ball, which the world's framing hides.
    """
    options = {**OPTIONS, "hidden_sites": []} if goal_marker else OPTIONS
    derived = recipe_for_world(WORLD, options, "demo")
    collect_config = replace(derived.collect, policy="colored", episodes=30 if quick else 400)
    train = replace(derived.train, steps=50) if quick else derived.train
    return replace(
        derived,
        name="point-maze-large"
        + ("-quick" if quick else "")
        + ("-goal-marker" if goal_marker else ""),
        collect=collect_config,
        train=train,
    )


class RoutedOrFlat:
    """The hierarchical agent; where no remembered route leads to the goal, flat MPC towards it."""

    def __init__(self, hierarchical: HierarchicalAgent, flat: PlanningAgent) -> None:
        self.hierarchical, self.flat = hierarchical, flat
        self.unrouted = 0
        self._flat_now = False

    @property
    def plan_seconds(self) -> list[float]:
        """The planner's seconds per call (the same planner serves both modes)."""
        return self.flat.plan_seconds

    def begin(self, goal_pixels: np.ndarray) -> None:
        """Start towards `goal_pixels` through the graph."""
        self._flat_now = False
        self._goal_pixels = goal_pixels
        self.hierarchical.begin(goal_pixels)

    def act(self, pixels: np.ndarray) -> np.ndarray:
        """The hierarchical agent's action, or flat MPC's once no route was found."""
        if not self._flat_now:
            try:
                return self.hierarchical.act(pixels)
            except GoalUnreachableError:
                self._flat_now, self.unrouted = True, self.unrouted + 1
                self.flat.begin(self._goal_pixels)
        return self.flat.act(pixels)


def remember_session(
    memory: Memory, model: WorldModel, world_options: dict[str, Any], episodes: int, seed: int
) -> None:
    """The explorer wanders `episodes` fresh episodes; every step is remembered, embedded."""
    session = memory.begin_session(MODEL_VERSION)
    config = CollectConfig(
        world=WORLD,
        episodes=episodes,
        steps_per_episode=world_options["max_episode_steps"],
        policy="colored",
        seed=seed,
        image_size=model.config.encoder.image_size,
        world_options=world_options,
    )
    for episode in collect(config, progress=False):
        episode_id = memory.begin_episode(session, WORLD)
        frames = episode.pixels[:-1]
        with torch.no_grad():
            pixels = torch.from_numpy(frames).permute(0, 3, 1, 2)[None].to(model.device)
            z = model.encode(pixels)[0].cpu().numpy()
        memory.remember(
            episode_id, np.arange(len(frames)), episode.actions, z, MODEL_VERSION, frames
        )


def place_graph(memory: Memory, model: WorldModel) -> tuple[PlaceGraph, float, dict[str, Any]]:
    """The graph of remembered places, the embedding distance of 5 lived steps, its facts."""
    ids, z, episodes, _ = memory.embeddings_by_episode(MODEL_VERSION)
    same = episodes[5:] == episodes[:-5]
    lived = np.linalg.norm(z[5:] - z[:-5], axis=1)[same]
    scale = float(np.median(lived))
    # the judge accepts pairs the model reaches as well as the median lived 5-step pair
    judge = ImaginedReachability.calibrated(
        model, model.config.frameskip, z[:-5][same][::5], z[5:][same][::5], quantile=0.5
    )
    graph = PlaceGraph.build(
        memory, MODEL_VERSION, PlaceGraphConfig(stride=5, link_radius=1.5 * scale), judge
    )
    kinds = [kind for *_, kind in graph.graph.edges(data="kind")]
    places = graph.embeddings
    gap = np.linalg.norm(places[:, None] - places[None], axis=-1)
    episode_of = dict(zip(ids.tolist(), episodes.tolist(), strict=True))
    node_episodes = np.array([episode_of[int(step)] for step in graph.steps])
    facts = {
        "remembered_steps": int(len(z)),
        "places": graph.graph.number_of_nodes(),
        "edges": len(kinds),
        "imagined_edges": kinds.count("imagined"),
        "imagined_edges_between_episodes": sum(
            kind == "imagined" and bool(node_episodes[a] != node_episodes[b])
            for a, b, kind in graph.graph.edges(data="kind")
        ),
        "five_step_embedding_distance": scale,
        "judge_threshold": judge.threshold,
        "nearest_place_of_another_episode_median": float(
            np.median(np.where(node_episodes[:, None] == node_episodes[None], np.inf, gap).min(1))
        ),
    }
    return graph, scale, facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny data and training, 5 episodes")
    parser.add_argument("--episodes", type=int, default=50, help="goal episodes")
    parser.add_argument("--goal-steps", type=int, default=100, help="K of goal_K_steps")
    parser.add_argument("--memory-episodes", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2, help="collection processes")
    parser.add_argument(
        "--goal-marker",
        action="store_true",
        help="draw the goal ball the framing hides (writes point_maze_far_goal_marker.json)",
    )
    add_cache_argument(parser)
    args = parser.parse_args()
    torch.manual_seed(0)
    warnings.filterwarnings("ignore", module="gymnasium_robotics")
    began = time.perf_counter()
    chosen = recipe(args.quick, args.goal_marker)
    checkpoint = trained_model(chosen, args.cache, collect_workers=args.workers)
    model = WorldModel.load(checkpoint)
    path = scratch(args.cache, "point_maze_far") / f"memory-{model.version()}.db"
    for leftover in path.parent.glob(path.name + "*"):  # a fresh memory, WAL files included
        leftover.unlink()
    with Memory.open(path) as memory:
        episodes = 5 if args.quick else args.memory_episodes
        remember_session(memory, model, chosen.collect.world_options, episodes, 4_000_000)
        graph, scale, graph_facts = place_graph(memory, model)
    print(f"graph: {graph_facts}", flush=True)
    protocol = protocol_by_name(
        f"goal_{args.goal_steps}_steps", 5 if args.quick else args.episodes, WORLD
    )
    overrides = world_settings(chosen)  # its pixel size and framing (goal marker hidden)
    hierarchy = HierarchyConfig(lookahead=3, reached=0.5 * scale, patience=40)
    routed = RoutedOrFlat(
        HierarchicalAgent(make_agent(model, chosen), graph, hierarchy), make_agent(model, chosen)
    )
    rows: dict[str, Any] = {}
    for name, agent in (("flat", make_agent(model, chosen)), ("hierarchical", routed)):
        started = time.perf_counter()
        result = evaluate(protocol, agent, world_overrides=overrides)
        rows[name] = {**result.as_dict(), "eval_minutes": (time.perf_counter() - started) / 60}
        print(
            f"{name}: {result.success_rate:.0%} (random {result.random_success_rate:.0%}, zero "
            f"action {result.zero_success_rate:.0%}, {result.episodes} episodes)",
            flush=True,
        )
    rows["hierarchical"]["episodes_without_route"] = routed.unrouted
    facts = model_facts(checkpoint)
    document = {
        "question": "Do routes through remembered places reach far goals in a maze ami was not "
        "written for, where flat latent MPC fails?",
        "world": WORLD,
        "world_kwargs": chosen.collect.world_options,
        "protocol": f"goal_{args.goal_steps}_steps v1 (ami.evaluation.protocols)",
        "quick": args.quick,
        "goal_marker_drawn": args.goal_marker,
        "collection": {"policy": "colored", "episodes": chosen.collect.episodes},
        "train_steps": facts.get("train_steps"),
        "collect_minutes": facts.get("collect_minutes"),
        "train_minutes": facts.get("train_minutes"),
        "memory": {"episodes": args.memory_episodes, "seed": 4_000_000, **graph_facts},
        "hierarchy": {"lookahead": 3, "reached": 0.5 * scale, "patience": 40},
        "agents": rows,
        "minutes": (time.perf_counter() - began) / 60,
        "load_average_at_end_1_5_15_min": os.getloadavg(),
    }
    name = (
        "point_maze_far"
        + ("_quick" if args.quick else "")
        + ("_goal_marker" if args.goal_marker else "")
    )
    print(f"wrote {write_results(name, document)}")


if __name__ == "__main__":
    main()
