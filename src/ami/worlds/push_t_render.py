"""PushT's look: the T block's shape and a numpy painter of frames.

The T lives here in block coordinates (origin at its area centroid): two boxes, eight vertices and
an exact signed distance. The physics in `ami.worlds.push_t` builds its pymunk shapes from the same
`BLOCK_BOXES` and tests clearance with the same distance, so what is drawn is what collides.

`PushTPainter` draws in image coordinates (x right, y down, pixel = unit * size / arena): a
background with the walls precomputed once, then the block anti-aliased through its signed
distance (coverage = clip(0.5 - distance in pixels, 0, 1)), then the pusher as an anti-aliased
disc on top, each alpha-blended only inside its bounding box.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ami.worlds.walled_arena import render_background

_CY = (3600.0 * 15.0 + 2700.0 * 75.0) / 6300.0  # the centroid's depth below the bar's edge
# The T in block coordinates (origin at the centroid), as boxes (centre x, centre y, half width,
# half height): the bar, then the stem.
BLOCK_BOXES = ((0.0, 15.0 - _CY, 60.0, 15.0), (0.0, 75.0 - _CY, 15.0, 45.0))
BLOCK_VERTICES = np.array(
    [(-60, 0), (60, 0), (60, 30), (15, 30), (15, 120), (-15, 120), (-15, 30), (-60, 30)], float
) - np.array([0.0, _CY])
BLOCK_RGB = (119.0, 136.0, 153.0)  # LightSlateGray, as in the original
PUSHER_RGB = (65.0, 105.0, 225.0)  # RoyalBlue


def block_signed_distance(points: np.ndarray) -> np.ndarray:
    """Signed distance [...] from block-frame points [..., 2] to the T (negative inside)."""
    distance = np.full(points.shape[:-1], np.inf)
    for cx, cy, hx, hy in BLOCK_BOXES:
        qx = np.abs(points[..., 0] - cx) - hx
        qy = np.abs(points[..., 1] - cy) - hy
        outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
        distance = np.minimum(distance, outside + np.minimum(np.maximum(qx, qy), 0.0))
    return distance


def to_block_frame(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """World points [..., 2] in the frame of a block at `pose` (x, y, angle)."""
    c, s = math.cos(pose[2]), math.sin(pose[2])
    dx, dy = points[..., 0] - pose[0], points[..., 1] - pose[1]
    return np.stack([c * dx + s * dy, -s * dx + c * dy], axis=-1)


def block_vertices(pose: np.ndarray) -> np.ndarray:
    """The T's 8 vertices in world units [8, 2] for a block at `pose` (x, y, angle)."""
    c, s = math.cos(pose[2]), math.sin(pose[2])
    v = BLOCK_VERTICES
    return np.stack([pose[0] + c * v[:, 0] - s * v[:, 1], pose[1] + s * v[:, 0] + c * v[:, 1]], 1)


class PushTPainter:
    """Paints the PushT arena, block and pusher into uint8 [size, size, 3] frames."""

    def __init__(self, size: int, arena: float, wall: float, pusher_radius: float) -> None:
        """Args: size: image side; arena: arena side; wall: wall thickness; lengths in units."""
        self.size = size
        w = wall / arena
        borders = (
            (0.0, w, 0.0, 1.0),
            (1 - w, 1.0, 0.0, 1.0),
            (0.0, 1.0, 0.0, w),
            (0.0, 1.0, 1 - w, 1.0),
        )
        self._background = render_background(size, borders)
        self._scale = size / arena  # pixels per unit
        self._pusher_r = pusher_radius * self._scale
        self._block_rgb = np.asarray(BLOCK_RGB, np.float32)
        self._pusher_rgb = np.asarray(PUSHER_RGB, np.float32)

    def paint(self, pusher: np.ndarray, block_pose: np.ndarray) -> np.ndarray:
        """The frame with the pusher at `pusher` [2] and the block at `block_pose` [3] (units)."""
        frame = self._background.copy()
        pose = np.asarray(block_pose, np.float64)
        corners = block_vertices(pose) * self._scale
        self._blend(frame, corners.min(0), corners.max(0), self._block_rgb, self._block_cover, pose)
        p = np.asarray(pusher, np.float64) * self._scale
        r = self._pusher_r
        self._blend(frame, p - r, p + r, self._pusher_rgb, self._disc_cover, p)
        return frame

    def _block_cover(self, cols: np.ndarray, rows: np.ndarray, pose: np.ndarray) -> np.ndarray:
        points = np.stack(np.broadcast_arrays(cols[None, :], rows[:, None]), -1) / self._scale
        distance = block_signed_distance(to_block_frame(points, pose)) * self._scale
        return np.clip(0.5 - distance, 0.0, 1.0)

    def _disc_cover(self, cols: np.ndarray, rows: np.ndarray, centre: np.ndarray) -> np.ndarray:
        dist = np.sqrt((cols[None, :] - centre[0]) ** 2 + (rows[:, None] - centre[1]) ** 2)
        return np.clip(self._pusher_r + 0.5 - dist, 0.0, 1.0)

    def _blend(
        self,
        frame: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        rgb: np.ndarray,
        cover_fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
        where: np.ndarray,
    ) -> None:
        """Alpha-blend colour `rgb` with coverage `cover_fn` over the pixel box [low, high]."""
        j0, i0 = (max(int(math.floor(v)) - 1, 0) for v in low)
        j1, i1 = (min(int(math.ceil(v)) + 2, self.size) for v in high)
        if i0 >= i1 or j0 >= j1:
            return
        cols = np.arange(j0, j1, dtype=np.float64) + 0.5
        rows = np.arange(i0, i1, dtype=np.float64) + 0.5
        cover = cover_fn(cols, rows, where)[:, :, None].astype(np.float32)
        under = frame[i0:i1, j0:j1].astype(np.float32)
        frame[i0:i1, j0:j1] = (under + cover * (rgb - under) + 0.5).astype(np.uint8)
