"""Learning from interaction on TwoRoom: success round by round from a small seed dataset.

1. seed data: `--seed-fraction` (default 1 %: 10 episodes, 1,000 steps) of the demo recipe's
   episodes, collected like the demo's; a world model trained on it with the demo recipe (round 0,
   shared by both runs). At 5 % the seed model already reaches 100 % on this protocol (measured),
   which leaves nothing to learn from interaction, hence 1 %;
2. `ami live` twice from that model, `--rounds` rounds of `--episodes` goals each: with uniform
   goals (drawn like the protocol's) and with novel goals (the least visited, measured in memory);
   every step goes to memory, the model is fine-tuned on all of memory each round, the actor is
   distilled and acts in `auto` mode from round 2 on;
3. the reference: the benchmark table's TwoRoom model (the same recipe on the full 1,000
   episodes), measured on the same protocol.
Success is the planner's on the anchor protocol (50 episodes, fixed seeds) after each round.
The seed data, the round-0 model and the reference model come from the cache (`--cache`,
trained there when absent); the live runs are the benchmark's own (`live/seed-N/<goals>/`).

Writes benchmarks/results/live.json and live_curve.png.
Run: python -m benchmarks.live  (≈ 25 min on 2 cores; make bench-live)
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from typing import Any

import torch

from ami.evaluation.protocols import protocol_by_name
from ami.evaluation.runner import evaluate
from ami.live import LiveConfig, run_live
from ami.live.plot import plot_live_curves
from ami.model import WorldModel
from ami.pipeline import make_agent
from ami.recipes import world_settings
from benchmarks.cache import (
    WORLD_RECIPES,
    add_cache_argument,
    experience,
    scratch,
    trained_model,
)
from benchmarks.results_file import RESULTS, write_results

WORLD = "two_room"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-fraction", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--episodes", type=int, default=40)
    add_cache_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(2)
    started = time.perf_counter()
    recipe = WORLD_RECIPES[WORLD]
    device = torch.device("cpu")
    seed_episodes = max(1, round(args.seed_fraction * recipe.collect.episodes))
    folder = scratch(args.cache, "live") / f"seed-{seed_episodes}"
    # round 0: the recipe's model trained on the seed data (a recipe of its own in the cache)
    seed_collect = replace(recipe.collect, episodes=seed_episodes)
    seed_recipe = replace(recipe, name=f"{recipe.name}_seed_{seed_episodes}", collect=seed_collect)
    seed_data = experience(seed_collect, args.cache)
    checkpoint = trained_model(seed_recipe, args.cache, device)
    strategies = {}
    for goals in ("uniform", "novel"):
        config = LiveConfig(rounds=args.rounds, episodes=args.episodes, goals=goals, mode="auto")
        out = folder / goals
        state = run_live(recipe, config, out, seed_data, device, True, init_model=checkpoint)
        rounds = state["rounds"]
        strategies[goals] = {
            "env_steps": [r["env_steps"] for r in rounds],
            "success_rate": [r["success_rate"] for r in rounds],
            "random_success_rate": [r["random_success_rate"] for r in rounds],
            "acted": [r.get("acted") for r in rounds],
            "minutes_per_round": [r["minutes"] for r in rounds],
        }
        print(goals, strategies[goals]["env_steps"], strategies[goals]["success_rate"], flush=True)
    full_checkpoint = trained_model(recipe, args.cache, device)
    full_model = WorldModel.load(full_checkpoint)
    protocol = protocol_by_name("goal_25_steps", 50, WORLD)
    reference = evaluate(
        protocol, make_agent(full_model, recipe), world_overrides=world_settings(recipe)
    )
    full_steps = recipe.collect.episodes * recipe.collect.steps_per_episode
    document: dict[str, Any] = {
        WORLD: {
            **{k: strategies["uniform"][k] for k in ("env_steps", "success_rate")},
            "offline_full_data_success_rate": reference.success_rate,
            "offline_full_data_env_steps": full_steps,
            "seed_episodes": seed_episodes,
            "seed_fraction": args.seed_fraction,
            "strategies": strategies,
            "live": {"rounds": args.rounds, "episodes": args.episodes, "mode": "auto"},
            "protocol": protocol.as_dict(),
            "seed_model": checkpoint,
            "offline_full_data_model": full_checkpoint,
            "note": "top-level curve: uniform goals (the `ami live` default)",
        },
        "minutes": (time.perf_counter() - started) / 60,
    }
    curves = {
        f"{name} goals": (s["env_steps"], s["success_rate"]) for name, s in strategies.items()
    }
    plot_live_curves(
        curves,
        RESULTS / "live_curve.png",
        reference.success_rate,
        "TwoRoom, anchor protocol",
    )
    write_results("live", document)
    print(json.dumps(document[WORLD], indent=2, default=str)[:2000])


if __name__ == "__main__":
    main()
