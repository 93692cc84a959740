"""Probes: read physical quantities out of frozen embeddings with a linear map or a small MLP.

A probe maps features `x [N, F]` (an embedding, or two consecutive ones concatenated) to targets
`y [N, Q]`. Features and targets are standardised with the training split's statistics, so the
ridge penalty and the MLP's step size mean the same for every encoder. The linear probe is
closed-form ridge regression (`(X^T X + alpha N I)^-1 X^T y`, solved with `lstsq` on the augmented
system, so it stays exact when features are collinear); the MLP probe is two hidden GELU layers
trained with AdamW on minibatches, seeded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ami.config import require_choice, require_non_negative, require_positive
from ami.errors import ShapeError

PROBE_KINDS = ("linear", "mlp")


@dataclass(frozen=True)
class ProbeConfig:
    """How a probe is fitted.

    Attributes:
        kind: "linear" (closed-form ridge) or "mlp" (two hidden layers, AdamW).
        ridge: ridge penalty per sample on standardised features (linear probe).
        hidden: width of the MLP's hidden layers.
        epochs: passes over the training split (MLP).
        batch_size: minibatch size (MLP).
        lr: peak AdamW learning rate (MLP; cosine decay to zero).
        weight_decay: AdamW weight decay (MLP).
        seed: seed of the MLP's initialisation and minibatch order.
    """

    kind: str = "linear"
    ridge: float = 1e-4
    hidden: int = 128
    epochs: int = 40
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0

    def __post_init__(self) -> None:
        owner = "ProbeConfig"
        require_choice(owner, "kind", self.kind, PROBE_KINDS)
        require_non_negative(owner, "ridge", self.ridge)
        for name in ("hidden", "epochs", "batch_size", "lr"):
            require_positive(owner, name, getattr(self, name))
        require_non_negative(owner, "weight_decay", self.weight_decay)


class Probe:
    """A fitted probe: `predict(x [N, F]) -> y [N, Q]` in the targets' own units.

    Args:
        x_stats: mean and std `[F]` of the training features.
        y_stats: mean and std `[Q]` of the training targets.
        standardised: the fitted map from standardised features `[N, F]` to standardised
            targets `[N, Q]`.
    """

    def __init__(
        self,
        x_stats: tuple[np.ndarray, np.ndarray],
        y_stats: tuple[np.ndarray, np.ndarray],
        standardised: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        self.x_mean, self.x_std = x_stats
        self.y_mean, self.y_std = y_stats
        self._map = standardised

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Targets `[N, Q]` predicted from features `x [N, F]`."""
        xs = (np.asarray(x, np.float64) - self.x_mean) / self.x_std
        return self._map(xs) * self.y_std + self.y_mean


def fit_probe(x: np.ndarray, y: np.ndarray, config: ProbeConfig) -> Probe:
    """Fit a probe from features `x [N, F]` to targets `y [N, Q]` (or `[N]`)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y) or len(x) < 2:
        raise ShapeError(
            f"fit_probe needs x [N, F] and y [N, Q] with N >= 2, got {x.shape} and {y.shape}"
        )
    x_stats = _standardiser(x)
    y_stats = _standardiser(y)
    xs = (x - x_stats[0]) / x_stats[1]
    ys = (y - y_stats[0]) / y_stats[1]
    if config.kind == "linear":
        weights = _ridge(xs, ys, config.ridge)
        return Probe(x_stats, y_stats, lambda a: _with_bias(a) @ weights)
    mlp = _train_mlp(xs, ys, config)

    def run_mlp(a: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return mlp(torch.as_tensor(a, dtype=torch.float32)).double().numpy()

    return Probe(x_stats, y_stats, run_mlp)


def _standardiser(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std `[F]` of `a [N, F]`; constant columns get std 1."""
    std = a.std(axis=0)
    return a.mean(axis=0), np.where(std > 1e-12, std, 1.0)


def _with_bias(a: np.ndarray) -> np.ndarray:
    """`a [N, F]` with a column of ones appended, `[N, F + 1]`."""
    return np.concatenate([a, np.ones((len(a), 1))], axis=1)


def _ridge(xs: np.ndarray, ys: np.ndarray, ridge: float) -> np.ndarray:
    """Ridge weights `[F + 1, Q]` (the last row is the bias, not penalised)."""
    n, f = xs.shape
    design = _with_bias(xs)
    penalty = np.sqrt(ridge * n) * np.eye(f + 1)[:f]  # no penalty row for the bias
    augmented = np.concatenate([design, penalty], axis=0)
    targets = np.concatenate([ys, np.zeros((f, ys.shape[1]))], axis=0)
    weights, *_ = np.linalg.lstsq(augmented, targets, rcond=None)
    return weights


def _train_mlp(xs: np.ndarray, ys: np.ndarray, config: ProbeConfig) -> nn.Module:
    """An MLP `[F] -> [Q]` fitted to standardised data with AdamW and cosine decay."""
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    width = config.hidden
    mlp = nn.Sequential(
        nn.Linear(xs.shape[1], width),
        nn.GELU(),
        nn.Linear(width, width),
        nn.GELU(),
        nn.Linear(width, ys.shape[1]),
    )
    x = torch.as_tensor(xs, dtype=torch.float32)
    y = torch.as_tensor(ys, dtype=torch.float32)
    optimizer = torch.optim.AdamW(mlp.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    batches = max(1, -(-len(x) // config.batch_size))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs * batches)
    for _ in range(config.epochs):
        order = torch.randperm(len(x), generator=generator)
        for index in order.split(config.batch_size):
            loss = nn.functional.mse_loss(mlp(x[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return mlp.eval()
