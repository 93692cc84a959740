"""Gradient descent through the world model: Adam on the actions, from several restarts.

Notable choices:

- The box is kept by reparametrisation, not clipping: Adam optimises an unconstrained `u` and the
  actions are `a = tanh(u)`, so every iterate lies strictly inside `(-1, 1)` and the gradient
  never sees a clip. A bound is approached as `u` grows (Adam's step in `u` stays about `lr`, so
  `a = 0.995` needs `u = 3`); a bound itself is never reached exactly. `init` is clamped to
  `[-1 + 1e-4, 1 - 1e-4]` before `atanh`.
- `samples` candidates are optimised in parallel in one batched objective call per iteration
  (restarts): candidate 0 starts at `init`, the others at `init + init_std * noise`, clipped.
  Candidates do not interact; the sum of their energies is differentiated.
- The objective is evaluated under `torch.enable_grad()`, so a solver called inside `no_grad`
  still works; gradients are taken with `torch.autograd.grad` with respect to `u` only, so the
  model's parameters never accumulate `.grad`. An objective whose energies have no `grad_fn`
  (detached, computed under `no_grad`, or through numpy) is a `ConfigError`.
- The energies of iteration `i` are those of the iterate before the `i`-th Adam step; after the
  last step the iterates are scored once more. The best candidate ever scored is returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ami.config import require_non_negative, require_positive
from ami.errors import ConfigError
from ami.planning.solver import Objective, SolveResult, check_energies, check_init

_EDGE = 1.0 - 1e-4  # |init| is clamped to this before atanh, so u stays finite


@dataclass(frozen=True)
class GradientConfig:
    """Settings of gradient descent on the actions.

    Attributes:
        samples: candidates `N` optimised in parallel (restarts); 1 is plain descent from `init`.
        iterations: Adam steps.
        lr: Adam learning rate, on the unconstrained `u` where `a = tanh(u)`.
        init_std: standard deviation of the starting noise of candidates 1..N-1 (0: all start
            at `init`).
    """

    samples: int = 16
    iterations: int = 50
    lr: float = 0.1
    init_std: float = 0.5

    def __post_init__(self) -> None:
        require_positive("GradientConfig", "samples", self.samples)
        require_positive("GradientConfig", "iterations", self.iterations)
        require_positive("GradientConfig", "lr", self.lr)
        require_non_negative("GradientConfig", "init_std", self.init_std)


class GradientDescent:
    """Adam on `tanh`-squashed action sequences `[H, A]`; implements `Solver`."""

    def __init__(self, config: GradientConfig) -> None:
        self.config = config

    def solve(self, objective: Objective, init: Tensor, generator: torch.Generator) -> SolveResult:
        """Minimise a differentiable `objective` by Adam from `samples` starts around `init`.

        Args:
            objective: candidate actions `[N, H, A]` -> energies `[N]`, `N = config.samples`;
                must be differentiable with respect to the actions.
            init: initial guess `[H, A]`; sets the device and float dtype.
            generator: the only source of randomness (the restarts' starting noise).

        Returns:
            `SolveResult` with the best sequence ever scored;
            `evaluations = (iterations + 1) * samples`.

        Raises:
            ShapeError: `init` is not `[H, A]` or the objective does not return `[N]`.
            ConfigError: the objective's energies carry no gradient.
        """
        check_init(init, "GradientDescent")
        cfg = self.config
        dtype = init.dtype if init.is_floating_point() else torch.float32
        start = init.detach().to(dtype=dtype).clamp(-1.0, 1.0)
        noise = torch.randn(
            (cfg.samples, *start.shape), generator=generator, device=generator.device
        ).to(device=start.device, dtype=dtype)
        noise[0] = 0.0
        starts = (start + cfg.init_std * noise).clamp(-_EDGE, _EDGE)  # [N, H, A]
        u = torch.atanh(starts).requires_grad_(True)
        optimiser = torch.optim.Adam([u], lr=cfg.lr)
        best_actions, best_energy = start, float("inf")

        for step in range(cfg.iterations + 1):
            with torch.enable_grad():
                actions = torch.tanh(u)
                energies = objective(actions)
                check_energies(energies, cfg.samples, "GradientDescent")
                if energies.grad_fn is None:
                    raise ConfigError(
                        "GradientDescent: the objective is not differentiable (its energies have "
                        "no grad_fn); use a sampling solver or compute it with torch ops"
                    )
                scored = energies.detach()
                scored = scored.masked_fill(scored.isnan(), torch.inf)
                index = int(scored.argmin())
                if float(scored[index]) < best_energy:
                    best_energy = float(scored[index])
                    best_actions = actions[index].detach().clone()
                if step == cfg.iterations:
                    break
                (u.grad,) = torch.autograd.grad(energies.sum(), u)
            optimiser.step()

        return SolveResult(best_actions, best_energy, (cfg.iterations + 1) * cfg.samples)
