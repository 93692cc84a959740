"""Abuse cases of issue 23 for datasets, collection, atomic writes and recipes: one line, no loss.

Each test is one abuse case: a hostile or unlucky input that used to train silently, corrupt or
lose a file, or end in a traceback, and now ends in one `AmiError` line (or is refused before any
work) with every earlier file intact.
"""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ami.config import config_to_dict
from ami.errors import ConfigError, DatasetError
from ami.experience import (
    CollectConfig,
    Episode,
    ExperienceDataset,
    WindowConfig,
    WindowDataset,
    collect_to_file,
    write_dataset,
)
from ami.recipes import TINY, load_recipe, save_recipe

recipes = pytest.mark.reliability("recipes")
datasets = pytest.mark.reliability("datasets")
WINDOW = WindowConfig(length=2)


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
        "train", "--data", str(tmp_path / "no.h5"), "--recipe-file", str(path), "--out", str(out)
    )
    assert_one_line_error(result, "TrainConfig.steps", str(path))


# --- datasets: what a file holds -------------------------------------------------------------


def toy_dataset(path: Path, episodes: int = 3, steps: int = 6) -> Path:
    """A small valid dataset: 8x8 frames, 2-d actions, 3-d states, `episodes` of `steps` steps."""
    rng = np.random.default_rng(0)
    made = [
        Episode(
            pixels=rng.integers(0, 256, (steps + 1, 8, 8, 3), dtype=np.uint8),
            actions=rng.uniform(-1, 1, (steps, 2)).astype(np.float32),
            states=rng.uniform(0, 1, (steps + 1, 3)).astype(np.float32),
        )
        for _ in range(episodes)
    ]
    return write_dataset(path, made, meta={"world": "two_room"})


def replace_array(path: Path, name: str, change) -> None:
    """Rewrite array `name` of the file at `path` as `change(old_array)` (any dtype or shape)."""
    with h5py.File(path, "r+") as file:
        old = file[name][()]
        del file[name]
        new = change(old)
        if new is not None:
            file.create_dataset(name, data=new)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """A few TwoRoom episodes that fit the tiny recipe (32 px, 2-d actions)."""
    folder = tmp_path_factory.mktemp("tiny_data")
    return collect_to_file(replace(TINY.collect, episodes=4), folder / "data.h5", progress=False)


def with_nan(value: float, column: str, row: int):
    def change(old: np.ndarray) -> np.ndarray:
        old[row, -1] = value
        return old

    return change


@datasets
@pytest.mark.parametrize(
    ("column", "value"),
    [("actions", np.nan), ("actions", np.inf), ("states", -np.inf), ("states", np.nan)],
)
def test_non_finite_data_is_refused_at_load_naming_file_column_row_and_episode(
    tmp_path, column, value
):
    path = toy_dataset(tmp_path / "data.h5")  # episodes of 7 frames: row 9 is in episode 1
    replace_array(path, column, with_nan(value, column, 9))
    with pytest.raises(DatasetError) as info:
        WindowDataset.from_file(path, WINDOW, progress=False)
    message = str(info.value)
    for fragment in (str(path), f"'{column}' row 9", "episode 1", "NaN or infinity"):
        assert fragment in message


@datasets
def test_an_episode_with_nan_actions_is_refused_when_read_alone(tmp_path):
    path = toy_dataset(tmp_path / "data.h5")
    replace_array(path, "actions", with_nan(np.nan, "actions", 15))
    with ExperienceDataset.open(path) as dataset:
        dataset.episode(0)
        with pytest.raises(DatasetError, match="'actions' row 15 \\(episode 2\\)"):
            dataset.episode(2)


@datasets
def test_windows_built_from_arrays_refuse_nan_actions():
    pixels = np.zeros((6, 8, 8, 3), np.uint8)
    actions = np.zeros((6, 2), np.float32)
    actions[3, 0] = np.nan
    with pytest.raises(DatasetError, match="actions row 3"):
        WindowDataset(pixels, actions, np.zeros((6, 1), np.float32), [0], [6], WINDOW)


