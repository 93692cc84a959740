"""Improved CEM (iCEM, Pinneri et al. 2020): CEM with coloured noise, kept elites and decay.

What iCEM adds to plain CEM, as done here:

- Coloured noise: each candidate's deviation along the horizon has a power spectrum
  `~ 1 / f^beta` (`beta = 0` is white noise, `beta = 2` is smooth, Brownian-like), drawn by
  shaping white Gaussian noise from the generator in Fourier space (`powerlaw_noise`).
- Kept elites: a fraction `keep_elites` of the previous iteration's elites joins the next
  population and is scored again (in the same batched call), so good sequences are not lost.
- Population decay: iteration `i` samples `max(round(samples * decay^-i), 2 * elites)` fresh
  candidates, so later, narrower iterations spend fewer evaluations.
- Momentum `alpha` on both the mean and the standard deviation update; `min_std` floors the std.
- Candidate 0 of every iteration is the current mean (the paper adds it in the last iteration
  only; here it costs one sample per iteration and a warm start is never lost).
- The best candidate ever scored is returned. Shifting elites between MPC steps (also in the
  paper) is not done: a solver is stateless and the warm start `init` carries the shifted plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ami.config import require_in_range, require_non_negative, require_positive
from ami.errors import ConfigError
from ami.planning.solver import Objective, SolveResult, check_init, score


@dataclass(frozen=True)
class ICEMConfig:
    """Settings of iCEM.

    Attributes:
        samples: fresh candidates `N` of the first iteration (later ones decay, see `decay`).
        elites: best candidates the Gaussian is refitted to (`0 < elites <= samples`).
        iterations: sample-and-refit rounds.
        init_std: initial standard deviation of every action dimension.
        min_std: floor on the standard deviation.
        alpha: momentum, the weight of the old mean/std in each update, in `[0, 1)`.
        beta: exponent of the noise's power spectrum along the horizon (0 white, 2 smooth).
        decay: population decay factor `>= 1` between iterations (1 keeps `samples` fixed).
        keep_elites: fraction of the elites carried into the next iteration, in `[0, 1]`.
    """

    samples: int = 300
    elites: int = 30
    iterations: int = 6
    init_std: float = 0.75
    min_std: float = 0.05
    alpha: float = 0.1
    beta: float = 2.0
    decay: float = 1.25
    keep_elites: float = 0.3

    def __post_init__(self) -> None:
        require_positive("ICEMConfig", "samples", self.samples)
        require_positive("ICEMConfig", "elites", self.elites)
        if self.elites > self.samples:
            raise ConfigError(
                f"ICEMConfig.elites must be <= samples (got {self.elites} > {self.samples})"
            )
        require_positive("ICEMConfig", "iterations", self.iterations)
        require_positive("ICEMConfig", "init_std", self.init_std)
        require_positive("ICEMConfig", "min_std", self.min_std)
        if not 0.0 <= self.alpha < 1.0:
            raise ConfigError(f"ICEMConfig.alpha must be in [0, 1), got {self.alpha!r}")
        require_non_negative("ICEMConfig", "beta", self.beta)
        if not self.decay >= 1.0:
            raise ConfigError(f"ICEMConfig.decay must be >= 1, got {self.decay!r}")
        require_in_range("ICEMConfig", "keep_elites", self.keep_elites, 0.0, 1.0)

    def population(self, iteration: int) -> int:
        """Fresh candidates sampled in `iteration` (0-based): `samples` decayed, `>= 2 elites`."""
        decayed = round(self.samples * self.decay ** (-iteration))
        return min(self.samples, max(decayed, 2 * self.elites))

    @property
    def kept(self) -> int:
        """Elites carried from one iteration into the next."""
        return math.ceil(self.keep_elites * self.elites)


class ICEM:
    """iCEM over action sequences `[H, A]` in `[-1, 1]`; implements `Solver`."""

    def __init__(self, config: ICEMConfig) -> None:
        self.config = config

    @torch.inference_mode()
    def solve(self, objective: Objective, init: Tensor, generator: torch.Generator) -> SolveResult:
        """Minimise `objective` starting from coloured noise around `init`.

        Args:
            objective: candidate actions `[N_i, H, A]` -> energies `[N_i]`; `N_i` is
                `config.population(i)` plus the kept elites (none in the first iteration).
            init: initial mean `[H, A]` (clipped to `[-1, 1]`); sets the device and float dtype.
            generator: the only source of randomness.

        Returns:
            `SolveResult` with the best sequence ever scored; `evaluations` is the sum of `N_i`.

        Raises:
            ShapeError: `init` is not `[H, A]` or the objective does not return `[N_i]`.
        """
        check_init(init, "ICEM")
        cfg = self.config
        dtype = init.dtype if init.is_floating_point() else torch.float32
        mean = init.detach().to(dtype=dtype).clamp(-1.0, 1.0)
        std = torch.full_like(mean, cfg.init_std)
        horizon, action_dim = mean.shape
        best_actions, best_energy = mean, float("inf")
        kept = mean.new_zeros((0, horizon, action_dim))
        evaluations = 0

        for i in range(cfg.iterations):
            noise = powerlaw_noise(cfg.population(i), horizon, action_dim, cfg.beta, generator)
            fresh = (mean + std * noise.to(device=mean.device, dtype=dtype)).clamp(-1.0, 1.0)
            fresh[0] = mean
            candidates = torch.cat([fresh, kept])  # [N_i, H, A]
            energies = score(objective, candidates, "ICEM")
            evaluations += candidates.shape[0]

            order = torch.argsort(energies)
            if float(energies[order[0]]) < best_energy:
                best_energy = float(energies[order[0]])
                best_actions = candidates[order[0]].clone()

            elites = candidates[order[: cfg.elites]]  # [elites, H, A]
            kept = elites[: cfg.kept]
            new_std = elites.std(dim=0, unbiased=False)
            mean = cfg.alpha * mean + (1.0 - cfg.alpha) * elites.mean(dim=0)
            std = (cfg.alpha * std + (1.0 - cfg.alpha) * new_std).clamp_min(cfg.min_std)

        return SolveResult(best_actions, best_energy, evaluations)


def powerlaw_noise(
    samples: int, horizon: int, action_dim: int, beta: float, generator: torch.Generator
) -> Tensor:
    """Gaussian noise `[N, H, A]`, unit variance, power spectrum `~ 1 / f^beta` along `H`.

    White noise from `generator` (on its own device) is shaped in Fourier space, following the
    `colorednoise` package that iCEM uses: amplitudes `f^(-beta / 2)`, the lowest frequency
    `1 / H` standing in for `f = 0`; unlike that package it is normalised exactly, so every
    entry has unit variance. With `H = 1` there is no spectrum and the noise is white.
    """
    shape = (samples, action_dim, horizon)  # time last for the FFT
    if horizon < 2 or beta == 0.0:
        white = torch.randn(shape, generator=generator, device=generator.device)
        return white.transpose(1, 2)
    freqs = torch.fft.rfftfreq(horizon, device=generator.device, dtype=torch.float64)
    freqs[0] = 1.0 / horizon
    scale = freqs ** (-beta / 2.0)  # [F] amplitude per frequency
    # Var(y_t) = (2 s_0^2 + 4 sum_mid s_k^2 + 2 s_nyquist^2) / H^2 with the sqrt(2)s below.
    coeff = torch.full_like(scale, 4.0)
    coeff[0] = 2.0
    if horizon % 2 == 0:
        coeff[-1] = 2.0
    sigma = torch.sqrt((coeff * scale**2).sum()) / horizon

    spectrum_shape = (samples, action_dim, freqs.shape[0])
    real = torch.randn(spectrum_shape, generator=generator, device=generator.device)
    imag = torch.randn(spectrum_shape, generator=generator, device=generator.device)
    real, imag = real.double() * scale, imag.double() * scale
    imag[..., 0] = 0.0  # the mean of a real signal has no imaginary part
    real[..., 0] *= math.sqrt(2.0)
    if horizon % 2 == 0:  # so is the Nyquist frequency's
        imag[..., -1] = 0.0
        real[..., -1] *= math.sqrt(2.0)
    signal = torch.fft.irfft(torch.complex(real, imag), n=horizon) / sigma  # [N, A, H]
    return signal.float().transpose(1, 2)
