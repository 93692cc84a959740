"""Planning threads: the count chosen from cores and load, its override, and its scope."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from ami import machine_load
from ami.device import PLAN_THREADS_ENV, TRAIN_THREADS_ENV, planning_threads, training_threads
from ami.errors import ConfigError
from ami.planning import MPCConfig, MPCController, SolveResult
from ami.planning.mpc import torch_threads
from fakes import LinearModel, LinearSystem


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch):
    """Stub the machine: `machine(cores, load)` sets the cores this process may use and the load.

    psutil's sample is switched off, so the other processes' cores are the load average less one.
    """
    monkeypatch.delenv(PLAN_THREADS_ENV, raising=False)

    def stub(cores: int, load: float | None) -> None:
        monkeypatch.setattr(machine_load, "sampled_busy_cores", lambda seconds: None)  # no psutil
        machine_load.forget_sample()
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
        monkeypatch.setattr(os, "cpu_count", lambda: 1000)  # affinity wins over the machine's
        if load is None:

            def no_load() -> tuple[float, float, float]:
                raise OSError("no load average here")

            monkeypatch.setattr(os, "getloadavg", no_load)
        else:
            monkeypatch.setattr(os, "getloadavg", lambda: (load, 0.0, 0.0))

    yield stub
    machine_load.forget_sample()


@pytest.mark.parametrize(
    ("cores", "load", "threads"),
    [
        (8, 0.0, 8),  # idle: every core
        (8, 1.0, 8),  # only this process running: every core
        (2, 1.1, 2),  # this process and a passing one: both cores
        (2, 1.6, 1),  # this process and most of another: one core
        (8, 3.5, 5),  # 2.5 others: the 5 whole cores left
        (8, 9.0, 1),  # 8 others on 8 cores: one thread
        (2, 3.0, 1),  # the loaded 2-core machine measured in docs/guides/planning.md
        (2, 40.0, 1),  # never fewer than one
        (4, None, 4),  # no load average: as if idle
    ],
)
def test_threads_follow_the_free_cores(machine, cores, load, threads) -> None:
    machine(cores, load)
    assert planning_threads() == threads


def test_cpu_count_is_used_without_an_affinity_call(machine, monkeypatch) -> None:
    machine(8, 0.0)
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert planning_threads() == 3


def test_the_environment_variable_overrides_the_load(machine, monkeypatch) -> None:
    machine(2, 30.0)
    monkeypatch.setenv(PLAN_THREADS_ENV, "6")
    assert planning_threads() == 6
    assert planning_threads(requested=2) == 2  # an explicit request beats the variable


@pytest.mark.parametrize("text", ["0", "two", "-1", "1.5"])
def test_a_bad_environment_variable_is_a_config_error(machine, monkeypatch, text) -> None:
    machine(2, 0.0)
    monkeypatch.setenv(PLAN_THREADS_ENV, text)
    with pytest.raises(ConfigError, match=PLAN_THREADS_ENV):
        planning_threads()


@pytest.mark.parametrize("requested", [0, -3, True])
def test_a_bad_request_is_a_config_error(requested) -> None:
    with pytest.raises(ConfigError, match="positive integer"):
        planning_threads(requested)


class ThreadRecordingSolver:
    """Returns zeros; records torch's thread count while it solves (optionally then fails)."""

    def __init__(self, fail: bool = False) -> None:
        self.seen: list[int] = []
        self.fail = fail

    def solve(self, objective, init, generator) -> SolveResult:
        self.seen.append(torch.get_num_threads())
        objective(init[None])
        if self.fail:
            raise ValueError("solver failed")
        return SolveResult(torch.zeros_like(init), 0.0, 1)


@pytest.fixture
def caller_threads():
    """The caller's torch thread count, 3 here, restored to the session's after the test."""
    session = torch.get_num_threads()
    torch.set_num_threads(3)
    yield 3
    torch.set_num_threads(session)


def _controller(solver, threads: int | None) -> MPCController:
    controller = MPCController(
        LinearModel(), solver, MPCConfig(horizon=4), torch.device("cpu"), threads=threads
    )
    controller.reset(lambda z, a: z.square().sum(dim=(1, 2)))
    return controller


def test_planning_runs_with_its_threads_and_restores_the_callers(caller_threads) -> None:
    solver = ThreadRecordingSolver()
    controller = _controller(solver, threads=1)
    assert controller.threads == 1
    for _ in range(3):
        controller.act(LinearSystem(np.zeros(2)).pixels())
        assert torch.get_num_threads() == caller_threads
    assert solver.seen == [1, 1, 1]  # execute=1: a plan at every act, each with 1 thread


def test_a_failing_plan_still_restores_the_callers_threads(caller_threads) -> None:
    controller = _controller(ThreadRecordingSolver(fail=True), threads=2)
    with pytest.raises(ValueError, match="solver failed"):
        controller.act(LinearSystem(np.zeros(2)).pixels())
    assert torch.get_num_threads() == caller_threads


def test_the_controller_takes_the_environment_choice(caller_threads, monkeypatch) -> None:
    monkeypatch.setenv(PLAN_THREADS_ENV, "2")
    solver = ThreadRecordingSolver()
    controller = _controller(solver, threads=None)
    controller.act(LinearSystem(np.zeros(2)).pixels())
    assert solver.seen == [2] and torch.get_num_threads() == caller_threads


def test_none_leaves_the_thread_count_alone(caller_threads) -> None:
    with torch_threads(None):
        assert torch.get_num_threads() == caller_threads
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == caller_threads


@pytest.mark.parametrize(
    ("cores", "load", "processes", "threads"),
    [
        (8, 0.0, 1, 8),  # idle: every core torch would use
        (8, 3.5, 1, 5),  # 2.5 others: the 5 cores left
        (8, 3.5, 2, 2),  # shared by two ranks on this machine
        (2, 1.05, 1, 2),  # this process alone, the load a little above it: both cores
        (2, 3.0, 1, 1),  # a busy 2-core machine: one thread
    ],
)
def test_training_threads_follow_the_free_cores_per_rank(machine, monkeypatch, cores, load,
                                                         processes, threads) -> None:  # fmt: skip
    monkeypatch.delenv(TRAIN_THREADS_ENV, raising=False)
    machine(cores, load)
    with torch_threads(8):
        assert training_threads(processes) == threads
    with torch_threads(3):  # never more than torch's own count (OMP_NUM_THREADS, the caller's)
        assert training_threads(processes) == min(3, threads)


def test_training_threads_variable_wins_and_is_checked(machine, monkeypatch) -> None:
    machine(2, 40.0)
    monkeypatch.setenv(TRAIN_THREADS_ENV, "4")
    assert training_threads() == 4
    monkeypatch.setenv(TRAIN_THREADS_ENV, "four")
    with pytest.raises(ConfigError, match=TRAIN_THREADS_ENV):
        training_threads()
