"""The training batches of steps `start..stop-1`, drawn here or by worker processes ahead of use.

The batch of step `s` is `sampler.sample(batch_size, step_generator(seed, rank, s))` whoever
draws it, so the stream is the same with any number of workers. With `workers > 0` a
`torch.utils.data.DataLoader` draws them in that many processes: worker `w` draws the steps
`start + w, start + w + workers, ...` and the loader hands them over in step order, each worker
keeping `prefetch` batches ready. That hides the cost of drawing (gathering frames, symmetries,
colour shift) behind the step, which matters where the step is fast (a GPU) or the batch large.
Workers are forked, so they share the frames in memory rather than copy them.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from typing import TYPE_CHECKING

from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ami.errors import ConfigError
from ami.training.distributed import step_generator

if TYPE_CHECKING:
    from ami.training.config import WindowSampler


class _StepBatches(IterableDataset[dict[str, Tensor]]):
    """The batches of steps `start..stop-1`, split round-robin between the loader's workers."""

    def __init__(
        self, sampler: WindowSampler, batch_size: int, seed: int, rank: int, start: int, stop: int
    ) -> None:
        self.sampler, self.batch_size = sampler, batch_size
        self.seed, self.rank, self.start, self.stop = seed, rank, start, stop

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        info = get_worker_info()
        first, every = (0, 1) if info is None else (info.id, info.num_workers)
        for step in range(self.start + first, self.stop, every):
            yield self.sampler.sample(self.batch_size, step_generator(self.seed, self.rank, step))


def step_batches(
    sampler: WindowSampler,
    batch_size: int,
    seed: int,
    rank: int,
    start: int,
    stop: int,
    workers: int = 0,
    prefetch: int = 4,
    pin_memory: bool = False,
) -> Iterator[dict[str, Tensor]]:
    """The batches of steps `start..stop-1` in order (module docstring).

    Args:
        sampler: the windows (with their augmentations) to draw from.
        batch_size: windows per batch.
        seed: the run's seed.
        rank: this process's rank (ranks draw independent streams).
        start: the first step.
        stop: one past the last step.
        workers: processes drawing batches ahead (0: drawn here, when asked for).
        prefetch: batches each worker keeps ready.
        pin_memory: hand over page-locked batches (faster copies to a CUDA device).

    Raises:
        ConfigError: negative `workers` or non-positive `prefetch`.
    """
    if workers < 0 or prefetch < 1:
        raise ConfigError(
            f"step_batches needs workers >= 0 and prefetch >= 1, got {workers} and {prefetch}"
        )
    batches = _StepBatches(sampler, batch_size, seed, rank, start, stop)
    if workers == 0:
        return iter(batches)
    loader = DataLoader(
        batches,
        batch_size=None,
        num_workers=workers,
        prefetch_factor=prefetch,
        pin_memory=pin_memory,
        multiprocessing_context=multiprocessing.get_context("fork"),
    )
    return iter(loader)
