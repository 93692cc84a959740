"""Colour-shift augmentation: some training windows change hue part-way, so colour stops mattering.

`ColourShiftWindows` wraps any window sampler. In a share `probability` of the windows it turns
the hue of the frames from a random index `j` on (`j = 0`: the whole window) by a random angle
about the grey axis (greys, such as floors and walls, are unchanged). Predicting the embedding of
a recoloured frame from that of an original one then only succeeds if the encoder ignores the
hue, which is what a world model should do with a change that breaks no physics (the colour-change
control of `ami surprise`). `TrainConfig.colour_shift` turns it on (`pipeline.run_train` wraps
the training windows, never the validation ones); the demo and PushT recipes use 0.5.
Deterministic under the sampler's generator.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ami.config import require_in_range
from ami.training.config import WindowSampler


def hue_rotation(angle: float) -> Tensor:
    """The 3x3 RGB matrix turning the hue by `angle` radians (a rotation about (1, 1, 1))."""
    u = torch.full((3,), 1 / math.sqrt(3.0), dtype=torch.float64)
    cross = torch.tensor([[0.0, -u[2], u[1]], [u[2], 0.0, -u[0]], [-u[1], u[0], 0.0]])
    c, s = math.cos(angle), math.sin(angle)
    return (c * torch.eye(3, dtype=torch.float64) + s * cross + (1 - c) * torch.outer(u, u)).float()


def shift_hue(pixels: Tensor, angle: float) -> Tensor:
    """`pixels uint8 [..., 3, h, w]` with the hue turned by `angle` (clipped, rounded)."""
    rotated = torch.einsum("ij,...jhw->...ihw", hue_rotation(angle), pixels.float())
    return rotated.round().clamp(0, 255).to(torch.uint8)


class ColourShiftWindows:
    """A window sampler whose windows change hue part-way with probability `probability`."""

    def __init__(self, windows: WindowSampler, probability: float) -> None:
        require_in_range("ColourShiftWindows", "probability", probability, 0.0, 1.0)
        self.windows, self.probability = windows, probability

    def sample(self, batch_size: int, generator: torch.Generator) -> dict[str, Tensor]:
        """A wrapped batch; `pixels uint8 [B, T, 3, h, w]` hue-shifted in some windows."""
        batch = self.windows.sample(batch_size, generator)
        pixels = batch["pixels"]
        length = pixels.shape[1]
        chosen = torch.rand(batch_size, generator=generator) < self.probability
        starts = torch.randint(length, (batch_size,), generator=generator)
        angles = torch.rand(batch_size, generator=generator) * 2 * math.pi
        if not bool(chosen.any()):
            return batch
        pixels = pixels.clone()
        for b in torch.nonzero(chosen).flatten().tolist():
            j = int(starts[b])
            pixels[b, j:] = shift_hue(pixels[b, j:], float(angles[b]))
        return {**batch, "pixels": pixels}
