"""The agent: goal in, actions out, over the perceive-plan-act loop."""

from ami.agent.episode import EpisodeOutcome, FrameRecorder, ScoreRule, Step, run_episode
from ami.agent.memory_recorder import MemoryRecorder
from ami.agent.planning_agent import Agent, GoalCostConfig, PlanningAgent, RandomAgent, ZeroAgent

__all__ = [
    "Agent",
    "EpisodeOutcome",
    "FrameRecorder",
    "MemoryRecorder",
    "GoalCostConfig",
    "PlanningAgent",
    "RandomAgent",
    "ScoreRule",
    "Step",
    "ZeroAgent",
    "run_episode",
]
