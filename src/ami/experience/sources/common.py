"""What every dataset reader gives: episodes in ami's conventions, and the actions' scaling.

A reader of another format (`ami.experience.sources.READERS`) yields `RawEpisode`s: frames of any
size (uint8 `[L + 1, h, w, 3]`), the `L` actions between them in the dataset's own units, and the
states (empty where the format has none). `to_episode` turns one into an ami `Episode`: frames
centre-cropped to a square and resized to the recipe's size (antialiased), actions mapped to
[-1, 1] by the `ActionScaling` read from the dataset's stated bounds or measured over all its
actions. The scaling is recorded in the imported dataset's meta, so a model's actions can be
mapped back to the dataset's units (`ActionScaling.unscale`).

Example:
    >>> import numpy as np
    >>> scaling = ActionScaling.measured(np.array([[0.0, -2.0], [10.0, 2.0]]))
    >>> scaling.scale(np.array([[5.0, 2.0]])).tolist()
    [[0.0, 1.0]]
    >>> scaling.unscale(np.array([[0.0, 1.0]])).tolist()
    [[5.0, 2.0]]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from ami.errors import ConfigError, DatasetError
from ami.experience.dataset import Episode


@dataclass(frozen=True)
class ActionScaling:
    """An affine map of each action column from `[low, high]` onto [-1, 1].

    Attributes:
        low: `[A]` the dataset's lowest value of each column.
        high: `[A]` its highest; a column with `high == low` maps to 0.
        source: `"stated"` (the dataset says its bounds), `"measured"` (over all its actions) or
            `"unit"` (the actions already lie in [-1, 1] and are kept as they are).
    """

    low: tuple[float, ...]
    high: tuple[float, ...]
    source: str = "measured"

    def __post_init__(self) -> None:
        if len(self.low) != len(self.high) or not self.low:
            raise ConfigError(
                f"ActionScaling: low and high must be non-empty and of one size, got "
                f"{len(self.low)} and {len(self.high)}"
            )
        if any(h < lo for lo, h in zip(self.low, self.high, strict=True)):
            raise ConfigError(f"ActionScaling: high {self.high} is below low {self.low}")
        if self.source not in ("stated", "measured", "unit"):
            raise ConfigError(
                f"ActionScaling.source must be stated, measured or unit, got {self.source!r}"
            )

    @classmethod
    def measured(cls, actions: np.ndarray) -> ActionScaling:
        """The bounds of `actions` `[N, A]` (every action of the dataset)."""
        actions = np.asarray(actions, dtype=np.float64)
        return cls(tuple(actions.min(axis=0).tolist()), tuple(actions.max(axis=0).tolist()))

    @classmethod
    def unit(cls, size: int) -> ActionScaling:
        """The identity on [-1, 1]^size: actions kept as they are."""
        return cls((-1.0,) * size, (1.0,) * size, source="unit")

    @classmethod
    def for_actions(cls, actions: np.ndarray) -> ActionScaling:
        """Actions already within [-1, 1] (most control datasets) kept as they are, else measured.

        Keeping them means a model trained on the data plans in the env's own action units.
        """
        actions = np.asarray(actions, dtype=np.float64)
        if actions.size and np.abs(actions).max() <= 1.0:
            return cls.unit(actions.shape[1])
        return cls.measured(actions)

    def _centre_half(self) -> tuple[np.ndarray, np.ndarray]:
        low, high = np.asarray(self.low), np.asarray(self.high)
        return (low + high) / 2, np.maximum((high - low) / 2, 1e-12)

    def scale(self, actions: np.ndarray) -> np.ndarray:
        """`actions` `[..., A]` in the dataset's units -> float32 in [-1, 1]."""
        centre, half = self._centre_half()
        flat = np.asarray(self.high) == np.asarray(self.low)
        scaled = np.where(flat, 0.0, (np.asarray(actions, dtype=np.float64) - centre) / half)
        return np.clip(scaled, -1.0, 1.0).astype(np.float32)

    def unscale(self, actions: np.ndarray) -> np.ndarray:
        """`actions` `[..., A]` in [-1, 1] -> the dataset's units (float64)."""
        centre, half = self._centre_half()
        return np.asarray(actions, dtype=np.float64) * half + centre

    def as_dict(self) -> dict[str, Any]:
        """The scaling as plain JSON data (recorded in the imported dataset's meta)."""
        return {"low": list(self.low), "high": list(self.high), "source": self.source}


