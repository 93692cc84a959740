"""`ami import` and `ami export`: datasets of other formats into ami's, and ami's out as LeRobot.

`ami import SOURCE OUT.h5` reads `FORMAT:PATH` (`swm-h5`, `ogbench`, `lerobot`, `video`; or a path
whose format shows) into an ami dataset; `ami train --data SOURCE` does the same into its run folder
(`RUN/imported.h5`, reused on resume) before training (see `ami.experience.sources`).
`ami export OUT --to lerobot --data DATA.h5` writes an ami dataset as a LeRobot v3.0 folder
(`ami.experience.lerobot_export`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ami.checks import require_output_file
from ami.errors import ConfigError, DatasetError
from ami.experience.lerobot_export import (
    DEFAULT_CAMERA,
    DEFAULT_FPS,
    DEFAULT_TASK,
    export_dataset_file,
    export_lerobot,
)
from ami.experience.sources import (
    ACTION_FREE_FORMATS,
    FORMATS,
    ImportOptions,
    detect_format,
    ensure_imported,
    import_dataset,
    parse_source,
)
from ami.experience.sources.video import is_video_source
from ami.memory import Memory
from ami.memory.replay import memory_episodes
from ami.pipeline import is_memory_file
from ami.training.checkpoint import IMPORTED_FILE, check_run_folder

console = Console(stderr=True)

CameraOption = Annotated[
    str | None,
    typer.Option(
        help="The frames to read: a LeRobot camera (observation.images.NAME), an HDF5 or npz "
        "key (default: the format's, or the only camera)."
    ),
]
ActionKeyOption = Annotated[
    str | None, typer.Option(help="The actions' column (default: action / actions).")
]
StateKeyOption = Annotated[
    str | None,
    typer.Option(
        help="The states' column, for evaluation and probes only (default: the format's "
        "state column; '' for none)."
    ),
]
MaxEpisodesOption = Annotated[
    int | None, typer.Option(min=1, help="Read at most this many episodes (default: all).")
]
SOURCE_HELP = (
    f"FORMAT:PATH with FORMAT one of {', '.join(FORMATS)}, or a path whose format shows (an ami "
    "or stable-worldmodel .h5, an OGBench .npz, a LeRobot folder)."
)


def import_command(
    source: Annotated[str, typer.Argument(help=SOURCE_HELP)],
    out: Annotated[Path, typer.Argument(help="The ami dataset file to write (.h5).")],
    image_size: Annotated[
        int, typer.Option(min=8, max=1024, help="Side of the square frames written.")
    ] = 64,
    world: Annotated[
        str | None,
        typer.Option(
            help="The ami world the data was recorded in (e.g. gym:stable_worldmodel:"
            "swm/TwoRoom-v1), so a model trained on it plans there (default: data:FORMAT, "
            "training only)."
        ),
    ] = None,
    camera: CameraOption = None,
    action_key: ActionKeyOption = None,
    state_key: StateKeyOption = None,
    max_episodes: MaxEpisodesOption = None,
    action_dim: Annotated[
        int,
        typer.Option(
            min=1,
            help="Size of the zero actions a source without actions (video) is given: the env "
            "action size of the model it will train.",
        ),
    ] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Read a dataset of another format into an ami dataset file (frames resized, actions scaled).

    The actions' scaling (kept where they lie in [-1, 1], else the stated or measured bounds) and
    the keys read are recorded in the file's meta.
    """
    require_output_file(out)
    options = ImportOptions(image_size, camera, action_key, state_key, max_episodes, action_dim)
    path = import_dataset(source, out, options, world=world, progress=not quiet)
    console.print(f"wrote {path}")


def export_command(
    out: Annotated[Path, typer.Argument(help="The folder to write (new or empty).")],
    data: Annotated[
        Path,
        typer.Option(help="The ami dataset file (.h5) or memory file (its episodes) to export."),
    ],
    to: Annotated[str, typer.Option(help="The format to write: lerobot (v3.0).")] = "lerobot",
    fps: Annotated[
        int | None,
        typer.Option(min=1, help="Frame rate (default: the one an import recorded, else 10)."),
    ] = None,
    task: Annotated[str, typer.Option(help="The task string of every episode.")] = DEFAULT_TASK,
    camera: Annotated[str, typer.Option(help="The camera's feature key.")] = DEFAULT_CAMERA,
    codec: Annotated[
        str, typer.Option(help="Video encoder: libsvtav1 (AV1, LeRobot's default) or libx264.")
    ] = "libsvtav1",
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Write an ami dataset in another format: a LeRobot v3.0 folder (parquet tables, mp4 video).

    Each LeRobot frame carries the action taken at it; an episode's last frame, which no
    transition leaves, carries zeros (ami's LeRobot reader drops it again).
    """
    if to != "lerobot":
        raise ConfigError(f"--to {to!r}: ami exports to lerobot only")
    if is_memory_file(data):  # its remembered episodes with frames
        with Memory.open(data, readonly=True, create=False) as memory:
            episodes = memory_episodes(memory)
            path = export_lerobot(episodes, out, fps or DEFAULT_FPS, task, camera, codec, not quiet)
    else:
        path = export_dataset_file(data, out, fps, task, camera, codec, progress=not quiet)
    console.print(f"wrote {path}")


def training_data(
    data: str, out: Path, options: ImportOptions, world: str | None, progress: bool
) -> Path:
    """The ami dataset or memory `ami train --data DATA` trains on.

    ami's own HDF5 and memory files are used as they are; any other format is imported into
    `OUT/imported.h5` (once: a resumed run reuses it).

    Raises:
        DatasetError: the data is missing, of no known format, or damaged.
        ConfigError: `out` is not a folder ami may train into.
    """
    format_, path = parse_source(data)
    if format_ is None:
        if not path.exists():
            raise DatasetError(f"dataset not found: {path}")
        if is_memory_file(path):
            return path
        format_ = detect_format(path)
    if format_ == "ami":
        return path
    check_run_folder(out)  # before the import writes into it
    out.mkdir(parents=True, exist_ok=True)
    return ensure_imported(f"{format_}:{path}", out / IMPORTED_FILE, options, world, progress)


def require_actions_for(data: str, actions: str) -> None:
    """Refuse, before any import, to learn from the actions of a source that has none (video).

    Raises:
        ConfigError: `data` is a video source and `actions` is not "none".
        DatasetError: `data` names an unknown format.
    """
    format_, path = parse_source(data)
    if format_ is None and path.exists() and is_video_source(path):
        format_ = "video"
    if format_ in ACTION_FREE_FORMATS and actions != "none":
        raise ConfigError(
            f"--data {data} is video, frames without actions: pre-train on it with --actions "
            "none, then train on action-labelled data with --encoder-from"
        )
