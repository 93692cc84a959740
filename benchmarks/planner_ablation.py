"""How the planner's choices matter, measured on a trained demo model (cross-room protocol).

Variants: the goal energy reduced over the horizon by its minimum (closest approach, the default),
its mean ("sum") or its last step; and planning all k·A numbers of each action block instead of one
held action. Writes benchmarks/results/planner_ablation.json.

    python benchmarks/planner_ablation.py --model ami-demo/run/checkpoint
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from ami.evaluation.protocols import two_room_cross_room
from ami.evaluation.runner import evaluate
from ami.files import atomic_write_bytes
from ami.model import WorldModel
from ami.pipeline import machine_facts, make_agent
from ami.recipes import DEMO

RESULTS = Path(__file__).resolve().parent / "results" / "planner_ablation.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="checkpoint folder")
    parser.add_argument("--episodes", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = WorldModel.load(args.model)
    planner = DEMO.planner
    variants = {
        "min (default)": planner,
        "sum": replace(planner, cost=replace(planner.cost, reduce="sum")),
        "last": replace(planner, cost=replace(planner.cost, reduce="last")),
        "min, all k*A block actions": replace(planner, hold_actions=False),
    }
    protocol = two_room_cross_room(episodes=args.episodes)
    rows = {}
    for name, variant in variants.items():
        started = time.perf_counter()
        result = evaluate(
            protocol, make_agent(model, replace(DEMO, planner=variant)), progress=False
        )
        rows[name] = {
            "success_rate": result.success_rate,
            "random_success_rate": result.random_success_rate,
            "plan_ms_per_call": result.plan_ms_per_call,
            "mean_steps_to_success": result.mean_steps_to_success,
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
        "command": f"python benchmarks/planner_ablation.py --model {args.model}",
        "protocol": protocol.as_dict(),
        "model": str(args.model),
        "variants": rows,
        **machine_facts(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(RESULTS, (json.dumps(document, indent=2) + "\n").encode())


if __name__ == "__main__":
    main()
