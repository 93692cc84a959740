"""The world model: SIGReg, encoder, causal predictor, rollouts, checkpoints and config checks."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

from ami.config import config_from_dict, config_to_dict
from ami.errors import CheckpointError, ConfigError, ShapeError
from ami.model import (
    EncoderConfig,
    PredictorConfig,
    SIGReg,
    SIGRegConfig,
    WorldModel,
    WorldModelConfig,
)
from ami.model.world_model import CONFIG_FILE, FORMAT_VERSION, WEIGHTS_FILE

SIDE = 16
EMBED = 16
ACTION = 2


def tiny_config(history: int = 1, embed_dim: int = EMBED, coord_channels: bool = True):
    return WorldModelConfig(
        encoder=EncoderConfig(
            image_size=SIDE,
            channels=(8, 16),
            hidden=32,
            embed_dim=embed_dim,
            coord_channels=coord_channels,
        ),
        predictor=PredictorConfig(
            embed_dim=embed_dim, action_dim=ACTION, history=history, hidden=32, depth=2
        ),
    )


def tiny_model(history: int = 1, seed: int = 0, **kwargs) -> WorldModel:
    torch.manual_seed(seed)
    return WorldModel(tiny_config(history, **kwargs))


def randomise_modulation(model: WorldModel, seed: int = 0) -> None:
    """Give the zero-initialised AdaLN modulation weights, so that actions matter."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.predictor.modulation.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g))


def pixels(batch: int = 2, time: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, time, 3, SIDE, SIDE), generator=g, dtype=torch.uint8)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- SIGReg -----------------------------------------------------------------------------------


def test_sigreg_is_near_its_null_value_on_gaussian_samples():
    # Over 60 seeds (4096 x 16, 256 directions) the statistic had mean 1.076, std 0.17 and range
    # [0.75, 1.47] around null_value() = 1.052: 0.6 is ~3.5 std for one draw, 0.3 ~4 std of a
    # mean of five. (LeJEPA's factor n: the statistic of Gaussian samples is batch-free.)
    sigreg = SIGReg(SIGRegConfig(reference_batch=None))
    null = sigreg.null_value()
    values = [
        sigreg(torch.randn(4096, 16, generator=gen(seed)), generator=gen(100 + seed)).item()
        for seed in range(5)
    ]
    assert all(abs(v - null) < 0.6 for v in values), (values, null)
    assert abs(sum(values) / len(values) - null) < 0.3, (values, null)


def test_sigreg_with_a_reference_batch_is_the_batch_statistic_rescaled():
    z = torch.randn(4096, 16, generator=gen(0)) * 1.3
    classic = SIGReg(SIGRegConfig(reference_batch=None))(z, generator=gen(1))
    rescaled = SIGReg(SIGRegConfig(reference_batch=64))(z, generator=gen(1))
    torch.testing.assert_close(rescaled, classic * 64 / 4096)
    lejepa_null = SIGReg(SIGRegConfig(reference_batch=None)).null_value(4096)
    assert SIGReg().null_value(4096) == pytest.approx(lejepa_null * 64 / 4096)
    assert SIGReg().null_value() == pytest.approx(lejepa_null)


def _balance(sigreg: SIGReg, batch: int, draws: int = 24) -> tuple[float, float]:
    """Mean statistic above its Gaussian offset, and the norm of the mean gradient of an encoder.

    The embeddings are a fixed non-Gaussian distribution (a wide mixture) seen through a linear
    map, as a training batch would be. The prediction loss is a mean, so the balance of the
    objective moves with the batch exactly as these two do. The gradient is averaged over the
    draws before its norm is taken, so the batch's sampling noise does not inflate it.
    """
    weight = torch.eye(16).mul(1.2).requires_grad_(True)
    values = []
    for k in range(draws):
        g = gen(10 * batch + k)
        x = torch.randn(batch, 16, generator=g)
        x = torch.where(torch.rand(batch, 1, generator=g) < 0.3, 2.5 * x + 1.0, x)
        value = sigreg(x @ weight, generator=gen(500 + k))
        value.backward()
        values.append(value.item() - sigreg.null_value(batch))
    assert weight.grad is not None
    return sum(values) / draws, weight.grad.norm().item() / draws


