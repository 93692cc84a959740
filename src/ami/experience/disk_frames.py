"""Frames read from a dataset file as training asks for them, for datasets larger than memory.

`DiskFrames` stands in for the in-memory frame tensor of a `WindowDataset`: `take(windows)` reads
each window's span of frames by a slice of the file's `pixels` (HDF5 decodes whole 64-frame
chunks and keeps the most recent in its chunk cache, an LRU of decoded chunks sized by
`cache_bytes`), so memory holds the cache and one batch, whatever the dataset's size. The file
is opened lazily in each process (loader workers fork with a closed handle and open their own).

`memory_budget()` is the memory a process may use here: the least of the machine's physical
memory, the cgroup's limit (v2 `memory.max`, v1 `memory.limit_in_bytes`) and the address-space
and data limits (`ulimit -v`, `-d`).
`should_stream` streams when the frames alone would take more than half of it.

Example:
    >>> memory_budget() is None or memory_budget() > 0
    True
"""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ami.config import machine_memory
from ami.errors import DatasetError

CGROUP_LIMIT = Path("/sys/fs/cgroup/memory.max")  # cgroup v2
CGROUP_V1_ROOT = Path("/sys/fs/cgroup/memory")
DEFAULT_CACHE_BYTES = 256 * 2**20


def memory_budget() -> int | None:
    """Bytes this process may hold: the least of memory, cgroup and ulimit (None: unknown)."""
    limits = [machine_memory(), *cgroup_limits()]
    for kind in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
        soft, _ = resource.getrlimit(kind)
        limits.append(None if soft == resource.RLIM_INFINITY else soft)
    known = [limit for limit in limits if limit is not None and limit > 0]
    return min(known) if known else None


def cgroup_limits() -> list[int]:
    """The memory limits of this process's cgroup (v2 `memory.max`, v1 `memory.limit_in_bytes`)."""
    files = [CGROUP_LIMIT, CGROUP_V1_ROOT / "memory.limit_in_bytes"]
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "memory" in controllers.split(","):
                files.insert(0, CGROUP_V1_ROOT / path.lstrip("/") / "memory.limit_in_bytes")
    except (OSError, ValueError):
        pass
    limits = []
    for file in files:
        try:
            value = int(file.read_text().strip())
        except (OSError, ValueError):  # missing, or "max"
            continue
        if 0 < value < 2**60:  # v1 writes ~2^63 for no limit
            limits.append(value)
    return limits


def should_stream(frame_bytes: int) -> bool:
    """Whether frames of `frame_bytes` in all take more than half of `memory_budget()`."""
    budget = memory_budget()
    return budget is not None and frame_bytes > budget // 2


class DiskFrames:
    """The `pixels` of an ami dataset file, channels first, read by window: `[F, 3, h, w]`."""

    def __init__(self, path: str | os.PathLike[str], cache_bytes: int = DEFAULT_CACHE_BYTES):
        self.path = Path(path)
        self.cache_bytes = int(cache_bytes)
        self._file: h5py.File | None = None
        self._pid = -1
        frames, h, w, _ = self._pixels().shape
        self.shape = (int(frames), 3, int(h), int(w))

    def _pixels(self) -> Any:
        """The file's `pixels` dataset, opened in this process (after a fork: anew)."""
        if self._file is None or self._pid != os.getpid():
            try:
                self._file = h5py.File(
                    self.path, "r", rdcc_nbytes=self.cache_bytes, rdcc_nslots=10007
                )
            except OSError as exc:
                raise DatasetError(f"cannot read frames from {self.path} ({exc})") from None
            self._pid = os.getpid()
        return self._file["pixels"]

    @property
    def nbytes(self) -> int:
        """Bytes of all the frames, decoded."""
        return int(np.prod(self.shape))

    def take_windows(self, first: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Frames `first[b] + offsets[t]` for every window `b`: uint8 `[B T, 3, h, w]`.

        Each window's span `first[b] .. first[b] + offsets[-1]` is one slice of the file.
        """
        pixels = self._pixels()
        span = int(offsets[-1]) + 1
        out = np.empty((len(first) * len(offsets), *self.shape[1:]), np.uint8)
        try:
            for b, start in enumerate(np.asarray(first).reshape(-1)):
                block = pixels[int(start) : int(start) + span]  # [span, h, w, 3]
                rows = slice(b * len(offsets), (b + 1) * len(offsets))
                out[rows] = block[offsets].transpose(0, 3, 1, 2)
        except OSError as exc:
            raise DatasetError(f"frames of {self.path} cannot be read ({exc})") from None
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"], state["_pid"] = None, -1  # each process opens its own handle
        return state

    def close(self) -> None:
        """Close this process's handle (it reopens on the next read)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None

    def __repr__(self) -> str:
        return f"DiskFrames({str(self.path)!r}, shape={list(self.shape)})"
