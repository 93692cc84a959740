"""`import ami` is the front door: every public name is there, documented, and works."""

from __future__ import annotations

import inspect
import pydoc

import numpy as np
import torch

import ami


def test_every_public_name_is_importable_and_documented() -> None:
    for name in ami.__all__:
        value = getattr(ami, name)
        if callable(value):
            assert inspect.getdoc(value), f"ami.{name} has no docstring"
    assert ami.__version__.count(".") == 2


def test_help_shows_the_public_api() -> None:
    text = pydoc.render_doc(ami)
    for name in ("WorldModel", "PlanningAgent", "Memory", "make", "train", "evaluate", "preset"):
        assert name in text


def test_a_model_plans_an_episode_through_the_front_door(tmp_path) -> None:
    recipe = ami.preset("tiny")
    torch.manual_seed(0)
    model = ami.WorldModel(recipe.model)
    model.save(tmp_path / "checkpoint")
    agent = ami.make_agent(ami.WorldModel.load(tmp_path / "checkpoint"), recipe)
    env = ami.make("two_room", size=recipe.collect.image_size)
    outcome = ami.run_episode(env, agent, {"agent": (0.2, 0.8), "goal": (0.8, 0.2)}, budget=6)
    assert outcome.steps == 6 and not outcome.success  # an untrained model does not get there
    with ami.Memory.open(tmp_path / "memory.db") as memory:
        session = memory.begin_session(model.version())
        episode = memory.begin_episode(session, "two_room")
        ids = memory.remember(
            episode, np.arange(2), np.zeros((2, 2)), np.eye(2, 16), model.version()
        )
        assert [hit.step_id for hit in memory.recall(np.eye(2, 16)[1], 1, model.version())] == [
            ids[1]
        ]
