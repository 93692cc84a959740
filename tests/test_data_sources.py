"""Datasets of other formats: stable-worldmodel HDF5 and OGBench .npz read into ami's experience.

The files are written here following each format's published layout (swm's `HDF5Writer`:
per-step columns plus `ep_len` / `ep_offset`; OGBench: `observations`, `actions`, `terminals`,
`qpos`, `qvel`, saved compressed as OGBench ships them); nothing is downloaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from ami.errors import DatasetError
from ami.experience import ExperienceDataset
from ami.experience.sources import (
    ActionScaling,
    ImportOptions,
    detect_format,
    ensure_imported,
    import_dataset,
    parse_source,
    square_resized,
)

LENGTHS = (7, 5, 9)  # rows (frames) per episode


def _frames(rows: int, seed: int, height: int = 48, width: int = 64) -> np.ndarray:
    """Distinct frames: a flat colour per frame, so resizing keeps it exactly."""
    colours = np.random.default_rng(seed).integers(0, 256, (rows, 1, 1, 3), dtype=np.uint8)
    return np.broadcast_to(colours, (rows, height, width, 3)).copy()


def _swm_file(path: Path, first_action_nan: bool = False, channels_first: bool = False) -> dict:
    rows = sum(LENGTHS)
    rng = np.random.default_rng(0)
    columns = {
        "pixels": _frames(rows, 1),
        "action": rng.uniform(-1, 1, (rows, 2)).astype(np.float32),
        "proprio": rng.normal(size=(rows, 2)).astype(np.float32),
        "state": rng.normal(size=(rows, 4)).astype(np.float32),
        "reward": np.zeros(rows, np.float32),
    }
    offsets = np.concatenate([[0], np.cumsum(LENGTHS)[:-1]])
    if first_action_nan:
        columns["action"][offsets] = np.nan
    with h5py.File(path, "w") as file:
        for key, values in columns.items():
            if key == "pixels" and channels_first:
                values = values.transpose(0, 3, 1, 2)
            file.create_dataset(key, data=values, chunks=(1, *values.shape[1:]))
        file.create_dataset("ep_len", data=np.array(LENGTHS, np.int32))
        file.create_dataset("ep_offset", data=offsets.astype(np.int64))
    return {**columns, "offsets": offsets}


def _ogbench_file(path: Path, visual: bool = True) -> dict:
    rows = sum(LENGTHS)
    rng = np.random.default_rng(2)
    terminals = np.zeros(rows, np.float32)
    terminals[np.cumsum(LENGTHS) - 1] = 1
    arrays = {
        "observations": _frames(rows, 3) if visual else rng.normal(size=(rows, 29)),
        "actions": rng.uniform(-1, 1, (rows, 5)).astype(np.float32),
        "terminals": terminals,
        "qpos": rng.normal(size=(rows, 3)).astype(np.float32),
        "qvel": rng.normal(size=(rows, 2)).astype(np.float32),
    }
    np.savez_compressed(path, **arrays)
    return arrays


def test_a_stable_worldmodel_file_becomes_ami_episodes_row_for_row(tmp_path: Path) -> None:
    columns = _swm_file(tmp_path / "tworoom.h5")
    out = import_dataset(f"swm-h5:{tmp_path / 'tworoom.h5'}", tmp_path / "ami.h5")
    with ExperienceDataset.open(out) as dataset:
        assert dataset.world == "data:swm-h5" and dataset.num_episodes == len(LENGTHS)
        assert dataset.image_size == 64 and dataset.action_dim == 2 and dataset.state_dim == 4
        assert dataset.meta["action_scaling"]["source"] == "unit"  # swm's actions kept as they are
        for index, (start, length) in enumerate(zip(columns["offsets"], LENGTHS, strict=True)):
            episode = dataset.episode(index)
            rows = slice(start, start + length)
            assert episode.length == length - 1  # n frames, the n - 1 actions between them
            np.testing.assert_array_equal(
                episode.actions, columns["action"][start : start + length - 1]
            )
            np.testing.assert_array_equal(episode.states, columns["state"][rows])
            # flat colours survive the centre crop and the resize to 64 x 64 exactly
            np.testing.assert_array_equal(episode.pixels[:, 10, 20], columns["pixels"][rows, 0, 0])


def test_a_reset_row_without_action_shifts_the_actions_by_one(tmp_path: Path) -> None:
    columns = _swm_file(tmp_path / "d.h5", first_action_nan=True, channels_first=True)
    out = import_dataset(tmp_path / "d.h5", tmp_path / "ami.h5")  # the format detected
    with ExperienceDataset.open(out) as dataset:
        start, length = columns["offsets"][1], LENGTHS[1]
        episode = dataset.episode(1)
        np.testing.assert_array_equal(
            episode.actions, columns["action"][start + 1 : start + length]
        )
        np.testing.assert_array_equal(
            episode.pixels[:, 0, 0], columns["pixels"][start : start + length, 0, 0]
        )


def test_an_ogbench_file_is_split_at_its_terminals_and_streamed(tmp_path: Path) -> None:
    arrays = _ogbench_file(tmp_path / "visual-cube-single-play-v0.npz")
    out = import_dataset(
        f"ogbench:{tmp_path / 'visual-cube-single-play-v0.npz'}",
        tmp_path / "ami.h5",
        ImportOptions(image_size=32, max_episodes=2),
    )
    with ExperienceDataset.open(out) as dataset:
        assert dataset.num_episodes == 2 and dataset.image_size == 32
        assert dataset.meta["source"]["state_keys"] == ["qpos", "qvel"]
        start, length = LENGTHS[0], LENGTHS[1]
        episode = dataset.episode(1)
        np.testing.assert_array_equal(
            episode.actions, arrays["actions"][start : start + length - 1]
        )
        states = np.concatenate([arrays["qpos"], arrays["qvel"]], axis=1)[start : start + length]
        np.testing.assert_array_equal(episode.states, states)
        np.testing.assert_array_equal(
            episode.pixels[:, 5, 5], arrays["observations"][start : start + length, 0, 0]
        )


def test_actions_outside_the_unit_box_are_scaled_by_their_measured_bounds(tmp_path: Path) -> None:
    rows = sum(LENGTHS)
    actions = np.stack([np.linspace(0, 10, rows), np.linspace(-300, 100, rows)], 1)
    np.savez(
        tmp_path / "o.npz",
        observations=_frames(rows, 0),
        actions=actions.astype(np.float32),
        terminals=np.isin(np.arange(rows), np.cumsum(LENGTHS) - 1).astype(np.float32),
    )
    out = import_dataset(tmp_path / "o.npz", tmp_path / "ami.h5")
    with ExperienceDataset.open(out) as dataset:
        scaling = ActionScaling(**dataset.meta["action_scaling"])
        scaled = np.concatenate([dataset.episode(i).actions for i in range(dataset.num_episodes)])
    assert scaling.source == "measured"
    assert scaled.min() == pytest.approx(-1) and scaled.max() == pytest.approx(1)
    kept = np.concatenate(
        [
            np.arange(s, s + n - 1)
            for s, n in zip(np.cumsum((0,) + LENGTHS[:-1]), LENGTHS, strict=True)
        ]
    )
    np.testing.assert_allclose(scaling.unscale(scaled), actions[kept], atol=1e-3)


def test_downsizing_is_antialiased_and_crops_to_the_centre() -> None:
    frames = np.zeros((1, 64, 128, 3), np.uint8)
    frames[0, :, 32:96:2] = 255  # thin vertical lines inside the central square only
    frames[0, :, :32] = 100  # outside the central square: cropped away
    small = square_resized(frames, 16)
    assert small.shape == (1, 16, 16, 3)
    assert 100 < small.mean() < 155  # half the columns lit: grey, not lost or saturated


def test_reads_again_only_when_the_source_or_the_options_change(tmp_path: Path) -> None:
    _swm_file(tmp_path / "d.h5")
    target = tmp_path / "run" / "imported.h5"
    target.parent.mkdir()
    ensure_imported(tmp_path / "d.h5", target, ImportOptions())
    first = target.stat().st_mtime_ns
    ensure_imported(f"swm-h5:{tmp_path / 'd.h5'}", target, ImportOptions())
    assert target.stat().st_mtime_ns == first
    ensure_imported(tmp_path / "d.h5", target, ImportOptions(image_size=32))
    with ExperienceDataset.open(target) as dataset:
        assert dataset.image_size == 32


@pytest.mark.reliability("datasets")
@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("no_index", "ep_len"),
        ("short_actions", "'action' has"),
        ("nan_inside", "NaN"),
        ("past_end", "runs past"),
        ("truncated", "not a readable"),
    ],
)
def test_a_damaged_swm_file_is_one_line_naming_it(tmp_path: Path, damage: str, words: str) -> None:
    path = tmp_path / "d.h5"
    columns = _swm_file(path)
    with h5py.File(path, "a") as file:
        if damage == "no_index":
            del file["ep_len"]
        elif damage == "short_actions":
            del file["action"]
            file["action"] = columns["action"][:-2]
        elif damage == "nan_inside":
            file["action"][3] = np.nan
        elif damage == "past_end":
            file["ep_len"][2] = 99
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:2000])
    out = tmp_path / "ami.h5"
    with pytest.raises(DatasetError, match=words) as error:
        import_dataset(f"swm-h5:{path}", out)
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    assert not out.exists() and not list(tmp_path.glob("*.tmp*"))


@pytest.mark.reliability("datasets")
def test_ogbench_state_vectors_and_damaged_archives_are_refused(tmp_path: Path) -> None:
    _ogbench_file(tmp_path / "cube-single-play-v0.npz", visual=False)
    with pytest.raises(DatasetError, match="visual-"):
        import_dataset(tmp_path / "cube-single-play-v0.npz", tmp_path / "a.h5")
    _ogbench_file(tmp_path / "v.npz")
    data = (tmp_path / "v.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="cut.npz"):
        import_dataset(tmp_path / "cut.npz", tmp_path / "b.h5")
    assert not (tmp_path / "b.h5").exists()


@pytest.mark.reliability("datasets")
def test_unknown_formats_and_folders_are_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown dataset format 'parquet'"):
        parse_source("parquet:x")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match="not a dataset ami recognises"):
        detect_format(tmp_path / "notes.txt")
    with pytest.raises(DatasetError, match="meta/info.json"):
        detect_format(tmp_path)
    assert parse_source("C:/data/x.h5")[0] is None or sys.platform != "win32"


def _ami(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ami", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_ami_trains_on_a_stable_worldmodel_file_from_the_command_line(tmp_path: Path) -> None:
    _swm_file(tmp_path / "d.h5")
    run = tmp_path / "run"
    args = ("train", "--data", f"swm-h5:{tmp_path / 'd.h5'}", "--out", str(run))
    result = _ami(*args, "--preset", "tiny", "--steps", "2", "--quiet", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    recipe = json.loads((run / "recipe.json").read_text())
    assert recipe["collect"]["world"] == "data:swm-h5"
    assert recipe["model"]["predictor"]["action_dim"] == 2 * recipe["model"]["frameskip"]
    first = (run / "imported.h5").stat().st_mtime_ns
    result = _ami(*args, "--preset", "tiny", "--steps", "4", "--quiet", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert (run / "imported.h5").stat().st_mtime_ns == first  # resumed on the same import
    assert "trained 4 steps (from 2)" in result.stderr

    imported = _ami("import", str(tmp_path / "d.h5"), str(tmp_path / "x.h5"), "--quiet")
    assert imported.returncode == 0 and (tmp_path / "x.h5").is_file(), imported.stderr
    bad = _ami("import", f"swm-h5:{tmp_path / 'missing.h5'}", str(tmp_path / "y.h5"))
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0, bad.stderr
    assert "missing.h5" in bad.stderr


@pytest.mark.slow
def test_ami_exports_lerobot_and_trains_on_it_again(tmp_path: Path) -> None:
    _swm_file(tmp_path / "d.h5")
    assert (
        _ami("import", str(tmp_path / "d.h5"), str(tmp_path / "ami.h5"), "--quiet").returncode == 0
    )
    exported = _ami(
        "export", str(tmp_path / "lerobot"), "--data", str(tmp_path / "ami.h5"), "--quiet"
    )
    assert exported.returncode == 0, exported.stderr
    info = json.loads((tmp_path / "lerobot" / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["total_episodes"] == len(LENGTHS)
    run = tmp_path / "run"
    trained = _ami(
        "train",
        "--data",
        f"lerobot:{tmp_path / 'lerobot'}",
        "--out",
        str(run),
        "--preset",
        "tiny",
        "--steps",
        "2",
        "--quiet",
        "--device",
        "cpu",
    )
    assert trained.returncode == 0, trained.stderr
    with ExperienceDataset.open(run / "imported.h5") as dataset:
        assert list(dataset.episode_lengths) == list(LENGTHS)
        np.testing.assert_array_equal(
            dataset.episode(0).actions, _swm_file(tmp_path / "again.h5")["action"][: LENGTHS[0] - 1]
        )
    refused = _ami("export", str(tmp_path / "lerobot"), "--data", str(tmp_path / "ami.h5"))
    assert refused.returncode == 2 and "lerobot" in refused.stderr  # not empty: never overwritten


@pytest.mark.slow
def test_a_memorys_episodes_export_to_lerobot(tmp_path: Path) -> None:
    from ami.memory import Memory
    from ami.memory.replay import remember_experience

    _swm_file(tmp_path / "d.h5")
    dataset = import_dataset(tmp_path / "d.h5", tmp_path / "ami.h5")
    with Memory.open(tmp_path / "memory.db") as memory:
        remember_experience(memory, dataset, lambda f: np.zeros((len(f), 4), np.float32), "v0")
    exported = _ami(
        "export", str(tmp_path / "out"), "--data", str(tmp_path / "memory.db"), "--quiet"
    )
    assert exported.returncode == 0, exported.stderr
    back = import_dataset(f"lerobot:{tmp_path / 'out'}", tmp_path / "back.h5")
    with ExperienceDataset.open(dataset) as before, ExperienceDataset.open(back) as after:
        # memory keeps (a_t, o_t+1): frames o_1..o_L and the actions between them come back
        assert list(after.episode_lengths) == [n - 1 for n in before.episode_lengths]
        for index in range(before.num_episodes):
            np.testing.assert_array_equal(
                after.episode(index).actions, before.episode(index).actions[1:]
            )
