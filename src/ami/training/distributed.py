"""Data-parallel training under `torchrun`: the process group, global BatchNorm, per-rank sampling.

`torchrun --nproc_per_node=N -m ami train ...` starts N processes whose environment names their
`RANK`, `WORLD_SIZE`, `LOCAL_RANK` and the rendezvous address; `distributed_session` joins them
into one process group (gloo on the CPU, NCCL on CUDA with rank r on `cuda:LOCAL_RANK`) and leaves
it at the end. A process started without torchrun is a group of one: nothing is initialised and
every helper here is a no-op, so the same training code runs either way.

What makes N ranks × B windows one step of the same optimisation as 1 process × N·B windows:

- DDP averages the parameter gradients over ranks (mean losses over equal local batches).
- SIGReg gathers the embeddings of every rank (`ami.model.sigreg`), so its statistic is the
  global batch's.
- BatchNorm: DDP leaves BatchNorm's batch statistics local to each rank, and torch's
  `SyncBatchNorm` refuses CPU tensors, so `sync_batchnorm` swaps every BatchNorm for
  `GlobalBatchNorm`, which normalises with the mean and variance of the global batch through a
  differentiable all-reduce (on every device, so CPU and GPU runs compute the same thing).
- Every rank draws its batches from its own disjoint shard of windows with a generator derived
  from `(seed, rank, step)` (`step_generator`): the random stream is a function of the step, so
  a checkpoint needs no per-rank sampler state and resumes with any number of processes.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from ami.errors import ConfigError, ShapeError


@dataclass(frozen=True)
class Rank:
    """This process's place in the process group (a group of one without torchrun).

    Attributes:
        rank: global index of this process, `0 <= rank < world_size`.
        world_size: number of processes.
        local_rank: index of this process on its machine (its GPU under NCCL).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, metrics, logs and reports."""
        return self.rank == 0


def current_rank() -> Rank:
    """This process's `Rank` in the initialised process group, or a group of one."""
    if not (dist.is_available() and dist.is_initialized()):
        return Rank()
    rank = dist.get_rank()
    return Rank(rank, dist.get_world_size(), _env_int("LOCAL_RANK", rank))


def local_processes() -> int:
    """The training processes on this machine: torchrun's `LOCAL_WORLD_SIZE`, else the group's."""
    return max(1, _env_int("LOCAL_WORLD_SIZE", current_rank().world_size))


@contextmanager
def distributed_session(device: torch.device) -> Iterator[tuple[Rank, torch.device]]:
    """Join the process group that torchrun set up; yield this process's rank and device.

    Without torchrun (`WORLD_SIZE` unset or 1) nothing is initialised and `device` is yielded as
    is. Under torchrun a CUDA device becomes `cuda:LOCAL_RANK` (one GPU per process, NCCL); the CPU
    uses gloo. The group is destroyed on the way out, also after an error.

    Raises:
        ConfigError: the device has no distributed backend (e.g. MPS), the environment is
            malformed, or there are fewer GPUs than local processes.
    """
    world_size = _env_int("WORLD_SIZE", 1)
    if world_size <= 1 or (dist.is_available() and dist.is_initialized()):
        yield current_rank(), device
        return
    rank, local_rank = _env_int("RANK", -1), _env_int("LOCAL_RANK", -1)
    if not 0 <= rank < world_size or local_rank < 0:
        raise ConfigError(
            f"torchrun environment is malformed: RANK={rank}, LOCAL_RANK={local_rank}, "
            f"WORLD_SIZE={world_size}"
        )
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(
                f"local rank {local_rank} has no GPU: this machine has {torch.cuda.device_count()}"
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    elif device.type == "cpu":
        backend = "gloo"
    else:
        raise ConfigError(f"distributed training runs on cpu (gloo) or cuda (nccl), not {device}")
    dist.init_process_group(backend, rank=rank, world_size=world_size)
    try:
        dist.barrier()  # enter together: no rank writes before every rank checked the run folder
        yield Rank(rank, world_size, local_rank), device
        dist.barrier()  # leave together: a rank tearing down while rank 0 still saves aborts
    finally:
        gc.collect()  # DDP wrappers still holding the group go first (seen: SIGABRT at exit)
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op in a group of one)."""
    if current_rank().world_size > 1:
        dist.barrier()


def mean_over_ranks(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Each value averaged over the ranks (every rank must call this with the same keys)."""
    if current_rank().world_size == 1 or not values:
        return values
    stacked = torch.tensor(list(values.values()), dtype=torch.float64, device=device)
    dist.all_reduce(stacked, op=dist.ReduceOp.SUM)
    stacked /= dist.get_world_size()
    return dict(zip(values, stacked.tolist(), strict=True))


