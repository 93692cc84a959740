"""Abuse cases of training, checkpoints and saved models (issue 23): nothing lost, no NaN learnt.

Each test is one hostile-user case: NaN data or a diverging learning rate, an `--out` folder or
checkpoint folder holding the user's files, a well-formed but wrong trainer state or metrics log,
file modes, a resume toward another total, and non-finite or negative settings.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ami.config import config_to_dict
from ami.errors import CheckpointError, ConfigError, TrainingDivergedError
from ami.experience import WindowDataset
from ami.model import SIGRegConfig, WorldModel
from ami.recipes import TINY, save_recipe
from ami.training import ObjectiveConfig, TrainConfig, train
from ami.training import trainer as trainer_module
from ami.training.checkpoint import check_run_folder
from ami.training.schedule import warmup_cosine
from ami.training.trainer import CHECKPOINT_DIR, METRICS_FILE, TRAINER_STATE
from cli_run import ami, assert_one_line_error

pytestmark = pytest.mark.reliability("checkpoints")


def tiny_windows(seed: int = 0) -> WindowDataset:
    """Random frames and actions shaped for the TINY recipe (32 px, 2-d env actions, k = 2)."""
    rng = np.random.default_rng(seed)
    episodes, frames = 6, 12
    total = episodes * frames
    pixels = rng.integers(0, 256, (total, 32, 32, 3), dtype=np.uint8)
    actions = rng.uniform(-1, 1, (total, 2)).astype(np.float32)
    states = np.zeros((total, 2), np.float32)
    starts = np.arange(episodes) * frames
    lengths = np.full(episodes, frames)
    return WindowDataset(pixels, actions, states, starts, lengths, TINY.window)


class NaNActionsWhenPoisoned:
    """A dataset's windows whose actions hold a NaN in every batch drawn once `poisoned` is set."""

    def __init__(self, windows: WindowDataset) -> None:
        self.windows, self.poisoned = windows, False

    def sample(self, batch_size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        batch = self.windows.sample(batch_size, generator)
        if self.poisoned:
            batch["actions"] = batch["actions"].clone()
            batch["actions"][0, 0, 0] = float("nan")
        return batch


def tiny_config(**changes) -> TrainConfig:
    settings = dict(
        steps=6, batch_size=8, warmup_steps=2, log_every=1, valid_every=0, checkpoint_every=2
    )
    return replace(TINY.train, **{**settings, **changes})


def tiny_model() -> WorldModel:
    torch.manual_seed(0)
    return WorldModel(TINY.model)


def run(run_dir: Path, windows=None, **changes) -> None:
    train(
        tiny_model(),
        windows or tiny_windows(),
        None,
        tiny_config(**changes),
        run_dir,
        progress=False,
    )


def assert_all_finite(checkpoint: Path) -> None:
    weights = load_file(str(checkpoint / "model.safetensors"))
    assert all(bool(torch.isfinite(t).all()) for t in weights.values() if t.is_floating_point())


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / METRICS_FILE).read_text().splitlines()]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# 1. NaN is trained on silently.


def test_nan_actions_stop_training_at_that_step_keeping_the_last_finite_checkpoint(tmp_path):
    windows = NaNActionsWhenPoisoned(tiny_windows())

    def poison_after_three(step: int, metrics: dict) -> None:
        windows.poisoned = step == 3  # the batch of step 4 holds a NaN action

    with pytest.raises(TrainingDivergedError) as caught:
        train(
            tiny_model(),
            windows,
            None,
            tiny_config(),
            tmp_path,
            progress=False,
            callbacks=[poison_after_three],
        )
    message = str(caught.value)
    assert "step 4 of 6" in message and "loss" in message and "\n" not in message
    model_json = json.loads((tmp_path / CHECKPOINT_DIR / "model.json").read_text())
    assert model_json["metadata"]["step"] == 2  # step 4 (a checkpoint step) was never saved
    assert_all_finite(tmp_path / CHECKPOINT_DIR)
    assert [record["step"] for record in metrics(tmp_path)] == [1, 2, 3]


