"""The perceive-plan-act loop over one episode; the loop emits steps, listeners subscribe.

The loop knows no recorder, memory or logger: anything that wants the steps passes a listener
(`Callable[[Step], None]`), in the manner of DreamerV3's `Driver.on_step`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np

from ami.agent.planning_agent import Agent
from ami.config import require_choice, require_positive

SCORE_AT = ("any", "end", "held")


@dataclass(frozen=True)
class Step:
    """One env step as the world answered it.

    Attributes:
        t: index of the step in the episode (0 is the first action).
        pixels: observation after the step, uint8 [h, w, 3].
        action: the env action taken, float32 [A].
        state: the true state after the step (for evaluation only), float32 [S].
        info: the world's info dict.
    """

    t: int
    pixels: np.ndarray
    action: np.ndarray
    state: np.ndarray
    info: dict[str, Any]


@dataclass(frozen=True)
class EpisodeOutcome:
    """How an episode ended."""

    success: bool
    steps: int
    final_distance: float
    first_pixels: np.ndarray
    goal_pixels: np.ndarray
    # each other `<name>_success` flag of the world's info: whether it was true at some step
    also_reached: dict[str, bool] = field(default_factory=dict)


Listener = Callable[[Step], None]


@dataclass(frozen=True)
class ScoreRule:
    """When an episode counts as a success, from the world's per-step `info["is_success"]`.

    Attributes:
        at: "any": the first step where it holds (the episode ends there; the anchors' rule);
            "end": it holds after the budget's last step (the episode always runs the budget);
            "held": it holds for `steps` consecutive steps (the episode ends there).
        steps: for "held", the consecutive steps.
    """

    at: str = "any"
    steps: int = 1

    def __post_init__(self) -> None:
        require_choice("ScoreRule", "at", self.at, SCORE_AT)
        require_positive("ScoreRule", "steps", self.steps)

    def success(self, streak: int, steps: int, budget: int) -> bool:
        """Whether the episode is a success after `steps` steps, the goal held `streak` steps."""
        if self.at == "end":
            return steps == budget and streak > 0
        return streak >= (self.steps if self.at == "held" else 1)


def run_episode(
    env: gymnasium.Env,
    agent: Agent,
    options: dict[str, Any],
    budget: int,
    goal_pixels: np.ndarray | None = None,
    listeners: Sequence[Listener] = (),
    score: ScoreRule | None = None,
) -> EpisodeOutcome:
    """Reset `env` with `options`, give `agent` the goal and act until success or `budget` steps.

    Args:
        env: an ami world (its `reset` places agent and goal from `options`).
        agent: the agent to run.
        options: reset options (e.g. {"agent": (x, y), "goal": (x, y)}).
        budget: maximal number of env steps.
        goal_pixels: the goal image; by default the world's `goal_pixels()`.
        listeners: called with every `Step`.
        score: when `is_success` makes the episode a success (default: at any step).

    Returns:
        Success (by `score`), steps used, final distance.
    """
    rule = ScoreRule() if score is None else score
    obs, info = env.reset(options=options)
    world = env.unwrapped
    goal = world.goal_pixels() if goal_pixels is None else goal_pixels  # type: ignore[attr-defined]
    agent.begin(goal)
    first = obs["pixels"]
    streak = int(bool(info.get("is_success", False)))
    steps = 0
    success = rule.success(streak, steps, budget)
    also_reached = _other_successes(info, {})
    while not success and steps < budget:
        action = agent.act(obs["pixels"])
        obs, _, _, _, info = env.step(action)
        step = Step(steps, obs["pixels"], np.asarray(action), obs["state"], info)
        for listener in listeners:
            listener(step)
        steps += 1
        streak = streak + 1 if info.get("is_success", False) else 0
        success = rule.success(streak, steps, budget)
        also_reached = _other_successes(info, also_reached)
    return EpisodeOutcome(
        success=success,
        steps=steps,
        final_distance=float(info.get("distance", float("nan"))),
        first_pixels=first,
        goal_pixels=goal,
        also_reached=also_reached,
    )


def _other_successes(info: dict[str, Any], so_far: dict[str, bool]) -> dict[str, bool]:
    """`so_far` updated with the info flags `<name>_success` other than `is_success`."""
    flags = {
        key.removesuffix("_success"): bool(value)
        for key, value in info.items()
        if key.endswith("_success") and key != "is_success"
    }
    return {name: so_far.get(name, False) or flags.get(name, False) for name in so_far | flags}


class FrameRecorder:
    """A listener that keeps the frames of an episode (for GIFs)."""

    def __init__(self, first: np.ndarray | None = None) -> None:
        self.frames: list[np.ndarray] = [] if first is None else [first]

    def __call__(self, step: Step) -> None:
        """Keep the step's frame."""
        self.frames.append(step.pixels)
