"""Triangle meshes of a MuJoCo model's geoms, in each geom's own frame (for `mujoco_raster`).

A box is 12 triangles; spheres, ellipsoids, capsules and cylinders are low-poly lathes
(`SEGMENTS` around the axis, `RINGS` per hemisphere); a plane is a grid of `PLANE_CELLS` x
`PLANE_CELLS` cells, each tinted by its material's texture sampled at the cell; a mesh geom is the
model's mesh decimated by vertex clustering to a triangle budget. Other textured geoms take the
texture's mean colour. Faces are wound outward.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["geom_mesh", "texture_mean"]

PLANE, HFIELD, SPHERE, CAPSULE, ELLIPSOID, CYLINDER, BOX, MESH = range(8)  # mjtGeom
SEGMENTS, RINGS = 10, 6  # lathe resolution: segments around the axis, rings per hemisphere
PLANE_CELLS = 8  # a plane is PLANE_CELLS x PLANE_CELLS cells, two triangles each


def _texture_image(model: Any, tex: int) -> np.ndarray:
    """Texture `tex` as float RGB in 0..1, [height, width, 3]."""
    h, w, c = model.tex_height[tex], model.tex_width[tex], model.tex_nchannel[tex]
    adr = model.tex_adr[tex]
    texels = model.tex_data[adr : adr + h * w * c].reshape(h, w, c)[:, :, :3]
    return texels.astype(np.float64) / 255


def texture_mean(model: Any, tex: int) -> np.ndarray:
    """The mean RGB (0..1) of texture `tex`, [3]."""
    return _texture_image(model, tex).reshape(-1, 3).mean(0)


def _geom_texture(model: Any, geom: int) -> int:
    """The RGB texture of the material of `geom`, -1 if none."""
    mat = model.geom_matid[geom]
    if mat < 0:
        return -1
    texid = np.atleast_1d(model.mat_texid[mat])
    return int(texid[1] if texid.size > 1 and texid[1] >= 0 else texid[0])  # mjTEXROLE_RGB = 1


def geom_mesh(model: Any, geom: int, budget: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Triangles of `geom` in its own frame: vertices [V, 3], faces [F, 3], face tints [F, 3]."""
    kind, size = int(model.geom_type[geom]), model.geom_size[geom]
    tex = _geom_texture(model, geom)
    if kind == PLANE:
        far = model.vis.map.zfar * model.stat.extent
        verts, faces, centres = _plane(size[0] or far, size[1] or far)
        tint = np.ones((len(faces), 3))
        if tex >= 0:
            tint = _sample_plane_texture(model, geom, tex, centres, size)
        return verts, faces, tint
    if kind == MESH:
        mesh = model.geom_dataid[geom]
        v0, nv = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
        f0, nf = model.mesh_faceadr[mesh], model.mesh_facenum[mesh]
        verts, faces = _decimate(
            model.mesh_vert[v0 : v0 + nv], model.mesh_face[f0 : f0 + nf], budget
        )
    elif kind == BOX:
        verts, faces = _outward(*_box(size))
    elif kind in (SPHERE, ELLIPSOID):
        hemi = np.linspace(0, math.pi, 2 * RINGS + 1)
        unit, faces = _lathe(np.sin(hemi), -np.cos(hemi))
        verts = unit * (size[:3] if kind == ELLIPSOID else float(size[0]))
    elif kind == CAPSULE:
        theta = np.linspace(0, math.pi / 2, RINGS + 1)
        r = np.concatenate([np.sin(theta), np.cos(theta)]) * size[0]
        z = np.concatenate([-size[1] - np.cos(theta) * size[0], size[1] + np.sin(theta) * size[0]])
        verts, faces = _lathe(r, z)
    elif kind == CYLINDER:
        verts, faces = _lathe(np.array([0, 1, 1, 0]) * size[0], np.array([-1, -1, 1, 1]) * size[1])
    else:  # height fields and SDFs are not drawn
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), np.ones((0, 3))
    mean: np.ndarray = texture_mean(model, tex) if tex >= 0 else np.ones(3)
    return verts, faces.astype(np.int64), np.tile(mean, (len(faces), 1))


