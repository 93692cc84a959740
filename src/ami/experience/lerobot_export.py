"""Write ami experience as a LeRobot v3.0 dataset folder, as LeRobot itself lays one out.

The folder written (`N` frames in all, `E` episodes, `A` action dim, `S` state dim):

- `meta/info.json`: `codebase_version` "v3.0", `fps`, totals, `chunks_size`, file size targets,
  `splits`, `data_path`, `video_path` and `features` (the camera as `dtype: video` with its
  codec facts, `action [A]`, `observation.state [S]` where `S > 0`, `timestamp`, `frame_index`,
  `episode_index`, `index`, `task_index`);
- `meta/tasks.parquet` (`task_index`, with the task string as its pandas index `task`);
- `meta/episodes/chunk-000/file-000.parquet`: one row per episode (`length`, `tasks`,
  `dataset_from_index`, `dataset_to_index`, `data/...`, `videos/{camera}/...` with its
  `from_timestamp` and `to_timestamp`, and its `stats/...`);
- `meta/stats.json`: `min`, `max`, `mean`, `std`, `count` of every numeric feature and of the
  camera (per channel, in [0, 1], shape `[3, 1, 1]`, as LeRobot states image stats);
- `data/chunk-000/file-000.parquet`: one row per frame;
- `videos/{camera}/chunk-000/file-000.mp4`: every episode's frames, one after another, at `fps`
  with continuous timestamps. AV1 (`libsvtav1`, `yuv420p`, a keyframe every 2 frames, CRF 30,
  LeRobot's defaults) unless another codec is asked for (`libx264` for H.264).

Conventions: an ami `Episode` has `L + 1` frames and the `L` actions between them, while a
LeRobot frame carries the action taken at it; so each frame `t < L` carries action `t` and the
last frame of each episode an all-zero action, which no transition uses (ami's LeRobot reader
drops it again). Everything goes into one data file and one mp4, whatever their size (LeRobot
starts new files past 100 MB and 500 MB; its readers follow the episode index either way).

The folder is written beside `out` under a temporary name and renamed onto `out` only once
complete. The export is checked by an independent reader of the published v3.0 layout in the
tests (pyarrow and PyAV reading the files directly), not by LeRobot's own loader, which is not
installed here (it would bring another torch).

Example:
    >>> from ami.experience.lerobot_export import export_dataset_file
    >>> export_dataset_file(Path("runs/data.h5"), Path("runs/lerobot"), fps=10)  # doctest: +SKIP
    PosixPath('runs/lerobot')
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ami.errors import DatasetError, DependencyMissingError
from ami.experience.dataset import Episode, ExperienceDataset
from ami.files import temporary_name, write_failure
from ami.progress import progress_bar

CODEBASE_VERSION = "v3.0"
DEFAULT_CAMERA = "observation.images.main"
DEFAULT_TASK = "ami experience"
DEFAULT_FPS = 10  # for an ami dataset whose meta states no frame rate
CHUNKS_SIZE = 1000
DATA_FILES_SIZE_IN_MB = 100
VIDEO_FILES_SIZE_IN_MB = 500
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-000/file-000.parquet"
PIX_FMT = "yuv420p"
# encoder options per codec: LeRobot's defaults for AV1 (g=2, crf=30); H.264 alike
CODEC_OPTIONS = {
    "libsvtav1": {"g": "2", "crf": "30", "preset": "8"},
    "libx264": {"g": "2", "crf": "23"},
}
INDEX_FEATURES = ("frame_index", "episode_index", "index", "task_index")
INSTALL_HINT = "pip install 'ami[data]'"


def _modules() -> tuple[ModuleType, ModuleType, ModuleType]:
    """`pyarrow`, `pyarrow.parquet` and `av`, or a `DependencyMissingError`."""
    try:
        import av
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise DependencyMissingError(
            f"exporting to LeRobot needs pyarrow and PyAV ({exc}); {INSTALL_HINT}"
        ) from None
    return pyarrow, pyarrow.parquet, av


class _Stats:
    """Running min, max, mean and std of a feature's rows `[n, d]` (float64 sums)."""

    def __init__(self) -> None:
        self.count = 0
        self.low: np.ndarray | None = None
        self.high: np.ndarray | None = None
        self.total: np.ndarray | None = None
        self.squares: np.ndarray | None = None

    def add(self, values: np.ndarray) -> _Stats:
        """Count the rows `values` `[n, d]`; return self."""
        values = np.asarray(values, dtype=np.float64)
        low, high = values.min(axis=0), values.max(axis=0)
        self._merge(values.shape[0], low, high, values.sum(axis=0), (values**2).sum(axis=0))
        return self

    def add_stats(self, other: _Stats) -> None:
        """Count the rows another `_Stats` counted."""
        assert other.low is not None and other.high is not None
        assert other.total is not None and other.squares is not None
        self._merge(other.count, other.low, other.high, other.total, other.squares)

    def _merge(
        self, count: int, low: np.ndarray, high: np.ndarray, total: np.ndarray, squares: np.ndarray
    ) -> None:
        if self.low is None or self.high is None or self.total is None or self.squares is None:
            self.low, self.high, self.total, self.squares = low, high, total, squares
        else:
            self.low, self.high = np.minimum(self.low, low), np.maximum(self.high, high)
            self.total, self.squares = self.total + total, self.squares + squares
        self.count += count

    def as_dict(self, shape: tuple[int, ...] | None = None) -> dict[str, Any]:
        """The stats as JSON lists (each reshaped to `shape` where given), `count` as `[N]`."""
        assert self.low is not None and self.high is not None
        assert self.total is not None and self.squares is not None
        mean = self.total / self.count
        std = np.sqrt(np.maximum(self.squares / self.count - mean**2, 0.0))
        out: dict[str, Any] = {}
        for name, value in (("min", self.low), ("max", self.high), ("mean", mean), ("std", std)):
            out[name] = (value.reshape(shape) if shape else value).tolist()
        out["count"] = [self.count]
        return out


