"""Which precision and compilation this machine should train and plan in (issue 23).

Measures, on this CPU (or GPU with `--device cuda`), the PushT recipe's training step (its model
and batch: forward, backward, clipping, AdamW) in fp32 and bf16, eager and through
`torch.compile`, and one MPC plan at the anchors' CEM budget in fp32 and bf16; records what
`precision="auto"` and `compile="auto"` choose here, beside the CPU's model and capability.

    python -m benchmarks.precision            # ~5 min on 2 cores; writes results/precision.json
    python -m benchmarks.precision --steps 3  # a quick look

The timed steps follow 3 untimed ones (with compile, the compilation); each figure is the median
over its timed steps. The load average is recorded: a busy machine measures the load.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as bench.py: see its comment

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from ami.device import resolve_device, resolve_precision
from ami.model import WorldModel
from ami.recipes import DEMO, PUSH_T
from ami.training.step import TrainStep, resolve_compile
from benchmarks.results_file import RESULTS, write_results
from benchmarks.speed import ANCHOR_PLANNER, matmul_peak_gflops, plan_latency, with_precision


def step_seconds(precision: str, compile: bool, steps: int, device: torch.device) -> float:
    """Median seconds of the PushT recipe's `TrainStep` in `precision`, eager or compiled."""
    torch.manual_seed(0)
    model = WorldModel(PUSH_T.model).to(device).train()
    config = replace(PUSH_T.train, precision=precision, compile=compile)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    step = TrainStep(model, optimizer, torch.Generator(device=device).manual_seed(1), config)
    size, length = PUSH_T.model.encoder.image_size, PUSH_T.window.length
    shape = (config.batch_size, length, 3, size, size)
    pixels = torch.randint(0, 256, shape, dtype=torch.uint8)
    actions = torch.rand(config.batch_size, length - 1, PUSH_T.model.predictor.action_dim) * 2 - 1
    for _ in range(3):
        step(pixels, actions, 1e-4)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step(pixels, actions, 1e-4)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Measure, print and write results/precision.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="timed training steps per variant")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=RESULTS / "precision.json")
    args = parser.parse_args()
    device = resolve_device(args.device)
    frames = PUSH_T.train.batch_size * PUSH_T.window.length
    results: dict[str, object] = {
        "load_average_start": os.getloadavg()[0],
        "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
        "auto_precision": resolve_precision("auto", device),
        "auto_compile": resolve_compile("auto", device),
    }
    if device.type == "cpu":
        for dtype in (torch.float32, torch.bfloat16):
            gflops = matmul_peak_gflops(dtype, size=1024)
            results[f"matmul_gflops_{str(dtype).split('.')[1]}"] = gflops
            print(f"matmul 1024² {dtype}: {gflops:.1f} GFLOP/s")
    training = {}
    for precision in ("fp32", "bf16"):
        for compile in (False, True):
            name = f"{precision}_{'compiled' if compile else 'eager'}"
            seconds = step_seconds(precision, compile, args.steps, device)
            training[name] = {"seconds_per_step": seconds, "frames_per_second": frames / seconds}
            print(f"PushT training step, {name}: {seconds:.3f} s ({frames / seconds:.0f} frames/s)")
    results["push_t_training_step"] = training
    planning = {}
    torch.manual_seed(0)
    model = WorldModel(DEMO.model).to(device).eval()  # the demo's model on TwoRoom
    for precision in ("fp32", "bf16"):
        seconds, _ = plan_latency(model, with_precision(ANCHOR_PLANNER, precision), plans=3)
        planning[precision] = {"seconds_per_plan": seconds}
        print(f"MPC plan, demo model, CEM 300 x 30, H5, {precision}: {seconds:.2f} s")
    results["plan_anchor_budget"] = planning
    results["load_average_end"] = os.getloadavg()[0]
    print(f"wrote {write_results('precision', results, out=args.out)}")


if __name__ == "__main__":
    main()
