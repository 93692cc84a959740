"""Does the multi-step (imagined-rollout) loss help? Train a recipe with and without it.

For each rollout weight, trains the recipe (same data, seed and steps) and evaluates it. TwoRoom
(the default): the demo recipe on both TwoRoom protocols; the demo's own model (rollout weight
0.5) is reused from benchmarks/.demo when `make bench` left it there; writes
benchmarks/results/multistep_ablation.json. `--world push_t|reacher`: the benchmark table's
recipe on the anchor protocol (50 episodes, the recipe's solver); the table's model (the recipe's
own weight) and data are reused from bench-models/WORLD when there, each other weight trains in
benchmarks/.multistep-WORLD-W; writes benchmarks/results/multistep_ablation_WORLD.json.

    python benchmarks/multistep_ablation.py --rollout-weights 0 0.5
    python benchmarks/multistep_ablation.py --world push_t --rollout-weights 0 0.5
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.table import TABLE_RECIPES
from ami.evaluation.protocols import protocol_by_name, two_room_anchor, two_room_cross_room
from ami.evaluation.runner import evaluate
from ami.files import atomic_write_bytes
from ami.model import WorldModel
from ami.pipeline import make_agent, run_collect, run_train
from ami.provenance import machine_facts
from ami.recipes import DEMO, Recipe, world_settings

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def with_rollout_weight(recipe: Recipe, weight: float) -> Recipe:
    """`recipe` with `weight` on the imagined-rollout loss."""
    objective = replace(recipe.train.objective, rollout_weight=weight)
    return replace(recipe, train=replace(recipe.train, objective=objective))


def model_for(world: str, weight: float) -> tuple[WorldModel, float | None]:
    """The world's recipe's model trained with `weight` on the imagined-rollout loss.

    The recipe's own weight reuses the demo's (TwoRoom) or the table's model where it exists.
    """
    base = DEMO if world == "two_room" else TABLE_RECIPES[world]
    recipe = with_rollout_weight(base, weight)
    kept = HERE / ".demo" if world == "two_room" else HERE.parent / "bench-models" / world
    if weight == base.train.objective.rollout_weight and (kept / "run/checkpoint").exists():
        facts = kept / "facts.json"
        minutes = json.loads(facts.read_text())["train_minutes"] if facts.is_file() else None
        return WorldModel.load(kept / "run/checkpoint"), minutes
    suffix = f"{weight:g}" if world == "two_room" else f"{world}-{weight:g}"
    folder = HERE / f".multistep-{suffix}"
    data = folder / "experience.h5"
    if world != "two_room":  # the table's data (the same collection), else one set for all weights
        data = kept / "data" / "experience.h5"
        if not data.exists():
            data = HERE / f".multistep-{world}-data" / "experience.h5"
    if not data.exists():
        run_collect(recipe.collect, data, progress=False)
    started = time.perf_counter()
    model, _ = run_train(recipe, data, folder / "run", torch.device("cpu"), progress=False)
    return model, (time.perf_counter() - started) / 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", choices=["two_room", *TABLE_RECIPES], default="two_room")
    parser.add_argument("--rollout-weights", type=float, nargs="+", default=[0.0, 0.5])
    parser.add_argument("--episodes", type=int, default=50, help="anchor episodes (not TwoRoom)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = {}
    for weight in args.rollout_weights:
        model, minutes = model_for(args.world, weight)
        row: dict[str, float | None] = {"train_minutes": minutes}
        if args.world == "two_room":
            recipe, protocols = DEMO, [two_room_cross_room(), two_room_anchor()]
        else:
            recipe = TABLE_RECIPES[args.world]
            protocols = [protocol_by_name("anchor", args.episodes, args.world)]
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
        what, out = "demo (1,500 steps, seed 0)", "multistep_ablation.json"
    else:
        what = f"the table's {args.world} recipe ({TABLE_RECIPES[args.world].train.steps} steps)"
        out = f"multistep_ablation_{args.world}.json"
    document = {
        "command": "python benchmarks/multistep_ablation.py "
        + (f"--world {args.world} " if args.world != "two_room" else "")
        + "--rollout-weights "
        + " ".join(f"{w:g}" for w in args.rollout_weights),
        "recipe": f"{what}, only the rollout weight changes",
        "rollout_weights": rows,
        **machine_facts(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(RESULTS / out, (json.dumps(document, indent=2) + "\n").encode())


if __name__ == "__main__":
    main()
