"""Perturbation hooks do what they say; surprise singles out a teleport; the monitor is calibrated.

The model-based tests share one tiny TwoRoom model trained here in a few seconds (32 px).
"""

from __future__ import annotations

import logging
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ami.agent import MemoryRecorder, run_episode
from ami.agent.episode import Step
from ami.cli import main
from ami.errors import ConfigError
from ami.experience import CollectConfig, Episode, collect
from ami.memory import Memory
from ami.model import WorldModel
from ami.pipeline import make_agent, run_collect, run_train
from ami.recipes import TINY
from ami.training import TrainConfig
from ami.training.colour_shift import ColourShiftWindows, shift_hue
from ami.understanding.monitor import SurpriseLabeller, SurpriseMonitor
from ami.understanding.perturbations import Event, EventWorld
from ami.understanding.surprise import calibrate_threshold, surprise_series
from ami.understanding.surprise_run import SurpriseRunConfig, replay, run_surprise
from ami.worlds import make
from ami.worlds.push_t import BLOCK_RGB, PUSHER_RGB, block_signed_distance, to_block_frame
from ami.worlds.walled_arena import AGENT_RGB

RECIPE = replace(
    TINY,
    collect=CollectConfig(
        world="two_room", episodes=100, steps_per_episode=40, policy="mixed", image_size=32
    ),
    train=TrainConfig(
        steps=150, batch_size=16, warmup_steps=10, log_every=50, valid_every=0, checkpoint_every=150
    ),
)


def episodes(world: str, count: int, steps: int, seed: int, size: int = 64) -> list[Episode]:
    config = CollectConfig(
        world=world,
        episodes=count,
        steps_per_episode=steps,
        policy="mixed",
        expert_fraction=0.8,
        seed=seed,
        image_size=size,
    )
    return list(collect(config, progress=False))


def with_event(world: str, name: str, episode: Episode, seed: int, at: int = 12, size: int = 64):
    """The episode replayed (same reset seed, same actions) with the event; its frames and env."""
    env = EventWorld(make(world, size=size), Event(name, at), seed=seed)
    frames = replay(env, seed, episode.actions)
    return frames, env


def count_colour(frame: np.ndarray, rgb: tuple[float, float, float], tolerance: int = 30) -> int:
    return int((np.abs(frame.astype(int) - np.asarray(rgb, int)).max(axis=-1) < tolerance).sum())


# --- the hooks --------------------------------------------------------------------------------


@pytest.mark.parametrize("world", ["two_room", "push_t"])
def test_every_event_replays_the_twin_exactly_until_it_happens(world: str) -> None:
    (twin,) = episodes(world, 1, 30, seed=3)
    for name in ("teleport", "vanish", "colour_change", "unchanged"):
        frames, env = with_event(world, name, twin, seed=3)
        at = env.applied_at
        assert at is not None and at >= 12
        np.testing.assert_array_equal(frames[:at], twin.pixels[:at])
        assert (name == "unchanged") == np.array_equal(frames[at], twin.pixels[at])


def test_two_room_teleport_moves_the_agent_far_within_its_room() -> None:
    for seed, twin in enumerate(episodes("two_room", 5, 30, seed=10)):
        frames, env = with_event("two_room", "teleport", twin, seed=10 + seed)
        at = env.applied_at
        assert at is not None
        before, after = twin.states[at], _state_at(env, 10 + seed, twin, at)
        world = env.unwrapped
        assert np.linalg.norm(after - before) >= 0.25
        assert world.room_of(after) == world.room_of(before)
        assert count_colour(frames[at], AGENT_RGB) > 0  # still drawn, elsewhere
        assert not np.array_equal(frames[at], twin.pixels[at])


def _state_at(env: EventWorld, seed: int, twin: Episode, at: int) -> np.ndarray:
    env.reset(seed=seed)
    for action in twin.actions[:at]:
        obs, *_ = env.step(action)
    return np.asarray(obs["state"], np.float64)


