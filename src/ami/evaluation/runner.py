"""Run an agent on a protocol's episodes, and the random policy on the very same episodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ami.agent import Agent, FrameRecorder, PlanningAgent, RandomAgent, run_episode
from ami.evaluation.episodes_gif import EpisodeFrames
from ami.evaluation.protocols import EvalProtocol, episode_specs
from ami.worlds import make


@dataclass(frozen=True)
class ProtocolResult:
    """Figures of one protocol: the agent's and the random policy's, on the same episodes."""

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

    def as_dict(self) -> dict[str, Any]:
        """The figures as plain data (recorded frames left out)."""
        return {
            "success_rate": self.success_rate,
            "random_success_rate": self.random_success_rate,
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
) -> ProtocolResult:
    """Run `agent` on every episode of `protocol`, then a random agent on the same episodes.

    Args:
        protocol: the evaluation protocol.
        agent: the agent under test.
        record: how many of the first episodes to record frame by frame (for the GIF).
        progress: show progress bars.
        world_overrides: extra world config (e.g. image size); success radius and budget always
            come from the protocol.

    Returns:
        The figures, and the recorded episodes.
    """
    settings = {**(world_overrides or {}), "max_episode_steps": protocol.budget}
    if protocol.success_radius is not None:
        settings["success_radius"] = protocol.success_radius
    env = make(protocol.world, **settings)
    specs = episode_specs(protocol, env)
    action_dim = int(np.prod(env.action_space.shape or ()))
    outcomes, steps_to_success, plan_seconds, plan_calls = [], [], [], []
    recorded: list[EpisodeFrames] = []
    random_outcomes = []
    also_reached: list[dict[str, bool]] = []
    with _bar(progress) as bar:
        task = bar.add_task(f"{protocol.name}: agent", total=len(specs))
        for index, spec in enumerate(specs):
            recorder = FrameRecorder()
            listeners = [recorder] if index < record else []
            outcome = run_episode(
                env, agent, spec.options, protocol.budget, spec.goal_pixels, listeners
            )
            outcomes.append(outcome.success)
            also_reached.append(outcome.also_reached)
            if outcome.success:
                steps_to_success.append(outcome.steps)
            if isinstance(agent, PlanningAgent):
                plan_seconds.append(sum(agent.plan_seconds))
                plan_calls.append(len(agent.plan_seconds))
            if index < record:
                frames = np.stack([outcome.first_pixels, *recorder.frames])
                recorded.append(
                    EpisodeFrames(
                        frames, outcome.goal_pixels, outcome.success, f"{protocol.name} #{index}"
                    )
                )
            bar.update(task, advance=1)
        task = bar.add_task(f"{protocol.name}: random", total=len(specs))
        random_agent = RandomAgent(action_dim, seed=protocol.seed)
        for spec in specs:
            outcome = run_episode(
                env, random_agent, spec.options, protocol.budget, spec.goal_pixels
            )
            random_outcomes.append(outcome.success)
            bar.update(task, advance=1)
    total_plans = sum(plan_calls)
    return ProtocolResult(
        protocol=protocol,
        success_rate=float(np.mean(outcomes)),
        random_success_rate=float(np.mean(random_outcomes)),
        episodes=len(specs),
        plan_ms_per_call=1000 * sum(plan_seconds) / total_plans if total_plans else 0.0,
        plan_seconds_per_episode=float(np.mean(plan_seconds)) if plan_seconds else 0.0,
        mean_steps_to_success=float(np.mean(steps_to_success))
        if steps_to_success
        else float("nan"),
        outcomes=outcomes,
        recorded=recorded,
        other_success_rates={
            name: float(np.mean([reached.get(name, False) for reached in also_reached]))
            for name in sorted(set().union(*also_reached))
        },
    )


def _bar(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
    )
