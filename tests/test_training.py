"""Training: schedule, the loop on a tiny moving-square world, resuming, BatchNorm recalibration."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ami.errors import CheckpointError, ConfigError
from ami.experience import WindowConfig, WindowDataset
from ami.model import (
    EncoderConfig,
    PredictorConfig,
    SIGReg,
    SIGRegConfig,
    WorldModel,
    WorldModelConfig,
)
from ami.training import ObjectiveConfig, TrainConfig, train
from ami.training.batches import step_batches
from ami.training.distributed import step_generator
from ami.training.schedule import warmup_cosine
from ami.training.trainer import CHECKPOINT_DIR, METRICS_FILE, TRAINER_STATE, recalibrate_batchnorm

SIDE = 16


def moving_square(episodes: int = 8, frames: int = 20, seed: int = 0) -> WindowDataset:
    """A 2x2 white square on black that moves 2 px per step along the action in {-1, 0, 1}^2."""
    rng = np.random.default_rng(seed)
    total = episodes * frames
    pixels = np.zeros((total, SIDE, SIDE, 3), np.uint8)
    actions = rng.integers(-1, 2, (total, 2)).astype(np.float32)
    states = np.zeros((total, 2), np.float32)
    for episode in range(episodes):
        position = rng.integers(2, SIDE - 3, 2)
        for frame in range(frames):
            i = episode * frames + frame
            states[i] = position
            pixels[i, position[1] : position[1] + 2, position[0] : position[0] + 2] = 255
            position = np.clip(position + 2 * actions[i].astype(int), 0, SIDE - 2)
    starts = np.arange(episodes) * frames
    lengths = np.full(episodes, frames)
    return WindowDataset(pixels, actions, states, starts, lengths, WindowConfig(length=4))


@pytest.fixture(scope="module")
def windows() -> WindowDataset:
    return moving_square()


def model_config(embed_dim: int = 16) -> WorldModelConfig:
    return WorldModelConfig(
        encoder=EncoderConfig(image_size=SIDE, channels=(8, 16), hidden=32, embed_dim=embed_dim),
        predictor=PredictorConfig(embed_dim=embed_dim, action_dim=2, hidden=32, depth=2),
    )


def fresh_model(seed: int = 0, embed_dim: int = 16) -> WorldModel:
    torch.manual_seed(seed)
    return WorldModel(model_config(embed_dim))


def train_config(**changes) -> TrainConfig:
    settings = dict(
        steps=8,
        batch_size=8,
        lr=1e-2,
        warmup_steps=2,
        log_every=1,
        valid_every=0,
        checkpoint_every=4,
        sigreg=SIGRegConfig(num_directions=16),
    )
    return TrainConfig(**{**settings, **changes})


def read_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / METRICS_FILE).read_text().splitlines()]


def assert_same_weights(a: WorldModel, b: WorldModel) -> None:
    state_a, state_b = a.state_dict(), b.state_dict()
    assert state_a.keys() == state_b.keys()
    for name in state_a:
        assert torch.equal(state_a[name], state_b[name]), name


def weights_differ(a: WorldModel, b: WorldModel) -> bool:
    state_b = b.state_dict()
    return any(not torch.equal(v, state_b[k]) for k, v in a.state_dict().items())


class Interrupt(Exception):
    pass


def interrupt_at(step: int):
    def callback(done: int, metrics: dict) -> None:
        if done == step:
            raise Interrupt(done)

    return callback


# --- schedule ----------------------------------------------------------------------------------


def test_warmup_cosine_shape():
    total, warmup, floor = 200, 20, 0.05
    values = [warmup_cosine(step, total, warmup, floor) for step in range(total + 1)]
    assert values[0] <= 0.1
    assert all(b > a for a, b in zip(values[: warmup - 1], values[1:warmup], strict=True))
    assert values[warmup - 1] == pytest.approx(1.0)
    assert values[warmup] == pytest.approx(1.0)
    after = values[warmup:]
    assert all(b <= a for a, b in zip(after, after[1:], strict=False))
    assert after[len(after) // 2] == pytest.approx((1 + floor) / 2, abs=0.02)
    assert values[total] == pytest.approx(floor)
    assert values[total - 1] < floor + 0.01
    assert warmup_cosine(total + 50, total, warmup, floor) == pytest.approx(floor)
    assert warmup_cosine(0, total, 0, floor) == pytest.approx(1.0)  # no warm-up


# --- the loop ----------------------------------------------------------------------------------


def test_training_learns_the_moving_square(tmp_path, windows):
    model = fresh_model()
    config = train_config(steps=60, batch_size=16, warmup_steps=3, log_every=1, checkpoint_every=60)
    result = train(model, windows, None, config, tmp_path, progress=False)
    lines = read_metrics(tmp_path)
    assert [m["step"] for m in lines] == list(range(1, 61))
    first = np.mean([m["pred_loss"] for m in lines[:5]])
    last = np.mean([m["pred_loss"] for m in lines[-5:]])
    assert last < 0.5 * first, (first, last)
    # Not by collapse: SIGReg ends near its Gaussian value at this batch (it starts ~5x above it).
    gaussian = SIGReg(config.sigreg).null_value(16)
    assert np.mean([m["sigreg"] for m in lines[-5:]]) < 2.4 * gaussian
    assert result.steps == 60 and result.resumed_from == 0
    assert not model.training
    # The model uses the actions: the true ones predict the next embedding better than shuffled.
    batch = windows.sample(64, torch.Generator().manual_seed(99))
    with torch.no_grad():
        z = model.encode(batch["pixels"])
        shuffled = batch["actions"][torch.randperm(64, generator=torch.Generator().manual_seed(1))]
        true_error = F.mse_loss(model.predict(z[:, :-1], batch["actions"]), z[:, 1:])
        wrong_error = F.mse_loss(model.predict(z[:, :-1], shuffled), z[:, 1:])
    assert true_error < 0.8 * wrong_error, (true_error, wrong_error)


def test_metrics_are_logged_every_log_every_steps_with_the_promised_keys(tmp_path, windows):
    seen = []
    config = train_config(steps=10, log_every=4, checkpoint_every=10, valid_every=8)
    result = train(
        fresh_model(),
        windows,
        windows,
        config,
        tmp_path,
        progress=False,
        callbacks=[lambda step, metrics: seen.append(step)],
    )
    lines = read_metrics(tmp_path)
    assert [m["step"] for m in lines] == [4, 8, 10]  # the last step is always logged
    assert seen == [4, 8, 10]
    train_keys = {"step", "lr", "loss", "pred_loss", "sigreg", "rollout_loss", "grad_norm"}
    for line in lines:
        assert train_keys | {"frames_per_second"} <= set(line)
        assert all(math.isfinite(v) for v in line.values())
        assert line["loss"] >= line["pred_loss"]
    # Validation runs at logged steps that are multiples of valid_every, and at the last step.
    valid_keys = {"valid_loss", "valid_pred_loss", "valid_sigreg", "valid_embedding_std"}
    assert [valid_keys <= set(line) for line in lines] == [False, True, True]
    assert not valid_keys & set(lines[0])
    assert result.last_metrics == lines[-1]
    assert lines[0]["lr"] == pytest.approx(config.lr * warmup_cosine(3, 10, 2))
    # Without rollout or clipping, those keys are not promised.
    quiet = train_config(
        steps=2, grad_clip=0.0, objective=ObjectiveConfig(rollout_weight=0.0), checkpoint_every=2
    )
    train(fresh_model(), windows, None, quiet, tmp_path / "quiet", progress=False)
    assert not {"rollout_loss", "grad_norm"} & set(read_metrics(tmp_path / "quiet")[-1])


def test_checkpoint_holds_the_model_and_trainer_state(tmp_path, windows):
    model = fresh_model()
    train(model, windows, None, train_config(steps=4), tmp_path, progress=False, metadata={"w": 1})
    folder = tmp_path / CHECKPOINT_DIR
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["model.json", "model.safetensors", TRAINER_STATE]
    )
    loaded = WorldModel.load(folder)
    assert_same_weights(loaded, model)
    metadata = json.loads((folder / "model.json").read_text())["metadata"]
    assert metadata["w"] == 1 and metadata["step"] == 4


def test_resumed_run_reaches_the_same_weights(tmp_path, windows):
    config = train_config(steps=8, checkpoint_every=4, log_every=1)
    straight = fresh_model()
    train(straight, windows, None, config, tmp_path / "straight", progress=False)

    run = tmp_path / "resumed"
    with pytest.raises(Interrupt):
        train(
            fresh_model(), windows, None, config, run, progress=False, callbacks=[interrupt_at(6)]
        )
    assert [m["step"] for m in read_metrics(run)] == [1, 2, 3, 4, 5, 6]
    resumed = fresh_model(seed=123)  # a different start: everything must come from the checkpoint
    result = train(resumed, windows, None, config, run, progress=False)

    assert result.resumed_from == 4
    assert_same_weights(resumed, straight)
    assert [m["step"] for m in read_metrics(run)] == list(range(1, 9))
    drop = ("frames_per_second",)
    for a, b in zip(read_metrics(run), read_metrics(tmp_path / "straight"), strict=True):
        assert {k: v for k, v in a.items() if k not in drop} == {
            k: v for k, v in b.items() if k not in drop
        }


def test_loader_workers_draw_the_very_batches_of_the_loop(tmp_path, windows):
    serial = fresh_model()
    train(serial, windows, None, train_config(steps=6), tmp_path / "serial", progress=False)
    run = tmp_path / "workers"
    config = train_config(steps=6, loader_workers=2)
    with pytest.raises(Interrupt):  # resuming with workers starts their stream at the checkpoint
        train(
            fresh_model(), windows, None, config, run, progress=False, callbacks=[interrupt_at(5)]
        )
    with_workers = fresh_model(seed=9)
    train(with_workers, windows, None, config, run, progress=False)
    assert_same_weights(with_workers, serial)
    assert weights_differ(with_workers, fresh_model())


def test_step_batches_come_in_step_order_from_every_worker():
    class StepNumbers:
        def sample(self, batch_size, generator):
            return {"draw": torch.randint(10**9, (batch_size,), generator=generator)}

    def draws(workers):
        batches = step_batches(StepNumbers(), 3, seed=1, rank=0, start=2, stop=9, workers=workers)
        return [batch["draw"].tolist() for batch in batches]

    expected = [
        torch.randint(10**9, (3,), generator=step_generator(1, 0, step)).tolist()
        for step in range(2, 9)
    ]
    assert draws(0) == expected
    assert draws(3) == expected
    with pytest.raises(ConfigError, match="workers"):
        step_batches(StepNumbers(), 3, seed=1, rank=0, start=0, stop=2, workers=-1)


def test_training_a_finished_run_again_does_nothing(tmp_path, windows):
    config = train_config(steps=4)
    model = fresh_model()
    train(model, windows, None, config, tmp_path, progress=False)
    before = (tmp_path / METRICS_FILE).read_text()
    again = fresh_model(seed=5)
    result = train(again, windows, None, config, tmp_path, progress=False)
    assert result.resumed_from == 4
    assert_same_weights(again, model)
    assert (tmp_path / METRICS_FILE).read_text() == before


def test_a_crash_while_saving_the_trainer_state_still_resumes_exactly(
    tmp_path, windows, monkeypatch
):
    config = train_config(steps=12, checkpoint_every=4, log_every=1)
    straight = fresh_model()
    train(straight, windows, None, config, tmp_path / "straight", progress=False)

    real_save = torch.save
    calls = []

    def save_then_crash(obj, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:  # the trainer state of the step-8 checkpoint
            raise Interrupt("killed while writing the trainer state")
        return real_save(obj, path, *args, **kwargs)

    run = tmp_path / "crashed"
    monkeypatch.setattr(torch, "save", save_then_crash)
    with pytest.raises(Interrupt):
        train(fresh_model(), windows, None, config, run, progress=False)
    monkeypatch.setattr(torch, "save", real_save)

    resumed = fresh_model()
    train(resumed, windows, None, config, run, progress=False)
    assert_same_weights(resumed, straight)


def test_same_seed_same_weights_other_seed_other_weights(tmp_path, windows):
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        model = fresh_model(seed=0)  # same initial weights; only the training seed differs
        train(
            model, windows, None, train_config(steps=4, seed=seed), tmp_path / name, progress=False
        )
        runs[name] = model
    assert_same_weights(runs["a"], runs["b"])
    assert weights_differ(runs["a"], runs["c"])


def test_same_seed_same_validation_metrics(tmp_path, windows):
    logs = []
    for name in ("a", "b"):
        model = fresh_model(seed=0)
        torch.manual_seed(len(logs))  # the global RNG state is not part of the run's seed
        train(
            model,
            windows,
            windows,
            train_config(steps=2, checkpoint_every=2, valid_every=2),
            tmp_path / name,
            progress=False,
        )
        logs.append(read_metrics(tmp_path / name)[-1])
    assert logs[0]["valid_sigreg"] == logs[1]["valid_sigreg"]


def test_resuming_with_another_model_config_is_a_checkpoint_error(tmp_path, windows):
    train(fresh_model(), windows, None, train_config(steps=4), tmp_path, progress=False)
    before = (tmp_path / METRICS_FILE).read_text()
    with pytest.raises(CheckpointError, match="different model config"):
        train(
            fresh_model(embed_dim=8), windows, None, train_config(steps=8), tmp_path, progress=False
        )
    assert (tmp_path / METRICS_FILE).read_text() == before


# --- BatchNorm recalibration ---------------------------------------------------------------------


def test_recalibrate_batchnorm_repairs_corrupt_running_statistics(windows):
    model = fresh_model()
    norm = model.encoder.projector[1]
    assert isinstance(norm, torch.nn.BatchNorm1d)
    with torch.no_grad():
        norm.running_mean.fill_(-5.0)
        norm.running_var.fill_(1e-2)
    pixels = windows.sample(32, torch.Generator().manual_seed(0))["pixels"]

    def eval_vs_train_gap() -> float:
        with torch.no_grad():
            model.train()
            reference = model.encode(pixels)
            model.eval()
            gap = (model.encode(pixels) - reference).abs().mean() / reference.std()
        return float(gap)

    assert eval_vs_train_gap() > 10.0  # measured: ~65
    model.eval()
    recalibrate_batchnorm(model, windows, 32, torch.Generator().manual_seed(1))
    assert not model.training  # the mode is restored
    assert norm.momentum == 0.1
    assert eval_vs_train_gap() < 0.2  # measured: ~0.07


# --- config validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"steps": 0},
        {"steps": -5},
        {"batch_size": 0},
        {"lr": 0.0},
        {"log_every": 0},
        {"checkpoint_every": 0},
        {"weight_decay": -1e-3},
        {"warmup_steps": -1},
        {"grad_clip": -1.0},
        {"valid_every": -1},
        {"loader_workers": -1},
        {"colour_shift": -0.1},
        {"colour_shift": 1.5},
    ],
)
def test_train_config_rejects_bad_values(changes):
    (field,) = changes
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**changes)


@pytest.mark.parametrize("field", ["sigreg_weight", "rollout_weight"])
def test_objective_config_rejects_negative_weights(field):
    ObjectiveConfig(**{field: 0.0})
    with pytest.raises(ConfigError, match=field):
        ObjectiveConfig(**{field: -0.1})


def test_run_train_hue_shifts_the_training_windows_only_when_the_recipe_asks(tmp_path, monkeypatch):
    from dataclasses import replace

    from ami.recipes import TINY
    from ami.training.colour_shift import ColourShiftWindows
    from fakes import training_windows_seen

    shifted = replace(TINY, train=replace(TINY.train, colour_shift=0.3))
    seen = training_windows_seen(monkeypatch, (TINY, shifted), tmp_path)
    (plain, plain_valid), (wrapped, wrapped_valid) = seen
    assert plain == "train" and plain_valid == "valid"
    assert isinstance(wrapped, ColourShiftWindows) and wrapped.probability == 0.3
    assert wrapped.windows == "train" and wrapped_valid == "valid"  # validation stays unshifted


def test_training_runs_with_the_thread_count_the_load_leaves_and_restores_it(
    tmp_path, windows, monkeypatch
):
    import ami.training.trainer as trainer
    from ami.device import torch_threads

    asked = []
    monkeypatch.setattr(trainer, "training_threads", lambda processes: asked.append(processes) or 1)
    inside = []
    with torch_threads(2):
        result = train(
            fresh_model(),
            windows,
            None,
            train_config(steps=2),
            tmp_path,
            progress=False,
            callbacks=[lambda step, metrics: inside.append(torch.get_num_threads())],
        )
        assert torch.get_num_threads() == 2  # the caller's count, restored
    assert asked == [1] and inside == [1, 1] and result.threads == 1