def test_two_room_wall_pass_crosses_the_wall_away_from_the_door() -> None:
    crossed = 0
    for seed, twin in enumerate(episodes("two_room", 12, 60, seed=20)):
        env = EventWorld(make("two_room"), Event("wall_pass", 5), seed=seed)
        frames = replay(env, 20 + seed, twin.actions)
        if env.applied_at is None:
            continue
        at = env.applied_at
        before, after = twin.states[at], _state_at(env, 20 + seed, twin, at)
        config = env.unwrapped.config
        assert (before[0] - 0.5) * (after[0] - 0.5) < 0  # opposite sides of the wall
        assert after[1] == pytest.approx(before[1], abs=1e-6)
        assert abs(after[1] - config.door_center) > config.door_width / 2  # not through the door
        assert not np.array_equal(frames[at], twin.pixels[at])
        crossed += 1
    assert crossed >= 3


def test_two_room_vanish_removes_the_agents_pixels_for_good() -> None:
    (twin,) = episodes("two_room", 1, 30, seed=4)
    frames, env = with_event("two_room", "vanish", twin, seed=4)
    at = env.applied_at
    assert at is not None
    assert all(count_colour(f, AGENT_RGB) > 0 for f in twin.pixels)
    assert all(count_colour(f, AGENT_RGB) == 0 for f in frames[at:])
    empty = env.unwrapped.render_at(np.array([-10.0, -10.0]))
    np.testing.assert_array_equal(frames[-1], empty)


def test_push_t_teleport_moves_the_block_far_and_leaves_the_pusher() -> None:
    for seed, twin in enumerate(episodes("push_t", 4, 30, seed=30)):
        _, env = with_event("push_t", "teleport", twin, seed=30 + seed)
        at = env.applied_at
        assert at is not None
        before, after = twin.states[at], _state_at(env, 30 + seed, twin, at)
        assert np.linalg.norm(after[2:4] - before[2:4]) >= 100.0 - 1e-3
        np.testing.assert_allclose(after[:2], before[:2], atol=1e-3)
        assert after[4] == pytest.approx(before[4], abs=1e-5)


def test_push_t_wall_pass_moves_the_pusher_through_the_unmoved_block() -> None:
    passed = 0
    for seed, twin in enumerate(episodes("push_t", 10, 40, seed=40)):
        env = EventWorld(make("push_t"), Event("wall_pass", 5), seed=seed)
        replay(env, 40 + seed, twin.actions)
        if env.applied_at is None:
            continue
        at = env.applied_at
        before, after = twin.states[at], _state_at(env, 40 + seed, twin, at)
        np.testing.assert_allclose(after[2:], before[2:], atol=1e-3)  # the block did not move
        path = before[:2] + np.linspace(0.0, 1.0, 101)[:, None] * (after[:2] - before[:2])
        inside = block_signed_distance(to_block_frame(path, before[2:].astype(np.float64)))
        assert inside.min() < 0  # the pusher's centre went through the block
        assert env.unwrapped.block_clearance(after[:2], after[2:]) > 0  # and came out apart
        passed += 1
    assert passed >= 3


def test_push_t_vanish_removes_the_block_but_not_the_pusher() -> None:
    (twin,) = episodes("push_t", 1, 30, seed=5)
    frames, env = with_event("push_t", "vanish", twin, seed=5)
    at = env.applied_at
    assert at is not None
    assert count_colour(twin.pixels[at], BLOCK_RGB, 10) > 20
    assert all(count_colour(f, BLOCK_RGB, 10) == 0 for f in frames[at:])
    assert all(count_colour(f, PUSHER_RGB) > 0 for f in frames[at:])


def test_colour_change_turns_the_hue_and_moves_nothing() -> None:
    (twin,) = episodes("two_room", 1, 30, seed=6)
    frames, env = with_event("two_room", "colour_change", twin, seed=6)
    at = env.applied_at
    assert at is not None
    np.testing.assert_array_equal(frames[at:], twin.pixels[at:][..., [1, 2, 0]])


