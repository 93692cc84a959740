"""Every user error named in the issue gives one clear line on stderr and exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ami.config import config_to_dict
from ami.experience import Episode, collect_to_file, write_dataset
from ami.model import WorldModel
from ami.recipes import TINY, save_recipe
from cli_run import ami, assert_one_line_error


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "tiny.h5"
    collect_to_file(TINY.collect, path, progress=False)
    return path


@pytest.fixture(scope="module")
def tiny_recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_recipe(TINY, tmp_path_factory.mktemp("recipe") / "recipe.json")


@pytest.mark.reliability("cli")
def test_unknown_world(tmp_path: Path) -> None:
    result = ami("collect", "--world", "three_room", "--out", str(tmp_path / "x.h5"))
    assert_one_line_error(result, "three_room", "two_room")
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.reliability("cli")
def test_non_positive_episodes(tmp_path: Path) -> None:
    result = ami("collect", "--episodes", "0", "--out", str(tmp_path / "x.h5"))
    assert_one_line_error(result, "episodes", "0")


@pytest.mark.reliability("cli")
def test_non_positive_eval_episodes(tmp_path: Path) -> None:
    result = ami("eval", "--model", str(tmp_path), "--out", str(tmp_path), "--episodes", "-3")
    assert_one_line_error(result, "episodes")


def train_with(tmp_path: Path, data: Path, change=None) -> subprocess.CompletedProcess[str]:
    """`ami train` on `data` with the tiny recipe, after `change(recipe_dict)` if given."""
    recipe = config_to_dict(TINY)
    if change is not None:
        change(recipe)
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(recipe))
    return ami(
        "train", "--data", str(data), "--out", str(tmp_path / "run"), "--recipe-file", str(path)
    )


@pytest.mark.reliability("datasets")
def test_missing_dataset(tmp_path: Path) -> None:
    assert_one_line_error(train_with(tmp_path, tmp_path / "nope.h5"), "not found", "nope.h5")


@pytest.mark.reliability("datasets")
def test_corrupt_dataset(tmp_path: Path, tiny_data: Path) -> None:
    broken = tmp_path / "broken.h5"
    data = tiny_data.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    assert_one_line_error(train_with(tmp_path, broken), "broken.h5")


@pytest.mark.reliability("datasets")
def test_window_longer_than_episodes(tmp_path: Path, tiny_data: Path) -> None:
    def change(recipe: dict) -> None:
        recipe["window"]["length"] = 40  # 40 model steps of 2 env steps > 41-frame episodes

    assert_one_line_error(train_with(tmp_path, tiny_data, change), "window of 40 steps")


@pytest.mark.reliability("datasets")
def test_dataset_action_size_differs_from_model(tmp_path: Path, tiny_data: Path) -> None:
    def change(recipe: dict) -> None:
        recipe["model"]["predictor"]["action_dim"] = 6  # 3-D env actions x frameskip 2

    result = train_with(tmp_path, tiny_data, change)
    assert_one_line_error(result, "actions of size 2", "expects 3")


@pytest.mark.reliability("datasets")
def test_dataset_action_size_differs_from_world(tmp_path: Path) -> None:
    frames = np.zeros((11, 32, 32, 3), np.uint8)
    episode = Episode(frames, np.zeros((10, 3), np.float32), np.zeros((11, 2), np.float32))
    data = write_dataset(tmp_path / "three_d.h5", [episode], meta={"world": "two_room"})
    result = train_with(tmp_path, data)
    assert_one_line_error(result, "actions of size 3", "world 'two_room' has actions of size 2")


@pytest.mark.reliability("recipes")
def test_bad_config_value(tmp_path: Path, tiny_data: Path) -> None:
    def change(recipe: dict) -> None:
        recipe["planner"]["solver"]["cem"]["elites"] = 1000

    assert_one_line_error(train_with(tmp_path, tiny_data, change), "elites")


@pytest.mark.reliability("recipes")
def test_unknown_recipe_key(tmp_path: Path, tiny_data: Path) -> None:
    def change(recipe: dict) -> None:
        recipe["train"]["stepz"] = 5

    assert_one_line_error(train_with(tmp_path, tiny_data, change), "stepz")


@pytest.mark.reliability("checkpoints")
def test_missing_checkpoint(tmp_path: Path) -> None:
    result = ami("eval", "--model", str(tmp_path / "nothing"), "--out", str(tmp_path / "o"))
    assert_one_line_error(result, "no checkpoint at", "nothing")


@pytest.mark.reliability("checkpoints")
def test_checkpoint_that_does_not_match_its_config(tmp_path: Path) -> None:
    model = WorldModel(TINY.model)
    model.save(tmp_path / "a")
    other = json.loads((tmp_path / "a" / "model.json").read_text())
    other["config"]["encoder"]["embed_dim"] = 24
    other["config"]["predictor"]["embed_dim"] = 24
    (tmp_path / "a" / "model.json").write_text(json.dumps(other))
    result = ami("eval", "--model", str(tmp_path / "a"), "--out", str(tmp_path / "o"))
    assert_one_line_error(result, "does not match its config")


@pytest.mark.reliability("cli")
def test_unknown_device(tmp_path: Path, tiny_data: Path, tiny_recipe: Path) -> None:
    result = ami(
        "train",
        "--data",
        str(tiny_data),
        "--out",
        str(tmp_path / "run"),
        "--recipe-file",
        str(tiny_recipe),
        "--device",
        "tpu:7",
    )
    assert_one_line_error(result, "tpu:7")


def test_help_is_there_for_every_command() -> None:
    for command in ("demo", "collect", "train", "eval"):
        result = ami(command, "--help")
        assert result.returncode == 0
        assert "Usage" in result.stdout


def test_collect_writes_a_dataset(tmp_path: Path) -> None:
    out = tmp_path / "d.h5"
    result = ami(
        "collect",
        "--episodes",
        "3",
        "--steps",
        "5",
        "--image-size",
        "32",
        "--out",
        str(out),
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    from ami.experience import ExperienceDataset

    with ExperienceDataset.open(out) as dataset:
        assert dataset.num_episodes == 3
        assert dataset.num_frames == 18
        assert dataset.image_size == 32


@pytest.mark.reliability("cli")
def test_unknown_solver(tmp_path: Path) -> None:
    result = ami("eval", "--model", str(tmp_path), "--out", str(tmp_path / "o"), "--solver", "ceem")
    assert_one_line_error(result, "SolverConfig.name", "'ceem'", "mppi")


@pytest.mark.reliability("cli")
def test_a_misspelt_option_is_one_usage_line_not_a_traceback():
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "ami", "train", "--presett", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "No such option" in done.stderr
