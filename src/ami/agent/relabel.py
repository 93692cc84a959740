"""DAgger through memory: the planner labels the moments where the actor acted.

An actor trained only on the planner's own episodes drifts to states the planner never visited.
`relabel_with_planner` reads the remembered decisions the actor took ("act"), asks the planner
what it would have done from the same observation towards the same goal, and remembers that as a
planner decision of the same episode and step; distilling again on every planner decision then
teaches the actor where it actually goes.
"""

from __future__ import annotations

from ami.agent.planning_agent import PlanningAgent
from ami.errors import MemoryLookupError
from ami.memory import Memory
from ami.memory.decisions import read_decisions, record_decision
from ami.progress import progress_bar


def relabel_with_planner(memory: Memory, planner: PlanningAgent, progress: bool = False) -> int:
    """Label every "act" decision that has no planner label yet; returns how many were labelled.

    A decision is labelled when a "plan" decision of the same episode and step exists, so calling
    this again (e.g. after a crash) labels only what is left. Each label is one fresh plan (no
    warm start) from the decision's observation towards its goal.
    """
    try:
        acted = read_decisions(memory, "act")
    except MemoryLookupError:
        return 0
    try:
        planned = read_decisions(memory, "plan")
        labelled = set(zip(planned.episodes.tolist(), planned.t.tolist(), strict=True))
    except MemoryLookupError:
        labelled = set()
    chosen = [
        i
        for i, key in enumerate(zip(acted.episodes.tolist(), acted.t.tolist(), strict=True))
        if key not in labelled
    ]
    with progress_bar(progress, "planner labels", len(chosen)) as advance:
        for i in chosen:
            planner.begin(acted.goals[i])
            planner.next_block(acted.observations[i])
            controller = planner.controller
            assert controller.plan is not None and controller.last_result is not None
            record_decision(
                memory,
                int(acted.episodes[i]),
                int(acted.t[i]),
                "plan",
                acted.observations[i],
                acted.goals[i],
                controller.plan.float().cpu().numpy(),
                controller.last_result.energy,
            )
            advance(1)
    return len(chosen)
