"""The anchors' own worlds: ami on stable-worldmodel's swm/TwoRoom-v1 and swm/PushT-v1.

For each world: swm's env steps/s (64x64 pixels rendered every step, one core), a collection
with swm's own scripted policy (`benchmarks.swm_experts`), a model trained with the recipe
derived from the world (`ami.world_recipe.recipe_for_world`, TwoRoom from the `demo` preset,
PushT from `push_t`), then two evaluations, each beside the random floor: (a) ami's generic
`goal_25_steps` v1 (held-out random-policy episodes, a state distance) and (b) swm's own
protocol as close as the adapter allows (`benchmarks.swm_protocol`: held-out expert episodes,
goal 25 steps ahead, budget 50, success = swm's `terminated`). The published figures are
written beside them; they come from their authors' own training and setup.

Runs in `.venv-swm` (stable-worldmodel installed beside ami; `make bench-swm`):

    .venv-swm/bin/python -m benchmarks.swm                    # TwoRoom, 50 episodes each
    .venv-swm/bin/python -m benchmarks.swm --world two_room --world push_t
    .venv-swm/bin/python -m benchmarks.swm --quick            # a check, < 5 min: not a figure
    .venv-swm/bin/python -m benchmarks.swm --train-steps 6000 --out swm_6000_steps

Writes benchmarks/results/swm.json (`--quick`: swm_quick.json; `--out NAME`: NAME.json), after
each world.
"""

from __future__ import annotations

import argparse
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ami.config import config_to_dict
from ami.device import resolve_device, seed_everything
from ami.evaluation.protocols import protocol_by_name
from ami.evaluation.runner import evaluate
from ami.pipeline import make_agent, run_collect, run_train
from ami.planning import CEMConfig
from ami.recipes import Recipe, world_settings
from ami.world_recipe import recipe_for_world
from ami.worlds import make, measure_steps_per_second
from benchmarks.results_file import ROOT, write_results
from benchmarks.swm_experts import TORCHVISION_PLACEHOLDER, import_swm
from benchmarks.swm_protocol import BUDGET, GOAL_OFFSET, GOALS, run_swm_protocol, swm_episodes


@dataclass(frozen=True)
class SwmWorld:
    """One swm world: its ami id, swm's collection policy, the base preset, published figures."""

    world: str
    policy: str
    base: str
    published: dict[str, float]


WORLDS = {
    "two_room": SwmWorld(
        "gym:stable_worldmodel:swm/TwoRoom-v1",
        "benchmarks.swm_experts:two_room_expert",
        "demo",
        {"LeWM": 87, "LeWM (re-run, 88.8 +- 3.0)": 88.8, "PLDM": 97, "DINO-WM": 100, "RC-aux": 98},
    ),
    "push_t": SwmWorld(
        "gym:stable_worldmodel:swm/PushT-v1",
        "benchmarks.swm_experts:push_t_weak_policy",
        "push_t",
        {"LeWM": 96, "DINO-WM": 74, "PLDM": 78},
    ),
}
PUBLISHED_NOTE = (
    "success %, each on its authors' swm protocol (goal 25 steps ahead in their expert "
    "datasets, budget 50) with their own data, model and training; not re-run here"
)


def recipe(entry: SwmWorld, quick: bool, episodes: int | None, steps: int | None) -> Recipe:
    """The world's derived recipe, collecting with swm's policy; `quick` shrinks it."""
    derived = recipe_for_world(entry.world, {}, entry.base)
    collect = replace(derived.collect, policy=entry.policy, expert_fraction=1.0)
    train, planner = derived.train, derived.planner
    if quick:  # a check that every stage runs, in minutes: nothing it measures is a figure
        collect = replace(collect, episodes=30)
        planner = replace(
            planner,
            solver=replace(planner.solver, cem=CEMConfig(samples=64, elites=8, iterations=2)),
        )
        train = replace(
            train,
            steps=40,
            batch_size=16,
            warmup_steps=10,
            log_every=10,
            valid_every=20,
            checkpoint_every=20,
            precision="fp32",
            compile=False,
        )
    if episodes is not None:
        collect = replace(collect, episodes=episodes)
    if steps is not None:
        train = replace(train, steps=steps)
    return replace(derived, collect=collect, train=train, planner=planner)


