"""The persistent memory: round trips, exact recall, labels, migrations, errors, durability."""

from __future__ import annotations

import json
import sqlite3
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
            assert [r.step_id for r in got] == list(all_ids[order])
            np.testing.assert_allclose([r.distance for r in got], distances[order], rtol=1e-4)


def test_recall_only_sees_its_model_version(tmp_path: Path) -> None:
    with Memory.open(tmp_path / "m.db") as memory:
        _, old_ids, _, _ = fill(memory, 50, version="old")
        _, new_ids, _, _ = fill(memory, 50, version="new", seed=3)
        got = memory.recall(np.zeros(8, np.float32), k=50, model_version="new")
        assert {r.step_id for r in got} == set(new_ids)
        assert memory.recall(np.zeros(8, np.float32), k=3, model_version="none") == []
        newest = memory.recall(np.zeros(8, np.float32), k=50)  # default: the newest version
        assert {r.step_id for r in newest} == set(new_ids)


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
        assert memory.stats()["model_versions"] == {"m2": 30}
        assert (
            memory.recall(pixels[9].reshape(-1)[:4].astype(np.float32), 1, "m2")[0].step_id
            == ids[9]
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
    with pytest.raises(MemoryFormatError, match="migrate"):  # a reader does not migrate
        Memory.open(path, readonly=True)
    with Memory.open(path) as memory:
        assert memory.stats()["steps"] == 1
        assert memory.stats()["schema_version"] == SCHEMA_VERSION
        np.testing.assert_array_equal(memory.step(1)["embedding"], np.ones(4, np.float32))
        assert [r.step_id for r in memory.recall(np.ones(4, np.float32), 1, "m")] == [1]
        memory.add_edges([(1, 1, "lived", 1.0)])  # a version-2 table exists now
        assert memory.edges() == [(1, 1, "lived", 1.0)]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


@pytest.mark.parametrize("readonly", [False, True])
def test_newer_schema_is_refused(tmp_path: Path, readonly: bool) -> None:
    path = tmp_path / "new.db"
    Memory.open(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(MemoryFormatError, match=f"version {SCHEMA_VERSION + 1}") as error:
        Memory.open(path, readonly=readonly)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("readonly", [False, True])
def test_corrupt_file_is_refused_in_one_line(tmp_path: Path, readonly: bool) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(np.random.default_rng(0).bytes(8192))
    with pytest.raises(MemoryFormatError, match="not a readable ami memory") as error:
        Memory.open(path, readonly=readonly)
    assert "\n" not in str(error.value)


def test_a_reader_sees_what_the_writer_committed(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with Memory.open(path) as writer:
        _, ids, z, _ = fill(writer, 10)
        with Memory.open(path, readonly=True) as reader:
            assert reader.stats()["steps"] == 10
            assert reader.recall(z[3], 1, "m1")[0].step_id == ids[3]  # the reader's index is warm
            _, more, more_z, _ = fill(writer, 5, seed=2)
            assert reader.stats()["steps"] == 15
            assert reader.recall(more_z[4], 1, "m1")[0].step_id == more[4]  # caught up
            with pytest.raises(MemoryFormatError, match="opened read-only"):
                reader.label(ids[0], "door")


def test_recall_follows_a_reembedding_by_another_connection(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with Memory.open(path) as writer:
        _, ids, z, _ = fill(writer, 12, frames=True)
        with Memory.open(path, readonly=True) as reader:
            assert len(reader.recall(z[0], 12, "m1")) == 12
            writer.reembed(lambda f: f.reshape(len(f), -1)[:, :4].astype(np.float32), "m2", 5)
            assert reader.recall(z[0], 12, "m1") == []
            assert len(reader.recall(np.zeros(4, np.float32), 12)) == 12  # newest: m2


def test_the_index_grows_over_many_batches_and_stays_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    with Memory.open(tmp_path / "m.db", synchronous="NORMAL") as memory:
        episode = memory.begin_episode(memory.begin_session("m"), "w")
        memory.recall(np.zeros(4, np.float32), 1, "m")  # an empty index, grown by every batch
        batches = [rng.normal(size=(n, 4)).astype(np.float32) for n in (1, 3, 7, 20, 50)]
        ids = [i for z in batches for i in memory.remember(episode, np.arange(len(z)), z, z, "m")]
        everything = np.concatenate(batches)
        query = rng.normal(size=4).astype(np.float32)
        got = memory.recall(query, k=81, model_version="m")
        distances = np.linalg.norm(everything - query, axis=1)
        assert [r.step_id for r in got] == [ids[i] for i in np.argsort(distances)]
        with pytest.raises(ShapeError, match="size 5"):
            memory.recall(np.zeros(5, np.float32), 1, "m")


def test_steps_of_an_episode_are_arrays_in_time_order(tmp_path: Path) -> None:
    with Memory.open(tmp_path / "m.db") as memory:
        episode = memory.begin_episode(memory.begin_session("m"), "w")
        z = np.arange(12, dtype=np.float32).reshape(6, 2)
        later = memory.remember(episode, np.arange(3, 6), z[3:], z[3:], "m")
        earlier = memory.remember(episode, np.arange(3), z[:3], z[:3], "m")
        steps = memory.steps(episode)
        assert steps.ids.tolist() == earlier + later and steps.t.tolist() == list(range(6))
        np.testing.assert_array_equal(steps.embeddings, z)
        assert steps.model_versions == ("m",) * 6
        with pytest.raises(MemoryLookupError, match="episode 99"):
            memory.steps(99)


def test_reembed_keeps_steps_without_frames(tmp_path: Path) -> None:
    with Memory.open(tmp_path / "m.db") as memory:
        fill(memory, 6, frames=True)
        _, frameless, z, _ = fill(memory, 4, seed=1)
        assert memory.reembed(lambda f: np.ones((len(f), 3), np.float32), "m2", 4) == 6
        assert memory.stats()["model_versions"] == {"m1": 4, "m2": 6}
        assert [r.step_id for r in memory.recall(z[2], 1, "m1")] == [frameless[2]]


def test_stats_counts_everything(tmp_path: Path) -> None:
    with Memory.open(tmp_path / "m.db") as memory:
        _, ids, _, _ = fill(memory, 5, frames=True)
        memory.label(ids[0], "door")
        memory.add_edges([(ids[0], ids[1], "lived", 1.0), (ids[1], ids[2], "imagined", 5.0)])
        stats = memory.stats()
    assert {k: stats[k] for k in ("sessions", "episodes", "steps", "frames", "labels")} == {
        "sessions": 1,
        "episodes": 1,
        "steps": 5,
        "frames": 5,
        "labels": 1,
    }
    assert (stats["nodes"], stats["edges"], stats["model_versions"]) == (3, 2, {"m1": 5})
    assert stats["bytes"] > 0 and stats["schema_version"] == SCHEMA_VERSION


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
        recorder.close()  # closing twice writes nothing twice
        assert memory.stats()["steps"] == 10 and recorder.written == 10
        frames, actions = memory.episode_arrays(episode)
        assert len(frames) == 10 and frames[9, 0, 0, 0] == 9 and actions[9, 1] == -9


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


def test_memory_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ami.cli.memory import memory_app

    path = tmp_path / "m.db"
    with Memory.open(path) as memory:
        _, ids, _, _ = fill(memory, 12)
    runner = CliRunner()
    assert "steps: 12" in runner.invoke(memory_app, ["stats", str(path)]).stdout
    labelled = runner.invoke(
        memory_app, ["label", str(path), "--step", str(ids[2]), "--name", "door"]
    )
    assert labelled.exit_code == 0
    recalled = runner.invoke(memory_app, ["recall", str(path), "--step", str(ids[2]), "--k", "3"])
    assert recalled.exit_code == 0 and "door" in recalled.stdout
    rows = [line for line in recalled.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 3 and rows[0].split("│")[1].strip() == str(ids[2])  # itself, at 0
    out = tmp_path / "steps.jsonl"
    assert runner.invoke(memory_app, ["export", str(path), "--out", str(out)]).exit_code == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 12 and records[2]["labels"] == ["door"] and "embedding" not in records[2]
    with_z = tmp_path / "z.jsonl"
    runner.invoke(memory_app, ["export", str(path), "--out", str(with_z), "--embeddings"])
    assert len(json.loads(with_z.read_text().splitlines()[0])["embedding"]) == 8


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        (["stats", "{tmp}/nope.db"], MemoryLookupError, "not found"),
        (["label", "{path}", "--step", "999", "--name", "x"], MemoryLookupError, "step 999"),
        (["recall", "{tmp}/junk.db", "--step", "1"], MemoryFormatError, "not a readable"),
    ],
)
def test_memory_command_line_errors_are_one_line(
    tmp_path: Path, args: list[str], error: type, words: str
) -> None:
    from typer.testing import CliRunner

    from ami.cli.memory import memory_app

    path = tmp_path / "m.db"
    with Memory.open(path) as memory:
        fill(memory, 3)
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    args = [a.format(tmp=tmp_path, path=path) for a in args]
    result = CliRunner().invoke(memory_app, args)
    assert isinstance(result.exception, error)  # ami.cli.main prints it and exits 2
    assert words in str(result.exception) and "\n" not in str(result.exception)
