"""Run folders and resumable checkpoints: what a run folder may hold, saving, resuming, metrics.

A run folder holds `metrics.jsonl` (one JSON object with an integer `step` per logged step),
`checkpoint/` (`model.safetensors`, `model.json`, `trainer_state.pt`) and, written by
`ami.pipeline.run_train`, `recipe.json` and `training_curves.png`. ami trains into a folder only
when it does not exist, is empty, or is an ami run folder (`check_run_folder`), and never removes
or rewrites a file it did not write: a checkpoint folder holding other files, or a metrics log
with lines that are not ami's, is refused before anything is written.

`trainer_state.pt` holds the step, the optimiser and the SIGReg generator state; it is loaded with
`weights_only=True` and checked against the model's optimiser (its moments' shapes included), and
nothing in it depends on the number of training processes. `model.json`'s metadata records
`train_config` and `schedule`, the `[first step, total]` stretches of the learning-rate schedule:
a run resumed toward another `steps` follows the new total's cosine from its checkpoint on, says
so on stderr and adds a stretch, so it differs from a run trained toward that total from the start.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ami.errors import CheckpointError, ConfigError
from ami.files import atomic_path, atomic_write_bytes, is_temporary_of
from ami.model import WorldModel
from ami.model.world_model import CONFIG_FILE, WEIGHTS_FILE, read_checkpoint_json

METRICS_FILE = "metrics.jsonl"
RECIPE_FILE = "recipe.json"
CHECKPOINT_DIR = "checkpoint"
STAGING_DIR = f".{CHECKPOINT_DIR}.new"
PREVIOUS_DIR = f".{CHECKPOINT_DIR}.old"
TRAINER_STATE = "trainer_state.pt"
CHECKPOINT_FILES = (WEIGHTS_FILE, CONFIG_FILE, TRAINER_STATE)
IMPORTED_FILE = "imported.h5"  # a dataset of another format, read into ami's by `ami train`
RUN_FILES = (RECIPE_FILE, METRICS_FILE, CHECKPOINT_DIR, STAGING_DIR, PREVIOUS_DIR, IMPORTED_FILE)
_NOT_OURS = "ami did not write it; move it away or train into another --out"


@dataclass(frozen=True)
class Resumed:
    """Where a run's checkpoint left it.

    Attributes:
        step: optimiser steps done (0 without a checkpoint).
        schedule: `(first step, total steps)` of each stretch of the learning-rate schedule so
            far (empty without a checkpoint); a resume toward another total starts a stretch.
    """

    step: int
    schedule: tuple[tuple[int, int], ...]


def check_run_folder(run_dir: Path, steps: int | None = None) -> None:
    """Refuse, before anything is written, a folder that ami may not train into.

    With `steps`, a checkpoint already past that many steps is refused too.

    Raises:
        ConfigError: `run_dir` is a file, or a folder that is not empty and holds none of
            `RUN_FILES` nor one being written (it is not an ami run folder), or its checkpoint
            is past `steps`.
        CheckpointError: a file of ami's name in it that ami did not write (other files in a
            checkpoint folder, a metrics log with lines that are not ami's).
    """
    if not run_dir.exists():
        return
    if not run_dir.is_dir():
        raise ConfigError(f"run folder {run_dir} is a file: pass a new or empty folder as --out")
    names = {entry.name for entry in run_dir.iterdir()}
    if names and not any(n in RUN_FILES or is_temporary_of(n, RUN_FILES) for n in names):
        raise ConfigError(
            f"{run_dir} is not empty and not an ami run folder (no {', '.join(RUN_FILES[:3])}): "
            "pass a new or empty folder as --out"
        )
    for name in (CHECKPOINT_DIR, STAGING_DIR, PREVIOUS_DIR):
        check_checkpoint_folder(run_dir / name)
    _metric_lines(run_dir / METRICS_FILE)
    config_path = run_dir / CHECKPOINT_DIR / CONFIG_FILE
    if steps is not None and config_path.is_file():
        metadata = read_checkpoint_json(config_path).get("metadata")
        done = metadata.get("step") if isinstance(metadata, dict) else None
        if isinstance(done, int) and done > steps:
            raise ConfigError(past_total(run_dir, done, steps))


def past_total(run_dir: Path, step: int, steps: int) -> str:
    """The message refusing to resume a checkpoint at `step` toward fewer `steps`."""
    return (
        f"{run_dir / CHECKPOINT_DIR} is at step {step}, past TrainConfig.steps {steps}: "
        f"train toward {step} steps or more, or into another --out"
    )


def check_checkpoint_folder(folder: Path) -> None:
    """Refuse a checkpoint folder holding anything but ami's checkpoint files (they are replaced).

    Raises:
        CheckpointError: `folder` is a file, or holds other files or folders.
    """
    if not folder.exists():
        return
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is a file where ami keeps a checkpoint folder: move it")
    foreign = sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.is_dir()
        or not (entry.name in CHECKPOINT_FILES or is_temporary_of(entry.name, CHECKPOINT_FILES))
    )
    if foreign:
        raise CheckpointError(
            f"checkpoint folder {folder} holds files ami did not write ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}), and saving replaces the folder whole: "
            "move them away or train into another --out"
        )


def save_checkpoint(
    model: WorldModel,
    optimizer: torch.optim.Optimizer,
    sigreg_generator: torch.Generator,
    run_dir: Path,
    step: int,
    metadata: dict[str, Any],
) -> None:
    """Write the whole checkpoint folder as one unit.

    The model files and the trainer state are written into a fresh folder, which then replaces
    the old checkpoint by two renames; a crash at any point leaves either the old or the new
    checkpoint whole (`recover_checkpoint` finishes an interrupted swap). A folder holding files
    ami did not write is refused, not removed.
    """
    checkpoint, staging, previous = (
        run_dir / name for name in (CHECKPOINT_DIR, STAGING_DIR, PREVIOUS_DIR)
    )
    for folder in (checkpoint, staging, previous):
        check_checkpoint_folder(folder)
    shutil.rmtree(staging, ignore_errors=True)
    model.save(staging, metadata={**metadata, "step": step})
    state = {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "sigreg_generator": sigreg_generator.get_state(),
    }
    with atomic_path(staging / TRAINER_STATE) as tmp:
        torch.save(state, tmp)
    if checkpoint.exists():
        shutil.rmtree(previous, ignore_errors=True)
        os.replace(checkpoint, previous)
    os.replace(staging, checkpoint)
    shutil.rmtree(previous, ignore_errors=True)


def recover_checkpoint(run_dir: Path) -> None:
    """Finish a checkpoint swap that a crash interrupted between its two renames."""
    checkpoint, previous = run_dir / CHECKPOINT_DIR, run_dir / PREVIOUS_DIR
    if not checkpoint.exists() and previous.exists():
        os.replace(previous, checkpoint)
    shutil.rmtree(run_dir / STAGING_DIR, ignore_errors=True)


def resume(
    model: WorldModel,
    optimizer: torch.optim.Optimizer,
    sigreg_generator: torch.Generator,
    run_dir: Path,
) -> Resumed:
    """Load the run's checkpoint into the model and optimiser; say where it left off.

    The SIGReg generator is the same on every rank (rank 0's directions are broadcast anyway),
    and the batch generators are derived from the step: nothing depends on the number of ranks.
    Nothing is loaded into the model unless the whole checkpoint fits it.

    Raises:
        CheckpointError: a corrupt checkpoint, or one that does not fit the model or optimiser.
    """
    folder = run_dir / CHECKPOINT_DIR
    state_path = folder / TRAINER_STATE
    if not state_path.exists():
        return Resumed(step=0, schedule=())
    saved = WorldModel.load(folder, device=model.device)
    if saved.config != model.config:
        raise CheckpointError(
            f"cannot resume {run_dir}: its checkpoint has a different model config"
        )
    schedule = _schedule(folder / CONFIG_FILE)
    state = _trainer_state(state_path, model.device)
    try:
        optimizer.load_state_dict(state["optimizer"])
        sigreg_generator.set_state(state["sigreg_generator"])
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise CheckpointError(
            f"trainer state {state_path} does not fit this model's optimiser: {_first_line(exc)}"
        ) from exc
    _require_state_shapes(optimizer, state_path)
    model.load_state_dict(saved.state_dict())
    return Resumed(step=state["step"], schedule=schedule)


def truncate_metrics(path: Path, step: int) -> None:
    """Drop metric lines after `step` (left by a run that died after its last checkpoint)."""
    lines = _metric_lines(path)
    kept = [line for line_step, line in lines if line_step <= step]
    if path.exists() and (len(kept) < len(lines) or not path.read_bytes().endswith(b"\n")):
        atomic_write_bytes(path, "".join(f"{line}\n" for line in kept).encode())


def _metric_lines(path: Path) -> list[tuple[int, str]]:
    """`(step, line)` of every line of an ami metrics log; a torn last line is left out.

    Raises:
        CheckpointError: the file is not text, or a line is not a JSON object with an integer
            `step` (a torn last line, without its newline, aside).
    """
    if not path.exists():
        return []
    try:
        text = path.read_bytes().decode()
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"metrics log {path} is not text: {_NOT_OURS}") from exc
    lines = text.splitlines()
    result = []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines) and not text.endswith("\n"):
                break  # the torn last line of a crash
            raise CheckpointError(
                f"metrics log {path} line {number} is not JSON: {_NOT_OURS}"
            ) from exc
        step = record["step"] if isinstance(record, dict) and "step" in record else None
        if not isinstance(step, int) or isinstance(step, bool):
            raise CheckpointError(
                f"metrics log {path} line {number} is not a JSON object with an integer "
                f"step: {_NOT_OURS}"
            )
        result.append((step, line))
    return result


def _trainer_state(path: Path, device: torch.device) -> dict[str, Any]:
    """The checked contents of `trainer_state.pt`: `step`, `optimizer`, `sigreg_generator`."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises several types for a corrupt file
        raise CheckpointError(f"trainer state {path} is corrupt: {_first_line(exc)}") from exc
    wanted = ("step", "optimizer", "sigreg_generator")
    if not isinstance(state, dict) or not set(wanted) <= set(state):
        raise CheckpointError(
            f"trainer state {path} is not an ami trainer state (wants {', '.join(wanted)}): "
            "move the checkpoint away or train into another --out"
        )
    step, optimizer, generator = (state[key] for key in wanted)
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise CheckpointError(f"trainer state {path} has step {step!r}, not a step count")
    if not isinstance(optimizer, dict) or not isinstance(optimizer.get("state"), dict):
        raise CheckpointError(f"trainer state {path} holds no optimiser state")
    if not isinstance(generator, torch.Tensor) or generator.dtype != torch.uint8:
        raise CheckpointError(f"trainer state {path} holds no SIGReg generator state")
    state["sigreg_generator"] = generator.cpu()
    return state


def _require_state_shapes(optimizer: torch.optim.Optimizer, source: Path) -> None:
    """Refuse optimiser moments whose shapes differ from their parameters' (torch does not)."""
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            for name, value in optimizer.state.get(parameter, {}).items():
                if name in ("exp_avg", "exp_avg_sq") and value.shape != parameter.shape:
                    raise CheckpointError(
                        f"trainer state {source} does not fit this model's optimiser: a "
                        f"{name} of shape {tuple(value.shape)} for a parameter of shape "
                        f"{tuple(parameter.shape)}"
                    )


def _schedule(config_path: Path) -> tuple[tuple[int, int], ...]:
    """The schedule stretches recorded in a checkpoint's `model.json` (`Resumed.schedule`).

    Checkpoints from before stretches were recorded have one: `(0, train_config.steps)`.
    """
    metadata = read_checkpoint_json(config_path).get("metadata")
    if isinstance(metadata, dict) and "schedule" in metadata:
        recorded = metadata["schedule"]
    elif isinstance(metadata, dict) and isinstance(metadata.get("train_config"), dict):
        recorded = [[0, metadata["train_config"].get("steps")]]
    else:
        recorded = None
    if not isinstance(recorded, list) or not all(
        isinstance(pair, list)
        and len(pair) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in pair)
        for pair in recorded
    ):
        raise CheckpointError(
            f"checkpoint {config_path} does not record its learning-rate schedule "
            "(metadata.schedule or metadata.train_config.steps): it was not written by ami's "
            "trainer; train into another --out"
        )
    return tuple((first, total) for first, total in recorded)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
