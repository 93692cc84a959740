"""Does the multi-step (imagined-rollout) loss help? Train a recipe with and without it.

For each rollout weight, trains the recipe (same data, seed and steps) and evaluates it. TwoRoom
(the default): the demo recipe on both TwoRoom protocols; writes
benchmarks/results/multistep_ablation.json. `--world push_t|reacher`: the benchmark table's
recipe on the anchor protocol (50 episodes, the recipe's solver); writes
benchmarks/results/multistep_ablation_WORLD.json. Every model comes from the cache (`--cache`;
trained there when absent): the recipe's own weight is the recipe's model (the demo's, the
table's), every other weight a recipe of its own (`<recipe>_rollout_<W>`) on the same data.

    python -m benchmarks.multistep_ablation --rollout-weights 0 0.5
    python -m benchmarks.multistep_ablation --world push_t --rollout-weights 0 0.5
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from ami.evaluation.protocols import protocol_by_name, two_room_cross_room, two_room_goal_25_steps
from ami.evaluation.runner import evaluate
from ami.model import WorldModel
from ami.pipeline import make_agent
from ami.recipes import DEMO, Recipe, world_settings
from benchmarks.cache import WORLD_RECIPES, add_cache_argument, model_facts, trained_model
from benchmarks.results_file import write_results


def with_rollout_weight(recipe: Recipe, weight: float) -> Recipe:
    """`recipe` with `weight` on the imagined-rollout loss (a name of its own unless the same)."""
    if weight == recipe.train.objective.rollout_weight:
        return recipe
    objective = replace(recipe.train.objective, rollout_weight=weight)
    train = replace(recipe.train, objective=objective)
    return replace(recipe, name=f"{recipe.name}_rollout_{weight:g}", train=train)


def model_for(world: str, weight: float, cache: Path) -> tuple[WorldModel, float | None]:
    """The world's recipe's model trained with `weight` on the imagined-rollout loss (cached).

    Returned with its training minutes.
    """
    base = WORLD_RECIPES[world]  # TwoRoom: the demo recipe
    checkpoint = trained_model(with_rollout_weight(base, weight), cache, progress=False)
    return WorldModel.load(checkpoint), model_facts(checkpoint).get("train_minutes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", choices=list(WORLD_RECIPES), default="two_room")
    parser.add_argument("--rollout-weights", type=float, nargs="+", default=[0.0, 0.5])
    parser.add_argument("--episodes", type=int, default=50, help="anchor episodes (not TwoRoom)")
    add_cache_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = {}
    for weight in args.rollout_weights:
        model, minutes = model_for(args.world, weight, args.cache)
        row: dict[str, float | None] = {"train_minutes": minutes}
        if args.world == "two_room":
            recipe, protocols = DEMO, [two_room_cross_room(), two_room_goal_25_steps()]
        else:
            recipe = WORLD_RECIPES[args.world]
            protocols = [protocol_by_name("goal_25_steps", args.episodes, args.world)]
        for protocol in protocols:
            result = evaluate(
                protocol,
                make_agent(model, recipe),
                progress=False,
                world_overrides=world_settings(recipe),
            )
            row[f"{protocol.name}_success_rate"] = result.success_rate
            row[f"{protocol.name}_random_success_rate"] = result.random_success_rate
            row.update({f"{protocol.name}_{k}": v for k, v in result.other_success_rates.items()})
        rows[f"{weight:g}"] = row
        print(f"rollout weight {weight:g}: {row}", flush=True)
    if args.world == "two_room":
        what, out = "demo (1,500 steps, seed 0)", "multistep_ablation"
    else:
        what = f"the table's {args.world} recipe ({WORLD_RECIPES[args.world].train.steps} steps)"
        out = f"multistep_ablation_{args.world}"
    document = {"recipe": f"{what}, only the rollout weight changes", "rollout_weights": rows}
    write_results(out, document)


if __name__ == "__main__":
    main()
