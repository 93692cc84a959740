"""The training loop: AdamW, warm-up + cosine, gradient clipping, seeded, resumable, data-parallel.

A run folder holds `metrics.jsonl` (one JSON object per logged step) and `checkpoint/` (the model
as safetensors + JSON, and `trainer_state.pt` with the optimiser, the step and the SIGReg
generator). Calling `train` again on the same folder resumes from the checkpoint and reaches the
same weights as an uninterrupted run. The batches of step `s` come from a generator seeded by
`(seed, rank, s)`, so there is no sampler state to save.

Under torchrun every rank calls `train` with its own shard of windows; the step runs under
DistributedDataParallel (`ami.training.distributed` says how it equals one process with the
global batch), the metrics are averaged over ranks, and only rank 0 writes the run folder, shows
progress and calls the callbacks. The checkpoint holds nothing per rank, so a run resumes with any
number of processes.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import Tensor

from ami.config import (
    config_to_dict,
    require_choice,
    require_in_range,
    require_non_negative,
    require_positive,
)
from ami.device import PRECISIONS, precision_context
from ami.errors import CheckpointError, ConfigError
from ami.files import atomic_path, atomic_write_bytes
from ami.model import SIGReg, SIGRegConfig, WorldModel
from ami.training.batches import step_batches
from ami.training.distributed import barrier, current_rank, step_generator
from ami.training.objective import ObjectiveConfig, embedding_std, jepa_loss, loss_floats
from ami.training.schedule import warmup_cosine
from ami.training.step import SeededSIGReg, TrainStep

METRICS_FILE = "metrics.jsonl"
CHECKPOINT_DIR = "checkpoint"
TRAINER_STATE = "trainer_state.pt"


class WindowSampler(Protocol):
    """What the loop needs of a dataset: batches of T-step windows."""

    def sample(self, batch_size: int, generator: torch.Generator) -> dict[str, Tensor]:
        """`{"pixels": uint8 [B, T, 3, h, w], "actions": [B, T-1, A], ...}`."""
        ...


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (one field, one meaning).

    Attributes:
        steps: optimiser steps in total.
        batch_size: windows per step and process (the global batch is `batch_size` times the
            number of processes).
        lr: peak learning rate of AdamW.
        weight_decay: AdamW weight decay.
        warmup_steps: linear warm-up length.
        grad_clip: max global gradient norm (0 disables clipping).
        seed: seeds batch sampling and the SIGReg directions.
        log_every: steps between metric lines.
        valid_every: steps between validation measurements (0 disables).
        checkpoint_every: steps between checkpoints (the last step is always saved).
        precision: "auto" (bf16 where the device computes it natively, else fp32:
            `ami.device.resolve_precision`), "fp32", or "bf16" (bfloat16 autocast of the forward
            pass; weights, gradients, optimiser and SIGReg stay float32).
        compile: run the loss through `torch.compile` (the first steps pay for compilation);
            "auto" where a compiler for it is found (`ami.training.step.resolve_compile`).
        loader_workers: processes drawing the batches ahead of the step (0: drawn in the loop);
            the batches, hence the run, are the same with any number (`ami.training.batches`).
        colour_shift: share of training windows whose hue turns part-way
            (`ami.training.colour_shift`), so the encoder learns to ignore colour (0: none).
        symmetries: train on every window moved by a random symmetry of the world (quarter
            turns, mirror images: `ami.training.symmetry`); only for worlds that declare them.
        objective: loss weights.
        sigreg: the SIGReg statistic's settings.
    """

    steps: int = 3000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-3
    warmup_steps: int = 100
    grad_clip: float = 1.0
    seed: int = 0
    log_every: int = 25
    valid_every: int = 250
    checkpoint_every: int = 500
    precision: str = "auto"
    compile: bool | str = False
    loader_workers: int = 0
    colour_shift: float = 0.0
    symmetries: bool = False
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    sigreg: SIGRegConfig = field(default_factory=SIGRegConfig)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "lr", "log_every", "checkpoint_every"):
            require_positive("TrainConfig", name, getattr(self, name))
        for name in ("weight_decay", "warmup_steps", "grad_clip", "valid_every", "loader_workers"):
            require_non_negative("TrainConfig", name, getattr(self, name))
        require_choice("TrainConfig", "precision", self.precision, PRECISIONS)
        require_in_range("TrainConfig", "colour_shift", self.colour_shift, 0.0, 1.0)
        if self.compile != "auto" and not isinstance(self.compile, bool):
            raise ConfigError(
                f"TrainConfig.compile must be true, false or auto, got {self.compile!r}"
            )
        if not isinstance(self.symmetries, bool):
            raise ConfigError(
                f"TrainConfig.symmetries must be true or false, got {self.symmetries!r}"
            )