@datasets
def test_nan_actions_stop_ami_train_in_one_line(tmp_path, tiny_data):
    from cli_run import ami, assert_one_line_error

    path = tmp_path / "nan.h5"
    path.write_bytes(tiny_data.read_bytes())
    replace_array(path, "actions", with_nan(np.nan, "actions", 50))
    recipe = save_recipe(TINY, tmp_path / "recipe.json")
    out = tmp_path / "run"
    result = ami("train", "--data", str(path), "--out", str(out), "--recipe-file", str(recipe))
    assert_one_line_error(result, str(path), "'actions' row 50", "episode 1")
    assert not (out / "checkpoint").exists()


@datasets
@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda old: old.astype(np.float32) * 1000.0, "dtype float32"),
        (lambda old: old.astype(np.int64) - 300, "dtype int64"),
        (lambda old: old.astype(np.uint16), "dtype uint16"),
    ],
    ids=["float32_up_to_255000", "negative_int64", "uint16"],
)
def test_pixels_that_are_not_uint8_are_refused(tmp_path, change, fragment):
    path = toy_dataset(tmp_path / "data.h5")
    replace_array(path, "pixels", change)
    with pytest.raises(DatasetError, match=fragment) as info:
        ExperienceDataset.open(path)
    assert str(path) in str(info.value) and "uint8 [F, h, w, 3]" in str(info.value)


@datasets
@pytest.mark.parametrize(
    ("column", "change", "fragment"),
    [
        ("actions", lambda old: np.array([[b"%f" % v for v in row] for row in old]), "strings"),
        (
            "actions",
            lambda old: np.array([[str(v) for v in row] for row in old], dtype=h5py.string_dtype()),
            "strings",
        ),
        ("states", lambda old: old.astype(np.complex64), "complex64"),
        ("states", lambda old: old > 0.5, "bool"),
        ("episode_starts", lambda old: old.astype(np.float64), "float64"),
    ],
    ids=["byte_strings", "variable_strings", "complex", "bool", "float_index"],
)
def test_non_numeric_columns_are_refused(tmp_path, column, change, fragment):
    path = toy_dataset(tmp_path / "data.h5")
    replace_array(path, column, change)
    with pytest.raises(DatasetError, match=fragment) as info:
        WindowDataset.from_file(path, WINDOW, progress=False)
    assert str(path) in str(info.value) and column in str(info.value)


@datasets
@pytest.mark.parametrize(
    ("column", "change"),
    [
        ("actions", lambda old: old[:, 0]),  # rank 1
        ("states", lambda old: old[:, :, None]),  # rank 3
        ("actions", lambda old: old[:-1]),  # one row short
        ("states", lambda old: np.concatenate([old, old[:1]])),  # one row too many
        ("pixels", lambda old: np.uint8(7)),  # a scalar
        ("pixels", lambda old: old[..., :1]),  # grey frames
    ],
    ids=[
        "actions_rank_1",
        "states_rank_3",
        "actions_short",
        "states_long",
        "pixels_scalar",
        "grey",
    ],
)
def test_columns_of_the_wrong_rank_or_row_count_are_refused(tmp_path, column, change):
    path = toy_dataset(tmp_path / "data.h5")
    replace_array(path, column, change)
    with pytest.raises(DatasetError, match="shape") as info:
        ExperienceDataset.open(path)
    assert str(path) in str(info.value) and column in str(info.value)


@datasets
def test_a_group_where_an_array_goes_is_refused(tmp_path):
    path = toy_dataset(tmp_path / "data.h5")
    replace_array(path, "pixels", lambda old: None)
    with h5py.File(path, "r+") as file:
        file.create_group("pixels")
    with pytest.raises(DatasetError, match="lacks \\['pixels'\\]"):
        ExperienceDataset.open(path)


@datasets
def test_another_worlds_data_is_refused_by_a_recipe(tmp_path):
    from ami.pipeline import training_windows

    push_t = CollectConfig(
        "push_t", episodes=2, steps_per_episode=6, policy="random", image_size=32
    )
    data = collect_to_file(push_t, tmp_path / "push_t.h5", progress=False)
    with pytest.raises(DatasetError, match="'push_t' experience.*'two_room' model") as info:
        training_windows(TINY, data, progress=False)
    assert str(data) in str(info.value)


