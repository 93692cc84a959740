from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from ami.errors import ConfigError, DatasetError, ShapeError
from ami.experience import (
    CollectConfig,
    Episode,
    ExperienceDataset,
    MixedPolicy,
    RandomPolicy,
    TwoRoomExpert,
    WindowConfig,
    WindowDataset,
    collect,
    collect_to_file,
    write_dataset,
)
from ami.worlds.two_room import TwoRoomConfig

META = {"world": "toy", "note": [1, 2]}


def make_episode(rng: np.random.Generator, steps: int, size: int = 8) -> Episode:
    return Episode(
        pixels=rng.integers(0, 256, (steps + 1, size, size, 3), dtype=np.uint8),
        actions=rng.uniform(-1, 1, (steps, 2)).astype(np.float32),
        states=rng.uniform(0, 1, (steps + 1, 3)).astype(np.float32),
    )


def make_episodes(lengths: list[int], seed: int = 0) -> list[Episode]:
    rng = np.random.default_rng(seed)
    return [make_episode(rng, steps) for steps in lengths]


def temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".tmp-" in p.name]


# --- dataset --------------------------------------------------------------------------------


def test_episode_rejects_bad_shapes():
    rng = np.random.default_rng(0)
    good = make_episode(rng, 4)
    with pytest.raises(ShapeError):
        Episode(good.pixels, good.actions[:3], good.states)
    with pytest.raises(ShapeError):
        Episode(good.pixels.astype(np.float32), good.actions, good.states)
    with pytest.raises(ShapeError):
        Episode(good.pixels, good.actions, good.states[:4])


def test_round_trip_is_bit_exact(tmp_path):
    # Lengths straddle the 64-frame chunks so the streaming buffer splits episodes.
    episodes = make_episodes([10, 70, 1, 130, 5])
    path = write_dataset(tmp_path / "sub" / "data.h5", iter(episodes), META)
    with ExperienceDataset.open(path) as ds:
        assert (ds.world, ds.action_dim, ds.state_dim, ds.image_size) == ("toy", 2, 3, 8)
        assert ds.num_episodes == 5
        assert ds.num_frames == sum(e.pixels.shape[0] for e in episodes)
        assert ds.meta == META
        assert ds.episode_lengths.tolist() == [11, 71, 2, 131, 6]
        assert ds.episode_starts.tolist() == [0, 11, 82, 84, 215]
        for i, episode in enumerate(episodes):
            back = ds.episode(i)
            assert np.array_equal(back.pixels, episode.pixels)
            assert np.array_equal(back.actions, episode.actions)
            assert np.array_equal(back.states, episode.states)
        pixels, actions, states = ds.load_arrays(progress=False)
    assert np.array_equal(pixels, np.concatenate([e.pixels for e in episodes]))
    assert np.array_equal(states, np.concatenate([e.states for e in episodes]))
    padded = [np.concatenate([e.actions, np.zeros((1, 2), np.float32)]) for e in episodes]
    assert np.array_equal(actions, np.concatenate(padded))
    assert temp_files(path.parent) == []


def test_missing_and_not_hdf5_files_are_refused(tmp_path):
    with pytest.raises(DatasetError, match="dataset not found"):
        ExperienceDataset.open(tmp_path / "nope.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all" * 100)
    with pytest.raises(DatasetError):
        ExperienceDataset.open(junk)


def test_truncated_file_is_refused(tmp_path):
    path = write_dataset(tmp_path / "data.h5", make_episodes([100, 100]), META)
    data = path.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError) as excinfo:
        ExperienceDataset.open(cut).load_arrays(progress=False)
    assert "\n" not in str(excinfo.value)


def test_file_without_complete_flag_or_from_the_future_is_refused(tmp_path):
    path = write_dataset(tmp_path / "data.h5", make_episodes([5]), META)
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(DatasetError, match="newer"):
        ExperienceDataset.open(path)
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = 1
        del f.attrs["complete"]
    with pytest.raises(DatasetError, match="incomplete"):
        ExperienceDataset.open(path)


