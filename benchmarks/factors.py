"""Robustness to what changes the look: the benchmark model's success under test-time factors.

Each world's benchmark model (the cache's: TwoRoom the demo recipe's, PushT the push_t recipe's;
trained there when absent: PushT takes about an hour on 2 cores) on the world's protocols (default
goal_25_steps), clean and once per factor (`ami.evaluation.factors`) on the same episodes and
seeds; the random floor runs under the same factor. Rows factor x world x success (agent and
random) with the clean figure and the ratio to clean. A factor the world cannot show (PushT has
no size field) is listed as refused, with the reason. Writes the world's entry into
benchmarks/results/factors.json (other worlds' entries kept, each with its own provenance) and
benchmarks/results/factors_<world>.png (the first episode's start and goal under each factor).
`--frames-only` writes the picture and the factor list without a model (the entry then says the
success was not measured, and why: `--note`); `--train-steps N` uses the world's recipe trained for
N steps instead (a model of its own in the cache, `<recipe>_steps_N`), where the full one cannot
be trained in the time at hand.

    python -m benchmarks.factors --world two_room [--episodes 50] [--factors hue:120,...]
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from typing import Any

import torch

from ami.errors import ConfigError
from ami.evaluation.factor_eval import (
    evaluate_factors,
    factor_frames,
    factor_rows,
    plot_factor_frames,
)
from ami.evaluation.factors import Factor, parse_factors
from ami.evaluation.protocols import GOAL_25_STEPS, protocol_by_name
from ami.evaluation.runner import evaluate
from ami.model import WorldModel
from ami.pipeline import make_agent
from ami.recipes import world_settings
from benchmarks.cache import WORLD_RECIPES, add_cache_argument, model_facts, trained_model
from benchmarks.results_file import RESULTS, provenance, read_results, write_results

# TwoRoom's floor and walls are grey, so turning the agent's hue is turning the frame's.
DEFAULT_FACTORS = {
    "two_room": "hue:60,hue:120,hue:180,background_hue:120,brightness:0.6,brightness:1.4,"
    "contrast:0.5,shift:2,shift:4,zoom:0.9,zoom:1.1,distractors:3,size:+20,size:-20",
    "push_t": "hue:60,hue:120,hue:180,agent_hue:120,object_hue:120,background_hue:120,"
    "brightness:0.6,brightness:1.4,contrast:0.5,shift:2,shift:4,zoom:0.9,zoom:1.1,"
    "distractors:3,size:+20,size:-20",
}
OTHER_JOBS = "other jobs shared the machine's 2 CPU cores (see load_average)"


def usable_factors(world: str, factors: tuple[Factor, ...]) -> tuple[list[Factor], dict[str, str]]:
    """The factors `world` can show, and the refused ones with their one-line reasons."""
    usable, refused = [], {}
    for factor in factors:
        try:
            factor.check(world)
        except ConfigError as error:
            refused[factor.label] = str(error)
        else:
            usable.append(factor)
    return usable, refused


def world_entry(args: argparse.Namespace) -> dict[str, Any]:
    """The world's figures (or, with `--frames-only`, its factors and picture alone)."""
    world, progress = args.world, not args.quiet
    load_at_start = os.getloadavg()
    usable, refused = usable_factors(world, parse_factors(args.factors or DEFAULT_FACTORS[world]))
    recipe = WORLD_RECIPES[world]
    if args.train_steps is not None:
        train = replace(recipe.train, steps=args.train_steps)
        recipe = replace(recipe, name=f"{recipe.name}_steps_{args.train_steps}", train=train)
    if args.shift_pixels or args.lighting:  # the training-time augmentations of these kinds
        train = replace(recipe.train, shift_pixels=args.shift_pixels, lighting=args.lighting)
        name = f"{recipe.name}_shift{args.shift_pixels}_lighting{args.lighting:g}"
        recipe = replace(recipe, name=name, train=train)
    overrides = world_settings(recipe)
    protocols = [protocol_by_name(name, args.episodes, world) for name in args.protocol]
    frames = factor_frames(protocols[0], usable, overrides)
    picture = plot_factor_frames(
        frames, RESULTS / f"factors_{world}.png", f"{world}: what the agent sees"
    )
    entry: dict[str, Any] = {
        "factors": {factor.label: factor.description for factor in usable},
        "refused": refused,
        "picture": picture,
        "episodes_per_factor": args.episodes,
        "protocols": {p.name: p.as_dict() for p in protocols},
        "other_jobs": OTHER_JOBS,
        "load_average_1_5_15_min_at_start": [round(x, 2) for x in load_at_start],
    }
    if args.frames_only:
        return {**entry, "measured": False, "not_measured_because": args.note}
    checkpoint = trained_model(recipe, args.cache, progress=progress)
    agent = make_agent(WorldModel.load(checkpoint).eval(), recipe)
    clean = {
        p.name: evaluate(p, agent, progress=progress, world_overrides=overrides).as_dict()
        for p in protocols
    }
    factored = evaluate_factors(protocols, agent, usable, overrides, progress=progress)
    rows = [
        {"world": world, "recipe": recipe.name, **row}
        for row in factor_rows(clean, factored, usable)
    ]
    facts = model_facts(checkpoint)
    return {
        **entry,
        "measured": True,
        "rows": rows,
        "model": checkpoint,
        "recipe": recipe.name,
        "train_steps": recipe.train.steps,
        "train_augmentations": {
            "colour_shift": recipe.train.colour_shift,
            "shift_pixels": recipe.train.shift_pixels,
            "lighting": recipe.train.lighting,
        },
        "train_minutes": facts.get("train_minutes"),
        "note": args.note,
        "load_average_1_5_15_min_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", choices=sorted(DEFAULT_FACTORS), default="two_room")
    parser.add_argument("--episodes", type=int, default=50, help="episodes per factor")
    parser.add_argument("--protocol", action="append", help=f"(default: {GOAL_25_STEPS})")
    parser.add_argument("--factors", help="comma-separated (default: the world's list)")
    parser.add_argument("--train-steps", type=int, help="a shorter-trained model of the recipe")
    parser.add_argument("--shift-pixels", type=int, default=0, help="train with random shifts")
    parser.add_argument("--lighting", type=float, default=0.0, help="train with lighting jitter")
    parser.add_argument("--frames-only", action="store_true", help="the picture, no model")
    parser.add_argument("--note", default="", help="recorded with the entry")
    parser.add_argument("--quiet", action="store_true")
    add_cache_argument(parser)
    args = parser.parse_args()
    args.protocol = args.protocol or [GOAL_25_STEPS]
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 2)))
    entry = world_entry(args)
    document = read_results("factors")
    key = args.world + ("_augmented" if args.shift_pixels or args.lighting else "")
    worlds = {**document.get("worlds", {}), key: {**entry, **provenance()}}
    document = {
        "description": __doc__.split("\n\n")[0],
        "worlds": worlds,
        "rows": [row for name in sorted(worlds) for row in worlds[name].get("rows", [])],
    }
    path = write_results("factors", document)
    for row in document["rows"]:
        print(row["world"], row["protocol"], row["factor"], row["success_rate"])
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
