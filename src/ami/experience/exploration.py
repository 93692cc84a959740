"""Exploration policies that need nothing of the world but its action size: held and colored.

Both serve worlds ami has no scripted expert for. `HeldRandomPolicy` holds random actions for
log-uniformly drawn lengths (1 to 64 steps by default), a share of them at full speed, so an episode
mixes jitter in place with long straight runs; the `random` policy's holds of 1 to 10 steps at
uniform actions barely move a heavy body (PointMaze's ball). `ColoredNoisePolicy` draws each
episode's actions as power-law noise, power spectral density `∝ 1/f^beta` per action dimension
(beta 0 white, 1 pink, 2 red/Brownian), as in Eberhard et al. 2023, "Pink noise is all you need:
colored noise exploration in deep reinforcement learning" (ICLR): pink noise keeps white noise's
high frequencies and adds the low ones that carry the agent away from its start. The noise is
generated per episode with numpy's FFT (`powerlaw_noise`), so the `colorednoise` package is not
needed. Either policy draws everything from the episode's generator, so an episode is a function
of that generator alone.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ami.errors import ConfigError
from ami.experience.policies import _started


def powerlaw_noise(beta: float, steps: int, dims: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise `[steps, dims]` of power spectral density `∝ 1/f^beta` along axis 0.

    Each column is independent, has mean 0 and variance 1 (in expectation over draws, for every
    step), and no power at frequency 0; the lowest frequency is `1 / steps`.

    Args:
        beta: the spectral exponent (0 white, 1 pink, 2 red); >= 0.
        steps: the sequence length (>= 2).
        dims: the number of independent columns (>= 1).
        rng: the generator drawn from.

    Returns:
        float64 `[steps, dims]`.
    """
    frequencies = np.fft.rfftfreq(steps)  # [F], F = steps // 2 + 1
    amplitude = np.zeros_like(frequencies)
    amplitude[1:] = frequencies[1:] ** (-beta / 2.0)
    shape = (len(frequencies), dims)
    spectrum = amplitude[:, None] * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    # x[t] = (X_0 + 2 Σ Re(X_k e^{2πikt/n}) + X_{n/2}(-1)^t) / n: each term k in 1..n/2-1 has
    # variance 4 a_k², the Nyquist term (real part only, steps even) a²; X_0 is zero.
    power = 4.0 * np.sum(amplitude[1:] ** 2)
    if steps % 2 == 0:
        power -= 3.0 * amplitude[-1] ** 2
    return np.fft.irfft(spectrum, n=steps, axis=0) * (steps / math.sqrt(power))


class HeldRandomPolicy:
    """Random actions held for log-uniform lengths, a share of them at full speed.

    At each hold's start it draws the length `L` with `log L` uniform over
    `[log min, log (max + 1))` (rounded down: about as many holds of 1-2 steps as of 32-64), a
    direction uniform on the sphere in `R^A`, scaled so that its largest component is 1 (full
    speed along that direction), and a magnitude: 1 with probability `full_speed`, else uniform
    in `[0, 1)`. The action `magnitude * direction` is held for `L` steps.
    """

    def __init__(
        self, action_dim: int, hold_steps: tuple[int, int] = (1, 64), full_speed: float = 0.5
    ) -> None:
        """Args: action_dim: `A`; hold_steps: inclusive (min, max); full_speed: its share."""
        _require_action_dim(type(self).__name__, action_dim)
        low, high = hold_steps
        if not (isinstance(low, int) and isinstance(high, int) and 1 <= low <= high):
            raise ConfigError(
                f"HeldRandomPolicy.hold_steps must be integers 1 <= min <= max, got {hold_steps!r}"
            )
        if not 0.0 <= full_speed <= 1.0:
            raise ConfigError(f"HeldRandomPolicy.full_speed must be in [0, 1], got {full_speed!r}")
        self.action_dim, self.hold_steps, self.full_speed = action_dim, (low, high), full_speed
        self._rng: np.random.Generator | None = None
        self._action = np.zeros(action_dim, np.float32)
        self._left = 0

    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode drawing from `rng`."""
        self._rng, self._left = rng, 0

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        """The held action float32 `[A]`, redrawn when its hold runs out."""
        rng = _started(self._rng, self)
        if self._left == 0:
            self._action = held_action(rng, self.action_dim, self.full_speed)
            self._left = hold_length(rng, *self.hold_steps)
        self._left -= 1
        return self._action.copy()


def hold_length(rng: np.random.Generator, low: int, high: int) -> int:
    """A hold length in `[low, high]` whose logarithm is uniform (see `HeldRandomPolicy`)."""
    drawn = math.exp(rng.uniform(math.log(low), math.log(high + 1)))
    return min(max(int(drawn), low), high)


def held_action(rng: np.random.Generator, action_dim: int, full_speed: float) -> np.ndarray:
    """A random direction at full speed, or at a uniform fraction of it: float32 `[A]`."""
    direction = rng.standard_normal(action_dim)
    direction /= max(float(np.abs(direction).max()), 1e-12)
    magnitude = 1.0 if rng.random() < full_speed else rng.uniform(0.0, 1.0)
    return np.clip(magnitude * direction, -1.0, 1.0).astype(np.float32)


class ColoredNoisePolicy:
    """Actions drawn as colored (power-law) noise per dimension, clipped to `[-1, 1]`.

    At reset it draws `powerlaw_noise(beta, horizon, A)` (unit variance per step) and returns
    `clip(scale * noise[t], -1, 1)` at step `t`; an episode longer than `horizon` continues with
    a fresh, independent block. Collection sets `horizon` to the episode length, so each episode
    is one noise sequence, as in Eberhard et al. 2023.
    """

    def __init__(
        self, action_dim: int, beta: float = 1.0, horizon: int = 1000, scale: float = 1.0
    ) -> None:
        """Args: action_dim: `A`; beta: the exponent (>= 0); horizon: block length; scale: std."""
        owner = type(self).__name__
        _require_action_dim(owner, action_dim)
        if not (isinstance(beta, int | float) and 0.0 <= beta <= 4.0):
            raise ConfigError(f"{owner}.beta must be a number in [0, 4], got {beta!r}")
        if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 2:
            raise ConfigError(f"{owner}.horizon must be an integer >= 2, got {horizon!r}")
        if not (isinstance(scale, int | float) and 0.0 < scale < math.inf):
            raise ConfigError(f"{owner}.scale must be a positive finite number, got {scale!r}")
        self.action_dim, self.beta, self.horizon, self.scale = action_dim, beta, horizon, scale
        self._rng: np.random.Generator | None = None
        self._noise = np.zeros((0, action_dim))
        self._t = 0

    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode drawing from `rng`; its first noise block is drawn at once."""
        self._rng, self._t = rng, 0
        self._noise = powerlaw_noise(self.beta, self.horizon, self.action_dim, rng)

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        """The next step of the noise, float32 `[A]` in `[-1, 1]`."""
        rng = _started(self._rng, self)
        if self._t == self.horizon:
            self._noise = powerlaw_noise(self.beta, self.horizon, self.action_dim, rng)
            self._t = 0
        action = np.clip(self.scale * self._noise[self._t], -1.0, 1.0).astype(np.float32)
        self._t += 1
        return action


def _require_action_dim(owner: str, action_dim: object) -> None:
    if not isinstance(action_dim, int) or isinstance(action_dim, bool) or action_dim < 1:
        raise ConfigError(f"{owner}.action_dim must be a positive integer, got {action_dim!r}")
