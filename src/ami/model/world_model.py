"""`WorldModel`: encoder + action-conditioned predictor, with imagined rollouts and checkpoints.

Checkpoints are plain data: `model.safetensors` (weights) and `model.json` (format version, the
config as a dict, ami version, and free-form metadata such as world, dataset and seed). Nothing is
pickled; `WorldModel.load` rebuilds the model from the JSON config and refuses weights that do not
fit it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

import ami
from ami.config import config_from_dict, config_to_dict, require_fits_memory, require_positive
from ami.errors import AmiError, CheckpointError, ConfigError, ShapeError
from ami.files import atomic_path, atomic_write_bytes
from ami.model.encoder import ConvEncoder, EncoderConfig
from ami.model.predictor import MLPPredictor, PredictorConfig

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model.json"


@dataclass(frozen=True)
class WorldModelConfig:
    """Encoder, predictor and the action block size.

    Attributes:
        encoder: the CNN encoder.
        predictor: the predictor; its `action_dim` is `frameskip · env_action_dim`.
        frameskip: env steps per model step (k); one model action is k env actions concatenated.
    """

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    frameskip: int = 1

    def __post_init__(self) -> None:
        require_positive("WorldModelConfig", "frameskip", self.frameskip)
        if self.predictor.embed_dim != self.encoder.embed_dim:
            raise ConfigError(
                f"predictor.embed_dim ({self.predictor.embed_dim}) must equal encoder.embed_dim "
                f"({self.encoder.embed_dim})"
            )
        if self.predictor.action_dim % self.frameskip != 0:
            raise ConfigError(
                f"predictor.action_dim ({self.predictor.action_dim}) must be a multiple of "
                f"frameskip ({self.frameskip})"
            )
        encoder, predictor = self.encoder, self.predictor
        require_fits_memory(  # weights, gradients and two Adam moments, float32
            f"WorldModelConfig with encoder.image_size={encoder.image_size}, "
            f"encoder.channels={list(encoder.channels)}, encoder.hidden={encoder.hidden}, "
            f"predictor.hidden={predictor.hidden}, predictor.depth={predictor.depth} "
            f"(~{self.parameter_count:.3g} parameters) to train",
            16 * self.parameter_count,
        )

    @property
    def parameter_count(self) -> int:
        """Parameters of the model built from this config, counted without building it."""
        return self.encoder.parameter_count + self.predictor.parameter_count

    @property
    def env_action_dim(self) -> int:
        """Size of one env action."""
        return self.predictor.action_dim // self.frameskip


class WorldModel(nn.Module):
    """A JEPA world model: `encode` pixels, `predict` next embeddings, `rollout` plans."""

    def __init__(self, config: WorldModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = ConvEncoder(config.encoder)
        self.predictor = MLPPredictor(config.predictor)

    @property
    def action_dim(self) -> int:
        """Model-level action size (k · env action size)."""
        return self.config.predictor.action_dim

    @property
    def history(self) -> int:
        """Past embeddings a prediction reads."""
        return self.config.predictor.history

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return next(self.parameters()).device

    def encode(self, pixels: Tensor) -> Tensor:
        """`pixels uint8 [B, T, 3, h, w]` → `z [B, T, D]`."""
        return self.encoder(pixels)

    def predict(self, z: Tensor, a: Tensor | None) -> Tensor:
        """`z [B, T, D]`, `a [B, T, A]` → `z_next [B, T, D]`, causal in T.

        `a = None` predicts without actions (the predictor's action path skipped).
        """
        if z.dim() != 3 or (a is not None and (a.dim() != 3 or z.shape[:2] != a.shape[:2])):
            raise ShapeError(
                f"predict expects z [B, T, D] and a [B, T, A] with equal B, T; "
                f"got {tuple(z.shape)} and {None if a is None else tuple(a.shape)}"
            )
        if a is not None and a.shape[-1] != self.action_dim:
            raise ShapeError(f"model actions have size {self.action_dim}, got {a.shape[-1]}")
        return self.predictor(z, a)

    def rollout(
        self, z_history: Tensor, actions: Tensor | None, horizon: int | None = None
    ) -> Tensor:
        """Imagine the embeddings that `actions` lead to, one batched predictor call per step.

        Args:
            z_history: `[N, t, D]` embeddings observed so far (the last `history` are used).
            actions: `[N, H, A]` candidate action sequences, or None: imagine `horizon` steps
                without actions (action-free pre-training).
            horizon: H where `actions` is None (otherwise `actions.shape[1]`).

        Returns:
            `z_future [N, H, D]`: the imagined embedding after each action.
        """
        if actions is not None:
            if z_history.dim() != 3 or actions.dim() != 3 or z_history.shape[0] != len(actions):
                raise ShapeError(
                    f"rollout expects z_history [N, t, D] and actions [N, H, A]; "
                    f"got {tuple(z_history.shape)} and {tuple(actions.shape)}"
                )
            horizon = actions.shape[1]
        elif z_history.dim() != 3 or horizon is None or horizon < 1:
            raise ShapeError(
                f"an action-free rollout expects z_history [N, t, D] and a positive horizon; "
                f"got {tuple(z_history.shape)} and {horizon!r}"
            )
        window = z_history[:, -self.history :]
        if window.shape[1] < self.history:
            pad = window[:, :1].expand(-1, self.history - window.shape[1], -1)
            window = torch.cat([pad, window], dim=1)
        return self.predictor.rollout(window, actions, horizon)

    def version(self) -> str:
        """A short digest of the weights (12 hex digits): what memory tags embeddings with.

        Two models with the same weights have the same version; any change of weight changes it.
        """
        digest = hashlib.sha256()
        for name, tensor in sorted(self.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
        return digest.hexdigest()[:12]

    def save(self, directory: str | Path, metadata: dict[str, Any] | None = None) -> Path:
        """Write `model.safetensors` and `model.json` into `directory` atomically; return it."""
        directory = Path(directory)
        save_weights(self, directory / WEIGHTS_FILE)
        document = {
            "format_version": FORMAT_VERSION,
            "ami_version": ami.__version__,
            "config": config_to_dict(self.config),
            "metadata": metadata or {},
        }
        atomic_write_bytes(directory / CONFIG_FILE, json.dumps(document, indent=2).encode())
        return directory

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu") -> WorldModel:
        """Rebuild a model from a checkpoint folder (or either of its two files).

        Raises:
            CheckpointError: missing or corrupt files, a newer format, or weights that do not
                match the config.
        """
        directory = Path(path)
        if directory.is_file():
            directory = directory.parent
        config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
        for needed in (config_path, weights_path):
            if not needed.is_file():
                raise CheckpointError(f"checkpoint file not found: {needed}")
        document = read_checkpoint_json(config_path)
        try:
            config = config_from_dict(WorldModelConfig, document["config"])
        except AmiError as exc:
            raise CheckpointError(f"checkpoint config in {config_path} is invalid: {exc}") from exc
        try:
            state = load_file(str(weights_path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"checkpoint weights {weights_path} are corrupt: {exc}") from exc
        model = cls(config)
        _load_matching(model, state, weights_path)
        return model.to(device).eval()


def encode_frames(model: WorldModel, pixels: np.ndarray, batch: int = 512) -> np.ndarray:
    """Embeddings `float32 [N, D]` of frames `uint8 [N, h, w, 3]`, in batches, without gradients.

    Puts the model in eval mode (BatchNorm uses its running statistics).
    """
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(pixels), batch):
            chunk = torch.from_numpy(np.ascontiguousarray(pixels[start : start + batch]))
            frames = chunk.permute(0, 3, 1, 2)[:, None].to(model.device)  # [n, 1, 3, h, w]
            out.append(model.encode(frames)[:, 0].float().cpu().numpy())
    if not out:
        return np.zeros((0, model.config.encoder.embed_dim), np.float32)
    return np.concatenate(out)


def save_weights(module: nn.Module, path: Path) -> Path:
    """Write `module`'s state dict as safetensors at `path` atomically (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))
    return path


def read_checkpoint_json(config_path: Path) -> dict[str, Any]:
    """The parsed `model.json`, checked for format version and a `config` entry."""
    try:
        document = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"checkpoint config {config_path} is not valid JSON") from exc
    if not isinstance(document, dict) or "config" not in document:
        raise CheckpointError(f"checkpoint config {config_path} has no 'config' entry")
    version = document.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {config_path} has format version {version!r}; this ami reads up to "
            f"{FORMAT_VERSION} (upgrade ami)"
        )
    return document


def _load_matching(model: nn.Module, state: dict[str, Tensor], source: Path) -> None:
    """Load `state` into `model`, raising `CheckpointError` on any missing, extra or resized key."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    resized = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or resized:
        detail = (
            f"missing {missing[:3]}"
            if missing
            else f"unexpected {unexpected[:3]}"
            if unexpected
            else f"{resized[0]} is {tuple(state[resized[0]].shape)}, config wants "
            f"{tuple(expected[resized[0]].shape)}"
        )
        raise CheckpointError(f"checkpoint {source} does not match its config: {detail}")
    model.load_state_dict(state)