def test_sigreg_balance_does_not_depend_on_the_batch_size():
    # Measured (24 draws): the statistic above its offset and the gradient agree within 6 % between
    # batch 64 and 256 with the reference batch (and differ 4x without it); tolerance 15 %.
    small, large = _balance(SIGReg(), 64), _balance(SIGReg(), 256)
    assert large[0] / small[0] == pytest.approx(1.0, rel=0.15), (small, large)
    assert large[1] / small[1] == pytest.approx(1.0, rel=0.15), (small, large)
    classic = SIGReg(SIGRegConfig(reference_batch=None))
    small, large = _balance(classic, 64), _balance(classic, 256)
    assert large[1] / small[1] == pytest.approx(4.0, rel=0.15), (small, large)


def test_sigreg_reference_batch_is_validated():
    with pytest.raises(ConfigError, match="reference_batch"):
        SIGRegConfig(reference_batch=0)


def test_sigreg_is_orders_of_magnitude_larger_on_collapsed_samples():
    sigreg = SIGReg()
    g = gen(0)
    collapsed = torch.randn(1, 16, generator=g).expand(4096, 16)
    collapsed = collapsed + 1e-3 * torch.randn(4096, 16, generator=g)
    assert sigreg(collapsed, generator=gen(1)).item() > 100 * sigreg.null_value(4096)


def test_sigreg_of_a_wide_gaussian_is_clearly_above_null():
    sigreg = SIGReg()
    z = torch.randn(4096, 16, generator=gen(0))
    assert sigreg(3 * z, generator=gen(1)).item() > 20 * sigreg.null_value(4096)


def test_sigreg_gradient_spreads_a_nearly_collapsed_batch():
    sigreg = SIGReg()
    g = gen(0)
    z = torch.randn(1, 16, generator=g).expand(256, 16) + 1e-3 * torch.randn(256, 16, generator=g)
    std_before = z.std(dim=0).mean().item()
    for step in range(3):
        z = z.detach().requires_grad_(True)
        sigreg(z, generator=gen(step)).backward()
        z = z - 4.0 * z.grad  # the step of LeJEPA's factor n = 256 (reference batch 64)
    assert z.std(dim=0).mean().item() > 1.5 * std_before


def test_sigreg_accepts_flat_and_timed_batches_and_averages_over_time():
    sigreg = SIGReg(SIGRegConfig(num_directions=64))
    gaussian = torch.randn(512, 8, generator=gen(0))
    collapsed = torch.zeros(512, 8) + 1e-3 * torch.randn(512, 8, generator=gen(1))
    flat_g = sigreg(gaussian, generator=gen(2))
    flat_c = sigreg(collapsed, generator=gen(2))
    timed = sigreg(torch.stack([gaussian, collapsed], dim=1), generator=gen(2))  # [B, 2, D]
    assert timed.dim() == 0
    # Same directions for both time steps: the [B, T, D] statistic is the mean over T.
    torch.testing.assert_close(timed, (flat_g + flat_c) / 2)


@pytest.mark.parametrize("shape", [(16,), (2, 3, 4, 8)])
def test_sigreg_rejects_wrong_rank(shape):
    with pytest.raises(ShapeError):
        SIGReg()(torch.randn(shape))


def test_sigreg_is_deterministic_under_a_generator():
    sigreg = SIGReg(SIGRegConfig(num_directions=8))
    z = torch.randn(64, 8, generator=gen(0)) * 1.5
    assert sigreg(z, generator=gen(7)).item() == sigreg(z, generator=gen(7)).item()
    assert sigreg(z, generator=gen(7)).item() != sigreg(z, generator=gen(8)).item()


# --- predictor ---------------------------------------------------------------------------------


@pytest.mark.parametrize("history", [1, 3])
@pytest.mark.parametrize("changed", ["z", "a"])
def test_predict_is_causal(history, changed):
    model = tiny_model(history)
    randomise_modulation(model)
    g = gen(1)
    z = torch.randn(2, 6, EMBED, generator=g)
    a = torch.randn(2, 6, ACTION, generator=g)
    t0 = 3
    with torch.no_grad():
        before = model.predict(z, a)
        z2, a2 = z.clone(), a.clone()
        if changed == "z":
            z2[:, t0] += 1.0
        else:
            a2[:, t0] += 1.0
        after = model.predict(z2, a2)
    assert torch.equal(after[:, :t0], before[:, :t0])
    assert (after[:, t0] - before[:, t0]).abs().max() > 1e-3


