"""Memory figures: inserts per second, exact recall latency at 1 M steps, the SIGKILL test.

Writes benchmarks/results/memory.json (each figure with command, date, machine, git revision).
Run: python -m benchmarks.memory  (part of make bench)
"""

from __future__ import annotations

import argparse
import io
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ami.memory import Memory
from ami.memory.store import Synchronous
from ami.worlds import make
from benchmarks.results_file import provenance, write_results

WRITER = """
import sys, numpy as np
from ami.memory import Memory
memory = Memory.open(sys.argv[1], synchronous="FULL")
episode = memory.begin_episode(memory.begin_session("m"), "two_room")
rng = np.random.default_rng(0)
total = 0
while True:
    memory.remember(episode, np.arange(1000), rng.uniform(-1, 1, (1000, 2)),
                    rng.normal(size=(1000, 64)), "m",
                    rng.integers(0, 255, (1000, 64, 64, 3), dtype=np.uint8))
    total += 1000
    print(total, flush=True)
"""


def insert_rate(
    folder: Path,
    frames: bool,
    synchronous: Synchronous = "FULL",
    batch: int = 1000,
    steps: int = 20_000,
) -> float:
    """Steps/s of `remember` in batches of `batch` (D = 64; 64×64 TwoRoom frames when `frames`)."""
    rng = np.random.default_rng(0)
    batches = steps // batch
    name = f"insert-{frames}-{synchronous}-{batch}.db"
    with Memory.open(folder / name, synchronous=synchronous) as memory:
        episode = memory.begin_episode(memory.begin_session("m"), "two_room")
        pixels = two_room_frames(batch, rng) if frames else None
        z, a = rng.normal(size=(batch, 64)), rng.uniform(-1, 1, (batch, 2))
        started = time.perf_counter()
        for _ in range(batches):
            memory.remember(episode, np.arange(batch), a, z, "m", pixels)
        return batches * batch / (time.perf_counter() - started)


def two_room_frames(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` real 64×64 TwoRoom observations at random free positions, uint8 [n, 64, 64, 3]."""
    world: Any = make("two_room").unwrapped
    return np.stack([world.render_at(world.sample_free_position(rng)) for _ in range(n)])


def frame_bytes(rng: np.random.Generator, n: int = 200) -> dict[str, float]:
    """Mean bytes and encode µs per 64×64 TwoRoom frame: zlib-1 raw pixels (stored) vs PNG."""
    frames = two_room_frames(n, rng)
    started = time.perf_counter()
    zlib_sizes = [len(zlib.compress(f.tobytes(), 1)) for f in frames]
    zlib_us = 1e6 * (time.perf_counter() - started) / n
    started = time.perf_counter()
    png_sizes = []
    for f in frames:
        buffer = io.BytesIO()
        Image.fromarray(f).save(buffer, format="PNG")
        png_sizes.append(buffer.tell())
    png_us = 1e6 * (time.perf_counter() - started) / n
    return {
        "frame_bytes_zlib1": float(np.mean(zlib_sizes)),
        "frame_encode_us_zlib1": zlib_us,
        "frame_bytes_png": float(np.mean(png_sizes)),
        "frame_encode_us_png": png_us,
    }


def recall_ms(folder: Path, steps: int = 1_000_000, queries: int = 20) -> float:
    """Mean ms of an exact k=10 recall over `steps` remembered steps (cache warm)."""
    rng = np.random.default_rng(1)
    with Memory.open(folder / "recall.db") as memory:
        episode = memory.begin_episode(memory.begin_session("m"), "two_room")
        for _ in range(steps // 50_000):
            z = rng.normal(size=(50_000, 64)).astype(np.float32)
            memory.remember(episode, np.arange(50_000), np.zeros((50_000, 2)), z, "m")
    with Memory.open(folder / "recall.db", readonly=True) as memory:
        memory.recall(np.zeros(64, np.float32), 10, "m")  # loads the cache
        started = time.perf_counter()
        for query in rng.normal(size=(queries, 64)).astype(np.float32):
            memory.recall(query, 10, "m")
        return 1000 * (time.perf_counter() - started) / queries


def kill_test(folder: Path, runs: int = 3) -> int:
    """Most committed steps lost over `runs` SIGKILLs in heavy writing (expected 0)."""
    worst = 0
    for run in range(runs):
        path = folder / f"kill-{run}.db"
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert process.stdout is not None
        committed = 0
        while committed < 5000 + 2000 * run:
            committed = int(process.stdout.readline())
        process.send_signal(signal.SIGKILL)
        process.wait()
        with Memory.open(path) as memory:
            if memory.integrity_check() != "ok":
                raise SystemExit(f"integrity check failed after SIGKILL run {run}")
            worst = max(worst, committed - memory.stats()["steps"])
    return max(worst, 0)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    facts = provenance()
    figures = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        measured = [
            (
                "insert_steps_per_second",
                insert_rate(folder, False),
                "steps/s",
                "remember() in batches of 1,000, D=64, no frames, synchronous=FULL",
            ),
            (
                "insert_steps_per_second_normal",
                insert_rate(folder, False, "NORMAL"),
                "steps/s",
                "remember() in batches of 1,000, D=64, no frames, synchronous=NORMAL",
            ),
            (
                "insert_steps_per_second_batch64",
                insert_rate(folder, False, batch=64, steps=6400),
                "steps/s",
                "remember() in batches of 64 (MemoryRecorder's default), no frames, FULL",
            ),
            (
                "insert_steps_per_second_batch64_normal",
                insert_rate(folder, False, "NORMAL", batch=64, steps=6400),
                "steps/s",
                "remember() in batches of 64 (MemoryRecorder's default), no frames, NORMAL",
            ),
            (
                "insert_steps_per_second_with_frames",
                insert_rate(folder, True),
                "steps/s",
                "remember() in batches of 1,000, D=64, 64x64 TwoRoom frames (zlib-1), FULL",
            ),
        ]
        measured += [
            (
                key,
                value,
                "bytes" if "bytes" in key else "us",
                "per 64x64x3 TwoRoom frame (12,288 B raw)",
            )
            for key, value in frame_bytes(np.random.default_rng(2)).items()
        ]
        measured += [
            (
                "recall_ms_at_1m",
                recall_ms(folder),
                "ms",
                "exact k=10 recall over 1,000,000 steps of D=64, mean of 20 warm queries",
            ),
            (
                "kill_test_lost_committed_steps",
                kill_test(folder),
                "steps",
                "most committed steps lost over 3 SIGKILLs of a heavy writer (integrity_check ok)",
            ),
        ]
        for key, value, unit, how in measured:
            figures[key] = {"value": value, "unit": unit, "how": how, **facts}
            print(f"{key:40s} {value:12.2f} {unit}", flush=True)
    write_results("memory", figures)


if __name__ == "__main__":
    main()
