"""Tiny real runs on the benchmark table's worlds: collect → train → plan beats the random floor.

The table's own models take up to half an hour each; these are the same pipeline at 32 px, a few
hundred episodes and 400 training steps, on goals 10 expert steps ahead (the anchors' protocol
shape with a shorter offset and budget), so that a broken world, collector, trainer or planner
shows up in CI.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ami.evaluation.protocols import EvalProtocol
from ami.evaluation.runner import evaluate
from ami.experience import CollectConfig
from ami.pipeline import make_agent, run_collect, run_train
from ami.recipes import TINY, world_settings
from test_end_to_end import RECIPE as TWO_ROOM_RECIPE

pytestmark = pytest.mark.slow


def tiny_recipe(world: str):
    return replace(
        TINY,
        collect=CollectConfig(
            world=world,
            episodes=300,
            steps_per_episode=40,
            policy="mixed",
            expert_fraction=0.8,
            image_size=32,
        ),
        model=replace(TINY.model, predictor=replace(TINY.model.predictor, history=2)),
        train=TWO_ROOM_RECIPE.train,  # the TwoRoom end-to-end test's 400 steps
    )


def near_goals(world: str) -> EvalProtocol:
    return EvalProtocol(
        name="near_goals",
        version=1,
        world=world,
        episodes=16,
        seed=777,
        budget=30,
        success_radius=None,  # the world's own criterion (PushT: block within 20 units, pi/9)
        pairing="dataset_offset",
        goal_offset=10,
        skip_solved_starts=True,
    )


def _train_and_plan_near_goals(recipe, tmp_path: Path):
    """Collect and train the recipe's tiny model, then plan on its world's near goals."""
    data = run_collect(recipe.collect, tmp_path / "data.h5", progress=False)
    model, _ = run_train(recipe, data, tmp_path / "run", torch.device("cpu"), progress=False)
    return evaluate(
        near_goals(recipe.collect.world),
        make_agent(model, recipe),
        progress=False,
        world_overrides=world_settings(recipe),
    )


def test_push_t_tiny_run_plans_the_block_to_goals_more_often_than_random(tmp_path: Path) -> None:
    torch.manual_seed(0)
    recipe = tiny_recipe("push_t")
    outcome = _train_and_plan_near_goals(recipe, tmp_path)
    # measured: 4 of 16 episodes (random: 1 of 16)
    assert outcome.success_rate >= outcome.random_success_rate + 0.125, outcome.as_dict()


def test_reacher_tiny_run_plans_the_arm_to_goal_configurations_more_often_than_random(
    tmp_path: Path,
) -> None:
    torch.manual_seed(0)
    recipe = tiny_recipe("reacher")
    recipe = replace(
        recipe,
        # as the table's recipe: the arm alone (the per-episode target disc is a distractor)
        collect=replace(recipe.collect, world_options={"target_visible": False}),
        window=replace(recipe.window, length=4),
        model=replace(recipe.model, predictor=replace(recipe.model.predictor, history=3)),
    )
    outcome = _train_and_plan_near_goals(recipe, tmp_path)
    # measured: 7 of 16 episodes (random: 3 of 16; fingertip in the target: 14 of 16)
    assert outcome.success_rate >= outcome.random_success_rate + 0.125, outcome.as_dict()
