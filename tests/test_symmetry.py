"""Symmetries of the square arena and training on symmetric windows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from ami.errors import ConfigError
from ami.training import TrainConfig
from ami.training.symmetry import SymmetricWindows
from ami.worlds import make
from ami.worlds.push_t import ARENA
from ami.worlds.symmetry import IDENTITY, SQUARE_SYMMETRIES, SquareSymmetry


def test_the_eight_symmetries_are_distinct_and_orthogonal():
    matrices = {tuple(s.matrix.ravel()) for s in SQUARE_SYMMETRIES}
    assert len(matrices) == 8
    for s in SQUARE_SYMMETRIES:
        assert np.allclose(s.matrix @ s.matrix.T, np.eye(2))
        assert s.is_reflection == (np.linalg.det(s.matrix) < 0)
    assert SQUARE_SYMMETRIES[0] == IDENTITY


@pytest.mark.parametrize("symmetry", SQUARE_SYMMETRIES)
def test_a_pixel_lands_where_the_matrix_sends_its_centre(symmetry: SquareSymmetry):
    side = 6
    for row, col in ((0, 1), (2, 5), (4, 3)):
        frame = torch.zeros(side, side)
        frame[row, col] = 1.0
        moved = symmetry.apply_to_pixels(frame)
        expected = symmetry.apply_to_points(np.array([col + 0.5, row + 0.5]), side / 2)
        new_row, new_col = (int(i) for i in torch.nonzero(moved)[0])
        assert (new_col + 0.5, new_row + 0.5) == tuple(expected)


def _rollout(env, state: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    obs, _ = env.reset(options={"state": state})
    frames, states = [obs["pixels"]], [obs["state"]]
    for action in actions:
        obs, *_ = env.step(action.astype(np.float32))
        frames.append(obs["pixels"])
        states.append(obs["state"])
    return np.stack(frames), np.stack(states)


def _angle_gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs((a - b + np.pi) % (2 * np.pi) - np.pi)


@pytest.mark.parametrize("symmetry", SQUARE_SYMMETRIES[1:])
def test_push_t_is_symmetric_under_quarter_turns_and_mirrors(symmetry: SquareSymmetry):
    """The moved scene, played with the moved actions, is the moved film: frames bit for bit."""
    env = make("push_t", size=64)
    world = env.unwrapped
    start = np.array([150.0, 300.0, 260.0, 250.0, 0.7])
    actions = np.random.default_rng(0).uniform(-1, 1, (12, 2))
    actions[:6] = (0.8, -0.3)  # into the block: it moves and turns
    frames, states = _rollout(env, start, actions)
    assert np.hypot(*(states[-1, 2:4] - start[2:4])) > 20 and abs(states[-1, 4] - 0.7) > 0.2

    moved_frames, moved_states = _rollout(
        env,
        world.symmetric_states(symmetry, start),
        actions @ world.symmetric_actions(symmetry).T,
    )
    expected = symmetry.apply_to_pixels(torch.from_numpy(frames).permute(0, 3, 1, 2))
    assert np.array_equal(moved_frames, expected.permute(0, 2, 3, 1).numpy())
    predicted = world.symmetric_states(symmetry, states)
    assert np.allclose(moved_states[:, :4], predicted[:, :4], atol=1e-3)
    assert _angle_gap(moved_states[:, 4], predicted[:, 4]).max() < 1e-4


def test_a_mirrored_block_keeps_its_vertices():
    from ami.worlds.push_t import block_vertices

    world = make("push_t").unwrapped
    state = np.array([100.0, 200.0, 300.0, 220.0, 1.1])
    for symmetry in SQUARE_SYMMETRIES:
        moved = world.symmetric_states(symmetry, state)
        expected = symmetry.apply_to_points(block_vertices(state[2:]), ARENA / 2)
        got = block_vertices(moved[2:])
        # the same set of corners (a mirror image lists them in another order)
        gaps = np.linalg.norm(expected[:, None] - got[None], axis=-1).min(axis=1)
        assert gaps.max() < 1e-9


class _FixedWindows:
    """A sampler returning the same batch of distinct windows every time."""

    def __init__(self, batch: int = 64, length: int = 3, k: int = 5) -> None:
        gen = torch.Generator().manual_seed(0)
        states = torch.rand(batch, length, 5, generator=gen) * 400 + 50
        states[..., 4] = torch.rand(batch, length, generator=gen) * 6 - 3  # block angles
        pixels = torch.randint(0, 256, (batch, length, 3, 8, 8), generator=gen)
        self.batch = {
            "pixels": pixels.to(torch.uint8),
            "actions": torch.rand(batch, length - 1, k * 2, generator=gen) * 2 - 1,
            "states": states,
        }

    def sample(self, batch_size, generator):
        return {key: value[:batch_size] for key, value in self.batch.items()}


def test_every_window_is_moved_whole_by_one_symmetry():
    source = _FixedWindows()
    world = make("push_t").unwrapped
    windows = SymmetricWindows(source, world)
    batch = windows.sample(64, torch.Generator().manual_seed(1))
    used = set()
    for b in range(64):
        (symmetry,) = [
            s
            for s in SQUARE_SYMMETRIES
            if torch.equal(s.apply_to_pixels(source.batch["pixels"][b]), batch["pixels"][b])
        ]
        used.add(symmetry)
        blocks = source.batch["actions"][b].reshape(2, 5, 2).numpy()
        expected = (blocks @ world.symmetric_actions(symmetry).T).reshape(2, 10)
        assert np.allclose(batch["actions"][b].numpy(), expected, atol=1e-6)
        states = world.symmetric_states(symmetry, source.batch["states"][b].numpy())
        got = batch["states"][b].numpy()
        assert np.allclose(got[:, :4], states[:, :4], atol=1e-3)
        assert _angle_gap(got[:, 4], states[:, 4]).max() < 1e-5
    assert len(used) == 8
    again = windows.sample(64, torch.Generator().manual_seed(1))
    assert all(torch.equal(batch[key], again[key]) for key in batch)
    assert torch.equal(source.batch["pixels"], _FixedWindows().batch["pixels"])  # input untouched


def test_a_world_without_symmetries_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="two_room declares no symmetries"):
        SymmetricWindows(_FixedWindows(), make("two_room").unwrapped, name="two_room")


def test_training_a_world_without_symmetries_on_its_symmetries_is_refused(tmp_path):
    from ami.pipeline import run_collect, run_train
    from ami.recipes import TINY

    recipe = replace(TINY, train=replace(TINY.train, symmetries=True))
    data = run_collect(replace(recipe.collect, episodes=4), tmp_path / "data.h5", progress=False)
    with pytest.raises(ConfigError, match="two_room declares no symmetries"):
        run_train(recipe, data, tmp_path / "run", torch.device("cpu"), progress=False)
    assert not (tmp_path / "run").exists()


def test_symmetries_must_be_a_bool():
    with pytest.raises(ConfigError, match="TrainConfig.symmetries must be true or false"):
        replace(TrainConfig(), symmetries="yes")
