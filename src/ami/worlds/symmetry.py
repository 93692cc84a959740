"""The symmetries of a square arena seen from above (the dihedral group D4), in image coordinates.

A world whose physics and look do not change when the whole scene is turned by a quarter turn or
mirrored (PushT: a square walled arena, isotropic friction, a T that is its own mirror image)
declares the symmetries it has (`plane_symmetries`) and how each maps its actions and states
(`symmetric_actions`, `symmetric_states`). Training can then learn from the symmetric copy of every
recorded window, which is a window the world could equally have produced
(`ami.training.symmetry`).

Each element is "transpose, then mirror x, then mirror y", acting on image-plane points (x to the
right, y down) about the arena's centre: its matrix `G` maps offsets from the centre, and a frame
`uint8 [..., h, w]` is transformed so that the pixel at (x, y) lands at G(x, y).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from ami.errors import ShapeError


@dataclass(frozen=True)
class SquareSymmetry:
    """One of the 8 symmetries of the square: transpose (swap x and y), then mirror x, mirror y."""

    transpose: bool = False
    mirror_x: bool = False
    mirror_y: bool = False

    @property
    def matrix(self) -> np.ndarray:
        """`G`, float64 [2, 2], acting on image-plane offsets (x, y) from the centre."""
        swap = np.array([[0.0, 1.0], [1.0, 0.0]]) if self.transpose else np.eye(2)
        mirror = np.diag([-1.0 if self.mirror_x else 1.0, -1.0 if self.mirror_y else 1.0])
        return mirror @ swap

    @property
    def is_reflection(self) -> bool:
        """Whether it reverses orientation (determinant -1)."""
        return self.transpose != (self.mirror_x != self.mirror_y)

    def apply_to_pixels(self, pixels: Tensor) -> Tensor:
        """Frames `[..., h, w]` (h = w) transformed: the pixel at (x, y) moves to G(x, y)."""
        out = pixels.transpose(-1, -2) if self.transpose else pixels
        if self.mirror_x:
            out = out.flip(-1)
        if self.mirror_y:
            out = out.flip(-2)
        return out

    def apply_to_points(self, points: np.ndarray, centre: float) -> np.ndarray:
        """Points `[..., 2]` (x, y) moved about (centre, centre)."""
        return (np.asarray(points, np.float64) - centre) @ self.matrix.T + centre

    def apply_to_angles(self, angles: np.ndarray, mirror_in_body: np.ndarray) -> np.ndarray:
        """Headings `[...]` of a body moved with the scene, wrapped to [-pi, pi).

        A body at heading `a` is `R(a)` applied to its own shape; after the move it is
        `G R(a)`. A rotation `G = R(phi)` gives heading `a + phi`. A reflection gives a mirrored
        body, which is the same body at another heading only when the shape is its own mirror
        image under `mirror_in_body` [2, 2] (in body coordinates): `G R(a) M = R(a')`.
        """
        angles = np.asarray(angles, np.float64)
        c, s = np.cos(angles), np.sin(angles)
        rotation = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # [..., 2, 2]
        moved = self.matrix @ rotation
        if self.is_reflection:
            moved = moved @ mirror_in_body
        heading = np.arctan2(moved[..., 1, 0], moved[..., 0, 0])
        return (heading + math.pi) % (2 * math.pi) - math.pi


IDENTITY = SquareSymmetry()
SQUARE_SYMMETRIES: tuple[SquareSymmetry, ...] = tuple(
    SquareSymmetry(t, x, y) for t in (False, True) for x in (False, True) for y in (False, True)
)


class SymmetricWorld(Protocol):
    """A world with symmetries, and how each maps its actions and true states."""

    plane_symmetries: tuple[SquareSymmetry, ...]

    def symmetric_actions(self, symmetry: SquareSymmetry) -> np.ndarray:
        """The linear map [A, A] of one env action."""
        ...

    def symmetric_states(self, symmetry: SquareSymmetry, states: np.ndarray) -> np.ndarray:
        """True states [..., S] under the symmetry."""
        ...


def symmetries_of(world: object) -> tuple[SquareSymmetry, ...]:
    """The symmetries `world` declares (none for most worlds)."""
    return tuple(getattr(world, "plane_symmetries", ()))


def map_action_blocks(actions: Tensor, matrix: Tensor) -> Tensor:
    """Actions `[..., k A]` (blocks of k env actions of size A) mapped by `matrix [A, A]`.

    Raises:
        ShapeError: the last dimension is not a whole number of env actions.
    """
    size = matrix.shape[0]
    if actions.shape[-1] % size != 0:
        raise ShapeError(
            f"action blocks of size {actions.shape[-1]} are not whole actions of size {size}"
        )
    blocks = actions.reshape(*actions.shape[:-1], -1, size)
    return (blocks @ matrix.to(actions.dtype).T).reshape(actions.shape)


def moved_frames(frames: np.ndarray, symmetry: SquareSymmetry) -> np.ndarray:
    """Frames `uint8 [..., h, w, 3]` (channels last, as worlds render them) under `symmetry`."""
    pixels = torch.from_numpy(np.ascontiguousarray(frames)).movedim(-1, -3)
    return symmetry.apply_to_pixels(pixels).movedim(-3, -1).contiguous().numpy()
