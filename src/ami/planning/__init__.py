"""Planning in latent space: costs (goal energy), the solver protocol, solvers and MPC.

Solvers: CEM, iCEM, MPPI, gradient descent through the model and predictive sampling, each in
one file behind the same `Solver` protocol; `build_solver` / `SolverConfig` pick one by name.

Knows nothing of worlds, files, training or plotting: a solver sees an objective, an initial guess
and a seeded generator; MPC sees a model through the small `LatentModel` protocol.
"""

from ami.planning.build import (
    SOLVERS,
    AnySolverConfig,
    SolverConfig,
    build_solver,
    build_solver_from,
    make_solver,
    solver_config,
)
from ami.planning.cem import CEM, CEMConfig
from ami.planning.constraints import ForbiddenPlaces
from ami.planning.costs import ActionMagnitude, Cost, CostSum, GoalEnergy, ScaledCost
from ami.planning.gradient import GradientConfig, GradientDescent
from ami.planning.held_actions import HeldActions
from ami.planning.icem import ICEM, ICEMConfig, powerlaw_noise
from ami.planning.mpc import LatentModel, MPCConfig, MPCController
from ami.planning.mppi import MPPI, MPPIConfig
from ami.planning.predictive_sampling import PredictiveSampling, PredictiveSamplingConfig
from ami.planning.reachability import ImaginedReachability
from ami.planning.solver import Objective, Solver, SolveResult

__all__ = [
    "CEM",
    "ICEM",
    "MPPI",
    "SOLVERS",
    "AnySolverConfig",
    "GradientConfig",
    "GradientDescent",
    "ICEMConfig",
    "MPPIConfig",
    "PredictiveSampling",
    "PredictiveSamplingConfig",
    "SolverConfig",
    "build_solver",
    "build_solver_from",
    "make_solver",
    "powerlaw_noise",
    "solver_config",
    "ActionMagnitude",
    "CEMConfig",
    "Cost",
    "CostSum",
    "ForbiddenPlaces",
    "GoalEnergy",
    "HeldActions",
    "ImaginedReachability",
    "LatentModel",
    "MPCConfig",
    "MPCController",
    "Objective",
    "ScaledCost",
    "SolveResult",
    "Solver",
]
