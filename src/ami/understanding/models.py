"""The model under study: found from a run or checkpoint folder, its random twin, frames encoded.

`ami probe` and `ami surprise` take `--model` as a checkpoint folder (`RUN/checkpoint`), a run
folder (`RUN`, holding `checkpoint/`) or a demo folder (`OUT`, holding `run/checkpoint/`). The
floor every probe is reported beside is the same architecture with random weights (`random_twin`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ami.checks import checkpoint_folder
from ami.errors import ConfigError
from ami.model import WorldModel
from ami.model.world_model import (  # noqa: F401  (encode_frames: re-exported)
    CONFIG_FILE,
    encode_frames,
    read_checkpoint_json,
)


def load_model(path: Path, world: str, device: torch.device) -> WorldModel:
    """Load the model at `path` (see `checkpoint_folder`) and check it was trained on `world`.

    Raises:
        CheckpointError: no or a broken checkpoint.
        ConfigError: the checkpoint says it was trained on another world.
    """
    folder = checkpoint_folder(path)
    trained_on = read_checkpoint_json(folder / CONFIG_FILE).get("metadata", {}).get("world")
    if trained_on is not None and trained_on != world:
        raise ConfigError(f"the model at {folder} was trained on {trained_on!r}, not {world!r}")
    return WorldModel.load(folder, device=device)


def random_twin(model: WorldModel, seed: int) -> WorldModel:
    """A model of the same config with freshly initialised (untrained) weights, in eval mode."""
    torch.manual_seed(seed)
    return WorldModel(model.config).to(model.device).eval()
