"""The cube world's protocols, probes and surprise events, and its recipe through the CLI.

Episodes are few (2-3) and frames small; the slow test runs collect -> train -> eval -> probe
through the `ami` command on a tiny cube model, asserting that every step completes and
writes its files (not that a tiny model beats the random floor: it does not).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from ami.errors import ConfigError, DependencyMissingError

pytest.importorskip("ogbench", reason="the cube world needs OGBench (pip install 'ami[cube]')")

from ami.agent import RandomAgent  # noqa: E402
from ami.evaluation.cube_protocols import START_STEP  # noqa: E402
from ami.evaluation.episode_specs import prepare_episodes  # noqa: E402
from ami.evaluation.protocols import protocol_by_name, protocols_of  # noqa: E402
from ami.evaluation.runner import evaluate, protocol_world_settings  # noqa: E402
from ami.experience import CollectConfig, collect  # noqa: E402
from ami.recipes import preset  # noqa: E402
from ami.understanding.cube_events import SUNK_Z, CubeHooks  # noqa: E402
from ami.understanding.perturbations import Event, EventWorld  # noqa: E402
from ami.understanding.quantities import quantity_groups  # noqa: E402
from ami.understanding.surprise_run import SurpriseRunConfig  # noqa: E402
from ami.world_recipe import recipe_for_world  # noqa: E402
from ami.worlds import make  # noqa: E402
from ami.worlds.cube_state import state_slice  # noqa: E402

RENDERER = "fast" if importlib.util.find_spec("ami.worlds.mujoco_raster") else "mujoco"
SIZE = 32
PROTOCOL_NAMES = ("goal_25_steps", "goal_25_steps_fixed", "ogbench_tasks")


def open_world(**settings):
    try:
        return make("cube", size=SIZE, renderer=RENDERER, **settings)
    except DependencyMissingError as exc:
        pytest.skip(f"no renderer for the cube world here: {exc}")


def cube_position(state: np.ndarray) -> np.ndarray:
    return np.asarray(state)[state_slice("cube_position")]


def held_out(protocol, steps: int) -> list:
    """The protocol's held-out expert episodes, as `_dataset_offset_specs` collects them."""
    config = CollectConfig(world="cube", episodes=3 * protocol.episodes, steps_per_episode=steps,
                           policy="expert", seed=protocol.seed, image_size=SIZE,
                           world_options={"renderer": RENDERER})  # fmt: skip
    return list(collect(config, progress=False))


def test_the_cube_has_its_preset_and_three_protocols() -> None:
    recipe = recipe_for_world("cube")
    assert recipe.name == "cube" and recipe.collect.world == "cube"
    assert recipe.model.predictor.action_dim == recipe.model.frameskip * 5 == 25
    assert recipe.model.predictor.history == 3 and recipe.collect.policy == "expert"
    assert preset("cube") == recipe
    assert protocols_of("cube") == list(PROTOCOL_NAMES)
    for name in PROTOCOL_NAMES:
        protocol = protocol_by_name(name, 4, "cube")
        assert (protocol.world, protocol.episodes, protocol.seed) == ("cube", 4, 1_000_003)
        assert protocol.version == 1 and protocol.description
    assert protocol_by_name("goal_25_steps", 4, "cube").budget == 50
    assert protocol_by_name("ogbench_tasks", 4, "cube").budget == 200
    assert protocol_by_name("goal_25_steps_fixed", 4, "cube").start_step == START_STEP


@pytest.mark.parametrize("name", PROTOCOL_NAMES)
def test_each_protocol_builds_episodes_that_start_unsolved(name: str) -> None:
    protocol = protocol_by_name(name, 3, "cube")
    env = open_world(**protocol_world_settings(protocol))
    prepared = prepare_episodes(protocol, env, {"renderer": RENDERER})
    assert len(prepared.specs) == 3
    for spec in prepared.specs:
        obs, info = env.reset(options=spec.options)
        assert not info["is_success"]  # solved starts are refused
        assert info["distance"] > 0.04
        if name != "ogbench_tasks":  # the goal image is the held-out frame 25 steps on
            assert spec.goal_pixels is not None and spec.goal_pixels.shape == (SIZE, SIZE, 3)
    if name == "ogbench_tasks":
        targets = {tuple(np.round(spec.options["goal"], 3)) for spec in prepared.specs}
        assert len(targets) == 3  # tasks 1, 2, 3: three OGBench targets
        assert prepared.refusals == {}
    else:
        refused = prepared.refusals
        usable = refused["starts_considered"] - refused["solved_starts"]
        assert refused["unsettable_starts"] == 0  # every cube state can be set
        assert usable >= 3
    env.close()


def test_goal_25_steps_refuses_and_counts_solved_starts() -> None:
    protocol = protocol_by_name("goal_25_steps", 3, "cube")
    env = open_world(**protocol_world_settings(protocol))
    refused = prepare_episodes(protocol, env, {"renderer": RENDERER}).refusals
    env.close()
    # the expert reaches for the cube for ~30 steps: the cube is still 25 steps on
    assert refused["solved_starts"] > 0
    assert refused["starts_considered"] == 26 * (3 + refused["episodes_without_start"])