@dataclass(frozen=True)
class RawEpisode:
    """One episode as a reader found it, before resizing and scaling.

    Attributes:
        pixels: uint8 `[L + 1, h, w, 3]` (any `h`, `w`).
        actions: `[L, A]` in the dataset's units: action `t` leads from frame `t` to `t + 1`.
        states: `[L + 1, S]` (`S` may be 0).
        index: the episode's index in the dataset (named in errors).
    """

    pixels: np.ndarray
    actions: np.ndarray
    states: np.ndarray
    index: int


class DatasetReader(Protocol):
    """A dataset of another format, opened: its facts, its actions, then its episodes."""

    path: Path
    format: str

    @property
    def num_episodes(self) -> int:
        """Episodes in the dataset."""
        ...

    def action_scaling(self) -> ActionScaling:
        """The stated bounds of the actions, else their measured ones (actions only are read)."""
        ...

    def episodes(self) -> Iterator[RawEpisode]:
        """Every episode, in the dataset's order, read one at a time."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the import records about the source (keys, fps, camera...), as JSON data."""
        ...

    def close(self) -> None:
        """Release the files."""
        ...


@dataclass(frozen=True)
class ImportOptions:
    """How a dataset of another format becomes ami experience.

    Attributes:
        image_size: side of the square frames written (the recipe's image size).
        camera: the image key to read (a LeRobot camera, an HDF5 or npz key); None: the
            format's default (the only one, or the first named in the error otherwise).
        action_key: the column of actions (None: the format's default, e.g. `action`).
        state_key: the column of states (None: the format's default; "" for none).
        max_episodes: read at most this many episodes (None: all).
        action_dim: the size of the zero actions given to a source without actions (video);
            `ami train` passes its recipe's env action size.
    """

    image_size: int = 64
    camera: str | None = None
    action_key: str | None = None
    state_key: str | None = None
    max_episodes: int | None = None
    action_dim: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.image_size, int) or not 8 <= self.image_size <= 1024:
            raise ConfigError(
                f"ImportOptions.image_size must be an integer in [8, 1024], got {self.image_size}"
            )
        if self.max_episodes is not None and self.max_episodes < 1:
            raise ConfigError(f"ImportOptions.max_episodes must be >= 1, got {self.max_episodes}")
        if not isinstance(self.action_dim, int) or self.action_dim < 1:
            raise ConfigError(f"ImportOptions.action_dim must be >= 1, got {self.action_dim!r}")


def square_resized(pixels: np.ndarray, size: int) -> np.ndarray:
    """Frames uint8 `[N, h, w, 3]` centre-cropped to a square and resized to `[N, size, size, 3]`.

    Downsizing is antialiased (area-like), so thin lines do not vanish as in nearest-neighbour.
    """
    n, h, w, _ = pixels.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = pixels[:, top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(square)
    frames = torch.from_numpy(np.ascontiguousarray(square)).permute(0, 3, 1, 2).float()
    resized = torch.nn.functional.interpolate(
        frames, size=(size, size), mode="bilinear", antialias=side > size, align_corners=False
    )
    out = resized.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return np.ascontiguousarray(out)


def to_episode(raw: RawEpisode, scaling: ActionScaling, size: int, where: str) -> Episode:
    """`raw` as an ami `Episode`: square `size` frames, actions in [-1, 1], float32 states.

    Raises:
        DatasetError: the frames are not uint8 RGB, or the numbers of frames, actions and states
            disagree, or an action or state is NaN or infinite (`where` names the file).
    """
    pixels, actions, states = raw.pixels, np.asarray(raw.actions), np.asarray(raw.states)
    name = f"{where}: episode {raw.index}"
    if pixels.dtype != np.uint8 or pixels.ndim != 4 or pixels.shape[-1] != 3:
        raise DatasetError(
            f"{name}: frames must be uint8 [N, h, w, 3], got {pixels.dtype} {list(pixels.shape)}"
        )
    if actions.ndim != 2 or actions.shape[0] != pixels.shape[0] - 1:
        raise DatasetError(
            f"{name}: {pixels.shape[0]} frames need {pixels.shape[0] - 1} actions, got "
            f"{list(actions.shape)}"
        )
    if states.ndim != 2 or states.shape[0] != pixels.shape[0]:
        raise DatasetError(
            f"{name}: {pixels.shape[0]} frames need as many states, got {list(states.shape)}"
        )
    for label, values in (("actions", actions), ("states", states)):
        if values.size and not np.isfinite(values.astype(np.float64)).all():
            row = int(np.argwhere(~np.isfinite(values.astype(np.float64)))[0][0])
            raise DatasetError(
                f"{name}: {label} row {row} is NaN or infinite; ami does not train on it"
            )
    return Episode(
        pixels=square_resized(pixels, size),
        actions=scaling.scale(actions),
        states=states.astype(np.float32),
    )
