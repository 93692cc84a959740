"""Far goals in the Maze: hierarchical planning through remembered places vs flat latent MPC.

1. collect Maze experience and train the demo recipe's world model on it (64×64 pixels);
2. session 1: the expert wanders 40 episodes; every step goes into a fresh memory, embedded by
   the model; the graph of places is built from it (lived edges + model-imagined edges);
3. 50 episodes with start and goal ≥ 3 rooms apart (fixed seeds): the hierarchical agent, flat
   MPC with the same model and planner, and the random policy, each with a budget of 500 steps;
4. the same episodes with "lava" in the middle of the maze: the place is labelled in memory, its
   places leave the graph and its embedding becomes a constraint of the planner, as hard
   rejection or as a penalty, at two radii; entries (true distance to the lava centre <
   LAVA_RADIUS at any env step) are counted for each.
Writes benchmarks/results/maze.json.  Run: python benchmarks/maze_bench.py  (≈ 15 min, 2 cores)
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ami.agent import PlanningAgent, RandomAgent, run_episode
from ami.agent.hierarchical import HierarchicalAgent, HierarchyConfig
from ami.experience import CollectConfig, collect
from ami.files import atomic_write_bytes
from ami.memory import Memory
from ami.memory.place_graph import PlaceGraph, PlaceGraphConfig
from ami.pipeline import make_agent, run_collect, run_train
from ami.planning import CEMConfig, ForbiddenPlaces, SolverConfig
from ami.planning.reachability import ImaginedReachability
from ami.provenance import machine_facts
from ami.recipes import DEMO
from ami.worlds import make

HERE = Path(__file__).resolve().parent
WORK = HERE / ".maze"
RESULTS = HERE / "results" / "maze.json"
EPISODES, BUDGET, MIN_ROOMS = 50, 500, 3
LAVA, LAVA_RADIUS = np.array([0.5, 0.5]), 0.06
# (constraint mode, embedding radius in units of `scale`, the embedding distance of 5 lived steps)
LAVA_VARIANTS = (("reject", 0.6), ("reject", 1.0), ("penalty", 1.0))
DEFAULT_VARIANT = "reject@1.0"  # what `forbidden_entries` reports


def recipe():
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
    torch.set_num_threads(2)
    started = time.perf_counter()
    r = recipe()
    data = WORK / "experience.h5"
    if not data.exists():
        run_collect(r.collect, data, progress=False)
    checkpoint = WORK / "run" / "checkpoint"
    train_minutes: float | None = None  # None: the model of an earlier run was loaded
    if checkpoint.exists():
        from ami.model import WorldModel

        model = WorldModel.load(checkpoint)
    else:
        model, _ = run_train(r, data, WORK / "run", torch.device("cpu"), progress=False)
        train_minutes = (time.perf_counter() - started) / 60
    flat = make_agent(model, r)
    (WORK / "memory.db").unlink(missing_ok=True)
    memory = Memory.open(WORK / "memory.db")
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
    world = make("maze").unwrapped
    lava_step = memory.remember(
        memory.begin_episode(memory.begin_session("maze-model"), "maze"),
        np.array([0]),
        np.zeros((1, 2)),
        flat.embed(world.render_at(LAVA)).numpy()[None],
        "maze-model",
    )[0]
    memory.label(lava_step, "lava")
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
        "train_minutes": train_minutes,
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
        "command": "python benchmarks/maze_bench.py",
        "minutes": (time.perf_counter() - started) / 60,
        **machine_facts(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(RESULTS, (json.dumps(document, indent=2) + "\n").encode())


if __name__ == "__main__":
    main()
