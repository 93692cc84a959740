"""Learning from video without actions on TwoRoom: does pre-training on frames help few labels?

1. data: the demo recipe's collection (1,000 episodes of 100 steps, from the cache);
   `--labelled-fraction` of its episodes (5 %: the first 50) keep their actions, and the next
   `--free-factor` times as many (10x: 500) become frames alone (written with zero actions and
   marked `"actions": "none"`, so only `TrainConfig.actions = "none"` trains on them);
2. the models, every one with the demo recipe and `--steps` optimiser steps (default the
   recipe's 1,500; a stage's steps are recorded in the file):
   (a) `labelled_only`: trained on the labelled episodes alone;
   (b) `pretrained_frozen`: pre-trained on the action-free episodes (`actions = "none"`: the
       encoder and an action-free predictor), then the action-conditioned predictor learnt on
       the labelled episodes with that encoder frozen (`ami train --encoder-from RUN
       --freeze-encoder`); `pretrained_fine_tuned`: the same, the encoder fine-tuned;
   (c) `full_labelled`: the cache's `two_room` model (all 1,000 episodes with their actions);
3. each planned to held-out goals on the demo's anchor protocol (`goal_25_steps` v1, 50
   episodes, fixed seeds) beside the random floor on the same episodes.

About 25 minutes on 2 cores with the cache's `two_room` model absent (four trainings of 1,500
steps ≈ 12, four evaluations of 50 episodes ≈ 8, the reference ≈ 4); about 20 with it.
The runs are the benchmark's own (`<cache>/video_pretraining/`); a finished one is reused.
`--quick` (seconds, a smoke check only: the tiny recipe, 10 steps, 2 episodes) writes
video_pretraining_quick.json instead of video_pretraining.json.

    python -m benchmarks.video_pretraining [--labelled-fraction 0.05] [--free-factor 10]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ami.evaluation.protocols import protocol_by_name
from ami.evaluation.runner import evaluate
from ami.experience import Episode, ExperienceDataset, write_dataset
from ami.model import WorldModel
from ami.pipeline import make_agent, run_train
from ami.recipes import TINY, Recipe, world_settings
from benchmarks.cache import WORLD_RECIPES, add_cache_argument, experience, scratch, trained_model
from benchmarks.results_file import write_results

WORLD = "two_room"
PROTOCOL = "goal_25_steps"  # the demo's anchor protocol


def subset(source: Path, first: int, count: int, out: Path, frames_only: bool) -> Path:
    """Episodes `[first, first + count)` of `source` into `out`; `frames_only`: actions zeroed."""
    if out.is_file():
        return out
    with ExperienceDataset.open(source) as dataset:
        if first + count > dataset.num_episodes:
            raise SystemExit(
                f"{source} holds {dataset.num_episodes} episodes, fewer than the {first + count} "
                "asked for: lower --labelled-fraction or --free-factor"
            )
        meta = {**dataset.meta, "subset": {"source": str(source), "first": first, "count": count}}
        if frames_only:
            meta["actions"] = "none"
        episodes = (dataset.episode(i) for i in range(first, first + count))
        if frames_only:
            episodes = (Episode(e.pixels, np.zeros_like(e.actions), e.states) for e in episodes)
        return write_dataset(out, episodes, meta)


def trained(recipe: Recipe, data: Path, run: Path, encoder_from: Path | None = None) -> dict:
    """Train (or finish, or reuse) the run `run`; its checkpoint and training minutes."""
    started = time.perf_counter()
    _, result = run_train(recipe, data, run, torch.device("cpu"), encoder_from=encoder_from)
    return {
        "checkpoint": result.checkpoint,
        "train_steps": result.steps,
        "train_minutes": result.seconds / 60 if result.resumed_from < result.steps else None,
        "measured_minutes": (time.perf_counter() - started) / 60,
    }


def planned(checkpoint: Path, recipe: Recipe, episodes: int) -> dict[str, Any]:
    """The planner's success on the anchor protocol, beside the random floor."""
    result = evaluate(
        protocol_by_name(PROTOCOL, episodes, WORLD),
        make_agent(WorldModel.load(checkpoint).eval(), recipe),
        world_overrides=world_settings(recipe),
    )
    return {
        "success_rate": result.success_rate,
        "random_success_rate": result.random_success_rate,
        "zero_success_rate": result.zero_success_rate,
        "episodes": result.episodes,
        "plan_seconds_per_episode": result.plan_seconds_per_episode,
        "protocol": result.protocol.as_dict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labelled-fraction", type=float, default=0.05)
    parser.add_argument(
        "--free-factor", type=int, default=10, help="action-free episodes per labelled one"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="steps of every training (default: the recipe's)"
    )
    parser.add_argument("--episodes", type=int, default=50, help="planning episodes")
    parser.add_argument("--quick", action="store_true", help="seconds: a smoke check only")
    add_cache_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(2)
    started = time.perf_counter()
    base = WORLD_RECIPES[WORLD]
    if args.quick:
        quick_train = replace(TINY.train, steps=10, log_every=5, valid_every=0, checkpoint_every=10)
        base = replace(TINY, name="tiny_quick", train=quick_train)
    steps = args.steps or base.train.steps
    recipe = replace(base, train=replace(base.train, steps=steps))
    episodes = 2 if args.quick else args.episodes
    labelled = max(1, round(args.labelled_fraction * recipe.collect.episodes))
    free = args.free_factor * labelled
    name = "video_pretraining_quick" if args.quick else "video_pretraining"
    folder = scratch(args.cache, name) / f"labelled-{labelled}-free-{free}-steps-{steps}"
    data = experience(recipe.collect, args.cache)
    labelled_data = subset(data, 0, labelled, folder / "labelled.h5", frames_only=False)
    free_data = subset(data, labelled, free, folder / "action_free.h5", frames_only=True)

    frames_only = replace(recipe, train=replace(recipe.train, actions="none"))
    frozen = replace(recipe, train=replace(recipe.train, freeze_encoder=True))
    pretraining = trained(frames_only, free_data, folder / "pretrained")
    runs = {
        "labelled_only": trained(recipe, labelled_data, folder / "labelled_only"),
        "pretrained_frozen": trained(
            frozen, labelled_data, folder / "pretrained_frozen", pretraining["checkpoint"]
        ),
        "pretrained_fine_tuned": trained(
            recipe, labelled_data, folder / "pretrained_fine_tuned", pretraining["checkpoint"]
        ),
    }
    full = trained_model(recipe if args.quick else base, args.cache)
    runs["full_labelled"] = {"checkpoint": full, "train_steps": base.train.steps}
    models = {
        label: {**run, **planned(run["checkpoint"], recipe, episodes)}
        for label, run in runs.items()
    }
    protocol = [model.pop("protocol") for model in models.values()][0]  # the same for every one
    document: dict[str, Any] = {
        WORLD: {
            "success_rate": {label: model["success_rate"] for label, model in models.items()},
            "random_success_rate": models["labelled_only"]["random_success_rate"],
            "protocol": protocol,
            "labelled_fraction": args.labelled_fraction,
            "labelled_episodes": labelled,
            "action_free_episodes": free,
            "full_episodes": recipe.collect.episodes,
            "steps_per_episode": recipe.collect.steps_per_episode,
            "recipe": recipe.name,
            "pretraining": pretraining,
            "models": models,
        },
        "quick": args.quick,
        "minutes": (time.perf_counter() - started) / 60,
    }
    path = write_results(name, document)
    print(
        json.dumps(
            {k: document[WORLD][k] for k in ("success_rate", "random_success_rate")}, indent=2
        )
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
