"""Shared test set-up: the test folder is importable (for `fakes`), torch runs on one thread."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tiny tensors run fastest on one thread; on a busy 2-core machine two threads contend."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
