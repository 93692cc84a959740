"""LeRobot datasets (v3.0 and v2.1 folders): parquet tables of actions and states, mp4 frames.

Layout read (`meta/info.json` says which, by `codebase_version`):

- **v3.0**: `meta/episodes/chunk-*/file-*.parquet` holds one row per episode (`episode_index`,
  `length`, `data/chunk_index`, `data/file_index`, `dataset_from_index`, `dataset_to_index` and
  per camera `videos/{key}/chunk_index`, `file_index`, `from_timestamp`, `to_timestamp`). Many
  episodes share one data parquet (`info["data_path"]`) and one mp4 per camera
  (`info["video_path"]`), concatenated: an episode's frames are those from its
  `from_timestamp` up to its `to_timestamp`.
- **v2.1**: `meta/episodes.jsonl` (one JSON object per episode: `episode_index`, `length`) and
  one parquet and one mp4 per episode, in chunk folders of `info["chunks_size"]` episodes.

A LeRobot frame `t` holds the observation seen at `t` and the action taken there, so an episode
of `n` frames is `n` frames, `n` states and the `n - 1` actions between them: the last frame's
action leads out of the episode and is dropped. Frames are decoded with PyAV (AV1, H.264, ...),
seeking to the episode's start; cameras stored in the parquet as PNG images (`dtype: image`)
are decoded with Pillow. Only the columns needed are read, one data file at a time. The
actions' scaling comes from `meta/stats.json`'s min and max where it gives them, else from all
the actions (the action column alone is read for that).

Needs `pyarrow` and `av` (`pip install 'ami[data]'`).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ami.errors import DatasetError, DependencyMissingError
from ami.experience.sources.common import ActionScaling, ImportOptions, RawEpisode

VERSIONS = ("v3.0", "v2.1")
INFO_KEYS = ("codebase_version", "fps", "features", "data_path")
DEFAULT_STATE_KEY = "observation.state"
CAMERA_DTYPES = ("video", "image")
INSTALL_HINT = "pip install 'ami[data]'"


def _pyarrow() -> tuple[ModuleType, ModuleType, ModuleType]:
    """`pyarrow`, `pyarrow.parquet` and `pyarrow.compute`, or a `DependencyMissingError`."""
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.parquet
    except ImportError as exc:
        raise DependencyMissingError(
            f"reading LeRobot datasets needs pyarrow ({exc}); {INSTALL_HINT}"
        ) from None
    return pyarrow, pyarrow.parquet, pyarrow.compute


def _av() -> ModuleType:
    """PyAV (`av`), or a `DependencyMissingError`."""
    try:
        import av
    except ImportError as exc:
        raise DependencyMissingError(
            f"reading LeRobot videos needs PyAV ({exc}); {INSTALL_HINT}"
        ) from None
    return av


def _video_errors() -> tuple[type[BaseException], ...]:
    """The errors PyAV raises on a damaged or unreadable file."""
    av = _av()
    return (av.FFmpegError, OSError, EOFError, ValueError)


def decode_frames(mp4: Path, start_s: float, count: int, fps: float) -> np.ndarray:
    """`count` frames of the video `mp4`, from the one shown at `start_s` seconds on.

    Seeks to the last keyframe at or before `start_s`, then decodes forward to the first frame
    whose time is at or after `start_s` less half a frame.

    Args:
        mp4: the video file (any codec FFmpeg decodes: AV1, H.264, ...).
        start_s: time of the first frame wanted, in seconds from the video's start.
        count: number of frames wanted.
        fps: the video's frame rate (for the half-frame tolerance).

    Returns:
        uint8 `[count, h, w, 3]` RGB frames.

    Raises:
        DatasetError: the file is missing, damaged, or ends before `count` frames.
    """
    frames = _decode(mp4, start_s, count, fps, stop_s=None)
    if len(frames) < count:
        raise DatasetError(
            f"{mp4}: truncated video: {len(frames)} frames from {start_s:.3f} s, {count} expected"
        )
    return np.stack(frames[:count]) if count else np.zeros((0, 0, 0, 3), np.uint8)


def _decode(
    mp4: Path, start_s: float, count: int, fps: float, stop_s: float | None
) -> list[np.ndarray]:
    """Frames from `start_s` on: `count` of them, or (with `stop_s`) all those before `stop_s`.

    Frames are taken where their time `t` satisfies `start_s - half <= t < stop_s - half` (half
    a frame at `fps`); without `stop_s`, decoding stops after `count` frames.

    Raises:
        DatasetError: the file is missing or cannot be decoded.
    """
    av = _av()
    if not mp4.is_file():
        raise DatasetError(f"video not found: {mp4}")
    half = 0.5 / fps
    frames: list[np.ndarray] = []
    try:
        with av.open(str(mp4)) as container:
            if not container.streams.video:
                raise DatasetError(f"{mp4}: no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            time_base = float(stream.time_base) if stream.time_base else 1.0 / fps
            if start_s > half:
                container.seek(int(max(start_s - half, 0.0) / time_base), stream=stream)
            for frame in container.decode(stream):
                time = frame.pts * time_base if frame.pts is not None else start_s
                if time < start_s - half:
                    continue
                if stop_s is not None and time >= stop_s - half:
                    break
                frames.append(frame.to_ndarray(format="rgb24"))
                if stop_s is None and len(frames) >= count:
                    break
    except DatasetError:
        raise
    except _video_errors() as exc:
        raise DatasetError(f"{mp4}: unreadable video ({_one_line(exc)})") from None
    return frames


def _one_line(exc: BaseException) -> str:
    """The first line of `exc`'s message (FFmpeg's reason alone; its type where it has none)."""
    reason = getattr(exc, "strerror", None)  # PyAV's errors: the reason without the file name
    text = (reason if isinstance(reason, str) and reason else str(exc)).strip().splitlines()
    return text[0] if text else type(exc).__name__


@dataclass(frozen=True)
class _EpisodeRef:
    """Where one episode lies: its data rows and its frames.

    Attributes:
        index: the episode's `episode_index`.
        length: its number of frames `n` (metadata).
        data_file: the parquet holding its rows (among others in v3.0).
        video_file: the mp4 holding its frames (None: the camera is an image column).
        from_s: time of its first frame in `video_file`, seconds.
        to_s: time just past its last frame, seconds.
    """

    index: int
    length: int
    data_file: Path
    video_file: Path | None
    from_s: float
    to_s: float


class LeRobotReader:
    """An open LeRobot dataset folder; see the module docstring for the layouts it reads."""

    format = "lerobot"

    def __init__(self, path: Path, options: ImportOptions) -> None:
        _pyarrow()
        self.path = Path(path)
        self.info = _load_info(self.path)
        self.version = str(self.info["codebase_version"])
        self.fps = _fps(self.info, self.path / "meta" / "info.json")
        self.features: dict[str, Any] = self.info["features"]
        self._choose_keys(options)
        if self.camera_dtype == "video":
            _av()  # missing PyAV is said at opening, not at the first episode
        refs = self._episodes_v3() if self.version == "v3.0" else self._episodes_v21()
        keep = [ref for ref in refs if ref.length >= 2]  # one frame is no transition
        if options.max_episodes is not None:
            keep = keep[: options.max_episodes]
        if not keep:
            raise DatasetError(f"{self.path}: no episode has two frames or more")
        self.refs = keep
        self.episodes_in_dataset = len(refs)
        self._cache: tuple[tuple[Path, tuple[str, ...]], dict[str, np.ndarray]] | None = None

    # --- keys -----------------------------------------------------------------------------

    def _choose_keys(self, options: ImportOptions) -> None:
        """Pick the camera, action and state features; refuse unknown ones, listing the rest."""
        info_file = self.path / "meta" / "info.json"
        cameras = [k for k, f in self.features.items() if _dtype(f) in CAMERA_DTYPES]
        if options.camera is not None:
            if options.camera not in cameras:
                raise DatasetError(
                    f"{info_file}: no camera {options.camera!r} (cameras: {_listed(cameras)})"
                )
            self.camera = options.camera
        elif len(cameras) == 1:
            self.camera = cameras[0]
        else:
            which = "no camera" if not cameras else f"several cameras ({_listed(cameras)})"
            raise DatasetError(f"{info_file}: {which}; name one with the camera option")
        self.camera_dtype = _dtype(self.features[self.camera])
        if self.camera_dtype == "video" and "video_path" not in self.info:
            raise DatasetError(f"{info_file}: no 'video_path' key for the video {self.camera!r}")
        numeric = [
            k for k, f in self.features.items() if _dtype(f) not in (*CAMERA_DTYPES, "string")
        ]
        self.action_key = options.action_key or "action"
        if self.action_key not in numeric:
            raise DatasetError(
                f"{info_file}: no action feature {self.action_key!r} (features: {_listed(numeric)})"
            )
        if options.state_key is None:
            self.state_key = DEFAULT_STATE_KEY if DEFAULT_STATE_KEY in numeric else ""
        else:
            self.state_key = options.state_key
            if self.state_key and self.state_key not in numeric:
                raise DatasetError(
                    f"{info_file}: no state feature {self.state_key!r} "
                    f"(features: {_listed(numeric)})"
                )

    # --- episode index --------------------------------------------------------------------

    def _episodes_v3(self) -> list[_EpisodeRef]:
        """The episodes listed in `meta/episodes/chunk-*/file-*.parquet`, by `episode_index`."""
        files = sorted((self.path / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
        if not files:
            raise DatasetError(f"{self.path}: no meta/episodes/chunk-*/file-*.parquet")
        video = f"videos/{self.camera}/"
        needed = ["episode_index", "length", "data/chunk_index", "data/file_index"]
        needed += ["dataset_from_index", "dataset_to_index"]
        if self.camera_dtype == "video":
            needed += [video + c for c in ("chunk_index", "file_index")]
            needed += [video + c for c in ("from_timestamp", "to_timestamp")]
        rows: list[dict[str, Any]] = []
        for file in files:
            table = _read_parquet(file, needed)
            rows.extend(table.to_pylist())
        refs = []
        for row in sorted(rows, key=lambda r: int(r["episode_index"])):
            refs.append(self._ref_v3(row, files[0].parent.parent))
        return refs

    def _ref_v3(self, row: dict[str, Any], where: Path) -> _EpisodeRef:
        """One v3.0 episode row as an `_EpisodeRef`; its lengths must agree."""
        index, length = int(row["episode_index"]), int(row["length"])
        span = int(row["dataset_to_index"]) - int(row["dataset_from_index"])
        if span != length:
            raise DatasetError(
                f"{where}: episode {index} has length {length} but dataset indices "
                f"{row['dataset_from_index']}..{row['dataset_to_index']} ({span} frames)"
            )
        data = self.info["data_path"].format(
            chunk_index=int(row["data/chunk_index"]), file_index=int(row["data/file_index"])
        )
        if self.camera_dtype != "video":
            return _EpisodeRef(index, length, self.path / data, None, 0.0, 0.0)
        video = f"videos/{self.camera}/"
        mp4 = self.info["video_path"].format(
            video_key=self.camera,
            chunk_index=int(row[video + "chunk_index"]),
            file_index=int(row[video + "file_index"]),
        )
        from_s, to_s = float(row[video + "from_timestamp"]), float(row[video + "to_timestamp"])
        if abs((to_s - from_s) * self.fps - length) > 0.5:
            raise DatasetError(
                f"{where}: episode {index} has length {length} but its video spans "
                f"{from_s:.3f}..{to_s:.3f} s ({(to_s - from_s) * self.fps:.1f} frames at "
                f"{self.fps:g} fps)"
            )
        return _EpisodeRef(index, length, self.path / data, self.path / mp4, from_s, to_s)

    def _episodes_v21(self) -> list[_EpisodeRef]:
        """The episodes listed in `meta/episodes.jsonl`, one parquet and one mp4 each."""
        listing = self.path / "meta" / "episodes.jsonl"
        info_file = self.path / "meta" / "info.json"
        if "chunks_size" not in self.info:
            raise DatasetError(f"{info_file}: no 'chunks_size' key (needed by v2.1)")
        chunks = int(self.info["chunks_size"])
        refs = []
        for number, row in enumerate(_jsonl(listing), start=1):
            try:
                index, length = int(row["episode_index"]), int(row["length"])
            except (KeyError, TypeError, ValueError):
                raise DatasetError(
                    f"{listing}: line {number} lacks an integer episode_index and length"
                ) from None
            keys = {"episode_chunk": index // chunks, "episode_index": index}
            data = self.path / self.info["data_path"].format(**keys)
            mp4 = None
            if self.camera_dtype == "video":
                mp4 = self.path / self.info["video_path"].format(video_key=self.camera, **keys)
            refs.append(_EpisodeRef(index, length, data, mp4, 0.0, length / self.fps))
        return sorted(refs, key=lambda ref: ref.index)

    # --- the protocol ---------------------------------------------------------------------

    @property
    def num_episodes(self) -> int:
        """Episodes to import (those of two frames or more, up to `max_episodes`)."""
        return len(self.refs)

    def action_scaling(self) -> ActionScaling:
        """`meta/stats.json`'s min and max of the actions, else those of all the actions.

        Either way, actions that all lie in [-1, 1] are kept as they are (`ActionScaling.unit`).
        """
        stated = self._stated_bounds()
        if stated is not None:
            low, high = stated
            if low.min() >= -1.0 and high.max() <= 1.0:
                return ActionScaling.unit(low.size)
            return ActionScaling(tuple(low.tolist()), tuple(high.tolist()), source="stated")
        actions = [self._rows(ref, ("actions",))["actions"] for ref in self.refs]
        self._cache = None
        return ActionScaling.for_actions(np.concatenate(actions))

    def _stated_bounds(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The action feature's min and max from `meta/stats.json`, where it states them."""
        stats_file = self.path / "meta" / "stats.json"
        if not stats_file.is_file():
            return None
        try:
            stats = json.loads(stats_file.read_text(encoding="utf-8"))
            entry = stats[self.action_key]
            low = np.asarray(entry["min"], dtype=np.float64).reshape(-1)
            high = np.asarray(entry["max"], dtype=np.float64).reshape(-1)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # no usable bounds there: they are measured instead
        size = _feature_size(self.features[self.action_key])
        if low.size != size or high.size != size or not np.isfinite([low, high]).all():
            return None
        if (high < low).any():
            return None
        return low, high

    def episodes(self) -> Iterator[RawEpisode]:
        """The selected episodes, in `episode_index` order, one at a time."""
        for ref in self.refs:
            rows = self._rows(ref)
            pixels = self._pixels(ref, rows)
            yield RawEpisode(pixels, rows["actions"], rows["states"], ref.index)

    def _rows(self, ref: _EpisodeRef, wanted: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
        """The episode's actions `[n - 1, A]`, states `[n, S]` and images from its parquet.

        Args:
            ref: the episode.
            wanted: of `actions`, `states`, `images`, those to read (empty: all the reader uses).

        Raises:
            DatasetError: the parquet is damaged, holds another number of rows for the episode
                than its metadata says, or an action is NaN or infinite.
        """
        columns = self._data_columns(ref.data_file, wanted or self._used())
        selected = np.flatnonzero(columns["episode_index"] == ref.index)
        order = selected[np.argsort(columns["frame_index"][selected], kind="stable")]
        if order.size != ref.length:
            raise DatasetError(
                f"{ref.data_file}: episode {ref.index} has {order.size} rows, its metadata says "
                f"{ref.length} frames"
            )
        out = {name: columns[name][order] for name in wanted or self._used()}
        if "states" not in out:
            out["states"] = np.zeros((order.size, 0))
        actions = out["actions"] = out["actions"][:-1]  # the last leads out of the episode
        if not np.isfinite(actions).all():
            row = int(np.argwhere(~np.isfinite(actions))[0][0])
            raise DatasetError(
                f"{ref.data_file}: episode {ref.index}: action at frame {row} is NaN or infinite"
            )
        return out

    def _used(self) -> tuple[str, ...]:
        """The columns an episode is read from: actions, and states and images where read."""
        used = ("actions", "states") if self.state_key else ("actions",)
        return (*used, "images") if self.camera_dtype == "image" else used

    def _data_columns(self, file: Path, wanted: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The `wanted` columns of data parquet `file` and its episode and frame indices.

        The last file read is kept, so consecutive episodes of one file read it once.
        """
        if self._cache is not None and self._cache[0] == (file, wanted):
            return self._cache[1]
        keys = {"episode_index": "episode_index", "frame_index": "frame_index"}
        named = {"actions": self.action_key, "states": self.state_key, "images": self.camera}
        keys.update({name: named[name] for name in wanted})
        table = _read_parquet(file, sorted(set(keys.values())))
        columns: dict[str, np.ndarray] = {}
        for name, key in keys.items():
            if name == "images":
                columns[name] = _image_bytes(table.column(key), file, key)
            elif name in ("actions", "states"):
                columns[name] = _matrix(table.column(key), file, key)
            else:
                columns[name] = _matrix(table.column(key), file, key)[:, 0].astype(np.int64)
        self._cache = ((file, wanted), columns)
        return columns

    def _pixels(self, ref: _EpisodeRef, rows: dict[str, np.ndarray]) -> np.ndarray:
        """The episode's frames, uint8 `[n, h, w, 3]`, as many as its metadata says."""
        if ref.video_file is None:
            return _decode_images(rows["images"], ref.data_file, ref.index)
        frames = _decode(ref.video_file, ref.from_s, ref.length, self.fps, stop_s=ref.to_s)
        if len(frames) != ref.length:
            what = "truncated video" if len(frames) < ref.length else "video holds more frames"
            raise DatasetError(
                f"{ref.video_file}: {what}: episode {ref.index} has {len(frames)} frames in "
                f"{ref.from_s:.3f}..{ref.to_s:.3f} s, its metadata says {ref.length}"
            )
        return np.stack(frames)

    def describe(self) -> dict[str, Any]:
        """The LeRobot version, keys read, frame rate and episodes found."""
        return {
            "codebase_version": self.version,
            "camera": self.camera,
            "action_key": self.action_key,
            "state_key": self.state_key,
            "fps": self.fps,
            "episodes_in_dataset": self.episodes_in_dataset,
        }

    def close(self) -> None:
        """Drop the data file kept in memory (no file stays open between episodes)."""
        self._cache = None


# --- reading the files -----------------------------------------------------------------------


def _load_info(path: Path) -> dict[str, Any]:
    """`meta/info.json` of the dataset folder `path`, checked for the keys read.

    Raises:
        DatasetError: it is missing, not JSON, lacks a key, or names an unknown version.
    """
    info_file = path / "meta" / "info.json"
    if not info_file.is_file():
        raise DatasetError(f"{info_file}: not found; {path} is not a LeRobot dataset folder")
    try:
        info = json.loads(info_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{info_file}: not readable JSON ({_one_line(exc)})") from None
    if not isinstance(info, dict):
        raise DatasetError(f"{info_file}: not a JSON object")
    for key in INFO_KEYS:
        if key not in info:
            raise DatasetError(f"{info_file}: no '{key}' key")
    if info["codebase_version"] not in VERSIONS:
        raise DatasetError(
            f"{info_file}: codebase_version {info['codebase_version']!r} is not one ami reads "
            f"({', '.join(VERSIONS)})"
        )
    if not isinstance(info["features"], dict):
        raise DatasetError(f"{info_file}: 'features' is not an object")
    return info


def _fps(info: dict[str, Any], info_file: Path) -> float:
    """The dataset's frame rate, checked positive."""
    try:
        fps = float(info["fps"])
    except (TypeError, ValueError):
        fps = math.nan
    if not fps > 0 or not math.isfinite(fps):
        raise DatasetError(f"{info_file}: 'fps' must be a positive number, got {info['fps']!r}")
    return fps


def _dtype(feature: Any) -> str:
    """A feature's `dtype` ('' where it has none)."""
    return str(feature.get("dtype", "")) if isinstance(feature, dict) else ""


def _feature_size(feature: dict[str, Any]) -> int:
    """The number of values in one row of a feature (its shape's product)."""
    return int(np.prod(feature.get("shape") or [1]))


def _listed(keys: list[str]) -> str:
    """Keys as a comma-separated list ('none' for none)."""
    return ", ".join(keys) if keys else "none"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of the lines of `path`.

    Raises:
        DatasetError: the file is missing or a line is not a JSON object.
    """
    if not path.is_file():
        raise DatasetError(f"{path}: not found")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise DatasetError(f"{path}: line {number} is not JSON ({_one_line(exc)})") from None
        if not isinstance(row, dict):
            raise DatasetError(f"{path}: line {number} is not a JSON object")
        rows.append(row)
    return rows


def _read_parquet(file: Path, columns: list[str]) -> Any:
    """The `columns` of the parquet `file` as a pyarrow table.

    Raises:
        DatasetError: the file is missing, truncated or corrupt, or lacks a column.
    """
    pa, pq, _ = _pyarrow()
    if not file.is_file():
        raise DatasetError(f"{file}: not found")
    try:
        schema = pq.read_schema(file)
        missing = [c for c in columns if c not in schema.names]
        if missing:
            raise DatasetError(
                f"{file}: no column {', '.join(missing)} (columns: {_listed(schema.names)})"
            )
        return pq.read_table(file, columns=columns)
    except DatasetError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DatasetError(f"{file}: unreadable parquet ({_one_line(exc)})") from None


def _matrix(column: Any, file: Path, key: str) -> np.ndarray:
    """A numeric parquet column (scalars or lists of one length) as float64 `[rows, d]`.

    Raises:
        DatasetError: rows are null, of different lengths, or not numeric.
    """
    pa, _, pc = _pyarrow()
    rows = len(column)
    try:
        array = column.combine_chunks() if hasattr(column, "combine_chunks") else column
        if array.null_count:
            raise DatasetError(f"{file}: column {key!r} has {array.null_count} null rows")
        if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
            lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
            if rows and (lengths != lengths[0]).any():
                raise DatasetError(f"{file}: column {key!r} has rows of different lengths")
        nested = pa.types.is_fixed_size_list(array.type) or pa.types.is_list(array.type)
        nested = nested or pa.types.is_large_list(array.type)
        values = (array.flatten() if nested else array).to_numpy(zero_copy_only=False)
        return np.asarray(values, dtype=np.float64).reshape(rows, -1)
    except DatasetError:
        raise
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise DatasetError(f"{file}: column {key!r} is not numeric ({_one_line(exc)})") from None


def _image_bytes(column: Any, file: Path, key: str) -> np.ndarray:
    """The encoded images of an `image` column (structs of `bytes`, `path`) as an object array."""
    pa, _, _ = _pyarrow()
    try:
        array = column.combine_chunks()
        if pa.types.is_struct(array.type):
            array = array.field("bytes")
        values = array.to_pylist()
    except (pa.ArrowException, KeyError, ValueError, TypeError) as exc:
        raise DatasetError(
            f"{file}: column {key!r} holds no image bytes ({_one_line(exc)})"
        ) from None
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _decode_images(encoded: np.ndarray, file: Path, index: int) -> np.ndarray:
    """PNG or JPEG bytes `[n]` as uint8 RGB frames `[n, h, w, 3]` (decoded with Pillow).

    Raises:
        DatasetError: an image is missing or cannot be decoded (names the frame).
        DependencyMissingError: Pillow is not installed.
    """
    try:
        from PIL import Image
    except ImportError as exc:
        raise DependencyMissingError(f"decoding LeRobot images needs Pillow ({exc})") from None
    frames = []
    for frame, data in enumerate(encoded):
        if not data:
            raise DatasetError(f"{file}: episode {index} frame {frame}: no image bytes")
        try:
            with Image.open(io.BytesIO(data)) as image:
                frames.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
        except (OSError, ValueError) as exc:
            raise DatasetError(
                f"{file}: episode {index} frame {frame}: undecodable image ({_one_line(exc)})"
            ) from None
    if len({f.shape for f in frames}) > 1:
        raise DatasetError(f"{file}: episode {index}: images of different sizes")
    return np.stack(frames)
