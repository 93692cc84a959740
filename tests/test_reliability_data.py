"""Abuse cases of issue 23 for datasets, collection, atomic writes and recipes: one line, no loss.

Each test is one abuse case: a hostile or unlucky input that used to train silently, corrupt or
lose a file, or end in a traceback, and now ends in one `AmiError` line (or is refused before any
work) with every earlier file intact.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ami.config import config_to_dict
from ami.errors import ConfigError
from ami.recipes import TINY, load_recipe, save_recipe

recipes = pytest.mark.reliability("recipes")


def tiny_dict() -> dict:
    return json.loads(json.dumps(config_to_dict(TINY)))


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


# --- recipes ---------------------------------------------------------------------------------


@recipes
def test_a_non_utf8_recipe_file_is_one_config_error(tmp_path):
    path = tmp_path / "recipe.json"
    path.write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(ConfigError, match="not UTF-8") as info:
        load_recipe(path)
    assert str(path) in str(info.value)


@recipes
def test_a_deeply_nested_recipe_file_is_one_config_error(tmp_path):
    path = tmp_path / "recipe.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match="nested too deeply") as info:
        load_recipe(path)
    assert str(path) in str(info.value)


@recipes
def test_a_top_level_list_recipe_is_one_config_error(tmp_path):
    path = write_json(tmp_path / "recipe.json", [tiny_dict()])
    with pytest.raises(ConfigError, match="JSON object") as info:
        load_recipe(path)
    assert str(path) in str(info.value)


@recipes
@pytest.mark.parametrize(
    ("part", "field", "value", "named"),
    [
        ("train", "steps", 2.5, "TrainConfig.steps"),
        ("train", "steps", True, "TrainConfig.steps"),
        ("train", "batch_size", "16", "TrainConfig.batch_size"),
        ("train", "lr", True, "TrainConfig.lr"),
        ("train", "symmetries", 1, "TrainConfig.symmetries"),
        ("collect", "world", 7, "CollectConfig.world"),
        ("collect", "episodes", None, "CollectConfig.episodes"),
        ("window", "length", [3], "WindowConfig.length"),
    ],
)
def test_an_ill_typed_recipe_value_is_one_config_error_naming_the_field(
    tmp_path, part, field, value, named
):
    data = tiny_dict()
    data[part][field] = value
    path = write_json(tmp_path / "recipe.json", data)
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")) as info:
        load_recipe(path)
    assert str(path) in str(info.value)


@recipes
@pytest.mark.parametrize(
    ("part", "field", "value", "named"),
    [
        ("encoder", "embed_dim", 16.5, "EncoderConfig.embed_dim"),
        ("encoder", "channels", [8, "16", 16], "EncoderConfig.channels[1]"),
        ("encoder", "channels", 8, "EncoderConfig.channels"),
        ("encoder", "coord_channels", "yes", "EncoderConfig.coord_channels"),
        ("predictor", "hidden", 32.0, "PredictorConfig.hidden"),
    ],
)
def test_an_ill_typed_model_value_is_one_config_error_naming_the_field(
    tmp_path, part, field, value, named
):
    data = tiny_dict()
    data["model"][part][field] = value
    path = write_json(tmp_path / "recipe.json", data)
    with pytest.raises(ConfigError, match=named.replace(".", r"\.").replace("[", r"\[")):
        load_recipe(path)


@recipes
def test_a_float_field_takes_an_integer_and_every_preset_round_trips(tmp_path):
    from ami.recipes import PRESETS

    data = tiny_dict()
    data["train"]["lr"] = 1
    loaded = load_recipe(write_json(tmp_path / "int_lr.json", data))
    assert loaded.train.lr == 1.0 and isinstance(loaded.train.lr, float)
    for name, recipe in PRESETS.items():
        assert load_recipe(save_recipe(recipe, tmp_path / f"{name}.json")) == recipe


@recipes
def test_an_ill_typed_recipe_in_the_cli_is_one_line(tmp_path):
    from cli_run import ami, assert_one_line_error

    data = tiny_dict()
    data["train"]["steps"] = 2.5
    path = write_json(tmp_path / "recipe.json", data)
    out = tmp_path / "run"
    result = ami(
        "train", "--data", str(tmp_path / "no.h5"), "--recipe", str(path), "--out", str(out)
    )
    assert_one_line_error(result, "TrainConfig.steps", str(path))