def test_unknown_events_and_worlds_without_hooks_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown event 'melt'"):
        Event("melt", 3)
    with pytest.raises(ConfigError, match="no perturbation hooks"):
        EventWorld(make("maze"), Event("teleport", 3))
    with pytest.raises(ConfigError, match="world"):
        SurpriseRunConfig(world="maze")


# --- surprise on a trained tiny model ---------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> WorldModel:
    folder = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    data = run_collect(RECIPE.collect, folder / "data.h5", progress=False)
    model, _ = run_train(RECIPE, data, folder / "run", torch.device("cpu"), progress=False)
    return model.eval()


def test_surprise_is_higher_on_a_teleport_than_on_its_twin(tiny_model: WorldModel) -> None:
    config = SurpriseRunConfig(
        world="two_room",
        pairs=12,
        steps_per_episode=24,
        event_from=8,
        event_to=14,
        calibration_episodes=4,
        events=("teleport", "unchanged"),
        false_alarm_rate=0.05,
    )
    report = run_surprise(tiny_model, config, progress=False)
    teleport = report.results["teleport"]
    assert teleport.event_scores.size == 12
    assert (teleport.event_scores > teleport.twin_scores).mean() >= 0.9
    figures = teleport.figures(report.threshold, 0.01)
    assert figures["auroc"] >= 0.9 and figures["p_value"] < 0.01
    unchanged = report.results["unchanged"].figures(report.threshold, 0.01)
    assert unchanged["auroc"] == 0.5 and unchanged["p_value"] == 1.0


def feed(monitor: SurpriseMonitor, episode: Episode) -> None:
    """Hand the monitor an episode's steps as the agent loop would (frame after each action)."""
    for t, action in enumerate(episode.actions):
        monitor(Step(t, episode.pixels[t + 1], action, episode.states[t + 1], {}))


def test_the_online_monitor_scores_exactly_what_the_offline_series_does(
    tiny_model: WorldModel,
) -> None:
    (episode,) = episodes("two_room", 1, 20, seed=50, size=32)
    monitor = SurpriseMonitor(tiny_model, threshold=1e9)
    feed(monitor, episode)
    offline = surprise_series(tiny_model, episode.pixels, episode.actions)
    k = tiny_model.config.frameskip
    steps = [t for t, _ in monitor.surprises]
    assert steps == list(range(k, 20))  # from the k-th step after the first one seen
    online = np.array([value for _, value in monitor.surprises])
    np.testing.assert_allclose(online, offline[np.array(steps) + 1], rtol=1e-4, atol=1e-5)


def test_monitor_false_alarm_rate_on_held_out_normal_data_is_the_one_asked_for(
    tiny_model: WorldModel,
) -> None:
    asked = 0.1
    calibration = episodes("two_room", 30, 40, seed=60, size=32)
    series = [surprise_series(tiny_model, e.pixels, e.actions) for e in calibration]
    monitor = SurpriseMonitor(tiny_model, calibrate_threshold(series, asked))
    scored = 0
    for episode in episodes("two_room", 30, 40, seed=90, size=32):  # held out
        feed(monitor, episode)
        scored += len(monitor.surprises)
    rate = len(monitor.events) / scored
    assert abs(rate - asked) < 0.05, rate


