"""The parts of a built-in world's frame, told apart by colour: agent, object, background.

The built-in worlds paint a few known colours (their module constants) and blend them linearly
at anti-aliased edges, so every pixel is a convex mixture of the world's palette. `Palette.unmix`
recovers the mixture weights: each pixel as the blend of the two palette colours whose segment
it lies closest to (an anti-aliased edge blends two colours; the rare pixel where three meet is
taken as the nearest two). A part is then recoloured by
adding `weight * (new colour - old colour)`, which is what painting it in the new colour would
have given, edges included; and shapes painted "into the background" replace only the
background's share of a pixel, so they stay under the agent and the object.

Worlds with other palettes (Reacher's six colours in three channels, Maze's per-room floor tints,
`gym:` worlds) have no parts here: factors that need them are refused there.
"""

from __future__ import annotations

import colorsys
import itertools
from dataclasses import dataclass

import numpy as np

from ami.errors import ConfigError
from ami.worlds.push_t_render import BLOCK_RGB, PUSHER_RGB
from ami.worlds.walled_arena import AGENT_RGB, FLOOR_RGB, WALL_RGB

TINT = 0.3  # a tinted background colour: 30% of the way to the saturated colour of the hue
_SMALL = 0.01  # mixture weights below this are rounding, not paint


@dataclass(frozen=True)
class Palette:
    """The colours a world paints, by part (RGB 0..255 floats).

    Attributes:
        agent: the agent's colours (TwoRoom's disc, PushT's pusher).
        object: the manipulated object's colours (PushT's T; none in TwoRoom).
        background: floor and walls.
    """

    agent: tuple[tuple[float, float, float], ...]
    object: tuple[tuple[float, float, float], ...]
    background: tuple[tuple[float, float, float], ...]

    @property
    def colours(self) -> np.ndarray:
        """Every colour, float64 [K, 3]: the agent's, the object's, then the background's."""
        return np.array([*self.agent, *self.object, *self.background], np.float64)

    def indices(self, part: str) -> list[int]:
        """The rows of `colours` that belong to `part`."""
        sizes = {"agent": len(self.agent), "object": len(self.object)}
        start = {"agent": 0, "object": sizes["agent"], "background": sum(sizes.values())}[part]
        return list(range(start, start + len(getattr(self, part))))

    def unmix(self, frame: np.ndarray) -> np.ndarray:
        """Mixture weights float64 [h, w, K] of `frame uint8 [h, w, 3]` (rows sum to 1).

        Each pixel is taken as the blend of the two palette colours it lies closest to (an
        anti-aliased edge mixes two; a pure pixel is a blend with weight 1), so the weights are
        never negative and sum to one exactly.
        """
        colours = self.colours
        pixels = frame.reshape(-1, 3).astype(np.float64)
        best = np.full(len(pixels), np.inf)
        weights = np.zeros((len(pixels), len(colours)))
        for a, b in itertools.combinations(range(len(colours)), 2):
            edge = colours[a] - colours[b]
            t = np.clip((pixels - colours[b]) @ edge / (edge @ edge), 0.0, 1.0)
            residual = ((pixels - colours[b] - t[:, None] * edge) ** 2).sum(-1)
            closer = residual < best
            best[closer] = residual[closer]
            weights[closer] = 0.0
            weights[closer, a] = t[closer]
            weights[closer, b] = 1.0 - t[closer]
        weights[weights < _SMALL] = 0.0
        weights /= weights.sum(-1, keepdims=True)
        return weights.reshape(*frame.shape[:2], len(colours))


# The palettes of the built-in worlds whose frames are mixtures of a few affinely independent
# colours (module constants of `ami.worlds`).
PALETTES: dict[str, Palette] = {
    "two_room": Palette(agent=(AGENT_RGB,), object=(), background=(FLOOR_RGB, WALL_RGB)),
    "push_t": Palette(agent=(PUSHER_RGB,), object=(BLOCK_RGB,), background=(FLOOR_RGB, WALL_RGB)),
}


def palette_of(world: str, part: str, factor: str) -> Palette:
    """The palette of `world`, which must have `part`.

    Raises:
        ConfigError: the world's frames have no known palette, or no such part (one line).
    """
    if world not in PALETTES:
        raise ConfigError(
            f"factor {factor!r} needs the {part} told apart by colour; world {world!r} has no "
            f"known palette (known: {', '.join(sorted(PALETTES))})"
        )
    palette = PALETTES[world]
    if not getattr(palette, part):
        raise ConfigError(f"factor {factor!r}: world {world!r} has no {part} to change")
    return palette


def recolour(
    frame: np.ndarray, palette: Palette, part: str, new: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """`frame uint8 [h, w, 3]` with `part`'s colours replaced by `new float [n, 3]`.

    `weights [h, w, K]` are the frame's `palette.unmix` weights.
    """
    rows = palette.indices(part)
    change = new - palette.colours[rows]  # [n, 3]
    moved = frame.astype(np.float64) + weights[..., rows] @ change
    return np.clip(np.rint(moved), 0, 255).astype(np.uint8)


def tinted(colours: np.ndarray, hue_degrees: float) -> np.ndarray:
    """`colours float [n, 3]` moved `TINT` of the way to the saturated colour of that hue."""
    saturated = 255.0 * np.array(colorsys.hsv_to_rgb((hue_degrees % 360) / 360, 1.0, 1.0))
    return colours + TINT * (saturated - colours)


@dataclass(frozen=True)
class Distractors:
    """Fixed shapes for a frame size: coverage float32 [N, h, w] and colours float64 [N, 3]."""

    cover: np.ndarray
    colours: np.ndarray


def distractors(count: int, size: int, seed: int) -> Distractors:
    """`count` discs and squares, placed, sized and coloured by `seed`, anti-aliased.

    Centres are uniform in the middle 80% of the frame, radii (half sides) 4% to 9% of its side,
    colours uniform in [30, 230] per channel.
    """
    rng = np.random.default_rng(seed)
    centre = (np.arange(size) + 0.5)[None, :]
    rows, cols = np.meshgrid(centre[0], centre[0], indexing="ij")
    covers, colours = [], []
    for _ in range(count):
        cx, cy = rng.uniform(0.1, 0.9, 2) * size
        radius = rng.uniform(0.04, 0.09) * size
        square = bool(rng.integers(2))
        colours.append(rng.uniform(30.0, 230.0, 3))
        if square:
            distance = np.maximum(np.abs(cols - cx), np.abs(rows - cy))
        else:
            distance = np.hypot(cols - cx, rows - cy)
        covers.append(np.clip(radius + 0.5 - distance, 0.0, 1.0))
    return Distractors(np.stack(covers).astype(np.float32), np.array(colours))


def paint_background(
    frame: np.ndarray, palette: Palette, shapes: Distractors, weights: np.ndarray
) -> np.ndarray:
    """`frame uint8 [h, w, 3]` with `shapes` painted over its background share only."""
    rows = palette.indices("background")
    share = weights[..., rows].sum(-1, keepdims=True)  # [h, w, 1]
    under = weights[..., rows] @ palette.colours[rows]  # the background's part of each pixel
    background = np.divide(under, share, out=np.zeros_like(under), where=share > 0)
    painted = background.copy()
    for cover, colour in zip(shapes.cover, shapes.colours, strict=True):
        painted += cover[..., None] * (colour - painted)
    moved = frame.astype(np.float64) + share * (painted - background)
    return np.clip(np.rint(moved), 0, 255).astype(np.uint8)
