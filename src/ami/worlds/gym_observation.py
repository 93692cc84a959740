"""How a Gymnasium observation becomes ami's state vector (and, where it must, its pixels).

An entry is *image-like* when it is a uint8 `Box` of shape [h, w, 3]. The state is the flattening
(`gymnasium.spaces.flatten`, float32) of every entry that is not image-like, in the order of the
env's space: a `Dict` observation's entries in the `Dict`'s own key order (Gymnasium sorts the
keys of a plain dict, so gymnasium-robotics' ``achieved_goal, desired_goal, observation``), a
`Box` observation flattened in C order, a `Discrete` one one-hot. Only top-level `Dict` entries
are checked for images; nested `Dict`s are flattened whole. A space that cannot be flattened to
a vector (`Graph`, `Sequence`, `Text`) gives an empty state. `state_names` name every component:
``"observation[3]"`` for a `Dict` entry, ``"outer.inner[0]"`` inside a nested `Dict`, ``"obs[i]"``
for a whole non-`Dict` observation.

`image_key` is where the observation itself holds a frame: the entry named "pixels" if it is
image-like, else the first image-like entry in the `Dict`'s order; `WHOLE` when the observation
is itself image-like; None when it holds none.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

WHOLE = ""  # the image key meaning "the whole observation is the image"


def is_image_space(space: spaces.Space[Any]) -> bool:
    """Whether `space` is an RGB frame: a uint8 `Box` of shape [h, w, 3]."""
    return (
        isinstance(space, spaces.Box)
        and space.dtype == np.uint8
        and len(space.shape) == 3
        and space.shape[2] == 3
    )


class ObservationLayout:
    """The state and image parts of an observation space (see the module docstring)."""

    def __init__(self, space: spaces.Space[Any]):
        """Split `space` into its image-like entries and its state part."""
        self.image_keys: tuple[str, ...]
        self._state_space: spaces.Space[Any] | None
        if is_image_space(space):
            self.image_keys, self._state_space, prefix = (WHOLE,), None, "obs"
        elif isinstance(space, spaces.Dict):
            self.image_keys = tuple(k for k, s in space.spaces.items() if is_image_space(s))
            rest = [(k, s) for k, s in space.spaces.items() if k not in self.image_keys]
            self._state_space = spaces.Dict(rest) if rest else None
            prefix = ""
        else:
            flat = space.is_np_flattenable
            self.image_keys, self._state_space, prefix = (), space if flat else None, "obs"
        self.state_names: list[str] = (
            [] if self._state_space is None else _names(self._state_space, prefix)
        )
        self.state_space = spaces.Box(-np.inf, np.inf, (len(self.state_names),), np.float32)

    @property
    def image_key(self) -> str | None:
        """The entry holding a frame ("pixels" first), `WHOLE`, or None (module docstring)."""
        if "pixels" in self.image_keys:
            return "pixels"
        return self.image_keys[0] if self.image_keys else None

    def state(self, obs: Any) -> np.ndarray:
        """The state of `obs`: float32 [S], S = len(state_names)."""
        if self._state_space is None:
            return np.zeros(0, np.float32)
        if isinstance(self._state_space, spaces.Dict):
            obs = {key: obs[key] for key in self._state_space.spaces}
        flat = spaces.flatten(self._state_space, obs)
        return np.asarray(flat, dtype=np.float32).reshape(-1).copy()

    def image(self, obs: Any, key: str) -> np.ndarray:
        """The frame of `obs` at `key` (`WHOLE`: the observation itself), as an array."""
        return np.asarray(obs if key == WHOLE else obs[key])


def _names(space: spaces.Space[Any], prefix: str) -> list[str]:
    """One name per flattened component of `space`, e.g. ["goal[0]", "goal[1]"]."""
    if isinstance(space, spaces.Dict):
        names: list[str] = []
        for key, sub in space.spaces.items():
            names += _names(sub, f"{prefix}.{key}" if prefix else str(key))
        return names
    return [f"{prefix}[{i}]" for i in range(spaces.flatdim(space))]
