"""Symmetry augmentation: train on the copies of recorded windows under the world's symmetries.

`SymmetricWindows` wraps any window sampler. Every window is replaced by its image under one of
the world's symmetries drawn uniformly (the identity among them): the frames are turned or
mirrored, and the actions and true states mapped by the world (`symmetric_actions`,
`symmetric_states`; `ami.worlds.symmetry`). Where the world really has the symmetry (PushT: tested
bit for bit, `tests/test_symmetry.py`) the copy is a window the world could have produced itself,
so the model sees up to 8 times as many distinct situations (contacts from every side) for the
price of a flip. `TrainConfig.symmetries` turns it on (`pipeline.run_train` wraps the training
windows, never the validation ones); a world that declares no symmetries is refused. Deterministic
under the sampler's generator.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from ami.errors import ConfigError, ShapeError
from ami.training.trainer import WindowSampler
from ami.worlds.symmetry import SquareSymmetry


class SymmetricWorld(Protocol):
    """What the augmentation needs of a world: its symmetries and how each maps actions, states."""

    plane_symmetries: tuple[SquareSymmetry, ...]

    def symmetric_actions(self, symmetry: SquareSymmetry) -> np.ndarray:
        """The linear map [A, A] of one env action."""
        ...

    def symmetric_states(self, symmetry: SquareSymmetry, states: np.ndarray) -> np.ndarray:
        """True states [..., S] under the symmetry."""
        ...


class SymmetricWindows:
    """A window sampler whose every window is moved by a random symmetry of `world`."""

    def __init__(self, windows: WindowSampler, world: SymmetricWorld, name: str = "world") -> None:
        symmetries = tuple(getattr(world, "plane_symmetries", ()))
        if not symmetries:
            raise ConfigError(
                f"TrainConfig.symmetries: {name} declares no symmetries to train on "
                "(only worlds with plane_symmetries, such as push_t, have them)"
            )
        self.windows, self.world, self.symmetries = windows, world, symmetries
        self._action_maps = [
            torch.as_tensor(world.symmetric_actions(s), dtype=torch.float32) for s in symmetries
        ]

    def sample(self, batch_size: int, generator: torch.Generator) -> dict[str, Tensor]:
        """A wrapped batch: `pixels uint8 [B, T, 3, h, w]`, `actions [B, T-1, k A]`, `states`."""
        batch = self.windows.sample(batch_size, generator)
        chosen = torch.randint(len(self.symmetries), (batch_size,), generator=generator)
        out = {key: value.clone() for key, value in batch.items()}
        for index, symmetry in enumerate(self.symmetries):
            rows = torch.nonzero(chosen == index).flatten()
            if symmetry == SquareSymmetry() or len(rows) == 0:
                continue
            out["pixels"][rows] = symmetry.apply_to_pixels(batch["pixels"][rows])
            out["actions"][rows] = self._map_actions(batch["actions"][rows], index)
            if "states" in batch:
                states = batch["states"][rows].numpy()
                moved = self.world.symmetric_states(symmetry, states)
                out["states"][rows] = torch.as_tensor(moved, dtype=batch["states"].dtype)
        return out

    def _map_actions(self, actions: Tensor, index: int) -> Tensor:
        """Action blocks `[n, T-1, k A]` (k env actions of size A) mapped by symmetry `index`."""
        matrix = self._action_maps[index].to(actions.dtype)
        size = matrix.shape[0]
        if actions.shape[-1] % size != 0:
            raise ShapeError(
                f"action blocks of size {actions.shape[-1]} are not whole actions of size {size}"
            )
        blocks = actions.reshape(*actions.shape[:-1], -1, size)
        return (blocks @ matrix.T).reshape(actions.shape)
