"""How the planner's choices matter, measured on a trained model.

Variants: the goal energy reduced over the horizon by its minimum (closest approach, the default),
its mean ("sum") or its last step; and planning all k·A numbers of each action block instead of one
held action. On TwoRoom (the default) the demo's model on the cross-room protocol, written to
benchmarks/results/planner_ablation.json; with `--world push_t|reacher` the benchmark table's
model of that world on its anchor protocol, written to
benchmarks/results/planner_ablation_WORLD.json. The model is `--model` (a checkpoint folder with
its run's recipe.json beside it), else the world's from the cache (`--cache`; trained there when
absent: the demo recipe's on TwoRoom, the table's recipe elsewhere). `--family budget` compares
CEM searches instead: a shorter horizon and a larger search (samples x iterations)
(planner_ablation_WORLD_budget.json); `--family search` keeps the recipe's horizon and widens the
search: more samples, more iterations, a longer horizon (planner_ablation_WORLD_search.json).

    python -m benchmarks.planner_ablation                   # make ablation
    python -m benchmarks.planner_ablation --model ami-demo/run/checkpoint
    python -m benchmarks.planner_ablation --world reacher
    python -m benchmarks.planner_ablation --world push_t --family budget
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ami.evaluation.protocols import protocol_by_name, two_room_cross_room
from ami.evaluation.runner import evaluate
from ami.model import WorldModel
from ami.pipeline import make_agent
from ami.recipes import PlannerConfig, load_recipe, world_settings
from benchmarks.cache import add_cache_argument, trained_model
from benchmarks.results_file import write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", choices=["two_room", "push_t", "reacher"], default="two_room")
    parser.add_argument("--model", type=Path, default=None, help="checkpoint folder")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument(
        "--family",
        choices=["cost", "budget", "search"],
        default="cost",
        help="cost: how the energy is reduced over the horizon, held or free block actions; "
        "budget: CEM's horizon, samples and iterations, and bf16 rollouts (file *_budget.json); "
        "search: a wider CEM search at the recipe's horizon, or a longer one (*_search.json)",
    )
    add_cache_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(2)
    checkpoint = args.model or trained_model(args.world, args.cache)
    recipe = load_recipe(checkpoint.parent / "recipe.json")
    if args.world == "two_room":
        protocol, out = two_room_cross_room(args.episodes), "planner_ablation"
    else:
        protocol = protocol_by_name("goal_25_steps", args.episodes, args.world)
        out = f"planner_ablation_{args.world}"
    model = WorldModel.load(checkpoint)
    families = {"cost": cost_variants, "budget": budget_variants, "search": search_variants}
    variants = families[args.family](recipe.planner)
    if args.family != "cost":
        out = f"{out}_{args.family}"
    rows = {}
    for name, variant in variants.items():
        started = time.perf_counter()
        result = evaluate(
            protocol,
            make_agent(model, replace(recipe, planner=variant)),
            progress=False,
            world_overrides=world_settings(recipe),
        )
        rows[name] = {
            "success_rate": result.success_rate,
            "random_success_rate": result.random_success_rate,
            "plan_ms_per_call": result.plan_ms_per_call,
            "mean_steps_to_success": result.mean_steps_to_success,
            "other_success_rates": result.other_success_rates,
            "mean_final_distance": float(np.mean(result.final_distances)),
            "random_mean_final_distance": float(np.mean(result.random_final_distances)),
            "seconds": time.perf_counter() - started,
        }
        print(
            f"{name:28s} success {100 * result.success_rate:5.1f} %  "
            f"random {100 * result.random_success_rate:4.1f} %  "
            f"{result.plan_ms_per_call:6.1f} ms/plan  "
            f"{result.mean_steps_to_success:5.1f} steps",
            flush=True,
        )
    document = {"protocol": protocol.as_dict(), "model": checkpoint, "variants": rows}
    write_results(out, document)


def cost_variants(planner: PlannerConfig) -> dict[str, PlannerConfig]:
    """The goal energy reduced by its minimum, mean or last step; held or free block actions."""
    return {
        "min (default)": planner,
        "sum": replace(planner, cost=replace(planner.cost, reduce="sum")),
        "last": replace(planner, cost=replace(planner.cost, reduce="last")),
        "min, all k*A block actions": replace(planner, hold_actions=False),
    }


def budget_variants(planner: PlannerConfig) -> dict[str, PlannerConfig]:
    """CEM with a shorter horizon, and a larger search (LeWM plans with 300 samples, horizon 5).

    (bf16 rollouts are not among them: on this CPU one PushT episode's plans took 10.8 s each
    under bf16 autocast, beside a training job, against table.json's 0.56 s in fp32.)
    """

    c = planner.solver.cem
    return {
        f"cem {c.samples}x{c.iterations}, H5": _cem(planner, 5, c.samples, c.iterations),
        "cem 300x10, H5": _cem(planner, 5, 300, 10),
    }


def search_variants(planner: PlannerConfig) -> dict[str, PlannerConfig]:
    """CEM searching wider (2x samples, 2x iterations) or further (1.5x horizon) than the recipe."""
    c, horizon = planner.solver.cem, planner.mpc.horizon
    return {
        f"cem {2 * c.samples}x{c.iterations}, H{horizon}": _cem(
            planner, horizon, 2 * c.samples, c.iterations
        ),
        f"cem {c.samples}x{2 * c.iterations}, H{horizon}": _cem(
            planner, horizon, c.samples, 2 * c.iterations
        ),
        f"cem {c.samples}x{c.iterations}, H{horizon * 3 // 2}": _cem(
            planner, horizon * 3 // 2, c.samples, c.iterations
        ),
    }


def _cem(planner: PlannerConfig, horizon: int, samples: int, iterations: int) -> PlannerConfig:
    """`planner` with CEM of `samples` x `iterations` (a tenth as elites) over `horizon` steps."""
    cem = replace(planner.solver.cem, samples=samples, elites=samples // 10, iterations=iterations)
    return replace(
        planner,
        solver=replace(planner.solver, name="cem", cem=cem),
        mpc=replace(planner.mpc, horizon=horizon),
    )


if __name__ == "__main__":
    main()
