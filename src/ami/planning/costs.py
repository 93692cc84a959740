"""Costs: energies of imagined futures, lower is better; costs compose by `+` and `weight * cost`.

A cost maps the embeddings a model imagines, `z_future [N, H, D]`, and the candidate actions that
led there, `actions [N, H, A]`, to one energy per candidate, `[N]`. `GoalEnergy` is the task term
(squared distance to a goal embedding); `ActionMagnitude` is an optional regulariser.
"""

from __future__ import annotations

from torch import Tensor

from ami.config import require_choice, require_non_negative
from ami.errors import ShapeError

REDUCTIONS = ("last", "sum", "min")


class Cost:
    """Base of every cost: `cost(z_future [N, H, D], actions [N, H, A]) -> energies [N]`.

    Subclasses implement `__call__`. Costs add (`a + b` is a `CostSum`) and scale
    (`0.1 * cost` is a `ScaledCost`), so a task term and regularisers compose at the top.
    """

    def __call__(self, z_future: Tensor, actions: Tensor) -> Tensor:
        """Energies `[N]` of candidate futures `z_future [N, H, D]` under `actions [N, H, A]`."""
        raise NotImplementedError

    def __add__(self, other: Cost) -> CostSum:
        if not isinstance(other, Cost):
            return NotImplemented
        return CostSum((self, other))

    def __radd__(self, other: object) -> Cost:
        if other == 0:  # lets `sum([cost_a, cost_b])` work
            return self
        return NotImplemented

    def __rmul__(self, weight: float) -> ScaledCost:
        if not isinstance(weight, (int, float)):
            return NotImplemented
        return ScaledCost(float(weight), self)


class CostSum(Cost):
    """The sum of several costs; `cost_a + cost_b + cost_c` flattens into one `CostSum`."""

    terms: tuple[Cost, ...]

    def __init__(self, terms: tuple[Cost, ...]) -> None:
        flat: list[Cost] = []
        for term in terms:
            flat.extend(term.terms if isinstance(term, CostSum) else (term,))
        self.terms = tuple(flat)

    def __call__(self, z_future: Tensor, actions: Tensor) -> Tensor:
        """Sum of the terms' energies, `[N]`."""
        total = self.terms[0](z_future, actions)
        for term in self.terms[1:]:
            total = total + term(z_future, actions)
        return total

    def __repr__(self) -> str:
        return " + ".join(repr(term) for term in self.terms)


class ScaledCost(Cost):
    """`weight * cost`."""

    def __init__(self, weight: float, cost: Cost) -> None:
        self.weight = weight
        self.cost = cost

    def __call__(self, z_future: Tensor, actions: Tensor) -> Tensor:
        """The wrapped cost's energies times `weight`, `[N]`."""
        return self.weight * self.cost(z_future, actions)

    def __repr__(self) -> str:
        return f"{self.weight!r} * {self.cost!r}"


class GoalEnergy(Cost):
    """Squared Euclidean distance of imagined embeddings to a goal embedding.

    Per step `d_h = ||z_h - z_goal||^2`, then reduced over the horizon `H`:

    - `"last"`: `d_H`, where the plan ends;
    - `"sum"`: the *mean* of `d_h` over `h` (named sum, but a mean so that energies keep the same
      scale whatever the horizon);
    - `"min"`: `min_h d_h`, the closest approach anywhere along the plan.

    Args:
        z_goal: goal embedding `[D]` (for example `model.encode(goal_pixels)[0, 0]`).
        reduce: one of `"last"`, `"sum"`, `"min"`.

    Raises:
        ConfigError: `reduce` is not one of the three.
        ShapeError: `z_goal` is not one-dimensional.
    """

    def __init__(self, z_goal: Tensor, reduce: str = "min") -> None:
        require_choice("GoalEnergy", "reduce", reduce, REDUCTIONS)
        if z_goal.ndim != 1:
            raise ShapeError(f"GoalEnergy z_goal must be [D], got shape {list(z_goal.shape)}")
        self.z_goal = z_goal.detach()
        self.reduce = reduce

    def __call__(self, z_future: Tensor, actions: Tensor) -> Tensor:
        """Energies `[N]` of `z_future [N, H, D]` (`actions [N, H, A]` only checked for shape)."""
        check_future(z_future, actions, "GoalEnergy")
        if z_future.shape[2] != self.z_goal.shape[0]:
            raise ShapeError(
                f"GoalEnergy: z_future has D={z_future.shape[2]} but z_goal has "
                f"D={self.z_goal.shape[0]}"
            )
        goal = self.z_goal.to(device=z_future.device, dtype=z_future.dtype)
        per_step = (z_future - goal).pow(2).sum(dim=2)  # [N, H]
        if self.reduce == "last":
            return per_step[:, -1]
        if self.reduce == "sum":
            return per_step.mean(dim=1)
        return per_step.min(dim=1).values

    def __repr__(self) -> str:
        return f"GoalEnergy(D={self.z_goal.shape[0]}, reduce={self.reduce!r})"


class ActionMagnitude(Cost):
    """`weight * mean(a^2)` over the horizon and action dimensions: prefers gentle actions.

    Args:
        weight: non-negative scale of the term.

    Raises:
        ConfigError: `weight` is negative.
    """

    def __init__(self, weight: float) -> None:
        require_non_negative("ActionMagnitude", "weight", weight)
        self.weight = float(weight)

    def __call__(self, z_future: Tensor, actions: Tensor) -> Tensor:
        """Energies `[N]` from `actions [N, H, A]`."""
        check_future(z_future, actions, "ActionMagnitude")
        return self.weight * actions.pow(2).mean(dim=(1, 2))

    def __repr__(self) -> str:
        return f"ActionMagnitude({self.weight!r})"


def check_future(z_future: Tensor, actions: Tensor, owner: str) -> None:
    """Raise `ShapeError` unless `z_future` is `[N, H, D]` and `actions` is `[N, H, A]`."""
    if z_future.ndim != 3 or actions.ndim != 3 or z_future.shape[:2] != actions.shape[:2]:
        raise ShapeError(
            f"{owner}: expected z_future [N, H, D] and actions [N, H, A] with equal N and H, "
            f"got {list(z_future.shape)} and {list(actions.shape)}"
        )
