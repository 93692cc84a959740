"""Model-predictive control in latent space: encode, imagine with the model, solve, act, replan.

`MPCController` wraps any `Solver` and any model that fits `LatentModel`. Each call to `act`
encodes one observation, and when no planned actions are left it plans `H` model steps ahead,
queues the first `execute` of them and hands them out one per call. With `execute=1` it replans
at every model step. One model step may be `k` env steps (action blocks): the controller works in
model-level actions of size `model.action_dim = k * A`; splitting them is the agent's job.

Speed: a solver scores all its candidates in one batched objective call, so one plan is
`iterations` calls of `model.rollout` on `[N, H, A]`; the sampling solvers run under
`torch.inference_mode`, each plan is warm-started from the previous one shifted by `execute`
steps, and precision "bf16" runs the rollouts under bfloat16 autocast (energies stay float32).

Threads: on the CPU each plan runs with `threads` torch threads (chosen at construction by
`ami.device.planning_threads` from the cores and the load, unless given), and the caller's
thread count is restored after it. On a loaded machine one thread plans many times faster than
two that wait for cores (docs/guides/planning.md, "Threads").
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from ami.config import require_choice, require_positive
from ami.device import PRECISIONS, planning_threads, precision_context, torch_threads
from ami.errors import ConfigError, ShapeError
from ami.planning.costs import Cost
from ami.planning.solver import Solver, SolveResult


class LatentModel(Protocol):
    """What MPC needs of a world model."""

    @property
    def action_dim(self) -> int:
        """Model-level action size (`k * A` with action blocks of `k` env steps)."""
        ...

    @property
    def history(self) -> int:
        """How many past embeddings `rollout` wants (`t >= 1`)."""
        ...

    def encode(self, pixels: Tensor) -> Tensor:
        """Embeddings `[B, T, D]` of `pixels: uint8 [B, T, 3, h, w]`."""
        ...

    def rollout(self, z_history: Tensor, actions: Tensor) -> Tensor:
        """Imagined embeddings `[N, H, D]` from `z_history [N, t, D]` under `actions [N, H, A]`."""
        ...


@dataclass(frozen=True)
class MPCConfig:
    """Settings of the MPC controller.

    Attributes:
        horizon: model steps `H` planned ahead.
        execute: model steps executed from each plan before replanning (`1 <= execute <= H`).
        seed: seed of the solver's generator; `reset` reseeds, so episodes are reproducible.
        precision: "auto" (bf16 where the device computes it natively, else fp32), "fp32", or
            "bf16" (the imagined rollouts under bfloat16 autocast).
    """

    horizon: int = 8
    execute: int = 1
    seed: int = 0
    precision: str = "auto"

    def __post_init__(self) -> None:
        require_positive("MPCConfig", "horizon", self.horizon)
        if not 1 <= self.execute <= self.horizon:
            raise ConfigError(
                f"MPCConfig.execute must be in [1, horizon={self.horizon}], got {self.execute!r}"
            )
        require_choice("MPCConfig", "precision", self.precision, PRECISIONS)


class MPCController:
    """Plans with `solver` through `model` towards the energy minimum of a `Cost`.

    Args:
        model: the world model (`LatentModel`), already on `device`.
        solver: any `Solver`; it gets a CPU `torch.Generator` seeded from `config.seed`.
        config: horizon, steps executed per plan, seed.
        device: where observations, embeddings and the search live.
        threads: torch CPU threads per plan on the CPU (None: `planning_threads()`, which reads
            `$AMI_PLAN_THREADS` or the load now).

    Attributes:
        threads: the torch threads each plan runs with (None off the CPU: left as they are).
        plan_seconds: wall-clock seconds of every plan since the last `reset`, one per plan.
        last_result: the `SolveResult` of the latest plan (`None` before the first).
    """

    def __init__(
        self,
        model: LatentModel,
        solver: Solver,
        config: MPCConfig,
        device: torch.device,
        threads: int | None = None,
    ) -> None:
        if model.history < 1:
            raise ConfigError(f"model.history must be >= 1, got {model.history!r}")
        self.model = model
        self.solver = solver
        self.config = config
        self.device = torch.device(device)
        self.threads = planning_threads(threads) if self.device.type == "cpu" else None
        self.generator = torch.Generator()
        self.plan_seconds: list[float] = []
        self.last_result: SolveResult | None = None
        self._cost: Cost | None = None
        self._history: deque[Tensor] = deque(maxlen=model.history)
        self._queue: deque[np.ndarray] = deque()
        self._plan: Tensor | None = None  # [H, action_dim], the latest full plan

    def reset(self, cost: Cost) -> None:
        """Start a new episode towards `cost`: clear history, plan and timings; reseed."""
        self._cost = cost
        self._history.clear()
        self._queue.clear()
        self._plan = None
        self.plan_seconds = []
        self.last_result = None
        self.generator.manual_seed(self.config.seed)

    @property
    def plan(self) -> Tensor | None:
        """The latest full plan `[H, action_dim]` (None before the first)."""
        return self._plan

    def drop_queue(self) -> None:
        """Forget the queued actions of the current plan: the next `act` plans afresh."""
        self._queue.clear()

    def act(self, pixels: np.ndarray) -> np.ndarray:
        """The next model-level action `float32 [action_dim]` for observation `uint8 [h, w, 3]`.

        Raises:
            ShapeError: `pixels` is not `uint8 [h, w, 3]`, or the model or solver breaks its
                shape contract.
            RuntimeError: `reset(cost)` was never called.
        """
        if self._cost is None:
            raise RuntimeError("MPCController.act called before reset(cost)")
        self._history.append(self._encode(pixels))
        if not self._queue:
            self._replan(self._cost)
        return self._queue.popleft()

    def _encode(self, pixels: np.ndarray) -> Tensor:
        """Embedding `[D]` of one observation `uint8 [h, w, 3]`."""
        if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8:
            kind = getattr(pixels, "dtype", type(pixels).__name__)
            raise ShapeError(f"MPCController.act wants a uint8 array [h, w, 3], got {kind}")
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ShapeError(f"MPCController.act wants pixels [h, w, 3], got {list(pixels.shape)}")
        frame = torch.from_numpy(np.ascontiguousarray(pixels)).to(self.device)
        frame = frame.permute(2, 0, 1)[None, None]  # [1, 1, 3, h, w]
        with torch.no_grad():
            z = self.model.encode(frame)
        if z.ndim != 3 or z.shape[:2] != (1, 1):
            raise ShapeError(f"model.encode must return [1, 1, D] here, got {list(z.shape)}")
        return z[0, 0]

    def _z_history(self) -> Tensor:
        """The last `model.history` embeddings `[1, t, D]`; front-padded with the oldest."""
        frames = list(self._history)
        frames = [frames[0]] * (self.model.history - len(frames)) + frames
        return torch.stack(frames)[None]

    def _warm_start(self) -> Tensor:
        """The previous plan shifted by `execute` steps and padded with zeros, `[H, action_dim]`."""
        shape = (self.config.horizon, self.model.action_dim)
        init = torch.zeros(shape, device=self.device)
        if self._plan is not None:
            kept = self._plan[self.config.execute :]
            init[: kept.shape[0]] = kept
        return init

    def _replan(self, cost: Cost) -> None:
        """Solve for a new plan and queue its first `execute` actions."""
        z_hist = self._z_history()  # [1, t, D]
        model, precision, device = self.model, self.config.precision, self.device

        def objective(actions: Tensor) -> Tensor:  # [N, H, A] -> [N]
            with precision_context(precision, device):
                z_future = model.rollout(z_hist.expand(actions.shape[0], -1, -1), actions)
            return cost(z_future.float(), actions)

        start = time.perf_counter()
        with torch_threads(self.threads):
            result = self.solver.solve(objective, self._warm_start(), self.generator)
        self.plan_seconds.append(time.perf_counter() - start)
        expected = (self.config.horizon, model.action_dim)
        if tuple(result.actions.shape) != expected:
            raise ShapeError(
                f"solver returned actions {list(result.actions.shape)}, expected {list(expected)}"
            )
        self.last_result = result
        self._plan = result.actions.detach().to(self.device)
        first = self._plan[: self.config.execute].to("cpu", torch.float32).numpy()
        self._queue.extend(first)
