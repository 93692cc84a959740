"""Where PushT plans fail: the block's position and angle errors at the start and at the end.

For each episode of the anchor protocol (50 by default) the planner (the recipe's, CEM) runs as in
the table; per episode it records the block's start-to-goal distance and angle, and the final
distance and angle error (at success, or after the budget). The summary splits the failures by
the criterion they miss (position within 20 units, angle within pi/9) and counts those that left
the block farther from its goal than it started (the planner pushed it away).

    python -m benchmarks.push_t_failures                  # the cache's push_t model
    python -m benchmarks.push_t_failures --model OTHER/run/checkpoint --name previous

The model is `--model` (a checkpoint folder with its run's recipe.json beside it), else the push_t
recipe's model from the cache (`--cache`; trained there when absent).

Writes (or updates) benchmarks/results/push_t_failures.json, one entry per `--name`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ami.agent.episode import Step, run_episode
from ami.evaluation.episode_specs import episode_specs
from ami.evaluation.protocols import protocol_by_name
from ami.model import WorldModel
from ami.pipeline import make_agent
from ami.recipes import load_recipe, world_settings
from ami.worlds import make
from ami.worlds.push_t import ARENA, PushTConfig, wrap_angle
from benchmarks.cache import add_cache_argument, trained_model
from benchmarks.results_file import provenance, read_results, write_results

SUCCESS_DISTANCE, SUCCESS_ANGLE = PushTConfig().success_distance, PushTConfig().success_angle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="checkpoint folder")
    parser.add_argument("--name", default="current")
    parser.add_argument("--episodes", type=int, default=50)
    add_cache_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(2)
    checkpoint = args.model or trained_model("push_t", args.cache)
    rows = measure(checkpoint, args.episodes)
    document = read_results("push_t_failures")
    for key in provenance():  # the file's own provenance: this write's
        document.pop(key, None)
    document[args.name] = {
        "model": checkpoint,
        "summary": summarise(rows),
        "episodes": rows,
        **provenance(),
    }
    write_results("push_t_failures", document)
    print(json.dumps({args.name: document[args.name]["summary"]}, indent=2))


def measure(checkpoint: Path, episodes: int) -> list[dict[str, Any]]:
    """Per episode: start and final block distance (units) and angle error (rad), success."""
    recipe = load_recipe(checkpoint.parent / "recipe.json")
    agent = make_agent(WorldModel.load(checkpoint), recipe)
    protocol = protocol_by_name("goal_25_steps", episodes, "push_t")
    env = make("push_t", **world_settings(recipe))
    options = dict(recipe.collect.world_options)
    rows = []
    for spec in episode_specs(protocol, env, options):
        start, goal = spec.options["state"], spec.options["goal"]
        last: dict[str, Any] = {}

        def keep(step: Step, last: dict[str, Any] = last) -> None:
            last.update(step.info)

        outcome = run_episode(
            env, agent, spec.options, protocol.budget, spec.goal_pixels, listeners=[keep]
        )
        rows.append(
            {
                "start_distance": float(np.hypot(*(start[2:4] - goal[:2]))),
                "start_angle_error": abs(wrap_angle(float(start[4]) - float(goal[2]))),
                "final_distance": float(last["distance"]) * ARENA,
                "final_angle_error": float(last["angle_error"]),
                "success": bool(outcome.success),
            }
        )
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Success, and the failures by the criterion they miss."""
    failed = [r for r in rows if not r["success"]]
    far = [r["final_distance"] >= SUCCESS_DISTANCE for r in failed]
    turned = [r["final_angle_error"] >= SUCCESS_ANGLE for r in failed]
    return {
        "episodes": len(rows),
        "success_rate": float(np.mean([r["success"] for r in rows])),
        "failures": len(failed),
        "failures_position_only": sum(f and not t for f, t in zip(far, turned, strict=True)),
        "failures_angle_only": sum(t and not f for f, t in zip(far, turned, strict=True)),
        "failures_both": sum(f and t for f, t in zip(far, turned, strict=True)),
        "failures_block_farther_than_at_start": sum(
            r["final_distance"] > r["start_distance"] for r in failed
        ),
        "start_angle_over_tolerance_share": float(
            np.mean([r["start_angle_error"] >= SUCCESS_ANGLE for r in rows])
        ),
        "median_start_distance": float(np.median([r["start_distance"] for r in rows])),
    }


if __name__ == "__main__":
    main()
