"""Does the multi-step (imagined-rollout) loss help? Train the demo recipe with and without it.

For each rollout weight, trains the demo recipe (same data, seed and steps) and evaluates both
TwoRoom protocols; the demo's own model (rollout weight 0.5) is reused from benchmarks/.demo when
`make bench` left it there. Writes benchmarks/results/multistep_ablation.json.

    python benchmarks/multistep_ablation.py --rollout-weights 0 0.5
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from ami.evaluation.protocols import two_room_anchor, two_room_cross_room
from ami.evaluation.runner import evaluate
from ami.files import atomic_write_bytes
from ami.model import WorldModel
from ami.pipeline import make_agent, run_collect, run_train
from ami.provenance import machine_facts
from ami.recipes import DEMO

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "multistep_ablation.json"


def model_for(weight: float) -> tuple[WorldModel, float | None]:
    """The demo recipe's model trained with `weight` on the imagined-rollout loss."""
    recipe = replace(
        DEMO,
        train=replace(DEMO.train, objective=replace(DEMO.train.objective, rollout_weight=weight)),
    )
    if weight == DEMO.train.objective.rollout_weight and (HERE / ".demo/run/checkpoint").exists():
        return WorldModel.load(HERE / ".demo/run/checkpoint"), None
    folder = HERE / f".multistep-{weight:g}"
    data = folder / "experience.h5"
    if not data.exists():
        run_collect(recipe.collect, data, progress=False)
    started = time.perf_counter()
    model, _ = run_train(recipe, data, folder / "run", torch.device("cpu"), progress=False)
    return model, (time.perf_counter() - started) / 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rollout-weights", type=float, nargs="+", default=[0.0, 0.5])
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = {}
    for weight in args.rollout_weights:
        model, minutes = model_for(weight)
        agent = make_agent(model, DEMO)
        row: dict[str, float | None] = {"train_minutes": minutes}
        for protocol in (two_room_cross_room(), two_room_anchor()):
            result = evaluate(protocol, agent, progress=False)
            row[f"{protocol.name}_success_rate"] = result.success_rate
            row[f"{protocol.name}_random_success_rate"] = result.random_success_rate
        rows[f"{weight:g}"] = row
        print(f"rollout weight {weight:g}: {row}", flush=True)
    document = {
        "command": "python benchmarks/multistep_ablation.py --rollout-weights "
        + " ".join(f"{w:g}" for w in args.rollout_weights),
        "recipe": "demo (1,500 steps, seed 0), only the rollout weight changes",
        "rollout_weights": rows,
        **machine_facts(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(RESULTS, (json.dumps(document, indent=2) + "\n").encode())


if __name__ == "__main__":
    main()
