"""A GIF of planned episodes: each frame shows the current view beside the goal image.

The GIF pauses after each episode by lengthening the last frame's duration rather than by
repeating it: Pillow's GIF writer merges identical consecutive frames anyway, so the frame count
of the file is exactly the number of recorded frames. Written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ami.errors import ConfigError, ShapeError
from ami.files import atomic_write_with

PAUSE_MS = 1000  # how long the last frame of each episode stays on screen


@dataclass(frozen=True)
class EpisodeFrames:
    """What the GIF shows of one planned episode.

    Attributes:
        frames: The observations, `uint8 [T, h, w, 3]`.
        goal: The goal image, `uint8 [h, w, 3]`.
        success: Whether the episode reached its goal.
        title: A short caption, e.g. `"cross_room #3"`.
    """

    frames: np.ndarray
    goal: np.ndarray
    success: bool
    title: str

    def __post_init__(self) -> None:
        f, g = self.frames, self.goal
        if not isinstance(f, np.ndarray) or not isinstance(g, np.ndarray):
            raise ShapeError("EpisodeFrames.frames and .goal must be numpy arrays")
        if f.dtype != np.uint8 or f.ndim != 4 or f.shape[0] < 1 or f.shape[-1] != 3:
            raise ShapeError(
                f"EpisodeFrames.frames must be uint8 [T, h, w, 3], got {f.dtype} {list(f.shape)}"
            )
        if g.dtype != np.uint8 or g.shape != f.shape[1:]:
            raise ShapeError(
                f"EpisodeFrames.goal must be uint8 {list(f.shape[1:])}, got {g.dtype} "
                f"{list(g.shape)}"
            )


def _caption_height(font: Any) -> int:
    left, top, right, bottom = font.getbbox("Ag|")
    return int(bottom) + 6


def _gif_frame(
    frame: np.ndarray, goal: np.ndarray, caption: str, scale: int, font: Any
) -> Image.Image:
    """One GIF frame: a caption bar above the current frame (left) and the goal image (right)."""
    h, w, _ = frame.shape
    gap = max(2, scale)
    bar = _caption_height(font)
    canvas = Image.new("RGB", (2 * w * scale + gap, h * scale + bar), (24, 24, 24))
    size = (w * scale, h * scale)
    canvas.paste(Image.fromarray(frame).resize(size, Image.Resampling.NEAREST), (0, bar))
    canvas.paste(
        Image.fromarray(goal).resize(size, Image.Resampling.NEAREST), (w * scale + gap, bar)
    )
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 3), caption, fill=(235, 235, 235), font=font)
    draw.text((canvas.width - 4, 3), "goal", fill=(235, 235, 235), font=font, anchor="ra")
    return canvas


def write_episodes_gif(
    episodes: list[EpisodeFrames], out_gif: Path, scale: int = 4, fps: int = 10
) -> Path:
    """Write an animated GIF that plays the episodes one after another, each beside its goal.

    Every frame shows the observation at step `t` on the left and the goal image on the right,
    both upscaled by `scale` (nearest neighbour), under a caption `"<title>  step t/T"`; the last
    frame of an episode adds `success` or `failed` and stays on screen for `PAUSE_MS`.

    Args:
        episodes: The episodes, all with the same frame size; keep it to a few for a small file.
        out_gif: Where to write the GIF.
        scale: Integer upscaling factor of the images.
        fps: Playback speed in frames per second.

    Returns:
        `out_gif`.

    Raises:
        ConfigError: `scale` or `fps` is below 1.
        ShapeError: There are no episodes, or their frame sizes differ.
    """
    if scale < 1:
        raise ConfigError(f"scale must be >= 1, got {scale}")
    if fps < 1:
        raise ConfigError(f"fps must be >= 1, got {fps}")
    if not episodes:
        raise ShapeError("write_episodes_gif needs at least one episode, got none")
    sizes = {ep.frames.shape[1:] for ep in episodes}
    if len(sizes) > 1:
        raise ShapeError(f"all episodes must have the same frame size, got {sorted(sizes)}")
    font = ImageFont.load_default()
    step_ms = max(20, round(1000 / fps))  # GIF delays are in 10 ms units; browsers clamp < 20
    images, durations = [], []
    for ep in episodes:
        last = len(ep.frames) - 1
        for t, frame in enumerate(ep.frames):
            caption = f"{ep.title}  step {t}/{last}"
            if t == last:
                caption += "  " + ("success" if ep.success else "failed")
            images.append(_gif_frame(frame, ep.goal, caption, scale, font))
            durations.append(step_ms + (PAUSE_MS if t == last else 0))

    def write(f: IO[bytes]) -> None:
        images[0].save(
            f,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=durations,
            loop=0,
            optimize=True,
        )

    return atomic_write_with(out_gif, write)
