"""A CPU renderer of a MuJoCo model's geoms: numpy triangles, a z-buffer, no OpenGL.

At construction every visible geom (its group among `RasterConfig.groups`, MuJoCo's default
0, 1, 2, and alpha > 0) becomes a triangle mesh in its own frame: a box 12 triangles, spheres,
ellipsoids, capsules and cylinders low-poly lathes, a plane a grid of cells (coloured by its
texture sampled at each cell), a mesh geom the model's mesh decimated by vertex clustering to
`max_mesh_triangles`. Height fields and SDF geoms are not drawn.

Per frame all vertices are moved into the camera frame with one batched product (the pose of
each geom from `data.geom_xpos` / `geom_xmat`, the camera's from `data.cam_xpos` / `cam_xmat`),
projected as MuJoCo does (the camera looks along -z of its frame, y up, `model.cam_fovy` the
vertical field of view, pixel centres at half-integers), back faces are dropped, and every
pixel centre inside a triangle's bounding box is tested against its barycentric coordinates in
one vectorised pass. Depth is resolved per pixel
on 1/z (linear in screen space) with `np.maximum.at`, in two layers: opaque geoms, and geoms
with alpha < 1, whose nearest surface in front of the opaque one is blended over it (one
transparent layer, as seen from the camera). Shading is flat Lambert: the model's ambient
light plus the headlight and each light of the model taken as directional along its
`light_xdir`; there are no shadows, specular highlights or texture detail beyond one texture
sample per plane cell (other textured geoms take the texture's mean colour). Colours are read
from the model every frame, so `geom_rgba` changes show. Geoms of the world body never move, so
their layer is rasterised once per camera pose and kept (a runtime edit of `model.geom_pos` of
such a geom is not seen). Triangles reaching behind the near plane are dropped, not clipped.
The meshes themselves are `ami.worlds.mujoco_meshes`'.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ami.errors import ConfigError
from ami.worlds.mujoco_meshes import geom_mesh, texture_mean

__all__ = ["GeomRasterizer", "RasterConfig"]

DEFAULT_RGBA = (0.5, 0.5, 0.5, 1.0)  # MuJoCo's geom rgba; any other value overrides a material


@dataclass(frozen=True)
class RasterConfig:
    """What `GeomRasterizer` draws and how large.

    Attributes:
        camera: Name or id of one of the model's cameras.
        size: Image side in pixels (square images).
        background: RGB (0..255) of pixels no geom covers; None: the mean colour of the model's
            skybox texture, black without one.
        max_mesh_triangles: Triangle budget of each mesh geom (decimated by vertex clustering).
        groups: Geom groups drawn (MuJoCo draws 0, 1 and 2 by default).
    """

    camera: str | int
    size: int = 64
    background: tuple[int, int, int] | None = None
    max_mesh_triangles: int = 80
    groups: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self) -> None:
        owner = "RasterConfig"
        if isinstance(self.camera, bool) or not isinstance(self.camera, str | int):
            raise ConfigError(f"{owner}.camera must be a camera name or id, got {self.camera!r}")
        if not isinstance(self.size, int) or not 1 <= self.size <= 4096:
            raise ConfigError(f"{owner}.size must be an integer in [1, 4096], got {self.size!r}")
        if self.background is not None and (
            len(self.background) != 3 or not all(0 <= int(c) <= 255 for c in self.background)
        ):
            raise ConfigError(f"{owner}.background must be 3 values in 0..255 or None")
        if not isinstance(self.max_mesh_triangles, int) or self.max_mesh_triangles < 4:
            raise ConfigError(
                f"{owner}.max_mesh_triangles must be an integer >= 4, got "
                f"{self.max_mesh_triangles!r}"
            )
        if not all(isinstance(g, int) and 0 <= g < 6 for g in self.groups):
            raise ConfigError(f"{owner}.groups must be integers in 0..5, got {self.groups!r}")


class GeomRasterizer:
    """Renders the geoms of one MuJoCo model from one of its cameras into uint8 images."""

    def __init__(self, model: Any, config: RasterConfig) -> None:
        """Build the triangle meshes of the visible geoms of `model` (a `mujoco.MjModel`).

        Raises:
            ConfigError: the camera is not one of the model's or sets a sensor size, or no geom
                is visible.
        """
        self.model, self.config = model, config
        self._camera = _camera_id(model, config.camera)
        self._size = config.size
        if np.any(model.cam_sensorsize[self._camera]):
            raise ConfigError(f"camera {config.camera!r} sets sensorsize/focal; only fovy is drawn")
        self._focal = 0.5 * config.size / math.tan(math.radians(model.cam_fovy[self._camera]) / 2)
        self._near = float(model.vis.map.znear * model.stat.extent)
        shown = [g for g in range(model.ngeom) if model.geom_group[g] in config.groups]
        self._geoms = np.array([g for g in shown if _rgba(model, g)[3] > 0], dtype=np.int64)
        if not self._geoms.size:
            raise ConfigError(
                f"the model has no visible geom in RasterConfig.groups {config.groups}"
            )
        parts = [geom_mesh(model, int(g), config.max_mesh_triangles) for g in self._geoms]
        counts = np.array([len(p[0]) for p in parts], dtype=np.int64)
        offsets = np.cumsum(counts) - counts
        # Vertices padded per geom [G, N, 3] for one batched product; _slot: [V] rows of the flat.
        self._padded = np.zeros((len(parts), max(counts.max(initial=0), 1), 3))
        for k, p in enumerate(parts):
            self._padded[k, : len(p[0])] = p[0]
        self._slot = np.concatenate(
            [k * self._padded.shape[1] + np.arange(n) for k, n in enumerate(counts)]
        )
        faces = np.concatenate([p[1] + o for p, o in zip(parts, offsets, strict=True)])
        self._corners = tuple(np.ascontiguousarray(faces[:, k]) for k in range(3))  # 3 x [T]
        self._face_geom = np.repeat(np.arange(len(parts)), [len(p[1]) for p in parts])  # [T]
        self._tint = np.concatenate([p[2] for p in parts])  # [T, 3] texture colour of faces
        verts = np.concatenate([p[0] for p in parts])  # [V, 3] in the frames of their geoms
        a, b, c = (verts[corner] for corner in self._corners)
        normal = np.cross(b - a, c - a)
        self._normal = normal / (np.linalg.norm(normal, axis=1, keepdims=True) + 1e-30)  # [T, 3]
        fixed = model.geom_bodyid[self._geoms][self._face_geom] == 0  # on the world body
        self._static, self._moving = np.flatnonzero(fixed), np.flatnonzero(~fixed)
        self._static_cache: tuple[bytes, tuple[np.ndarray, ...]] | None = None
        self._background = _background(model, config.background)
        ambient = model.vis.headlight.ambient + model.light_ambient[model.light_active > 0].sum(0)
        self._ambient = np.asarray(ambient, dtype=np.float64)  # [3]
        self._head = np.asarray(model.vis.headlight.diffuse) * bool(model.vis.headlight.active)
        self._lights = np.flatnonzero(model.light_active)

    @property
    def triangle_count(self) -> int:
        """Triangles drawn per frame before back faces are dropped."""
        return len(self._face_geom)

    def render(self, data: Any) -> np.ndarray:
        """The image of the geoms at the state of `data` (a `mujoco.MjData`), uint8 [S, S, 3]."""
        back, front, over, faces, rgba, rot, cam_r = self._rasterise(data)
        colour = self._shade(rot, faces, cam_r, data) * rgba[:, :3] * self._tint[faces]
        colour = np.concatenate([colour, self._background[None]]) * 255  # index -1: background
        image = (colour + 0.5).astype(np.uint8)[back]
        if over.any():
            a = rgba[front[over], 3:]
            blend = a * colour[front[over]] + (1 - a) * colour[back[over]]
            image[over] = (blend + 0.5).astype(np.uint8)
        return image.reshape(self._size, self._size, 3)

    def segmentation(self, data: Any) -> np.ndarray:
        """Id of the geom whose surface is nearest at each pixel, -1 where none, int64 [S, S]."""
        back, front, over, faces, *_ = self._rasterise(data)
        geom = np.append(self._geoms[self._face_geom[faces]], -1)  # index -1: no geom
        ids = geom[back]
        ids[over] = geom[front[over]]
        return ids.reshape(self._size, self._size)

    def masks(self, data: Any, geom_ids: Iterable[int]) -> np.ndarray:
        """Where the nearest surface belongs to one of `geom_ids`, bool [S, S]."""
        return np.isin(self.segmentation(data), np.fromiter(geom_ids, dtype=np.int64))

    def _rasterise(self, data: Any) -> tuple[np.ndarray, ...]:
        """The nearest opaque and translucent face at each pixel, and which translucent is nearer.

        Returns:
            back: int [S^2], the nearest opaque face (index into `faces`), -1 where none.
            front: int [S^2], the nearest translucent face likewise.
            over: bool [S^2], the translucent face is in front of the opaque one.
            faces: int [K], the faces drawn (indices of all faces).
            rgba: float [K, 4], their colour and opacity.
            rot: float [G, 3, 3], the orientation of each drawn geom in the camera frame.
            cam_r: float [3, 3], the camera's orientation (columns: its axes in the world).
        """
        cam_r = data.cam_xmat[self._camera].reshape(3, 3)
        rot = cam_r.T @ data.geom_xmat[self._geoms].reshape(-1, 3, 3)  # [G, 3, 3] camera<-geom
        shift = (data.geom_xpos[self._geoms] - data.cam_xpos[self._camera]) @ cam_r  # [G, 3]
        v = (self._padded @ rot.transpose(0, 2, 1) + shift[:, None]).reshape(-1, 3)[self._slot]
        z = -v[:, 2]  # depth along the view axis
        inv_z = 1.0 / np.maximum(z, self._near)
        screen = (
            0.5 * self._size + self._focal * v[:, 0] * inv_z,
            0.5 * self._size - self._focal * v[:, 1] * inv_z,
            inv_z,
        )
        rgba = _rgba_all(self.model, self._geoms)  # [G, 4]
        alpha = rgba[self._face_geom, 3]  # [T]
        behind = z <= self._near
        key = (
            cam_r.tobytes() + data.cam_xpos[self._camera].tobytes() + alpha[self._static].tobytes()
        )
        if self._static_cache is None or self._static_cache[0] != key:
            self._static_cache = key, self._layer(self._static, screen, behind, alpha)
        depth_s, face_s, kept_s = self._static_cache[1]
        depth_m, face_m, kept_m = self._layer(self._moving, screen, behind, alpha)
        nearer = depth_m > depth_s
        depth = np.where(nearer, depth_m, depth_s)
        face = np.where(nearer, face_m + len(kept_s), face_s)
        n = self._size * self._size
        faces = np.concatenate([kept_s, kept_m])
        over = (face[n:] >= 0) & (depth[n:] > depth[:n])
        return face[:n], face[n:], over, faces, rgba[self._face_geom[faces]], rot, cam_r

    def _layer(
        self,
        faces: np.ndarray,
        screen: tuple[np.ndarray, ...],
        behind: np.ndarray,
        alpha: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rasterise `faces` [F] of the projected vertices `screen` (x, y, 1/z, each [V]).

        Returns:
            depth: float [2 S^2], the largest 1/z at each pixel, opaque faces then translucent
                ones (0 where none).
            face: int [2 S^2], which of `kept` is there, -1 where none.
            kept: int [K], the faces that cover a pixel centre.
        """
        s = self._size
        i0, i1, i2 = (c[faces] for c in self._corners)
        px, py, pw = screen
        x0, x1, x2, y0, y1, y2 = px[i0], px[i1], px[i2], py[i0], py[i1], py[i2]
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)  # < 0: front face (rows go down)
        ok = (area < -1e-12) & (alpha[faces] > 0) & ~(behind[i0] | behind[i1] | behind[i2])
        left = np.maximum(np.ceil(np.minimum(np.minimum(x0, x1), x2) - 0.5), 0)
        right = np.minimum(np.floor(np.maximum(np.maximum(x0, x1), x2) - 0.5), s - 1)
        top = np.maximum(np.ceil(np.minimum(np.minimum(y0, y1), y2) - 0.5), 0)
        bottom = np.minimum(np.floor(np.maximum(np.maximum(y0, y1), y2) - 0.5), s - 1)
        sel = np.flatnonzero(ok & (right >= left) & (bottom >= top))
        x0, x1, x2, y0, y1, y2 = x0[sel], x1[sel], x2[sel], y0[sel], y1[sel], y2[sel]
        inv = 1.0 / area[sel]
        # Barycentric weights of corners 1 and 2 and 1/z as planes a x + b y + c in the image.
        a1, b1 = (y2 - y0) * inv, (x0 - x2) * inv
        a2, b2 = (y0 - y1) * inv, (x1 - x0) * inv
        c1, c2 = -(a1 * x0 + b1 * y0), -(a2 * x0 + b2 * y0)
        w0, w1, w2 = pw[i0[sel]], pw[i1[sel]], pw[i2[sel]]
        aw, bw = a1 * (w1 - w0) + a2 * (w2 - w0), b1 * (w1 - w0) + b2 * (w2 - w0)
        cw = w0 + c1 * (w1 - w0) + c2 * (w2 - w0)
        plane = np.stack([a1, b1, c1, a2, b2, c2, aw, bw, cw], 1)  # [K, 9]
        width = (right - left + 1)[sel].astype(np.int64)
        count = width * (bottom - top + 1)[sel].astype(np.int64)
        # One candidate per pixel centre of each face's bounding box (a ragged arange).
        tri = np.repeat(np.arange(len(sel)), count)
        local = np.arange(tri.size) - np.repeat(np.cumsum(count) - count, count)
        wt = width[tri]
        cx = left[sel][tri] + local % wt
        cy = top[sel][tri] + local // wt
        p = plane[tri]
        qx, qy = cx + 0.5, cy + 0.5
        l1 = p[:, 0] * qx + p[:, 1] * qy + p[:, 2]
        l2 = p[:, 3] * qx + p[:, 4] * qy + p[:, 5]
        inside = (l1 >= 0) & (l2 >= 0) & (l1 + l2 <= 1)
        inside = np.flatnonzero(inside)
        tri, qx, qy, p = tri[inside], qx[inside], qy[inside], p[inside]
        depth = p[:, 6] * qx + p[:, 7] * qy + p[:, 8]
        kept = faces[sel]
        pixel = (cy[inside] * s + cx[inside]).astype(np.int64)
        pixel += s * s * (alpha[kept[tri]] < 1)
        buffer = np.zeros(2 * s * s)
        np.maximum.at(buffer, pixel, depth)
        win = depth == buffer[pixel]
        nearest = np.full(2 * s * s, -1, dtype=np.int64)
        nearest[pixel[win]] = tri[win]
        return buffer, nearest, kept

    def _shade(
        self, rot: np.ndarray, faces: np.ndarray, cam_r: np.ndarray, data: Any
    ) -> np.ndarray:
        """Flat Lambert light (0..1) of `faces` [K] with geoms at `rot` [G, 3, 3], [K, 3]."""
        normal = np.einsum("kij,kj->ki", rot[self._face_geom[faces]], self._normal[faces])
        light = self._ambient + np.maximum(normal[:, 2:3], 0) * self._head
        if self._lights.size:
            to_light = -data.light_xdir[self._lights] @ cam_r  # [L, 3] in the camera frame
            lambert = np.maximum(normal @ to_light.T, 0)  # [K, L]
            light = light + lambert @ self.model.light_diffuse[self._lights]
        return np.minimum(light, 1.0)


