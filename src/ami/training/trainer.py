"""The training loop: AdamW, warm-up + cosine, gradient clipping, seeded, resumable, data-parallel.

A run folder holds `metrics.jsonl` (one JSON object per logged step) and `checkpoint/` (the model
as safetensors + JSON, and `trainer_state.pt` with the optimiser, the step and the SIGReg
generator). Calling `train` again on the same folder resumes from the checkpoint and reaches the
same weights as an uninterrupted run. The batches of step `s` come from a generator seeded by
`(seed, rank, s)`, so there is no sampler state to save (`ami.training.checkpoint` saves, resumes
and guards the folder).

The folder rule: `train` writes into a folder that does not exist, is empty, or is an ami run
folder, i.e. holds `recipe.json`, `metrics.jsonl` or `checkpoint/` (or the checkpoint swap's
`.checkpoint.new` / `.checkpoint.old`); any other folder is refused with a `ConfigError` before a
file is written. ami's files in it must be ami's: every `metrics.jsonl` line a JSON object with an
integer `step` (a torn last line aside), the checkpoint folders holding only `model.safetensors`,
`model.json` and `trainer_state.pt`; otherwise it is a `CheckpointError` and nothing is removed.

Training stops with a `TrainingDivergedError` at the first step whose loss (or any part of it) or
gradient norm is not finite, before that step is applied, and before a checkpoint whose weights
are not finite would be saved: the last checkpoint on disk is the last finite one.

Under torchrun every rank calls `train` with its own shard of windows; the step runs under
DistributedDataParallel (`ami.training.distributed` says how it equals one process with the
global batch), the metrics are averaged over ranks, and only rank 0 writes the run folder, shows
progress and calls the callbacks. The checkpoint holds nothing per rank, so a run resumes with any
number of processes.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ami.config import (
    config_to_dict,
)
from ami.device import precision_context, torch_threads, training_threads
from ami.errors import ConfigError
from ami.model import SIGReg, WorldModel
from ami.training.batches import step_batches
from ami.training.checkpoint import (
    CHECKPOINT_DIR,
    METRICS_FILE,
    TRAINER_STATE,
    Resumed,
    check_run_folder,
    past_total,
    recover_checkpoint,
    resume,
    save_checkpoint,
    truncate_metrics,
)
from ami.training.config import StepCallback, TrainConfig, TrainResult, WindowSampler
from ami.training.distributed import barrier, current_rank, local_processes, step_generator
from ami.training.objective import embedding_std, jepa_loss, loss_floats
from ami.training.schedule import warmup_cosine
from ami.training.stages import train_mode, trainable_parameters
from ami.training.step import SeededSIGReg, TrainStep, require_finite_weights

__all__ = [
    "CHECKPOINT_DIR",
    "METRICS_FILE",
    "TRAINER_STATE",
    "StepCallback",
    "TrainConfig",
    "TrainResult",
    "WindowSampler",
    "recalibrate_batchnorm",
    "train",
]


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
    check_run_folder(run_dir, config.steps)  # on every rank, before anything is written
    barrier()
    if rank.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        recover_checkpoint(run_dir)
    barrier()  # every rank reads the checkpoint rank 0 may just have recovered
    optimizer = torch.optim.AdamW(  # a frozen part is not in it (`ami.training.stages`)
        trainable_parameters(model, config), lr=config.lr, weight_decay=config.weight_decay
    )
    sigreg_generator = torch.Generator(device=device).manual_seed(config.seed + 1)
    resumed = resume(model, optimizer, sigreg_generator, run_dir)
    start = resumed.step
    schedule = _schedule(resumed, config, run_dir, note=rank.is_main)
    checkpoint_metadata = {
        **(metadata or {}),
        "train_config": config_to_dict(config),
        "schedule": [list(stretch) for stretch in schedule],
    }
    if rank.is_main:
        truncate_metrics(run_dir / METRICS_FILE, start)
    step = TrainStep(model, optimizer, sigreg_generator, config)
    frames = 0  # frames per step over all ranks
    calibrated_at = -1
    metrics: dict[str, float] = {}
    started = time.perf_counter()
    train_mode(model, config)
    threads = training_threads(local_processes()) if device.type == "cpu" else None
    with (
        torch_threads(threads),
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
            done = index + 1
            parts = step(batch["pixels"], batch["actions"], lr, done)
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
                require_finite_weights(model, done, config.steps)  # every rank: same weights
                if rank.is_main:
                    save_checkpoint(
                        model, optimizer, sigreg_generator, run_dir, done, checkpoint_metadata
                    )
    seconds = time.perf_counter() - started
    model.eval()
    return TrainResult(
        steps=config.steps,
        resumed_from=start,
        seconds=seconds,
        frames_per_second=frames * (config.steps - start) / seconds if seconds > 0 else 0.0,
        last_metrics=metrics,
        checkpoint=run_dir / CHECKPOINT_DIR,
        threads=threads,
    )


def _schedule(
    resumed: Resumed, config: TrainConfig, run_dir: Path, note: bool
) -> tuple[tuple[int, int], ...]:
    """The schedule's stretches with this call's: a new one when resumed toward another total.

    Raises:
        ConfigError: the checkpoint is past `config.steps`.
    """
    if not resumed.schedule:
        return ((0, config.steps),)
    if resumed.step > config.steps:
        raise ConfigError(past_total(run_dir, resumed.step, config.steps))
    trained_toward = resumed.schedule[-1][1]
    if trained_toward == config.steps or resumed.step == config.steps:
        return resumed.schedule
    if note:
        print(
            f"ami: note: resuming {run_dir} at step {resumed.step} toward {config.steps} steps, "
            f"but its checkpoint was trained toward {trained_toward}: the learning rate follows "
            f"the {config.steps}-step schedule from here, so the run differs from one trained "
            f"toward {config.steps} from the start (recorded as metadata.schedule in "
            f"{CHECKPOINT_DIR}/model.json)",
            file=sys.stderr,
        )
    return (*resumed.schedule, (resumed.step, config.steps))


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
    """`recalibrate_batchnorm` with batches of its own stream (every rank takes part under DDP).

    A frozen encoder keeps its statistics (the predictor has no BatchNorm).
    """
    if config.freeze_encoder:
        return
    generator = step_generator(config.seed, rank, step, stream=1)
    recalibrate_batchnorm(model, windows, config.batch_size, generator)


@torch.no_grad()
def _validate(model: WorldModel, windows: WindowSampler, config: TrainConfig) -> dict[str, float]:
    """Losses on a fixed batch of held-out windows (same batch every time; rank 0 alone)."""
    model.eval()
    sigreg = SIGReg(config.sigreg, gather=False).to(model.device)
    batch = windows.sample(config.batch_size, torch.Generator().manual_seed(12345))
    pixels = batch["pixels"].to(model.device)
    actions = None if config.actions == "none" else batch["actions"].to(model.device)
    directions = torch.Generator(device=model.device).manual_seed(config.seed + 2)
    _, parts = jepa_loss(model, SeededSIGReg(sigreg, directions), pixels, actions, config.objective)
    result = {f"valid_{k}": v for k, v in loss_floats(parts).items()}
    result["valid_embedding_std"] = embedding_std(model, pixels)
    train_mode(model, config)
    return result


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
