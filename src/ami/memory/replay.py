"""Replay: training windows read from memory, so experience from earlier sessions is learnt from.

`remember_experience` brings an HDF5 experience file into memory (e.g. the seed data of a live
agent), so that it is replayed together with what the agent lives.

A remembered step holds the action taken and the frame the world answered with: `(a_t, o_{t+1})`.
For training windows a frame must be followed by the action that left it, so the frames of an
episode are `o_1 … o_L` and the action leaving `o_i` is `a_i` of the next row; the last frame's
action row is zero, as in the HDF5 format. States are not remembered (they are for evaluation
only), so the windows' states are zeros.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ami.errors import DatasetError, MemoryLookupError
from ami.experience import Episode, ExperienceDataset, WindowConfig, WindowDataset
from ami.memory.store import Memory


def windows_from_memory(
    memory: Memory,
    config: WindowConfig,
    episodes: list[int] | None = None,
    world: str | None = None,
) -> WindowDataset:
    """T-step windows over the remembered frames of `episodes`.

    By default every remembered episode of `world` (of every world when `world` is None).
    """
    chosen = memory.episode_ids(world) if episodes is None else episodes
    frames, actions, lengths = [], [], []
    first: tuple[int, tuple[int, ...], tuple[int, ...]] | None = None  # episode, frame, action
    for episode in chosen:
        try:
            pixels, taken = memory.episode_arrays(episode)
        except MemoryLookupError:
            continue  # an episode remembered without frames cannot be replayed
        first = first or (episode, pixels.shape[1:], taken.shape[1:])
        if (pixels.shape[1:], taken.shape[1:]) != first[1:]:
            raise DatasetError(
                f"episode {episode} of memory {memory.path} holds frames {pixels.shape[1:]} and "
                f"actions {taken.shape[1:]}, episode {first[0]} frames {first[1]} and actions "
                f"{first[2]}; replay episodes of one world and image size"
            )
        leaving = np.concatenate([taken[1:], np.zeros_like(taken[:1])])
        frames.append(pixels)
        actions.append(leaving)
        lengths.append(len(pixels))
    if not frames:
        raise MemoryLookupError(f"memory {memory.path} holds no episode with frames to replay")
    lengths_array = np.asarray(lengths, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths_array)[:-1]])
    all_frames = np.concatenate(frames)
    return WindowDataset(
        all_frames,
        np.concatenate(actions).astype(np.float32),
        np.zeros((len(all_frames), 0), np.float32),
        starts,
        lengths_array,
        config,
    )


def memory_episodes(memory: Memory, world: str | None = None) -> Iterator[Episode]:
    """The remembered episodes of `world` (every world: None) with frames, as ami `Episode`s.

    Frames `o_1 ... o_L` and the `L - 1` actions between them (`a_2 ... a_L`); states of size 0
    (memory keeps none). Episodes without frames or with one frame are skipped.
    """
    for episode in memory.episode_ids(world):
        try:
            pixels, taken = memory.episode_arrays(episode)
        except MemoryLookupError:
            continue  # remembered without frames
        if len(pixels) < 2:
            continue
        yield Episode(
            pixels=pixels,
            actions=np.asarray(taken[1:], np.float32),
            states=np.zeros((len(pixels), 0), np.float32),
        )


def remember_experience(
    memory: Memory,
    path: Path,
    encode: Callable[[np.ndarray], np.ndarray],
    model_version: str,
    note: str = "",
) -> int:
    """Remember every episode of the HDF5 experience at `path` as one session; returns its steps.

    Each episode's steps are `(a_t, o_{t+1})` as the agent loop remembers them, embedded by
    `encode` (frames `uint8 [N, h, w, 3]` → `float32 [N, D]`) under `model_version`.
    """
    with ExperienceDataset.open(path) as dataset:
        session = memory.begin_session(model_version, note or f"experience {path}")
        steps = 0
        for index in range(dataset.num_episodes):
            episode = dataset.episode(index)
            frames = episode.pixels[1:]
            memory.remember(
                memory.begin_episode(session, dataset.world),
                np.arange(episode.length),
                episode.actions,
                encode(frames),
                model_version,
                frames,
            )
            steps += episode.length
    return steps
