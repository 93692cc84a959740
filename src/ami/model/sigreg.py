"""SIGReg: the sketched isotropic-Gaussian regulariser of LeJEPA / LeWM.

Embeddings are projected on `num_directions` random unit directions; for each 1-D projection the
Epps–Pulley statistic compares its empirical characteristic function with the standard normal's,

    EP = n · ∫ |φ_n(t) − e^{−t²/2}|² w(t) dt,   w(t) = e^{−t²/2},

integrated by the trapezoid rule on `t ∈ [0, t_max]`. Minimising the mean statistic pushes the
embedding distribution towards an isotropic Gaussian, which rules out collapse.

The factor `n` makes the statistic of Gaussian samples independent of the batch, but it also makes
the statistic of any other distribution, and its gradient, grow in proportion to the batch: the
same weight λ would then mean a 4x stronger regulariser at batch 256 than at 64. By default the
factor is a fixed `reference_batch` instead (64, the presets' batch), so the objective's balance
does not move with the batch size or the number of processes; the diagonal terms of |φ_n|², the
only part of the statistic that depends on `n` alone, are constants, so the gradient of the
rescaled statistic is batch-free. `reference_batch=None` keeps LeJEPA's factor `n`. Under
`torch.distributed` the batch is gathered across processes (with gradients) and the directions are
shared, so the statistic is the one of the global batch, not an average of per-process ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ami.config import require_finite, require_positive
from ami.errors import ConfigError, ShapeError


@dataclass(frozen=True)
class SIGRegConfig:
    """Settings of the Epps–Pulley statistic.

    Attributes:
        num_directions: random 1-D projections per call.
        num_knots: trapezoid knots on [0, t_max].
        t_max: upper end of the integration range.
        reference_batch: the statistic's factor in place of the batch size `n`, so its weight in
            the objective does not depend on the batch; None: the batch size itself (LeJEPA's).
    """

    num_directions: int = 256
    num_knots: int = 17
    t_max: float = 3.0
    reference_batch: int | None = 64

    def __post_init__(self) -> None:
        for name in ("num_directions", "num_knots", "t_max"):
            require_finite("SIGRegConfig", name, getattr(self, name))
        require_positive("SIGRegConfig", "num_directions", self.num_directions)
        require_positive("SIGRegConfig", "t_max", self.t_max)
        if self.reference_batch is not None:
            require_positive("SIGRegConfig", "reference_batch", self.reference_batch)
        if self.num_knots < 2:
            raise ConfigError(f"SIGRegConfig.num_knots must be >= 2, got {self.num_knots}")


class SIGReg(nn.Module):
    """Epps–Pulley normality statistic averaged over random directions (and over time)."""

    t: Tensor
    gaussian_cf: Tensor
    weights: Tensor

    def __init__(self, config: SIGRegConfig = SIGRegConfig(), gather: bool = True) -> None:
        """Build the statistic; `gather=False` keeps it per process even under torch.distributed."""
        super().__init__()
        self.config = config
        self.gather = gather
        t = torch.linspace(0.0, config.t_max, config.num_knots)
        dt = config.t_max / (config.num_knots - 1)
        trapezoid = torch.full((config.num_knots,), dt)
        trapezoid[[0, -1]] = dt / 2
        gaussian_cf = torch.exp(-0.5 * t.square())
        self.register_buffer("t", t, persistent=False)
        self.register_buffer("gaussian_cf", gaussian_cf, persistent=False)
        # Integration weights: trapezoid rule times the window w(t) = exp(-t²/2); the integrand is
        # even in t, so integrating over [0, t_max] and doubling is the symmetric integral.
        self.register_buffer("weights", 2 * trapezoid * gaussian_cf, persistent=False)

    def null_value(self, batch: int | None = None) -> float:
        """Expected statistic for `batch` i.i.d. standard-normal samples.

        It is Σ_k w_k (1 − e^{−t_k²}) times `reference_batch / batch` (1 without a reference
        batch, or when `batch` is None: the value at the reference batch).
        """
        base = float((self.weights * (1 - self.gaussian_cf.square())).sum())
        reference = self.config.reference_batch
        return base if reference is None or batch is None else base * reference / batch

    def forward(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Mean Epps–Pulley statistic of `z`.

        Args:
            z: embeddings `[B, D]` or `[B, T, D]` (the statistic is taken per time step and
                averaged).
            generator: optional generator for the random directions (on `z`'s device).

        Returns:
            A float32 scalar tensor; ≈ `null_value(B)` for Gaussian samples, large for collapsed
            ones. It is computed in float32 also under bf16 autocast (cos and sin of bfloat16
            projections would lose the statistic).
        """
        if z.dim() == 2:
            z = z.unsqueeze(1)
        if z.dim() != 3:
            raise ShapeError(f"SIGReg expects z of shape [B, D] or [B, T, D], got {tuple(z.shape)}")
        with torch.autocast(device_type=z.device.type, enabled=False):
            return self._statistic(z.float(), generator)

    def _statistic(self, z: Tensor, generator: torch.Generator | None) -> Tensor:
        distributed = self.gather and dist.is_available() and dist.is_initialized()
        if distributed:
            z = _gather_batch(z)
        batch, _, dim = z.shape
        directions = torch.randn(
            dim, self.config.num_directions, device=z.device, dtype=z.dtype, generator=generator
        )
        if distributed:
            dist.broadcast(directions, src=0)
        directions = directions / directions.norm(dim=0, keepdim=True)
        projected = z.transpose(0, 1) @ directions  # [T, B, M]
        x_t = projected.unsqueeze(-1) * self.t  # [T, B, M, K]
        cos_mean = x_t.cos().mean(dim=1)  # [T, M, K]
        sin_mean = x_t.sin().mean(dim=1)
        error = (cos_mean - self.gaussian_cf).square() + sin_mean.square()
        factor = batch if self.config.reference_batch is None else self.config.reference_batch
        statistic = (error @ self.weights) * factor  # [T, M]
        return statistic.mean()


def _gather_batch(z: Tensor) -> Tensor:
    """Concatenate `z [B, T, D]` from every process along B, keeping gradients to the local part."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return z
    return _GatherBatch.apply(z)


class _GatherBatch(torch.autograd.Function):
    """All-gather along the batch axis with a gradient (equal batch sizes on every process).

    The backward sums the gradients that every process computed for the gathered batch and keeps
    this process's slice. The gradient is made contiguous first: torch's own differentiable
    all_gather sends non-contiguous gradients (e.g. from a transpose) wrongly over gloo.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, z: Tensor) -> Tensor:  # type: ignore[override]
        z = z.contiguous()
        parts = [torch.empty_like(z) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, z)
        ctx.batch = z.shape[0]  # type: ignore[attr-defined]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:  # type: ignore[override]
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = dist.get_rank() * ctx.batch  # type: ignore[attr-defined]
        return grad[start : start + ctx.batch]  # type: ignore[attr-defined]
