"""Frame augmentations: each training window seen through a slightly moved camera and light.

`FrameAugmentWindows` wraps any window sampler, so a model stops depending on the exact pixel
position and lighting of a scene, which at test time only (`ami eval --factors shift:3`,
`brightness:0.8`, `contrast:0.8`) cost it most of its planning success. Two parts, each drawn
per window and the same for every frame of that window (motion within a window is unchanged):

- `random_shift` (DrQ): the window padded by `pad` pixels with its edge pixels repeated, then
  cropped back to its size at a random offset in [0, 2 * pad] along each axis;
- `jitter_lighting`: every channel times a brightness factor, then its distance from mid-grey
  times a contrast factor, both uniform in [1 - strength, 1 + strength], rounded and clipped to
  [0, 255] after each step (the `brightness` and `contrast` factors of
  `ami.evaluation.factors`).

`TrainConfig.shift_pixels` and `TrainConfig.lighting` turn them on (`pipeline.augmented` wraps
the training windows, never the validation ones, evaluation or planning); both default to 0,
which changes nothing. Deterministic under the sampler's generator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ami.config import require_in_range, require_non_negative
from ami.errors import ConfigError
from ami.training.config import MAX_LIGHTING, WindowSampler


def random_shift(pixels: Tensor, pad: int, generator: torch.Generator) -> Tensor:
    """`pixels uint8 [B, T, 3, H, W]`, each window moved by up to `pad` pixels (one offset each).

    Raises:
        ConfigError: `pad` is negative or not under a quarter of the frame's side.
    """
    require_non_negative("random_shift", "pad", pad)
    batch, _, _, height, width = pixels.shape
    if 4 * pad >= min(height, width):
        raise ConfigError(
            f"random_shift.pad must be under a quarter of the {height}x{width} frame, got {pad}"
        )
    offsets = torch.randint(2 * pad + 1, (batch, 2), generator=generator)  # (row, column)
    if pad == 0:
        return pixels.clone()
    flat = pixels.flatten(0, 1).float()  # [B*T, 3, H, W]; replicate padding needs floats
    padded = F.pad(flat, (pad, pad, pad, pad), mode="replicate").to(pixels.dtype)
    padded = padded.unflatten(0, pixels.shape[:2])  # [B, T, 3, H + 2 pad, W + 2 pad]
    crops = [
        padded[b, :, :, int(row) : int(row) + height, int(col) : int(col) + width]
        for b, (row, col) in enumerate(offsets.tolist())
    ]
    return torch.stack(crops)


def jitter_lighting(pixels: Tensor, strength: float, generator: torch.Generator) -> Tensor:
    """`pixels uint8 [B, T, 3, H, W]` with each window's brightness and contrast changed.

    Raises:
        ConfigError: `strength` is outside [0, MAX_LIGHTING].
    """
    require_in_range("jitter_lighting", "strength", strength, 0.0, MAX_LIGHTING)
    batch = pixels.shape[0]
    gains = 1 + strength * (2 * torch.rand(batch, 2, generator=generator, dtype=torch.float64) - 1)
    brightness = gains[:, 0].view(batch, 1, 1, 1, 1)
    contrast = gains[:, 1].view(batch, 1, 1, 1, 1)
    bright = (pixels.double() * brightness).round().clamp(0, 255)
    return (127.5 + contrast * (bright - 127.5)).round().clamp(0, 255).to(torch.uint8)


class FrameAugmentWindows:
    """A window sampler whose windows are shifted by up to `shift_pixels` and lit differently."""

    def __init__(self, windows: WindowSampler, shift_pixels: int, lighting: float) -> None:
        require_non_negative("FrameAugmentWindows", "shift_pixels", shift_pixels)
        require_in_range("FrameAugmentWindows", "lighting", lighting, 0.0, MAX_LIGHTING)
        self.windows, self.shift_pixels, self.lighting = windows, shift_pixels, lighting

    def sample(self, batch_size: int, generator: torch.Generator) -> dict[str, Tensor]:
        """A wrapped batch; `pixels uint8 [B, T, 3, H, W]` shifted, then relit, per window."""
        batch = self.windows.sample(batch_size, generator)
        if self.shift_pixels == 0 and self.lighting == 0:
            return batch
        pixels = batch["pixels"]
        if self.shift_pixels > 0:
            pixels = random_shift(pixels, self.shift_pixels, generator)
        if self.lighting > 0:
            pixels = jitter_lighting(pixels, self.lighting, generator)
        return {**batch, "pixels": pixels}