@pytest.mark.parametrize("history", [1, 3])
def test_predict_reads_exactly_history_embeddings(history):
    # The prediction at t changes with z[t - history + 1] but not with z[t - history].
    model = tiny_model(history)
    z = torch.randn(1, 6, EMBED, generator=gen(1))
    a = torch.randn(1, 6, ACTION, generator=gen(2))
    t = 5
    with torch.no_grad():
        base = model.predict(z, a)[:, t]
        oldest = z.clone()
        oldest[:, t - history + 1] += 1.0
        too_old = z.clone()
        too_old[:, t - history] += 1.0
        assert (model.predict(oldest, a)[:, t] - base).abs().max() > 1e-3
        assert torch.equal(model.predict(too_old, a)[:, t], base)


def test_predictor_ignores_actions_at_initialisation():
    # AdaLN-zero: shift, scale and gate start at zero, so the action cannot reach the output.
    model = tiny_model(history=2)
    z = torch.randn(3, 4, EMBED, generator=gen(1))
    with torch.no_grad():
        first = model.predict(z, torch.randn(3, 4, ACTION, generator=gen(2)))
        second = model.predict(z, 10 * torch.randn(3, 4, ACTION, generator=gen(3)))
    assert torch.equal(first, second)


@pytest.mark.parametrize("history", [1, 3])
def test_one_step_rollout_equals_predict_at_the_last_position(history):
    model = tiny_model(history)
    randomise_modulation(model)
    z = torch.randn(2, 5, EMBED, generator=gen(1))
    a = torch.randn(2, 5, ACTION, generator=gen(2))
    with torch.no_grad():
        rolled = model.rollout(z, a[:, -1:])
        predicted = model.predict(z, a)[:, -1]
    assert rolled.shape == (2, 1, EMBED)
    torch.testing.assert_close(rolled[:, 0], predicted, rtol=0, atol=1e-6)


@pytest.mark.parametrize("history", [1, 3])
@pytest.mark.parametrize("observed", [1, 4])
def test_multi_step_rollout_equals_feeding_predictions_back(history, observed):
    model = tiny_model(history)
    randomise_modulation(model)
    z = torch.randn(2, observed, EMBED, generator=gen(1))
    actions = torch.randn(2, 4, ACTION, generator=gen(2))
    with torch.no_grad():
        rolled = model.rollout(z, actions)
        sequence = z
        manual = []
        for h in range(actions.shape[1]):
            # Actions before the last position do not matter for the last prediction.
            a = torch.zeros(2, sequence.shape[1], ACTION)
            a[:, -1] = actions[:, h]
            z_next = model.predict(sequence, a)[:, -1]
            manual.append(z_next)
            sequence = torch.cat([sequence, z_next.unsqueeze(1)], dim=1)
    torch.testing.assert_close(rolled, torch.stack(manual, dim=1), rtol=0, atol=1e-5)
    assert (rolled[:, 1] - rolled[:, 0]).abs().max() > 1e-4  # the rollout actually moves


def test_predict_and_rollout_reject_bad_shapes():
    model = tiny_model()
    z = torch.randn(2, 3, EMBED)
    with pytest.raises(ShapeError):
        model.predict(z, torch.randn(2, 3, ACTION + 1))
    with pytest.raises(ShapeError):
        model.predict(z, torch.randn(2, 2, ACTION))
    with pytest.raises(ShapeError):
        model.rollout(z, torch.randn(3, 2, ACTION))


# --- encoder -----------------------------------------------------------------------------------


def test_encoder_encodes_each_frame_independently_of_batch_layout():
    model = tiny_model().eval()
    frames = pixels(batch=2, time=3)
    with torch.no_grad():
        z = model.encode(frames)
        flat = model.encode(frames.reshape(6, 1, 3, SIDE, SIDE))
        as_float = model.encode(frames.float() / 255.0)
    assert z.shape == (2, 3, EMBED)
    torch.testing.assert_close(z.reshape(6, 1, EMBED), flat)
    torch.testing.assert_close(z, as_float)
    assert (z[0, 0] - z[0, 1]).abs().max() > 1e-3  # different frames, different embeddings


