"""Frame augmentations (`ami.training.frame_augment`): random shift and lighting jitter."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch

from ami.config import config_from_dict, config_to_dict
from ami.errors import ConfigError
from ami.recipes import TINY, load_recipe, save_recipe
from ami.training import TrainConfig
from ami.training.frame_augment import FrameAugmentWindows, jitter_lighting, random_shift
from fakes import training_windows_seen

SIDE, LENGTH = 16, 4


class Frames:
    """Windows `[B, 4, 3, 16, 16]`: channel 0 the row, 1 the column, 2 the frame's index x 50."""

    def sample(self, batch_size: int, generator: torch.Generator) -> dict:
        rows = torch.arange(SIDE).view(SIDE, 1).expand(SIDE, SIDE)
        frames = torch.stack(
            [torch.stack([rows, rows.T, torch.full_like(rows, 50 * t)]) for t in range(LENGTH)]
        )
        pixels = frames.to(torch.uint8).expand(batch_size, -1, -1, -1, -1).clone()
        noise = torch.randint(2, (batch_size,), generator=generator)  # uses the generator too
        return {"pixels": pixels, "actions": noise.view(-1, 1, 1).expand(-1, LENGTH - 1, 2)}


def _offsets(pixels: torch.Tensor) -> torch.Tensor:
    """`[B, T, 2]`: how far each frame's centre moved (rows, columns) in a `Frames` window."""
    centre = pixels[:, :, :2, SIDE // 2, SIDE // 2].long()
    return centre - SIDE // 2


def test_off_is_the_identity() -> None:
    assert TrainConfig().shift_pixels == 0 and TrainConfig().lighting == 0.0
    clean = Frames().sample(5, torch.Generator().manual_seed(0))["pixels"]
    off = FrameAugmentWindows(Frames(), 0, 0.0).sample(5, torch.Generator().manual_seed(0))
    assert torch.equal(off["pixels"], clean)
    generator = torch.Generator().manual_seed(1)
    assert torch.equal(random_shift(clean, 0, generator), clean)
    assert torch.equal(jitter_lighting(clean, 0.0, generator), clean)


def test_augmentations_are_deterministic_under_the_generator() -> None:
    windows = FrameAugmentWindows(Frames(), 3, 0.5)

    def draw(seed: int) -> torch.Tensor:
        return windows.sample(8, torch.Generator().manual_seed(seed))["pixels"]

    assert torch.equal(draw(0), draw(0))
    assert not torch.equal(draw(0), draw(1))


def test_the_shift_is_one_offset_per_frame_with_edges_repeated() -> None:
    pad = 3
    clean = Frames().sample(64, torch.Generator())["pixels"]
    shifted = random_shift(clean, pad, torch.Generator().manual_seed(0))
    assert shifted.shape == clean.shape and shifted.dtype == torch.uint8
    offsets = _offsets(shifted)  # [B, T, 2]
    # each frame its own offset: a window-wide one would be predictable, so encodable for free
    moved_within = (offsets != offsets[:, :1]).any(dim=2).any(dim=1)  # [B]
    assert int(moved_within.sum()) > 56, offsets  # 7x7 offsets, 4 frames: nearly every window
    assert set(offsets.flatten().tolist()) == set(range(-pad, pad + 1))
    assert len({tuple(o) for o in offsets.flatten(0, 1).tolist()}) == (2 * pad + 1) ** 2
    assert torch.equal(shifted[:, :, 2], clean[:, :, 2])  # frames stay in order
    row, column = (int(o) for o in offsets[0, 0])
    expected_rows = (torch.arange(SIDE) + row).clamp(0, SIDE - 1)  # edges repeated, not zeros
    expected_columns = (torch.arange(SIDE) + column).clamp(0, SIDE - 1)
    assert shifted[0, 0, 0, :, 5].tolist() == expected_rows.tolist()
    assert shifted[0, 0, 1, 5, :].tolist() == expected_columns.tolist()


def test_lighting_keeps_uint8_changes_frames_and_is_one_change_per_frame() -> None:
    ramp = torch.arange(256, dtype=torch.uint8).view(1, 1, 1, 16, 16)
    pixels = ramp.expand(32, LENGTH, 3, -1, -1).clone()  # every frame the same 0..255 ramp
    lit = jitter_lighting(pixels, 0.9, torch.Generator().manual_seed(0))
    assert lit.dtype == torch.uint8 and lit.shape == pixels.shape
    assert not torch.equal(lit, pixels)
    frames = {tuple(frame[0].flatten().tolist()) for window in lit for frame in window}
    assert len(frames) > 30 * LENGTH  # every frame its own (rounding may make two alike)
    flat = lit[:, 0, 0].flatten(1).long()  # [B, 256]: the ramp as each window sees it
    assert bool((flat[:, 1:] >= flat[:, :-1]).all())  # order of brightness kept
    assert int(flat.min()) == 0 and int(flat.max()) == 255  # clipped, not wrapped around


def test_the_training_windows_are_augmented_the_validation_ones_are_not(tmp_path, monkeypatch):
    augmented = replace(TINY, train=replace(TINY.train, shift_pixels=2, lighting=0.3))
    seen = training_windows_seen(monkeypatch, (TINY, augmented), tmp_path)
    (plain, plain_valid), (wrapped, wrapped_valid) = seen
    assert plain == "train" and plain_valid == "valid"
    assert isinstance(wrapped, FrameAugmentWindows)
    assert (wrapped.shift_pixels, wrapped.lighting) == (2, 0.3)
    assert wrapped.windows == "train" and wrapped_valid == "valid"


@pytest.mark.parametrize(
    "changes",
    [
        {"shift_pixels": -1},
        {"shift_pixels": 1.5},
        {"shift_pixels": True},
        {"lighting": -0.1},
        {"lighting": 0.95},
        {"lighting": math.nan},
    ],
)
def test_bad_values_are_config_errors(changes) -> None:
    (field,) = changes
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**changes)


def test_a_shift_of_a_quarter_of_the_image_is_refused() -> None:
    side = TINY.model.encoder.image_size
    replace(TINY, train=replace(TINY.train, shift_pixels=side // 4 - 1))
    with pytest.raises(ConfigError, match="shift_pixels"):
        replace(TINY, train=replace(TINY.train, shift_pixels=side // 4))
    with pytest.raises(ConfigError, match="pad"):
        random_shift(torch.zeros(1, 1, 3, 8, 8, dtype=torch.uint8), 2, torch.Generator())


def test_the_fields_survive_checkpoint_and_recipe_round_trips(tmp_path) -> None:
    config = replace(TINY.train, shift_pixels=3, lighting=0.25)
    stored = json.loads(json.dumps(config_to_dict(config)))  # as model.json's train_config
    assert config_from_dict(TrainConfig, stored) == config
    recipe = replace(TINY, train=config)
    assert load_recipe(save_recipe(recipe, tmp_path / "recipe.json")) == recipe


def test_an_old_recipe_without_the_fields_loads_with_them_off(tmp_path) -> None:
    stored = config_to_dict(TINY)
    del stored["train"]["shift_pixels"], stored["train"]["lighting"]
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(stored))
    train = load_recipe(path).train
    assert (train.shift_pixels, train.lighting) == (0, 0.0)