def _box(half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 8 corners [8, 3] and 12 triangles [12, 3] of a box of half-sizes `half` [3]."""
    corners = np.array([[(i >> k) & 1 for k in (2, 1, 0)] for i in range(8)]) * 2 - 1
    faces = []
    for axis in range(3):
        b, c = [k for k in range(3) if k != axis]
        for side in (-1, 1):
            ring = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
            ids = [
                int(
                    np.flatnonzero(
                        (corners[:, axis] == side) & (corners[:, b] == u) & (corners[:, c] == w)
                    )[0]
                )
                for u, w in ring
            ]
            faces += [(ids[0], ids[1], ids[2]), (ids[0], ids[2], ids[3])]
    return corners * half[:3], np.array(faces)


def _lathe(radius: np.ndarray, height: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The surface of revolution about z of the profile (radius, height) [P], bottom to top."""
    angle = np.arange(SEGMENTS) * 2 * math.pi / SEGMENTS
    verts: list[np.ndarray] = []
    rings: list[list[int]] = []
    for r, z in zip(radius, height, strict=True):
        n = 1 if r < 1e-12 else SEGMENTS
        start = sum(len(v) for v in verts)
        rings.append(list(range(start, start + n)))
        verts.append(np.stack([r * np.cos(angle[:n]), r * np.sin(angle[:n]), np.full(n, z)], 1))
    faces = []
    for a, b in zip(rings[:-1], rings[1:], strict=True):
        for k in range(SEGMENTS):
            a0, a1 = a[k % len(a)], a[(k + 1) % len(a)]
            b0, b1 = b[k % len(b)], b[(k + 1) % len(b)]
            faces += [(a0, a1, b1)] if a0 != a1 else []
            faces += [(a0, b1, b0)] if b0 != b1 else []
    return _outward(np.concatenate(verts), np.array(faces))


def _outward(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`faces` of a convex solid around the origin, each wound so its normal points outward."""
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    inward = np.einsum("ij,ij->i", np.cross(b - a, c - a), a + b + c) < 0
    faces = faces.copy()
    faces[inward] = faces[inward][:, [0, 2, 1]]
    return verts, faces


def _plane(half_x: float, half_y: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A grid of cells over the plane: vertices [V, 3], faces [F, 3] (normal +z), centres [F, 2]."""
    n = PLANE_CELLS
    xs, ys = np.linspace(-half_x, half_x, n + 1), np.linspace(-half_y, half_y, n + 1)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    verts = np.stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)], 1)
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    p00, p10 = (i * (n + 1) + j).ravel(), ((i + 1) * (n + 1) + j).ravel()
    p01, p11 = p00 + 1, p10 + 1
    faces = np.concatenate([np.stack([p00, p10, p11], 1), np.stack([p00, p11, p01], 1)])
    centres = (verts[faces[:, 0], :2] + verts[faces[:, 1], :2] + verts[faces[:, 2], :2]) / 3
    cell = np.stack([(centres[:, 0] // (2 * half_x / n)), (centres[:, 1] // (2 * half_y / n))], 1)
    return verts, faces, (cell + 0.5) * [2 * half_x / n, 2 * half_y / n]


def _sample_plane_texture(
    model: Any, geom: int, tex: int, centres: np.ndarray, size: np.ndarray
) -> np.ndarray:
    """The texture colour at `centres` [F, 2] (plane coordinates, m) of plane `geom`, [F, 3]."""
    image = _texture_image(model, tex)
    mat = model.geom_matid[geom]
    repeat = model.mat_texrepeat[mat]
    if not (size[0] and size[1]):  # an infinite plane: texrepeat per metre
        uv = centres * repeat
    else:
        uv = (centres / (2 * size[:2]) + 0.5) * repeat
    frac = uv - np.floor(uv)
    col = np.minimum((frac[:, 0] * image.shape[1]).astype(int), image.shape[1] - 1)
    row = np.minimum(((1 - frac[:, 1]) * image.shape[0]).astype(int), image.shape[0] - 1)
    return image[row, col]


def _decimate(verts: np.ndarray, faces: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """The mesh `verts` [V, 3], `faces` [F, 3] with at most `budget` faces (vertex clustering).

    Vertices are merged per cell of a cubic grid; the finest grid (found by bisection on the
    cells along the longest side) that leaves at most `budget` faces is used.
    """
    verts, faces = np.asarray(verts, dtype=np.float64), np.asarray(faces, dtype=np.int64)
    if len(faces) <= budget:
        return verts, faces
    low, high = 2, 256
    best = _cluster(verts, faces, low)
    while low <= high:
        cells = (low + high) // 2
        candidate = _cluster(verts, faces, cells)
        if len(candidate[1]) <= budget:
            best, low = candidate, cells + 1
        else:
            high = cells - 1
    return best


def _cluster(verts: np.ndarray, faces: np.ndarray, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge the vertices in each of `cells` grid cells along the longest side; drop degenerates."""
    low = verts.min(0)
    step = max(float(np.ptp(verts, axis=0).max()) / cells, 1e-12)
    key = np.floor((verts - low) / step).astype(np.int64) @ np.array(
        [(cells + 1) ** 2, cells + 1, 1]
    )
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    # Each cell keeps its vertex farthest from the centre, so convex parts do not shrink.
    reach = np.linalg.norm(verts - verts.mean(0), axis=1)
    order = np.lexsort((-reach, inverse))
    first = order[np.r_[0, np.flatnonzero(np.diff(inverse[order])) + 1]]
    merged = verts[first]
    f = inverse[faces]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    first = np.argmin(f, axis=1)[:, None]
    f = np.take_along_axis(f, (first + np.arange(3)) % 3, axis=1)  # same winding, least first
    n = len(counts)
    _, keep = np.unique((f[:, 0] * n + f[:, 1]) * n + f[:, 2], return_index=True)
    return merged, f[np.sort(keep)]
