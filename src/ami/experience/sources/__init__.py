"""Datasets of other formats, read into ami experience: `FORMAT:PATH`, or a path whose format shows.

Formats (`FORMATS`):

- `swm-h5`: stable-worldmodel's and LeWM's HDF5 (`pixels`, `action`, `ep_len`, `ep_offset`);
- `ogbench`: OGBench's `.npz` (`observations`, `actions`, `terminals`, `qpos`, `qvel`);
- `lerobot`: a LeRobot v3.0 or v2.1 dataset folder (`meta/info.json`, parquet, mp4);
- `minari`: a Minari dataset, by id in Minari's local folder or by path (frames replayed where
  it holds states only);
- `video`: one video file (`.mp4`, ...) or a folder of them, frames without actions: zero
  actions, the meta marked `"actions": "none"`, for `ami train --actions none` only;
- `ami`: ami's own HDF5, as written by `ami collect`.

A path without a prefix is recognised by what it holds (`detect_format`). `import_dataset` reads
the episodes one at a time (frames resized to the recipe's size, actions to [-1, 1]) and streams
them into an ami dataset file, atomically; its meta records the source, the keys read and the
`action_scaling`.

Example:
    >>> parse_source("swm-h5:data/tworoom.h5")
    ('swm-h5', PosixPath('data/tworoom.h5'))
    >>> parse_source("runs/data.h5")
    (None, PosixPath('runs/data.h5'))
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ami.errors import DatasetError
from ami.experience.dataset import Episode, ExperienceDataset, is_ami_dataset, write_dataset
from ami.experience.sources.common import (
    ActionScaling,
    DatasetReader,
    ImportOptions,
    RawEpisode,
    square_resized,
    to_episode,
)

# format -> "module:class" of its reader (imported only when that format is read)
READERS = {
    "swm-h5": "ami.experience.sources.swm_h5:SwmH5Reader",
    "ogbench": "ami.experience.sources.ogbench:OgbenchReader",
    "lerobot": "ami.experience.sources.lerobot:LeRobotReader",
    "minari": "ami.experience.sources.minari:MinariReader",
    "video": "ami.experience.sources.video:VideoReader",
}
ACTION_FREE_FORMATS = ("video",)  # their imports hold zero actions: meta "actions": "none"
FORMATS = ("ami", *READERS)
WORLDLESS_PREFIX = "data:"  # the world of experience that no ami world produced: data:FORMAT


def parse_source(text: str | os.PathLike[str]) -> tuple[str | None, Path]:
    """`FORMAT:PATH` as `(format, path)`; a plain path as `(None, path)`.

    Raises:
        DatasetError: the prefix names no format ami reads.
    """
    text = os.fspath(text)
    head, sep, rest = text.partition(":")
    if sep and head in FORMATS:
        return head, Path(rest)
    if sep and len(head) > 1 and "/" not in head and not Path(text).exists():
        raise DatasetError(
            f"unknown dataset format {head!r} in {text!r}; known: {', '.join(FORMATS)}"
        )
    return None, Path(text)


def detect_format(path: Path) -> str:
    """The format of the dataset at `path`, by what it holds.

    Raises:
        DatasetError: `path` is missing or holds no dataset ami reads.
    """
    from ami.experience.sources.swm_h5 import is_swm_h5
    from ami.experience.sources.video import is_video_source

    if not path.exists():
        raise DatasetError(f"dataset not found: {path}")
    if path.is_dir():
        if (path / "meta" / "info.json").is_file():
            return "lerobot"
        if any((folder / "metadata.json").is_file() for folder in (path / "data", path)):
            return "minari"  # a Minari dataset folder, or its data/ folder
        if is_video_source(path):
            return "video"
        raise DatasetError(
            f"{path} is a folder without meta/info.json (LeRobot), data/metadata.json (Minari) "
            f"or videos; give a dataset file or FORMAT:PATH with FORMAT one of "
            f"{', '.join(FORMATS)}"
        )
    if is_video_source(path):
        return "video"
    if is_ami_dataset(path):
        return "ami"
    if is_swm_h5(path):
        return "swm-h5"
    if path.suffix == ".npz":
        return "ogbench"
    raise DatasetError(
        f"{path}: not a dataset ami recognises (ami or stable-worldmodel HDF5, OGBench .npz, "
        f"a LeRobot folder, videos); name its format as FORMAT:PATH ({', '.join(FORMATS)})"
    )


def open_reader(format_: str, path: Path, options: ImportOptions) -> DatasetReader:
    """The reader of `format_` opened on `path`.

    Raises:
        DatasetError: the format is unknown or `path` is not a dataset of it.
        DependencyMissingError: the format needs a package that is not installed.
    """
    if format_ not in READERS:
        raise DatasetError(f"no reader for format {format_!r}; known: {', '.join(READERS)}")
    if format_ != "minari" and not path.exists():  # a Minari id is resolved by its reader
        raise DatasetError(f"dataset not found: {path}")
    module, _, name = READERS[format_].partition(":")
    reader_class = getattr(importlib.import_module(module), name)
    reader: DatasetReader = reader_class(path, options)
    return reader


def import_dataset(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    options: ImportOptions | None = None,
    world: str | None = None,
    progress: bool = False,
) -> Path:
    """Read the dataset `source` (`FORMAT:PATH` or a path) into an ami dataset file `out`.

    Args:
        source: the dataset; its format from the prefix, else detected.
        out: the ami HDF5 file to write (atomically: a failure leaves nothing there).
        options: image size, camera, keys, episode limit.
        world: the ami world the data comes from (e.g. `gym:stable_worldmodel:swm/TwoRoom-v1`),
            so that the model plans there; None: `data:FORMAT`, a world no env stands for.
        progress: show a progress bar.

    Returns:
        The path written.

    Raises:
        DatasetError: the source is missing, of no known format, or damaged; its episodes
            disagree in shapes; `out` is not a path a dataset can be written to.
    """
    options = options or ImportOptions()
    format_, path = parse_source(source)
    format_ = format_ or detect_format(path)
    if format_ == "ami":
        raise DatasetError(f"{path} is already an ami dataset; train on it as it is")
    reader = open_reader(format_, path, options)
    try:
        scaling = reader.action_scaling()
        meta: dict[str, Any] = {
            "world": world or f"{WORLDLESS_PREFIX}{format_}",
            "source": {
                "format": format_,
                "path": str(path),
                "options": _recorded_options(options),
                **reader.describe(),
            },
            "action_scaling": scaling.as_dict(),
        }
        if format_ in ACTION_FREE_FORMATS:
            meta["actions"] = "none"
        episodes = _converted(reader, scaling, options.image_size)
        return write_dataset(out, episodes, meta, progress=progress)
    finally:
        reader.close()


def ensure_imported(
    source: str | os.PathLike[str],
    target: Path,
    options: ImportOptions,
    world: str | None = None,
    progress: bool = False,
) -> Path:
    """`target`, holding `source` imported: written once, reused while source and options agree.

    A resumed `ami train` on the same source finds its earlier import and does not read the
    source again; another source, image size or key choice is imported anew (atomically).

    Raises:
        DatasetError: as `import_dataset`.
    """
    format_, path = parse_source(source)
    format_ = format_ or detect_format(path)
    if target.is_file() and is_ami_dataset(target):
        with ExperienceDataset.open(target) as done:
            meta, size = done.meta, done.image_size
        recorded = meta.get("source", {})
        if (
            recorded.get("format") == format_
            and recorded.get("path") == str(path)
            and recorded.get("options") == _recorded_options(options)
            and size == options.image_size
            and meta.get("world") == (world or f"{WORLDLESS_PREFIX}{format_}")
        ):
            return target
    return import_dataset(f"{format_}:{path}", target, options, world, progress)


def _recorded_options(options: ImportOptions) -> dict[str, Any]:
    """The choices of `options` an import records (and a reuse compares)."""
    return {
        "camera": options.camera,
        "action_key": options.action_key,
        "state_key": options.state_key,
        "max_episodes": options.max_episodes,
        "action_dim": options.action_dim,
    }


def _converted(reader: DatasetReader, scaling: ActionScaling, size: int) -> Iterator[Episode]:
    """The reader's episodes as ami `Episode`s, one at a time."""
    for raw in reader.episodes():
        yield to_episode(raw, scaling, size, where=str(reader.path))


__all__ = [
    "ACTION_FREE_FORMATS",
    "FORMATS",
    "READERS",
    "WORLDLESS_PREFIX",
    "ActionScaling",
    "DatasetReader",
    "ImportOptions",
    "RawEpisode",
    "detect_format",
    "ensure_imported",
    "import_dataset",
    "open_reader",
    "parse_source",
    "square_resized",
    "to_episode",
]
