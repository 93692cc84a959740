"""`make bench`: env steps/s, training frames/s, ms per MPC plan, and the demo's success rate.

Prints each figure and writes them to benchmarks/results/bench.json with the command, date,
machine and git revision. `--skip-demo` leaves out the demo run (≈ 9 minutes on 2 cores) and
keeps the demo figures of the previous bench.json, marked with the revision they were measured at.
The demo's folder is kept in benchmarks/.demo (git-ignored) for benchmarks/planner_ablation.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ami.agent import PlanningAgent
from ami.files import atomic_write_bytes
from ami.model import SIGReg, WorldModel
from ami.pipeline import machine_facts, make_agent, run_demo
from ami.recipes import DEMO
from ami.training import jepa_loss
from ami.worlds import make, measure_steps_per_second

RESULTS = Path(__file__).resolve().parent / "results" / "bench.json"
# The demo run is kept (git-ignored) so that benchmarks/planner_ablation.py can reuse its model.
DEMO_OUT = Path(__file__).resolve().parent / ".demo"


def env_steps_per_second() -> float:
    """TwoRoom at 64x64, random actions, rendering every step, one core (best of 3)."""
    env = make("two_room", size=64)
    return max(measure_steps_per_second(env, steps=20_000, seed=seed) for seed in range(3))


def training_frames_per_second(steps: int = 30) -> float:
    """Frames/s of the demo model's training step (forward, backward, AdamW), demo batches."""
    torch.manual_seed(0)
    model = WorldModel(DEMO.model).train()
    sigreg = SIGReg(DEMO.train.sigreg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    size, length = DEMO.model.encoder.image_size, DEMO.window.length
    batch = DEMO.train.batch_size
    pixels = torch.randint(0, 256, (batch, length, 3, size, size), dtype=torch.uint8)
    actions = torch.rand(batch, length - 1, DEMO.model.predictor.action_dim) * 2 - 1
    for step in range(steps + 5):
        if step == 5:
            start = time.perf_counter()
        loss, _ = jepa_loss(model, sigreg, pixels, actions, DEMO.train.objective)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps * batch * length / (time.perf_counter() - start)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-demo", action="store_true", help="do not rerun the demo")
    args = parser.parse_args()
    command = "make bench" + (" (--skip-demo)" if args.skip_demo else "")
    facts = {**machine_facts(), "command": command}
    figures: dict[str, dict] = {}

    def record(name: str, value: float, unit: str, how: str) -> None:
        figures[name] = {"value": value, "unit": unit, "how": how, **facts}
        print(f"{name:32s} {value:12.2f} {unit}", flush=True)

    torch.set_num_threads(1)
    record(
        "env_steps_per_second",
        env_steps_per_second(),
        "steps/s",
        "TwoRoom 64x64, random actions, rendering every step, 1 core, best of 3 x 20k steps",
    )
    torch.set_num_threads(2)
    record(
        "training_frames_per_second",
        training_frames_per_second(),
        "frames/s",
        "demo model, batch 64 windows x 4 frames, forward+backward+AdamW, 2 threads",
    )
    record(
        "ms_per_mpc_plan",
        ms_per_plan(),
        "ms",
        "demo planner (CEM 200x4 iterations, horizon 10 held actions), one replanning call",
    )
    if args.skip_demo and RESULTS.exists():
        previous = json.loads(RESULTS.read_text())
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
        document = run_demo(DEMO, DEMO_OUT, torch.device("cpu"), progress=False)
        minutes = (time.perf_counter() - started) / 60
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
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(RESULTS, (json.dumps(figures, indent=2) + "\n").encode())
    print(f"wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
