"""`make bench`: env steps/s, training frames/s, ms per MPC plan, and the demo's success rate.

Also the speed figures of issue 6 (`speed.py`): the machine's matmul peak, training frames/s in
fp32, bf16 and compiled, with 1 process and 2 torchrun processes, collection steps/s serial and
in 2 processes, and the planning latency, FLOPs per plan and achieved GFLOP/s at the anchors' CEM
budget and the demo's, each beside its success rate on TwoRoom's anchor protocol.

Prints each figure and writes them to benchmarks/results/bench.json with the command, date,
machine and git revision. `--skip-demo` leaves out the demo run (≈ 9 minutes on 2 cores) and
keeps the demo figures of the previous bench.json, marked with the revision they were measured at.
The demo runs in the cache (`--cache`, folder `bench/demo`) and its model goes into the cache as
the demo recipe's model, which the other benchmarks then reuse; the planning figures use the
cache's demo model (an untrained one, without success rates, when the cache has none).

    python -m benchmarks.bench [--skip-demo] [--skip-plan-success]   # make bench
"""

from __future__ import annotations

import os

# OpenMP threads that wait by spinning turn 2 threads on a shared, busy 2-core machine into a
# several-fold slowdown (measured: a demo plan 0.3 s passive, 0.8-4 s spinning, at load ~7);
# waiting passively costs little on an idle machine. Set before torch loads OpenMP; inherited by
# torchrun and worker processes; recorded with every figure. `OMP_WAIT_POLICY=active make bench`
# measures the default.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ami.agent import PlanningAgent
from ami.model import WorldModel
from ami.pipeline import make_agent, run_demo
from ami.recipes import DEMO
from ami.worlds import make, measure_steps_per_second
from benchmarks.cache import add_cache_argument, cached_model, keep_model, scratch
from benchmarks.results_file import provenance, read_results, write_results
from benchmarks.speed import (
    ANCHOR_PLANNER,
    collection_steps_per_second,
    matmul_peak_gflops,
    plan_latency,
    plan_success,
    small_dataset,
    torchrun_frames_per_second,
    train_frames_per_second,
    with_precision,
)


def env_steps_per_second() -> float:
    """TwoRoom at 64x64, random actions, rendering every step, one core (best of 3)."""
    env = make("two_room", size=64)
    return max(measure_steps_per_second(env, steps=20_000, seed=seed) for seed in range(3))


def ms_per_plan(calls: int = 20) -> float:
    """Milliseconds per MPC planning call with the demo's planner settings."""
    torch.manual_seed(0)
    model = WorldModel(DEMO.model).eval()
    agent: PlanningAgent = make_agent(model, DEMO)
    env = make("two_room", size=DEMO.model.encoder.image_size)
    obs, _ = env.reset(seed=0)
    agent.begin(env.unwrapped.goal_pixels())  # type: ignore[attr-defined]
    for _ in range(calls * DEMO.model.frameskip):
        obs, *_ = env.step(agent.act(obs["pixels"]))
    return 1000 * float(np.mean(agent.plan_seconds[1:]))


Record = Callable[[str, float, str, str], None]


def speed_figures(record: Record) -> None:
    """Matmul peak, training frames/s (fp32, bf16, compiled; 1 and 2 processes), collection."""
    for name, dtype in (
        ("matmul_peak_gflops", torch.float32),
        ("matmul_peak_gflops_bf16", torch.bfloat16),
    ):
        how = f"best of 3 x 8 timed 2048x2048 {dtype} matmuls, 2 threads"
        record(name, matmul_peak_gflops(dtype), "GFLOP/s", how)
    how = "demo model, TrainStep (forward+backward+clip+AdamW), batch 64 x 4 frames, 2 threads"
    record("train_frames_per_second", train_frames_per_second(), "frames/s", how)
    record(
        "train_frames_per_second_bf16",
        train_frames_per_second("bf16"),
        "frames/s",
        how + ", bf16 autocast",
    )
    record(
        "train_frames_per_second_compile",
        train_frames_per_second(compile=True),
        "frames/s",
        how + ", torch.compile (compilation not timed)",
    )
    with tempfile.TemporaryDirectory() as scratch:
        how = (
            "demo collection (TwoRoom 64x64, mixed, 100 steps/episode), 500 episodes, HDF5 written"
        )
        record(
            "collect_steps_per_second_serial",
            collection_steps_per_second(Path(scratch) / "s.h5", 500, 1),
            "steps/s",
            how + ", 1 process",
        )
        record(
            "collect_steps_per_second_parallel",
            collection_steps_per_second(Path(scratch) / "p.h5", 500, 2),
            "steps/s",
            how + ", 2 worker processes (same file)",
        )
        data = small_dataset(Path(scratch) / "small.h5")
        how = "torchrun -m ami train, demo recipe, batch 64 per process, 100 episodes, step 50"
        record(
            "train_frames_per_second_1proc",
            torchrun_frames_per_second(data, 1, 2),
            "frames/s",
            how + ", 1 process x 2 threads",
        )
        record(
            "train_frames_per_second_2proc",
            torchrun_frames_per_second(data, 2, 1),
            "frames/s",
            how + ", 2 gloo processes x 1 thread (global batch 128)",
        )


