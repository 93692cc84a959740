"""Is place b reachable from place a within a few steps? The world model answers by imagining.

From each `z_from` the model rolls out a fixed fan of held-action plans (`directions` headings at
each of `speeds`, held for `blocks` model steps); the pair is judged reachable when some imagined
step comes within `threshold` of `z_to`. All pairs and headings go through the predictor in
batches, so judging thousands of candidate edges of the graph of places takes seconds.

A threshold in embedding units depends on the model and the world; `calibrated` sets it from
pairs known to be reachable (steps the agent lived): the model's own miss on what it did reach.
A world model whose imagined step misses the lived next place by more than the place moved (a
fixed threshold of half a lived step refused every lived pair of a PointMaze model) still links
places its imagination reaches as well as it reaches lived ones.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ami.errors import ConfigError
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

    @classmethod
    def calibrated(
        cls,
        model: LatentModel,
        frameskip: int,
        lived_from: np.ndarray,
        lived_to: np.ndarray,
        quantile: float = 0.5,
        **settings: object,
    ) -> ImaginedReachability:
        """A judge whose threshold is the `quantile` of the model's misses on lived pairs.

        `lived_from`, `lived_to` are `z [K, D]` pairs the agent lived (so reachable); `settings`
        are the constructor's other arguments.
        """
        if not 0 < quantile <= 1:
            raise ConfigError(f"calibrated quantile must be in (0, 1], got {quantile!r}")
        if len(lived_from) == 0:
            raise ConfigError("calibrated needs at least one lived pair")
        judge = cls(model, frameskip, threshold=math.inf, **settings)  # type: ignore[arg-type]
        judge.threshold = float(np.quantile(judge.misses(lived_from, lived_to), quantile))
        return judge

    def __call__(self, z_from: np.ndarray, z_to: np.ndarray) -> np.ndarray:
        """`bool [K]`: whether each `z_to[k]` is reachable from `z_from[k]`."""
        return self.misses(z_from, z_to) <= self.threshold

    @torch.no_grad()
    def misses(self, z_from: np.ndarray, z_to: np.ndarray) -> np.ndarray:
        """`float [K]`: the closest any plan of the fan imagines `z_from[k]` coming to `z_to[k]`."""
        device = next(iter(_parameters(self.model.model)), torch.zeros(0)).device
        fan = self.fan.to(device)
        m = fan.shape[0]
        closest = []
        for start in range(0, len(z_from), max(1, self.batch // m)):
            a = torch.as_tensor(z_from[start : start + self.batch // m], device=device)
            b = torch.as_tensor(z_to[start : start + self.batch // m], device=device)
            k = a.shape[0]
            history = a[:, None, None, :].expand(-1, m, 1, -1).reshape(k * m, 1, -1)
            actions = fan[None].expand(k, -1, -1, -1).reshape(k * m, self.blocks, 2)
            imagined = self.model.rollout(history, actions).reshape(k, m, self.blocks, -1)
            distance = (imagined - b[:, None, None, :]).norm(dim=-1).amin(dim=(1, 2))
            closest.append(distance.float().cpu().numpy())
        return np.concatenate(closest) if closest else np.zeros(0, dtype=np.float32)


def _parameters(model: object):  # noqa: ANN202 - a world model or a test double
    parameters = getattr(model, "parameters", None)
    return parameters() if callable(parameters) else iter(())
