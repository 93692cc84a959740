"""The solver contract: every solver sees an objective, an initial guess and a seeded generator.

An objective maps a batch of candidate action sequences `[N, H, A]` to energies `[N]`, lower is
better. Actions live in the box `[-1, 1]` that every ami world uses, and a solver never returns an
action outside it. A solver knows nothing of worlds, models or logging; MPC wraps any of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from ami.errors import ShapeError

Objective = Callable[[Tensor], Tensor]
"""Candidate actions `[N, H, A]` -> energies `[N]`; lower is better."""


@dataclass(frozen=True)
class SolveResult:
    """What a solver found.

    Attributes:
        actions: the chosen action sequence `[H, A]`, in `[-1, 1]`, on the device of `init`.
        energy: the objective's value at `actions`.
        evaluations: how many candidate sequences the objective was asked to score in total.
    """

    actions: Tensor
    energy: float
    evaluations: int


class Solver(Protocol):
    """Finds low-energy action sequences; every solver has this one signature."""

    def solve(self, objective: Objective, init: Tensor, generator: torch.Generator) -> SolveResult:
        """Minimise `objective` over action sequences `[H, A]` in `[-1, 1]`.

        Args:
            objective: candidate actions `[N, H, A]` -> energies `[N]`.
            init: initial guess `[H, A]` (a warm start); its device is the device of the search.
            generator: the only source of randomness, so equal seeds give equal results.

        Returns:
            The best sequence found, its energy and the number of evaluations.
        """
        ...


def check_init(init: Tensor, owner: str) -> None:
    """Raise `ShapeError` unless `init` is a non-empty `[H, A]` tensor."""
    if init.ndim != 2 or init.shape[0] == 0 or init.shape[1] == 0:
        raise ShapeError(f"{owner}: init must be [H, A] with H, A > 0, got {list(init.shape)}")


def check_energies(energies: Tensor, n: int, owner: str) -> None:
    """Raise `ShapeError` unless the objective returned `energies` of shape `[n]`."""
    if energies.shape != (n,):
        raise ShapeError(
            f"{owner}: objective must return energies [N] = [{n}], got {list(energies.shape)}"
        )


def score(objective: Objective, candidates: Tensor, owner: str) -> Tensor:
    """Energies `[N]` of `candidates [N, H, A]`, detached; NaN counts as +inf (never chosen)."""
    energies = objective(candidates)
    check_energies(energies, candidates.shape[0], owner)
    energies = energies.detach()
    return torch.where(torch.isnan(energies), torch.full_like(energies, float("inf")), energies)