# --- writing: disk full, read-only, odd targets -----------------------------------------------


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


class FullDisk(io.FileIO):
    """A file on a disk that fills up after `room` bytes: then writes fail with ENOSPC."""

    room = 20_000

    def write(self, data) -> int:
        size = len(memoryview(data).cast("B"))
        if self.tell() + size > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(data)


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs mounted in `tmp_path` (skipped where this process may not mount one)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
            capture_output=True,
            text=True,
        )
    except OSError as exc:
        pytest.skip(f"no mount command to make a small tmpfs: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs (needs root): {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@datasets
def test_disk_full_while_writing_a_dataset_is_one_error_keeping_the_previous_file(
    tmp_path, monkeypatch
):
    import ami.experience._hdf5 as hdf5

    path = toy_dataset(tmp_path / "data.h5")
    before = path.read_bytes()
    monkeypatch.setattr(
        hdf5, "open", lambda name, mode, buffering: FullDisk(name, "w+"), raising=False
    )
    with pytest.raises(DatasetError) as info:
        toy_dataset(path, episodes=40)
    assert str(info.value).startswith(f"no space left on device writing {path}")
    assert path.read_bytes() == before
    assert temp_files(tmp_path) == []


@datasets
def test_ami_collect_into_a_full_filesystem_is_one_line_keeping_the_previous_file(small_disk):
    from cli_run import ami, assert_one_line_error

    path = toy_dataset(small_disk / "data.h5")
    before = path.read_bytes()
    result = ami(
        "collect", "--out", str(path), "--episodes", "200", "--steps", "40", "--image-size", "32"
    )
    assert_one_line_error(result, "no space left on device", str(path))
    assert path.read_bytes() == before
    assert temp_files(small_disk) == []
    with ExperienceDataset.open(path) as dataset:
        assert dataset.num_episodes == 3


@datasets
@pytest.mark.parametrize(
    "code",
    [errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES],
    ids=["ENOSPC", "EDQUOT", "EROFS", "EACCES"],
)
def test_a_failed_atomic_write_is_one_error_keeping_the_previous_file(tmp_path, code):
    from ami.errors import FileWriteError
    from ami.files import atomic_write_with

    path = save_recipe(TINY, tmp_path / "recipe.json")
    before = path.read_bytes()

    def write(handle):
        handle.write(b"{half a recipe")
        raise OSError(code, os.strerror(code))

    with pytest.raises(FileWriteError) as info:
        atomic_write_with(path, write)
    reason = os.strerror(code)
    assert str(info.value).startswith(f"{reason[0].lower()}{reason[1:]} writing {path}")
    assert path.read_bytes() == before
    assert temp_files(tmp_path) == []


@datasets
def test_a_failed_fsync_is_one_error_keeping_the_previous_file(tmp_path, monkeypatch):
    import ami.files
    from ami.errors import FileWriteError

    path = save_recipe(TINY, tmp_path / "recipe.json")
    before = path.read_bytes()

    def fsync(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(ami.files.os, "fsync", fsync)
    with pytest.raises(FileWriteError, match="input/output error writing"):
        save_recipe(replace(TINY, name="other"), path)
    assert path.read_bytes() == before
    assert temp_files(tmp_path) == []


@datasets
def test_saving_into_a_read_only_filesystem_is_one_error(small_disk):
    from ami.errors import FileWriteError

    path = save_recipe(TINY, small_disk / "recipe.json")
    before = path.read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    with pytest.raises(FileWriteError, match="read-only file system writing"):
        save_recipe(replace(TINY, name="other"), path)
    assert path.read_bytes() == before


@datasets
def test_an_atomic_write_onto_a_folder_is_one_error(tmp_path):
    from ami.errors import FileWriteError

    with pytest.raises(FileWriteError, match="is a folder"):
        save_recipe(TINY, tmp_path)


@datasets
def test_ami_collect_out_naming_a_folder_is_one_line(tmp_path):
    from cli_run import ami, assert_one_line_error

    result = ami("collect", "--out", str(tmp_path), "--episodes", "1", "--steps", "2")
    assert_one_line_error(result, str(tmp_path), "is a folder")
    assert list(tmp_path.iterdir()) == []


@datasets
def test_ami_collect_does_not_replace_a_file_that_is_not_an_ami_dataset(tmp_path):
    from cli_run import ami, assert_one_line_error

    path = tmp_path / "thesis.h5"
    path.write_bytes(b"five years of work")
    result = ami("collect", "--out", str(path), "--episodes", "1", "--steps", "2")
    assert_one_line_error(result, str(path), "not an ami dataset")
    assert path.read_bytes() == b"five years of work"


@datasets
def test_collecting_onto_someone_elses_hdf5_file_is_refused_and_onto_a_dataset_is_allowed(tmp_path):
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as file:
        file.create_dataset("results", data=np.arange(4))
    before = foreign.read_bytes()
    with pytest.raises(DatasetError, match="not an ami dataset"):
        toy_dataset(foreign)
    assert foreign.read_bytes() == before
    path = toy_dataset(tmp_path / "data.h5", episodes=2)
    toy_dataset(path, episodes=5)  # an ami dataset is replaced, as before
    with ExperienceDataset.open(path) as dataset:
        assert dataset.num_episodes == 5


# --- absurd sizes: refused before anything is allocated --------------------------------------


@recipes
@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (
            lambda d: (
                d["collect"].update(image_size=100_000),
                d["model"]["encoder"].update(image_size=100_000),
            ),
            "image_size=100000",
        ),
        (lambda d: d["model"]["encoder"].update(hidden=10**9), "encoder.hidden=1000000000"),
        (lambda d: d["model"]["predictor"].update(hidden=10**9), "predictor.hidden=1000000000"),
        (lambda d: d["train"].update(batch_size=10**9), "train.batch_size=1000000000"),
    ],
    ids=["image_size_100000", "encoder_hidden_1e9", "predictor_hidden_1e9", "batch_1e9"],
)
def test_sizes_that_cannot_fit_the_machine_are_refused_naming_the_field(tmp_path, change, fragment):
    data = tiny_dict()
    change(data)
    path = write_json(tmp_path / "recipe.json", data)
    with pytest.raises(ConfigError, match="more than this machine's") as info:
        load_recipe(path)
    assert fragment in str(info.value) and str(path) in str(info.value)


