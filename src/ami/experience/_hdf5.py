"""HDF5 details of the dataset format: the chunked streaming writer, the checks, fsync helpers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

from ami.errors import DatasetError, ShapeError

if TYPE_CHECKING:
    from ami.experience.dataset import Episode

FORMAT_VERSION = 1
CHUNK_FRAMES = 64
COMPRESSION = ("gzip", 1)  # (filter, level); see the `ami.experience.dataset` docstring
DATASETS = ("pixels", "actions", "states", "episode_starts", "episode_lengths")


class GuardedFile:
    """A binary file for h5py's `fileobj` driver that records a failed write instead of failing.

    HDF5 writes much of a file only when it evicts a cache or closes an object, where h5py can
    only print the failure (thousands of lines on a full disk) and HDF5 may later crash. Through
    this file HDF5 never sees a failure: the first `OSError` (ENOSPC, EDQUOT, EIO) is kept, later
    writes are dropped, and the writer raises it at its next `check()`.
    """

    defer_interrupts = True  # called from C: `ami` delivers a Ctrl-C landing here just after

    def __init__(self, path: Path) -> None:
        self._raw = open(path, "w+b", buffering=0)  # noqa: SIM115 (closed by close())
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        view = memoryview(data).cast("B")
        if self.error is None:
            try:
                done = 0
                while done < len(view):
                    done += self._raw.write(view[done:]) or 0
            except OSError as exc:
                self.error = exc
        return len(view)

    def read(self, size: int = -1) -> bytes:
        return self._raw.read(size) or b""

    def readinto(self, buffer: bytearray) -> int:
        return self._raw.readinto(buffer) or 0

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def truncate(self, size: int | None = None) -> int:
        if self.error is None:
            try:
                return self._raw.truncate(size)
            except OSError as exc:
                self.error = exc
        return self.tell() if size is None else size

    def flush(self) -> None:
        """Nothing to flush: writes go straight to the file (unbuffered)."""

    def check(self) -> None:
        """Raise the first write failure, if there was one."""
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> GuardedFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ChunkedWriter:
    """Appends episodes to resizable datasets, buffering so that `pixels` is written by chunks."""

    def __init__(self, file: h5py.File) -> None:
        self.file = file
        self.frames = 0  # frames written to the file so far
        self.starts: list[int] = []
        self.lengths: list[int] = []
        # Frames not yet written, per array, each with one row per frame (actions padded).
        self.buffer: dict[str, list[np.ndarray]] = {"pixels": [], "actions": [], "states": []}
        self.buffered = 0
        self.shape: tuple[int, int, int, int] | None = None  # (h, w, A, S)

    def add(self, episode: Episode) -> None:
        h, w = episode.pixels.shape[1:3]
        shape = (h, w, episode.actions.shape[1], episode.states.shape[1])
        if self.shape is None:
            if h != w:
                raise ShapeError(f"dataset frames must be square, got {h}x{w}")
            self._create(*shape)
        elif shape != self.shape:
            raise ShapeError(
                f"episode {len(self.starts)} has (h, w, A, S) = {shape}, the dataset has "
                f"{self.shape}"
            )
        frames = episode.pixels.shape[0]
        self.starts.append(self.frames + self.buffered)
        self.lengths.append(frames)
        pad = np.zeros((1, shape[2]), np.float32)
        self.buffer["pixels"].append(episode.pixels)
        self.buffer["actions"].append(np.concatenate([episode.actions, pad]))
        self.buffer["states"].append(episode.states)
        self.buffered += frames
        if self.buffered >= CHUNK_FRAMES:
            self._flush(whole_chunks_only=True)

    def finish(self, world: str, meta_json: str) -> None:
        if self.shape is None:
            raise DatasetError("write_dataset: no episodes to write")
        self._flush(whole_chunks_only=False)
        self.file.create_dataset("episode_starts", data=np.asarray(self.starts, np.int64))
        self.file.create_dataset("episode_lengths", data=np.asarray(self.lengths, np.int64))
        h, _, a, s = self.shape
        attrs = self.file.attrs
        attrs["format_version"] = FORMAT_VERSION
        attrs["world"] = world
        attrs["action_dim"] = a
        attrs["state_dim"] = s
        attrs["image_size"] = h
        attrs["meta_json"] = meta_json
        self.file.flush()
        attrs["complete"] = True  # last: a file without it was not finished

    def _create(self, h: int, w: int, a: int, s: int) -> None:
        self.shape = (h, w, a, s)
        f = self.file
        f.create_dataset(
            "pixels",
            shape=(0, h, w, 3),
            maxshape=(None, h, w, 3),
            dtype=np.uint8,
            chunks=(CHUNK_FRAMES, h, w, 3),
            compression=COMPRESSION[0],
            compression_opts=COMPRESSION[1],
        )
        for name, dim in (("actions", a), ("states", s)):
            f.create_dataset(
                name,
                shape=(0, dim),
                maxshape=(None, dim or None),  # HDF5 chunks no fixed dimension of size 0
                dtype=np.float32,
                chunks=(4096, max(dim, 1)),
            )

    def _flush(self, whole_chunks_only: bool) -> None:
        """Write buffered frames; keep a tail of less than one chunk if `whole_chunks_only`."""
        count = self.buffered
        if whole_chunks_only:
            count -= count % CHUNK_FRAMES
        if count == 0:
            return
        lo, hi = self.frames, self.frames + count
        for name, parts in self.buffer.items():
            data = np.concatenate(parts)
            dataset = self.file[name]
            dataset.resize(hi, axis=0)
            dataset[lo:hi] = data[:count]
            self.buffer[name] = [data[count:]] if count < len(data) else []
        self.frames = hi
        self.buffered -= count


def check_file(file: h5py.File) -> None:
    """Raise `DatasetError` with the first reason `file` is not a complete, consistent dataset.

    Checks the flags, the format version, the attributes, and each array's kind, dtype and shape
    (pixels uint8 `[F, h, h, 3]`, actions and states numeric `[F, A]` and `[F, S]`, the episode
    index integer `[E]`); reads no frames.
    """
    attrs = file.attrs
    if not bool(attrs.get("complete", False)):
        raise DatasetError("incomplete dataset (no 'complete' flag; was writing interrupted?)")
    version = int(attrs.get("format_version", -1))
    if version > FORMAT_VERSION:
        raise DatasetError(
            f"dataset format version {version} is newer than this ami supports ({FORMAT_VERSION})"
        )
    if version < 1:
        raise DatasetError(f"bad dataset format version {version}")
    missing = [name for name in DATASETS if not isinstance(file.get(name), h5py.Dataset)]
    missing += [
        n for n in ("world", "action_dim", "state_dim", "image_size", "meta_json") if n not in attrs
    ]
    if missing:
        raise DatasetError(f"dataset lacks {missing}")
    _check_dtypes(file)
    size, a, s = int(attrs["image_size"]), int(attrs["action_dim"]), int(attrs["state_dim"])
    frames = file["pixels"].shape[0] if file["pixels"].ndim else 0
    expected = {"pixels": (frames, size, size, 3), "actions": (frames, a), "states": (frames, s)}
    for name, shape in expected.items():
        if file[name].shape != shape:
            raise DatasetError(
                f"dataset '{name}' has shape {list(file[name].shape)}, expected {list(shape)}"
            )
    starts, lengths = file["episode_starts"][()], file["episode_lengths"][()]
    if starts.ndim != 1 or starts.shape != lengths.shape or starts.size == 0:
        raise DatasetError("dataset episode index is empty or its arrays disagree in shape")
    if (starts < 0).any() or (lengths < 1).any() or (starts + lengths > frames).any():
        raise DatasetError(f"dataset episode index points outside its {frames} frames")


def _check_dtypes(file: h5py.File) -> None:
    """Pixels must be uint8; actions and states numbers; the episode index integers."""
    pixels = file["pixels"]
    if pixels.dtype != np.uint8:
        raise DatasetError(
            f"dataset 'pixels' has dtype {pixels.dtype} and shape {list(pixels.shape)}; ami "
            "datasets hold pixels as uint8 [F, h, w, 3] (0-255)"
        )
    kinds = {"actions": "iuf", "states": "iuf", "episode_starts": "iu", "episode_lengths": "iu"}
    for name, allowed in kinds.items():
        dtype = file[name].dtype
        if dtype.kind not in allowed:
            what = "numbers" if "f" in allowed else "integers"
            raise DatasetError(f"dataset '{name}' has dtype {_dtype_name(dtype)}, not {what}")


def _dtype_name(dtype: np.dtype) -> str:
    """`dtype` in words, telling h5py's variable-length strings from other objects."""
    if h5py.check_string_dtype(dtype) is not None or dtype.kind in "SU":
        return f"{dtype} (strings)"
    return str(dtype)


def first_non_finite(values: np.ndarray) -> int | None:
    """Index of the first row of `values` `[F, X]` holding a NaN or an infinity, or None."""
    bad = ~np.isfinite(values).all(axis=1)
    return int(np.argmax(bad)) if bad.any() else None
