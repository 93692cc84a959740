"""PushT on a GPU in one short call: collect, train within a time budget, evaluate every solver.

Made for a lent GPU machine with minutes on it: collects the PushT recipe's data with many
processes, measures the training step of the recipe at the chosen batch size (compilation
included) on real batches, sets the number of steps so that training fits `--train-seconds`
(the recipe's steps at most), trains, then evaluates the solvers on the anchor protocol, one
after the other, while the deadline leaves time for another. Each stage rewrites
`OUT/push_t_gpu.json`, so a run cut short still reports what it finished; the trained
checkpoint is copied to `OUT/checkpoint/` (the weights in parts of at most 15 MB each, as the
device tool returns files of at most 16 MB; `cat model.safetensors.part* > model.safetensors`).

    python -m benchmarks.push_t_gpu --device cuda --out "$OUT" --workers 15 \\
        --loader-workers 10 --batch-size 256 --train-seconds 240 --deadline-seconds 550

(the H200 run of push_t_gpu.json). The batch is the recipe's (64) unless `--batch-size` says
otherwise. A larger batch is not a free speed-up: SIGReg's statistic grows with the batch, so
the regulariser weighs more against prediction (the README's GPU paragraph: 256 windows per
step learnt less per step than 64).

On a CPU, with a small collection, it checks itself end to end in a minute:

    python -m benchmarks.push_t_gpu --device cpu --out /tmp/gpu-check --episodes 40 \\
        --train-seconds 20 --eval-episodes 2 --solver cem
"""

from __future__ import annotations

import argparse
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from ami.config import config_to_dict
from ami.device import resolve_device, seed_everything
from ami.evaluation.protocols import protocol_by_name
from ami.evaluation.runner import evaluate
from ami.model import WorldModel
from ami.pipeline import augmented, make_agent, run_collect, run_train, training_windows
from ami.planning import SOLVERS
from ami.recipes import PUSH_T, Recipe, with_solver, world_settings
from ami.training.step import TrainStep
from benchmarks.results_file import write_results

PART_BYTES = 15 * 2**20
SOLVER_ORDER = ("cem", "icem", "mppi", "predictive_sampling", "gradient")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/ami-push-t-gpu"))
    parser.add_argument("--workers", type=int, default=1, help="collection processes")
    parser.add_argument("--episodes", type=int, default=None, help="collected (recipe's)")
    parser.add_argument("--batch-size", type=int, default=PUSH_T.train.batch_size)
    parser.add_argument("--loader-workers", type=int, default=0, help="batch-drawing processes")
    parser.add_argument("--train-seconds", type=float, required=True)
    parser.add_argument("--deadline-seconds", type=float, default=float("inf"))
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--solver", action="append", choices=SOLVERS)
    parser.add_argument("--source-revision", help="the commit run (where the copy has no git)")
    args = parser.parse_args()
    began = time.perf_counter()
    device = resolve_device(args.device)
    seed_everything(0)
    recipe = _recipe(args.episodes, args.batch_size, args.loader_workers)
    report: dict[str, Any] = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
    }
    if args.source_revision:
        report["git_revision"] = args.source_revision
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    def save(stage: str) -> None:
        report["elapsed_seconds"] = time.perf_counter() - began
        write_results("push_t_gpu", report, out=out / "push_t_gpu.json")
        print(f"{stage} at {report['elapsed_seconds']:.0f} s", flush=True)

    for made_here in (args.work / "data", args.work / "run"):  # only what this script writes
        if made_here.exists():
            shutil.rmtree(made_here)
    started = time.perf_counter()
    data = run_collect(
        recipe.collect, args.work / "data" / "experience.h5", progress=False, workers=args.workers
    )
    report["collect_minutes"] = (time.perf_counter() - started) / 60
    save("collected")

    started = time.perf_counter()
    windows = training_windows(recipe, data, progress=False)
    report["load_minutes"] = (time.perf_counter() - started) / 60
    try:
        probe = step_seconds(recipe, windows, device)
    except Exception as error:  # a compiler that fails here: train eagerly instead
        report["compile_error"] = f"{type(error).__name__}: {error}"[:2000]
        recipe = replace(recipe, train=replace(recipe.train, compile=False))
        probe = step_seconds(recipe, windows, device)
    report["probe"] = probe
    drawing = probe["sample_seconds"] / max(1, recipe.train.loader_workers)
    per_step = (
        max(probe["step_seconds"], drawing)
        if recipe.train.loader_workers
        else (probe["step_seconds"] + probe["sample_seconds"])
    )
    room = args.train_seconds - probe["warmup_seconds"]  # the real run compiles too
    log_every = recipe.train.log_every
    steps = int(room / (per_step * 1.1)) // log_every * log_every
    steps = max(log_every, min(recipe.train.steps, steps))
    recipe = replace(recipe, train=replace(recipe.train, steps=steps))
    report["recipe"] = config_to_dict(recipe)
    report["planned_steps"] = steps
    save("probed")

    started = time.perf_counter()
    model, result = run_train(
        recipe,
        data,
        args.work / "run",
        device,
        progress=False,
        callbacks=[_Printer()],
        windows=windows,
    )
    report["train_minutes"] = (time.perf_counter() - started) / 60
    report["train_steps"] = result.steps
    report["train_frames_per_second"] = result.frames_per_second
    report["last_metrics"] = result.last_metrics
    _copy_run(args.work / "run", out)
    save("trained")

    report["rows"] = []
    protocol = protocol_by_name("goal_25_steps", args.eval_episodes, "push_t")
    last_eval = 0.0
    for solver in [s for s in SOLVER_ORDER if s in (args.solver or SOLVERS)]:
        left = args.deadline_seconds - (time.perf_counter() - began)
        if left < 1.3 * last_eval * (3 if solver == "gradient" else 1):
            report.setdefault("skipped_solvers", []).append(solver)
            continue
        started = time.perf_counter()
        try:
            outcome = evaluate(
                protocol,
                make_agent(model, with_solver(recipe, solver)),
                progress=False,
                world_overrides=world_settings(recipe),
            )
        except Exception as error:  # keep the other solvers' figures
            report.setdefault("eval_errors", {})[solver] = f"{type(error).__name__}: {error}"
            save(f"failed {solver}")
            continue
        last_eval = time.perf_counter() - started
        report["rows"].append(
            {
                "solver": solver,
                "success_rate": outcome.success_rate,
                "random_success_rate": outcome.random_success_rate,
                "plan_seconds": outcome.plan_ms_per_call / 1000,
                "episodes": outcome.episodes,
                "eval_seconds": last_eval,
                "other_success_rates": outcome.other_success_rates,
            }
        )
        save(f"evaluated {solver} {outcome.success_rate:.2f}")


