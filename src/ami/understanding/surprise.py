"""Surprise: how far what the model saw is from what it predicted it would see.

With frameskip `k` (one model step = `k` env steps), the surprise at env step `t >= k` is

    s_t = || predict(z_{t-k}, [a_{t-k}, ..., a_{t-1}]) - encode(frame_t) ||_2

(with `history > 1` the predictor also reads `z_{t-2k}`, ...): the distance between the embedding
the model predicted for the frame one model step after `t - k` and the embedding of the frame
actually observed. It is defined at every env step, not only at block boundaries, so an event is
scored at the very frame that first shows it; the online monitor computes the same quantity.
Offline, the env steps are split into `k` phases (`t mod k`), each a sequence of model steps that
`WorldModel.predict` handles in one causal call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ami.config import require_in_range
from ami.errors import ShapeError
from ami.model import WorldModel
from ami.understanding.models import encode_frames


@torch.no_grad()
def surprise_series(
    model: WorldModel, pixels: np.ndarray, actions: np.ndarray, z: np.ndarray | None = None
) -> np.ndarray:
    """Surprise at every frame of one episode.

    Args:
        model: the world model (frameskip `k`, env actions of size `A`).
        pixels: frames `uint8 [L+1, h, w, 3]`.
        actions: env actions `float32 [L, A]`, action t leading from frame t to t + 1.
        z: the frames' embeddings `[L+1, D]` if already computed.

    Returns:
        `float64 [L+1]`: `s_t` for `t >= k`, NaN before.
    """
    k, a_dim = model.config.frameskip, model.config.env_action_dim
    steps = len(pixels) - 1
    if actions.ndim != 2 or actions.shape != (steps, a_dim):
        raise ShapeError(
            f"surprise_series expects actions [L={steps}, A={a_dim}], got {list(actions.shape)}"
        )
    z = encode_frames(model, pixels) if z is None else z
    z_t = torch.as_tensor(z, dtype=torch.float32, device=model.device)
    a_t = torch.as_tensor(actions, dtype=torch.float32, device=model.device)
    out = np.full(steps + 1, np.nan)
    for phase in range(k):
        frames = np.arange(phase, steps + 1, k)  # [M]
        if len(frames) < 2:
            continue
        blocks = torch.stack([a_t[f : f + k].reshape(-1) for f in frames[:-1]])  # [M-1, k A]
        predicted = model.predict(z_t[frames[:-1]][None], blocks[None])[0]  # [M-1, D]
        out[frames[1:]] = (predicted - z_t[frames[1:]]).norm(dim=-1).double().cpu().numpy()
    return out


def calibrate_threshold(series: Sequence[np.ndarray], false_alarm_rate: float) -> float:
    """The surprise exceeded on normal experience at rate `false_alarm_rate` (its quantile).

    Args:
        series: surprise series of normal episodes (NaNs ignored).
        false_alarm_rate: the share of normal steps allowed above the threshold, in (0, 1).
    """
    require_in_range("calibrate_threshold", "false_alarm_rate", false_alarm_rate, 1e-6, 0.5)
    values = np.concatenate([np.asarray(s, np.float64).reshape(-1) for s in series])
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ShapeError("calibrate_threshold needs at least one finite surprise value")
    return float(np.quantile(values, 1.0 - false_alarm_rate))
