"""Far goals in the Maze: hierarchical planning through remembered places vs flat latent MPC.

1. the demo recipe's world model trained on Maze experience (64×64 pixels), from the cache
   (`--cache`; collected and trained there when absent);
2. session 1: the expert wanders 40 episodes; every step goes into a fresh memory, embedded by
   the model; the graph of places is built from it (lived edges + model-imagined edges);
3. 50 episodes with start and goal ≥ 3 rooms apart (fixed seeds): the hierarchical agent, flat
   MPC with the same model and planner, and the random policy, each with a budget of 500 steps;
4. the same episodes with "lava" in the middle of the maze: the place is labelled in memory, its
   places leave the graph and its embedding becomes a constraint of the planner, as hard
   rejection or as a penalty, at two radii; entries (true distance to the lava centre <
   LAVA_RADIUS at any env step) are counted for each.
The memory of session 1 with the lava label is kept in the cache (`maze/memory-<model version>.db`)
for `benchmarks.session_reuse`, which builds it the same way (`session_memory`) when absent.
Writes benchmarks/results/maze.json.  Run: python -m benchmarks.maze  (≈ 15 min, 2 cores)
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ami.agent import PlanningAgent, RandomAgent, run_episode
from ami.agent.hierarchical import HierarchicalAgent, HierarchyConfig
from ami.experience import CollectConfig, collect
from ami.memory import Memory
from ami.memory.place_graph import PlaceGraph, PlaceGraphConfig
from ami.model import WorldModel
from ami.pipeline import make_agent
from ami.planning import CEMConfig, ForbiddenPlaces, SolverConfig
from ami.planning.reachability import ImaginedReachability
from ami.recipes import DEMO, Recipe
from ami.worlds import make
from benchmarks.cache import add_cache_argument, model_facts, scratch, trained_model
from benchmarks.results_file import write_results

EPISODES, BUDGET, MIN_ROOMS = 50, 500, 3
LAVA, LAVA_RADIUS = np.array([0.5, 0.5]), 0.06
# (constraint mode, embedding radius in units of `scale`, the embedding distance of 5 lived steps)
LAVA_VARIANTS = (("reject", 0.6), ("reject", 1.0), ("penalty", 1.0))
DEFAULT_VARIANT = "reject@1.0"  # what `forbidden_entries` reports


def recipe() -> Recipe:
    """The demo recipe on the Maze, planning with a smaller CEM."""
    planner = replace(
        DEMO.planner, solver=SolverConfig(cem=CEMConfig(samples=100, elites=10, iterations=3))
    )
    return replace(
        DEMO,
        name="maze",
        collect=replace(DEMO.collect, world="maze", episodes=1000, steps_per_episode=100),
        planner=planner,
    )


def remember_session(memory: Memory, agent: PlanningAgent, seed: int) -> None:
    """Session 1: the expert wanders; every step is remembered with the model's embedding."""
    session = memory.begin_session("maze-model")
    config = CollectConfig(
        world="maze", episodes=40, steps_per_episode=400, policy="expert", seed=seed
    )
    for episode in collect(config, progress=False):
        episode_id = memory.begin_episode(session, "maze")
        frames = episode.pixels[:-1]
        with torch.no_grad():
            pixels = torch.from_numpy(frames).permute(0, 3, 1, 2)[None]
            z = agent.model.encode(pixels)[0].numpy()
        memory.remember(
            episode_id, np.arange(len(frames)), episode.actions, z, "maze-model", frames
        )


def add_lava(memory: Memory, agent: PlanningAgent) -> None:
    """Remember the lava place (the frame at `LAVA`) in a session of its own, labelled "lava"."""
    world = make("maze").unwrapped
    lava_step = memory.remember(
        memory.begin_episode(memory.begin_session("maze-model"), "maze"),
        np.array([0]),
        np.zeros((1, 2)),
        agent.embed(world.render_at(LAVA)).numpy()[None],
        "maze-model",
    )[0]
    memory.label(lava_step, "lava")


def memory_path(cache: Path, model: WorldModel) -> Path:
    """Where session 1's memory of `model` is kept in the cache."""
    return scratch(cache, "maze") / f"memory-{model.version()}.db"


def session_memory(cache: Path) -> tuple[Path, Path]:
    """The maze model's checkpoint and the memory of session 1 with the lava, built if absent.

    The memory is what `main` leaves: the expert's session, then the lava in a session of its own.
    """
    checkpoint = trained_model(recipe(), cache)
    model = WorldModel.load(checkpoint)
    path = memory_path(cache, model)
    if path.is_file():
        with Memory.open(path, readonly=True) as memory:
            if memory.find("lava"):
                return checkpoint, path
    for leftover in path.parent.glob(path.name + "*"):  # an unfinished one, with its WAL files
        leftover.unlink()
    flat = make_agent(model, recipe())
    with Memory.open(path) as memory:
        remember_session(memory, flat, seed=4_000_000)
        add_lava(memory, flat)
    return checkpoint, path


def far_pairs(seed: int) -> list[dict]:
    world = make("maze").unwrapped
    rng = np.random.default_rng(seed)
    pairs = []
    while len(pairs) < EPISODES:
        start, goal = world.sample_free_position(rng), world.sample_free_position(rng)
        if world.room_distance(world.room_of(start), world.room_of(goal)) >= MIN_ROOMS:
            pairs.append({"agent": start, "goal": goal})
    return pairs