def test_inconsistent_index_is_refused(tmp_path):
    path = write_dataset(tmp_path / "data.h5", make_episodes([5, 5]), META)
    with h5py.File(path, "a") as f:
        f["episode_lengths"][1] = 50
    with pytest.raises(DatasetError, match="outside"):
        ExperienceDataset.open(path)


def test_crash_while_writing_leaves_target_untouched(tmp_path):
    target = tmp_path / "data.h5"
    old = make_episodes([3], seed=1)
    write_dataset(target, old, META)
    before = target.read_bytes()

    def crashing():
        yield from make_episodes([80, 80], seed=2)
        raise RuntimeError("collector died")

    with pytest.raises(RuntimeError, match="collector died"):
        write_dataset(target, crashing(), META)
    assert target.read_bytes() == before
    assert temp_files(tmp_path) == []
    with ExperienceDataset.open(target) as ds:
        assert np.array_equal(ds.episode(0).pixels, old[0].pixels)

    fresh = tmp_path / "fresh.h5"
    with pytest.raises(RuntimeError):
        write_dataset(fresh, crashing(), META)
    assert not fresh.exists()
    assert temp_files(tmp_path) == []


def test_write_refuses_bad_input(tmp_path):
    with pytest.raises(ConfigError):
        write_dataset(tmp_path / "a.h5", make_episodes([2]), {"note": 1})
    with pytest.raises(DatasetError):
        write_dataset(tmp_path / "a.h5", [], META)
    rng = np.random.default_rng(0)
    with pytest.raises(ShapeError):
        write_dataset(tmp_path / "a.h5", [make_episode(rng, 2), make_episode(rng, 2, 16)], META)
    assert list(tmp_path.iterdir()) == []


# --- windows --------------------------------------------------------------------------------


def window_dataset(lengths: list[int], config: WindowConfig) -> tuple[WindowDataset, list]:
    episodes = make_episodes(lengths)
    pixels = np.concatenate([e.pixels for e in episodes])
    states = np.concatenate([e.states for e in episodes])
    actions = np.concatenate([np.concatenate([e.actions, np.zeros((1, 2))]) for e in episodes])
    frames = [e.pixels.shape[0] for e in episodes]
    starts = np.cumsum([0, *frames[:-1]])
    return WindowDataset(pixels, actions, states, starts, frames, config), episodes


@pytest.mark.parametrize("frameskip", [1, 3])
def test_windows_equal_manual_slicing(frameskip):
    length = 4
    data, episodes = window_dataset([12, 20, 3], WindowConfig(length, frameskip))
    expected = []
    for e in episodes:
        span = (length - 1) * frameskip + 1
        for t in range(e.pixels.shape[0] - span + 1):
            kept = list(range(t, t + span, frameskip))
            acts = [e.actions[f : f + frameskip].reshape(-1) for f in kept[:-1]]
            expected.append((e.pixels[kept], np.stack(acts), e.states[kept]))
    assert len(data) == len(expected)
    for i, (pixels, actions, states) in enumerate(expected):
        item = data[i]
        assert item["pixels"].shape == (length, 3, 8, 8)
        assert torch.equal(item["pixels"], torch.from_numpy(pixels).permute(0, 3, 1, 2))
        assert torch.equal(item["actions"], torch.from_numpy(actions))
        assert torch.equal(item["states"], torch.from_numpy(states))


def test_windows_never_cross_episodes():
    config = WindowConfig(3, 2)
    data, _ = window_dataset([6, 9, 4, 7], config)
    ends = data.episode_starts + data.episode_lengths
    for start in data.window_starts.tolist():
        episode = np.searchsorted(ends, start, side="right")
        assert start + config.span <= ends[episode]
    # Mark every frame's state with its episode number: a sampled window must carry one number.
    data.states[:, 0] = torch.from_numpy(np.repeat(np.arange(4), data.episode_lengths)).float()
    batch = data.sample(512, torch.Generator().manual_seed(0))
    episode_of_frames = batch["states"][:, :, 0]  # [B, T]
    assert (episode_of_frames == episode_of_frames[:, :1]).all()
    assert set(episode_of_frames[:, 0].tolist()) == {0.0, 1.0, 2.0, 3.0}


