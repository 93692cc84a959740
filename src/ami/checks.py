"""Checks every command makes before any work: where it writes, what it reads, which world.

A command that is going to write a folder (a run, a report, a live run) or a file (a dataset)
checks first that the path can be one, so that a mistyped `--out` fails in one line before
minutes of collection or training, never after them. A checkpoint's world is read from its
`model.json` metadata and compared with the world asked for, so that a model of one world is
never run in another without a word.
"""

from __future__ import annotations

from pathlib import Path

from ami.errors import CheckpointError, ConfigError
from ami.model.world_model import CONFIG_FILE, read_checkpoint_json


def require_output_folder(path: Path, option: str = "--out") -> Path:
    """`path`, which must be an existing folder or creatable as one.

    Raises:
        ConfigError: `path` (or a folder above it) is an existing file.
    """
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"{option} {path} is an existing file, not a folder; name a new or existing folder"
        )
    _require_folders_above(path, option)
    return path


def require_output_file(path: Path, option: str = "--out") -> Path:
    """`path`, which must be a file or not exist yet (its folder is created when written).

    Raises:
        ConfigError: `path` is a folder, or a path above it is an existing file.
    """
    if path.is_dir():
        raise ConfigError(
            f"{option} {path} is a folder, not a file; name the file to write in it, "
            f"e.g. {path / 'data.h5'}"
        )
    _require_folders_above(path, option)
    return path


def require_input_file(path: Path, option: str) -> Path:
    """`path`, which must be an existing file.

    Raises:
        ConfigError: nothing is there, or a folder is.
    """
    if not path.is_file():
        what = "a folder" if path.is_dir() else "not found"
        raise ConfigError(f"{option} {path} is {what}; name an existing file")
    return path


def checkpoint_folder(path: Path) -> Path:
    """The checkpoint folder that `path` names: a checkpoint, run (`RUN`) or demo (`OUT`) folder.

    Every command's `--model` follows this one rule.

    Raises:
        CheckpointError: no checkpoint is found there.
    """
    path = Path(path)
    for candidate in (path, path / "checkpoint", path / "run" / "checkpoint"):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise CheckpointError(
        f"no checkpoint at {path} (looked for {CONFIG_FILE} in it, in checkpoint/ and in "
        "run/checkpoint/); --model takes a checkpoint, run or demo folder"
    )


def require_checkpoint_world(checkpoint: Path, world: str, asked_by: str) -> None:
    """Refuse the checkpoint folder `checkpoint` when its metadata names a world other than `world`.

    Checkpoints without a recorded world (older or hand-made ones) pass; `WorldModel.load`
    still checks their files.

    Args:
        checkpoint: a checkpoint folder (holding `model.json`) or a file in it.
        world: the world the checkpoint is going to be run in.
        asked_by: what asked for `world`, for the message (e.g. "the recipe").

    Raises:
        CheckpointError: `model.json` is missing or unreadable.
        ConfigError: the checkpoint was trained on another world.
    """
    folder = checkpoint.parent if checkpoint.is_file() else checkpoint
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise CheckpointError(f"checkpoint file not found: {config_path}")
    metadata = read_checkpoint_json(config_path).get("metadata")
    trained_on = metadata.get("world") if isinstance(metadata, dict) else None
    if isinstance(trained_on, str) and trained_on != world:
        raise ConfigError(
            f"the model at {folder} was trained on world {trained_on!r}, but {asked_by} is for "
            f"{world!r}; use a model of {world!r} or a recipe of {trained_on!r}"
        )


def _require_folders_above(path: Path, option: str) -> None:
    """The nearest existing path above `path` must be a folder (it is where folders are made)."""
    for above in path.absolute().parents:
        if above.exists():
            if not above.is_dir():
                raise ConfigError(f"{option} {path}: {above} is a file, not a folder")
            return
