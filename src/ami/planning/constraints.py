"""Places never to enter, as a cost term on imagined futures.

A candidate plan violates the constraint when any imagined embedding comes within `radius` of a
forbidden embedding (a remembered moment labelled, say, "lava"); its violation is how deep it goes
at worst, `max_h relu(radius − min_f ‖z_h − z_f‖)`. Two ways to turn that into energy:
- `reject` (default): a violating candidate costs `REJECTED + violation`, above any feasible
  candidate's energy, so a sampling solver never prefers it (hard rejection);
- `penalty`: `weight · violation²` is added (a soft penalty; lets the solver trade a little
  violation for goal energy).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ami.config import require_choice, require_non_negative, require_positive
from ami.errors import ShapeError
from ami.planning.costs import Cost, check_future

REJECTED = 1e6


class ForbiddenPlaces(Cost):
    """Energy of entering forbidden places `z_forbidden [F, D]` within `radius` (embedding)."""

    def __init__(
        self, z_forbidden: Tensor, radius: float, mode: str = "reject", weight: float = 100.0
    ) -> None:
        if z_forbidden.ndim != 2:
            raise ShapeError(
                f"ForbiddenPlaces expects z_forbidden [F, D], got {tuple(z_forbidden.shape)}"
            )
        require_positive("ForbiddenPlaces", "radius", radius)
        require_choice("ForbiddenPlaces", "mode", mode, ("reject", "penalty"))
        require_non_negative("ForbiddenPlaces", "weight", weight)
        self.z_forbidden, self.radius, self.mode, self.weight = z_forbidden, radius, mode, weight

    def violation(self, z_future: Tensor) -> Tensor:
        """How deep each candidate goes into a forbidden place at worst, `[N]` (0 when clear)."""
        forbidden = self.z_forbidden.to(device=z_future.device, dtype=z_future.dtype)
        distance = torch.cdist(z_future, forbidden.expand(z_future.shape[0], -1, -1))  # [N, H, F]
        return torch.relu(self.radius - distance.amin(dim=2)).amax(dim=1)

    def __call__(self, z_future: Tensor, actions: Tensor) -> Tensor:
        """Energies `[N]`."""
        check_future(z_future, actions, "ForbiddenPlaces")
        if self.z_forbidden.shape[-1] != z_future.shape[-1]:
            raise ShapeError(
                f"ForbiddenPlaces: forbidden embeddings have D={self.z_forbidden.shape[-1]}, "
                f"futures D={z_future.shape[-1]}"
            )
        violation = self.violation(z_future)
        if self.mode == "reject":
            return torch.where(violation > 0, REJECTED + violation, torch.zeros_like(violation))
        return self.weight * violation.square()

    def __repr__(self) -> str:
        return f"ForbiddenPlaces({self.z_forbidden.shape[0]} places, r={self.radius}, {self.mode})"
