"""Replay: training windows read from memory, so experience from earlier sessions is learnt from.

A remembered step holds the action taken and the frame the world answered with: `(a_t, o_{t+1})`.
For training windows a frame must be followed by the action that left it, so the frames of an
episode are `o_1 … o_L` and the action leaving `o_i` is `a_i` of the next row; the last frame's
action row is zero, as in the HDF5 format. States are not remembered (they are for evaluation
only), so the windows' states are zeros.
"""

from __future__ import annotations

import numpy as np

from ami.errors import MemoryLookupError
from ami.experience import WindowConfig, WindowDataset
from ami.memory.store import Memory


def windows_from_memory(
    memory: Memory, config: WindowConfig, episodes: list[int] | None = None
) -> WindowDataset:
    """T-step windows over the remembered frames of `episodes` (default: every episode)."""
    chosen = memory.episode_ids() if episodes is None else episodes
    frames, actions, lengths = [], [], []
    for episode in chosen:
        try:
            pixels, taken = memory.episode_arrays(episode)
        except MemoryLookupError:
            continue  # an episode remembered without frames cannot be replayed
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
