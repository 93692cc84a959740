"""The cores other processes keep busy: psutil's sample, this process excluded, and the fallback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import namedtuple

import psutil
import pytest

from ami import machine_load

MachineTimes = namedtuple("MachineTimes", "user nice system idle iowait steal guest guest_nice")
ProcessTimes = namedtuple("ProcessTimes", "user system children_user children_system")


@pytest.fixture(autouse=True)
def fresh_sample():
    machine_load.forget_sample()
    yield
    machine_load.forget_sample()


def test_the_sample_is_the_machines_busy_time_less_this_processs(monkeypatch) -> None:
    machine = iter(
        [
            MachineTimes(10.0, 1.0, 4.0, 100.0, 2.0, 0.0, 5.0, 0.0),
            # over 0.5 s: 1.0 user + 0.2 system busy, idle and iowait and guest do not count
            MachineTimes(11.0, 1.0, 4.2, 101.0, 3.0, 0.0, 9.0, 0.0),
        ]
    )
    mine = iter([ProcessTimes(3.0, 1.0, 50.0, 0.0), ProcessTimes(3.3, 1.1, 90.0, 0.0)])
    clock = iter([0.0, 0.5])

    class FakeProcess:
        def cpu_times(self):
            return next(mine)

    monkeypatch.setattr(psutil, "cpu_times", lambda: next(machine))
    monkeypatch.setattr(psutil, "Process", FakeProcess)
    monkeypatch.setattr(machine_load.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(machine_load.time, "sleep", lambda seconds: None)
    # (1.2 machine - 0.4 this process) / 0.5 s = 1.6 cores; children are not this process
    assert machine_load.sampled_busy_cores(0.5) == pytest.approx(1.6)


def test_unreadable_counters_fall_back_to_the_load_average(monkeypatch) -> None:
    def denied():
        raise psutil.AccessDenied()

    monkeypatch.setattr(psutil, "cpu_times", denied)
    monkeypatch.setattr(os, "getloadavg", lambda: (3.25, 0.0, 0.0))
    assert machine_load.others_busy_cores() == pytest.approx(2.25)  # less this process
    machine_load.forget_sample()
    monkeypatch.setattr(os, "getloadavg", lambda: (0.5, 0.0, 0.0))
    assert machine_load.others_busy_cores() == 0.0


def test_a_busy_child_process_counts() -> None:
    """A real measurement: another process spinning keeps most of a core busy."""
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it start spinning
        busy = machine_load.sampled_busy_cores(0.5)
    finally:
        child.kill()
        child.wait()
    assert busy is not None and busy >= 0.6


def test_a_sample_is_reused_then_measured_anew(monkeypatch) -> None:
    measures = iter([0.4, 1.7])
    monkeypatch.setattr(machine_load, "sampled_busy_cores", lambda seconds: next(measures))
    assert machine_load.others_busy_cores() == 0.4
    assert machine_load.others_busy_cores() == 0.4  # within REUSE_SECONDS: not measured again
    now = time.monotonic()
    monkeypatch.setattr(machine_load.time, "monotonic", lambda: now + machine_load.REUSE_SECONDS)
    assert machine_load.others_busy_cores() == 1.7