def test_too_short_episodes_are_refused():
    with pytest.raises(DatasetError, match="at least 10 frames; the longest has 8"):
        window_dataset([5, 7], WindowConfig(4, 3))
    with pytest.raises(ConfigError):
        WindowConfig(1)
    with pytest.raises(ConfigError):
        WindowConfig(3, 0)


def test_sample_is_reproducible_and_matches_items():
    data, _ = window_dataset([30, 40], WindowConfig(4, 2))
    a = data.sample(16, torch.Generator().manual_seed(7))
    b = data.sample(16, torch.Generator().manual_seed(7))
    c = data.sample(16, torch.Generator().manual_seed(8))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["states"], c["states"])
    assert a["pixels"].shape == (16, 4, 3, 8, 8) and a["pixels"].dtype == torch.uint8
    assert a["actions"].shape == (16, 3, 4) and a["actions"].dtype == torch.float32
    picks = torch.randint(len(data), (16,), generator=torch.Generator().manual_seed(7))
    for row, pick in enumerate(picks.tolist()):
        assert torch.equal(a["pixels"][row], data[pick]["pixels"])


def test_split_holds_out_whole_episodes():
    data, _ = window_dataset([10] * 10, WindowConfig(3))
    train, valid = data.split(0.3, seed=0)
    assert len(valid.episode_ids) == 3 and len(train.episode_ids) == 7
    assert set(train.episode_ids.tolist()).isdisjoint(valid.episode_ids.tolist())
    assert len(train) + len(valid) == len(data)
    again, _ = data.split(0.3, seed=0)
    assert again.episode_ids.tolist() == train.episode_ids.tolist()
    with pytest.raises(ConfigError):
        data.split(1.0, seed=0)


def test_from_file(tmp_path):
    path = write_dataset(tmp_path / "d.h5", make_episodes([20, 30]), META)
    data = WindowDataset.from_file(path, WindowConfig(5, 2), progress=False)
    assert len(data) == (21 - 8) + (31 - 8)


# --- policies and collection ----------------------------------------------------------------


def test_random_policy_stays_in_bounds_and_holds_actions():
    policy = RandomPolicy(3, hold_steps=(4, 4))
    policy.reset(np.random.default_rng(0))
    actions = np.stack([policy({}, {}) for _ in range(40)])
    assert actions.dtype == np.float32 and actions.shape == (40, 3)
    assert (np.abs(actions) <= 1).all()
    assert len(np.unique(actions[:, 0])) == 10  # a new action every 4 steps
    with pytest.raises(ConfigError):
        RandomPolicy(2, hold_steps=(0, 3))


def test_mixed_policy_picks_per_episode():
    policy = MixedPolicy([RandomPolicy(2), RandomPolicy(2)], [0.25, 0.75])
    picks = []
    for seed in range(200):
        policy.reset(np.random.default_rng(seed))
        picks.append(policy.current is policy.policies[1])
    assert 0.6 < np.mean(picks) < 0.9
    with pytest.raises(ConfigError):
        MixedPolicy([RandomPolicy(2)], [0.5, 0.5])


def test_collection_is_deterministic():
    config = CollectConfig("two_room", episodes=3, steps_per_episode=20, policy="mixed", seed=5)
    first = list(collect(config, progress=False))
    second = list(collect(config, progress=False))
    assert [e.pixels.shape for e in first] == [(21, 64, 64, 3)] * 3
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a.pixels, b.pixels)
        assert np.array_equal(a.actions, b.actions)
    assert not np.array_equal(first[0].pixels, first[1].pixels)


