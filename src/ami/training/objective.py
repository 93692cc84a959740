"""The self-supervised JEPA objective: next-embedding prediction + λ·SIGReg (+ optional rollout).

    z = encode(pixels)                              [B, T, D]
    pred = predict(z[:, :-1], a)                    [B, T-1, D]   teacher-forced, one step
    loss = mse(pred, z[:, 1:]) + λ · SIGReg(z)

No reconstruction, no reward, no EMA target and no stop-gradient: SIGReg alone keeps the
embeddings from collapsing (as in LeWM). With `rollout_weight > 0` the predictor is also rolled
forward from the first embedding on its own outputs for the whole window, and the error of that
imagined trajectory is added, so that long imagined rollouts stay on the data manifold.

With `actions = None` (`TrainConfig.actions = "none"`: frames alone, e.g. video) the predictor
runs without its action path, so the loss is the same whatever actions the batch holds: the
encoder and an action-free predictor learn from frames alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ami.config import require_finite, require_non_negative
from ami.model import WorldModel


@dataclass(frozen=True)
class ObjectiveConfig:
    """Weights of the loss terms.

    Attributes:
        sigreg_weight: λ, the one weight of the anti-collapse term.
        rollout_weight: weight of the multi-step imagined-rollout error (0 disables it).
    """

    sigreg_weight: float = 1.0
    rollout_weight: float = 0.5

    def __post_init__(self) -> None:
        for name in ("sigreg_weight", "rollout_weight"):
            require_finite("ObjectiveConfig", name, getattr(self, name))
            require_non_negative("ObjectiveConfig", name, getattr(self, name))


def jepa_loss(
    model: WorldModel,
    sigreg: Callable[[Tensor], Tensor],
    pixels: Tensor,
    actions: Tensor | None,
    config: ObjectiveConfig,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Loss on one batch of windows.

    Args:
        model: the world model being trained.
        sigreg: the anti-collapse regulariser (`SIGReg`), `z [B, T, D]` → scalar.
        pixels: `uint8 [B, T, 3, h, w]`.
        actions: `[B, T-1, A]` model-level actions between consecutive frames, or None to
            learn without actions (the predictor's action path skipped).
        config: loss weights.

    Returns:
        The scalar loss and its parts as detached scalar tensors (`loss`, `pred_loss`, `sigreg`,
        `rollout_loss`; `loss_floats` reads them). They stay tensors so that `torch.compile`
        captures the whole loss in one graph (`.item()` here would break it into pieces).
    """
    z = model.encode(pixels)
    target = z[:, 1:]
    pred_loss = F.mse_loss(model.predict(z[:, :-1], actions), target)
    regulariser = sigreg(z)
    loss = pred_loss + config.sigreg_weight * regulariser
    parts = {"pred_loss": pred_loss.detach(), "sigreg": regulariser.detach()}
    steps = pixels.shape[1] - 1
    if config.rollout_weight > 0 and steps > 1:
        imagined = model.rollout(z[:, :1], actions, steps)
        rollout_loss = F.mse_loss(imagined, target)
        loss = loss + config.rollout_weight * rollout_loss
        parts["rollout_loss"] = rollout_loss.detach()
    parts["loss"] = loss.detach()
    return loss, parts


def loss_floats(parts: dict[str, Tensor]) -> dict[str, float]:
    """`jepa_loss`'s parts as floats (one synchronisation for all of them)."""
    values = torch.stack(list(parts.values())).float().tolist()
    return dict(zip(parts, values, strict=True))


@torch.no_grad()
def embedding_std(model: WorldModel, pixels: Tensor) -> float:
    """Mean per-dimension standard deviation of the embeddings of `pixels` (≈1 when healthy)."""
    z = model.encode(pixels).flatten(0, 1)
    return float(z.std(dim=0).mean())
