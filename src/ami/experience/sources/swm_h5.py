"""stable-worldmodel's (and LeWM's) HDF5 datasets: one file of per-step columns plus an index.

The layout its `HDF5Writer` writes and every LeWM follow-up trains on (`tworoom.h5`,
`pusht_expert_train.h5`, ...): datasets of `N` rows, one per recorded step, `pixels [N, H, W, 3]`
(or `[N, 3, H, W]`) uint8, `action [N, A]`, optional `proprio`, `state`, `reward`, ... and the
episode index `ep_len [E]`, `ep_offset [E]` (first row of each episode). Row `t` holds the frame
seen at step `t` and the action taken there (swm's windows pair frames `t..t+n` with actions
`t..t+n-1`), so an episode of `n` rows is `n` frames and the `n - 1` actions between them; its
last action leads out of the episode and is dropped. An episode whose first action row is NaN
(a reset row, where no action was taken) is read the other way: row `t`'s action led into
frame `t`, so the actions between its frames are rows `1..n-1`. A NaN action anywhere else is
an error naming the episode.

Files written with an HDF5 compression plugin (Blosc, LZ4...) need the `hdf5plugin` package,
imported here when it is installed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ami.errors import DatasetError
from ami.experience.sources.common import ActionScaling, ImportOptions, RawEpisode

with contextlib.suppress(ImportError):  # registers the compression filters swm's files may use
    import hdf5plugin  # noqa: F401

INDEX_KEYS = ("ep_len", "ep_offset")
STATE_KEYS = ("state", "proprio")  # the first present is the default state column


def is_swm_h5(path: Path) -> bool:
    """Whether `path` is an HDF5 file with swm's episode index (`ep_len`, `ep_offset`)."""
    try:
        with h5py.File(path, "r") as file:
            return all(key in file for key in INDEX_KEYS)
    except OSError:
        return False


class SwmH5Reader:
    """An open swm / LeWM HDF5 file; see the module docstring for the layout it reads."""

    format = "swm-h5"

    def __init__(self, path: Path, options: ImportOptions) -> None:
        self.path = path
        try:
            self._file = h5py.File(path, "r")
        except OSError as exc:
            raise DatasetError(f"not a readable HDF5 file ({exc}): {path}") from None
        try:
            self._check(options)
        except BaseException:
            self._file.close()
            raise

    def _check(self, options: ImportOptions) -> None:
        file, path = self._file, self.path
        for key in INDEX_KEYS:
            if key not in file:
                raise DatasetError(f"{path}: no '{key}' dataset; not a stable-worldmodel HDF5 file")
        self.pixels_key = options.camera or "pixels"
        self.action_key = options.action_key or "action"
        for key, what in ((self.pixels_key, "frames"), (self.action_key, "actions")):
            if key not in file:
                keys = ", ".join(sorted(file.keys()))
                raise DatasetError(f"{path}: no '{key}' dataset for the {what} (it has: {keys})")
        if options.state_key is None:
            self.state_key = next((key for key in STATE_KEYS if key in file), "")
        else:
            self.state_key = options.state_key
            if self.state_key and self.state_key not in file:
                raise DatasetError(f"{path}: no '{self.state_key}' dataset for the states")
        pixels = file[self.pixels_key]
        if pixels.ndim != 4 or 3 not in (pixels.shape[1], pixels.shape[-1]):
            raise DatasetError(
                f"{path}: '{self.pixels_key}' must be [N, H, W, 3] or [N, 3, H, W], got "
                f"{list(pixels.shape)}"
            )
        self.channels_first = pixels.shape[-1] != 3
        self.lengths = np.asarray(file["ep_len"][()], dtype=np.int64)
        self.offsets = np.asarray(file["ep_offset"][()], dtype=np.int64)
        rows = pixels.shape[0]
        if self.lengths.shape != self.offsets.shape or self.lengths.ndim != 1:
            raise DatasetError(f"{path}: 'ep_len' and 'ep_offset' differ in shape")
        bad = np.flatnonzero((self.offsets < 0) | (self.offsets + self.lengths > rows))
        if bad.size:
            raise DatasetError(
                f"{path}: episode {int(bad[0])} (rows {int(self.offsets[bad[0]])}+"
                f"{int(self.lengths[bad[0]])}) runs past the {rows} rows of '{self.pixels_key}'"
            )
        for key in (self.action_key, self.state_key):
            if key and file[key].shape[0] != rows:
                raise DatasetError(
                    f"{path}: '{key}' has {file[key].shape[0]} rows, '{self.pixels_key}' {rows}"
                )
        keep = self.lengths >= 2  # one frame is no transition
        if options.max_episodes is not None:
            keep &= np.cumsum(keep) <= options.max_episodes
        self.selected = np.flatnonzero(keep)
        if self.selected.size == 0:
            raise DatasetError(f"{path}: no episode has two steps or more")

    @property
    def num_episodes(self) -> int:
        """Episodes to import (those of two steps or more, up to `max_episodes`)."""
        return int(self.selected.size)

    def _actions(self, index: int) -> np.ndarray:
        start, length = int(self.offsets[index]), int(self.lengths[index])
        rows = np.asarray(self._file[self.action_key][start : start + length], dtype=np.float64)
        rows = rows.reshape(length, -1)
        if np.isnan(rows[0]).all():  # swm's reset row: no action was taken there
            rows = np.concatenate([rows[1:], np.zeros_like(rows[:1])])
        return rows[:-1]  # the last action leads out of the episode

    def action_scaling(self) -> ActionScaling:
        """[-1, 1] kept where every action lies in it (swm's envs), else the measured bounds."""
        finite = [a for a in (self._actions(int(i)) for i in self.selected) if a.size]
        actions = np.concatenate(finite)
        actions = actions[np.isfinite(actions).all(axis=1)]
        if actions.size == 0:
            raise DatasetError(f"{self.path}: '{self.action_key}' holds no finite action")
        return ActionScaling.for_actions(actions)

    def episodes(self) -> Iterator[RawEpisode]:
        """The selected episodes, in file order."""
        file = self._file
        for index in self.selected:
            start, length = int(self.offsets[index]), int(self.lengths[index])
            pixels = np.asarray(file[self.pixels_key][start : start + length])
            if self.channels_first:
                pixels = pixels.transpose(0, 2, 3, 1)
            if self.state_key:
                states = np.asarray(file[self.state_key][start : start + length])
                states = states.reshape(length, -1).astype(np.float64)
            else:
                states = np.zeros((length, 0))
            yield RawEpisode(pixels, self._actions(int(index)), states, int(index))

    def describe(self) -> dict[str, Any]:
        """The keys read and the episodes found."""
        return {
            "pixels_key": self.pixels_key,
            "action_key": self.action_key,
            "state_key": self.state_key,
            "episodes_in_file": int(self.lengths.size),
        }

    def close(self) -> None:
        """Close the file."""
        self._file.close()
