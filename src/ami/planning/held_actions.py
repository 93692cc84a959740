"""Plan one env action per model step, held for the whole block of k env steps.

A model trained with action blocks takes `k` env actions per step (`[k * A]`). Searching all
`k * A` numbers per step with a sampling solver spends most samples on within-block jitter whose
effects cancel; holding one action per block searches `A` numbers per step and makes sampled
plans travel `k` times further, which is what finds detours (a door) within a fixed budget.
"""

from __future__ import annotations

from torch import Tensor

from ami.errors import ConfigError
from ami.planning.mpc import LatentModel


class HeldActions:
    """A `LatentModel` view of `model` whose actions `[N, H, A]` are held for `repeat` steps."""

    def __init__(self, model: LatentModel, repeat: int) -> None:
        if repeat < 1 or model.action_dim % repeat != 0:
            raise ConfigError(
                f"cannot hold actions for {repeat} steps: model action size {model.action_dim} "
                f"is not a multiple of it"
            )
        self.model = model
        self.repeat = repeat

    @property
    def action_dim(self) -> int:
        """Size of one held (env) action."""
        return self.model.action_dim // self.repeat

    @property
    def history(self) -> int:
        """Past embeddings the wrapped model reads."""
        return self.model.history

    def encode(self, pixels: Tensor) -> Tensor:
        """`pixels uint8 [B, T, 3, h, w]` → `z [B, T, D]` (the wrapped model's)."""
        return self.model.encode(pixels)

    def rollout(self, z_history: Tensor, actions: Tensor) -> Tensor:
        """`z_history [N, t, D]`, `actions [N, H, A]` → `z_future [N, H, D]`, each action held."""
        return self.model.rollout(z_history, actions.repeat(1, 1, self.repeat))
