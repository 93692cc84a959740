"""`DecisionRecorder`: a decision listener of `TwoModeAgent` that writes each decision to memory."""

from __future__ import annotations

from ami.agent.two_mode import ModeChoice
from ami.memory import Memory
from ami.memory.decisions import record_decision


class DecisionRecorder:
    """Writes every decision of one episode (who chose, from what, towards what, the plan).

    A planner step that only served an action of an earlier plan is not a new decision and is
    skipped.

    Args:
        memory: the open memory.
        episode: the memory episode the decisions belong to.
    """

    def __init__(self, memory: Memory, episode: int) -> None:
        self.memory, self.episode = memory, episode
        self.written = 0

    def __call__(self, choice: ModeChoice) -> None:
        """Write one decision."""
        if choice.mode == "plan" and not choice.planned:
            return
        record_decision(
            self.memory,
            self.episode,
            choice.t,
            choice.mode,
            choice.observation,
            choice.goal,
            choice.plan,
            choice.energy,
        )
        self.written += 1
