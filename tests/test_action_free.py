"""Learning from video without actions: the action-free objective, video import, two stages."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from ami.cli.commands import main
from ami.errors import ConfigError
from ami.experience import ExperienceDataset
from ami.experience.sources import ImportOptions, import_dataset
from ami.experience.sources.video import VideoReader
from ami.model import WorldModel
from ami.pipeline import make_agent, run_collect
from ami.recipes import TINY, load_recipe
from ami.training import TrainConfig
from ami.training.stages import load_encoder, trainable_parameters
from ami.training.step import TrainStep

SIDE = TINY.model.encoder.image_size


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """`ami ARGS` in this process; its exit status."""
    monkeypatch.setattr(sys, "argv", ["ami", *args])
    try:
        main()
    except SystemExit as done:
        return int(done.code or 0)
    return 0


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few TwoRoom episodes at the tiny recipe's size."""
    config = replace(TINY.collect, episodes=6, steps_per_episode=20)
    return run_collect(config, tmp_path_factory.mktemp("data") / "two_room.h5", progress=False)


def write_video(path: Path, frames: np.ndarray) -> Path:
    """Frames uint8 `[n, h, w, 3]` as an H.264 mp4."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def moving_bar_videos(folder: Path, count: int = 2, frames: int = 12) -> Path:
    """`count` videos of a bright bar moving right on a 48x64 (non-square) frame."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        pixels = np.zeros((frames, 48, 64, 3), np.uint8)
        for t in range(frames):
            pixels[t, :, 8 + 4 * t : 14 + 4 * t] = (200, 80 + 40 * index, 30)
        write_video(folder / f"clip_{index}.mp4", pixels)
    return folder


def step_loss(config: TrainConfig, pixels: torch.Tensor, actions: torch.Tensor) -> float:
    """The loss of one training step of the same model (action path made non-zero) on a batch."""
    torch.manual_seed(0)
    model = WorldModel(TINY.model)
    torch.nn.init.normal_(model.predictor.modulation.weight, std=0.5)  # actions now matter
    optimizer = torch.optim.AdamW(trainable_parameters(model, config), lr=config.lr)
    step = TrainStep(model, optimizer, torch.Generator().manual_seed(1), config)
    return step(pixels, actions, lr=1e-3)["loss"]


def test_the_action_free_loss_does_not_depend_on_the_actions():
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (8, 3, 3, SIDE, SIDE), dtype=torch.uint8, generator=generator)
    actions = torch.rand(8, 2, TINY.model.predictor.action_dim, generator=generator) * 2 - 1
    other = -actions
    given = replace(TINY.train, batch_size=8)
    none = replace(given, actions="none")
    assert step_loss(none, pixels, actions) == step_loss(none, pixels, other)
    assert step_loss(given, pixels, actions) != step_loss(given, pixels, other)


def test_train_config_rejects_an_unknown_actions_setting():
    with pytest.raises(ConfigError, match="TrainConfig.actions"):
        TrainConfig(actions="zeros")
    with pytest.raises(ConfigError, match="TrainConfig.freeze_encoder"):
        TrainConfig(freeze_encoder="yes")  # type: ignore[arg-type]


