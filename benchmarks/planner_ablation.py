"""How the planner's choices matter, measured on a trained model.

Variants: the goal energy reduced over the horizon by its minimum (closest approach, the default),
its mean ("sum") or its last step; and planning all k·A numbers of each action block instead of one
held action. On TwoRoom (the default) the demo's model on the cross-room protocol, written to
benchmarks/results/planner_ablation.json; with `--world push_t|reacher` the benchmark table's
model of that world (bench-models/WORLD/run) on its anchor protocol, written to
benchmarks/results/planner_ablation_WORLD.json.

    python benchmarks/planner_ablation.py --model ami-demo/run/checkpoint
    python benchmarks/planner_ablation.py --world reacher
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ami.evaluation.protocols import protocol_by_name, two_room_cross_room
from ami.evaluation.runner import evaluate
from ami.files import atomic_write_bytes
from ami.model import WorldModel
from ami.pipeline import make_agent
from ami.provenance import machine_facts
from ami.recipes import DEMO, load_recipe

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", choices=["two_room", "push_t", "reacher"], default="two_room")
    parser.add_argument("--model", type=Path, default=None, help="checkpoint folder")
    parser.add_argument("--episodes", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.world == "two_room":
        if args.model is None:
            parser.error("--model is required on two_room (the demo's checkpoint)")
        recipe, protocol, out = DEMO, two_room_cross_room(args.episodes), "planner_ablation.json"
    else:
        run = HERE.parent / "bench-models" / args.world / "run"
        args.model = args.model or run / "checkpoint"
        recipe = load_recipe(args.model.parent / "recipe.json")
        protocol = protocol_by_name("anchor", args.episodes, args.world)
        out = f"planner_ablation_{args.world}.json"
    model = WorldModel.load(args.model)
    planner = recipe.planner
    variants = {
        "min (default)": planner,
        "sum": replace(planner, cost=replace(planner.cost, reduce="sum")),
        "last": replace(planner, cost=replace(planner.cost, reduce="last")),
        "min, all k*A block actions": replace(planner, hold_actions=False),
    }
    rows = {}
    for name, variant in variants.items():
        started = time.perf_counter()
        result = evaluate(
            protocol,
            make_agent(model, replace(recipe, planner=variant)),
            progress=False,
            world_overrides={"size": recipe.model.encoder.image_size},
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
    document = {
        "command": "python benchmarks/planner_ablation.py " + shlex.join(sys.argv[1:]),
        "protocol": protocol.as_dict(),
        "model": str(args.model),
        "variants": rows,
        **machine_facts(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(RESULTS / out, (json.dumps(document, indent=2) + "\n").encode())


if __name__ == "__main__":
    main()
