"""`ami probe` and `ami surprise` on Gymnasium envs ami was not written for.

A tiny model of `StatefulPoint` (`tests/fake_gym_envs.py`: a point whose state is its position
and velocity, readable and settable with get_state/set_state) is probed component by component
and surprised by teleports of its simulator state; envs without a setter (DictPoint) or without
any state (`tests/fake_image_envs.py`) are refused in one line.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ami.cli import main
from ami.pipeline import run_collect, run_train
from ami.understanding.state_events import SimStateHooks, record_sim_states
from ami.world_recipe import recipe_for_world
from ami.worlds import make

WORLD = "gym:fake_gym_envs:AmiTest/StatefulPoint-v0"
STATE_NAMES = ["position[0]", "position[1]", "velocity[0]", "velocity[1]"]


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["ami", *args])
    try:
        main()
    except SystemExit as done:
        return int(done.code or 0)
    return 0


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run folder of a tiny model of StatefulPoint (speed 0.1: it crosses the arena)."""
    folder = tmp_path_factory.mktemp("stateful")
    recipe = recipe_for_world(WORLD, {"speed": 0.1}, base="tiny")
    train = replace(recipe.train, steps=150, valid_every=0, checkpoint_every=150)
    collect = replace(recipe.collect, episodes=60, steps_per_episode=30)
    recipe = replace(recipe, collect=collect, train=train)
    torch.manual_seed(0)
    data = run_collect(recipe.collect, folder / "data.h5", progress=False)
    run_train(recipe, data, folder / "run", torch.device("cpu"), progress=False)
    return folder / "run"


def test_teleport_hooks_jump_to_the_farthest_donor_state() -> None:
    world = make(WORLD, size=32)
    donors = record_sim_states(world, seed=3, actions=np.ones((5, 2), np.float32))
    assert donors.shape == (6, 4)  # the reset state and one per action; position and velocity
    hooks = SimStateHooks(world, donors)
    now = hooks.state()
    target = hooks.teleport(now, np.random.default_rng(0))
    assert target is not None
    distances = np.linalg.norm(donors - now, axis=1)
    assert np.linalg.norm(target - now) in distances  # a donor state
    obs = hooks.set_state(target)
    np.testing.assert_allclose(obs["state"], target, atol=1e-6)  # the world is there now
    world.close()


@pytest.mark.slow
def test_probe_reads_every_named_state_component(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "probe"
    code = run_cli(monkeypatch, "probe", "--model", str(run), "--episodes", "40", "--out",
                   str(out), "--quiet")  # fmt: skip
    assert code == 0
    document = json.loads((out / "probe.json").read_text())
    assert document["world"] == WORLD  # the model's world, not named on the command line
    assert document["settings"]["world_options"] == {"speed": 0.1}  # from the run's recipe
    assert list(document["quantities"]) == STATE_NAMES
    for figures in document["quantities"].values():
        assert -1.0 <= figures["r"] <= 1.0 and -1.0 <= figures["r_random_encoder"] <= 1.0
        assert figures["group"] in ("position", "velocity")
    for name in ("position[0]", "position[1]"):  # a disc on a plain floor: its place is seen
        figures = document["quantities"][name]
        assert figures["r"] > 0.7 and figures["r"] > figures["r_random_encoder"], name
    names = sorted(p.name for p in out.glob("scatter_*.png"))
    assert names == sorted(f"scatter_{n.replace('[', '_').rstrip(']')}.png" for n in STATE_NAMES)


@pytest.mark.slow
def test_surprise_spikes_at_a_teleport_of_the_simulator_state(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "surprise"
    code = run_cli(monkeypatch, "surprise", "--model", str(run), "--pairs", "12", "--out",
                   str(out), "--quiet")  # fmt: skip
    assert code == 0
    document = json.loads((out / "surprise.json").read_text())
    assert set(document["events"]) == {"teleport", "colour_change", "unchanged"}
    settings = document["settings"]
    assert settings["steps_per_episode"] == 30  # fitted to the env's 30-step TimeLimit
    assert settings["event_to"] < 30
    teleport = document["events"]["teleport"]
    assert teleport["pairs"] == 12
    assert teleport["auroc"] >= 0.9 and teleport["p_value"] < 0.01
    assert teleport["median_surprise"] > teleport["median_twin_surprise"]
    unchanged = document["events"]["unchanged"]  # set to the state it is in: nothing changes
    assert unchanged["auroc"] == 0.5 and unchanged["p_value"] == 1.0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "world", "fragments"),
    [
        ("surprise", "gym:fake_gym_envs:AmiTest/DictPoint-v0", ("no", "simulator state")),
        ("probe", "gym:fake_image_envs:AmiTest/CameraPoint-v0", ("gives no state",)),
        ("surprise", "gym:fake_image_envs:AmiTest/CameraPoint-v0", ("simulator state",)),
        ("probe", "gym:fake_gym_envs:AmiTest/DictPoint-v0", ("trained on", "StatefulPoint")),
    ],
)
def test_worlds_without_what_a_command_needs_are_one_line_errors(
    run: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    world: str,
    fragments: tuple[str, ...],
) -> None:
    out = tmp_path / "out"
    code = run_cli(monkeypatch, command, "--model", str(run), "--world", world, "--out", str(out))
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2
    assert len(lines) == 1, lines
    assert all(fragment in lines[0] for fragment in fragments), lines[0]
    assert not out.exists()
