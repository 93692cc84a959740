"""Frame augmentations: each training window seen through a slightly moved camera and light.

`FrameAugmentWindows` wraps any window sampler, so a model stops depending on the exact pixel
position and lighting of a scene, which at test time only (`ami eval --factors shift:3`,
`brightness:0.8`, `contrast:0.8`) cost it most of its planning success. Two parts, each drawn
for every frame on its own:

- `random_shift` (DrQ): the window padded by `pad` pixels with its edge pixels repeated, then
  cropped back to its size at a random offset in [0, 2 * pad] along each axis;
- `jitter_lighting`: every channel times a brightness factor, then its distance from mid-grey
  times a contrast factor, both uniform in [1 - strength, 1 + strength], rounded and clipped to
  [0, 255] after each step (the `brightness` and `contrast` factors of
  `ami.evaluation.factors`).

`TrainConfig.shift_pixels` and `TrainConfig.lighting` turn them on (`pipeline.augmented` wraps
the training windows, never the validation ones, evaluation or planning); both default to 0,
which changes nothing. Deterministic under the sampler's generator.

Per frame, not per window: a change drawn once per window is constant within it, so the
predictor forecasts it for free and the encoder can spread its embeddings by encoding the change
alone, which satisfies SIGReg without the scene (measured: the demo recipe with one shift and
light per window reached a prediction loss 100x lower than without and planned at the random
floor, `benchmarks/results/factors.json`). A change that varies from frame to frame cannot be
predicted, so the prediction loss pushes the encoder to ignore it, as the colour shift does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ami.config import require_in_range, require_non_negative
from ami.errors import ConfigError
from ami.training.config import MAX_LIGHTING, WindowSampler


def random_shift(pixels: Tensor, pad: int, generator: torch.Generator) -> Tensor:
    """`pixels uint8 [B, T, 3, H, W]`, each frame moved by up to `pad` pixels (its own offset).

    Raises:
        ConfigError: `pad` is negative or not under a quarter of the frame's side.
    """
    require_non_negative("random_shift", "pad", pad)
    batch, time, _, height, width = pixels.shape
    if 4 * pad >= min(height, width):
        raise ConfigError(
            f"random_shift.pad must be under a quarter of the {height}x{width} frame, got {pad}"
        )
    offsets = torch.randint(2 * pad + 1, (batch * time, 2), generator=generator)  # (row, col)
    if pad == 0:
        return pixels.clone()
    flat = pixels.flatten(0, 1).float()  # [B*T, 3, H, W]; replicate padding needs floats
    padded = F.pad(flat, (pad, pad, pad, pad), mode="replicate").to(pixels.dtype)
    crops = [
        padded[i, :, int(row) : int(row) + height, int(col) : int(col) + width]
        for i, (row, col) in enumerate(offsets.tolist())
    ]
    return torch.stack(crops).unflatten(0, (batch, time))


def jitter_lighting(pixels: Tensor, strength: float, generator: torch.Generator) -> Tensor:
    """`pixels uint8 [B, T, 3, H, W]` with each frame's brightness and contrast changed.

    Raises:
        ConfigError: `strength` is outside [0, MAX_LIGHTING].
    """
    require_in_range("jitter_lighting", "strength", strength, 0.0, MAX_LIGHTING)
    batch, time = pixels.shape[:2]
    draws = torch.rand(batch, time, 2, generator=generator, dtype=torch.float64)
    gains = 1 + strength * (2 * draws - 1)
    brightness = gains[..., 0].view(batch, time, 1, 1, 1)
    contrast = gains[..., 1].view(batch, time, 1, 1, 1)
    bright = (pixels.double() * brightness).round().clamp(0, 255)
    return (127.5 + contrast * (bright - 127.5)).round().clamp(0, 255).to(torch.uint8)


class FrameAugmentWindows:
    """A window sampler whose windows are shifted by up to `shift_pixels` and lit differently."""

    def __init__(self, windows: WindowSampler, shift_pixels: int, lighting: float) -> None:
        require_non_negative("FrameAugmentWindows", "shift_pixels", shift_pixels)
        require_in_range("FrameAugmentWindows", "lighting", lighting, 0.0, MAX_LIGHTING)
        self.windows, self.shift_pixels, self.lighting = windows, shift_pixels, lighting

    def sample(self, batch_size: int, generator: torch.Generator) -> dict[str, Tensor]:
        """A wrapped batch; `pixels uint8 [B, T, 3, H, W]` shifted, then relit, per frame."""
        batch = self.windows.sample(batch_size, generator)
        if self.shift_pixels == 0 and self.lighting == 0:
            return batch
        pixels = batch["pixels"]
        if self.shift_pixels > 0:
            pixels = random_shift(pixels, self.shift_pixels, generator)
        if self.lighting > 0:
            pixels = jitter_lighting(pixels, self.lighting, generator)
        return {**batch, "pixels": pixels}
