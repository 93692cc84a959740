"""A Gymnasium env ami was not written for, through the command line: collect -> train -> eval.

The env (`tests/fake_gym_envs.py`) has Dict observations, float64 Box actions in [-2, 2], a 96 px
render and a 30-step TimeLimit; it is named as a user names theirs, `gym:MODULE:ENV_ID` or
`--import MODULE --world gym:ENV_ID`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ami.experience import ExperienceDataset
from cli_run import ami, assert_one_line_error

WORLD = "gym:fake_gym_envs:AmiTest/DictPoint-v0"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gym") / "point.h5"
    result = ami(
        "collect", "--world", "gym:AmiTest/DictPoint-v0", "--import", "fake_gym_envs",
        "--out", str(path), "--episodes", "12", "--steps", "40", "--image-size", "32",
        "--world-kwargs", '{"speed": 0.1}', "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "ami: warning:" in result.stderr and "after 30 steps (its TimeLimit)" in result.stderr
    return path


def test_collect_records_the_world_its_settings_and_a_random_policy(dataset: Path) -> None:
    with ExperienceDataset.open(dataset) as data:
        assert data.world == WORLD  # the module is recorded: later commands import it again
        assert data.action_dim == 2 and data.image_size == 32
        assert data.state_dim == 4  # position and velocity, flattened
        collect = data.meta["collect"]
        assert collect["policy"] == "random"  # no scripted expert for this world
        assert collect["world_options"] == {"speed": 0.1}
        # the 30-step TimeLimit ends every episode (31 frames), not the 40 asked for
        assert set(data.episode_lengths.tolist()) == {31}


@pytest.mark.slow
def test_train_then_eval_rebuild_the_same_world(dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    trained = ami("train", "--data", str(dataset), "--out", str(run), "--preset", "tiny", "--quiet")
    assert trained.returncode == 0, trained.stderr
    recipe = json.loads((run / "recipe.json").read_text())
    assert recipe["collect"]["world"] == WORLD
    assert recipe["collect"]["world_options"] == {"speed": 0.1}
    frameskip = recipe["model"]["frameskip"]
    assert recipe["model"]["predictor"]["action_dim"] == frameskip * 2  # frameskip x A
    out = tmp_path / "eval"
    evaluated = ami("eval", "--model", str(run), "--out", str(out), "--episodes", "2", "--quiet")
    assert evaluated.returncode == 0, evaluated.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["protocol"]["world"] == WORLD
    assert list(results["protocols"]) == ["goal_25_steps"]
    figures = results["protocols"]["goal_25_steps"]
    assert figures["protocol"]["pairing"] == "goal_state" and figures["budget"] == 50
    assert figures["refused"]["start_methods"] == {"replay": 2}  # DictPoint has no state setter
    for floor in ("success_rate", "random_success_rate", "zero_success_rate"):
        assert 0.0 <= figures[floor] <= 1.0, floor
    assert (out / "report.html").is_file() and (out / "episodes.gif").is_file()
    scored = ami(
        "eval", "--model", str(run), "--out", str(tmp_path / "scored"), "--episodes", "2",
        "--protocol", "goal_10_steps", "--success", "fake_gym_envs:position_gap",
        "--success-threshold", "0.05", "--score-at", "held", "--held-steps", "3", "--quiet",
    )  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    protocol = json.loads((tmp_path / "scored" / "results.json").read_text())["protocol"]
    assert (protocol["name"], protocol["budget"], protocol["goal_offset"]) == (
        "goal_10_steps",
        20,
        10,
    )
    assert (protocol["success"], protocol["score_at"], protocol["held_steps"]) == (
        "fake_gym_envs:position_gap", "held", 3,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("world", "fragments"),
    [
        ("gym:NoSuchEnv-v0", ("NoSuchEnv",)),
        ("gym:no_such_package_xyz:Env-v0", ("no_such_package_xyz",)),
        ("gym:fake_gym_envs:AmiTest/NoPixels-v0", ("rgb_array",)),
        ("gym:fake_gym_envs:AmiTest/Unbounded-v0", ("infinite bounds",)),
    ],
)
@pytest.mark.reliability("cli")
def test_gym_world_errors_are_one_line(tmp_path: Path, world: str, fragments: tuple) -> None:
    result = ami("collect", "--world", world, "--out", str(tmp_path / "d.h5"), "--episodes", "1")
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "d.h5").exists()


@pytest.mark.reliability("cli")
def test_world_kwargs_must_be_a_json_object(tmp_path: Path) -> None:
    result = ami(
        "collect", "--world", WORLD, "--out", str(tmp_path / "d.h5"), "--world-kwargs", "[1, 2]"
    )
    assert_one_line_error(result, "--world-kwargs", "JSON object")


@pytest.mark.reliability("cli")
def test_an_unimportable_module_is_one_line(tmp_path: Path) -> None:
    result = ami(
        "collect", "--world", "gym:X-v0", "--import", "no_such_module_xyz",
        "--out", str(tmp_path / "d.h5"),
    )  # fmt: skip
    assert_one_line_error(result, "--import no_such_module_xyz")
