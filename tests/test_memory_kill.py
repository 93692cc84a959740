"""Durability: a writer killed with SIGKILL in heavy writing loses nothing it had committed."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ami.memory import Memory

WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from ami.memory import Memory
    memory = Memory.open(sys.argv[1], synchronous=sys.argv[2])
    episode = memory.begin_episode(memory.begin_session("m"), "two_room")
    rng = np.random.default_rng(0)
    total = 0
    while True:
        memory.remember(episode, np.arange(500), rng.uniform(-1, 1, (500, 2)),
                        rng.normal(size=(500, 64)), "m",
                        rng.integers(0, 255, (500, 16, 16, 3), dtype=np.uint8))
        total += 500
        print(total, flush=True)  # printed only after the commit returned
    """
)


@pytest.mark.slow
@pytest.mark.reliability("memory")
@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
def test_sigkill_in_heavy_writing_loses_nothing_committed(tmp_path: Path, synchronous: str) -> None:
    path = tmp_path / "killed.db"
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), synchronous], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    committed = 0
    deadline = time.monotonic() + 60
    try:
        while committed < 10_000 and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break  # the writer died on its own
            committed = int(line)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert committed >= 10_000
    with Memory.open(path) as memory:
        assert memory.integrity_check() == "ok"
        assert memory.stats()["steps"] >= committed  # killed mid-batch: the next may be there too
        assert memory.stats()["steps"] % 500 == 0  # and never half of one
