"""OGBench's `.npz` datasets (`visual-cube-single-play-v0.npz`, `visual-antmaze-...`, ...).

Layout of the file as OGBench ships it (before its `load_dataset` builds transitions):
`observations [N, 64, 64, 3] uint8` (the `visual-*` datasets; the state-based ones hold float
vectors, which ami cannot learn from pixels), `actions [N, A]` float32, `terminals [N]`, 1 at the
last row of each trajectory, and for the manipulation and locomotion tasks `qpos [N, Q]` and
`qvel [N, V]`. The frames are streamed from the archive in order (never loaded whole: the
visual datasets hold millions of frames); the other columns are small and read at once. Row
`t` is the observation seen at step `t` and the action taken there; a
trajectory's last row (terminal) has no next observation, so its action is dropped, exactly as
OGBench's loader masks it out. The state is `qpos` then `qvel`, where present.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ami.errors import DatasetError
from ami.experience.sources.common import ActionScaling, ImportOptions, RawEpisode


class _NpyRows:
    """Rows of one `.npy` member of a zip archive, read in order without loading the array."""

    def __init__(self, archive: zipfile.ZipFile, name: str) -> None:
        self._stream = archive.open(name)
        version = np.lib.format.read_magic(self._stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(self._stream)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(self._stream)
        if fortran:
            raise ValueError("stored in Fortran order")
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self._next = 0

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows `start:stop`, where `start` is at or after the last row read."""
        if start < self._next:
            raise ValueError(f"rows must be read in order ({start} after {self._next})")
        if start > self._next:
            self._skip((start - self._next) * self._row_bytes)
        data = self._stream.read((stop - start) * self._row_bytes)
        if len(data) != (stop - start) * self._row_bytes:
            raise EOFError(f"the archive ends inside row {start + len(data) // self._row_bytes}")
        self._next = stop
        return np.frombuffer(data, self.dtype).reshape((stop - start, *self.shape[1:]))

    def _skip(self, count: int) -> None:
        while count > 0:
            count -= len(self._stream.read(min(count, 1 << 24)))

    def close(self) -> None:
        self._stream.close()


class OgbenchReader:
    """An open OGBench `.npz` file; see the module docstring."""

    format = "ogbench"

    def __init__(self, path: Path, options: ImportOptions) -> None:
        self.path = path
        self._frames: _NpyRows | None = None
        try:
            self._npz = np.load(path, allow_pickle=False)
            self._archive = zipfile.ZipFile(path)
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise DatasetError(f"not a readable .npz file ({exc}): {path}") from None
        try:
            self._check(options)
        except BaseException:
            self.close()
            raise

    def _column(self, key: str) -> np.ndarray:
        try:
            return self._npz[key]
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise DatasetError(f"{self.path}: column '{key}' cannot be read ({exc})") from None

    def _check(self, options: ImportOptions) -> None:
        path, keys = self.path, set(self._npz.files)
        self.pixels_key = options.camera or "observations"
        self.action_key = options.action_key or "actions"
        for key in (self.pixels_key, self.action_key, "terminals"):
            if key not in keys:
                raise DatasetError(
                    f"{path}: no '{key}' array (it has: {', '.join(sorted(keys))}); not an "
                    "OGBench dataset"
                )
        frames = self._open_frames()
        if frames.dtype != np.uint8 or len(frames.shape) != 4 or frames.shape[-1] != 3:
            raise DatasetError(
                f"{path}: '{self.pixels_key}' is {frames.dtype} {list(frames.shape)}, not frames "
                "(uint8 [N, H, W, 3]); ami learns from pixels: use the visual-* dataset of this "
                "task"
            )
        rows = frames.shape[0]
        self.actions = np.asarray(self._column(self.action_key), dtype=np.float64)
        terminals = np.asarray(self._column("terminals")).reshape(-1)
        if self.actions.ndim != 2 or self.actions.shape[0] != rows or terminals.shape[0] != rows:
            raise DatasetError(
                f"{path}: '{self.action_key}' {list(self.actions.shape)} and 'terminals' "
                f"{list(terminals.shape)} must have the {rows} rows of '{self.pixels_key}'"
            )
        if options.state_key is None:
            self.state_keys = [key for key in ("qpos", "qvel") if key in keys]
        else:
            self.state_keys = [key for key in options.state_key.split(",") if key]
        self.states = [np.asarray(self._column(key), dtype=np.float64) for key in self.state_keys]
        for key, states in zip(self.state_keys, self.states, strict=True):
            if states.shape[0] != rows:
                raise DatasetError(f"{path}: '{key}' has {states.shape[0]} rows, not {rows}")
        ends = np.flatnonzero(terminals > 0)
        if ends.size == 0 or ends[-1] != rows - 1:
            ends = np.append(ends, rows - 1)  # a last trajectory without its terminal flag
        starts = np.concatenate([[0], ends[:-1] + 1])
        keep = ends - starts >= 1
        if options.max_episodes is not None:
            keep &= np.cumsum(keep) <= options.max_episodes
        self.starts, self.ends = starts[keep], ends[keep]
        if self.starts.size == 0:
            raise DatasetError(f"{path}: no trajectory has two steps or more")

    def _open_frames(self) -> _NpyRows:
        """A fresh in-order reader of the frames' member."""
        if self._frames is not None:
            self._frames.close()
        try:
            self._frames = _NpyRows(self._archive, f"{self.pixels_key}.npy")
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            raise DatasetError(f"{self.path}: '{self.pixels_key}' cannot be read ({exc})") from None
        return self._frames

    @property
    def num_episodes(self) -> int:
        """Trajectories to import."""
        return int(self.starts.size)

    def action_scaling(self) -> ActionScaling:
        """[-1, 1] kept where every action lies in it (OGBench's envs), else measured bounds."""
        rows = np.concatenate(
            [np.arange(s, e) for s, e in zip(self.starts, self.ends, strict=True)]
        )
        actions = self.actions[rows]
        return ActionScaling.for_actions(actions[np.isfinite(actions).all(axis=1)])

    def episodes(self) -> Iterator[RawEpisode]:
        """The trajectories in file order (frames streamed from the archive)."""
        frames_of = self._open_frames()
        for index, (start, end) in enumerate(zip(self.starts, self.ends, strict=True)):
            frames = slice(int(start), int(end) + 1)
            if self.states:
                states = np.concatenate(
                    [s[frames].reshape(end + 1 - start, -1) for s in self.states], 1
                )
            else:
                states = np.zeros((end + 1 - start, 0))
            actions = self.actions[int(start) : int(end)]
            try:
                pixels = frames_of.read(int(start), int(end) + 1)
            except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
                raise DatasetError(
                    f"{self.path}: '{self.pixels_key}' rows {start}..{end} cannot be read ({exc})"
                ) from None
            yield RawEpisode(pixels, actions, states, index)

    def describe(self) -> dict[str, Any]:
        """The arrays read and the trajectories found."""
        return {
            "pixels_key": self.pixels_key,
            "action_key": self.action_key,
            "state_keys": self.state_keys,
            "trajectories": int(self.starts.size),
        }

    def close(self) -> None:
        """Close the file."""
        if self._frames is not None:
            self._frames.close()
        for handle in ("_archive", "_npz"):
            if hasattr(self, handle):
                getattr(self, handle).close()