def test_a_diverging_learning_rate_never_saves_non_finite_weights(tmp_path, monkeypatch):
    def infinite_after_two(step: int, total: int, warmup: int) -> float:
        return warmup_cosine(step, total, warmup) if step < 2 else math.inf

    monkeypatch.setattr(trainer_module, "warmup_cosine", infinite_after_two)
    with pytest.raises(TrainingDivergedError, match=r"step 3 of 6: the weights .* not finite"):
        run(tmp_path, checkpoint_every=1)
    model_json = json.loads((tmp_path / CHECKPOINT_DIR / "model.json").read_text())
    assert model_json["metadata"]["step"] == 2
    assert_all_finite(tmp_path / CHECKPOINT_DIR)


def test_a_diverging_learning_rate_stops_at_the_first_non_finite_loss(tmp_path, monkeypatch):
    monkeypatch.setattr(trainer_module, "warmup_cosine", lambda step, total, warmup: 1e30)
    with pytest.raises(TrainingDivergedError, match=r"at step \d of 6: .*loss.* not finite"):
        run(tmp_path, checkpoint_every=6)
    assert not (tmp_path / CHECKPOINT_DIR).exists()


# 2. `--out DIR` deletes the user's files.


def test_train_refuses_an_out_folder_that_is_not_an_ami_run_folder(tmp_path):
    out = tmp_path / "documents"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    result = ami(
        "train", "--data", str(tmp_path / "none.h5"), "--out", str(out), "--preset", "tiny"
    )
    assert_one_line_error(result, str(out), "not an ami run folder")
    assert snapshot(out) == {"thesis.tex": b"years of work"}


def test_a_run_folder_whose_recipe_is_being_written_is_amis(tmp_path):
    """Another rank's half-written recipe (`.recipe.json.tmp-PID`) is ami's, a user's file not."""
    (tmp_path / ".recipe.json.tmp-4242").write_text("{")
    check_run_folder(tmp_path)
    (tmp_path / ".recipe.json.tmp-4242").unlink()
    (tmp_path / ".recipe.json.tmp-mine").write_text("{")
    with pytest.raises(ConfigError, match="not an ami run folder"):
        check_run_folder(tmp_path)


def test_a_checkpoint_folder_with_the_users_files_is_refused_untouched(tmp_path):
    (tmp_path / CHECKPOINT_DIR).mkdir()
    (tmp_path / CHECKPOINT_DIR / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="notes.txt"):
        run(tmp_path)
    assert snapshot(tmp_path) == {f"{CHECKPOINT_DIR}/notes.txt": b"mine"}


def test_a_file_dropped_into_the_checkpoint_mid_run_is_never_deleted(tmp_path):
    def drop_a_file(step: int, metrics: dict) -> None:
        if step == 3:
            (tmp_path / CHECKPOINT_DIR / "notes.txt").write_text("mine")

    with pytest.raises(CheckpointError, match="notes.txt"):
        train(
            tiny_model(),
            tiny_windows(),
            None,
            tiny_config(),
            tmp_path,
            progress=False,
            callbacks=[drop_a_file],
        )
    assert (tmp_path / CHECKPOINT_DIR / "notes.txt").read_text() == "mine"
    assert (tmp_path / CHECKPOINT_DIR / TRAINER_STATE).exists()  # the step-2 checkpoint is kept


def test_a_metrics_log_ami_did_not_write_is_refused_not_rewritten(tmp_path):
    foreign = "time,loss\n0,1.5\n"
    (tmp_path / METRICS_FILE).write_text(foreign)
    with pytest.raises(CheckpointError, match=f"{METRICS_FILE} line 1"):
        run(tmp_path)
    assert (tmp_path / METRICS_FILE).read_text() == foreign
    assert not (tmp_path / CHECKPOINT_DIR).exists()


# 3. Well-formed files with the wrong content.


def test_a_trainer_state_of_the_wrong_content_is_a_checkpoint_error(tmp_path):
    run(tmp_path, steps=2)
    torch.save({"x": 1}, tmp_path / CHECKPOINT_DIR / TRAINER_STATE)
    with pytest.raises(CheckpointError, match=TRAINER_STATE) as caught:
        run(tmp_path)
    assert "\n" not in str(caught.value)


