"""Model-predictive path integral (MPPI): perturb the mean, average by exponentiated energy.

Each iteration samples `samples` perturbations `mean + noise_std * eps` (candidate 0 is the mean
itself), scores them in one batched call and moves the mean to the average of the candidates
weighted by `softmax(-energy / temperature)`. The energies are shifted by their minimum first,
so the weights never overflow whatever the energies' scale. The noise scale stays fixed.

Which sequence is returned: by default the final weighted mean, scored once more (one extra
evaluation). That is MPPI's estimate of the optimum: averaging many candidates smooths out noise
in a learned model's energies, where the single best sample tends to exploit it. The best
candidate ever scored is tracked as well and returned instead when it is better and
`keep_best=True`, or when the final mean scores NaN or infinity.

`temperature` is in the units of the energies: small values approach "take the best sample",
large ones a plain average. Candidates are clipped to `[-1, 1]` before scoring and averaging.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ami.config import require_positive
from ami.planning.solver import Objective, SolveResult, check_init, score


@dataclass(frozen=True)
class MPPIConfig:
    """Settings of MPPI.

    Attributes:
        samples: candidates `N` scored per iteration (candidate 0 is the current mean).
        iterations: perturb-and-average rounds.
        noise_std: standard deviation of the Gaussian perturbations.
        temperature: softmax temperature in energy units; lower trusts the best candidates more.
        keep_best: return the best candidate ever scored if it beats the final mean.
    """

    samples: int = 300
    iterations: int = 6
    noise_std: float = 0.3
    temperature: float = 0.1
    keep_best: bool = False

    def __post_init__(self) -> None:
        require_positive("MPPIConfig", "samples", self.samples)
        require_positive("MPPIConfig", "iterations", self.iterations)
        require_positive("MPPIConfig", "noise_std", self.noise_std)
        require_positive("MPPIConfig", "temperature", self.temperature)


class MPPI:
    """MPPI over action sequences `[H, A]` in `[-1, 1]`; implements `Solver`."""

    def __init__(self, config: MPPIConfig) -> None:
        self.config = config

    @torch.inference_mode()
    def solve(self, objective: Objective, init: Tensor, generator: torch.Generator) -> SolveResult:
        """Minimise `objective` by energy-weighted averaging of perturbations of `init`.

        Args:
            objective: candidate actions `[N, H, A]` -> energies `[N]`, `N = config.samples`.
            init: initial mean `[H, A]` (clipped to `[-1, 1]`); sets the device and float dtype.
            generator: the only source of randomness.

        Returns:
            `SolveResult` with the final mean (or the best seen, see the module docstring);
            `evaluations = iterations * samples + 1`.

        Raises:
            ShapeError: `init` is not `[H, A]` or the objective does not return `[N]`.
        """
        check_init(init, "MPPI")
        cfg = self.config
        dtype = init.dtype if init.is_floating_point() else torch.float32
        mean = init.detach().to(dtype=dtype).clamp(-1.0, 1.0)
        best_actions, best_energy = mean, float("inf")
        evaluations = 0

        for _ in range(cfg.iterations):
            noise = torch.randn(
                (cfg.samples, *mean.shape), generator=generator, device=generator.device
            ).to(device=mean.device, dtype=dtype)
            candidates = (mean + cfg.noise_std * noise).clamp(-1.0, 1.0)  # [N, H, A]
            candidates[0] = mean
            energies = score(objective, candidates, "MPPI")
            evaluations += cfg.samples

            lowest = energies.min()
            if not torch.isfinite(lowest):  # every candidate is +inf (or NaN): no information
                continue
            if float(lowest) < best_energy:
                best_energy = float(lowest)
                best_actions = candidates[int(energies.argmin())].clone()
            weights = torch.softmax(-(energies - lowest) / cfg.temperature, dim=0)  # [N]
            mean = torch.einsum("n,nha->ha", weights, candidates)

        final_energy = float(score(objective, mean.unsqueeze(0), "MPPI")[0])
        evaluations += 1
        fall_back = cfg.keep_best or not math.isfinite(final_energy)
        if fall_back and best_energy < final_energy:
            return SolveResult(best_actions, best_energy, evaluations)
        return SolveResult(mean, final_energy, evaluations)
