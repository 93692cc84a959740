"""The persistent memory: round trips, exact recall, labels, migrations, errors, durability."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from ami.agent import MemoryRecorder, Step
from ami.errors import MemoryFormatError, MemoryLookupError, ShapeError
from ami.memory import SCHEMA_VERSION, Memory
from ami.memory.schema import MIGRATIONS


def fill(memory: Memory, n: int, d: int = 8, version: str = "m1", seed: int = 0, frames=False):
    rng = np.random.default_rng(seed)
    session = memory.begin_session(version)
    episode = memory.begin_episode(session, "two_room")
    z = rng.normal(size=(n, d)).astype(np.float32)
    pixels = rng.integers(0, 255, (n, 8, 8, 3), dtype=np.uint8) if frames else None
    ids = memory.remember(episode, np.arange(n), rng.uniform(-1, 1, (n, 2)), z, version, pixels)
    return episode, ids, z, pixels


def test_remember_and_read_back(tmp_path: Path) -> None:
    with Memory.open(tmp_path / "m.db") as memory:
        episode, ids, z, pixels = fill(memory, 20, frames=True)
        step = memory.step(ids[7])
        assert step["episode"] == episode and step["t"] == 7
        np.testing.assert_array_equal(step["embedding"], z[7])
        np.testing.assert_array_equal(memory.frame(ids[7]), pixels[7])
        frames, actions = memory.episode_arrays(episode)
        np.testing.assert_array_equal(frames, pixels)
        assert actions.shape == (20, 2)
    with Memory.open(tmp_path / "m.db", readonly=True) as again:  # survives closing
        assert again.stats()["steps"] == 20


def test_recall_equals_brute_force(tmp_path: Path) -> None:
    with Memory.open(tmp_path / "m.db") as memory:
        _, ids, z, _ = fill(memory, 500, d=16)
        _, more_ids, more_z, _ = fill(memory, 300, d=16, seed=1)  # extends the warm cache
        all_ids, all_z = np.array(ids + more_ids), np.concatenate([z, more_z])
        for query in np.random.default_rng(5).normal(size=(5, 16)).astype(np.float32):
            got = memory.recall(query, k=7, model_version="m1")
            distances = np.linalg.norm(all_z - query, axis=1)
            order = np.argsort(distances)[:7]
            assert [r.step for r in got] == list(all_ids[order])
            np.testing.assert_allclose([r.distance for r in got], distances[order], rtol=1e-4)


def test_recall_only_sees_its_model_version(tmp_path: Path) -> None:
    with Memory.open(tmp_path / "m.db") as memory:
        _, old_ids, _, _ = fill(memory, 50, version="old")
        _, new_ids, _, _ = fill(memory, 50, version="new", seed=3)
        got = memory.recall(np.zeros(8, np.float32), k=50, model_version="new")
        assert {r.step for r in got} == set(new_ids)
        assert memory.recall(np.zeros(8, np.float32), k=3, model_version="none") == []


def test_labels_and_find(tmp_path: Path) -> None:
    with Memory.open(tmp_path / "m.db") as memory:
        _, ids, z, _ = fill(memory, 10)
        memory.label(ids[3], "door")
        memory.label(ids[5], "door")
        memory.label(ids[5], "lava")
        assert memory.find("door") == [ids[3], ids[5]]
        assert memory.recall(z[5], k=1, model_version="m1")[0].labels == ("door", "lava")
        with pytest.raises(MemoryLookupError, match=r"'charger'.*\['door', 'lava'\]"):
            memory.find("charger")
        with pytest.raises(MemoryLookupError, match="step 999"):
            memory.label(999, "x")


def test_reembed_replaces_embeddings_and_version(tmp_path: Path) -> None:
    with Memory.open(tmp_path / "m.db") as memory:
        _, ids, _, pixels = fill(memory, 30, frames=True)
        count = memory.reembed(lambda f: f.reshape(len(f), -1)[:, :4].astype(np.float32), "m2", 8)
        assert count == 30
        np.testing.assert_array_equal(memory.step(ids[4])["embedding"], pixels[4].reshape(-1)[:4])
        assert memory.stats()["model_versions"] == ["m2"]
        assert (
            memory.recall(pixels[9].reshape(-1)[:4].astype(np.float32), 1, "m2")[0].step == ids[9]
        )


def test_bad_shapes_are_refused(tmp_path: Path) -> None:
    with Memory.open(tmp_path / "m.db") as memory, pytest.raises(ShapeError):
        memory.remember(1, np.arange(3), np.zeros((2, 2)), np.zeros((3, 4)), "m")


def test_migration_from_version_1_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute("INSERT INTO sessions VALUES (1, 0, 'm', '')")
    db.execute("INSERT INTO episodes VALUES (1, 1, 'two_room', 0)")
    db.execute(
        "INSERT INTO steps VALUES (1, 1, 0, 0, ?, ?, 'm')",
        (np.zeros(2, np.float32).tobytes(), np.ones(4, np.float32).tobytes()),
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Memory.open(path) as memory:
        assert memory.stats()["steps"] == 1
        memory.add_edges([(1, 1, "lived", 1.0)])  # a version-2 table exists now
        assert memory.edges() == [(1, 1, "lived", 1.0)]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    Memory.open(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(MemoryFormatError, match="newer|upgrade"):
        Memory.open(path)


def test_corrupt_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(np.random.default_rng(0).bytes(8192))
    with pytest.raises(MemoryFormatError, match="not a readable ami memory"):
        Memory.open(path)


def test_a_reader_sees_what_the_writer_committed(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with Memory.open(path) as writer:
        fill(writer, 10)
        with Memory.open(path, readonly=True) as reader:
            assert reader.stats()["steps"] == 10
            fill(writer, 5, seed=2)
            assert reader.stats()["steps"] == 15


def test_recorder_writes_every_step(tmp_path: Path) -> None:
    with Memory.open(tmp_path / "m.db") as memory:
        episode = memory.begin_episode(memory.begin_session("m"), "two_room")
        recorder = MemoryRecorder(
            memory, episode, "m", lambda f: f.reshape(len(f), -1)[:, :3] / 255, batch=4
        )
        for t in range(10):
            pixels = np.full((8, 8, 3), t, np.uint8)
            recorder(Step(t, pixels, np.array([t, -t], np.float32), np.zeros(2), {}))
        assert memory.stats()["steps"] == 8  # two full batches written so far
        recorder.close()
        frames, actions = memory.episode_arrays(episode)
        assert len(frames) == 10 and frames[9, 0, 0, 0] == 9 and actions[9, 1] == -9


WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from ami.memory import Memory
    memory = Memory.open(sys.argv[1])
    episode = memory.begin_episode(memory.begin_session("m"), "two_room")
    rng = np.random.default_rng(0)
    total = 0
    while True:
        memory.remember(episode, np.arange(500), rng.uniform(-1, 1, (500, 2)),
                        rng.normal(size=(500, 64)), "m",
                        rng.integers(0, 255, (500, 16, 16, 3), dtype=np.uint8))
        total += 500
        print(total, flush=True)
    """
)