def _pixel_stats(pixels: np.ndarray) -> _Stats:
    """Per-channel stats of frames uint8 `[n, h, w, 3]` in [0, 1], a few frames at a time."""
    stats = _Stats()
    step = max(1, (1 << 22) // max(1, pixels[0].size))  # about 4M values at a time
    for lo in range(0, pixels.shape[0], step):
        stats.add(pixels[lo : lo + step].reshape(-1, 3) / 255.0)
    return stats


class _VideoWriter:
    """One mp4 of frames appended episode after episode, at `fps`, pts counting frames."""

    def __init__(
        self, path: Path, fps: int, codec: str, height: int, width: int, where: Path
    ) -> None:
        _, _, av = _modules()
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner to stderr otherwise
        self.path, self.codec, self.frames = path, codec, 0
        self._av = av
        self._container = av.open(str(path), "w")
        try:
            self._stream = self._container.add_stream(codec, rate=fps)
            self._stream.width, self._stream.height = width, height
            self._stream.pix_fmt = PIX_FMT
            self._stream.options = dict(CODEC_OPTIONS.get(codec, {}))
            self._stream.codec_context.time_base = Fraction(1, fps)
            self._stream.codec_context.open()  # fails here on sizes the codec refuses
        except (av.FFmpegError, ValueError, TypeError) as exc:
            self._container.close()
            raise DatasetError(
                f"export to {where}: codec {codec!r} cannot encode {width}x{height} {PIX_FMT} "
                f"frames ({_one_line(exc)}); try codec 'libsvtav1' or even frame sizes"
            ) from None

    @property
    def codec_name(self) -> str:
        """The codec's canonical name (`av1`, `h264`), as LeRobot's info records it."""
        return str(self._stream.codec_context.codec.canonical_name)

    def write(self, pixels: np.ndarray) -> None:
        """Append frames uint8 `[n, h, w, 3]`."""
        for image in pixels:
            frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = self.frames
            self.frames += 1
            for packet in self._stream.encode(frame):
                self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and close the file."""
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()

    def abort(self) -> None:
        """Close the file without flushing (it is being removed)."""
        with contextlib.suppress(self._av.FFmpegError, OSError, ValueError):
            self._container.close()


def _one_line(exc: BaseException) -> str:
    """The first line of `exc`'s message (FFmpeg's reason alone; its type where it has none)."""
    reason = getattr(exc, "strerror", None)  # PyAV's errors: the reason without the file name
    text = (reason if isinstance(reason, str) and reason else str(exc)).strip().splitlines()
    return text[0] if text else type(exc).__name__


class _Export:
    """The folder being written: data rows, frames, episode rows and stats, episode by episode."""

    def __init__(
        self, root: Path, fps: int, task: str, camera: str, codec: str, where: Path
    ) -> None:
        pa, pq, _ = _modules()
        self.pa, self.pq, self.where = pa, pq, where
        self.root, self.fps, self.task, self.camera, self.codec = root, fps, task, camera, codec
        self.frames = 0
        self.episode_rows: list[dict[str, Any]] = []
        self.stats: dict[str, _Stats] = {}
        self.shape: tuple[int, int, int, int] | None = None  # h, w, A, S
        self.video: _VideoWriter | None = None
        self.data: Any = None  # the data file's ParquetWriter

    def _open(self, episode: Episode) -> None:
        """Open the data parquet and the mp4, now that the first episode gives the shapes."""
        _, h, w, _ = episode.pixels.shape
        self.shape = (h, w, episode.actions.shape[1], episode.states.shape[1])
        data = self.root / DATA_PATH.format(chunk_index=0, file_index=0)
        mp4 = self.root / VIDEO_PATH.format(video_key=self.camera, chunk_index=0, file_index=0)
        data.parent.mkdir(parents=True)
        mp4.parent.mkdir(parents=True)
        self.video = _VideoWriter(mp4, self.fps, self.codec, h, w, self.where)
        schema = self._schema()
        self.data = self.pq.ParquetWriter(data, schema, compression="snappy")

    def _schema(self) -> Any:
        """The data file's arrow schema, with the Hugging Face `datasets` features it stands for."""
        pa = self.pa
        assert self.shape is not None
        _, _, actions, states = self.shape
        fields = [pa.field("action", pa.list_(pa.float32(), actions))]
        hf: dict[str, Any] = {"action": _hf_sequence("float32", actions)}
        if states:
            fields.append(pa.field("observation.state", pa.list_(pa.float32(), states)))
            hf["observation.state"] = _hf_sequence("float32", states)
        fields.append(pa.field("timestamp", pa.float32()))
        hf["timestamp"] = {"dtype": "float32", "_type": "Value"}
        for name in INDEX_FEATURES:
            fields.append(pa.field(name, pa.int64()))
            hf[name] = {"dtype": "int64", "_type": "Value"}
        meta = {"huggingface": json.dumps({"info": {"features": hf}})}
        return pa.schema(fields, metadata=meta)

    def add(self, episode: Episode) -> None:
        """Append one episode: its rows, its frames, its episode row and its stats."""
        if self.shape is None:
            self._open(episode)
        self._check(episode)
        assert self.video is not None
        index, n = len(self.episode_rows), episode.pixels.shape[0]
        first = self.frames
        actions = np.concatenate([episode.actions, np.zeros_like(episode.actions[:1])])
        columns: dict[str, np.ndarray] = {"action": actions.astype(np.float32)}
        if episode.states.shape[1]:
            columns["observation.state"] = episode.states.astype(np.float32)
        columns["timestamp"] = (np.arange(n) / self.fps).astype(np.float32)
        columns["frame_index"] = np.arange(n, dtype=np.int64)
        columns["episode_index"] = np.full(n, index, dtype=np.int64)
        columns["index"] = np.arange(first, first + n, dtype=np.int64)
        columns["task_index"] = np.zeros(n, dtype=np.int64)
        self.data.write_table(self._table(columns))
        self.video.write(episode.pixels)
        self.frames += n
        episode_stats = self._count_stats(columns, episode.pixels)
        self.episode_rows.append(self._episode_row(index, first, n, episode_stats))

    def _check(self, episode: Episode) -> None:
        """Refuse an episode whose frame size, `A` or `S` differ from the first one's."""
        _, h, w, _ = episode.pixels.shape
        shape = (h, w, episode.actions.shape[1], episode.states.shape[1])
        if self.shape is not None and shape != self.shape:
            first_h, first_w, first_a, first_s = self.shape
            raise DatasetError(
                f"export to {self.where}: episode {len(self.episode_rows)} has {h}x{w} frames, "
                f"A={shape[2]}, S={shape[3]}; the first had {first_h}x{first_w}, A={first_a}, "
                f"S={first_s}"
            )

    def _table(self, columns: dict[str, np.ndarray]) -> Any:
        """One episode's rows as an arrow table of the data file's schema."""
        pa = self.pa
        arrays = []
        for values in columns.values():
            if values.ndim == 2:
                flat = pa.array(values.reshape(-1), type=pa.float32())
                arrays.append(pa.FixedSizeListArray.from_arrays(flat, values.shape[1]))
            else:
                arrays.append(pa.array(values))
        return pa.Table.from_arrays(arrays, schema=self.data.schema)

    def _count_stats(self, columns: dict[str, np.ndarray], pixels: np.ndarray) -> dict[str, Any]:
        """Add the episode to the dataset's stats; return its own stats (JSON data)."""
        rows = {name: values.reshape(values.shape[0], -1) for name, values in columns.items()}
        rows[self.camera] = pixels  # per channel in [0, 1], as LeRobot's [3, 1, 1]
        out = {}
        for name, values in rows.items():
            stats = _pixel_stats(pixels) if name == self.camera else _Stats().add(values)
            self.stats.setdefault(name, _Stats()).add_stats(stats)
            out[name] = stats.as_dict((3, 1, 1) if name == self.camera else None)
            if name == self.camera:
                out[name]["count"] = [pixels.shape[0]]  # frames, not pixels
        return out

    def _episode_row(self, index: int, first: int, n: int, stats: dict[str, Any]) -> dict[str, Any]:
        """The episode's row of `meta/episodes` (LeRobot v3.0's columns)."""
        video = f"videos/{self.camera}/"
        row: dict[str, Any] = {
            "episode_index": index,
            "tasks": [self.task],
            "length": n,
            "data/chunk_index": 0,
            "data/file_index": 0,
            "dataset_from_index": first,
            "dataset_to_index": first + n,
            video + "chunk_index": 0,
            video + "file_index": 0,
            video + "from_timestamp": first / self.fps,
            video + "to_timestamp": (first + n) / self.fps,
        }
        for feature, values in stats.items():
            for name, value in values.items():
                row[f"stats/{feature}/{name}"] = value
        row["meta/episodes/chunk_index"] = 0
        row["meta/episodes/file_index"] = 0
        return row

    def finish(self) -> None:
        """Close the data and video files; write the episodes, tasks, stats and info."""
        if self.shape is None or self.video is None:
            raise DatasetError(f"export to {self.where}: no episode to export")
        self.data.close()
        self.data = None
        self.video.close()
        episodes = self.root / EPISODES_PATH
        episodes.parent.mkdir(parents=True)
        self.pq.write_table(self.pa.Table.from_pylist(self.episode_rows), episodes)
        self.pq.write_table(_tasks_table(self.pa, [self.task]), self.root / "meta/tasks.parquet")
        stats = {
            name: s.as_dict((3, 1, 1) if name == self.camera else None)
            for name, s in self.stats.items()
        }
        stats[self.camera]["count"] = [self.frames]
        _write_json(self.root / "meta/stats.json", stats)
        _write_json(self.root / "meta/info.json", self._info())

    def abort(self) -> None:
        """Close whatever is open (the folder is being removed)."""
        if self.data is not None:
            with contextlib.suppress(OSError, self.pa.ArrowException):
                self.data.close()
        if self.video is not None:
            self.video.abort()

    def _info(self) -> dict[str, Any]:
        """`meta/info.json`."""
        assert self.shape is not None and self.video is not None
        h, w, actions, states = self.shape
        features: dict[str, Any] = {
            self.camera: {
                "dtype": "video",
                "shape": [h, w, 3],
                "names": ["height", "width", "channels"],
                "info": {
                    "video.height": h,
                    "video.width": w,
                    "video.codec": self.video.codec_name,
                    "video.pix_fmt": PIX_FMT,
                    "video.is_depth_map": False,
                    "video.fps": self.fps,
                    "video.channels": 3,
                    "has_audio": False,
                },
            },
            "action": {"dtype": "float32", "shape": [actions], "names": _names("a", actions)},
        }
        if states:
            features["observation.state"] = {
                "dtype": "float32",
                "shape": [states],
                "names": _names("s", states),
            }
        features["timestamp"] = {"dtype": "float32", "shape": [1], "names": None}
        for name in INDEX_FEATURES:
            features[name] = {"dtype": "int64", "shape": [1], "names": None}
        episodes = len(self.episode_rows)
        return {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": None,
            "total_episodes": episodes,
            "total_frames": self.frames,
            "total_tasks": 1,
            "chunks_size": CHUNKS_SIZE,
            "data_files_size_in_mb": DATA_FILES_SIZE_IN_MB,
            "video_files_size_in_mb": VIDEO_FILES_SIZE_IN_MB,
            "fps": self.fps,
            "splits": {"train": f"0:{episodes}"},
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH,
            "features": features,
        }


