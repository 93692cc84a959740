"""Pixels → embedding: a small strided CNN (fast on a CPU) and a BatchNorm projector.

The projector ends in the embedding space that SIGReg shapes and the predictor works in (as in
LeWM). Two coordinate channels (x and y ramps) are appended to the image, which makes reading the
position of small objects to sub-pixel precision much easier for a CNN (CoordConv).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ami.config import require_positive
from ami.errors import ConfigError, ShapeError


@dataclass(frozen=True)
class EncoderConfig:
    """Shape of the CNN encoder.

    Attributes:
        image_size: input side in pixels (a multiple of 2**len(channels)).
        channels: output channels of each stride-2 convolution.
        hidden: width of the linear layer after the convolutions and of the projector.
        embed_dim: D, the embedding size.
        coord_channels: append x/y coordinate ramps to the input.
    """

    image_size: int = 64
    channels: tuple[int, ...] = (32, 64, 128, 128)
    hidden: int = 512
    embed_dim: int = 64
    coord_channels: bool = True

    def __post_init__(self) -> None:
        require_positive("EncoderConfig", "image_size", self.image_size)
        require_positive("EncoderConfig", "hidden", self.hidden)
        require_positive("EncoderConfig", "embed_dim", self.embed_dim)
        if not self.channels or any(c <= 0 for c in self.channels):
            raise ConfigError(f"EncoderConfig.channels must be positive ints, got {self.channels}")
        if self.image_size % (2 ** len(self.channels)) != 0:
            raise ConfigError(
                f"EncoderConfig.image_size {self.image_size} must be divisible by "
                f"2**{len(self.channels)} (one halving per conv layer)"
            )

    @property
    def feature_side(self) -> int:
        """Side of the last convolution's feature map."""
        return self.image_size // (2 ** len(self.channels))

    @property
    def parameter_count(self) -> int:
        """Parameters of the encoder built from this config, counted without building it."""
        count, inputs = 0, 3 + (2 if self.coord_channels else 0)
        for out in self.channels:  # 4x4 convolutions with biases
            count += inputs * out * 16 + out
            inputs = out
        hidden = self.hidden
        count += inputs * self.feature_side**2 * hidden + hidden  # trunk
        count += hidden * hidden + hidden + 2 * hidden  # projector: linear, BatchNorm
        return count + hidden * self.embed_dim + self.embed_dim

    def activation_bytes(self, frames: int) -> int:
        """Bytes of float32 activations kept for the backward pass when encoding `frames` frames."""
        side, inputs = self.image_size, 3 + (2 if self.coord_channels else 0)
        per_frame = inputs * side * side
        for layer, out in enumerate(self.channels, start=1):
            per_frame += 2 * out * (side >> layer) ** 2  # convolution and GELU outputs
        return 4 * frames * per_frame


class ConvEncoder(nn.Module):
    """`pixels uint8 [B, T, 3, h, w]` → `z [B, T, D]`."""

    coords: Tensor

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        in_channels = 3 + (2 if config.coord_channels else 0)
        for out_channels in config.channels:
            layers += [nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1), nn.GELU()]
            in_channels = out_channels
        self.convs = nn.Sequential(*layers)
        flat = in_channels * config.feature_side**2
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(flat, config.hidden), nn.GELU())
        self.projector = nn.Sequential(
            nn.Linear(config.hidden, config.hidden),
            nn.BatchNorm1d(config.hidden),
            nn.GELU(),
            nn.Linear(config.hidden, config.embed_dim),
        )
        side = config.image_size
        ramp = torch.linspace(-1.0, 1.0, side)
        coords = torch.stack(
            [ramp.view(1, side).expand(side, side), ramp.view(side, 1).expand(side, side)]
        )
        self.register_buffer("coords", coords, persistent=False)

    def forward(self, pixels: Tensor) -> Tensor:
        """Encode a batch of frame sequences.

        Args:
            pixels: `uint8 [B, T, 3, h, w]` (or float in [0, 1]).

        Returns:
            `z [B, T, D]`.
        """
        if pixels.dim() != 5 or pixels.shape[2] != 3:
            raise ShapeError(f"encode expects pixels [B, T, 3, h, w], got {tuple(pixels.shape)}")
        side = self.config.image_size
        if pixels.shape[-2:] != (side, side):
            raise ShapeError(
                f"encoder was built for {side}x{side} images, "
                f"got {pixels.shape[-2]}x{pixels.shape[-1]}"
            )
        batch, time = pixels.shape[:2]
        x = pixels.reshape(batch * time, 3, side, side)
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        x = (x - 0.5) / 0.5
        if self.config.coord_channels:
            x = torch.cat([x, self.coords.expand(x.shape[0], -1, -1, -1)], dim=1)
        z = self.projector(self.trunk(self.convs(x)))
        return z.view(batch, time, -1)
