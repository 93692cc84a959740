"""Predictive sampling (Howell et al. 2022, MuJoCo MPC): perturb the nominal, keep the best.

Each iteration scores the current nominal plan together with `samples - 1` Gaussian
perturbations of it (fixed scale `noise_std`, clipped to `[-1, 1]`) in one batched call, and
the best of them becomes the new nominal. There is no distribution to refit and nothing else to
tune; because the nominal is always among the candidates its energy never increases, and the
returned nominal is the best sequence ever scored.

MuJoCo MPC perturbs the knots of a spline and runs one iteration per control step; here every
action of the horizon is perturbed directly (the `[H, A]` the objective sees) and `iterations`
rounds may run per solve (MPC's warm start carries the nominal between steps either way).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ami.config import require_positive
from ami.planning.solver import Objective, SolveResult, check_energies, check_init


@dataclass(frozen=True)
class PredictiveSamplingConfig:
    """Settings of predictive sampling.

    Attributes:
        samples: candidates `N` scored per iteration: the nominal and `N - 1` perturbations.
        iterations: perturb-and-select rounds.
        noise_std: standard deviation of the Gaussian perturbations (fixed).
    """

    samples: int = 300
    iterations: int = 6
    noise_std: float = 0.2

    def __post_init__(self) -> None:
        require_positive("PredictiveSamplingConfig", "samples", self.samples)
        require_positive("PredictiveSamplingConfig", "iterations", self.iterations)
        require_positive("PredictiveSamplingConfig", "noise_std", self.noise_std)


class PredictiveSampling:
    """Predictive sampling over action sequences `[H, A]` in `[-1, 1]`; implements `Solver`."""

    def __init__(self, config: PredictiveSamplingConfig) -> None:
        self.config = config

    @torch.inference_mode()
    def solve(self, objective: Objective, init: Tensor, generator: torch.Generator) -> SolveResult:
        """Minimise `objective` by greedy random search from the nominal `init`.

        Args:
            objective: candidate actions `[N, H, A]` -> energies `[N]`, `N = config.samples`.
            init: initial nominal `[H, A]` (clipped to `[-1, 1]`); sets the device and dtype.
            generator: the only source of randomness.

        Returns:
            `SolveResult` with the final nominal; `evaluations = iterations * samples`.

        Raises:
            ShapeError: `init` is not `[H, A]` or the objective does not return `[N]`.
        """
        check_init(init, "PredictiveSampling")
        cfg = self.config
        dtype = init.dtype if init.is_floating_point() else torch.float32
        nominal = init.detach().to(dtype=dtype).clamp(-1.0, 1.0)
        energy = float("inf")

        for _ in range(cfg.iterations):
            noise = torch.randn(
                (cfg.samples, *nominal.shape), generator=generator, device=generator.device
            ).to(device=nominal.device, dtype=dtype)
            candidates = (nominal + cfg.noise_std * noise).clamp(-1.0, 1.0)  # [N, H, A]
            candidates[0] = nominal
            energies = objective(candidates)
            check_energies(energies, cfg.samples, "PredictiveSampling")
            energies = energies.detach()
            energies = energies.masked_fill(energies.isnan(), torch.inf)
            best = int(energies.argmin())  # ties (and all-inf) keep index 0, the nominal
            nominal, energy = candidates[best].clone(), float(energies[best])

        return SolveResult(nominal, energy, cfg.iterations * cfg.samples)
