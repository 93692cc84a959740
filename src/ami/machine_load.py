"""How many cores the machine's other processes keep busy now (what thread choices subtract).

Sampled with psutil: the machine's busy CPU time over a short window (`SAMPLE_SECONDS`) less this
process's own, per second of wall time. This process's own threads never count, however many
there are, which the 1-minute load average cannot tell apart: a training run that kept 2 cores
busy left a load of 2 behind, and the next run in the same process took it for another job's.
A sample is reused for `REUSE_SECONDS` (planners and trainers are built often in one process).
Where psutil cannot read the counters, the 1-minute load average less one (this process) serves;
without one the machine counts as idle.
"""

from __future__ import annotations

import os
import time
from typing import Any

import psutil

SAMPLE_SECONDS = 0.1
REUSE_SECONDS = 10.0
_NOT_BUSY = ("idle", "iowait", "guest", "guest_nice")  # guest time is already in user and nice
_last: dict[str, float] = {}  # {"at": monotonic seconds, "busy": cores} of the last measure


def others_busy_cores() -> float:
    """Cores (a fraction) kept busy by every process but this one (module docstring), >= 0."""
    now = time.monotonic()
    if _last and now - _last["at"] < REUSE_SECONDS:
        return _last["busy"]
    busy = sampled_busy_cores(SAMPLE_SECONDS)
    if busy is None:
        busy = load_average_busy_cores()
    _last.update(at=now, busy=busy)
    return busy


def forget_sample() -> None:
    """Drop the reused sample: the next `others_busy_cores` measures anew."""
    _last.clear()


def sampled_busy_cores(seconds: float) -> float | None:
    """Cores the other processes kept busy over `seconds` (None: the counters cannot be read)."""
    try:
        process = psutil.Process()
        machine_before, mine_before = psutil.cpu_times(), process.cpu_times()
        started = time.perf_counter()
        time.sleep(seconds)
        machine_after, mine_after = psutil.cpu_times(), process.cpu_times()
        elapsed = time.perf_counter() - started
    except (psutil.Error, OSError):
        return None
    machine = _busy_seconds(machine_after) - _busy_seconds(machine_before)
    mine = (mine_after.user + mine_after.system) - (mine_before.user + mine_before.system)
    return max(0.0, (machine - mine) / elapsed)


def load_average_busy_cores() -> float:
    """The 1-minute load average less one (this process), >= 0; 0 without a load average."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0
    return max(0.0, load - 1.0)


def _busy_seconds(times: Any) -> float:
    """CPU seconds spent busy, summed over the machine's cores, from `psutil.cpu_times()`."""
    fields = times._asdict()
    return sum(value for name, value in fields.items() if name not in _NOT_BUSY)