@dataclass(frozen=True)
class TrainResult:
    """What a call to `train` did."""

    steps: int
    resumed_from: int
    seconds: float
    frames_per_second: float
    last_metrics: dict[str, float]
    checkpoint: Path


StepCallback = Callable[[int, dict[str, float]], None]


def train(
    model: WorldModel,
    train_windows: WindowSampler,
    valid_windows: WindowSampler | None,
    config: TrainConfig,
    run_dir: str | Path,
    metadata: dict[str, Any] | None = None,
    progress: bool = True,
    callbacks: Sequence[StepCallback] = (),
) -> TrainResult:
    """Train `model` in place on windows, logging to and checkpointing in `run_dir`.

    Resumes automatically when `run_dir/checkpoint/trainer_state.pt` exists. `callbacks` are called
    with `(step, metrics)` at every logged step. Under torchrun, `train_windows` is this rank's
    shard and only rank 0 writes, shows progress and calls back (module docstring).
    """
    rank = current_rank()
    run_dir = Path(run_dir)
    device = model.device
    precision_context(config.precision, device)  # an unsupported precision fails before any work
    if rank.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _recover_checkpoint(run_dir)
    barrier()  # every rank reads the checkpoint rank 0 may just have recovered
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    sigreg_generator = torch.Generator(device=device).manual_seed(config.seed + 1)
    start = _resume(model, optimizer, sigreg_generator, run_dir)
    if rank.is_main:
        _truncate_metrics(run_dir / METRICS_FILE, start)
    step = TrainStep(model, optimizer, sigreg_generator, config)
    frames = 0  # frames per step over all ranks
    calibrated_at = -1
    metrics: dict[str, float] = {}
    started = time.perf_counter()
    model.train()
    with (
        _progress_bar(progress and rank.is_main) as bar,
        _metrics_log(run_dir, rank.is_main) as log,
    ):
        task = bar.add_task("training", total=config.steps, completed=start, loss=float("nan"))
        batches = step_batches(
            train_windows,
            config.batch_size,
            config.seed,
            rank.rank,
            start,
            config.steps,
            workers=config.loader_workers,
            pin_memory=device.type == "cuda",
        )
        for index, batch in enumerate(batches, start=start):
            frames = batch["pixels"].shape[0] * batch["pixels"].shape[1] * rank.world_size
            lr = config.lr * warmup_cosine(index, config.steps, config.warmup_steps)
            parts = step(batch["pixels"], batch["actions"], lr)
            done = index + 1
            bar.update(task, completed=done, loss=parts["loss"])
            if done % config.log_every == 0 or done == config.steps:
                elapsed = time.perf_counter() - started
                metrics = {"step": done, "lr": lr, **parts}
                metrics["frames_per_second"] = frames * (done - start) / elapsed
                if (
                    valid_windows is not None
                    and config.valid_every
                    and (done % config.valid_every == 0 or done == config.steps)
                ):
                    _recalibrate(model, train_windows, config, rank.rank, done)
                    calibrated_at = done
                    if rank.is_main:
                        metrics.update(_validate(model, valid_windows, config))
                if log is not None:
                    log.write(json.dumps(metrics) + "\n")
                    log.flush()
                    for callback in callbacks:
                        callback(done, metrics)
            if done % config.checkpoint_every == 0 or done == config.steps:
                if calibrated_at != done:
                    _recalibrate(model, train_windows, config, rank.rank, done)
                if rank.is_main:
                    _save(model, optimizer, sigreg_generator, run_dir, done, config, metadata)
    seconds = time.perf_counter() - started
    model.eval()
    return TrainResult(
        steps=config.steps,
        resumed_from=start,
        seconds=seconds,
        frames_per_second=frames * (config.steps - start) / seconds if seconds > 0 else 0.0,
        last_metrics=metrics,
        checkpoint=run_dir / CHECKPOINT_DIR,
    )


