"""LeRobot datasets: ami -> LeRobot v3.0 export, the reader of v3.0 and v2.1, and bad input.

Nothing is downloaded and LeRobot itself is not installed (it would bring another torch): the
export is checked against the published v3.0 layout by an independent reader written here with
pyarrow and PyAV directly, and the reader on folders the tests write themselves.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from ami.errors import DatasetError  # noqa: E402
from ami.experience.dataset import Episode, ExperienceDataset  # noqa: E402
from ami.experience.lerobot_export import export_dataset_file, export_lerobot  # noqa: E402
from ami.experience.sources import ImportOptions, import_dataset  # noqa: E402
from ami.experience.sources.lerobot import LeRobotReader, decode_frames  # noqa: E402

FPS = 10
SIZE = 64
LENGTHS = (12, 9, 15)  # frames per episode
CAMERA = "observation.images.main"
# Mean |decoded - source| over every pixel, of 255: measured 2.2-2.4 on these frames with AV1
# (libsvtav1, CRF 30) and 1.9-2.4 with H.264 (libx264, CRF 23), mostly yuv420p's halved colour
# resolution at the squares' edges; any two different frames here differ by 4.1 or more, and
# each decoded frame must also be nearest its own source frame.
CODEC_LOSS = 3.0


def _frames(n: int, episode: int, size: int = SIZE) -> np.ndarray:
    """Distinct, smooth frames uint8 `[n, size, size, 3]`: two squares moving 3 px a frame over
    a background brightening by 4 a frame (a frame differs from the next by about 6 in mean)."""
    pixels = np.empty((n, size, size, 3), np.uint8)
    for t in range(n):
        pixels[t] = (20 + 30 * episode + 4 * t, 40 + 4 * t, 60)
        x = 2 + 3 * t
        pixels[t, 8:24, x : x + 16] = (220, 60 + 40 * episode, 40)
        y = size - 14 - 3 * t // 2
        pixels[t, max(y, 0) : max(y + 10, 0), 40:52] = (30, 200, 90)
    return pixels


def _episodes(rng: np.random.Generator, lengths=LENGTHS, states: int = 3) -> list[Episode]:
    """Episodes of `lengths` frames, random actions in [-1, 1] (A = 2) and random states."""
    return [
        Episode(
            pixels=_frames(n, e),
            actions=rng.uniform(-1, 1, (n - 1, 2)).astype(np.float32),
            states=rng.normal(size=(n, states)).astype(np.float32),
        )
        for e, n in enumerate(lengths)
    ]


def _mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int64) - b.astype(np.int64)).mean())


def _assert_frames_match(decoded: np.ndarray, source: np.ndarray) -> None:
    """Same number of frames, each within the codec's loss and nearest its own source frame."""
    assert decoded.shape == source.shape
    assert _mae(decoded, source) < CODEC_LOSS
    for t, frame in enumerate(decoded):
        distances = [_mae(frame, other) for other in source]
        assert int(np.argmin(distances)) == t


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, list[Episode]]:
    episodes = _episodes(np.random.default_rng(0))
    return export_lerobot(episodes, tmp_path / "lerobot", fps=FPS), episodes


# --- round trip -----------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["libsvtav1", "libx264"])
def test_round_trip_ami_lerobot_ami(tmp_path: Path, codec: str) -> None:
    episodes = _episodes(np.random.default_rng(1))
    folder = export_lerobot(episodes, tmp_path / "lerobot", fps=FPS, codec=codec)
    reader = LeRobotReader(folder, ImportOptions())
    try:
        assert reader.num_episodes == len(episodes)
        assert reader.action_scaling().source == "unit"  # stated bounds lie within [-1, 1]
        raws = list(reader.episodes())
    finally:
        reader.close()
    assert [raw.index for raw in raws] == list(range(len(episodes)))
    for raw, episode in zip(raws, episodes, strict=True):
        assert np.array_equal(raw.actions.astype(np.float32), episode.actions)
        assert np.array_equal(raw.states.astype(np.float32), episode.states)
        _assert_frames_match(raw.pixels, episode.pixels)

    out = import_dataset(f"lerobot:{folder}", tmp_path / "back.h5", ImportOptions(image_size=SIZE))
    with ExperienceDataset.open(out) as back:
        assert back.episode_lengths.tolist() == list(LENGTHS)
        assert back.meta["source"]["fps"] == FPS
        for index, episode in enumerate(episodes):
            got = back.episode(index)
            assert np.array_equal(got.actions, episode.actions)  # unit scaling: kept exactly
            assert np.array_equal(got.states, episode.states)
            _assert_frames_match(got.pixels, episode.pixels)