def test_when_the_monitor_fires_the_agent_replans_logs_and_labels_memory(
    tiny_model: WorldModel, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    options = {"agent": (0.2, 0.8), "goal": (0.8, 0.2)}

    def plans(monitor_threshold: float | None) -> tuple[int, list[int], list[int]]:
        agent = make_agent(tiny_model, RECIPE)
        env = make("two_room", size=32)
        with Memory.open(tmp_path / f"memory-{monitor_threshold}.sqlite") as memory:
            episode = memory.begin_episode(memory.begin_session("tiny"), "two_room")
            recorder = MemoryRecorder(
                memory, episode, "tiny", lambda frames: np.zeros((len(frames), 2), np.float32)
            )
            listeners: list = [recorder]
            labeller = SurpriseLabeller(recorder)
            if monitor_threshold is not None:
                monitor = SurpriseMonitor(
                    tiny_model, monitor_threshold, on_surprise=[agent.replan, labeller]
                )
                listeners.append(monitor)
            run_episode(env, agent, options, budget=12, listeners=listeners)
            labeller.close()
            fired = [e.t for e in monitor.events] if monitor_threshold is not None else []
            labelled = sorted(memory.step(s)["t"] for s in labeller.labelled)
            return len(agent.plan_seconds), fired, labelled

    quiet_plans, _, _ = plans(None)
    with caplog.at_level(logging.WARNING, logger="ami.surprise"):
        alarmed_plans, fired, labelled = plans(0.0)  # every scored step is a surprise
    k = tiny_model.config.frameskip
    assert fired == list(range(k, 12))
    assert alarmed_plans > quiet_plans  # it replanned at once instead of finishing its blocks
    assert labelled == fired
    assert sum("surprise" in r.message for r in caplog.records) == len(fired)


def test_surprise_command_bad_inputs_are_one_line_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for args, fragment in (
        (("--world", "three_room", "--model", str(tmp_path)), "unknown world 'three_room'"),
        (("--world", "two_room", "--model", str(tmp_path / "none")), "no checkpoint at"),
        (("--world", "maze", "--model", str(tmp_path)), "world must be one of"),
    ):
        monkeypatch.setattr(sys, "argv", ["ami", "surprise", *args, "--quiet"])
        with pytest.raises(SystemExit) as done:
            main()
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert done.value.code == 2
        assert len(lines) == 1 and fragment in lines[0], lines


def test_colour_shift_turns_hues_keeps_greys_and_changes_windows_part_way() -> None:
    red_grey = torch.tensor([[220, 235], [30, 235], [30, 235]], dtype=torch.uint8)[:, None, :]
    turned = shift_hue(red_grey, 2 * math.pi / 3)[:, 0]  # [3, 2]: red → green, grey stays
    assert turned[:, 0].tolist() == [30, 220, 30] and turned[:, 1].tolist() == [235, 235, 235]

    class Frames:
        def sample(self, batch_size: int, generator: torch.Generator) -> dict:
            pixels = torch.zeros(batch_size, 4, 3, 2, 2, dtype=torch.uint8)
            pixels[:, :, 0] = 200  # a red image everywhere
            return {"pixels": pixels, "actions": torch.zeros(batch_size, 3, 2)}

    batch = ColourShiftWindows(Frames(), 0.5).sample(400, torch.Generator().manual_seed(0))
    changed = (batch["pixels"] != Frames().sample(1, torch.Generator())["pixels"]).flatten(2)
    changed = changed.any(-1)  # [B, T]: which frames were shifted
    shifted = changed.any(-1)
    assert 0.4 < shifted.float().mean() < 0.6
    # once a window's hue changes it stays changed: frames after a shifted one are shifted too
    assert bool((changed[:, 1:] >= changed[:, :-1]).all())
    assert 0 < int(changed[:, 0].sum()) < int(shifted.sum())  # some from the start, some later


def test_the_threshold_is_calibrated_only_where_the_predictor_context_is_all_observed() -> None:
    torch.manual_seed(0)
    config = replace(TINY.model, predictor=replace(TINY.model.predictor, history=2))
    model = WorldModel(config).eval()  # k = 2, history 2: full context from step 4 on
    run = SurpriseRunConfig(
        world="two_room",
        pairs=2,
        steps_per_episode=24,
        event_from=8,
        event_to=10,
        calibration_episodes=3,
        events=("unchanged",),
    )
    report = run_surprise(model, run, progress=False)
    # each episode scores frames 2..24 (k = 2 on); the calibration keeps frames 4..24
    assert report.calibration_steps == 3 * (24 + 1 - 4)