@torch.no_grad()
def recalibrate_batchnorm(
    model: WorldModel,
    windows: WindowSampler,
    batch_size: int,
    generator: torch.Generator,
    batches: int = 16,
) -> None:
    """Re-estimate BatchNorm running statistics as exact averages over `batches` fresh batches.

    The exponential running averages lag behind a moving network, and the projector's
    pre-normalisation features can have a mean hundreds of times their spread, so a small lag
    turns into a large error in eval mode (measured: eval-mode prediction loss 5× the train-mode
    one). Exact averages at the current weights ("precise BN") remove that gap.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    was_training = model.training
    saved_momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average
    model.train()
    for _ in range(batches):
        model.encode(windows.sample(batch_size, generator)["pixels"].to(model.device))
    for norm, momentum in zip(norms, saved_momenta, strict=True):
        norm.momentum = momentum
    model.train(was_training)


def _recalibrate(
    model: WorldModel, windows: WindowSampler, config: TrainConfig, rank: int, step: int
) -> None:
    """`recalibrate_batchnorm` with batches of its own stream (every rank takes part under DDP)."""
    generator = step_generator(config.seed, rank, step, stream=1)
    recalibrate_batchnorm(model, windows, config.batch_size, generator)


@torch.no_grad()
def _validate(model: WorldModel, windows: WindowSampler, config: TrainConfig) -> dict[str, float]:
    """Losses on a fixed batch of held-out windows (same batch every time; rank 0 alone)."""
    model.eval()
    sigreg = SIGReg(config.sigreg, gather=False).to(model.device)
    batch = windows.sample(config.batch_size, torch.Generator().manual_seed(12345))
    pixels, actions = batch["pixels"].to(model.device), batch["actions"].to(model.device)
    directions = torch.Generator(device=model.device).manual_seed(config.seed + 2)
    _, parts = jepa_loss(model, SeededSIGReg(sigreg, directions), pixels, actions, config.objective)
    result = {f"valid_{k}": v for k, v in loss_floats(parts).items()}
    result["valid_embedding_std"] = embedding_std(model, pixels)
    model.train()
    return result


def _save(
    model: WorldModel,
    optimizer: torch.optim.Optimizer,
    sigreg_generator: torch.Generator,
    run_dir: Path,
    step: int,
    config: TrainConfig,
    metadata: dict[str, Any] | None,
) -> None:
    """Write the whole checkpoint folder as one unit.

    The model files and the trainer state are written into a fresh folder, which then replaces
    the old checkpoint by two renames; a crash at any point leaves either the old or the new
    checkpoint whole (`_recover_checkpoint` finishes an interrupted swap).
    """
    checkpoint = run_dir / CHECKPOINT_DIR
    staging = run_dir / f".{CHECKPOINT_DIR}.new"
    previous = run_dir / f".{CHECKPOINT_DIR}.old"
    shutil.rmtree(staging, ignore_errors=True)
    model.save(
        staging,
        metadata={**(metadata or {}), "step": step, "train_config": config_to_dict(config)},
    )
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


def _recover_checkpoint(run_dir: Path) -> None:
    """Finish a checkpoint swap that a crash interrupted between its two renames."""
    checkpoint, previous = run_dir / CHECKPOINT_DIR, run_dir / f".{CHECKPOINT_DIR}.old"
    if not checkpoint.exists() and previous.exists():
        os.replace(previous, checkpoint)
    shutil.rmtree(run_dir / f".{CHECKPOINT_DIR}.new", ignore_errors=True)


def _resume(
    model: WorldModel,
    optimizer: torch.optim.Optimizer,
    sigreg_generator: torch.Generator,
    run_dir: Path,
) -> int:
    """Load the run's checkpoint into the model and optimiser; return the step to start from.

    The SIGReg generator is the same on every rank (rank 0's directions are broadcast anyway),
    and the batch generators are derived from the step: nothing depends on the number of ranks.
    """
    state_path = run_dir / CHECKPOINT_DIR / TRAINER_STATE
    if not state_path.exists():
        return 0
    saved = WorldModel.load(run_dir / CHECKPOINT_DIR, device=model.device)
    if saved.config != model.config:
        raise CheckpointError(
            f"cannot resume {run_dir}: its checkpoint has a different model config"
        )
    model.load_state_dict(saved.state_dict())
    try:
        state = torch.load(state_path, map_location=model.device, weights_only=True)
    except Exception as exc:  # torch raises several types for a corrupt file
        raise CheckpointError(f"trainer state {state_path} is corrupt: {exc}") from exc
    optimizer.load_state_dict(state["optimizer"])
    sigreg_generator.set_state(state["sigreg_generator"])
    return int(state["step"])


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop metric lines after `step` (left by a run that died after its last checkpoint)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= step:
                kept.append(line)
        except (json.JSONDecodeError, KeyError):
            break  # a torn last line from a crash
    atomic_write_bytes(path, "".join(f"{line}\n" for line in kept).encode())


@contextmanager
def _metrics_log(run_dir: Path, enabled: bool) -> Iterator[IO[str] | None]:
    """The metrics file opened for appending (None where this rank does not write)."""
    if not enabled:
        yield None
        return
    with open(run_dir / METRICS_FILE, "a") as log:
        yield log


def _progress_bar(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
    )
