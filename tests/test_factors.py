"""Test-time factors: deterministic changes of what the agent sees, at evaluation only."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ami.agent import RandomAgent
from ami.errors import ConfigError
from ami.evaluation.factor_eval import factor_frames, factor_rows
from ami.evaluation.factor_parts import PALETTES
from ami.evaluation.factors import KINDS, Factor, parse_factors
from ami.evaluation.protocols import EvalProtocol
from ami.evaluation.runner import evaluate
from ami.pipeline import augmented, run_collect, run_train, training_windows
from ami.recipes import TINY
from ami.worlds import make
from cli_run import ami, assert_one_line_error

# Every factor, on the worlds where it exists (TwoRoom has no object besides its agent).
FRAME_FACTORS = [
    ("two_room", "hue:120"),
    ("two_room", "agent_hue:60"),
    ("two_room", "background_hue:200"),
    ("two_room", "brightness:0.6"),
    ("two_room", "contrast:0.5"),
    ("two_room", "shift:3@1"),
    ("two_room", "zoom:1.2"),
    ("two_room", "distractors:4@2"),
    ("push_t", "hue:180"),
    ("push_t", "agent_hue:120"),
    ("push_t", "object_hue:120"),
    ("push_t", "background_hue:60"),
    ("push_t", "brightness:1.4"),
    ("push_t", "contrast:1.5"),
    ("push_t", "shift:2"),
    ("push_t", "zoom:0.8"),
    ("push_t", "distractors:3"),
]
NEAR_GOALS = EvalProtocol(
    name="near_goals",
    version=1,
    world="two_room",
    episodes=3,
    seed=777,
    budget=12,
    success_radius=0.06,
    pairing="dataset_offset",
    goal_offset=10,
    description="test protocol: goal 10 expert steps ahead, radius 0.06, budget 12",
)


def _frame(world: str, seed: int = 3) -> np.ndarray:
    return make(world, size=48).reset(seed=seed)[0]["pixels"]


class SpyAgent:
    """Acts as a seeded random agent (ignoring pixels) and keeps every frame it is shown."""

    def __init__(self) -> None:
        self.inner = RandomAgent(2, seed=5)
        self.goals: list[np.ndarray] = []
        self.seen: list[np.ndarray] = []

    def begin(self, goal_pixels: np.ndarray) -> None:
        self.goals.append(goal_pixels.copy())
        self.inner.begin(goal_pixels)

    def act(self, pixels: np.ndarray) -> np.ndarray:
        self.seen.append(pixels.copy())
        return self.inner.act(pixels)


@pytest.mark.parametrize(("world", "text"), FRAME_FACTORS)
def test_a_frame_factor_is_deterministic_and_changes_the_frame(world: str, text: str) -> None:
    frame = _frame(world)
    before = frame.copy()
    factor = Factor.parse(text)
    first = factor.transform(world)(frame)
    again = Factor.parse(text).transform(world)(frame)  # a fresh transform: same frame
    assert first.dtype == np.uint8 and first.shape == frame.shape
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(frame, before)  # the input is not written to
    assert np.abs(first.astype(int) - frame).max() >= 20, "the factor must visibly change it"


def test_every_factor_kind_is_tested() -> None:
    tested = {Factor.parse(text).name for _, text in FRAME_FACTORS} | {"size"}
    assert tested == set(KINDS)


@pytest.mark.parametrize("text", ["shift:3", "distractors:3"])
def test_the_seed_fixes_the_random_parts(text: str) -> None:
    frame = _frame("two_room")
    one = Factor.parse(f"{text}@1").transform("two_room")(frame)
    other = Factor.parse(f"{text}@2").transform("two_room")(frame)
    assert not np.array_equal(one, other)


def test_part_factors_change_only_their_part() -> None:
    frame = _frame("push_t")
    weights = PALETTES["push_t"].unmix(frame)
    pure = weights.max(-1) == 1.0  # pixels of one colour
    agent, block = (weights[..., 0] == 1.0), (weights[..., 1] == 1.0)
    pusher = Factor.parse("agent_hue:120").transform("push_t")(frame)
    assert (pusher[agent] != frame[agent]).any()
    np.testing.assert_array_equal(pusher[pure & ~agent], frame[pure & ~agent])
    shapes = Factor.parse("distractors:6").transform("push_t")(frame)
    np.testing.assert_array_equal(shapes[agent | block], frame[agent | block])
    assert (shapes[pure & ~agent & ~block] != frame[pure & ~agent & ~block]).any()


def test_the_agent_sees_factored_frames_and_the_world_is_untouched() -> None:
    factor = Factor.parse("distractors:3")
    overrides = {"size": 32}
    clean_spy, spy = SpyAgent(), SpyAgent()
    clean = evaluate(NEAR_GOALS, clean_spy, progress=False, world_overrides=overrides)
    factored = evaluate(NEAR_GOALS, spy, progress=False, world_overrides=overrides, factor=factor)
    assert factored.outcomes == clean.outcomes
    assert factored.final_distances == clean.final_distances  # the true state is the same
    assert factored.random_final_distances == clean.random_final_distances
    transform = factor.transform("two_room")
    for seen, raw in zip(spy.seen, clean_spy.seen, strict=True):
        np.testing.assert_array_equal(seen, transform(raw))
    for goal, raw in zip(spy.goals, clean_spy.goals, strict=True):
        np.testing.assert_array_equal(goal, transform(raw))
        assert not np.array_equal(goal, raw)
    assert len(spy.seen) == len(clean_spy.seen) > 0


def test_training_batches_hold_the_clean_worlds_frames(tmp_path: Path) -> None:
    recipe = replace(TINY, collect=replace(TINY.collect, episodes=6, steps_per_episode=20))
    data = run_collect(recipe.collect, tmp_path / "data.h5", progress=False)
    windows = training_windows(recipe, data, progress=False)
    batch = augmented(recipe, windows).sample(32, torch.Generator().manual_seed(0))
    world = make("two_room", size=32).unwrapped
    hue = Factor.parse("hue:120").transform("two_room")
    pixels = batch["pixels"].permute(0, 1, 3, 4, 2).numpy().reshape(-1, 32, 32, 3)
    states = batch["states"].numpy().reshape(-1, 2).astype(np.float64)
    for frame, state in zip(pixels, states, strict=True):
        render = world.render_at(state)  # type: ignore[attr-defined]
        assert np.abs(frame.astype(int) - render).max() <= 1
        assert np.abs(frame.astype(int) - hue(render)).max() > 20


def test_size_changes_the_worlds_body() -> None:
    grown, shrunk = Factor.parse("size:+20"), Factor.parse("size:-20")
    assert grown.label == "size:+20" and shrunk.label == "size:-20"
    settings = {"size": 32}
    assert grown.world_changes("two_room", settings) == {"agent_radius": pytest.approx(0.03)}
    assert shrunk.world_changes("two_room", settings) == {"agent_radius": pytest.approx(0.02)}
    frames = factor_frames(NEAR_GOALS, [grown, shrunk], settings)
    red = {
        label: int((start[..., 0].astype(int) > start[..., 1].astype(int) + 60).sum())
        for label, (start, _) in frames.items()
    }
    assert red["size:-20"] < red["clean"] < red["size:+20"]
    result = evaluate(
        NEAR_GOALS, RandomAgent(2, seed=0), progress=False, world_overrides=settings, factor=grown
    )
    assert result.episodes == NEAR_GOALS.episodes


@pytest.mark.parametrize(
    ("world", "text", "fragment"),
    [
        ("push_t", "size:+20", "no size field"),
        ("reacher", "object_hue:60", "no known palette"),
        ("two_room", "object_hue:60", "no object"),
        ("gym:Pendulum-v1", "distractors:2", "no known palette"),
    ],
)
def test_a_factor_the_world_cannot_show_is_refused(world: str, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as error:
        Factor.parse(text).check(world)
    assert "\n" not in str(error.value)


def test_size_refusal_comes_before_any_work() -> None:
    protocol = replace(NEAR_GOALS, world="push_t")
    with pytest.raises(ConfigError, match="no size field"):
        evaluate(protocol, RandomAgent(2), progress=False, factor=Factor.parse("size:+20"))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("hue", "NAME:VALUE"),
        ("hue:", "NAME:VALUE"),
        ("colour:30", "unknown factor"),
        ("hue:0", "changes nothing"),
        ("hue:400", "must be in"),
        ("shift:1.5", "whole number"),
        ("brightness:-1", "must be in"),
        ("size:0", "changes nothing"),
        ("zoom:1", "changes nothing"),
        ("hue:120,hue:120", "named twice"),
        (",", "no factor"),
    ],
)
def test_bad_factors_are_one_line_config_errors(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as error:
        parse_factors(text)
    assert "\n" not in str(error.value)


def test_the_table_puts_each_factor_beside_the_clean_figures() -> None:
    factor = Factor.parse("brightness:0.6")
    agent = RandomAgent(2, seed=1)
    overrides = {"size": 32}
    clean = evaluate(NEAR_GOALS, agent, progress=False, world_overrides=overrides)
    factored = evaluate(NEAR_GOALS, agent, progress=False, world_overrides=overrides, factor=factor)
    rows = factor_rows(
        {"near_goals": clean.as_dict()}, {"near_goals": {factor.label: factored}}, [factor]
    )
    assert [row["factor"] for row in rows] == ["clean", "brightness:0.6"]
    assert rows[1]["success_rate"] == factored.success_rate
    assert rows[1]["random_success_rate"] == factored.random_success_rate


def test_a_bad_factor_is_refused_by_the_command_before_the_model_is_read(tmp_path: Path) -> None:
    result = ami(
        "eval",
        "--model",
        str(tmp_path / "none"),
        "--out",
        str(tmp_path / "out"),
        "--factors",
        "hue:0",
    )
    assert_one_line_error(result, "hue:0 changes nothing")


@pytest.mark.slow
def test_eval_with_factors_writes_the_table_and_the_picture(tmp_path: Path) -> None:
    recipe = replace(
        TINY,
        collect=replace(TINY.collect, episodes=12, steps_per_episode=30),
        train=replace(TINY.train, steps=10, log_every=5, valid_every=10, checkpoint_every=10),
    )
    data = run_collect(recipe.collect, tmp_path / "data.h5", progress=False)
    run_train(recipe, data, tmp_path / "run", torch.device("cpu"), progress=False)
    out = tmp_path / "out"
    args = ["eval", "--model", str(tmp_path / "run"), "--out", str(out), "--episodes", "2"]
    args += ["--protocol", "goal_25_steps", "--quiet", "--device", "cpu"]
    refused = ami(*args, "--factors", "object_hue:60")
    assert_one_line_error(refused, "no object")
    result = ami(*args, "--factors", "hue:120,size:+20")
    assert result.returncode == 0, result.stderr
    document = json.loads((out / "results.json").read_text())
    rows = document["factors"]["rows"]
    assert [row["factor"] for row in rows] == ["clean", "hue:120", "size:+20"]
    assert all(row["episodes"] == 2 for row in rows)
    assert rows[0]["success_rate"] == document["protocols"]["goal_25_steps"]["success_rate"]
    assert (out / "factors.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report.html").read_text()
    assert "Test-time factors" in html and "factors.png" in html and "size:+20" in html
    assert "test-time factors" in result.stdout and "hue:120" in result.stdout
