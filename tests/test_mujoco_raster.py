"""Tests of the numpy geom rasteriser: MuJoCo's camera, poses, groups, and masks that agree with
MuJoCo's own segmentation rendering (on a hand-written scene and on OGBench's cube-single)."""

from __future__ import annotations

import ami.worlds.reacher  # noqa: F401  (chooses MUJOCO_GL before the first `import mujoco`)

# isort: split
import mujoco
import numpy as np
import pytest

from ami.errors import ConfigError, DependencyMissingError
from ami.worlds.mujoco_raster import GeomRasterizer, RasterConfig
from ami.worlds.reacher_render import open_mujoco_renderer

SIZE = 64
SCENE = """
<mujoco>
  <asset>
    <mesh name="octahedron" vertex="0.06 0 0  -0.06 0 0  0 0.06 0  0 -0.06 0  0 0 0.06  0 0 -0.06"/>
  </asset>
  <worldbody>
    <light directional="true" pos="0 0 2" dir="0 0 -1"/>
    <camera name="eye" pos="0 -0.9 0.7" xyaxes="1 0 0 0 0.6 0.8"/>
    <camera name="above" pos="0 0 1.5"/>
    <geom name="floor" type="plane" size="0.6 0.6 0.01" rgba="0.3 0.4 0.3 1"/>
    <body name="crate" pos="-0.2 0 0.06">
      <freejoint/>
      <geom name="box" type="box" size="0.05 0.05 0.05" rgba="0.9 0.2 0.2 1"/>
    </body>
    <geom name="ball" type="sphere" size="0.06" pos="0.2 0 0.06" rgba="0.2 0.3 0.9 1"/>
    <geom name="pill" type="capsule" size="0.03 0.08" pos="0 0.2 0.11" rgba="0.9 0.8 0.2 1"/>
    <geom name="drum" type="cylinder" size="0.05 0.06" pos="0 -0.2 0.06" rgba="0.7 0.2 0.8 1"/>
    <geom name="gem" type="mesh" mesh="octahedron" pos="0.2 0.2 0.08" rgba="0.2 0.8 0.8 1"/>
    <geom name="collider" type="box" size="0.3 0.3 0.3" group="3"/>
    <geom name="ghost" type="sphere" size="0.2" pos="0 0 0.2" rgba="1 1 1 0"/>
  </worldbody>
</mujoco>
"""
SHAPES = ("box", "ball", "pill", "drum", "gem")


@pytest.fixture(scope="module")
def scene() -> tuple[mujoco.MjModel, mujoco.MjData]:
    model = mujoco.MjModel.from_xml_string(SCENE)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return model, data


def geom(model: mujoco.MjModel, name: str) -> int:
    return model.geom(name).id


def mujoco_segmentation(model, data, camera: str, size: int = SIZE) -> np.ndarray:
    """MuJoCo's own geom id per pixel (-1: none), int [size, size]; skips without OpenGL."""
    try:
        renderer = open_mujoco_renderer(model, size)
    except DependencyMissingError as missing:
        pytest.skip(f"MuJoCo's renderer cannot start here: {missing}")
    renderer.enable_segmentation_rendering()
    renderer.update_scene(data, camera=camera)
    seg = renderer.render()
    renderer.close()
    return np.where(seg[..., 1] == mujoco.mjtObj.mjOBJ_GEOM, seg[..., 0], -1)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


# ----------------------------------------------------------------------------- config and output


def test_a_bad_camera_name_is_a_config_error_naming_the_cameras(scene):
    model, _ = scene
    with pytest.raises(ConfigError, match=r"'side'.*\['eye', 'above'\]"):
        GeomRasterizer(model, RasterConfig(camera="side"))
    with pytest.raises(ConfigError, match="camera"):
        GeomRasterizer(model, RasterConfig(camera=7))


