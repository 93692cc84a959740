"""Run an agent on a protocol's episodes, and the random and zero-action floors on the same ones.

The agent's episodes can run in several worker processes (`evaluate(..., workers=n)`), with the
same results as a serial run: every episode starts afresh from its own start/goal pair. Under a
test-time factor (`evaluate(..., factor=)`, `ami.evaluation.factors`) the agent and the floors
see every frame through it, and a world factor changes the world the episodes are drawn in.
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import gymnasium
import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ami.agent import Agent, FrameRecorder, RandomAgent, ZeroAgent, run_episode
from ami.agent.episode import EpisodeOutcome
from ami.errors import ConfigError
from ami.evaluation.episode_specs import prepare_episodes
from ami.evaluation.episodes_gif import EpisodeFrames
from ami.evaluation.eval_protocol import EpisodeSpec, EvalProtocol
from ami.evaluation.factors import Factor, FactoredAgent
from ami.evaluation.goal_episodes import GoalStateWorld
from ami.worlds import make


@dataclass(frozen=True)
class ProtocolResult:
    """Figures of one protocol: the agent's and the floors' (random, zero action), same episodes."""

    protocol: EvalProtocol
    success_rate: float
    random_success_rate: float
    episodes: int
    plan_ms_per_call: float
    plan_seconds_per_episode: float
    mean_steps_to_success: float
    outcomes: list[bool]
    recorded: list[EpisodeFrames] = field(default_factory=list)
    other_success_rates: dict[str, float] = field(default_factory=dict)
    final_distances: list[float] = field(default_factory=list)  # per episode, in order
    random_final_distances: list[float] = field(default_factory=list)  # the same, random policy
    zero_success_rate: float = float("nan")  # the zero action on the same episodes
    refused: dict[str, Any] = field(default_factory=dict)  # starts refused on the way, counted

    def as_dict(self) -> dict[str, Any]:
        """The figures as plain data (recorded frames left out)."""
        return {
            "success_rate": self.success_rate,
            "random_success_rate": self.random_success_rate,
            "zero_success_rate": self.zero_success_rate,
            "refused": self.refused,
            "episodes": self.episodes,
            "budget": self.protocol.budget,
            "success_radius": self.protocol.success_radius,
            "plan_ms_per_call": self.plan_ms_per_call,
            "plan_seconds_per_episode": self.plan_seconds_per_episode,
            "mean_steps_to_success": self.mean_steps_to_success,
            "other_success_rates": self.other_success_rates,
            "protocol": self.protocol.as_dict(),
            "description": self.protocol.description,
        }


def evaluate(
    protocol: EvalProtocol,
    agent: Agent,
    record: int = 0,
    progress: bool = True,
    world_overrides: dict[str, Any] | None = None,
    workers: int = 1,
    factor: Factor | None = None,
) -> ProtocolResult:
    """Run `agent` on every episode of `protocol`, then the random and zero-action floors.

    Args:
        protocol: the evaluation protocol.
        agent: the agent under test.
        record: how many of the first episodes to record frame by frame (for the GIF).
        progress: show progress bars.
        world_overrides: extra world config (e.g. image size); success radius and budget always
            come from the protocol.
        workers: processes running the agent's episodes. Each gets a pickled copy of `agent`
            and `torch.get_num_threads() // workers` threads; an agent that starts every episode
            afresh in `begin` (as `PlanningAgent` does: MPC reseeds its generator) then gives
            the serial run's results, episode for episode. The random floor runs here, serially.
        factor: a test-time factor: the agent and the floors see every frame (observations and
            goal) through it; a world factor (`size`) changes the world's config, and the
            episodes are drawn in the changed world with the protocol's seeds. Never training's.

    Returns:
        The figures, and the recorded episodes.

    Raises:
        ConfigError: `workers` is not a positive integer, or `factor` is not one of the world's.
    """
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    settings = protocol_world_settings(protocol, world_overrides)
    overrides = dict(world_overrides or {})
    transform = None
    if factor is not None:
        changes = factor.world_changes(protocol.world, settings)
        settings, overrides = {**settings, **changes}, {**overrides, **changes}
        transform = factor.transform(protocol.world)
        agent = FactoredAgent(agent, transform)
    options = {k: v for k, v in overrides.items() if k != "size"}
    made = make(protocol.world, **settings)
    prepared = prepare_episodes(protocol, made, options)
    env = episode_world(made, protocol)
    specs = prepared.specs
    action_dim = int(np.prod(env.action_space.shape or ()))
    tasks = [
        _Task(index, spec, index < record, f"{protocol.name} #{index}")
        for index, spec in enumerate(specs)
    ]
    with _bar(progress) as bar:
        agent_task = bar.add_task(f"{protocol.name}: agent", total=len(specs))

        def advance() -> None:
            bar.update(agent_task, advance=1)

        if workers == 1:
            runs = [_run(env, agent, protocol, item, advance) for item in tasks]
        else:
            runs = _run_in_processes(protocol, settings, agent, tasks, workers, advance)
        floors: dict[str, list[EpisodeOutcome]] = {}
        for name, floor in (
            ("random", RandomAgent(action_dim, seed=protocol.seed)),
            ("zero action", ZeroAgent(action_dim)),
        ):
            seen: Agent = floor if transform is None else FactoredAgent(floor, transform)
            task = bar.add_task(f"{protocol.name}: {name}", total=len(specs))
            floors[name] = []
            for spec in specs:
                floors[name].append(
                    run_episode(
                        env,
                        seen,
                        spec.options,
                        protocol.budget,
                        spec.goal_pixels,
                        score=protocol.score,
                    )
                )
                bar.update(task, advance=1)
    result = _result(protocol, runs, floors["random"])
    return replace(
        result,
        zero_success_rate=float(np.mean([outcome.success for outcome in floors["zero action"]])),
        refused=prepared.refusals,
    )


def protocol_world_settings(
    protocol: EvalProtocol, world_overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The world settings of `protocol`'s episodes.

    Its budget (on a `gym:` world, the env's TimeLimit: the replayed start, up to `goal_offset +
    25` steps, plus the budget) and success radius on top of `world_overrides` (e.g. the size).
    """
    steps = protocol.budget
    if protocol.pairing == "goal_state":
        steps += protocol.goal_offset + 26
    settings = {**(world_overrides or {}), "max_episode_steps": steps}
    if protocol.success_radius is not None:
        settings["success_radius"] = protocol.success_radius
    return settings


