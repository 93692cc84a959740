"""Under torch.distributed, SIGReg is the statistic of the global batch, with shared directions."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ami.model import SIGReg

WORLD = 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker(rank: int, port: int, out_dir: str) -> None:
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        full = torch.randn(64, 3, 8, generator=torch.Generator().manual_seed(0)) * 0.5
        local = full[rank * 32 : (rank + 1) * 32].clone().requires_grad_(True)
        # Each rank draws different directions; SIGReg must broadcast rank 0's.
        generator = torch.Generator().manual_seed(100 + rank)
        value = SIGReg()(local, generator=generator)
        value.backward()
        torch.save({"value": value.detach(), "grad": local.grad}, Path(out_dir) / f"{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_statistic_is_that_of_the_gathered_batch(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    results = [torch.load(tmp_path / f"{rank}.pt") for rank in range(WORLD)]
    full = (
        torch.randn(64, 3, 8, generator=torch.Generator().manual_seed(0)) * 0.5
    ).requires_grad_()
    expected = SIGReg()(full, generator=torch.Generator().manual_seed(100))
    expected.backward()
    for rank, result in enumerate(results):
        torch.testing.assert_close(result["value"], expected.detach())
        # Every rank computes the same global loss and all_gather's backward sums the ranks'
        # gradients, so a shard's gradient is WORLD times its part of the global gradient; DDP's
        # averaging of parameter gradients over ranks then gives exactly the global gradient.
        shard = full.grad[rank * 32 : (rank + 1) * 32]
        torch.testing.assert_close(result["grad"], WORLD * shard, rtol=1e-4, atol=1e-6)
