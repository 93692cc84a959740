"""Abuse cases of the memory and `ami memory ...` (issue 23): nothing lost, one line each.

The CLI behaviours the issue names (exit 2, one line) run `python -m ami` in a subprocess; the
others call the library or the Typer app in this process. Damaged files are made by writing rows
or bytes directly. Read-only folders and files are made read-only with a bind mount in a private
mount namespace where the tests run as root (permission bits do not stop root), with `chmod`
otherwise.
"""

from __future__ import annotations

import functools
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ami.cli.memory import memory_app
from ami.errors import AmiError, DatasetError, MemoryFormatError, MemoryLookupError, ShapeError
from ami.memory import Memory
from ami.memory.schema import MIGRATIONS
from cli_run import ami, assert_one_line_error

pytestmark = pytest.mark.reliability("memory")


def make_memory(
    path: Path,
    n: int = 6,
    d: int = 8,
    side: int = 8,
    actions: int = 2,
    world: str = "two_room",
    episodes: int = 1,
) -> list[int]:
    """A memory of `episodes` episodes of `n` steps (frames `side`px); returns the step ids."""
    rng = np.random.default_rng(0)
    ids: list[int] = []
    with Memory.open(path) as memory:
        session = memory.begin_session("m1")
        for _ in range(episodes):
            episode = memory.begin_episode(session, world)
            ids += memory.remember(
                episode,
                np.arange(n),
                rng.uniform(-1, 1, (n, actions)),
                rng.normal(size=(n, d)),
                "m1",
                rng.integers(0, 255, (n, side, side, 3), dtype=np.uint8),
            )
        memory.label(ids[1], "door")
    return ids