def test_export_dataset_file_streams_an_ami_file(tmp_path: Path) -> None:
    from ami.experience.dataset import write_dataset

    episodes = _episodes(np.random.default_rng(2), lengths=(5, 7), states=0)
    h5 = write_dataset(tmp_path / "data.h5", episodes, {"world": "test"})
    folder = export_dataset_file(h5, tmp_path / "lerobot", fps=5, codec="libx264")
    info = json.loads((folder / "meta/info.json").read_text())
    assert info["fps"] == 5 and info["total_frames"] == 12
    assert "observation.state" not in info["features"]
    reader = LeRobotReader(folder, ImportOptions())
    raws = list(reader.episodes())
    assert [raw.states.shape for raw in raws] == [(5, 0), (7, 0)]
    assert all(np.array_equal(r.actions, e.actions) for r, e in zip(raws, episodes, strict=True))


def test_export_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    out = tmp_path / "lerobot"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not empty"):
        export_lerobot(_episodes(np.random.default_rng(3)), out, fps=FPS)
    assert (out / "keep.txt").read_text() == "mine"
    empty = tmp_path / "empty"
    empty.mkdir()
    export_lerobot(_episodes(np.random.default_rng(3)), empty, fps=FPS)  # an empty one is fine
    assert (empty / "meta/info.json").is_file()
    with pytest.raises(DatasetError, match="no episode"):
        export_lerobot([], tmp_path / "none", fps=FPS)
    assert not (tmp_path / "none").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


# --- an independent reader of the published v3.0 layout -------------------------------------