def test_the_fixed_start_is_that_step_of_a_held_out_episode_reached_exactly() -> None:
    protocol = protocol_by_name("goal_25_steps_fixed", 2, "cube")
    env = open_world(**protocol_world_settings(protocol))
    specs = prepare_episodes(protocol, env, {"renderer": RENDERER}).specs
    starts = [episode.states[START_STEP] for episode in held_out(protocol, START_STEP + 25)]
    for spec in specs:
        obs, _ = env.reset(options=spec.options)
        recorded = min(starts, key=lambda s: np.abs(s - obs["state"]).max())
        np.testing.assert_allclose(obs["state"], recorded, atol=1e-5)  # set exactly
    env.close()


def test_every_recorded_state_is_reached_exactly_by_its_reset_options() -> None:
    env = open_world()
    episode = held_out(protocol_by_name("goal_25_steps", 1, "cube"), 40)[0]
    for t in (0, 20, 35):
        options = env.unwrapped.reset_options(episode.states[t], episode.states[t + 5])
        obs, info = env.reset(options=options)
        np.testing.assert_allclose(obs["state"], episode.states[t], atol=1e-5)
        np.testing.assert_allclose(info["goal_state"], cube_position(episode.states[t + 5]))
    env.close()


def test_the_random_floor_runs_beside_the_agent_on_the_fixed_start() -> None:
    protocol = protocol_by_name("goal_25_steps_fixed", 2, "cube")
    result = evaluate(
        protocol, RandomAgent(5, seed=7), progress=False, world_overrides={"size": SIZE,
                                                                           "renderer": RENDERER}
    )  # fmt: skip
    figures = result.as_dict()
    assert figures["episodes"] == 2 and figures["protocol"]["name"] == "goal_25_steps_fixed"
    assert 0.0 <= figures["random_success_rate"] <= 1.0
    assert figures["refused"]["starts_considered"] >= 2
    assert len(result.random_final_distances) == 2


def test_probes_read_the_cubes_named_quantities() -> None:
    names = {group.name: group for group in quantity_groups("cube")}
    assert set(names) >= {"cube position", "cube quaternion", "effector position",
                          "gripper opening", "cube velocity"}  # fmt: skip
    assert names["cube position"].columns == (0, 1, 2)
    assert names["gripper opening"].columns == (state_slice("gripper_opening").start,)


def test_surprise_stages_teleport_and_the_table_pass_but_not_vanish() -> None:
    config = SurpriseRunConfig(world="cube", pairs=2, calibration_episodes=2)
    assert config.event_names == ("teleport", "wall_pass", "colour_change", "unchanged")
    with pytest.raises(ConfigError, match="vanish"):
        SurpriseRunConfig(world="cube", events=("vanish",))


def test_a_teleport_moves_the_cube_and_a_table_pass_sinks_it() -> None:
    env = open_world()
    env.reset(seed=3)
    hooks = CubeHooks(env.unwrapped)
    before = hooks.state()
    at = int(env.unwrapped.model.joint("object_joint_0").qposadr[0])  # the cube's x in qpos
    rng = np.random.default_rng(0)
    target = hooks.teleport(before, rng)
    hooks.set_state(target)
    np.testing.assert_allclose(env.unwrapped.cube_position(), target[at : at + 3])  # it is there
    assert np.linalg.norm(target[at : at + 2] - before[at : at + 2]) >= 0.1
    obs = hooks.set_state(hooks.wall_pass(hooks.state(), rng))
    assert cube_position(obs["state"])[2] == pytest.approx(SUNK_Z)
    unchanged = hooks.state()
    hooks.set_state(unchanged)
    np.testing.assert_array_equal(hooks.state(), unchanged)
    env.close()


def test_an_event_world_teleports_the_cube_at_the_asked_step() -> None:
    env = EventWorld(open_world(), Event("teleport", 3), seed=0)
    env.reset(seed=1)
    positions = []
    for _ in range(5):
        obs, *_ = env.step(np.zeros(5, np.float32))
        positions.append(cube_position(obs["state"]))
    assert env.applied_at == 3
    assert np.linalg.norm(positions[2] - positions[1]) >= 0.1  # the jump, at step 3
    assert np.linalg.norm(positions[1] - positions[0]) < 0.01  # before it, at rest
    env.close()


@pytest.mark.slow
def test_collect_train_eval_and_probe_on_the_cube_through_the_cli(tmp_path: Path) -> None:
    from cli_run import ami

    data = tmp_path / "data.h5"
    steps = ["--quiet"]
    done = ami("collect", "--world", "cube", "--episodes", "3", "--steps", "20", "--policy",
               "expert", "--image-size", "32", "--out", str(data), *steps)  # fmt: skip
    assert done.returncode == 0, done.stderr
    run = tmp_path / "run"
    done = ami("train", "--data", str(data), "--world", "cube", "--preset", "tiny", "--steps",
               "5", "--out", str(run), "--device", "cpu", *steps)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = tmp_path / "eval"
    done = ami("eval", "--model", str(run), "--episodes", "2", "--out", str(report),
               "--device", "cpu", *steps, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads((report / "results.json").read_text())
    assert set(results["protocols"]) == set(PROTOCOL_NAMES)
    for name, entry in results["protocols"].items():
        assert entry["protocol"]["name"] == name and entry["protocol"]["version"] == 1
        assert entry["episodes"] == 2
        assert 0.0 <= entry["random_success_rate"] <= 1.0
    done = ami("probe", "--model", str(run), "--episodes", "6", "--out", str(tmp_path / "probe"),
               "--device", "cpu", *steps)  # fmt: skip
    assert done.returncode == 0, done.stderr
    probed = json.loads((tmp_path / "probe" / "probe.json").read_text())
    assert "cube position" in json.dumps(probed)
