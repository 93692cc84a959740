"""One optimisation step of the world model, the same code with one process or under torchrun.

`TrainStep` runs the JEPA loss in the configured precision (`fp32`, or `bf16` autocast),
optionally through `torch.compile`, then backward, gradient clipping and the optimiser's step.
Under torchrun the model's BatchNorm becomes `GlobalBatchNorm` and the loss runs under
DistributedDataParallel, so that N ranks with B windows each take the very step that one process
takes with the N·B windows (tested in `tests/test_distributed.py`); the returned loss parts are
averaged over ranks.

Under `bf16` only the forward pass runs in bfloat16: SIGReg, the losses, the weights, the
gradients and AdamW stay float32. `jepa_loss` returns its parts as detached tensors, read out as
floats after the step (`loss_floats`), so the compiled loss is one graph; `compile` where
inductor finds no compiler is a `ConfigError` when the step is built (`require_compiler`), not a
failure inside torch at the first step.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ami.device import precision_context
from ami.errors import ConfigError, TrainingDivergedError
from ami.model import SIGReg, WorldModel
from ami.training.distributed import current_rank, data_parallel, mean_over_ranks, sync_batchnorm
from ami.training.objective import ObjectiveConfig, jepa_loss, loss_floats

if TYPE_CHECKING:
    from ami.training.config import TrainConfig


class TrainStep:
    """Forward in the configured precision, backward, clipping, `optimizer.step()`."""

    def __init__(
        self,
        model: WorldModel,
        optimizer: torch.optim.Optimizer,
        sigreg_generator: torch.Generator,
        config: TrainConfig,
    ) -> None:
        self.model, self.optimizer, self.config = model, optimizer, config
        self.device = model.device
        compiled = resolve_compile(config.compile, self.device)
        if current_rank().world_size > 1:
            sync_batchnorm(model)
        sigreg = SeededSIGReg(SIGReg(config.sigreg).to(self.device), sigreg_generator)
        loss = data_parallel(_Loss(model, sigreg, config.objective), self.device)
        self.loss: Callable[[Tensor, Tensor | None], tuple[Tensor, dict[str, Tensor]]] = (
            torch.compile(loss) if compiled else loss
        )

    def __call__(
        self, pixels: Tensor, actions: Tensor, lr: float, step: int | None = None
    ) -> dict[str, float]:
        """Step on `pixels uint8 [B, T, 3, h, w]` and `actions [B, T-1, A]` at learning rate `lr`.

        Under `TrainConfig.actions = "none"` the actions are not passed to the loss at all.

        `step` (counted from 1), where given, is the step an error names. The check costs no
        synchronisation of its own: it reads the floats that are logged anyway, averaged over
        ranks (a NaN on one rank is a NaN in the mean), so every rank stops at the same step.

        Returns:
            `loss`, `pred_loss`, `sigreg` (, `rollout_loss`, `grad_norm`), averaged over ranks.

        Raises:
            TrainingDivergedError: a loss part or the gradient norm (measured when clipping is
                on) is not finite; the step is not applied.
        """
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        given = None if self.config.actions == "none" else actions  # frames alone: no actions
        with precision_context(self.config.precision, self.device):
            loss, tensors = self.loss(
                pixels.to(self.device, non_blocking=True),
                None if given is None else given.to(self.device, non_blocking=True),
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        parts = loss_floats(tensors)
        if self.config.grad_clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            parts["grad_norm"] = float(norm)
        parts = mean_over_ranks(parts, self.device)
        broken = [name for name, value in parts.items() if not math.isfinite(value)]
        if broken:
            values = ", ".join(f"{parts[name]}" for name in broken)
            raise TrainingDivergedError(
                _diverged(step, self.config.steps, f"{', '.join(broken)} ({values}) not finite")
            )
        self.optimizer.step()
        return parts


@torch.no_grad()
def require_finite_weights(model: WorldModel, step: int, steps: int) -> None:
    """Refuse to go on (and save) with weights or BatchNorm statistics that are not finite.

    One synchronisation for all tensors; called before each checkpoint, not each step.

    Raises:
        TrainingDivergedError: a floating-point tensor of the state dict holds NaN or inf.
    """
    named = [(name, t) for name, t in model.state_dict().items() if t.is_floating_point()]
    finite = torch.stack([torch.isfinite(t).all() for _, t in named]).tolist()
    broken = [name for (name, _), ok in zip(named, finite, strict=True) if not ok]
    if broken:
        more = f" and {len(broken) - 1} more" if len(broken) > 1 else ""
        raise TrainingDivergedError(
            _diverged(step, steps, f"the weights ({broken[0]}{more}) are not finite")
        )


def _diverged(step: int | None, steps: int, what: str) -> str:
    """The one line of a `TrainingDivergedError`."""
    where = f" at step {step} of {steps}" if step is not None else ""
    return (
        f"training diverged{where}: {what}; it was not saved, the checkpoint on disk is the "
        "last finite one: lower TrainConfig.lr or look for NaN or inf in the data"
    )


def resolve_compile(setting: bool | str, device: torch.device) -> bool:
    """Whether the loss runs through `torch.compile`: `setting`, or for "auto" the device's best.

    "auto" compiles where inductor finds its compiler (`has_compiler`): measured faster than
    eager on every device measured (`benchmarks/precision.py`); without a compiler it trains
    eagerly. `True` without a compiler is a `ConfigError` (`require_compiler`).
    """
    if setting == "auto":
        return device.type in ("cpu", "cuda") and has_compiler(device)
    if setting is True:
        require_compiler(device)
    return bool(setting)


def has_compiler(device: torch.device) -> bool:
    """Whether the compiler inductor calls on `device` is named by `CXX` / `CC` or on the PATH."""
    return not _missing_compilers(device)


def _missing_compilers(device: torch.device) -> list[str]:
    """The compilers inductor would look for on `device`, if none of them is found, else []."""
    variable, candidates = (
        ("CXX", ("g++", "clang++", "c++"))
        if device.type == "cpu"
        else ("CC", ("gcc", "clang", "cc"))
    )
    named = os.environ.get(variable, "").split()
    wanted = named[:1] or list(candidates)
    return [] if any(shutil.which(name) for name in wanted) else wanted


def require_compiler(device: torch.device) -> None:
    """Fail at once, in one line, where `torch.compile` would fail deep in its first step.

    `torch.compile` turns the loss into C++ on the CPU (and builds Triton's launchers with a C
    compiler on a GPU) when the first step runs; without a compiler that step dies in a long
    traceback from inside torch.

    Raises:
        ConfigError: no compiler named by `CXX` / `CC` or found on the PATH.
    """
    wanted = _missing_compilers(device)
    if wanted:
        raise ConfigError(
            f"TrainConfig.compile needs a compiler ({' or '.join(wanted)}) for torch.compile on "
            f"{device.type}, and none was found: install one, or train with compile false"
        )


class _Loss(torch.nn.Module):
    """The JEPA loss as a module: DDP synchronises gradients through a module's `forward`."""

    def __init__(
        self, model: WorldModel, sigreg: torch.nn.Module, objective: ObjectiveConfig
    ) -> None:
        super().__init__()
        self.model, self.sigreg, self.objective = model, sigreg, objective

    def forward(self, pixels: Tensor, actions: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        """`jepa_loss` of the batch: the scalar loss and its parts."""
        return jepa_loss(self.model, self.sigreg, pixels, actions, self.objective)


class SeededSIGReg(torch.nn.Module):
    """SIGReg whose random directions come from a given generator (reproducible, resumable)."""

    def __init__(self, sigreg: SIGReg, generator: torch.Generator) -> None:
        super().__init__()
        self.sigreg, self.generator = sigreg, generator

    def forward(self, z: Tensor) -> Tensor:
        """The statistic of `z [B, T, D]` with directions drawn from the generator."""
        return self.sigreg(z, generator=self.generator)
