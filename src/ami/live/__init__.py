"""Learning from interaction: the agent lives, remembers, and improves its model and actor."""

from ami.live.config import GOAL_STRATEGIES, LiveConfig
from ami.live.loop import run_live

__all__ = ["GOAL_STRATEGIES", "LiveConfig", "run_live"]
