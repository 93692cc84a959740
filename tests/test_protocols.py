"""Evaluation protocols: start/goal pairs per world, reproducible, exact, and held out."""

from __future__ import annotations

import numpy as np
import pytest

from ami.errors import ConfigError, UnknownWorldError
from ami.evaluation.episode_specs import episode_specs
from ami.evaluation.protocols import EvalProtocol, protocol_by_name, protocols_of
from ami.worlds import make


def small(world: str, episodes: int = 6) -> EvalProtocol:
    return protocol_by_name("goal_25_steps", episodes=episodes, world=world)


@pytest.mark.parametrize("world", ["two_room", "push_t", "reacher"])
def test_goal_25_steps_specs_start_exactly_at_a_held_out_state_and_are_reproducible(world):
    env = make(world, size=32)
    protocol = small(world)
    specs = episode_specs(protocol, env)
    again = episode_specs(protocol, env)
    assert len(specs) == protocol.episodes
    starts = []
    for spec, twin in zip(specs, again, strict=True):
        assert spec.options.keys() == twin.options.keys()
        for key in spec.options:
            np.testing.assert_array_equal(spec.options[key], twin.options[key])
        obs, _ = env.reset(options=spec.options)  # the world accepts every start exactly
        starts.append(obs["state"])
    assert len({tuple(np.round(s, 4)) for s in starts}) == len(starts)  # distinct episodes


def test_push_t_goal_image_is_the_frame_of_the_goal_state_and_the_block_moved():
    env = make("push_t", size=32)
    specs = episode_specs(small("push_t", episodes=8), env)
    moved = 0
    for spec in specs:
        assert spec.goal_pixels is not None and spec.goal_pixels.shape == (32, 32, 3)
        obs, info = env.reset(options=spec.options)
        moved += np.hypot(*(obs["state"][2:4] - info["goal_state"][:2])) > 1.0
        # the goal pose is where the data's block was: rendering it there gives the goal image's
        # block (the pusher may differ), so the frames differ from the start's
        assert not np.array_equal(obs["pixels"], spec.goal_pixels)
    assert moved >= len(specs) // 2  # the expert pushes the block in most 25-step windows


def test_reacher_goal_image_is_rendered_by_the_world_with_its_target():
    env = make("reacher", size=32)
    for spec in episode_specs(small("reacher"), env):
        assert spec.goal_pixels is None  # frames draw the target: the world renders the goal
        obs, info = env.reset(options=spec.options)
        np.testing.assert_allclose(info["goal_state"], spec.options["goal"], atol=1e-6)
        np.testing.assert_allclose(obs["state"][:2], spec.options["qpos"], atol=1e-6)


def test_goal_25_steps_protocols_differ_per_world_in_success_but_share_budget_and_offset():
    two_room, push_t, reacher = (small(w) for w in ("two_room", "push_t", "reacher"))
    assert two_room.success_radius == pytest.approx(16 / 224)
    assert push_t.success_radius is None and reacher.success_radius is None
    assert {p.budget for p in (two_room, push_t, reacher)} == {50}
    assert {p.goal_offset for p in (two_room, push_t, reacher)} == {25}
    assert protocols_of("two_room") == ["cross_room", "goal_25_steps"]
    assert protocols_of("push_t") == ["goal_25_steps"]


def test_unknown_protocol_or_world_is_one_line():
    with pytest.raises(UnknownWorldError, match="cross_room") as caught:
        protocol_by_name("cross_room", world="push_t")
    assert "\n" not in str(caught.value)
    with pytest.raises(UnknownWorldError, match="unknown protocol"):
        protocol_by_name("nearest")


def test_protocol_values_are_validated():
    with pytest.raises(ConfigError, match="success_radius"):
        EvalProtocol("x", 1, "two_room", 5, 0, 50, -0.1, "dataset_offset")
    with pytest.raises(ConfigError, match="budget"):
        EvalProtocol("x", 1, "two_room", 5, 0, 0, None, "dataset_offset")