def steps_per_second(world: str, steps: int) -> dict[str, Any]:
    """The env's steps/s with 64x64 pixels rendered every step, best of 3, one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # TwoRoom renders its 224 px frames with torch
    try:
        env = make(world, size=64)
        rate = max(measure_steps_per_second(env, steps=steps, seed=seed) for seed in range(3))
        env.close()
    finally:
        torch.set_num_threads(threads)
    return {
        "value": rate,
        "unit": "steps/s",
        "how": f"{steps} random steps, 64x64 pixels rendered every step, best of 3, one core",
    }


def run_world(name: str, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """Everything measured on world `name` (see the module docstring)."""
    entry = WORLDS[name]
    chosen = recipe(entry, args.quick, args.episodes, args.train_steps)
    work = args.work / (name if args.out is None else f"{name}-{args.out}")
    for made_here in (work / "data", work / "run"):  # only what this script writes
        if made_here.exists():
            shutil.rmtree(made_here)
    row: dict[str, Any] = {"world": entry.world, "collection_policy": entry.policy}
    row["env_steps_per_second"] = steps_per_second(entry.world, 100 if args.quick else 500)
    print(f"{name}: {row['env_steps_per_second']['value']:,.0f} env steps/s", flush=True)
    started = time.perf_counter()
    data = run_collect(chosen.collect, work / "data" / "experience.h5", progress=False)
    row["collect_minutes"] = (time.perf_counter() - started) / 60
    started = time.perf_counter()
    model, trained = run_train(chosen, data, work / "run", device, progress=False)
    row["train_minutes"] = (time.perf_counter() - started) / 60
    row["train_steps"] = trained.steps
    row["last_metrics"] = trained.last_metrics
    row["recipe"] = config_to_dict(chosen)
    print(f"{name}: trained {trained.steps} steps in {row['train_minutes']:.1f} min", flush=True)
    episodes = args.eval_episodes
    started = time.perf_counter()
    generic = evaluate(
        protocol_by_name("goal_25_steps", episodes, entry.world),
        make_agent(model, chosen),
        progress=False,
        world_overrides=world_settings(chosen),
    )
    row["goal_25_steps_v1"] = {
        "success_rate": generic.success_rate,
        "random_success_rate": generic.random_success_rate,
        "zero_action_success_rate": generic.zero_success_rate,
        "episodes": generic.episodes,
        "outcomes": generic.outcomes,
        "refused": generic.refused,
        "protocol": generic.protocol.as_dict(),
        "minutes": (time.perf_counter() - started) / 60,
    }
    print(f"{name}: goal_25_steps v1 {generic.success_rate:.0%}", flush=True)
    started = time.perf_counter()
    env = make(entry.world, **world_settings(chosen))
    pairs = swm_episodes(entry.world, entry.policy, env, episodes)
    rates = run_swm_protocol(env, make_agent(model, chosen), pairs)
    env.close()
    row["swm_protocol"] = {
        "success_rate": rates["agent"]["success_rate"],
        "random_success_rate": rates["random"]["success_rate"],
        "episodes": episodes,
        "outcomes": rates["agent"]["outcomes"],
        "mean_steps_to_success": rates["agent"]["mean_steps_to_success"],
        "refused": pairs.refused,
        "goal_offset": GOAL_OFFSET,
        "budget": BUDGET,
        "success": GOALS[entry.world.split(":")[-1]][1],
        "held_out": f"episodes of {entry.policy}, seeds from 1,000,003",
        "minutes": (time.perf_counter() - started) / 60,
    }
    print(f"{name}: swm protocol {rates['agent']['success_rate']:.0%}", flush=True)
    row["published"] = {"figures": entry.published, "note": PUBLISHED_NOTE}
    return row


def main() -> None:
    """Measure every world asked for and write the results file after each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", action="append", choices=sorted(WORLDS))
    parser.add_argument("--quick", action="store_true", help="a check, not a figure")
    parser.add_argument("--episodes", type=int, help="collected (the recipe's by default)")
    parser.add_argument("--train-steps", type=int, help="training steps (the recipe's)")
    parser.add_argument("--eval-episodes", type=int, help="per protocol (50; --quick 5)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", help="results file name (default swm, --quick: swm_quick)")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / ".cache" / "swm")
    args = parser.parse_args()
    if args.eval_episodes is None:
        args.eval_episodes = 5 if args.quick else 50
    swm = import_swm()
    seed_everything(0)
    device = resolve_device(args.device)
    began = time.perf_counter()
    document: dict[str, Any] = {
        "quick": args.quick,
        "label": "QUICK CHECK (tiny training, 5 episodes): not a figure to quote"
        if args.quick
        else "ami on stable-worldmodel's own envs",
        "stable_worldmodel_version": getattr(swm, "__version__", None) or _version(),
        "torchvision": "placeholder (not installed)" if TORCHVISION_PLACEHOLDER else "installed",
        "device": str(device),
        "worlds": {},
    }
    for name in args.world or ["two_room"]:
        document["worlds"][name] = run_world(name, args, device)
        document["minutes"] = (time.perf_counter() - began) / 60
        path = write_results(args.out or ("swm_quick" if args.quick else "swm"), document)
        print(f"wrote {path}", flush=True)


def _version() -> str | None:
    """stable-worldmodel's installed version, from its distribution metadata."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stable-worldmodel")
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