@recipes
def test_a_batch_of_a_billion_windows_stops_ami_train_in_one_line(tmp_path):
    from cli_run import ami, assert_one_line_error

    data = tiny_dict()
    data["train"]["batch_size"] = 10**9
    path = write_json(tmp_path / "recipe.json", data)
    out = tmp_path / "run"
    result = ami(
        "train", "--data", str(tmp_path / "no.h5"), "--out", str(out), "--recipe-file", str(path)
    )
    assert_one_line_error(result, "train.batch_size=1000000000", "more than this machine's")


@recipes
def test_the_model_parameter_count_is_counted_without_building_the_model():
    from ami.model import WorldModel
    from ami.recipes import PRESETS

    for recipe in PRESETS.values():
        built = sum(p.numel() for p in WorldModel(recipe.model).parameters())
        assert recipe.model.parameter_count == built


@datasets
def test_a_dataset_claiming_a_terabyte_of_frames_is_refused_before_allocating(tmp_path):
    path = toy_dataset(tmp_path / "data.h5")
    frames = 2**40 // (8 * 8 * 3)  # 1 TiB of 8x8 frames, stored as empty chunks
    with h5py.File(path, "r+") as file:
        for name, dim in (("pixels", None), ("actions", 2), ("states", 3)):
            del file[name]
            shape = (frames, 8, 8, 3) if dim is None else (frames, dim)
            dtype = np.uint8 if dim is None else np.float32
            file.create_dataset(name, shape=shape, dtype=dtype, chunks=(1, *shape[1:]))
    with pytest.raises(DatasetError, match="more than this machine's .* of memory can load"):
        WindowDataset.from_file(path, WINDOW, progress=False)


