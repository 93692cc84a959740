"""The speed figures of `make bench` (issue 6): matmul peak, training, collection and planning.

Each function measures one thing on this machine and returns plain numbers; `benchmarks.bench`
prints them and writes them to bench.json. Every training figure runs the real `TrainStep` (or
the real `ami train` under torchrun); every planning figure runs the real agent (`make_agent`),
MPC and CEM.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from ami.evaluation.protocols import protocol_by_name
from ami.evaluation.runner import evaluate
from ami.experience.collect import collect_to_file
from ami.model import WorldModel
from ami.pipeline import make_agent
from ami.planning import CEMConfig, MPCConfig, SolverConfig
from ami.recipes import DEMO, PlannerConfig
from ami.training.step import TrainStep
from ami.worlds import make

# The anchors' CEM budget (stable-worldmodel / LeWM): 300 samples, 30 elites, 30 iterations,
# horizon 5 model steps; the rest (held actions, cost, execute 1) as in the demo planner.
ANCHOR_PLANNER = replace(
    DEMO.planner,
    solver=SolverConfig(cem=CEMConfig(samples=300, elites=30, iterations=30)),
    mpc=MPCConfig(horizon=5, execute=1),
)


def with_precision(planner: PlannerConfig, precision: str) -> PlannerConfig:
    """The planner with its rollouts in `precision`."""
    return replace(planner, mpc=replace(planner.mpc, precision=precision))


def matmul_peak_gflops(dtype: torch.dtype, size: int = 2048, repeats: int = 8) -> float:
    """GFLOP/s of a timed `size`² matmul on the current threads (best of 3 rounds)."""
    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 * repeats / best / 1e9


def train_frames_per_second(
    precision: str = "fp32", compile: bool = False, steps: int = 20
) -> float:
    """Frames/s of the demo model's `TrainStep` (forward, backward, clipping, AdamW), demo batches.

    The first 3 steps (with `compile`, the compilation) are not timed.
    """
    torch.manual_seed(0)
    model = WorldModel(DEMO.model).train()
    config = replace(DEMO.train, precision=precision, compile=compile)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    step = TrainStep(model, optimizer, torch.Generator().manual_seed(1), config)
    size, length, batch = DEMO.model.encoder.image_size, DEMO.window.length, config.batch_size
    pixels = torch.randint(0, 256, (batch, length, 3, size, size), dtype=torch.uint8)
    actions = torch.rand(batch, length - 1, DEMO.model.predictor.action_dim) * 2 - 1
    for _ in range(3):
        step(pixels, actions, 1e-4)
    start = time.perf_counter()
    for _ in range(steps):
        step(pixels, actions, 1e-4)
    return steps * batch * length / (time.perf_counter() - start)


def torchrun_frames_per_second(data: Path, processes: int, threads: int, steps: int = 60) -> float:
    """Frames/s of `torchrun --nproc_per_node=P -m ami train` (demo recipe) on `data`.

    Read from the run's metrics at step 50 (its logged average since the first step; the final
    validation and checkpoint are not in it). Each process has `threads` torch threads.
    """
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={processes}", "-m", "ami", "train", "--data", str(data),
            "--out", folder, "--preset", "demo", "--steps", str(steps), "--device", "cpu",
            "--quiet",
        ]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        subprocess.run(command, check=True, capture_output=True, env=env, timeout=900)
        lines = [json.loads(line) for line in (Path(folder) / "metrics.jsonl").open()]
    return next(line["frames_per_second"] for line in lines if line["step"] == 50)


def collection_steps_per_second(path: Path, episodes: int, workers: int) -> float:
    """Env steps/s of `collect_to_file` with the demo's collection (written file included)."""
    config = replace(DEMO.collect, episodes=episodes)
    start = time.perf_counter()
    collect_to_file(config, path, progress=False, workers=workers)
    return episodes * config.steps_per_episode / (time.perf_counter() - start)


def plan_latency(model: WorldModel, planner: PlannerConfig, plans: int = 6) -> tuple[float, float]:
    """Median seconds of one full MPC plan on TwoRoom, and the matmul/conv FLOPs of one plan.

    The first plan (cold) is not counted. FLOPs are counted by `FlopCounterMode` on a further plan
    (every matrix product of the encoder and the predictor's rollouts).
    """
    agent = make_agent(model, replace(DEMO, planner=planner))
    env = make("two_room", size=DEMO.model.encoder.image_size)
    obs, _ = env.reset(seed=0)
    goal = env.unwrapped.goal_pixels()  # type: ignore[attr-defined]
    agent.begin(goal)
    while len(agent.plan_seconds) < plans + 1:
        obs, *_ = env.step(agent.act(obs["pixels"]))
    seconds = statistics.median(agent.plan_seconds[1:])
    agent.begin(goal)  # a new episode: the next act plans
    with FlopCounterMode(display=False) as counter:
        agent.act(obs["pixels"])
    return seconds, float(counter.get_total_flops())


def plan_success(
    model: WorldModel, planner: PlannerConfig, episodes: int, workers: int
) -> tuple[float, float]:
    """Success and random-floor rates on TwoRoom's anchor protocol with `planner`."""
    protocol = protocol_by_name("goal_25_steps", episodes, "two_room")
    agent = make_agent(model, replace(DEMO, planner=planner))
    result = evaluate(
        protocol, agent, progress=False, world_overrides={"size": 64}, workers=workers
    )
    return result.success_rate, result.random_success_rate


def small_dataset(path: Path, episodes: int = 100) -> Path:
    """A demo-world dataset for the torchrun figures (collected in 2 processes)."""
    config = replace(DEMO.collect, episodes=episodes)
    return collect_to_file(config, path, progress=False, workers=2)
