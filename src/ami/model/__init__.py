"""The JEPA world model: CNN encoder, action-conditioned predictor, SIGReg."""

from ami.model.encoder import ConvEncoder, EncoderConfig
from ami.model.predictor import MLPPredictor, PredictorConfig
from ami.model.sigreg import SIGReg, SIGRegConfig
from ami.model.world_model import WorldModel, WorldModelConfig

__all__ = [
    "ConvEncoder",
    "EncoderConfig",
    "MLPPredictor",
    "PredictorConfig",
    "SIGReg",
    "SIGRegConfig",
    "WorldModel",
    "WorldModelConfig",
]