def test_a_video_folder_imports_as_action_free_episodes(tmp_path: Path):
    folder = moving_bar_videos(tmp_path / "videos")
    options = ImportOptions(image_size=SIDE, action_dim=3)
    episodes = list(VideoReader(folder, options).episodes())
    assert [e.pixels.shape for e in episodes] == [(12, SIDE, SIDE, 3)] * 2
    assert all(e.actions.shape == (11, 3) and not e.actions.any() for e in episodes)
    bar = episodes[0].pixels[:, SIDE // 2, :, 0].astype(int)  # the bar's red column moves right
    assert np.argmax(bar[-1]) > np.argmax(bar[0])
    out = import_dataset(folder, tmp_path / "video.h5", options)
    with ExperienceDataset.open(out) as imported:
        assert imported.world == "data:video" and imported.meta["actions"] == "none"
        assert imported.num_episodes == 2 and imported.action_dim == 3


def test_ami_import_sizes_a_videos_zero_actions(tmp_path: Path, monkeypatch):
    folder = moving_bar_videos(tmp_path / "videos", count=1)
    out = tmp_path / "video.h5"
    assert (
        run_cli(monkeypatch, "import", str(folder), str(out), "--action-dim", "2", "--quiet") == 0
    )
    with ExperienceDataset.open(out) as imported:
        assert imported.action_dim == 2 and imported.meta["actions"] == "none"


def test_video_trains_only_without_actions(tmp_path: Path, monkeypatch, capsys):
    folder = moving_bar_videos(tmp_path / "videos")
    common = ("--data", str(folder), "--preset", "tiny", "--steps", "2", "--quiet")
    assert run_cli(monkeypatch, "train", *common, "--out", str(tmp_path / "given")) == 2
    assert "--actions none" in capsys.readouterr().err
    assert not (tmp_path / "given").exists()  # refused before the import
    out = tmp_path / "none"
    assert run_cli(monkeypatch, "train", *common, "--out", str(out), "--actions", "none") == 0
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["train"]["actions"] == "none" and recipe["collect"]["world"] == "data:video"
    with ExperienceDataset.open(out / "imported.h5") as imported:
        assert imported.action_dim == TINY.model.env_action_dim


def test_pre_training_then_a_frozen_encoder_learns_only_the_predictor(
    tmp_path: Path, dataset: Path, monkeypatch
):
    common = ("--data", str(dataset), "--preset", "tiny", "--quiet")
    pre = tmp_path / "pre"
    args = ("--out", str(pre), "--actions", "none", "--steps", "4")
    assert run_cli(monkeypatch, "train", *common, *args) == 0
    assert json.loads((pre / "recipe.json").read_text())["train"]["actions"] == "none"
    pretrained = WorldModel.load(pre / "checkpoint")
    torch.manual_seed(TINY.train.seed)
    initial = WorldModel(TINY.model)
    for name, value in initial.predictor.state_dict().items():  # the action path is untouched
        trained = pretrained.predictor.state_dict()[name]
        assert torch.equal(value, trained) == name.startswith(("action_embed", "modulation"))

    stage2 = tmp_path / "stage2"  # other steps: BatchNorm recalibration would see other batches
    args = ("--out", str(stage2), "--encoder-from", str(pre), "--freeze-encoder", "--steps", "6")
    assert run_cli(monkeypatch, "train", *common, *args) == 0
    model = WorldModel.load(stage2 / "checkpoint")
    for name, value in pretrained.encoder.state_dict().items():  # BatchNorm statistics included
        assert torch.equal(model.encoder.state_dict()[name], value), name
    assert not torch.equal(model.predictor.input.weight, initial.predictor.input.weight)
    assert not torch.equal(model.predictor.modulation.weight, initial.predictor.modulation.weight)
    metadata = json.loads((stage2 / "checkpoint" / "model.json").read_text())["metadata"]
    assert metadata["encoder_from"]["version"] == pretrained.version()
    # the pre-trained model alone cannot plan: one line, pointing at stage 2
    free = load_recipe(pre / "recipe.json")
    with pytest.raises(ConfigError, match="--encoder-from"):
        make_agent(pretrained, free)
    make_agent(model, load_recipe(stage2 / "recipe.json"))


def test_freezing_needs_an_encoder_to_start_from(
    tmp_path: Path, dataset: Path, monkeypatch, capsys
):
    args = ("train", "--data", str(dataset), "--out", str(tmp_path / "run"), "--freeze-encoder")
    assert run_cli(monkeypatch, *args) == 2
    assert "--encoder-from" in capsys.readouterr().err


def test_an_encoder_of_another_config_is_refused_naming_the_field(tmp_path: Path):
    model = WorldModel(TINY.model)
    model.save(tmp_path / "source")
    wider = replace(TINY.model, encoder=replace(TINY.model.encoder, hidden=32))
    with pytest.raises(ConfigError, match=r"encoder\.hidden = 64, the recipe's is 32") as error:
        load_encoder(WorldModel(wider), tmp_path / "source")
    assert "\n" not in str(error.value)
