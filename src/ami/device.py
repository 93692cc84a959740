"""Device, precision and seed choice: `--device auto` picks CUDA, then MPS, then the CPU.

Precision `auto` picks bfloat16 only where the device computes it natively (a CUDA device with
bf16, a CPU with AVX512-BF16 or AMX tiles); elsewhere float32. A CPU without them (AVX2 only:
many laptops and servers) emulates bfloat16 matrix products far slower than float32 ones
(benchmarks/precision.py measures both on the machine at hand).

`planning_threads` and `training_threads` pick torch's CPU thread count for planning and for
training from the cores this process may use and the cores other processes keep busy
(`ami.machine_load`): on a busy machine extra threads wait for cores rather than compute.
"""

from __future__ import annotations

import functools
import math
import os
import platform
import random
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ami.errors import ConfigError
from ami.machine_load import others_busy_cores


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


PRECISIONS = ("auto", "fp32", "bf16")
"""Arithmetic precisions of the forward passes: the device's best (`resolve_precision`),
float32, or bfloat16 autocast."""


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 matrix products natively (faster than float32)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return bool(cpu_facts()["cpu_bf16_native"])
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """`precision` as run on `device`: "auto" becomes "bf16" where it is native, else "fp32".

    Raises:
        ConfigError: unknown precision.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


@functools.cache
def cpu_facts() -> dict[str, Any]:
    """The CPU's model name, torch's vector capability and its native bfloat16 support.

    `cpu_capability` is ATen's kernel level (`DEFAULT`, `AVX2`, `AVX512`, ...); bfloat16 is native
    with AVX512-BF16 or AMX tiles (x86, as torch reports them) or the `bf16` feature of an Arm CPU.
    """
    flags = _cpuinfo_field("flags") or _cpuinfo_field("Features") or ""
    x86_bf16 = any(
        bool(getattr(torch.cpu, name, lambda: False)())
        for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    )
    return {
        "cpu_model": _cpuinfo_field("model name") or platform.processor() or platform.machine(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_bf16_native": x86_bf16 or "bf16" in flags.split(),
        "cpu_amx": "amx_tile" in flags.split(),
    }


def _cpuinfo_field(name: str) -> str | None:
    """The first value of `name` in /proc/cpuinfo (None off Linux or where it is absent)."""
    try:
        lines = Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def precision_context(precision: str, device: torch.device) -> AbstractContextManager[object]:
    """A context that runs the forward pass in `precision` on `device` (a fresh one per use).

    "bf16" is `torch.autocast` to bfloat16: matrix products and convolutions in bfloat16,
    reductions and losses in float32; parameters and gradients stay float32. "auto" is
    `resolve_precision`'s choice for the device.

    Raises:
        ConfigError: unknown precision, or bf16 on a device without bfloat16 autocast.
    """
    precision = resolve_precision(precision, device)
    if precision == "fp32":
        return nullcontext()
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"bf16 autocast runs on cpu and cuda, not {device.type}")
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"device {device} does not support bfloat16")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


PLAN_THREADS_ENV = "AMI_PLAN_THREADS"
"""The environment variable that fixes the planning thread count (a positive integer)."""


TRAIN_THREADS_ENV = "AMI_TRAIN_THREADS"
"""The environment variable that fixes the training thread count (a positive integer)."""


def free_cores() -> int:
    """The cores this process may use less those everything else keeps busy, at least 1.

    The cores: `os.sched_getaffinity`, else `os.cpu_count`; everything else: the cores the other
    processes keep busy (`ami.machine_load.others_busy_cores`: sampled, this process's own
    threads excluded), rounded to whole cores (1.1 busy cores of 2 leave one; 0.4 leave both).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    others = math.floor(others_busy_cores() + 0.5)
    return max(1, min(cores, cores - others))


def training_threads(processes: int = 1) -> int:
    """Torch CPU threads for training: `$AMI_TRAIN_THREADS`, else the free cores per rank.

    The free cores (`free_cores`) are shared by the `processes` training ranks of this machine,
    and the count is never more than torch's own (`OMP_NUM_THREADS`, or `torch.set_num_threads`
    by the caller): the load only ever lowers it, as oversubscribed threads wait for cores.

    Raises:
        ConfigError: `$AMI_TRAIN_THREADS` is not a positive integer.
    """
    text = os.environ.get(TRAIN_THREADS_ENV, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(f"{TRAIN_THREADS_ENV} must be a positive integer, got {text!r}")
        return int(text)
    return max(1, min(torch.get_num_threads(), free_cores() // max(1, processes)))


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with `threads` torch CPU threads (None: unchanged); restore the count after."""
    before = torch.get_num_threads()
    if threads is None or threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def planning_threads(requested: int | None = None) -> int:
    """Torch CPU threads for planning: `requested`, else `$AMI_PLAN_THREADS`, else from the load.

    From the load: `free_cores()`, the cores this process may use less those the other
    processes keep busy, at least 1. A machine as busy as its cores plans with 1 thread.

    Raises:
        ConfigError: `requested` or `$AMI_PLAN_THREADS` is not a positive integer.
    """
    if requested is None and os.environ.get(PLAN_THREADS_ENV, "").strip():
        text = os.environ[PLAN_THREADS_ENV].strip()
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(f"{PLAN_THREADS_ENV} must be a positive integer, got {text!r}")
        requested = int(text)
    if requested is not None:
        if not isinstance(requested, int) or isinstance(requested, bool) or requested < 1:
            raise ConfigError(f"planning threads must be a positive integer, got {requested!r}")
        return requested
    return free_cores()
