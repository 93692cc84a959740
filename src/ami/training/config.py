"""Training settings: `TrainConfig` (one field, one meaning), `TrainResult`, `WindowSampler`.

`TrainConfig` is a frozen dataclass checked at construction (every number finite, sizes positive,
precision and compile among their choices), so a bad setting is one `ConfigError` naming the field
before any work; the loop that uses it is `ami.training.trainer.train`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor

from ami.config import (
    require_choice,
    require_finite,
    require_in_range,
    require_non_negative,
    require_positive,
)
from ami.device import PRECISIONS
from ami.errors import ConfigError
from ami.model import SIGRegConfig
from ami.training.objective import ObjectiveConfig

__all__ = ["ACTIONS", "MAX_LIGHTING", "StepCallback", "TrainConfig", "TrainResult", "WindowSampler"]

ACTIONS = ("given", "none")  # TrainConfig.actions: learn from the actions, or from frames alone
MAX_LIGHTING = 0.9  # TrainConfig.lighting's upper bound: both factors stay in [0.1, 1.9]


class WindowSampler(Protocol):
    """What the loop needs of a dataset: batches of T-step windows."""

    def sample(self, batch_size: int, generator: torch.Generator) -> dict[str, Tensor]:
        """`{"pixels": uint8 [B, T, 3, h, w], "actions": [B, T-1, A], ...}`."""
        ...


_NUMBERS = (
    "steps",
    "batch_size",
    "lr",
    "weight_decay",
    "warmup_steps",
    "grad_clip",
    "log_every",
    "valid_every",
    "checkpoint_every",
    "loader_workers",
    "colour_shift",
    "shift_pixels",
    "lighting",
)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (one field, one meaning).

    Attributes:
        steps: optimiser steps in total; the cosine schedule decays to its floor at this step.
            A run resumed toward another total follows the new total's schedule from its
            checkpoint's step on (a note on stderr says so and `model.json` records every
            stretch as `metadata.schedule`), so it differs from a run trained toward that total
            from the start; resuming past `steps` is refused.
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
        shift_pixels: largest random shift of a training window in pixels, one offset per
            window (`ami.training.frame_augment`; 0: none; under a quarter of the image side,
            checked by `Recipe`).
        lighting: per-window brightness and contrast jitter: both factors uniform in
            [1 - lighting, 1 + lighting] (`ami.training.frame_augment`; 0: none; at most 0.9).
        symmetries: train on every window moved by a random symmetry of the world (quarter
            turns, mirror images: `ami.training.symmetry`); only for worlds that declare them.
        actions: "given" (the predictor is conditioned on the data's actions) or "none" (frames
            alone, e.g. video: the predictor runs without its action path, which is not
            trained, so the loss does not depend on the actions; `ami.training.stages`).
        freeze_encoder: keep the encoder as it starts (no gradient, not in the optimiser, its
            BatchNorm statistics kept): the second stage on an encoder pre-trained elsewhere.
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
    shift_pixels: int = 0
    lighting: float = 0.0
    symmetries: bool = False
    actions: str = "given"
    freeze_encoder: bool = False
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    sigreg: SIGRegConfig = field(default_factory=SIGRegConfig)

    def __post_init__(self) -> None:
        for name in _NUMBERS:
            require_finite("TrainConfig", name, getattr(self, name))
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(f"TrainConfig.seed must be a non-negative integer, got {self.seed!r}")
        for name in ("steps", "batch_size", "lr", "log_every", "checkpoint_every"):
            require_positive("TrainConfig", name, getattr(self, name))
        for name in ("weight_decay", "warmup_steps", "grad_clip", "valid_every", "loader_workers"):
            require_non_negative("TrainConfig", name, getattr(self, name))
        require_choice("TrainConfig", "precision", self.precision, PRECISIONS)
        require_in_range("TrainConfig", "colour_shift", self.colour_shift, 0.0, 1.0)
        if (
            not isinstance(self.shift_pixels, int)
            or isinstance(self.shift_pixels, bool)
            or self.shift_pixels < 0
        ):
            raise ConfigError(
                "TrainConfig.shift_pixels must be a non-negative integer, "
                f"got {self.shift_pixels!r}"
            )
        require_in_range("TrainConfig", "lighting", self.lighting, 0.0, MAX_LIGHTING)
        if self.compile != "auto" and not isinstance(self.compile, bool):
            raise ConfigError(
                f"TrainConfig.compile must be true, false or auto, got {self.compile!r}"
            )
        require_choice("TrainConfig", "actions", self.actions, ACTIONS)
        for name in ("symmetries", "freeze_encoder"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"TrainConfig.{name} must be true or false, got {getattr(self, name)!r}"
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
    threads: int | None = None  # torch CPU threads it trained with (None: not on the CPU)


StepCallback = Callable[[int, dict[str, float]], None]
