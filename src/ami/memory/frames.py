"""The memory's frame codec: zlib level 1 over the raw pixels.

≈ 0.3-1 KB for a 64×64 TwoRoom frame instead of 12 KB, several times faster to encode than PNG at
a similar size (`benchmarks/memory_bench.py`). Used for remembered steps and for decisions.
"""

from __future__ import annotations

import zlib

import numpy as np

from ami.errors import ShapeError


def encode_frame(frame: np.ndarray) -> bytes:
    """The stored bytes of one frame `uint8 [h, w, 3]`."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ShapeError(f"a remembered frame must be uint8 [h, w, 3], got {frame.shape}")
    return zlib.compress(np.ascontiguousarray(frame).tobytes(), 1)


def decode_frame(height: int, width: int, blob: bytes) -> np.ndarray:
    """The frame `uint8 [height, width, 3]` stored as `blob`."""
    return np.frombuffer(zlib.decompress(blob), dtype=np.uint8).reshape(height, width, 3)