@pytest.mark.parametrize(
    "bad", [{"size": 0}, {"camera": 1.5}, {"background": (0, 0, 300)}, {"max_mesh_triangles": 2}]
)
def test_bad_config_values_are_config_errors(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        RasterConfig(**{"camera": "eye", **bad})


def test_render_is_a_deterministic_uint8_image_of_the_configured_size(scene):
    model, data = scene
    raster = GeomRasterizer(model, RasterConfig(camera="eye", size=48, background=(1, 2, 3)))
    first = raster.render(data)
    assert first.shape == (48, 48, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, raster.render(data))
    np.testing.assert_array_equal(first, GeomRasterizer(model, raster.config).render(data))
    assert (first == (1, 2, 3)).all(axis=2).any()  # the sky above the floor is the background
    assert len(np.unique(first.reshape(-1, 3), axis=0)) > 8  # shapes and shading, not one colour


def test_hidden_groups_and_transparent_geoms_are_not_drawn(scene):
    model, data = scene
    ids = GeomRasterizer(model, RasterConfig(camera="above")).segmentation(data)
    assert geom(model, "collider") not in ids and geom(model, "ghost") not in ids
    shown = GeomRasterizer(model, RasterConfig(camera="above", groups=(0, 3)))
    assert (shown.segmentation(data) == geom(model, "collider")).mean() > 0.2


# ----------------------------------------------------------------------------- camera and poses


def test_the_camera_looks_along_its_minus_z_with_y_up(scene):
    model, data = scene
    # "above" sits at height 1.5 with the world's axes: image right is +x, image up is +y.
    raster = GeomRasterizer(model, RasterConfig(camera="above"))
    ids = raster.segmentation(data)
    cols = {n: np.argwhere(ids == geom(model, n)).mean(0) for n in ("box", "ball", "pill", "drum")}
    assert cols["box"][1] < SIZE / 2 < cols["ball"][1]  # x = -0.2 left, x = +0.2 right
    assert cols["pill"][0] < SIZE / 2 < cols["drum"][0]  # y = +0.2 up, y = -0.2 down


def test_the_box_mask_moves_when_its_qpos_moves(scene):
    model, _ = scene
    data = mujoco.MjData(model)
    raster = GeomRasterizer(model, RasterConfig(camera="above"))
    box = [geom(model, "box")]
    mujoco.mj_forward(model, data)
    before = np.argwhere(raster.masks(data, box)).mean(0)
    data.qpos[1] += 0.15  # the crate's free joint: y
    mujoco.mj_forward(model, data)
    after = np.argwhere(raster.masks(data, box)).mean(0)
    assert after[0] < before[0] - 3  # moved up the image by several pixels
    assert abs(after[1] - before[1]) < 1


def test_masks_of_each_shape_match_mujocos_segmentation(scene):
    model, data = scene
    theirs = mujoco_segmentation(model, data, "eye")
    ours = GeomRasterizer(model, RasterConfig(camera="eye")).segmentation(data)
    for name in (*SHAPES, "floor"):
        mine, reference = ours == geom(model, name), theirs == geom(model, name)
        assert reference.sum() > 20, name  # the shape is in view
        # Measured at 64 px: 1.0 for box, ball, drum and gem, 0.999 floor, 0.96 pill.
        assert iou(mine, reference) >= 0.9, name


# ----------------------------------------------------------------------------- OGBench cube-single


@pytest.fixture(scope="module")
def cube_env():
    pytest.importorskip("ogbench")
    import gymnasium

    env = gymnasium.make("cube-single-v0", ob_type="pixels", width=SIZE, height=SIZE)
    yield env.unwrapped
    env.close()


def test_cube_and_gripper_masks_match_mujoco_on_ogbench_cube_single(cube_env):
    model, data = cube_env._model, cube_env._data
    raster = GeomRasterizer(model, RasterConfig(camera="front_pixels"))
    cube = cube_env._cube_geom_ids_list[0]
    gripper = [
        g
        for g in range(model.ngeom)
        if model.body(model.geom_bodyid[g]).name.startswith("ur5e/robotiq")
    ]
    for seed in range(3):
        cube_env.reset(seed=seed)
        cube_env.action_space.seed(seed)
        for _ in range(2):
            cube_env.step(cube_env.action_space.sample())
        theirs = mujoco_segmentation(model, data, "front_pixels")
        ours = raster.segmentation(data)
        # Measured at 64 px over seeds 0-7: cube 1.0 in every state; gripper 0.83-0.92 (its
        # meshes decimated to 80 triangles each), so the thresholds sit a little below.
        assert iou(np.isin(ours, cube), np.isin(theirs, cube)) >= 0.95, seed
        if np.isin(theirs, gripper).sum() > 20:  # the gripper in view (not at seed 0)
            assert iou(np.isin(ours, gripper), np.isin(theirs, gripper)) >= 0.78, seed