@pytest.mark.parametrize(
    "shape",
    [
        (1, 2, 3, SIDE * 2, SIDE * 2),
        (1, 2, 3, SIDE, SIDE + 4),
        (1, 2, 4, SIDE, SIDE),
        (2, 3, SIDE, SIDE),
    ],
)
def test_encoder_rejects_wrong_image_shapes(shape):
    with pytest.raises(ShapeError):
        tiny_model().encode(torch.zeros(shape, dtype=torch.uint8))


def test_encoder_appends_coordinate_channels_by_default():
    assert EncoderConfig().coord_channels
    with_coords = tiny_model().encoder
    without = tiny_model(coord_channels=False).encoder
    assert with_coords.convs[0].in_channels == 5
    assert without.convs[0].in_channels == 3
    # Channel 0 ramps along x (columns), channel 1 along y (rows), both from -1 to 1.
    x, y = with_coords.coords
    assert x[0, 0] == -1 and x[0, -1] == 1 and torch.equal(x[0], x[-1])
    assert y[0, 0] == -1 and y[-1, 0] == 1 and torch.equal(y[:, 0], y[:, -1])


# --- checkpoints -------------------------------------------------------------------------------


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[WorldModel, Path]:
    model = tiny_model(history=2)
    randomise_modulation(model)
    model.train()
    with torch.no_grad():
        model.encode(pixels(batch=4, time=2, seed=5))  # move the BatchNorm running statistics
    model.eval()
    return model, model.save(tmp_path / "ckpt", metadata={"world": "toy", "seed": 3})


def test_checkpoint_round_trip_is_bit_identical(saved):
    model, folder = saved
    loaded = WorldModel.load(folder)
    assert not loaded.training
    assert loaded.config == model.config
    frames = pixels(seed=9)
    a = torch.randn(2, 3, ACTION, generator=gen(0))
    with torch.no_grad():
        z = model.encode(frames)
        assert torch.equal(loaded.encode(frames), z)
        assert torch.equal(loaded.predict(z, a), model.predict(z, a))
        assert torch.equal(loaded.rollout(z, a), model.rollout(z, a))
    # Either file of the folder also names the checkpoint.
    assert WorldModel.load(folder / CONFIG_FILE).config == model.config


def test_checkpoint_folder_holds_plain_data_and_no_temp_files(saved):
    model, folder = saved
    assert sorted(p.name for p in folder.iterdir()) == sorted([CONFIG_FILE, WEIGHTS_FILE])
    document = json.loads((folder / CONFIG_FILE).read_text())
    assert set(document) == {"format_version", "config", "ami_version", "metadata"}
    assert document["format_version"] == FORMAT_VERSION
    assert document["metadata"] == {"world": "toy", "seed": 3}
    assert config_from_dict(WorldModelConfig, document["config"]) == model.config
    # Saving again over the same folder leaves no temporaries either.
    model.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted([CONFIG_FILE, WEIGHTS_FILE])


def test_loading_a_missing_folder_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError):
        WorldModel.load(tmp_path / "nowhere")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / CONFIG_FILE).write_text("{}")
    with pytest.raises(CheckpointError):
        WorldModel.load(tmp_path / "half")


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[1, 2]",
        json.dumps({"format_version": FORMAT_VERSION}),
        "\udcff",
    ],
    ids=["garbage", "list", "no-config", "not-utf8"],
)
def test_unreadable_model_json_is_a_checkpoint_error(saved, text):
    _, folder = saved
    (folder / CONFIG_FILE).write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(CheckpointError):
        WorldModel.load(folder)


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, None, "1"])
def test_newer_or_missing_format_version_is_a_checkpoint_error(saved, version):
    _, folder = saved
    document = json.loads((folder / CONFIG_FILE).read_text())
    document["format_version"] = version
    (folder / CONFIG_FILE).write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match="format version"):
        WorldModel.load(folder)


def test_invalid_config_in_model_json_is_a_checkpoint_error(saved):
    _, folder = saved
    document = json.loads((folder / CONFIG_FILE).read_text())
    document["config"]["encoder"]["embed_dimm"] = 16
    (folder / CONFIG_FILE).write_text(json.dumps(document))
    with pytest.raises(CheckpointError):
        WorldModel.load(folder)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_weights_are_a_checkpoint_error(saved, damage):
    _, folder = saved
    weights = folder / WEIGHTS_FILE
    data = weights.read_bytes()
    if damage == "truncated":
        weights.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        weights.write_bytes(bytes(range(256)) * 8)
    else:
        weights.write_bytes(b"")
    with pytest.raises(CheckpointError):
        WorldModel.load(folder)


