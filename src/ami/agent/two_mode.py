"""`TwoModeAgent`: the fast Mode-1 actor when it is confident, the Mode-2 planner when it is not.

At every decision point (the start of an action block) the agent chooses who acts:

- `mode="plan"`: always the planner (exactly `PlanningAgent`'s behaviour);
- `mode="act"`: always the actor;
- `mode="auto"`: the planner when the surprise monitor fired since the last decision (wire
  `monitor.on_surprise.append(agent.replan)`), or when the actor's own imagined closed-loop
  rollout (`check_horizon` model steps) misses the goal by more than `miss_threshold` (the
  planner's squared-distance energy, see `calibrate_miss_threshold`); the actor otherwise.

Every decision is logged (`choices`, and the "ami.agent" logger at DEBUG) with who acted and why,
and handed to the `on_decision` listeners (e.g. a `DecisionRecorder` that writes it to memory, so
the actor can later be distilled from the planner's decisions).
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ami.agent.actor import Actor, goal_miss, imagine
from ami.agent.planning_agent import PlanningAgent
from ami.config import require_choice, require_non_negative, require_positive
from ami.errors import ConfigError

LOGGER = logging.getLogger("ami.agent")
AGENT_MODES = ("plan", "act", "auto")


@dataclass(frozen=True)
class ModeConfig:
    """Who acts.

    Attributes:
        mode: "plan", "act" or "auto".
        miss_threshold: in `auto`, the planner takes over when the actor's imagined closest
            squared distance to the goal exceeds this.
        check_horizon: model steps of the actor's imagined rollout in `auto` (None: the
            planner's horizon, so that the actor's miss and the planner's energy compare).
    """

    mode: str = "auto"
    miss_threshold: float = math.inf
    check_horizon: int | None = None

    def __post_init__(self) -> None:
        require_choice("ModeConfig", "mode", self.mode, AGENT_MODES)
        require_non_negative("ModeConfig", "miss_threshold", self.miss_threshold)
        if self.check_horizon is not None:
            require_positive("ModeConfig", "check_horizon", self.check_horizon)


@dataclass(frozen=True)
class ModeChoice:
    """One decision: who acted, why, from what, and what it chose.

    Attributes:
        t: env step of the episode at which it was taken.
        mode: "plan" or "act".
        reason: "asked" (fixed mode), "surprise", "actor misses goal" or "actor confident".
        miss: the actor's imagined miss (NaN when not checked).
        seconds: wall-clock time of the decision (encoding, checking and choosing).
        observation: the frame it was taken from, `uint8 [h, w, 3]`.
        goal: the goal frame, `uint8 [h, w, 3]`.
        plan: the chosen plan `float32 [P, A]` (planner-level actions).
        energy: the energy the chooser expected (the planner's; the actor's imagined miss).
        planned: whether the planner solved a new plan for it (not just served a queued step).
    """

    t: int
    mode: str
    reason: str
    miss: float
    seconds: float
    observation: np.ndarray = field(repr=False)
    goal: np.ndarray = field(repr=False)
    plan: np.ndarray = field(repr=False)
    energy: float
    planned: bool


DecisionListener = Callable[[ModeChoice], None]


class TwoModeAgent:
    """An `Agent` that chooses per decision between `actor` (Mode-1) and `planner` (Mode-2).

    Args:
        planner: the latent planner.
        actor: the actor, predicting planner-level actions for `planner.planned_model`.
        config: the mode and the rules of `auto`.
    """

    def __init__(self, planner: PlanningAgent, actor: Actor | None, config: ModeConfig) -> None:
        if actor is None and config.mode != "plan":
            raise ConfigError(f"mode {config.mode!r} needs an actor (train one first)")
        if actor is not None and actor.config.action_dim != planner.planned_model.action_dim:
            raise ConfigError(
                f"the actor's actions have size {actor.config.action_dim} but the planner's have "
                f"size {planner.planned_model.action_dim}"
            )
        self.planner, self.actor, self.config = planner, actor, config
        self.choices: list[ModeChoice] = []
        self.on_decision: list[DecisionListener] = []
        self._pending: deque[np.ndarray] = deque()
        self._goal_pixels: np.ndarray | None = None
        self._z_goal: torch.Tensor | None = None
        self._t = 0
        self._surprised = False
        self._last_mode = "plan"

    def begin(self, goal_pixels: np.ndarray) -> None:
        """Start an episode towards `goal_pixels uint8 [h, w, 3]`."""
        self.planner.begin(goal_pixels)
        self._goal_pixels = goal_pixels
        self._z_goal = self.planner.embed(goal_pixels)
        self._pending.clear()
        self.choices = []
        self._t, self._surprised, self._last_mode = 0, False, "plan"

    def replan(self, *_reason: object) -> None:
        """Decide again at once, with the planner (fits `SurpriseMonitor.on_surprise`)."""
        self._surprised = True
        self._pending.clear()
        self.planner.replan()

    def act(self, pixels: np.ndarray) -> np.ndarray:
        """The next env action `float32 [A]` for observation `pixels uint8 [h, w, 3]`."""
        if self._goal_pixels is None:
            raise RuntimeError("TwoModeAgent.act called before begin(goal)")
        if not self._pending:
            self._decide(pixels)
        self._t += 1
        return self._pending.popleft()

    @property
    def decision_seconds(self) -> list[float]:
        """Seconds of each decision in the current episode (encoding, checking and choosing)."""
        return [choice.seconds for choice in self.choices]

    def counts(self) -> dict[str, int]:
        """How many decisions each mode took this episode."""
        return {mode: sum(c.mode == mode for c in self.choices) for mode in ("plan", "act")}

    def _decide(self, pixels: np.ndarray) -> None:
        started = time.perf_counter()
        mode, reason, miss, chunk = self._choose(pixels)
        if mode == "act":
            assert chunk is not None
            blocks = [self.planner.block_of(action) for action in chunk]
            plan, energy, planned = chunk, miss, False
        else:
            if self._last_mode == "act":
                self.planner.replan()  # the queue of an earlier plan is stale
            plans_before = len(self.planner.plan_seconds)
            blocks = [self.planner.next_block(pixels)]
            controller = self.planner.controller
            planned = len(self.planner.plan_seconds) > plans_before
            assert controller.plan is not None and controller.last_result is not None
            plan = controller.plan.to("cpu", torch.float32).numpy()
            energy = controller.last_result.energy
        for block in blocks:
            self._pending.extend(block)
        self._surprised, self._last_mode = False, mode
        choice = ModeChoice(
            t=self._t,
            mode=mode,
            reason=reason,
            miss=miss,
            seconds=time.perf_counter() - started,
            observation=pixels,
            goal=self._goal_pixels,  # type: ignore[arg-type]
            plan=plan,
            energy=float(energy),
            planned=planned,
        )
        self.choices.append(choice)
        LOGGER.debug("t=%d %s (%s, miss %.3f)", choice.t, mode, reason, miss)
        for listener in self.on_decision:
            listener(choice)

    def _choose(self, pixels: np.ndarray) -> tuple[str, str, float, np.ndarray | None]:
        """(mode, reason, imagined miss, the actor's chunk `[chunk, A]` when it acts)."""
        if self.config.mode == "plan":
            return "plan", "asked", math.nan, None
        if self.config.mode == "auto" and self._surprised:
            return "plan", "surprise", math.nan, None
        assert self.actor is not None and self._z_goal is not None
        with torch.inference_mode():
            z = self.planner.embed(pixels)[None]
            goal = self._z_goal[None]
            chunk = self.actor(z, goal)[0].to("cpu", torch.float32).numpy()
            if self.config.mode == "act":
                return "act", "asked", math.nan, chunk
            horizon = self.config.check_horizon or self.planner.controller.config.horizon
            imagined, _ = imagine(self.actor, self.planner.planned_model, z, goal, horizon)
            miss = float(goal_miss(imagined, goal)[0])
        if miss > self.config.miss_threshold:
            return "plan", "actor misses goal", miss, None
        return "act", "actor confident", miss, chunk