def success_rate(agent, pairs, lava_entries: list[int] | None = None) -> float:
    """Success over `pairs`; counts episodes that entered the lava into `lava_entries`."""
    env = make("maze", max_episode_steps=BUDGET)
    outcomes = []
    for pair in pairs:
        closest = [np.inf]

        def watch(step, closest=closest) -> None:
            closest[0] = min(closest[0], float(np.linalg.norm(step.state - LAVA)))

        outcomes.append(run_episode(env, agent, pair, BUDGET, listeners=[watch]).success)
        if lava_entries is not None and closest[0] < LAVA_RADIUS:
            lava_entries.append(1)
    return float(np.mean(outcomes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_cache_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(2)
    started = time.perf_counter()
    r = recipe()
    checkpoint = trained_model(r, args.cache, progress=False)
    model = WorldModel.load(checkpoint)
    flat = make_agent(model, r)
    path = memory_path(args.cache, model)
    for leftover in path.parent.glob(path.name + "*"):  # a fresh memory, WAL files included
        leftover.unlink()
    memory = Memory.open(path)
    remember_session(memory, flat, seed=4_000_000)
    ids, z, episodes, times = memory.embeddings_by_episode("maze-model")
    lived = np.linalg.norm(z[5:] - z[:-5], axis=1)[(episodes[5:] == episodes[:-5])]
    scale = float(np.median(lived))  # embedding distance of 5 lived steps
    judge = ImaginedReachability(model, model.config.frameskip, threshold=0.5 * scale)
    graph = PlaceGraph.build(
        memory, "maze-model", PlaceGraphConfig(stride=5, link_radius=1.5 * scale), judge
    )
    imagined = sum(1 for *_, kind in graph.graph.edges(data="kind") if kind == "imagined")
    print(
        f"memory {memory.stats()['steps']} steps; graph {graph.graph.number_of_nodes()} "
        f"places, {graph.graph.number_of_edges()} edges ({imagined} imagined); "
        f"scale {scale:.3f}",
        flush=True,
    )
    pairs = far_pairs(seed=5_000_000)
    hierarchy = HierarchyConfig(lookahead=3, reached=0.5 * scale, patience=40)
    unguarded: list[int] = []
    rates = {
        "hierarchical_success_rate": success_rate(
            HierarchicalAgent(make_agent(model, r), graph, hierarchy), pairs, unguarded
        ),
        "flat_success_rate": success_rate(flat, pairs),
        "random_success_rate": success_rate(RandomAgent(2, seed=0), pairs),
    }
    print(rates, flush=True)
    # Lava in the middle: labelled in memory, removed from the graph, a constraint of the planner.
    add_lava(memory, flat)
    z_lava = np.stack([memory.step(s)["embedding"] for s in memory.find("lava")])
    lava_pairs = [
        p
        for p in pairs
        if np.linalg.norm(p["agent"] - LAVA) > 0.15 and np.linalg.norm(p["goal"] - LAVA) > 0.15
    ]
    # The planner checks the constraint at model steps only (every 5 env steps), so the radius in
    # embedding space needs a margin for the path between two checked states; both ways of
    # turning the constraint into energy are measured at each radius.
    variants = {}
    for mode, factor in LAVA_VARIANTS:
        careful = make_agent(model, r)
        careful.constraints = ForbiddenPlaces(
            torch.as_tensor(z_lava), radius=factor * scale, mode=mode
        )
        entries: list[int] = []
        rate = success_rate(
            HierarchicalAgent(careful, graph.without_near(z_lava, factor * scale), hierarchy),
            lava_pairs,
            entries,
        )
        variants[f"{mode}@{factor}"] = {
            "mode": mode,
            "embedding_radius": factor * scale,
            "radius_in_scales": factor,
            "forbidden_entries": len(entries),
            "success_rate": rate,
        }
        print({f"{mode}@{factor}": variants[f"{mode}@{factor}"]}, flush=True)
    chosen = variants[DEFAULT_VARIANT]
    document = {
        **rates,
        "forbidden_entries": chosen["forbidden_entries"],
        "forbidden_success_rate": chosen["success_rate"],
        "forbidden_constraint": DEFAULT_VARIANT,
        "forbidden_variants": variants,
        "forbidden_episodes": len(lava_pairs),
        "forbidden_entries_without_constraints": len(unguarded),
        "lava": {"centre": LAVA.tolist(), "radius": LAVA_RADIUS},
        "episodes": EPISODES,
        "budget": BUDGET,
        "min_rooms_apart": MIN_ROOMS,
        "train_minutes": model_facts(checkpoint).get("train_minutes"),
        "model": checkpoint,
        "graph": {
            "places": graph.graph.number_of_nodes(),
            "edges": graph.graph.number_of_edges(),
            "imagined_edges": imagined,
        },
        "hierarchy": {
            "lookahead": hierarchy.lookahead,
            "reached": hierarchy.reached,
            "patience": hierarchy.patience,
        },
        "planner": "CEM 100 samples x 3 iterations, horizon 10 blocks of 5 steps, held actions",
        "minutes": (time.perf_counter() - started) / 60,
    }
    memory.close()
    write_results("maze", document)


if __name__ == "__main__":
    main()