@pytest.mark.parametrize(
    "other",
    [
        {"embed_dim": 8},
        {"coord_channels": False},
        {"history": 1},
    ],
)
def test_weights_of_another_config_are_a_checkpoint_error(tmp_path, other):
    a = tiny_model(history=2).save(tmp_path / "a")
    b = tiny_model(**{"history": 2, **other}).save(tmp_path / "b")
    shutil.copy(a / CONFIG_FILE, b / CONFIG_FILE)
    with pytest.raises(CheckpointError, match="does not match"):
        WorldModel.load(b)


# --- configs -----------------------------------------------------------------------------------


def test_world_model_config_rejects_mismatched_parts():
    encoder = EncoderConfig(image_size=16, channels=(8,), hidden=8, embed_dim=8)
    with pytest.raises(ConfigError, match="embed_dim"):
        WorldModelConfig(encoder=encoder, predictor=PredictorConfig(embed_dim=16))
    with pytest.raises(ConfigError, match="frameskip"):
        WorldModelConfig(
            encoder=encoder, predictor=PredictorConfig(embed_dim=8, action_dim=3), frameskip=2
        )
    config = WorldModelConfig(
        encoder=encoder, predictor=PredictorConfig(embed_dim=8, action_dim=4), frameskip=2
    )
    assert config.env_action_dim == 2


def test_encoder_config_needs_an_image_size_divisible_by_the_halvings():
    EncoderConfig(image_size=24, channels=(8, 8, 8))  # 24 = 3 * 2**3
    with pytest.raises(ConfigError, match="divisible"):
        EncoderConfig(image_size=20, channels=(8, 8, 8))


@pytest.mark.parametrize(
    ("cls", "field"),
    [
        (EncoderConfig, "image_size"),
        (EncoderConfig, "hidden"),
        (EncoderConfig, "embed_dim"),
        (EncoderConfig, "channels"),
        (PredictorConfig, "embed_dim"),
        (PredictorConfig, "action_dim"),
        (PredictorConfig, "history"),
        (PredictorConfig, "hidden"),
        (PredictorConfig, "depth"),
        (WorldModelConfig, "frameskip"),
        (SIGRegConfig, "num_directions"),
        (SIGRegConfig, "t_max"),
    ],
)
@pytest.mark.parametrize("bad", [0, -1])
def test_non_positive_fields_are_config_errors(cls, field, bad):
    value = (8, bad) if field == "channels" else bad
    with pytest.raises(ConfigError, match=field):
        cls(**{field: value})


def test_sigreg_num_knots_below_two_is_a_config_error():
    with pytest.raises(ConfigError):
        SIGRegConfig(num_knots=1)


def test_config_dict_round_trip_through_json():
    config = tiny_config(history=3)
    data = json.loads(json.dumps(config_to_dict(config)))
    rebuilt = config_from_dict(WorldModelConfig, data)
    assert rebuilt == config
    assert isinstance(rebuilt.encoder.channels, tuple)


def test_config_from_dict_rejects_unknown_and_ill_typed_keys():
    data = config_to_dict(tiny_config())
    with pytest.raises(ConfigError, match="histroy"):
        config_from_dict(
            WorldModelConfig, {**data, "predictor": {**data["predictor"], "histroy": 2}}
        )
    with pytest.raises(ConfigError, match="extra"):
        config_from_dict(WorldModelConfig, {**data, "extra": 1})
    with pytest.raises(ConfigError):
        config_from_dict(WorldModelConfig, {**data, "frameskip": "2"})
    # A partial dict fills in the defaults of the missing fields.
    assert config_from_dict(WorldModelConfig, {"frameskip": 1}) == WorldModelConfig()


def test_config_from_dict_rejects_a_non_mapping_nested_config():
    data = config_to_dict(tiny_config())
    with pytest.raises(ConfigError):
        config_from_dict(WorldModelConfig, {**data, "encoder": 16})


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        tiny_config().frameskip = 2  # type: ignore[misc]