def _camera_id(model: Any, camera: str | int) -> int:
    """The id of `camera` (name or id) in `model`; a `ConfigError` naming the cameras if absent."""
    names = [model.camera(i).name for i in range(model.ncam)]
    if isinstance(camera, int) and 0 <= camera < model.ncam:
        return camera
    if isinstance(camera, str) and camera in names:
        return names.index(camera)
    raise ConfigError(f"RasterConfig.camera {camera!r} is not a camera of the model: {names}")


def _rgba(model: Any, geom: int) -> np.ndarray:
    """The rgba MuJoCo draws `geom` with: its own, or its material's if its own is the default."""
    return _rgba_all(model, np.array([geom]))[0]


def _rgba_all(model: Any, geoms: np.ndarray) -> np.ndarray:
    """`_rgba` of every geom in `geoms`, float [G, 4]."""
    rgba = model.geom_rgba[geoms].astype(np.float64)
    mat = model.geom_matid[geoms]
    use_mat = (mat >= 0) & np.all(rgba == DEFAULT_RGBA, axis=1)
    rgba[use_mat] = model.mat_rgba[mat[use_mat]]
    return rgba


def _background(model: Any, background: tuple[int, int, int] | None) -> np.ndarray:
    """RGB in 0..1 of empty pixels: `background`, else the skybox's mean colour, else black."""
    if background is not None:
        return np.asarray(background, dtype=np.float64) / 255
    skyboxes = np.flatnonzero(model.tex_type == 2)  # mjTEXTURE_SKYBOX
    return texture_mean(model, int(skyboxes[0])) if skyboxes.size else np.zeros(3)
