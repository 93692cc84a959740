"""`MemoryRecorder`: a listener of the agent loop that writes every lived step to memory."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ami.agent.episode import Step
from ami.memory import Memory


class MemoryRecorder:
    """Buffers the steps of one episode and writes them in batches (and on `close`).

    Args:
        memory: the open memory.
        episode: the memory episode id the steps belong to.
        model_version: the version of the model whose `encode` makes the embeddings.
        encode: frames `uint8 [N, h, w, 3]` → embeddings `float32 [N, D]`.
        batch: steps buffered before a write.
    """

    def __init__(
        self,
        memory: Memory,
        episode: int,
        model_version: str,
        encode: Callable[[np.ndarray], np.ndarray],
        batch: int = 64,
    ) -> None:
        self.memory, self.episode, self.model_version = memory, episode, model_version
        self.encode, self.batch = encode, batch
        self._steps: list[Step] = []
        self.written = 0

    def __call__(self, step: Step) -> None:
        """Buffer one step; write when the buffer is full."""
        self._steps.append(step)
        if len(self._steps) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Write the buffered steps."""
        if not self._steps:
            return
        frames = np.stack([s.pixels for s in self._steps])
        self.memory.remember(
            self.episode,
            np.array([s.t for s in self._steps]),
            np.stack([s.action for s in self._steps]).astype(np.float32),
            self.encode(frames),
            self.model_version,
            frames,
        )
        self.written += len(self._steps)
        self._steps.clear()

    def close(self) -> None:
        """Write what is left."""
        self.flush()
