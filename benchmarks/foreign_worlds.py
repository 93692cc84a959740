"""ami on Gymnasium worlds it was not written for: Reacher-v5 (MuJoCo) and PointMaze.

Each world goes the way a user's would: a recipe derived from the world (`ami.world_recipe`, the
demo preset adapted: action size frameskip x A), data collected by an exploration policy (no
scripted expert exists), a model trained on it (kept in the benchmark cache), then planning on
the generic `goal_K_steps` v1 protocol (`ami.evaluation.protocols`): held-out pink-noise
episodes, the start reached by checked replay or the simulator's state, success by the world's
goal distance (Reacher's fingertip within 0.02 m, PointMaze's ball within 0.45), beside the random
and zero-action floors on the same episodes. PointMaze is also asked for far goals
(`goal_50_steps`, budget 100). Writes benchmarks/results/foreign_worlds.json.

Run: python -m benchmarks.foreign_worlds   (needs `pip install gymnasium-robotics` for PointMaze;
about 1 hour on 2 CPU cores: Reacher collects for 6 min and trains for 27 min on a busy
machine, PointMaze for 3 and 9 min, each evaluation takes 3-6 min)
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import replace
from typing import Any

import torch

from ami.errors import DependencyMissingError
from ami.evaluation.protocols import protocol_by_name
from ami.evaluation.runner import evaluate
from ami.model import WorldModel
from ami.pipeline import make_agent
from ami.recipes import Recipe, world_settings
from ami.world_recipe import recipe_for_world
from ami.worlds import make, measure_steps_per_second
from benchmarks.cache import add_cache_argument, model_facts, trained_model
from benchmarks.results_file import write_results

# world -> (gym.make keywords, collection policy, episodes, protocols)
WORLDS: dict[str, tuple[dict[str, Any], str, int, tuple[str, ...]]] = {
    # Reacher-v5's TimeLimit is 50 steps; 100-step episodes as the demo recipe collects
    "gym:Reacher-v5": ({"max_episode_steps": 100}, "colored", 600, ("goal_25_steps",)),
    "gym:gymnasium_robotics:PointMaze_Medium-v3": (
        {"max_episode_steps": 100},
        "colored",
        300,
        ("goal_25_steps", "goal_50_steps"),
    ),
}


def world_recipe(world: str, quick: bool) -> Recipe:
    """The recipe a user's `ami demo --world WORLD` would derive, with the benchmark's data."""
    options, policy, episodes, _ = WORLDS[world]
    recipe = recipe_for_world(world, options, "demo")
    slug = world.split(":")[-1].lower().replace("_", "-")
    collect = replace(recipe.collect, policy=policy, episodes=20 if quick else episodes)
    train = replace(recipe.train, steps=50) if quick else recipe.train
    name = f"foreign-{slug}" + ("-quick" if quick else "")
    return replace(recipe, name=name, collect=collect, train=train)


def measure(world: str, args: argparse.Namespace) -> dict[str, Any]:
    """One world's row: env speed, training facts, success on each protocol and its floors."""
    _, policy, _, protocols = WORLDS[world]
    recipe = world_recipe(world, args.quick)
    options = recipe.collect.world_options  # the benchmark's, and the world's framing
    env = make(world, **world_settings(recipe))
    steps_per_second = measure_steps_per_second(env, steps=200, seed=0)
    env.close()
    checkpoint = trained_model(recipe, args.cache, collect_workers=args.workers)
    model = WorldModel.load(checkpoint)
    facts = model_facts(checkpoint)
    row: dict[str, Any] = {
        "world_kwargs": options,
        "policy": policy,
        "episodes_collected": recipe.collect.episodes,
        "steps_per_episode": recipe.collect.steps_per_episode,
        "env_steps_per_second_64px": steps_per_second,
        "train_steps": facts.get("train_steps"),
        "collect_minutes": facts.get("collect_minutes"),
        "train_minutes": facts.get("train_minutes"),
        "checkpoint": checkpoint,
        "protocols": {},
    }
    agent = make_agent(model, recipe)
    for name in protocols:
        protocol = protocol_by_name(name, 5 if args.quick else args.episodes, world)
        started = time.perf_counter()
        result = evaluate(protocol, agent, world_overrides=world_settings(recipe))
        row["protocols"][name] = {
            **result.as_dict(),
            "eval_minutes": (time.perf_counter() - started) / 60,
        }
        print(
            f"{world} {name}: agent {result.success_rate:.0%}, random "
            f"{result.random_success_rate:.0%}, zero action {result.zero_success_rate:.0%} "
            f"({result.episodes} episodes)",
            flush=True,
        )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny data and training, 5 episodes")
    parser.add_argument("--episodes", type=int, default=50, help="episodes per protocol")
    parser.add_argument("--workers", type=int, default=2, help="collection processes")
    parser.add_argument("--world", action="append", help="only this world (repeatable)")
    add_cache_argument(parser)
    args = parser.parse_args()
    torch.manual_seed(0)
    warnings.filterwarnings("ignore", module="gymnasium_robotics")
    rows: dict[str, Any] = {}
    for world in args.world or list(WORLDS):
        try:
            rows[world] = measure(world, args)
        except DependencyMissingError as missing:
            rows[world] = {"not_measured": str(missing)}
            print(f"{world}: not measured ({missing})", flush=True)
    name = "foreign_worlds_quick" if args.quick else "foreign_worlds"
    document = {
        "question": "Does ami train and plan on Gymnasium worlds it was not written for, "
        "against the random and zero-action floors?",
        "protocol": "goal_K_steps v1 (ami.evaluation.protocols)",
        "worlds": rows,
    }
    print(f"wrote {write_results(name, document)}")


if __name__ == "__main__":
    main()