def test_export_follows_the_v3_layout(exported: tuple[Path, list[Episode]]) -> None:
    folder, episodes = exported
    total = sum(LENGTHS)
    info = json.loads((folder / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["robot_type"] is None
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (3, total, 1)
    assert info["fps"] == FPS and info["chunks_size"] == 1000
    assert info["splits"] == {"train": "0:3"}
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] == (
        "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    )
    features = info["features"]
    camera = features[CAMERA]
    assert camera["dtype"] == "video" and camera["shape"] == [SIZE, SIZE, 3]
    assert camera["names"] == ["height", "width", "channels"]
    assert camera["info"]["video.codec"] == "av1" and camera["info"]["video.fps"] == FPS
    assert camera["info"]["video.pix_fmt"] == "yuv420p"
    assert features["action"]["shape"] == [2] and features["action"]["dtype"] == "float32"
    assert features["observation.state"]["shape"] == [3]
    for name in ("frame_index", "episode_index", "index", "task_index"):
        assert features[name] == {"dtype": "int64", "shape": [1], "names": None}

    data = pq.read_table(folder / info["data_path"].format(chunk_index=0, file_index=0))
    assert set(data.column_names) == {
        "action",
        "observation.state",
        "timestamp",
        "frame_index",
        "episode_index",
        "index",
        "task_index",
    }
    assert data.num_rows == total
    assert data.column("index").to_pylist() == list(range(total))
    episode_of_row = np.repeat(np.arange(3), LENGTHS)
    assert data.column("episode_index").to_pylist() == episode_of_row.tolist()
    frame_of_row = np.concatenate([np.arange(n) for n in LENGTHS])
    assert data.column("frame_index").to_pylist() == frame_of_row.tolist()
    timestamps = np.asarray(data.column("timestamp").to_pylist())
    assert np.allclose(timestamps, frame_of_row / FPS)
    actions = np.asarray(data.column("action").to_pylist(), dtype=np.float32)
    starts = np.cumsum((0, *LENGTHS))
    for e, episode in enumerate(episodes):
        rows = actions[starts[e] : starts[e + 1]]
        assert np.array_equal(rows[:-1], episode.actions)
        assert not rows[-1].any()  # the last frame's action: zeros, documented

    meta = pq.read_table(folder / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    video = f"videos/{CAMERA}/"
    assert [m["episode_index"] for m in meta] == [0, 1, 2]
    assert [m["length"] for m in meta] == list(LENGTHS)
    assert [m["dataset_from_index"] for m in meta] == starts[:-1].tolist()
    assert [m["dataset_to_index"] for m in meta] == starts[1:].tolist()
    assert all(m["data/chunk_index"] == m["data/file_index"] == 0 for m in meta)
    assert all(m[video + "chunk_index"] == m[video + "file_index"] == 0 for m in meta)
    assert [m[video + "from_timestamp"] for m in meta] == pytest.approx(starts[:-1] / FPS)
    assert [m[video + "to_timestamp"] for m in meta] == pytest.approx(starts[1:] / FPS)
    assert all(m["tasks"] == ["ami experience"] for m in meta)

    tasks = pq.read_table(folder / "meta/tasks.parquet")
    assert tasks.column("task_index").to_pylist() == [0]
    assert tasks.column("task").to_pylist() == ["ami experience"]
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == ["task"]

    stats = json.loads((folder / "meta/stats.json").read_text())
    assert np.allclose(stats["action"]["min"], actions.min(axis=0))
    assert np.allclose(stats["action"]["max"], actions.max(axis=0))
    assert np.allclose(stats["action"]["mean"], actions.mean(axis=0))
    assert np.allclose(stats["action"]["std"], actions.std(axis=0))
    assert stats["action"]["count"] == [total]
    assert np.asarray(stats[CAMERA]["mean"]).shape == (3, 1, 1)

    mp4 = folder / info["video_path"].format(video_key=CAMERA, chunk_index=0, file_index=0)
    with av.open(str(mp4)) as container:
        stream = container.streams.video[0]
        decoded = [
            (float(f.pts * stream.time_base), f.to_ndarray(format="rgb24"))
            for f in container.decode(stream)
        ]
    assert len(decoded) == total
    times = np.asarray([t for t, _ in decoded])
    assert np.allclose(times, np.arange(total) / FPS)  # continuous across episodes
    frames = np.stack([f for _, f in decoded])
    for e, episode in enumerate(episodes):
        start, stop = (round(meta[e][video + k] * FPS) for k in ("from_timestamp", "to_timestamp"))
        _assert_frames_match(frames[start:stop], episode.pixels)


# --- v2.1 ------------------------------------------------------------------------------------


def _write_mp4(path: Path, frames: np.ndarray, fps: int = FPS, gop: int = 2) -> None:
    """Frames uint8 `[n, h, w, 3]` as an H.264 mp4 (written with PyAV directly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"g": str(gop), "crf": "20"}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _vector(values: np.ndarray):
    return pa.array(values.tolist(), type=pa.list_(pa.float32()))


def _write_v21(root: Path, lengths=(8, 11), scale: float = 5.0, cameras=("top",)):
    """A LeRobot v2.1 folder: one parquet and one mp4 per episode, meta/episodes.jsonl.

    Returns the per-episode `(frames, action rows [n, 2], states [n, 4])`.
    """
    rng = np.random.default_rng(4)
    (root / "meta").mkdir(parents=True)
    features = {
        "action": {"dtype": "float32", "shape": [2], "names": None},
        "observation.state": {"dtype": "float32", "shape": [4], "names": None},
        "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        "frame_index": {"dtype": "int64", "shape": [1], "names": None},
        "episode_index": {"dtype": "int64", "shape": [1], "names": None},
        "index": {"dtype": "int64", "shape": [1], "names": None},
        "task_index": {"dtype": "int64", "shape": [1], "names": None},
    }
    for camera in cameras:
        features[f"observation.images.{camera}"] = {
            "dtype": "video",
            "shape": [SIZE, SIZE, 3],
            "names": ["height", "width", "channel"],
            "info": {"video.fps": FPS, "video.codec": "h264", "video.pix_fmt": "yuv420p"},
        }
    info = {
        "codebase_version": "v2.1",
        "fps": FPS,
        "chunks_size": 1000,
        "total_episodes": len(lengths),
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": (
            "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
        ),
        "features": features,
    }
    (root / "meta/info.json").write_text(json.dumps(info))
    lines = [
        json.dumps({"episode_index": e, "length": n, "tasks": ["t"]}) for e, n in enumerate(lengths)
    ]
    (root / "meta/episodes.jsonl").write_text("\n".join(lines) + "\n")
    made, first = [], 0
    for e, n in enumerate(lengths):
        frames = _frames(n, e)
        actions = (scale * rng.uniform(-1, 1, (n, 2))).astype(np.float32)
        states = rng.normal(size=(n, 4)).astype(np.float32)
        table = pa.table(
            {
                "action": _vector(actions),
                "observation.state": _vector(states),
                "timestamp": pa.array(np.arange(n) / FPS, type=pa.float32()),
                "frame_index": pa.array(np.arange(n), type=pa.int64()),
                "episode_index": pa.array(np.full(n, e), type=pa.int64()),
                "index": pa.array(np.arange(first, first + n), type=pa.int64()),
                "task_index": pa.array(np.zeros(n), type=pa.int64()),
            }
        )
        path = root / f"data/chunk-000/episode_{e:06d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        for camera in cameras:
            mp4 = root / f"videos/chunk-000/observation.images.{camera}/episode_{e:06d}.mp4"
            _write_mp4(mp4, frames)
        made.append((frames, actions, states))
        first += n
    return made


def test_reads_a_v21_folder(tmp_path: Path) -> None:
    made = _write_v21(tmp_path / "v21")
    reader = LeRobotReader(tmp_path / "v21", ImportOptions())
    assert reader.describe()["codebase_version"] == "v2.1"
    assert reader.camera == "observation.images.top"
    scaling = reader.action_scaling()  # no stats.json: measured over actions 0..n-2
    used = np.concatenate([actions[:-1] for _, actions, _ in made]).astype(np.float64)
    assert scaling.source == "measured"
    assert scaling.low == tuple(used.min(axis=0)) and scaling.high == tuple(used.max(axis=0))
    raws = list(reader.episodes())
    assert [raw.index for raw in raws] == [0, 1]
    for raw, (frames, actions, states) in zip(raws, made, strict=True):
        assert np.array_equal(raw.actions.astype(np.float32), actions[:-1])
        assert np.array_equal(raw.states.astype(np.float32), states)
        _assert_frames_match(raw.pixels, frames)

    stateless = LeRobotReader(tmp_path / "v21", ImportOptions(state_key="", max_episodes=1))
    assert stateless.num_episodes == 1
    assert next(stateless.episodes()).states.shape == (8, 0)


def test_v21_stated_bounds_are_used(tmp_path: Path) -> None:
    _write_v21(tmp_path / "v21")
    stats = {"action": {"min": [-6.0, -7.0], "max": [6.0, 8.0]}}
    (tmp_path / "v21/meta/stats.json").write_text(json.dumps(stats))
    scaling = LeRobotReader(tmp_path / "v21", ImportOptions()).action_scaling()
    assert (scaling.low, scaling.high, scaling.source) == ((-6.0, -7.0), (6.0, 8.0), "stated")


def test_several_cameras_must_be_named(tmp_path: Path) -> None:
    _write_v21(tmp_path / "v21", cameras=("top", "wrist"))
    with pytest.raises(DatasetError, match="observation.images.top, observation.images.wrist"):
        LeRobotReader(tmp_path / "v21", ImportOptions())
    reader = LeRobotReader(tmp_path / "v21", ImportOptions(camera="observation.images.wrist"))
    assert next(reader.episodes()).pixels.shape == (8, SIZE, SIZE, 3)


# --- seeking -----------------------------------------------------------------------------------


@pytest.mark.parametrize("gop", [2, 10])
def test_seek_decoding_equals_sequential_decoding(tmp_path: Path, gop: int) -> None:
    mp4 = tmp_path / "video.mp4"
    _write_mp4(mp4, _frames(30, 0), gop=gop)
    sequential = decode_frames(mp4, 0.0, 30, FPS)
    assert sequential.shape == (30, SIZE, SIZE, 3)
    for start in (1, 7, 13, 29):
        count = min(5, 30 - start)
        sought = decode_frames(mp4, start / FPS, count, FPS)
        assert np.array_equal(sought, sequential[start : start + count])
    with pytest.raises(DatasetError, match="truncated video"):
        decode_frames(mp4, 25 / FPS, 10, FPS)


def test_exported_episodes_are_the_frames_of_a_sequential_decode(exported) -> None:
    folder, _ = exported
    mp4 = next(folder.glob("videos/*/chunk-000/file-000.mp4"))
    sequential = decode_frames(mp4, 0.0, sum(LENGTHS), FPS)
    raws = list(LeRobotReader(folder, ImportOptions()).episodes())
    assert np.array_equal(np.concatenate([raw.pixels for raw in raws]), sequential)


# --- bad input -------------------------------------------------------------------------------


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _read_all(folder: Path, **options) -> None:
    reader = LeRobotReader(folder, ImportOptions(**options))
    reader.action_scaling()
    list(reader.episodes())


def test_truncated_mp4_is_one_error_naming_it(exported) -> None:
    folder, _ = exported
    mp4 = next(folder.glob("videos/*/chunk-000/file-000.mp4"))
    _truncate(mp4)
    with pytest.raises(DatasetError, match=r"file-000\.mp4") as error:
        _read_all(folder)
    assert "\n" not in str(error.value)


def test_video_shorter_than_its_episode_is_an_error(tmp_path: Path) -> None:
    made = _write_v21(tmp_path / "v21")
    mp4 = tmp_path / "v21/videos/chunk-000/observation.images.top/episode_000001.mp4"
    _write_mp4(mp4, made[1][0][:-3])  # 8 of its 11 frames
    with pytest.raises(DatasetError, match=r"episode_000001\.mp4: truncated video: episode 1"):
        _read_all(tmp_path / "v21")


def test_truncated_parquet_is_one_error_naming_it(exported) -> None:
    folder, _ = exported
    data = folder / "data/chunk-000/file-000.parquet"
    _truncate(data)
    with pytest.raises(DatasetError, match=r"data/chunk-000/file-000\.parquet: unreadable"):
        _read_all(folder)
    meta = folder / "meta/episodes/chunk-000/file-000.parquet"
    _truncate(meta)
    with pytest.raises(DatasetError, match=r"meta/episodes/chunk-000/file-000\.parquet"):
        LeRobotReader(folder, ImportOptions())


def test_unknown_keys_are_refused_listing_the_known(exported) -> None:
    folder, _ = exported
    with pytest.raises(DatasetError, match=rf"info\.json: no camera 'front' .*{CAMERA}"):
        LeRobotReader(folder, ImportOptions(camera="front"))
    with pytest.raises(DatasetError, match=r"no action feature 'act' .*action"):
        LeRobotReader(folder, ImportOptions(action_key="act"))
    with pytest.raises(DatasetError, match=r"no state feature 'state' .*observation\.state"):
        LeRobotReader(folder, ImportOptions(state_key="state"))


@pytest.mark.parametrize("key", ["fps", "features", "data_path", "codebase_version"])
def test_missing_info_key_is_named(exported, key: str) -> None:
    folder, _ = exported
    info_file = folder / "meta/info.json"
    info = json.loads(info_file.read_text())
    del info[key]
    info_file.write_text(json.dumps(info))
    with pytest.raises(DatasetError, match=rf"info\.json: no '{key}' key"):
        LeRobotReader(folder, ImportOptions())


def test_missing_info_and_unknown_version(exported, tmp_path: Path) -> None:
    folder, _ = exported
    info_file = folder / "meta/info.json"
    info = json.loads(info_file.read_text())
    info_file.write_text(json.dumps({**info, "codebase_version": "v1.6"}))
    with pytest.raises(DatasetError, match=r"info\.json: codebase_version 'v1.6'"):
        LeRobotReader(folder, ImportOptions())
    info_file.unlink()
    with pytest.raises(DatasetError, match=r"info\.json: not found"):
        LeRobotReader(folder, ImportOptions())


def test_lengths_that_disagree_are_an_error(tmp_path: Path) -> None:
    _write_v21(tmp_path / "v21")
    listing = tmp_path / "v21/meta/episodes.jsonl"
    listing.write_text(listing.read_text().replace('"length": 11', '"length": 12'))
    with pytest.raises(DatasetError, match=r"episode_000001\.parquet: episode 1 has 11 rows"):
        _read_all(tmp_path / "v21")


def test_v3_lengths_that_disagree_are_an_error(exported) -> None:
    folder, _ = exported
    meta_file = folder / "meta/episodes/chunk-000/file-000.parquet"
    meta = pq.read_table(meta_file)
    lengths = meta.column("length").to_pylist()
    lengths[2] += 1
    column = meta.schema.get_field_index("length")
    pq.write_table(meta.set_column(column, "length", pa.array(lengths)), meta_file)
    with pytest.raises(DatasetError, match=r"episode 2 has length 16 but dataset indices"):
        LeRobotReader(folder, ImportOptions())


def test_nan_action_names_the_episode(tmp_path: Path) -> None:
    episodes = _episodes(np.random.default_rng(5))
    episodes[1].actions[3, 0] = np.nan
    folder = export_lerobot(episodes, tmp_path / "lerobot", fps=FPS)
    with pytest.raises(DatasetError, match=r"file-000\.parquet: episode 1: action at frame 3"):
        import_dataset(f"lerobot:{folder}", tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_lerobot_itself_is_not_installed() -> None:
    """The export is checked by this file's own reader: LeRobot would pull in another torch."""
    with pytest.raises(ImportError):
        __import__("lerobot")


def test_folder_copy_is_independent(exported, tmp_path: Path) -> None:
    """A moved dataset folder still reads: every path in its metadata is relative."""
    folder, episodes = exported
    moved = shutil.move(str(folder), tmp_path / "moved")
    raws = list(LeRobotReader(Path(moved), ImportOptions()).episodes())
    assert [len(raw.pixels) for raw in raws] == list(LENGTHS)


def test_reads_a_v3_folder_of_png_images(tmp_path: Path) -> None:
    """A hand-written v3.0 folder whose camera is a parquet column of PNG images (lossless)."""
    image_module = pytest.importorskip("PIL.Image")
    import io

    root, lengths = tmp_path / "v3", (6, 4)
    (root / "meta/episodes/chunk-000").mkdir(parents=True)
    (root / "data/chunk-000").mkdir(parents=True)
    info = {
        "codebase_version": "v3.0",
        "fps": FPS,
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "features": {
            "observation.image": {"dtype": "image", "shape": [SIZE, SIZE, 3], "names": None},
            "action": {"dtype": "float32", "shape": [2], "names": None},
            "frame_index": {"dtype": "int64", "shape": [1], "names": None},
            "episode_index": {"dtype": "int64", "shape": [1], "names": None},
        },
    }
    (root / "meta/info.json").write_text(json.dumps(info))
    frames = [_frames(n, e) for e, n in enumerate(lengths)]
    actions = np.random.default_rng(6).uniform(-1, 1, (sum(lengths), 2)).astype(np.float32)

    def png(image: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        image_module.fromarray(image).save(buffer, format="PNG")
        return buffer.getvalue()

    images = [{"bytes": png(f), "path": None} for episode in frames for f in episode]
    data = {
        "observation.image": images,
        "action": _vector(actions),
        "frame_index": [t for n in lengths for t in range(n)],
        "episode_index": [e for e, n in enumerate(lengths) for _ in range(n)],
    }
    pq.write_table(pa.table(data), root / "data/chunk-000/file-000.parquet")
    starts = np.cumsum((0, *lengths))
    episodes = {
        "episode_index": [0, 1],
        "length": list(lengths),
        "data/chunk_index": [0, 0],
        "data/file_index": [0, 0],
        "dataset_from_index": starts[:-1].tolist(),
        "dataset_to_index": starts[1:].tolist(),
    }
    pq.write_table(pa.table(episodes), root / "meta/episodes/chunk-000/file-000.parquet")
    reader = LeRobotReader(root, ImportOptions())
    assert reader.camera == "observation.image" and reader.state_key == ""
    raws = list(reader.episodes())
    for e, raw in enumerate(raws):
        assert np.array_equal(raw.pixels, frames[e])  # PNG: exact
        assert np.array_equal(raw.actions, actions[starts[e] : starts[e + 1] - 1])
        assert raw.states.shape == (lengths[e], 0)


def test_export_refuses_episodes_of_other_shapes(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    episodes = _episodes(rng, lengths=(4,)) + _episodes(rng, lengths=(4,), states=2)
    with pytest.raises(DatasetError, match="episode 1 has 64x64 frames, A=2, S=2; the first"):
        export_lerobot(episodes, tmp_path / "lerobot", fps=FPS)
    assert not (tmp_path / "lerobot").exists()
