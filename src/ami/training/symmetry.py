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

import torch
from torch import Tensor

from ami.errors import ConfigError
from ami.training.config import WindowSampler
from ami.worlds.symmetry import (
    IDENTITY,
    SymmetricWorld,
    map_action_blocks,
    symmetries_of,
)


class SymmetricWindows:
    """A window sampler whose every window is moved by a random symmetry of `world`."""

    def __init__(self, windows: WindowSampler, world: SymmetricWorld, name: str = "world") -> None:
        symmetries = symmetries_of(world)
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
            if symmetry == IDENTITY or len(rows) == 0:
                continue
            out["pixels"][rows] = symmetry.apply_to_pixels(batch["pixels"][rows])
            out["actions"][rows] = map_action_blocks(
                batch["actions"][rows], self._action_maps[index]
            )
            if "states" in batch:
                states = batch["states"][rows].numpy()
                moved = self.world.symmetric_states(symmetry, states)
                out["states"][rows] = torch.as_tensor(moved, dtype=batch["states"].dtype)
        return out
