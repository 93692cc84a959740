"""The on-disk experience format: one HDF5 file of frames, actions and states, written atomically.

Layout (`F` frames in all, `E` episodes, `A` action dim, `S` state dim, images `h x w`):

- `pixels [F, h, w, 3] uint8`, chunked by 64 frames, gzip level 1: on TwoRoom-like 64x64 frames it
  read about twice as fast as LZF (~1.5 GB/s against ~0.85 GB/s) and made files half the size.
- `actions [F, A] float32`: row `f` is the action taken at frame `f`, leading to frame `f + 1`.
  Frames and actions share one index, so an episode's last frame has an action row of zeros
  that no window ever uses.
- `states [F, S] float32`, `episode_starts [E] int64`, `episode_lengths [E] int64` (frames).
- attributes `format_version`, `world`, `action_dim`, `state_dim`, `image_size`, `meta_json`, and
  `complete`, which is written last: a file without it is refused.

Writing streams episodes into resizable datasets (whole chunks at a time), into a temporary file in
the target's folder that is flushed, fsync'ed and renamed onto the target only once complete. It
replaces only an ami dataset (never a folder or another file), and a failed write (disk full) is
one `DatasetError` line, the temporary file removed. Loading refuses pixels that are not uint8,
non-numeric columns and NaN or infinite actions or states.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ami.config import format_bytes, machine_memory
from ami.errors import ConfigError, DatasetError, ShapeError
from ami.experience._hdf5 import (
    CHUNK_FRAMES,
    ChunkedWriter,
    GuardedFile,
    check_file,
    first_non_finite,
)
from ami.files import atomic_path, write_failure
from ami.progress import progress_bar


@dataclass(frozen=True)
class Episode:
    """One recorded episode of `L` steps.

    Attributes:
        pixels: uint8 `[L + 1, h, w, 3]`, the frames seen, first to last.
        actions: float32 `[L, A]`, action `t` leads from frame `t` to frame `t + 1`.
        states: float32 `[L + 1, S]`, the true state at each frame (for evaluation only).
    """

    pixels: np.ndarray
    actions: np.ndarray
    states: np.ndarray

    def __post_init__(self) -> None:
        pixels, actions, states = (np.asarray(x) for x in (self.pixels, self.actions, self.states))
        object.__setattr__(self, "pixels", pixels)
        if pixels.dtype != np.uint8 or pixels.ndim != 4 or pixels.shape[-1] != 3:
            raise ShapeError(
                f"Episode.pixels must be uint8 [L+1, h, w, 3], got "
                f"{pixels.dtype} {list(pixels.shape)}"
            )
        if pixels.shape[0] < 1:
            raise ShapeError("Episode.pixels must hold at least one frame")
        steps = pixels.shape[0] - 1
        if actions.ndim != 2 or actions.shape[0] != steps:
            raise ShapeError(f"Episode.actions must be [L={steps}, A], got {list(actions.shape)}")
        if states.ndim != 2 or states.shape[0] != steps + 1:
            raise ShapeError(
                f"Episode.states must be [L+1={steps + 1}, S], got {list(states.shape)}"
            )
        object.__setattr__(self, "actions", np.asarray(actions, dtype=np.float32))
        object.__setattr__(self, "states", np.asarray(states, dtype=np.float32))

    @property
    def length(self) -> int:
        """Number of steps `L` (one fewer than the frames)."""
        return int(self.actions.shape[0])


def write_dataset(
    path: str | os.PathLike[str],
    episodes: Iterable[Episode],
    meta: dict[str, Any],
    progress: bool = False,
) -> Path:
    """Stream `episodes` into a new dataset file at `path`, atomically.

    Args:
        path: the target file; its folder is created if missing; an existing ami dataset there
            is replaced only once the new one is complete, and any other file is refused.
        episodes: consumed one at a time; all must share image size, `A` and `S`.
        meta: JSON-serialisable dict; `meta["world"]` (a str) names the world.
        progress: show a progress bar over the episodes written.

    Returns:
        The path written.

    Raises:
        ConfigError: `meta` is not JSON-serialisable or lacks a string `world`.
        ShapeError: an episode does not match the first one's shapes or its frames are not square.
        DatasetError: `episodes` is empty, `path` is a folder or a file that is not an ami
            dataset, or writing failed (disk full, ...; the temporary file is removed).
        FileWriteError: the folder cannot be made, or syncing or renaming the file failed.
    """
    path = Path(path)
    world = meta.get("world") if isinstance(meta, dict) else None
    if not isinstance(world, str) or not world:
        raise ConfigError("write_dataset: meta must hold the world name as meta['world'] (str)")
    try:
        meta_json = json.dumps(meta, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"write_dataset: meta is not JSON-serialisable: {exc}") from exc
    check_target(path)
    with atomic_path(path) as tmp:
        try:
            _write_file(tmp, episodes, world, meta_json, progress)
        except OSError as exc:
            raise DatasetError(write_failure(path, exc)) from exc
    return path


def _write_file(
    tmp: Path, episodes: Iterable[Episode], world: str, meta_json: str, progress: bool
) -> None:
    """Write the dataset file `tmp`; a failed write (e.g. disk full) is raised as its `OSError`."""
    with GuardedFile(tmp) as sink:
        try:
            with h5py.File(sink, "w") as file:
                writer = ChunkedWriter(file)
                with progress_bar(progress, "writing episodes", total=None) as advance:
                    for episode in episodes:
                        writer.add(episode)
                        sink.check()
                        advance(1)
                writer.finish(world=world, meta_json=meta_json)
        except (OSError, RuntimeError):
            sink.check()  # HDF5 tripping over a dropped write: the write is the cause
            raise
        sink.check()


def check_target(path: Path) -> None:
    """Refuse to write a dataset onto a folder or onto a file that is not an ami dataset.

    Raises:
        DatasetError: `path` is a folder, or an existing file that is not an ami dataset.
    """
    if path.is_dir():
        raise DatasetError(f"{path} is a folder; give the dataset's file path, e.g. {path}/data.h5")
    if path.exists() and not is_ami_dataset(path):
        raise DatasetError(
            f"{path} exists and is not an ami dataset; refusing to replace it (move it away or "
            "choose another path)"
        )


def is_ami_dataset(path: Path) -> bool:
    """Whether `path` is an HDF5 file written by ami (it has the format version and world)."""
    try:
        with h5py.File(path, "r") as file:
            return "format_version" in file.attrs and "world" in file.attrs
    except OSError:  # not HDF5, unreadable, or locked
        return False


class ExperienceDataset:
    """A read-only view of a complete dataset file; use `ExperienceDataset.open(path)`.

    Holds the file open until `close()` (or the end of a `with` block); the episode index and
    attributes are read and checked at opening.
    """

    def __init__(self, path: Path, file: h5py.File) -> None:
        self.path = path
        self._file = file
        attrs = file.attrs
        self.world = str(attrs["world"])
        self.action_dim = int(attrs["action_dim"])
        self.state_dim = int(attrs["state_dim"])
        self.image_size = int(attrs["image_size"])
        self._meta_json = str(attrs["meta_json"])
        self.episode_starts: np.ndarray = file["episode_starts"][()].astype(np.int64)
        self.episode_lengths: np.ndarray = file["episode_lengths"][()].astype(np.int64)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> ExperienceDataset:
        """Open and check the dataset at `path`.

        Raises:
            DatasetError: the file is missing, not HDF5, truncated, unfinished, from a newer
                format, or its arrays and index do not agree.
        """
        path = Path(path)
        if not path.is_file():
            raise DatasetError(f"dataset not found: {path}")
        try:
            file = h5py.File(path, "r")
        except OSError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DatasetError(f"not a readable HDF5 dataset ({reason}): {path}") from exc
        try:
            check_file(file)
            return cls(path, file)
        except (DatasetError, OSError, KeyError, ValueError, TypeError, IndexError) as exc:
            file.close()
            if isinstance(exc, DatasetError):
                raise DatasetError(f"{exc}: {path}") from None
            raise DatasetError(f"corrupt dataset ({exc}): {path}") from exc

    @property
    def num_episodes(self) -> int:
        """Number of episodes `E`."""
        return int(self.episode_starts.shape[0])

    @property
    def num_frames(self) -> int:
        """Number of frames `F` over all episodes."""
        return int(self._file["pixels"].shape[0])

    @property
    def meta(self) -> dict[str, Any]:
        """The meta dict given at writing (a fresh copy)."""
        return json.loads(self._meta_json)

    def episode(self, index: int) -> Episode:
        """Episode `index` (0-based; negative counts from the end) read from disk."""
        if not -self.num_episodes <= index < self.num_episodes:
            raise DatasetError(f"episode {index} out of range; the dataset has {self.num_episodes}")
        start, length = int(self.episode_starts[index]), int(self.episode_lengths[index])
        f = self._file
        actions = self._finite("actions", f["actions"][start : start + length - 1], start)
        states = self._finite("states", f["states"][start : start + length], start)
        return Episode(pixels=f["pixels"][start : start + length], actions=actions, states=states)

    @property
    def frame_bytes(self) -> int:
        """Bytes of all the frames, decoded (`F h w 3`)."""
        return int(self._file["pixels"].size)

    def load_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """Actions float32 `[F, A]` and states float32 `[F, S]`, without the frames.

        Raises:
            DatasetError: the file cannot be read, or an action or state is NaN or infinite.
        """
        f, memory = self._file, machine_memory()
        columns = (f["actions"].size + f["states"].size) * 4
        if memory is not None and columns > memory:  # refused before allocating them
            raise DatasetError(
                f"dataset {self.path} holds {self.num_frames} frames whose actions and states "
                f"({format_bytes(columns)}) are more than this machine's {format_bytes(memory)} "
                "of memory can load"
            )
        try:
            actions = self._finite("actions", f["actions"][()])
            states = self._finite("states", f["states"][()])
        except OSError as exc:
            raise DatasetError(f"corrupt dataset ({exc}): {self.path}") from exc
        return actions, states

    def load_arrays(self, progress: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Read every frame into memory, sequentially by chunks.

        Returns:
            pixels uint8 `[F, h, w, 3]`, actions float32 `[F, A]` (zeros at episode ends) and
            states float32 `[F, S]`.

        Raises:
            DatasetError: the file cannot be read, its frames alone exceed this machine's memory
                (refused before allocating), or an action or state is NaN or infinite (the
                message names the column, the first bad row and its episode).
        """
        f = self._file
        source = f["pixels"]
        memory = machine_memory()
        if memory is not None and source.size > memory:  # refused before allocating them
            raise DatasetError(
                f"dataset {self.path} holds {self.num_frames} frames "
                f"({format_bytes(source.size)}), more than this machine's {format_bytes(memory)} "
                "of memory can load"
            )
        pixels = np.empty(source.shape, np.uint8)
        step = CHUNK_FRAMES  # one chunk at a time read fastest
        try:
            with progress_bar(progress, "loading frames", total=self.num_frames) as advance:
                for lo in range(0, self.num_frames, step):
                    hi = min(lo + step, self.num_frames)
                    source.read_direct(pixels, np.s_[lo:hi], np.s_[lo:hi])
                    advance(hi - lo)
            actions = self._finite("actions", f["actions"][()])
            states = self._finite("states", f["states"][()])
        except OSError as exc:
            raise DatasetError(f"corrupt dataset ({exc}): {self.path}") from exc
        return pixels, actions, states

    def _finite(self, name: str, values: np.ndarray, first_row: int = 0) -> np.ndarray:
        """`values` `[N, X]` (rows `first_row...` of column `name`) as float32, all finite.

        Raises:
            DatasetError: a value is NaN or infinite (or too large for float32).
        """
        with np.errstate(over="ignore"):
            values = np.asarray(values, dtype=np.float32)
        bad = first_non_finite(values)
        if bad is None:
            return values
        row = first_row + bad
        inside = np.flatnonzero(
            (self.episode_starts <= row) & (row < self.episode_starts + self.episode_lengths)
        )
        where = f"episode {int(inside[0])}" if inside.size else "outside every episode"
        column = int(np.argmax(~np.isfinite(values[bad])))
        raise DatasetError(
            f"dataset {self.path}: '{name}' row {row} ({where}) column {column} is "
            f"{values[bad, column]}; ami does not train on NaN or infinity (repair or recollect)"
        )

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> ExperienceDataset:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"ExperienceDataset({str(self.path)!r}, world={self.world!r}, "
            f"episodes={self.num_episodes}, frames={self.num_frames})"
        )
