"""Streaming windows: frames read from the file as batches ask, the same batches as loaded ones."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from ami.experience import Episode, WindowConfig, WindowDataset, write_dataset
from ami.experience.disk_frames import DiskFrames, memory_budget, should_stream


def _dataset(path: Path, episodes: int = 6, length: int = 150) -> Path:
    rng = np.random.default_rng(0)

    def each():
        for _ in range(episodes):
            yield Episode(
                pixels=rng.integers(0, 256, (length + 1, 16, 16, 3), dtype=np.uint8),
                actions=rng.uniform(-1, 1, (length, 2)).astype(np.float32),
                states=rng.normal(size=(length + 1, 3)).astype(np.float32),
            )

    return write_dataset(path, each(), meta={"world": "data:test"})


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_streamed_batches_equal_loaded_ones(tmp_path: Path) -> None:
    path = _dataset(tmp_path / "d.h5")
    config = WindowConfig(length=4, frameskip=3)  # spans cross the file's 64-frame chunks
    loaded = WindowDataset.from_file(path, config, progress=False, stream=False)
    streamed = WindowDataset.from_file(path, config, progress=False, stream=True)
    assert isinstance(streamed.pixels, DiskFrames) and not isinstance(loaded.pixels, DiskFrames)
    assert len(loaded) == len(streamed)
    for seed in range(3):
        draws = [torch.Generator().manual_seed(seed) for _ in range(2)]
        _same(loaded.sample(32, draws[0]), streamed.sample(32, draws[1]))
    _same(loaded[len(loaded) - 1], streamed[len(streamed) - 1])
    (train_a, valid_a), (train_b, valid_b) = loaded.split(0.3, 1), streamed.split(0.3, 1)
    _same(
        valid_a.sample(8, torch.Generator().manual_seed(5)),
        valid_b.sample(8, torch.Generator().manual_seed(5)),
    )
    shard_a, shard_b = train_a.shard(1, 2), train_b.shard(1, 2)
    _same(
        shard_a.sample(8, torch.Generator().manual_seed(6)),
        shard_b.sample(8, torch.Generator().manual_seed(6)),
    )


def test_a_worker_gets_the_frames_without_the_open_file(tmp_path: Path) -> None:
    frames = DiskFrames(_dataset(tmp_path / "d.h5"))
    offsets = np.array([0, 2, 4])
    before = frames.take_windows(np.array([10, 200]), offsets)
    copy = pickle.loads(pickle.dumps(frames))  # what a loader worker receives
    assert copy._file is None
    np.testing.assert_array_equal(copy.take_windows(np.array([10, 200]), offsets), before)
    assert before.shape == (6, 3, 16, 16)


def test_the_budget_follows_the_address_space_limit() -> None:
    limit = 6 * 2**30
    code = (
        "import resource\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({limit}, resource.RLIM_INFINITY))\n"
        "from ami.experience.disk_frames import memory_budget, should_stream\n"
        f"print(memory_budget(), should_stream({limit // 2 + 1}), should_stream({limit // 4}))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    budget, big, small = run.stdout.split()
    assert int(budget) <= limit and big == "True" and small == "False"
    assert memory_budget() is None or not should_stream(1)