def planning_figures(
    record: Record, with_success: bool, checkpoint: Path | None, episodes: int = 20
) -> None:
    """Latency, FLOPs, GFLOP/s and success of full plans at the anchors' and the demo's budget.

    With the demo's model at `checkpoint`, or an untrained one (no success rates) when None.
    """
    trained = checkpoint is not None
    torch.manual_seed(0)
    model = WorldModel.load(checkpoint) if trained else WorldModel(DEMO.model).eval()
    which = "the demo's trained model" if trained else "an untrained demo model"
    settings = {
        "anchor_budget": (ANCHOR_PLANNER, "CEM 300 samples x 30 iterations, horizon 5"),
        "demo_budget": (DEMO.planner, "CEM 200 samples x 4 iterations, horizon 10"),
    }
    for name, (planner, budget) in settings.items():
        for precision in ("fp32", "bf16"):
            key = name if precision == "fp32" else f"{name}_bf16"
            how = f"{budget}, {precision}, {which}, TwoRoom, median of 6 plans, 2 threads"
            seconds, flops = plan_latency(model, with_precision(planner, precision))
            record(f"plan_seconds_{key}", seconds, "s", how)
            record(f"plan_gflop_per_plan_{key}", flops / 1e9, "GFLOP", how + ", FlopCounterMode")
            record(f"plan_gflops_per_second_{key}", flops / 1e9 / seconds, "GFLOP/s", how)
            if name == "anchor_budget" and precision == "fp32":
                record("plan_gflops_per_second", flops / 1e9 / seconds, "GFLOP/s", how)
            if with_success and trained:
                success, floor = plan_success(
                    model, with_precision(planner, precision), episodes, workers=2
                )
                how = f"{budget}, {precision}, TwoRoom anchor protocol, {episodes} episodes"
                record(
                    f"plan_success_{key}", success, "fraction", how + f" (random floor {floor:.2f})"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-demo", action="store_true", help="do not rerun the demo")
    parser.add_argument(
        "--skip-plan-success", action="store_true", help="planning latency only (≈ 4 min less)"
    )
    add_cache_argument(parser)
    args = parser.parse_args()
    facts = {**provenance(), "omp_wait_policy": os.environ["OMP_WAIT_POLICY"]}
    figures: dict[str, dict] = {}

    def record(name: str, value: float, unit: str, how: str) -> None:
        # The 1-minute load average says how busy the (shared) machine was at this figure.
        load = round(os.getloadavg()[0], 2)
        figures[name] = {"value": value, "unit": unit, "how": how, **facts, "load_average": load}
        print(f"{name:32s} {value:12.2f} {unit}", flush=True)

    torch.set_num_threads(1)
    record(
        "env_steps_per_second",
        env_steps_per_second(),
        "steps/s",
        "TwoRoom 64x64, random actions, rendering every step, 1 core, best of 3 x 20k steps",
    )
    torch.set_num_threads(2)
    speed_figures(record)
    record(
        "ms_per_mpc_plan",
        ms_per_plan(),
        "ms",
        "demo planner (CEM 200x4 iterations, horizon 10 held actions), one replanning call",
    )
    previous = read_results("bench")
    if args.skip_demo and previous:
        for key in (
            "demo_cross_room_success_rate",
            "demo_cross_room_random_success_rate",
            "demo_anchor_success_rate",
            "demo_anchor_random_success_rate",
            "demo_minutes",
        ):
            if key in previous:
                figures[key] = previous[key]
    else:
        started = time.perf_counter()
        demo_out = scratch(args.cache, "bench") / "demo"
        shutil.rmtree(demo_out, ignore_errors=True)  # the whole demo, never a resumed one
        document = run_demo(DEMO, demo_out, torch.device("cpu"), progress=False)
        minutes = (time.perf_counter() - started) / 60
        keep_model(DEMO, demo_out / "run", args.cache, document["run"])
        how = "ami demo (preset demo, seed 0), 50 episodes per protocol"
        for name, result in document["protocols"].items():
            record(f"demo_{name}_success_rate", result["success_rate"], "fraction", how)
            record(
                f"demo_{name}_random_success_rate",
                result["random_success_rate"],
                "fraction",
                how + ", uniform random actions on the same episodes",
            )
        record("demo_minutes", minutes, "min", "wall clock of the whole demo on this machine")
    checkpoint = cached_model(DEMO, args.cache)
    planning_figures(record, not args.skip_plan_success, checkpoint)
    print(f"wrote {write_results('bench', figures)}", file=sys.stderr)


if __name__ == "__main__":
    main()