@pytest.mark.slow
def test_sigkill_in_heavy_writing_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    committed = 0
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    while committed < 5000 and time.monotonic() < deadline:
        committed = int(process.stdout.readline())
    process.send_signal(signal.SIGKILL)
    process.wait()
    with Memory.open(path) as memory:
        assert memory.integrity_check() == "ok"
        assert memory.stats()["steps"] >= committed >= 5000


def test_memory_command_line(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with Memory.open(path) as memory:
        _, ids, _, _ = fill(memory, 12)

    def ami(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ami", "memory", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert "steps: 12" in ami("stats", str(path)).stdout
    assert ami("label", str(path), "--step", str(ids[2]), "--name", "door").returncode == 0
    recalled = ami("recall", str(path), "--step", str(ids[2]), "--k", "3")
    assert recalled.returncode == 0 and "door" in recalled.stdout
    out = tmp_path / "steps.jsonl"
    assert ami("export", str(path), "--out", str(out)).returncode == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 12 and records[2]["labels"] == ["door"] and "embedding" not in records[2]
    missing = ami("stats", str(tmp_path / "nope.db"))
    assert (
        missing.returncode == 2
        and missing.stderr.count("\n") == 1
        and "not found" in missing.stderr
    )
    unknown = ami("label", str(path), "--step", "999", "--name", "x")
    assert unknown.returncode == 2 and "step 999" in unknown.stderr


def test_training_windows_replay_what_the_agent_lived(tmp_path: Path) -> None:
    from ami.agent import RandomAgent, run_episode
    from ami.experience import WindowConfig
    from ami.memory.replay import windows_from_memory
    from ami.worlds import make

    env = make("two_room", size=32)
    with Memory.open(tmp_path / "m.db") as memory:
        session = memory.begin_session("m")
        lived = []
        for seed in range(2):
            episode = memory.begin_episode(session, "two_room")
            recorder = MemoryRecorder(memory, episode, "m", lambda f: np.zeros((len(f), 4)), 16)
            steps: list[Step] = []
            run_episode(
                env,
                RandomAgent(2, seed),
                {"agent": (0.2, 0.2), "goal": (0.9, 0.9)},
                30,
                listeners=[recorder, steps.append],
            )
            recorder.close()
            lived.append(steps)
        windows = windows_from_memory(memory, WindowConfig(length=3, frameskip=1))
    first = windows[0]  # frames o_1, o_2, o_3 of episode 1 and the actions between them
    np.testing.assert_array_equal(
        first["pixels"].permute(0, 2, 3, 1).numpy(), np.stack([s.pixels for s in lived[0][:3]])
    )
    np.testing.assert_array_equal(
        first["actions"].numpy(), np.stack([s.action for s in lived[0][1:3]])
    )
    assert len(windows) == 2 * (30 - 2)  # windows never cross episodes
