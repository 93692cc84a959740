"""What each planning optimisation buys, at the anchors' CEM budget (300 candidates, horizon 5).

One CEM iteration is one objective call: roll every candidate through the demo's world model and
score it. This times that call (median of repeats, after a warm-up) with each optimisation taken
away in turn, and the full plan (30 iterations) with 1 and 2 threads:

- all candidates in one batched rollout vs a Python loop over candidates;
- `torch.inference_mode` vs autograd recording (inputs that require gradients);
- bfloat16 autocast vs float32.

OpenMP's wait policy matters on 2 cores: threads that spin between parallel regions are fastest
on an idle machine and slowest on a busy one. Run it under each policy; the figures of each go
under its name in benchmarks/results/plan_speed.json.
Run: OMP_WAIT_POLICY=ACTIVE python -m benchmarks.plan_speed (and =PASSIVE); the demo recipe's
model comes from the cache (`--cache`, trained there when absent).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from ami.device import precision_context  # noqa: E402
from ami.model import WorldModel  # noqa: E402
from ami.planning import GoalEnergy, HeldActions  # noqa: E402
from ami.recipes import DEMO  # noqa: E402
from benchmarks.cache import add_cache_argument, trained_model  # noqa: E402
from benchmarks.results_file import (  # noqa: E402
    command_line,
    provenance,
    read_results,
    write_results,
)
from benchmarks.speed import ANCHOR_PLANNER, plan_latency, with_precision  # noqa: E402

SAMPLES, HORIZON = 300, 5


def timed(call: Callable[[], object], repeats: int = 7) -> float:
    """Median seconds of `call` after one untimed warm-up."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_cache_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(2)
    checkpoint = trained_model(DEMO, args.cache)
    model = WorldModel.load(checkpoint)
    planned = HeldActions(model, model.config.frameskip)
    generator = torch.Generator().manual_seed(0)
    z_now = torch.randn(1, 1, model.config.encoder.embed_dim, generator=generator)
    cost = GoalEnergy(torch.randn(model.config.encoder.embed_dim, generator=generator))
    actions = torch.rand(SAMPLES, HORIZON, planned.action_dim, generator=generator) * 2 - 1

    def objective(a: torch.Tensor, precision: str = "fp32") -> torch.Tensor:
        with precision_context(precision, torch.device("cpu")):
            z = planned.rollout(z_now.expand(a.shape[0], -1, -1), a)
        return cost(z.float(), a)

    def batched() -> torch.Tensor:
        with torch.inference_mode():
            return objective(actions)

    def looped() -> list[torch.Tensor]:
        with torch.inference_mode():
            return [objective(actions[i : i + 1]) for i in range(SAMPLES)]

    def recorded() -> torch.Tensor:
        return objective(actions.clone().requires_grad_(True))

    def bf16() -> torch.Tensor:
        with torch.inference_mode():
            return objective(actions, "bf16")

    iteration = {
        "batched_inference_mode_fp32": timed(batched),
        "python_loop_over_candidates": timed(looped, repeats=3),
        "autograd_recording": timed(recorded),
        "batched_inference_mode_bf16": timed(bf16),
    }
    plans = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for precision in ("fp32", "bf16"):
            seconds, _ = plan_latency(model, with_precision(ANCHOR_PLANNER, precision))
            plans[f"{precision}_{threads}_threads"] = seconds
    policy = os.environ["OMP_WAIT_POLICY"].upper()
    figures = {
        "objective_call_seconds": iteration,
        "speedup_of_batching": iteration["python_loop_over_candidates"]
        / iteration["batched_inference_mode_fp32"],
        "speedup_of_inference_mode": iteration["autograd_recording"]
        / iteration["batched_inference_mode_fp32"],
        "speedup_of_bf16": iteration["batched_inference_mode_fp32"]
        / iteration["batched_inference_mode_bf16"],
        "full_plan_seconds": plans,
        "budget": f"CEM {SAMPLES} samples x 30 iterations, horizon {HORIZON} held actions",
        "model": checkpoint,
        **provenance(f"OMP_WAIT_POLICY={policy} {command_line()}"),
    }
    document = read_results("plan_speed")
    document[policy] = figures
    write_results("plan_speed", document)
    print(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