# --- properties: whatever the input, a result or exactly one AmiError line -------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from([0, 1, -1, 2**63, 10**400, 0.5, 1e308]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def leaf_paths(data: dict, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys) to a non-mapping value of the nested dict `data`."""
    paths = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            paths += leaf_paths(value, (*prefix, key))
        else:
            paths.append((*prefix, key))
    return paths


TINY_PATHS = leaf_paths(tiny_dict())


def loads_or_one_error(load, path: Path):
    """`load(path)`, or None after exactly one AmiError whose message is one line."""
    from ami.errors import AmiError

    try:
        return load(path)
    except AmiError as error:
        assert "\n" not in str(error) and str(error).strip()
        return None


@recipes
@given(value=JSON)
def test_any_json_as_a_recipe_file_is_a_recipe_or_one_config_error(value):
    from ami.recipes import Recipe

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "recipe.json"
        path.write_text(json.dumps(value))
        result = loads_or_one_error(load_recipe, path)
    assert result is None or isinstance(result, Recipe)


@recipes
@given(where=st.sampled_from(TINY_PATHS), value=JSON)
def test_a_tiny_recipe_with_any_field_set_to_any_json_is_a_recipe_or_one_error(where, value):
    from ami.recipes import Recipe

    data = tiny_dict()
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    with tempfile.TemporaryDirectory() as folder:
        result = loads_or_one_error(load_recipe, write_json(Path(folder) / "recipe.json", data))
    if result is None:
        return
    assert isinstance(result, Recipe)
    stored, original = config_to_dict(result), tiny_dict()
    for key in where:
        stored, original = stored[key], original[key]
    allowed = {"bool", "str"} if where == ("train", "compile") else {json_kind(original)}
    assert json_kind(stored) in allowed  # an accepted value has its field's type


def json_kind(value: object) -> str:
    """The JSON kind of a value as a recipe stores it (tuples are lists)."""
    if isinstance(value, tuple | list):
        return "list"
    return type(value).__name__


def load_windows(path: Path) -> WindowDataset:
    return WindowDataset.from_file(path, WINDOW, progress=False)


@datasets
@given(data=st.binary(max_size=4096), signed=st.booleans())
def test_random_bytes_as_a_dataset_are_one_dataset_error(data, signed):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.h5"
        path.write_bytes((b"\x89HDF\r\n\x1a\n" if signed else b"") + data)
        assert loads_or_one_error(load_windows, path) is None


ARRAY_DTYPES = st.sampled_from(
    [np.uint8, np.int8, np.int64, np.uint16, np.float16, np.float32, np.float64, np.complex64, bool]
)


@st.composite
def arrays(draw) -> np.ndarray:
    """A small array of any rank 0-4 and a numeric, string or bool dtype, NaN and inf included."""
    shape = tuple(draw(st.lists(st.integers(0, 9), max_size=4)))
    if draw(st.booleans()):
        return np.full(shape, draw(st.sampled_from([b"x", b"1.5"])))
    values = draw(st.sampled_from([0, 1, -300, 255, 1e6, np.nan, np.inf]))
    with np.errstate(all="ignore"):
        return np.full(shape, values).astype(draw(ARRAY_DTYPES))


@datasets
@given(
    name=st.sampled_from(["pixels", "actions", "states", "episode_starts", "episode_lengths"]),
    array=arrays(),
    attribute=st.sampled_from(["world", "action_dim", "state_dim", "image_size", "meta_json"]),
    value=st.none() | st.sampled_from([-1, 0, 3, 2**40, 1.5, "8", "two_room", b"\xff"]),
)
def test_a_dataset_with_any_array_or_attribute_replaced_loads_or_is_one_error(
    name, array, attribute, value
):
    with tempfile.TemporaryDirectory() as folder:
        path = toy_dataset(Path(folder) / "data.h5")
        with h5py.File(path, "r+") as file:
            del file[name]
            file.create_dataset(name, data=array)
            if value is not None:
                file.attrs[attribute] = value
        result = loads_or_one_error(load_windows, path)
    assert result is None or len(result) > 0