def _recipe(episodes: int | None, batch_size: int, loader_workers: int) -> Recipe:
    """The PushT recipe with the collection size, batch size and batch drawers of this run."""
    recipe = PUSH_T
    if episodes is not None:
        recipe = replace(recipe, collect=replace(recipe.collect, episodes=episodes))
    train = replace(recipe.train, batch_size=batch_size, loader_workers=loader_workers)
    return replace(recipe, train=train)


def step_seconds(
    recipe: Recipe, windows: Any, device: torch.device, warmup: int = 20, timed: int = 60
) -> dict[str, float]:
    """Seconds per batch drawn (augmentations included) and per training step, after warm-up."""
    train_windows, _ = windows.split(recipe.valid_fraction, seed=recipe.train.seed)
    sampler = augmented(recipe, train_windows)
    generator = torch.Generator().manual_seed(0)
    batch_size = recipe.train.batch_size
    started = time.perf_counter()
    batches = [sampler.sample(batch_size, generator) for _ in range(8)]
    sample_seconds = (time.perf_counter() - started) / len(batches)
    model = WorldModel(recipe.model).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    step = TrainStep(model, optimizer, torch.Generator(device=device).manual_seed(1), recipe.train)
    started = time.perf_counter()
    for index in range(warmup):
        batch = batches[index % len(batches)]
        step(batch["pixels"], batch["actions"], 1e-4)
    warmup_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for index in range(timed):
        batch = batches[index % len(batches)]
        step(batch["pixels"], batch["actions"], 1e-4)
    return {
        "sample_seconds": sample_seconds,
        "step_seconds": (time.perf_counter() - started) / timed,
        "warmup_seconds": warmup_seconds,
        "batch_size": batch_size,
    }


class _Printer:
    """Prints the step and the time every 1,000 steps (the run has no progress bar)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, model: WorldModel, step: int) -> None:
        if step % 1000 == 0:
            print(f"step {step} at {time.perf_counter() - self.started:.0f} s", flush=True)


def _copy_run(run: Path, out: Path) -> None:
    """The checkpoint's model (weights in parts), the recipe and the metrics, into `out`."""
    target = out / "checkpoint"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(run / "checkpoint" / "model.json", target / "model.json")
    weights = (run / "checkpoint" / "model.safetensors").read_bytes()
    for index in range(0, len(weights), PART_BYTES):
        part = target / f"model.safetensors.part{index // PART_BYTES}"
        part.write_bytes(weights[index : index + PART_BYTES])
    shutil.copy(run / "recipe.json", out / "recipe.json")
    shutil.copy(run / "metrics.jsonl", out / "metrics.jsonl")


if __name__ == "__main__":
    main()
