"""Planning in latent space: costs (goal energy), the solver protocol, CEM and the MPC controller.

Knows nothing of worlds, files, training or plotting: a solver sees an objective, an initial guess
and a seeded generator; MPC sees a model through the small `LatentModel` protocol.
"""

from ami.planning.cem import CEM, CEMConfig
from ami.planning.costs import ActionMagnitude, Cost, CostSum, GoalEnergy, ScaledCost
from ami.planning.held_actions import HeldActions
from ami.planning.mpc import LatentModel, MPCConfig, MPCController
from ami.planning.solver import Objective, Solver, SolveResult

__all__ = [
    "CEM",
    "ActionMagnitude",
    "CEMConfig",
    "Cost",
    "CostSum",
    "GoalEnergy",
    "HeldActions",
    "LatentModel",
    "MPCConfig",
    "MPCController",
    "Objective",
    "ScaledCost",
    "SolveResult",
    "Solver",
]
