"""Videos without actions: one `.mp4` (or a folder of them) read as action-free ami episodes.

Each video file is one episode: every frame of its first video stream, decoded with PyAV (any
codec FFmpeg decodes), centre-cropped to a square and resized to the recipe's size as it is
decoded (`square_resized`, a chunk at a time, so a long video never sits in memory at full
size). A video has no actions, so each episode gets zero actions of `ImportOptions.action_dim`
(`ami train` passes its recipe's) and no states; the imported dataset's meta says
`"actions": "none"`, and ami trains on it only with `TrainConfig.actions = "none"` (frames
alone, `ami train --actions none`), whose loss does not read the actions. A folder's videos are
read in the order of their names.

Needs `av` (`pip install 'ami[data]'`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ami.errors import DatasetError, DependencyMissingError
from ami.experience.sources.common import (
    ActionScaling,
    ImportOptions,
    RawEpisode,
    square_resized,
)

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi")
CHUNK = 256  # frames decoded before they are resized together


def _av() -> ModuleType:
    """PyAV (`av`), or a `DependencyMissingError`."""
    try:
        import av
    except ImportError as exc:
        raise DependencyMissingError(
            f"reading videos needs PyAV ({exc}); pip install 'ami[data]'"
        ) from None
    return av


def video_files(path: Path) -> list[Path]:
    """The videos `path` names: itself (a video file) or the videos in it (a folder), sorted."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    return [path] if path.suffix.lower() in VIDEO_SUFFIXES else []


def is_video_source(path: Path) -> bool:
    """Whether `path` is a video file or a folder holding videos (and no LeRobot metadata)."""
    return not (path / "meta" / "info.json").is_file() and bool(video_files(path))


class VideoReader:
    """An open video source: a video file or a folder of them; one episode per file."""

    format = "video"

    def __init__(self, path: Path, options: ImportOptions) -> None:
        _av()  # a missing dependency fails when the source is opened, before any work
        self.path, self.options = path, options
        self.files = video_files(path)
        if not self.files:
            raise DatasetError(
                f"{path}: no video ({', '.join(VIDEO_SUFFIXES)}) there to read frames from"
            )
        if options.max_episodes is not None:
            self.files = self.files[: options.max_episodes]

    @property
    def num_episodes(self) -> int:
        """Video files read (one episode each)."""
        return len(self.files)

    def action_scaling(self) -> ActionScaling:
        """The identity: the zero actions stay zeros."""
        return ActionScaling.unit(self.options.action_dim)

    def episodes(self) -> Iterator[RawEpisode]:
        """Each video's frames `[L + 1, size, size, 3]` with `L` zero actions and no states."""
        for index, file in enumerate(self.files):
            pixels = decode_resized(file, self.options.image_size)
            if len(pixels) < 2:
                raise DatasetError(
                    f"{file}: {len(pixels)} frame(s); an episode needs at least 2 to learn from"
                )
            actions = np.zeros((len(pixels) - 1, self.options.action_dim), np.float32)
            states = np.zeros((len(pixels), 0), np.float32)
            yield RawEpisode(pixels=pixels, actions=actions, states=states, index=index)

    def describe(self) -> dict[str, Any]:
        """The files read and the size of the zero actions."""
        return {
            "files": [file.name for file in self.files],
            "action_dim": self.options.action_dim,
        }

    def close(self) -> None:
        """Nothing stays open between episodes."""


def decode_resized(file: Path, size: int) -> np.ndarray:
    """Every frame of `file`'s first video stream as uint8 `[N, size, size, 3]`.

    Raises:
        DatasetError: the file is missing, has no video stream, or cannot be decoded.
    """
    av = _av()
    chunks: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    try:
        with av.open(str(file)) as container:
            if not container.streams.video:
                raise DatasetError(f"{file}: no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                pending.append(frame.to_ndarray(format="rgb24"))
                if len(pending) == CHUNK:
                    chunks.append(square_resized(np.stack(pending), size))
                    pending = []
    except DatasetError:
        raise
    except (av.FFmpegError, OSError, EOFError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise DatasetError(f"{file}: unreadable video ({str(reason).splitlines()[0]})") from None
    if pending:
        chunks.append(square_resized(np.stack(pending), size))
    return np.concatenate(chunks) if chunks else np.zeros((0, size, size, 3), np.uint8)
