"""Reacher rendering: a fast numpy top-down painter and MuJoCo's own headless renderer.

Both look straight down on the arena square [-half, half]^2 (world x to the right, world y up),
so a world point (x, y) lands at pixel column (x + half) / (2 half) * size and row
(half - y) / (2 half) * size in either backend. The numpy painter reads the positions MuJoCo
computed (`data.xpos`, `data.site_xpos`) and draws the target disc, the two links as capsules,
the joints and the fingertip, each anti-aliased by its distance field (coverage = clip(r + 0.5 -
d, 0, 1) in pixels) and alpha-blended only inside its bounding box.

`open_mujoco_renderer` wraps `mujoco.Renderer`: MuJoCo picks its OpenGL backend from
`MUJOCO_GL` when `mujoco` is first imported (see `ami.worlds.reacher`), and every way a backend
can be missing surfaces here as one `DependencyMissingError` line.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ami.errors import DependencyMissingError

FLOOR_RGB = (225.0, 225.0, 215.0)
BORDER_RGB = (120.0, 120.0, 120.0)
TARGET_RGB = (230.0, 60.0, 60.0)
LINK_RGB = (50.0, 110.0, 200.0)
JOINT_RGB = (30.0, 30.0, 60.0)
FINGERTIP_RGB = (40.0, 190.0, 60.0)

INSTALL_HINT = (
    "install an OpenGL backend (`apt-get install libegl1 libgl1` for MUJOCO_GL=egl, or "
    "`apt-get install libosmesa6` for MUJOCO_GL=osmesa) and set MUJOCO_GL before the first "
    "`import mujoco`"
)


class TopDownPainter:
    """Paints the reacher seen from above into uint8 [size, size, 3] frames with numpy only."""

    def __init__(
        self, size: int, half_extent: float, link_radius: float, joint_radius: float
    ) -> None:
        """Args: size: image side; half_extent: half the arena side (m); radii in metres."""
        self.size, self.half = size, half_extent
        self._scale = size / (2 * half_extent)  # pixels per metre
        self._link_r = link_radius * self._scale
        self._joint_r = joint_radius * self._scale
        self._centres = np.arange(size, dtype=np.float32) + 0.5
        self._background = _background(size, border=max(1.0, 0.01 * self._scale))

    def to_pixels(self, xy: np.ndarray) -> tuple[float, float]:
        """(column, row) of a world point (x, y) in continuous pixel coordinates."""
        return (float(xy[0]) + self.half) * self._scale, (self.half - float(xy[1])) * self._scale

    def paint(
        self,
        shoulder: np.ndarray,
        elbow: np.ndarray,
        fingertip: np.ndarray,
        target: np.ndarray | None,
        target_radius: float,
    ) -> np.ndarray:
        """The frame with the arm at the given world points [2+] and the target disc (if any)."""
        frame = self._background.copy()
        s, e, f = self.to_pixels(shoulder), self.to_pixels(elbow), self.to_pixels(fingertip)
        if target is not None:
            self._capsule(
                frame, self.to_pixels(target), None, target_radius * self._scale, TARGET_RGB
            )
        self._capsule(frame, s, e, self._link_r, LINK_RGB)
        self._capsule(frame, e, f, self._link_r, LINK_RGB)
        self._capsule(frame, s, None, self._joint_r, JOINT_RGB)
        self._capsule(frame, e, None, self._joint_r, JOINT_RGB)
        self._capsule(frame, f, None, self._joint_r, FINGERTIP_RGB)
        return (frame + 0.5).astype(np.uint8)

    def _capsule(
        self,
        frame: np.ndarray,
        a: tuple[float, float],
        b: tuple[float, float] | None,
        radius: float,
        rgb: tuple[float, float, float],
    ) -> None:
        """Blend a disc (b None) or the capsule a-b of `radius` pixels into `frame` in place."""
        b = a if b is None else b
        pad = radius + 1.0
        j0 = max(int(math.floor(min(a[0], b[0]) - pad)), 0)
        j1 = min(int(math.ceil(max(a[0], b[0]) + pad)), self.size)
        i0 = max(int(math.floor(min(a[1], b[1]) - pad)), 0)
        i1 = min(int(math.ceil(max(a[1], b[1]) + pad)), self.size)
        if j0 >= j1 or i0 >= i1:
            return
        px = self._centres[j0:j1][None, :] - a[0]  # [1, w], relative to a
        py = self._centres[i0:i1][:, None] - a[1]  # [h, 1]
        dx, dy = b[0] - a[0], b[1] - a[1]
        length2 = dx * dx + dy * dy
        if length2 > 1e-12:
            t = np.clip((px * dx + py * dy) / length2, 0.0, 1.0)
            px, py = px - t * dx, py - t * dy
        dist = np.sqrt(px * px + py * py)
        cover = np.clip(radius + 0.5 - dist, 0.0, 1.0)[:, :, None]
        patch = frame[i0:i1, j0:j1]
        patch += cover * (np.asarray(rgb, np.float32) - patch)


def _background(size: int, border: float) -> np.ndarray:
    """The floor with a darker border of `border` pixels (the arena walls), float32 [s, s, 3]."""
    c = np.arange(size, dtype=np.float32) + 0.5
    inside = np.minimum(c, size - c)  # distance of each pixel centre to the nearest edge
    edge = np.minimum(inside[:, None], inside[None, :])
    cover = np.clip(border + 0.5 - edge, 0.0, 1.0)[:, :, None]
    floor, wall = np.asarray(FLOOR_RGB, np.float32), np.asarray(BORDER_RGB, np.float32)
    return (floor + cover * (wall - floor)).astype(np.float32)


def open_mujoco_renderer(model: Any, size: int, fallback: str = "renderer='numpy'") -> Any:
    """A `mujoco.Renderer` of size x size for `model`; `DependencyMissingError` if no backend.

    The one-line error names `fallback`, the world's renderer that needs no OpenGL.
    """
    import mujoco  # already imported by whoever built `model`, so MUJOCO_GL is settled

    backend = os.environ.get("MUJOCO_GL", "glfw (MuJoCo's default)")
    try:
        return mujoco.Renderer(model, size, size)
    except (ImportError, OSError, RuntimeError, AttributeError, mujoco.FatalError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DependencyMissingError(
            f"MuJoCo rendering is unavailable with MUJOCO_GL={backend} ({reason[:120]}); "
            f"{INSTALL_HINT}, or use {fallback}"
        ) from exc
