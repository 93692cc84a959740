"""`LiveConfig`: how an agent lives, remembers and improves, round after round."""

from __future__ import annotations

from dataclasses import dataclass

from ami.agent.two_mode import AGENT_MODES
from ami.config import require_choice, require_in_range, require_non_negative, require_positive
from ami.evaluation.protocols import PROTOCOLS, current_name

GOAL_STRATEGIES = ("uniform", "novel")


@dataclass(frozen=True)
class LiveConfig:
    """Settings of `ami live`.

    Attributes:
        rounds: rounds of living after the seed round (round 0: the model of the seed data).
        episodes: goals pursued per round.
        goals: "uniform" (start/goal pairs drawn like the protocol's, with fresh seeds) or
            "novel" (of `novelty_candidates` such pairs per episode, the goals farthest from
            everything remembered: least visited, as measured in memory).
        novelty_candidates: candidate pairs drawn per chosen one with "novel".
        finetune_steps: world-model optimiser steps on memory per round.
        finetune_lr: their peak learning rate.
        mode: who acts once an actor exists ("plan", "act", "auto"); the planner before.
        distill_steps: actor optimiser steps per round.
        refine_weight: weight of the imagined goal energy in the actor's training (0: pure
            distillation; see `DistillConfig`).
        relabel: let the planner label the decisions the actor took (DAgger) before distilling.
        miss_quantile: quantile of the planner's energies that calibrates `auto`'s threshold.
        protocol: the protocol whose pairs the goals follow and on which each round is measured.
        eval_episodes: episodes of that measurement.
        seed: seed of the goals and the fine-tuning.
    """

    rounds: int = 4
    episodes: int = 40
    goals: str = "uniform"
    novelty_candidates: int = 4
    finetune_steps: int = 300
    finetune_lr: float = 5e-4
    mode: str = "auto"
    distill_steps: int = 1000
    refine_weight: float = 0.01
    relabel: bool = True
    miss_quantile: float = 0.9
    protocol: str = "goal_25_steps"
    eval_episodes: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        for name in (
            "rounds",
            "episodes",
            "novelty_candidates",
            "finetune_steps",
            "finetune_lr",
            "distill_steps",
            "eval_episodes",
        ):
            require_positive("LiveConfig", name, getattr(self, name))
        require_choice("LiveConfig", "goals", self.goals, GOAL_STRATEGIES)
        require_choice("LiveConfig", "mode", self.mode, AGENT_MODES)
        object.__setattr__(self, "protocol", current_name(self.protocol))  # "anchor": deprecated
        require_choice("LiveConfig", "protocol", self.protocol, tuple(PROTOCOLS))
        require_in_range("LiveConfig", "miss_quantile", self.miss_quantile, 0.0, 1.0)
        require_non_negative("LiveConfig", "refine_weight", self.refine_weight)