def test_a_trainer_state_for_another_optimiser_shape_is_a_checkpoint_error(tmp_path):
    run(tmp_path / "a", steps=2)
    wider = replace(
        TINY.model,
        encoder=replace(TINY.model.encoder, embed_dim=8),
        predictor=replace(TINY.model.predictor, embed_dim=8),
    )
    torch.manual_seed(0)
    train(
        WorldModel(wider),
        tiny_windows(),
        None,
        tiny_config(steps=2),
        tmp_path / "b",
        progress=False,
    )
    shutil.copy(tmp_path / "b" / CHECKPOINT_DIR / TRAINER_STATE, tmp_path / "a" / CHECKPOINT_DIR)
    before = tiny_model()
    with pytest.raises(CheckpointError, match="does not fit this model's optimiser"):
        train(before, tiny_windows(), None, tiny_config(), tmp_path / "a", progress=False)
    assert all(  # nothing was loaded into the model
        torch.equal(a, b)
        for a, b in zip(
            before.state_dict().values(), tiny_model().state_dict().values(), strict=True
        )
    )


@pytest.mark.parametrize("lines", ["[1, 2]\n", '{"step": "a"}\n', '{"loss": 1}\n{"step": 1}\n'])
def test_a_metrics_log_of_the_wrong_shape_is_a_checkpoint_error(tmp_path, lines):
    run(tmp_path, steps=2)
    (tmp_path / METRICS_FILE).write_text(lines)
    with pytest.raises(CheckpointError, match=METRICS_FILE):
        run(tmp_path)
    assert (tmp_path / METRICS_FILE).read_text() == lines


# 4. Written files have the usual mode.


def test_written_model_and_recipe_files_get_the_usual_mode(tmp_path):
    previous = os.umask(0o022)
    try:
        run(tmp_path, steps=2)
        save_recipe(TINY, tmp_path / "recipe.json")
    finally:
        os.umask(previous)
    for path in ("checkpoint/model.safetensors", "checkpoint/model.json", "recipe.json"):
        assert (tmp_path / path).stat().st_mode & 0o777 == 0o644, path


# 5. A resume toward another total.


def test_a_run_resumed_toward_a_longer_total_says_so_and_records_it(tmp_path, capsys):
    run(tmp_path, steps=4)
    capsys.readouterr()
    run(tmp_path, steps=8)
    note = capsys.readouterr().err
    assert "trained toward 4" in note and "8-step schedule" in note
    metadata = json.loads((tmp_path / CHECKPOINT_DIR / "model.json").read_text())["metadata"]
    assert metadata["schedule"] == [[0, 4], [4, 8]]
    step_five = metrics(tmp_path)[4]
    assert step_five["lr"] == pytest.approx(TINY.train.lr * warmup_cosine(4, 8, 2))


def test_a_run_resumed_past_its_total_is_refused(tmp_path):
    run(tmp_path, steps=4)
    with pytest.raises(ConfigError, match="at step 4, past TrainConfig.steps 2"):
        run(tmp_path, steps=2)


# 6. `--seed -1` names the train option.


def test_train_with_a_negative_seed_names_the_train_config_seed(tmp_path):
    result = ami(
        "train", "--data", str(tmp_path / "x.h5"), "--out", str(tmp_path / "r"), "--seed", "-1"
    )
    assert_one_line_error(result, "TrainConfig.seed", "-1")


# 7. Non-finite settings.


@pytest.mark.parametrize(
    "build",
    [
        lambda: TrainConfig(lr=math.inf),
        lambda: TrainConfig(weight_decay=math.inf),
        lambda: TrainConfig(grad_clip=math.inf),
        lambda: ObjectiveConfig(sigreg_weight=math.inf),
        lambda: ObjectiveConfig(rollout_weight=math.inf),
        lambda: SIGRegConfig(t_max=math.inf),
    ],
    ids=["lr", "weight_decay", "grad_clip", "sigreg_weight", "rollout", "t_max"],
)
def test_non_finite_training_settings_are_refused(build):
    with pytest.raises(ConfigError, match="finite"):
        build()


def test_a_recipe_with_an_infinite_lr_is_one_line(tmp_path):
    recipe = json.loads(json.dumps(config_to_dict(TINY)))
    recipe["train"]["lr"] = math.inf  # written by json as Infinity
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(recipe))
    result = ami(
        "train",
        "--data",
        str(tmp_path / "x.h5"),
        "--out",
        str(tmp_path / "r"),
        "--recipe-file",
        str(path),
    )
    assert_one_line_error(result, "TrainConfig.lr", "finite")
    assert not (tmp_path / "r").exists()
