"""The Mode-1 actor: a goal-conditioned policy network that does at once what the planner would do.

`Actor` maps the current embedding `z [B, D]` and the goal's embedding `g [B, D]` to a chunk of
`chunk` planner-level actions `[B, chunk, A]` in [-1, 1] (planner-level: one held env action per
model step when the planner holds actions, the whole block of `k · A` otherwise). One forward pass
of a small MLP replaces a plan of hundreds of imagined rollouts. `imagine` rolls the actor out
through the world model in closed loop, which is how its outcome is judged before it acts and how
it is refined by gradients of the goal energy. Saved as plain data (safetensors + JSON).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor, nn

from ami.config import config_from_dict, config_to_dict, require_positive
from ami.errors import AmiError, CheckpointError, ShapeError
from ami.files import atomic_write_bytes
from ami.model.world_model import save_weights
from ami.planning.mpc import LatentModel

ACTOR_WEIGHTS, ACTOR_CONFIG = "actor.safetensors", "actor.json"


@dataclass(frozen=True)
class ActorConfig:
    """Shape of the actor network.

    Attributes:
        embed_dim: size `D` of the world model's embeddings.
        action_dim: planner-level action size `A`.
        chunk: planner-level actions predicted per call (the first is executed).
        hidden: width of the hidden layers.
        layers: number of hidden layers.
    """

    embed_dim: int
    action_dim: int
    chunk: int = 1
    hidden: int = 256
    layers: int = 2

    def __post_init__(self) -> None:
        for name in ("embed_dim", "action_dim", "chunk", "hidden", "layers"):
            require_positive("ActorConfig", name, getattr(self, name))


class Actor(nn.Module):
    """`(z [B, D], g [B, D])` → actions `[B, chunk, A]` in [-1, 1]."""

    def __init__(self, config: ActorConfig) -> None:
        super().__init__()
        self.config = config
        width, blocks = 3 * config.embed_dim, []
        for _ in range(config.layers):
            blocks += [nn.Linear(width, config.hidden), nn.LayerNorm(config.hidden), nn.GELU()]
            width = config.hidden
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(width, config.chunk * config.action_dim)

    def forward(self, z: Tensor, goal: Tensor) -> Tensor:
        """Actions `[B, chunk, A]` for embeddings `z [B, D]` towards goals `goal [B, D]`."""
        if z.shape != goal.shape or z.dim() != 2 or z.shape[1] != self.config.embed_dim:
            raise ShapeError(
                f"Actor expects z and goal [B, {self.config.embed_dim}], got {list(z.shape)} "
                f"and {list(goal.shape)}"
            )
        features = torch.cat([z, goal, goal - z], dim=1)
        out = torch.tanh(self.head(self.body(features)))
        return out.view(z.shape[0], self.config.chunk, self.config.action_dim)

    def save(self, directory: str | Path, metadata: dict[str, Any] | None = None) -> Path:
        """Write `actor.safetensors` and `actor.json` into `directory` atomically; return it."""
        directory = Path(directory)
        save_weights(self, directory / ACTOR_WEIGHTS)
        document = {"config": config_to_dict(self.config), "metadata": metadata or {}}
        atomic_write_bytes(directory / ACTOR_CONFIG, json.dumps(document, indent=2).encode())
        return directory

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu") -> tuple[Actor, dict]:
        """The actor saved in folder `path` and its metadata.

        Raises:
            CheckpointError: missing or corrupt files, or weights that do not fit the config.
        """
        directory = Path(path)
        if directory.is_file():
            directory = directory.parent
        config_path, weights_path = directory / ACTOR_CONFIG, directory / ACTOR_WEIGHTS
        for needed in (config_path, weights_path):
            if not needed.is_file():
                raise CheckpointError(f"actor file not found: {needed}")
        try:
            document = json.loads(config_path.read_text())
            config = config_from_dict(ActorConfig, document["config"])
            state = load_file(str(weights_path))
            actor = cls(config)
            actor.load_state_dict(state)
        except (AmiError, KeyError, ValueError, TypeError, RuntimeError, SafetensorError) as exc:
            raise CheckpointError(
                f"actor in {directory} is corrupt or does not fit: {exc}"
            ) from exc
        return actor.to(device).eval(), dict(document.get("metadata", {}))


def imagine(
    actor: Actor, model: LatentModel, z: Tensor, goal: Tensor, horizon: int
) -> tuple[Tensor, Tensor]:
    """Roll the actor out through `model` in closed loop for `horizon` model steps.

    Args:
        actor: the actor (its actions are planner-level, as `model` takes them).
        model: the planner's view of the world model (e.g. `HeldActions`), history 1 is used.
        z: start embeddings `[B, D]`.
        goal: goal embeddings `[B, D]`.
        horizon: model steps imagined.

    Returns:
        The imagined embeddings `[B, horizon, D]` and the actions taken `[B, horizon, A]`.
    """
    states, actions, current = [], [], z
    for _ in range(horizon):
        action = actor(current, goal)[:, :1]  # [B, 1, A]
        current = model.rollout(current[:, None], action)[:, 0]
        states.append(current)
        actions.append(action[:, 0])
    return torch.stack(states, dim=1), torch.stack(actions, dim=1)


def goal_miss(imagined: Tensor, goal: Tensor) -> Tensor:
    """The closest squared distance of `imagined [B, H, D]` to `goal [B, D]`: `[B]`.

    The same measure as the planner's `GoalEnergy(reduce="min")`, so the two compare directly.
    """
    return (imagined - goal[:, None]).pow(2).sum(dim=-1).min(dim=1).values