def episode_world(env: gymnasium.Env, protocol: EvalProtocol) -> gymnasium.Env:
    """The world `protocol`'s episodes run in: `env`, in a `GoalStateWorld` on a gym: world.

    `env` is made with `protocol_world_settings`; the episodes' reset options are the specs'.
    """
    return GoalStateWorld(env) if protocol.pairing == "goal_state" else env


@dataclass(frozen=True)
class _Task:
    """One agent episode to run: its index, start/goal and whether to record its frames."""

    index: int
    spec: EpisodeSpec
    record: bool
    title: str


@dataclass(frozen=True)
class _Run:
    """What one agent episode gave (decision times only for agents that time their decisions)."""

    outcome: EpisodeOutcome
    plan_seconds: list[float] | None
    recorded: EpisodeFrames | None


def _run(
    env: gymnasium.Env,
    agent: Agent,
    protocol: EvalProtocol,
    item: _Task,
    done: Callable[[], None],
) -> _Run:
    """Run one agent episode in `env`."""
    recorder = FrameRecorder()
    listeners = [recorder] if item.record else []
    spec = item.spec
    outcome = run_episode(
        env, agent, spec.options, protocol.budget, spec.goal_pixels, listeners, protocol.score
    )
    recorded = None
    if item.record:
        frames = np.stack([outcome.first_pixels, *recorder.frames])
        recorded = EpisodeFrames(frames, outcome.goal_pixels, outcome.success, item.title)
    timed = getattr(agent, "decision_seconds", None)  # PlanningAgent, TwoModeAgent
    seconds = list(timed) if timed is not None else None
    done()
    return _Run(outcome, seconds, recorded)


def _result(
    protocol: EvalProtocol, runs: list[_Run], random_outcomes: list[EpisodeOutcome]
) -> ProtocolResult:
    """The protocol's figures from its episodes' runs, in episode order."""
    outcomes = [run.outcome.success for run in runs]
    steps_to_success = [run.outcome.steps for run in runs if run.outcome.success]
    also_reached = [run.outcome.also_reached for run in runs]
    plan_seconds = [sum(run.plan_seconds) for run in runs if run.plan_seconds is not None]
    total_plans = sum(len(run.plan_seconds) for run in runs if run.plan_seconds is not None)
    return ProtocolResult(
        protocol=protocol,
        success_rate=float(np.mean(outcomes)),
        random_success_rate=float(np.mean([outcome.success for outcome in random_outcomes])),
        episodes=len(runs),
        plan_ms_per_call=1000 * sum(plan_seconds) / total_plans if total_plans else 0.0,
        plan_seconds_per_episode=float(np.mean(plan_seconds)) if plan_seconds else 0.0,
        mean_steps_to_success=float(np.mean(steps_to_success))
        if steps_to_success
        else float("nan"),
        outcomes=outcomes,
        recorded=[run.recorded for run in runs if run.recorded is not None],
        other_success_rates={
            name: float(np.mean([reached.get(name, False) for reached in also_reached]))
            for name in sorted(set().union(*also_reached))
        },
        final_distances=[run.outcome.final_distance for run in runs],
        random_final_distances=[outcome.final_distance for outcome in random_outcomes],
    )


def _run_in_processes(
    protocol: EvalProtocol,
    settings: dict[str, Any],
    agent: Agent,
    tasks: list[_Task],
    workers: int,
    done: Callable[[], None],
) -> list[_Run]:
    """`_run` of every task in `workers` spawned processes; the runs in task order."""
    threads = max(1, torch.get_num_threads() // workers)
    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_worker,
        # Plain pickle: tensors travel by value (torch's shared-memory handover needs /dev/shm).
        initargs=(protocol, settings, pickle.dumps(agent), threads),
    ) as pool:
        runs = []
        for run in pool.map(_worker_run, tasks):
            runs.append(run)
            done()
    return runs


_worker: dict[str, Any] = {}  # a worker process's env, agent, protocol (set by `_start_worker`)


def _start_worker(
    protocol: EvalProtocol, settings: dict[str, Any], agent: bytes, threads: int
) -> None:
    torch.set_num_threads(threads)
    env = episode_world(make(protocol.world, **settings), protocol)
    _worker.update(env=env, agent=pickle.loads(agent), protocol=protocol)


def _worker_run(item: _Task) -> _Run:
    return _run(_worker["env"], _worker["agent"], _worker["protocol"], item, lambda: None)


def _bar(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
    )