def _hf_sequence(dtype: str, length: int) -> dict[str, Any]:
    """A Hugging Face `datasets` `Sequence` feature of `length` values of `dtype`."""
    return {"feature": {"dtype": dtype, "_type": "Value"}, "length": length, "_type": "Sequence"}


def _names(prefix: str, size: int) -> list[str]:
    """Names of the `size` columns of a vector feature: `prefix0`, `prefix1`, ..."""
    return [f"{prefix}{i}" for i in range(size)]


def _tasks_table(pa: ModuleType, tasks: list[str]) -> Any:
    """`meta/tasks.parquet`'s table: `task_index`, and `task` as pandas would store its index."""
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [
            {
                "name": None,
                "field_name": None,
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": {"encoding": "UTF-8"},
            }
        ],
        "columns": [
            {
                "name": "task_index",
                "field_name": "task_index",
                "pandas_type": "int64",
                "numpy_type": "int64",
                "metadata": None,
            },
            {
                "name": "task",
                "field_name": "task",
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": None,
            },
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.0",
    }
    schema = pa.schema(
        [pa.field("task_index", pa.int64()), pa.field("task", pa.string())],
        metadata={"pandas": json.dumps(pandas_meta)},
    )
    return pa.Table.from_pydict({"task_index": list(range(len(tasks))), "task": tasks}, schema)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """`data` as indented JSON at `path` (its folder made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")


def _check_out(out: Path) -> None:
    """Refuse an `out` that exists and is not an empty folder."""
    if out.is_dir() and any(out.iterdir()):
        raise DatasetError(f"{out} is a folder that is not empty; give a new or empty folder")
    if out.exists() and not out.is_dir():
        raise DatasetError(f"{out} exists and is not a folder; give a new or empty folder")


def _fsync_tree(root: Path) -> None:
    """Flush every file and folder under `root` to disk."""
    for folder, _, files in os.walk(root):
        for name in files:
            descriptor = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def export_lerobot(
    episodes: Iterable[Episode],
    out: Path,
    fps: int,
    task: str = DEFAULT_TASK,
    camera: str = DEFAULT_CAMERA,
    codec: str = "libsvtav1",
    progress: bool = False,
) -> Path:
    """Write `episodes` as a LeRobot v3.0 dataset folder `out` (see the module docstring).

    Args:
        episodes: consumed one at a time; all must share frame size, `A` and `S`.
        out: the folder to write; it must not exist or be empty. It appears only once complete.
        fps: the frame rate the frames were recorded at (LeRobot's `fps`, the video's rate).
        task: the task string of every episode (`meta/tasks.parquet`).
        camera: the camera's feature key.
        codec: the PyAV encoder: `libsvtav1` (AV1, LeRobot's default) or `libx264` (H.264,
            even frame sizes only), or another FFmpeg encoder of `yuv420p` video.
        progress: show a progress bar over the episodes written.

    Returns:
        `out`.

    Raises:
        DatasetError: `out` is a file or a folder that is not empty, `episodes` is empty or
            disagree in shapes, the codec cannot encode the frames, or writing failed.
        DependencyMissingError: pyarrow or PyAV is not installed.
    """
    out = Path(out)
    if not isinstance(fps, int) or fps < 1:
        raise DatasetError(f"export to {out}: fps must be a positive integer, got {fps!r}")
    if "/" in camera or not camera:
        raise DatasetError(f"export to {out}: camera key {camera!r} must be non-empty, no '/'")
    _modules()
    _check_out(out)
    tmp = out.parent / temporary_name(out.name)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        _write_folder(tmp, out, episodes, fps, task, camera, codec, progress)
        _fsync_tree(tmp)
        os.replace(tmp, out)  # onto a missing or empty folder
    except OSError as exc:
        raise DatasetError(write_failure(out, exc)) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _write_folder(
    root: Path,
    out: Path,
    episodes: Iterable[Episode],
    fps: int,
    task: str,
    camera: str,
    codec: str,
    progress: bool,
) -> None:
    """Write the dataset into the folder `root` (to become `out`); on failure, close all."""
    export = _Export(root, fps, task, camera, codec, where=out)
    _, _, av = _modules()
    try:
        with progress_bar(progress, "exporting episodes", total=None) as advance:
            for episode in episodes:
                export.add(episode)
                advance(1)
        export.finish()
    except av.FFmpegError as exc:
        export.abort()
        raise DatasetError(
            f"export to {out}: encoding with {codec!r} failed ({_one_line(exc)})"
        ) from None
    except BaseException:
        export.abort()
        raise


def export_dataset_file(
    dataset: Path,
    out: Path,
    fps: int | None = None,
    task: str = DEFAULT_TASK,
    camera: str = DEFAULT_CAMERA,
    codec: str = "libsvtav1",
    progress: bool = False,
) -> Path:
    """Export the ami dataset file `dataset` as a LeRobot v3.0 folder `out`, episode by episode.

    Args:
        dataset: an ami HDF5 dataset (`ami collect`, `ami import`).
        out: the folder to write (must not exist or be empty).
        fps: the frame rate; None: the one its meta records from an import
            (`meta["source"]["fps"]`), else `DEFAULT_FPS`.
        task: the task string of every episode.
        camera: the camera's feature key.
        codec: the PyAV video encoder (see `export_lerobot`).
        progress: show a progress bar.

    Returns:
        `out`.

    Raises:
        DatasetError: the dataset is missing or damaged, or the export failed.
    """
    with ExperienceDataset.open(dataset) as data:
        if fps is None:
            fps = _stated_fps(data.meta)
        return export_lerobot(_each(data), out, fps, task, camera, codec, progress)


def _stated_fps(meta: dict[str, Any]) -> int:
    """The frame rate an ami dataset's meta records (from a LeRobot import), else the default."""
    source = meta.get("source")
    stated = source.get("fps") if isinstance(source, dict) else None
    if isinstance(stated, int | float) and stated >= 1:
        return round(stated)
    return DEFAULT_FPS


def _each(data: ExperienceDataset) -> Iterator[Episode]:
    """The dataset's episodes, read from disk one at a time."""
    for index in range(data.num_episodes):
        yield data.episode(index)
