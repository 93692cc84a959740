"""Forbidden places as constraints: plans keep out of them and still reach the goal."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ami.errors import ConfigError, ShapeError
from ami.planning import CEM, CEMConfig, ForbiddenPlaces, GoalEnergy, MPCConfig, MPCController
from fakes import LinearModel, LinearSystem

START, GOAL, LAVA, RADIUS = (-0.6, 0.02), (0.6, 0.0), (0.0, 0.0), 0.2


def closed_loop(constraint: ForbiddenPlaces | None, steps: int = 60) -> tuple[float, float]:
    """(closest approach to the lava, final distance to the goal) of a controlled run."""
    controller = MPCController(
        LinearModel(),
        CEM(CEMConfig(samples=200, elites=20, iterations=4)),
        MPCConfig(horizon=8, seed=0),
        torch.device("cpu"),
    )
    cost = GoalEnergy(torch.tensor(GOAL), reduce="sum")
    controller.reset(cost if constraint is None else cost + constraint)
    world = LinearSystem(START)
    closest = np.inf
    for _ in range(steps):
        world.step(controller.act(world.pixels()))
        closest = min(closest, float(np.linalg.norm(world.state - LAVA)))
    return closest, float(np.linalg.norm(world.state - GOAL))


def test_unconstrained_plans_walk_through_the_lava() -> None:
    closest, final = closed_loop(None)
    assert closest < RADIUS / 2 and final < 0.05


@pytest.mark.parametrize("mode", ["reject", "penalty"])
def test_constrained_plans_keep_out_and_still_arrive(mode: str) -> None:
    constraint = ForbiddenPlaces(torch.tensor([LAVA]), radius=RADIUS, mode=mode, weight=1000.0)
    closest, final = closed_loop(constraint)
    # The model is exact (pixels quantise the state to 1/255 of the box): no entry at all.
    assert closest >= RADIUS - 0.01, closest
    assert final < 0.08


def test_violation_is_the_deepest_entry() -> None:
    constraint = ForbiddenPlaces(torch.zeros(1, 2), radius=0.5)
    future = torch.tensor([[[1.0, 0.0], [0.2, 0.0]], [[1.0, 0.0], [0.9, 0.0]]])
    torch.testing.assert_close(constraint.violation(future), torch.tensor([0.3, 0.0]))
    energies = constraint(future, torch.zeros(2, 2, 2))
    assert energies[0] > 1e5 and energies[1] == 0


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="mode"):
        ForbiddenPlaces(torch.zeros(1, 2), 0.1, mode="maybe")
    with pytest.raises(ConfigError, match="radius"):
        ForbiddenPlaces(torch.zeros(1, 2), 0.0)
    with pytest.raises(ShapeError):
        ForbiddenPlaces(torch.zeros(2), 0.1)
