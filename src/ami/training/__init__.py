"""Self-supervised training of the world model: objective, schedule, resumable loop."""

from ami.training.objective import ObjectiveConfig, jepa_loss
from ami.training.trainer import TrainConfig, TrainResult, train

__all__ = ["ObjectiveConfig", "TrainConfig", "TrainResult", "jepa_loss", "train"]
