"""Device, precision and seed choice: `--device auto` picks CUDA, then MPS, then the CPU."""

from __future__ import annotations

import random
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import torch

from ami.errors import ConfigError


def resolve_device(spec: str = "auto") -> torch.device:
    """The torch device for `spec` ("auto", "cpu", "cuda", "cuda:1", "mps").

    Raises:
        ConfigError: the spec is malformed or names a device this machine does not have.
    """
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {spec!r}; use auto, cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {spec!r} asked for, but CUDA is not available here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {spec!r} asked for, but MPS is not available here")
    return device


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU `torch.Generator` seeded with `seed`."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


PRECISIONS = ("fp32", "bf16")
"""Arithmetic precisions of the forward passes: float32, or bfloat16 autocast."""


def precision_context(precision: str, device: torch.device) -> AbstractContextManager[object]:
    """A context that runs the forward pass in `precision` on `device` (a fresh one per use).

    "bf16" is `torch.autocast` to bfloat16: matrix products and convolutions in bfloat16,
    reductions and losses in float32; parameters and gradients stay float32.

    Raises:
        ConfigError: unknown precision, or bf16 on a device without bfloat16 autocast.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if precision == "fp32":
        return nullcontext()
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"bf16 autocast runs on cpu and cuda, not {device.type}")
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"device {device} does not support bfloat16")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
