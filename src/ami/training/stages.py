"""Learning from video without actions, in two stages: what trains, and an encoder carried over.

Stage 1 (`TrainConfig.actions = "none"`) learns the encoder and an action-free predictor from
frames alone, with the same JEPA + SIGReg objective: `jepa_loss` gets no actions and the
predictor runs without its action path (`ami.model.predictor`), whose parameters (the action
embedding and the AdaLN-zero modulation) are left out of the optimiser, so they stay at their
initial values and the loss cannot depend on the actions.

Stage 2 starts a model from stage 1's encoder (`load_encoder`: the encoder configs must be
equal) and learns the action-conditioned predictor on action-labelled data; with
`TrainConfig.freeze_encoder` the encoder gets no gradient, is not in the optimiser and stays in
eval mode (its BatchNorm statistics are the pre-trained ones), so its weights leave training
exactly as they came.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ami.config import config_to_dict
from ami.errors import ConfigError
from ami.model import WorldModel
from ami.training.config import TrainConfig


def trainable_parameters(model: WorldModel, config: TrainConfig) -> list[nn.Parameter]:
    """The parameters `config` trains, marked `requires_grad`; every other one is unmarked.

    Without actions the predictor's action path is left out; with `freeze_encoder` the encoder.
    Every parameter is marked anew, so a model trained before under other settings is not
    affected by them.
    """
    model.requires_grad_(True)
    if config.actions == "none":
        model.predictor.action_embed.requires_grad_(False)
        model.predictor.modulation.requires_grad_(False)
    if config.freeze_encoder:
        model.encoder.requires_grad_(False)
    return [parameter for parameter in model.parameters() if parameter.requires_grad]


def train_mode(model: WorldModel, config: TrainConfig) -> None:
    """Put `model` in training mode; a frozen encoder stays in eval mode (BatchNorm kept)."""
    model.train()
    if config.freeze_encoder:
        model.encoder.eval()


def load_encoder(model: WorldModel, checkpoint: Path) -> str:
    """Copy the encoder weights of the checkpoint folder `checkpoint` into `model`.

    Returns:
        The checkpoint model's `version()`, for the run's metadata.

    Raises:
        CheckpointError: the checkpoint is missing or damaged.
        ConfigError: its encoder config differs from `model`'s (the first differing field named).
    """
    source = WorldModel.load(checkpoint, device=model.device)
    ours, theirs = config_to_dict(model.config.encoder), config_to_dict(source.config.encoder)
    differing = [name for name in ours if ours[name] != theirs.get(name)]
    if differing:
        name = differing[0]
        raise ConfigError(
            f"the encoder of {checkpoint} has encoder.{name} = {theirs.get(name)!r}, the recipe's "
            f"is {ours[name]!r}: the encoder configs must be equal to start from it"
        )
    model.encoder.load_state_dict(source.encoder.state_dict())
    return source.version()
