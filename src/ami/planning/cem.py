"""The cross-entropy method: sample, keep the elites, refit a diagonal Gaussian, repeat.

Notable choices:

- Candidate 0 of every iteration is the current mean itself, so a warm start (or the previous
  iteration's mean) is always scored and never lost.
- Candidates are clipped to `[-1, 1]` before scoring, so what is scored is what is returned.
- All `samples` candidates of an iteration are scored in one batched objective call.
- After the last iteration the refitted mean is scored once more (one extra evaluation); with
  `keep_best` the best sequence ever scored is returned, otherwise that final mean.
- Noise is drawn from the given generator on the generator's own device and then moved to the
  device of `init`, so a CPU generator gives the same numbers whatever device the search runs on.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ami.config import require_positive
from ami.errors import ConfigError
from ami.planning.solver import Objective, SolveResult, check_init, score


@dataclass(frozen=True)
class CEMConfig:
    """Settings of the cross-entropy method.

    Attributes:
        samples: candidates `N` scored per iteration.
        elites: best candidates the Gaussian is refitted to (`0 < elites <= samples`).
        iterations: sample-and-refit rounds.
        init_std: initial standard deviation of every action dimension.
        min_std: floor on the standard deviation, so the search never collapses to a point.
        momentum: weight of the old mean/std when smoothing between iterations, in `[0, 1)`.
        keep_best: return the best candidate ever scored even if the final mean is worse.
    """

    samples: int = 300
    elites: int = 30
    iterations: int = 6
    init_std: float = 0.75
    min_std: float = 0.05
    momentum: float = 0.0
    keep_best: bool = True

    def __post_init__(self) -> None:
        require_positive("CEMConfig", "samples", self.samples)
        require_positive("CEMConfig", "elites", self.elites)
        if self.elites > self.samples:
            raise ConfigError(
                f"CEMConfig.elites must be <= samples (got {self.elites} > {self.samples})"
            )
        require_positive("CEMConfig", "iterations", self.iterations)
        require_positive("CEMConfig", "init_std", self.init_std)
        require_positive("CEMConfig", "min_std", self.min_std)
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"CEMConfig.momentum must be in [0, 1), got {self.momentum!r}")


class CEM:
    """Cross-entropy method over action sequences `[H, A]` in `[-1, 1]`; implements `Solver`."""

    def __init__(self, config: CEMConfig) -> None:
        self.config = config

    @torch.inference_mode()
    def solve(self, objective: Objective, init: Tensor, generator: torch.Generator) -> SolveResult:
        """Minimise `objective` starting from the Gaussian `N(init, init_std^2)`.

        Args:
            objective: candidate actions `[N, H, A]` -> energies `[N]`, `N = config.samples`.
            init: initial mean `[H, A]` (clipped to `[-1, 1]`); sets the device and float dtype.
            generator: the only source of randomness.

        Returns:
            `SolveResult` with actions `[H, A]`; `evaluations = iterations * samples + 1`.

        Raises:
            ShapeError: `init` is not `[H, A]` or the objective does not return `[N]`.
        """
        check_init(init, "CEM")
        cfg = self.config
        dtype = init.dtype if init.is_floating_point() else torch.float32
        mean = init.detach().to(dtype=dtype).clamp(-1.0, 1.0)
        std = torch.full_like(mean, cfg.init_std)
        best_actions, best_energy = mean, float("inf")
        evaluations = 0

        for _ in range(cfg.iterations):
            noise = torch.randn(
                (cfg.samples, *mean.shape), generator=generator, device=generator.device
            ).to(device=mean.device, dtype=dtype)
            candidates = (mean + std * noise).clamp(-1.0, 1.0)  # [N, H, A]
            candidates[0] = mean
            energies = score(objective, candidates, "CEM")
            evaluations += cfg.samples

            order = torch.argsort(energies)
            if float(energies[order[0]]) < best_energy:
                best_energy = float(energies[order[0]])
                best_actions = candidates[order[0]].clone()

            elites = candidates[order[: cfg.elites]]  # [elites, H, A]
            new_mean = elites.mean(dim=0)
            new_std = elites.std(dim=0, unbiased=False).clamp_min(cfg.min_std)
            mean = cfg.momentum * mean + (1.0 - cfg.momentum) * new_mean
            std = cfg.momentum * std + (1.0 - cfg.momentum) * new_std

        final_energy = float(score(objective, mean.unsqueeze(0), "CEM")[0])
        evaluations += 1
        if cfg.keep_best and best_energy <= final_energy:
            return SolveResult(best_actions, best_energy, evaluations)
        return SolveResult(mean, final_energy, evaluations)