def write_rows(path: Path, *statements: tuple[str, tuple]) -> None:
    """Change the memory file directly (as a damaged disk or another program would)."""
    db = sqlite3.connect(path)
    for sql, values in statements:
        db.execute(sql, values)
    db.commit()
    db.close()


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def main_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> subprocess.CompletedProcess[str]:
    """`ami ARGS` through `ami.cli.main` in this process (no interpreter start): status, stderr."""
    from ami import cli

    monkeypatch.setattr(sys, "argv", ["ami", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        cli.main()
    code = done.value.code
    return subprocess.CompletedProcess(
        args, code if isinstance(code, int) else 1, "", capsys.readouterr().err
    )


def invoke(*args: str):
    """`ami memory ARGS` through the Typer app in this process; returns the exception raised."""
    return CliRunner().invoke(memory_app, list(args)).exception


# --- 1. export never replaces the memory, a folder or any SQLite file -----------------------------


def test_export_onto_the_memory_itself_is_refused_and_the_memory_kept(tmp_path: Path) -> None:
    path = tmp_path / "M.db"
    make_memory(path)
    before = path.read_bytes()
    result = ami("memory", "export", str(path), "--out", str(path))
    assert_one_line_error(result, str(path), "itself")
    assert path.read_bytes() == before
    with Memory.open(path, readonly=True) as memory:
        assert memory.stats()["steps"] == 6


@pytest.mark.parametrize("target", ["its -wal", "a link to it", "a folder", "another memory"])
def test_export_onto_a_memory_file_or_a_folder_is_refused(tmp_path: Path, target: str) -> None:
    path = tmp_path / "M.db"
    make_memory(path)
    other = tmp_path / "other.db"
    make_memory(other)
    (tmp_path / "folder").mkdir()
    (tmp_path / "link.jsonl").symlink_to(path)
    out = {
        "its -wal": tmp_path / "M.db-wal",
        "a link to it": tmp_path / "link.jsonl",
        "a folder": tmp_path / "folder",
        "another memory": other,
    }[target]
    kept = {p: p.read_bytes() for p in (path, other)}
    error = invoke("export", str(path), "--out", str(out))
    assert isinstance(error, MemoryFormatError) and "\n" not in str(error)
    assert str(out) in str(error)
    assert {p: p.read_bytes() for p in (path, other)} == kept
    assert files_in(tmp_path / "folder") == set()


# --- 2. paths are file names, never URIs ----------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["mem#1.db", "what?mode=ro.db", "100%41.db", "my mémoire 記憶 #2.db"]
)
def test_a_memory_is_created_and_read_exactly_at_its_path(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    ids = make_memory(path)
    assert files_in(tmp_path) == {name}  # no sibling file (`mem`, `what`, `100A.db`)
    with Memory.open(path, readonly=True) as memory:
        assert memory.step_ids() == ids and memory.find("door") == [ids[1]]
        assert memory.frame(ids[2]).shape == (8, 8, 3)
    assert files_in(tmp_path) <= {name, f"{name}-wal", f"{name}-shm"}  # a reader's index


# --- 3. one model version, one embedding size -----------------------------------------------------


def test_remember_refuses_a_second_embedding_size_under_one_version(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    make_memory(path, d=8)
    with Memory.open(path) as memory, pytest.raises(ShapeError, match="size 4.*size 8") as error:
        memory.remember(1, np.arange(2), np.zeros((2, 2)), np.zeros((2, 4)), "m1")
    assert "\n" not in str(error.value)
    with Memory.open(path, readonly=True) as memory:
        assert memory.stats()["steps"] == 6  # nothing written


def test_recall_over_mixed_embedding_sizes_is_refused_naming_the_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.db"
    ids = make_memory(path, n=4, d=8)
    sizes = {ids[2]: 4, ids[3]: 12}  # 8 + 8 + 4 + 12 = 4 x 8 floats: reshapes without a word
    write_rows(
        path,
        *(
            ("UPDATE steps SET embedding = ? WHERE id = ?", (np.ones(d, np.float32).tobytes(), i))
            for i, d in sizes.items()
        ),
    )
    result = main_in_process(monkeypatch, capsys, "memory", "recall", str(path), "--step", "1")
    assert_one_line_error(result, f"step {ids[2]}", "mixes embedding sizes")


# --- 4. damaged blobs are one line naming the step ----------------------------------------------


def test_a_corrupt_frame_blob_is_one_line_naming_the_step(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    ids = make_memory(path)
    write_rows(path, ("UPDATE frames SET pixels = ? WHERE step = ?", (b"not zlib", ids[3])))
    with Memory.open(path) as memory:
        for read in (
            lambda: memory.frame(ids[3]),
            lambda: memory.episode_arrays(1),
            lambda: memory.reembed(lambda f: np.zeros((len(f), 4), np.float32), "m2"),
        ):
            with pytest.raises(MemoryFormatError, match=f"step {ids[3]} .*corrupt") as error:
                read()
            assert "\n" not in str(error.value)


def test_training_from_a_memory_with_a_corrupt_frame_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.db"
    ids = make_memory(path, n=8, side=32)
    wrong_size = zlib.compress(bytes(10), 1)  # inflates, but not to 32 x 32 x 3
    write_rows(path, ("UPDATE frames SET pixels = ? WHERE step = ?", (wrong_size, ids[5])))
    run = str(tmp_path / "run")
    result = main_in_process(
        monkeypatch, capsys, "train", "--data", str(path), "--out", run, "--preset", "tiny"
    )
    assert_one_line_error(result, f"step {ids[5]}", "corrupt")


def test_recall_of_an_odd_length_embedding_blob_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.db"
    ids = make_memory(path)
    write_rows(path, ("UPDATE steps SET embedding = ? WHERE id = ?", (bytes(31), ids[4])))
    result = main_in_process(monkeypatch, capsys, "memory", "recall", str(path), "--step", "1")
    assert_one_line_error(result, f"step {ids[4]}", "31 bytes")


@pytest.mark.parametrize("column", ["embedding", "action"])
def test_export_of_an_odd_length_blob_is_one_line(tmp_path: Path, column: str) -> None:
    path = tmp_path / "m.db"
    ids = make_memory(path)
    write_rows(path, (f"UPDATE steps SET {column} = ? WHERE id = ?", (bytes(7), ids[2])))
    out = tmp_path / "steps.jsonl"
    error = invoke("export", str(path), "--out", str(out), "--embeddings")
    assert isinstance(error, MemoryFormatError) and "\n" not in str(error)
    assert f"the {column} of step {ids[2]}" in str(error) and "7 bytes" in str(error)
    assert not out.exists()


@pytest.mark.parametrize("mixed", ["frame sizes", "action sizes"])
def test_training_windows_over_episodes_of_mixed_sizes_name_the_episode(
    tmp_path: Path, mixed: str
) -> None:
    from ami.pipeline import training_windows
    from ami.recipes import TINY

    path = tmp_path / "m.db"
    make_memory(path, n=8, side=32)
    with Memory.open(path) as memory:  # a second episode of another frame or action size
        episode = memory.begin_episode(memory.begin_session("m2"), "two_room")
        side, actions = (16, 2) if mixed == "frame sizes" else (32, 3)
        memory.remember(
            episode,
            np.arange(8),
            np.zeros((8, actions)),
            np.zeros((8, 8)),
            "m2",
            np.zeros((8, side, side, 3), np.uint8),
        )
    with pytest.raises(DatasetError, match=f"episode {episode} .*episode 1") as error:
        training_windows(TINY, path, progress=False)
    assert "\n" not in str(error.value)


def test_an_episode_whose_frames_differ_in_size_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    ids = make_memory(path, n=4, side=8)
    small = zlib.compress(bytes(4 * 4 * 3), 1)
    write_rows(
        path,
        ("UPDATE frames SET height = 4, width = 4, pixels = ? WHERE step = ?", (small, ids[2])),
    )
    with Memory.open(path, readonly=True) as memory, pytest.raises(MemoryFormatError) as error:
        memory.episode_arrays(1)
    assert f"episode 1 of memory {path} mixes frame sizes" in str(error.value)
    assert f"at step {ids[2]}" in str(error.value)


# --- 5. a step id no SQLite integer holds is simply not there -------------------------------------


def test_recall_of_a_huge_step_is_not_in_the_memory(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    make_memory(path)
    huge = 2**70
    result = ami("memory", "recall", str(path), "--step", str(huge))
    assert_one_line_error(result, f"step {huge} is not in the memory")
    with Memory.open(path) as memory:
        for read in (memory.step, memory.frame, lambda s: memory.label(s, "x")):
            with pytest.raises(MemoryLookupError, match=f"step {-huge}"):
                read(-huge)


# --- 6. label never creates a memory -------------------------------------------------------------


def test_label_on_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nope.db"
    result = ami("memory", "label", str(path), "--step", "1", "--name", "door")
    assert_one_line_error(result, "not found", str(path))
    assert files_in(tmp_path) == set()


def test_label_on_an_empty_file_leaves_it_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    error = invoke("label", str(path), "--step", "1", "--name", "door")
    assert isinstance(error, MemoryFormatError) and "empty" in str(error)
    assert path.read_bytes() == b"" and files_in(tmp_path) == {"empty.db"}


# --- 7. read-only folders and files: read them, or say it is about permission --------------------


def run_read_only(target: Path, code: str, inside: str = "") -> subprocess.CompletedProcess[str]:
    """`python -c code MEMORY` with `target` (a folder or a file) read-only.

    As root (whom permission bits do not stop) `target` is bind-mounted read-only at a `view`
    beside it in a private mount namespace; otherwise it is made read-only by `chmod`. MEMORY is
    the read-only view of `target` (of `target / inside` when `inside` is given).
    """
    root = os.geteuid() == 0
    view = target.with_name(target.name + "-view") if root else target
    python = [sys.executable, "-c", code, str(view / inside if inside else view)]
    if not root:
        target.chmod(0o555 if target.is_dir() else 0o444)
        try:
            return subprocess.run(python, capture_output=True, text=True, timeout=120)
        finally:
            target.chmod(0o755 if target.is_dir() else 0o644)
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) to make a read-only mount as root")
    if not view.exists():
        view.mkdir() if target.is_dir() else view.touch()
    script = 'mount --bind -o ro "$1" "$2" || exit 99; shift 2; exec "$@"'
    command = ["unshare", "-m", "sh", "-c", script, "sh", str(target), str(view), *python]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode == 99 or "unshare failed" in result.stderr:
        pytest.skip(f"cannot make a read-only mount here: {result.stderr.strip()}")
    return result


READ_STEPS = """
import sys
from ami.errors import AmiError
from ami.memory import Memory
try:
    with Memory.open(sys.argv[1], readonly=True) as memory:
        print(memory.stats()["steps"], memory.find("door"))
except AmiError as error:
    print(f"ami: error: {error}", file=sys.stderr)
    sys.exit(2)
"""

LABEL = """
import sys
from ami.cli import main
sys.argv = ["ami", "memory", "label", sys.argv[1], "--step", "1", "--name", "lava"]
main()
"""


def test_a_memory_in_a_read_only_folder_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "memories"
    folder.mkdir()
    ids = make_memory(folder / "m.db")
    result = run_read_only(folder, READ_STEPS, "m.db")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(maxsplit=1) == ["6", f"[{ids[1]}]\n"]
    assert files_in(folder) == {"m.db"}


def test_a_read_only_folder_whose_wal_holds_commits_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "memories"
    folder.mkdir()
    make_memory(tmp_path / "m.db")
    with Memory.open(tmp_path / "m.db") as writer:  # a writer that has not checkpointed yet
        writer.connection.execute("PRAGMA wal_autocheckpoint=0")
        writer.label(1, "lava")
        for suffix in ("", "-wal"):
            shutil.copy(tmp_path / f"m.db{suffix}", folder / f"m.db{suffix}")
    result = run_read_only(folder, READ_STEPS, "m.db")
    assert_one_line_error(result, "m.db-wal holds commits", "read-only")
    assert "corrupt" not in result.stderr


def test_label_in_a_read_only_folder_says_read_only(tmp_path: Path) -> None:
    folder = tmp_path / "memories"
    folder.mkdir()
    make_memory(folder / "m.db")
    before = (folder / "m.db").read_bytes()
    result = run_read_only(folder, LABEL, "m.db")
    assert_one_line_error(result, "cannot be written", "read-only")
    assert "corrupt" not in result.stderr and "not a readable" not in result.stderr
    assert (folder / "m.db").read_bytes() == before


def test_a_read_only_memory_file_is_read_and_label_says_read_only(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    ids = make_memory(path)
    read = run_read_only(path, READ_STEPS)
    assert read.returncode == 0, read.stderr
    assert read.stdout.split(maxsplit=1) == ["6", f"[{ids[1]}]\n"]
    labelled = run_read_only(path, LABEL)
    assert_one_line_error(labelled, "cannot be written", "the file is read-only")


# --- 8. damaged files are called damaged; only an intact old memory is told to migrate -----------


def old_memory(path: Path, rows: int = 200) -> None:
    """An intact schema-1 memory with `rows` steps."""
    db = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute("INSERT INTO sessions VALUES (1, 0, 'm', '')")
    db.execute("INSERT INTO episodes VALUES (1, 1, 'two_room', 0)")
    blob = np.ones(64, np.float32).tobytes()
    db.executemany(
        "INSERT INTO steps VALUES (?, 1, ?, 0, ?, ?, 'm')",
        [(i, i, blob, blob) for i in range(rows)],
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()


@pytest.mark.parametrize("damage", ["header cut short", "version zeroed", "old with a zeroed page"])
def test_a_damaged_memory_is_called_damaged_not_old(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "m.db"
    if damage == "old with a zeroed page":
        old_memory(path)
        data = bytearray(path.read_bytes())
        data[10 * 4096 : 11 * 4096] = bytes(4096)  # a page of the steps table
        path.write_bytes(bytes(data))
    else:
        make_memory(path)
        data = bytearray(path.read_bytes())
        if damage == "version zeroed":
            data[60:64] = bytes(4)  # PRAGMA user_version lives at offset 60 of the header
        path.write_bytes(bytes(data[:50] if damage == "header cut short" else data))
    before = path.read_bytes()
    for readonly in (True, False):  # a reader is not told to migrate, a writer does not migrate
        with pytest.raises(MemoryFormatError) as error:
            Memory.open(path, readonly=readonly)
        message = str(error.value)
        assert "migrate" not in message and "\n" not in message
        assert "truncated" in message or "damaged" in message
    assert path.read_bytes() == before


# --- property: any file is either read or refused in one AmiError line -------------------------


@functools.cache
def valid_memory_bytes() -> bytes:
    """A small memory with frames and a label, checkpointed into one file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.db"
        make_memory(path, n=5, d=8, side=4)
        return path.read_bytes()


def truncated(cut: float) -> bytes:
    data = valid_memory_bytes()
    return data[: int(cut * len(data))]


def flipped(flips: list[tuple[int, int]]) -> bytes:
    data = bytearray(valid_memory_bytes())
    for offset, value in flips:
        data[offset % len(data)] ^= value
    return bytes(data)


FILES = st.one_of(
    st.binary(max_size=2048),
    st.binary(max_size=2048).map(lambda b: b"SQLite format 3\x00" + b),
    st.floats(0, 1).map(truncated),
    st.lists(st.tuples(st.integers(0, 2**20), st.integers(1, 255)), min_size=1, max_size=12).map(
        flipped
    ),
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=FILES)
def test_any_file_is_read_or_refused_in_one_ami_error(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.db"
        path.write_bytes(content)
        try:
            with Memory.open(path, readonly=True) as memory:
                memory.stats()
                memory.recall(np.zeros(8, np.float32), 3)
                list(memory.records(embeddings=True))
        except AmiError as error:
            assert "\n" not in str(error) and str(error)
