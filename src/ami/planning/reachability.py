"""Is place b reachable from place a within a few steps? The world model answers by imagining.

From each `z_from` the model rolls out a fixed fan of held-action plans (`directions` headings at
each of `speeds`, held for `blocks` model steps); the pair is judged reachable when some imagined
step comes within `threshold` of `z_to`. All pairs and headings go through the predictor in
batches, so judging thousands of candidate edges of the graph of places takes seconds.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ami.planning.held_actions import HeldActions
from ami.planning.mpc import LatentModel


class ImaginedReachability:
    """A reachability judge `(z_from [K, D], z_to [K, D]) -> bool [K]` from a world model."""

    def __init__(
        self,
        model: LatentModel,
        frameskip: int,
        threshold: float,
        blocks: int = 2,
        directions: int = 16,
        speeds: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0),
        batch: int = 8192,
    ) -> None:
        self.model = HeldActions(model, frameskip)
        self.threshold, self.blocks, self.batch = threshold, blocks, batch
        if self.model.action_dim != 2:
            raise ValueError("the fan of headings is defined for 2-D actions")
        angles = torch.arange(directions) * (2 * math.pi / directions)
        headings = torch.stack([angles.cos(), angles.sin()], dim=1)  # [M, 2]
        headings = headings / headings.abs().amax(dim=1, keepdim=True)  # full speed on one axis
        headings = torch.cat([speed * headings for speed in speeds])  # [M, 2]
        # Every imagined step is compared, so a plan held for `blocks` steps also covers the
        # shorter ones.
        self.fan = headings[:, None, :].expand(-1, blocks, -1).contiguous()  # [M, blocks, 2]

    @torch.no_grad()
    def __call__(self, z_from: np.ndarray, z_to: np.ndarray) -> np.ndarray:
        """`bool [K]`: whether each `z_to[k]` is reachable from `z_from[k]`."""
        device = next(iter(_parameters(self.model.model)), torch.zeros(0)).device
        fan = self.fan.to(device)
        m = fan.shape[0]
        verdicts = []
        for start in range(0, len(z_from), max(1, self.batch // m)):
            a = torch.as_tensor(z_from[start : start + self.batch // m], device=device)
            b = torch.as_tensor(z_to[start : start + self.batch // m], device=device)
            k = a.shape[0]
            history = a[:, None, None, :].expand(-1, m, 1, -1).reshape(k * m, 1, -1)
            actions = fan[None].expand(k, -1, -1, -1).reshape(k * m, self.blocks, 2)
            imagined = self.model.rollout(history, actions).reshape(k, m, self.blocks, -1)
            distance = (imagined - b[:, None, None, :]).norm(dim=-1).amin(dim=(1, 2))
            verdicts.append((distance <= self.threshold).cpu().numpy())
        return np.concatenate(verdicts) if verdicts else np.zeros(0, dtype=bool)


def _parameters(model: object):  # noqa: ANN202 - a world model or a test double
    parameters = getattr(model, "parameters", None)
    return parameters() if callable(parameters) else iter(())
