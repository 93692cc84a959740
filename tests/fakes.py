"""Test doubles and fixtures shared by test files."""

from __future__ import annotations

import numpy as np
import torch


class LinearSystem:
    """The true world: state in [-1, 1]^2, s' = s + 0.1 a; pixels carry the state in two bytes."""

    def __init__(self, start) -> None:
        self.state = np.asarray(start, dtype=np.float64)

    def step(self, action: np.ndarray) -> None:
        self.state = np.clip(self.state + 0.1 * np.clip(action, -1, 1), -1, 1)

    def pixels(self) -> np.ndarray:
        image = np.zeros((4, 4, 3), dtype=np.uint8)
        image[0, 0, :2] = np.round((self.state + 1) / 2 * 255).astype(np.uint8)
        return image


class LinearModel:
    """A perfect latent model of `LinearSystem`: z = state (D=2), history 1."""

    action_dim = 2
    history = 1

    def __init__(self) -> None:
        self.rollout_batches: list[int] = []

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:  # [B, T, 3, h, w] -> [B, T, 2]
        return pixels[:, :, :2, 0, 0].float() / 255 * 2 - 1

    def rollout(self, z_history: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        self.rollout_batches.append(actions.shape[0])
        return z_history[:, -1:, :] + 0.1 * torch.cumsum(actions, dim=1)


def remember_maze_wandering(memory, version: str, episodes: int = 12, steps: int = 400) -> None:
    """Fill `memory` with Maze expert wandering whose 'embedding' is the true (x, y) state."""
    from ami.experience import CollectConfig, collect

    session = memory.begin_session(version)
    config = CollectConfig(
        world="maze", episodes=episodes, steps_per_episode=steps, policy="expert"
    )
    for episode in collect(config, progress=False):
        episode_id = memory.begin_episode(session, "maze")
        n = len(episode.actions)
        memory.remember(episode_id, np.arange(n), episode.actions, episode.states[:n], version)


def training_windows_seen(monkeypatch, recipes, run_dir) -> list[tuple[object, object]]:
    """The (training, validation) windows `run_train` hands to `train` for each of `recipes`.

    The data set is a stand-in whose split is ("train", "valid"), so a wrapper around the
    training windows (augmentation, colour shift) shows as an object wrapping "train".
    """
    import ami.pipeline as pipeline

    class Windows:
        def split(self, fraction, seed):
            return "train", "valid"

    seen: list[tuple[object, object]] = []

    def fake_train(model, train_windows, valid_windows, config, run_dir, **kwargs):
        seen.append((train_windows, valid_windows))

    monkeypatch.setattr(pipeline, "training_windows", lambda *args, **kwargs: Windows())
    monkeypatch.setattr(pipeline, "train", fake_train)
    monkeypatch.setattr(pipeline, "plot_training_curves", lambda *args: None)
    monkeypatch.setattr(pipeline, "read_metrics", lambda *args: [])
    for recipe in recipes:
        pipeline.run_train(recipe, run_dir / "data.h5", run_dir / "run", torch.device("cpu"))
    return seen
