"""Solvers by name: the registry of solver configs and the `SolverConfig` a recipe holds.

`build_solver("mppi", samples=100)` is the quick way in; a recipe holds one `SolverConfig`, which
names the solver and carries a config for every solver, so switching solver is one field and the
settings of the others survive a round trip through JSON (`ami.config.config_from_dict`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ami.config import require_choice
from ami.errors import ConfigError
from ami.planning.cem import CEM, CEMConfig
from ami.planning.gradient import GradientConfig, GradientDescent
from ami.planning.icem import ICEM, ICEMConfig
from ami.planning.mppi import MPPI, MPPIConfig
from ami.planning.predictive_sampling import PredictiveSampling, PredictiveSamplingConfig
from ami.planning.solver import Solver

SOLVERS = ("cem", "icem", "mppi", "gradient", "predictive_sampling")
"""Names `build_solver` knows, in the order they are listed to users."""

AnySolverConfig = CEMConfig | ICEMConfig | MPPIConfig | GradientConfig | PredictiveSamplingConfig
"""The config of any registered solver."""

_CONFIGS: dict[str, type[AnySolverConfig]] = {
    "cem": CEMConfig,
    "icem": ICEMConfig,
    "mppi": MPPIConfig,
    "gradient": GradientConfig,
    "predictive_sampling": PredictiveSamplingConfig,
}


@dataclass(frozen=True)
class SolverConfig:
    """Which solver to plan with, and the settings of each.

    Attributes:
        name: one of `SOLVERS`; only that solver's config is used.
        cem: settings of `CEM`.
        icem: settings of `ICEM`.
        mppi: settings of `MPPI`.
        gradient: settings of `GradientDescent`.
        predictive_sampling: settings of `PredictiveSampling`.
    """

    name: str = "cem"
    cem: CEMConfig = field(default_factory=CEMConfig)
    icem: ICEMConfig = field(default_factory=ICEMConfig)
    mppi: MPPIConfig = field(default_factory=MPPIConfig)
    gradient: GradientConfig = field(default_factory=GradientConfig)
    predictive_sampling: PredictiveSamplingConfig = field(default_factory=PredictiveSamplingConfig)

    def __post_init__(self) -> None:
        require_choice("SolverConfig", "name", self.name, SOLVERS)
        for name, cls in _CONFIGS.items():
            value = getattr(self, name)
            if not isinstance(value, cls):
                raise ConfigError(
                    f"SolverConfig.{name} must be a {cls.__name__}, got {type(value).__name__}"
                )

    @property
    def selected(self) -> AnySolverConfig:
        """The config of the named solver."""
        config: AnySolverConfig = getattr(self, self.name)
        return config


def solver_config(name: str, **params: Any) -> AnySolverConfig:
    """The validated config of solver `name` with `params` changed from its defaults.

    Raises:
        ConfigError: `name` is not in `SOLVERS`, a parameter is not a field of its config, or a
            value is invalid.
    """
    if name not in _CONFIGS:
        raise ConfigError(f"unknown solver {name!r}; known solvers: {list(SOLVERS)}")
    cls = _CONFIGS[name]
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise ConfigError(
            f"solver {name!r} has no parameter(s) {unknown}; {cls.__name__} fields: {fields}"
        )
    return cls(**params)


def build_solver(name: str, **params: Any) -> Solver:
    """Solver `name` with `params` changed from its defaults (see `solver_config`)."""
    return make_solver(solver_config(name, **params))


def build_solver_from(config: SolverConfig) -> Solver:
    """The solver that `config.name` selects, with its settings from `config`."""
    return make_solver(config.selected)


def make_solver(config: AnySolverConfig) -> Solver:
    """The solver of a solver config (its type picks the solver)."""
    if isinstance(config, CEMConfig):
        return CEM(config)
    if isinstance(config, ICEMConfig):
        return ICEM(config)
    if isinstance(config, MPPIConfig):
        return MPPI(config)
    if isinstance(config, GradientConfig):
        return GradientDescent(config)
    if isinstance(config, PredictiveSamplingConfig):
        return PredictiveSampling(config)
    raise ConfigError(f"not a solver config: {type(config).__name__}")