def test_expert_crosses_rooms():
    config = CollectConfig("two_room", episodes=20, steps_per_episode=100, policy="expert")
    both = 0
    for episode in collect(config, progress=False):
        assert (np.abs(episode.actions) <= 1).all()
        rooms = set((episode.states[:, 0] >= 0.5).tolist())
        both += rooms == {False, True}
    assert both >= 12


def test_expert_walks_through_the_door_repeatedly():
    from ami.worlds import make

    env = make("two_room")
    expert = TwoRoomExpert(TwoRoomConfig(), noise=0.3)
    obs, info = env.reset(seed=0, options={"agent": (0.1, 0.9), "goal": (0.9, 0.1)})
    expert.reset(np.random.default_rng(0))
    rooms = []
    for _ in range(300):
        obs, *_rest, info = env.step(expert(obs, info))
        rooms.append(obs["state"][0] >= 0.5)
    assert 2 <= int(np.sum(np.diff(np.array(rooms, int)) != 0)) < 60  # several crossings


def test_collect_config_validation():
    with pytest.raises(ConfigError, match="episodes"):
        CollectConfig("two_room", episodes=0, steps_per_episode=10, policy="random")
    with pytest.raises(ConfigError, match="steps_per_episode"):
        CollectConfig("two_room", episodes=1, steps_per_episode=-1, policy="random")
    with pytest.raises(ConfigError, match="policy"):
        CollectConfig("two_room", episodes=1, steps_per_episode=1, policy="greedy")
    with pytest.raises(ConfigError, match="expert"):
        CollectConfig("pendulum", episodes=1, steps_per_episode=1, policy="expert")
    with pytest.raises(ConfigError, match="image_size"):
        CollectConfig("reacher", 1, 1, "random", world_options={"size": 32})
    with pytest.raises(ConfigError, match="world_options"):
        CollectConfig("reacher", 1, 1, "random", world_options=[("target_visible", False)])


def test_world_options_reach_the_collected_frames_the_file_and_the_recipe(tmp_path):
    from ami.recipes import REACHER, load_recipe, save_recipe, world_settings
    from ami.worlds import make

    config = CollectConfig(
        "reacher", 2, 5, "random", seed=4, image_size=32, world_options={"target_visible": False}
    )
    path = collect_to_file(config, tmp_path / "reacher.h5", progress=False)
    bare = make("reacher", size=32, target_visible=False)
    with ExperienceDataset.open(path) as ds:
        assert ds.meta["world_config"]["target_visible"] is False
        first = ds.episode(0).pixels[0]
    assert np.array_equal(first, bare.reset(seed=4)[0]["pixels"])
    shown = make("reacher", size=32).reset(seed=4)[0]["pixels"]
    assert not np.array_equal(first, shown)  # the disc is really gone
    with pytest.raises(ConfigError, match="no_such_option"):
        list(collect(CollectConfig("reacher", 1, 2, "random", world_options={"no_such_option": 1})))
    saved = save_recipe(REACHER, tmp_path / "recipe.json")
    assert load_recipe(saved) == REACHER
    assert world_settings(REACHER) == {"size": 64, **REACHER.collect.world_options}


def test_collect_to_file(tmp_path):
    config = CollectConfig("two_room", episodes=2, steps_per_episode=30, policy="random", seed=3)
    path = collect_to_file(config, tmp_path / "two_room.h5", progress=False)
    with ExperienceDataset.open(path) as ds:
        assert (ds.world, ds.num_episodes, ds.num_frames, ds.image_size) == ("two_room", 2, 62, 64)
        assert ds.meta["collect"]["seed"] == 3
        assert ds.meta["world_config"]["size"] == 64
        direct = list(collect(config, progress=False))
        assert np.array_equal(ds.episode(1).pixels, direct[1].pixels)
    assert json.loads(json.dumps(ds.meta)) == ds.meta
    assert not any(".tmp-" in name for name in os.listdir(tmp_path))