def step_generator(seed: int, rank: int, step: int, stream: int = 0) -> torch.Generator:
    """A CPU generator that depends only on `(seed, rank, step, stream)`.

    Distinct tuples give independent streams (NumPy's `SeedSequence` hashing), so ranks never
    draw the same windows by construction and a resumed run draws what an uninterrupted one does.
    """
    words = np.random.SeedSequence([seed, rank, step, stream]).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(words[0]) << 31 | int(words[1]) >> 1)


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm normalising with the statistics of the batch gathered over all ranks.

    Inputs are `[B, C, *]` (statistics per channel `C`, over the batch and any further axes).
    Outside a process group of several ranks, or in eval mode, it is plain BatchNorm. The sums
    are formed in float32 whatever the autocast dtype, and the variance in a second pass around
    the global mean (features whose mean is hundreds of times their spread lose the variance to
    cancellation in a one-pass `E[x²] − E[x]²`). The running variance is unbiased with the
    global count, as BatchNorm's is with a single process's batch.
    """

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ShapeError(f"GlobalBatchNorm expects [B, C, *], got {tuple(x.shape)}")

    def forward(self, x: Tensor) -> Tensor:
        """Normalise `x [B, C, *]` per channel; same shape out."""
        self._check_input_dim(x)
        if not (self.training and current_rank().world_size > 1):
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        xf = x.float()
        local_count = xf.new_tensor([xf.numel() / xf.shape[1]])
        sums = _all_reduce_sum(torch.cat([xf.sum(dims), local_count]))  # [C + 1]
        count = sums[-1]
        mean = sums[:-1] / count
        centred = xf - mean.view(shape)
        var = _all_reduce_sum(centred.square().sum(dims)) / count
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats and self.running_mean is not None:
            self._update_running_stats(mean.detach(), var.detach(), count.detach())
        return y

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, var: Tensor, count: Tensor) -> None:
        assert self.running_mean is not None and self.running_var is not None
        assert self.num_batches_tracked is not None
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        unbiased = var * (count / (count - 1.0).clamp_min(1.0))
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), factor)
        self.running_var.lerp_(unbiased.to(self.running_var.dtype), factor)


def sync_batchnorm(module: nn.Module) -> nn.Module:
    """Swap every BatchNorm inside `module` for a `GlobalBatchNorm` sharing its tensors.

    The parameters and buffers are the same objects and keep their names, so state dicts and
    checkpoints are unchanged. Returns `module` (changed in place).
    """
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(
            child, GlobalBatchNorm
        ):
            replacement = GlobalBatchNorm(
                child.num_features, child.eps, child.momentum, child.affine,
                child.track_running_stats,
            )  # fmt: skip
            for key in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                setattr(replacement, key, getattr(child, key))
            replacement.train(child.training)
            setattr(module, name, replacement)
        else:
            sync_batchnorm(child)
    return module


def data_parallel(module: nn.Module, device: torch.device) -> nn.Module:
    """`module` wrapped in `DistributedDataParallel` when there are several ranks, else itself.

    DDP synchronises gradients through `forward`, so wrap a module whose `forward` computes the
    loss. It broadcasts rank 0's parameters and buffers when built.
    """
    if current_rank().world_size == 1:
        return module
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=device_ids)


def _all_reduce_sum(x: Tensor) -> Tensor:
    """Sum of `x` over the ranks, differentiable (every rank uses the sum)."""
    return _AllReduceSum.apply(x)


class _AllReduceSum(torch.autograd.Function):
    """All-reduce (sum) whose backward sums the ranks' gradients of the result.

    Every rank computes its loss from the same sum, so the gradient of the sum over ranks of the
    losses with respect to this rank's input is the sum over ranks of their output gradients.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: Tensor) -> Tensor:  # type: ignore[override]
        total = x.detach().contiguous().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(
            f"environment variable {name} must be an integer, got {value!r}"
        ) from None
