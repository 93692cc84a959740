"""`from_gymnasium`: any Gymnasium env with rgb_array rendering and a Box action, as an ami world.

The observation becomes ``{"pixels": uint8 [size, size, 3], "state": float32 [S]}`` where pixels
is the env's render resized with PIL (bilinear, area-aware when shrinking) and state is the
original observation flattened (empty when it is not a Box). Actions in [-1, 1] map affinely to
the original bounds, which must therefore be finite.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from PIL import Image

from ami.errors import ConfigError, DependencyMissingError, UnknownWorldError

_UNKNOWN_ID_ERRORS = (
    gymnasium.error.NameNotFound,
    gymnasium.error.NamespaceNotFound,
    gymnasium.error.VersionNotFound,
    gymnasium.error.DeprecatedEnv,
)


def from_gymnasium(env_id_or_env: str | gymnasium.Env, size: int = 64) -> gymnasium.Env:
    """Wrap a Gymnasium env (or make one by id, with render_mode="rgb_array") for ami.

    Args:
        env_id_or_env: A registered Gymnasium id, or an env built with render_mode="rgb_array".
        size: Side of the square pixel observation.

    Returns:
        An env with obs ``{"pixels": uint8 [size, size, 3], "state": float32 [S]}`` and actions
        float32 [A] in [-1, 1].

    Raises:
        UnknownWorldError: The id is not registered with Gymnasium.
        ConfigError: The env cannot render rgb_array, or its action space is not a finite Box.
    """
    if isinstance(env_id_or_env, str):
        try:
            env = gymnasium.make(env_id_or_env, render_mode="rgb_array")
        except _UNKNOWN_ID_ERRORS as exc:
            raise UnknownWorldError(
                f"unknown Gymnasium env id {env_id_or_env!r}: {exc}".replace("\n", " ")
            ) from exc
        except gymnasium.error.DependencyNotInstalled as exc:
            raise DependencyMissingError(str(exc).replace("\n", " ")) from exc
    else:
        env = env_id_or_env
    return GymnasiumAdapter(env, size)


class GymnasiumAdapter(gymnasium.Env):
    """A Gymnasium env seen through the ami contract (pixels + state obs, [-1, 1] actions)."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, env: gymnasium.Env, size: int = 64):
        """Wrap `env` (see `from_gymnasium`)."""
        if not isinstance(size, int) or size < 1:
            raise ConfigError(f"from_gymnasium size must be a positive integer, got {size!r}")
        name = _name(env)
        if env.render_mode != "rgb_array":
            raise ConfigError(
                f"{name} must be created with render_mode='rgb_array', got {env.render_mode!r}"
            )
        original = env.action_space
        if not isinstance(original, spaces.Box):
            raise ConfigError(
                f"{name} action space must be a Box, got {type(original).__name__}; "
                "ami plans continuous actions"
            )
        if not (np.all(np.isfinite(original.low)) and np.all(np.isfinite(original.high))):
            raise ConfigError(
                f"{name} action space has infinite bounds; actions in [-1, 1] can only be mapped "
                "to finite bounds (wrap the env with gymnasium.wrappers.ClipAction/RescaleAction)"
            )
        self.env = env
        self.size = size
        self.render_mode = "rgb_array"
        self._low = original.low.astype(np.float64)
        self._high = original.high.astype(np.float64)
        self._action_dtype = original.dtype
        self.action_space = spaces.Box(-1.0, 1.0, original.shape, np.float32)
        inner_obs = env.observation_space
        if isinstance(inner_obs, spaces.Box):
            state_space = spaces.Box(
                inner_obs.low.reshape(-1).astype(np.float32),
                inner_obs.high.reshape(-1).astype(np.float32),
                dtype=np.float32,
            )
        else:
            state_space = spaces.Box(0.0, 0.0, (0,), np.float32)
        self.observation_space = spaces.Dict(
            {"pixels": spaces.Box(0, 255, (size, size, 3), np.uint8), "state": state_space}
        )
        self._frame = np.zeros((size, size, 3), np.uint8)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset the wrapped env (same seed and options)."""
        super().reset(seed=seed)
        obs, info = self.env.reset(seed=seed, options=options)
        return self._observation(obs), _with_success(info)

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Step with action [A] in [-1, 1], mapped affinely to the wrapped env's bounds."""
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        inner = self._low + (a + 1.0) / 2.0 * (self._high - self._low)
        obs, reward, terminated, truncated, info = self.env.step(inner.astype(self._action_dtype))
        return self._observation(obs), float(reward), terminated, truncated, _with_success(info)

    def render(self) -> np.ndarray:
        """The latest pixel observation, uint8 [size, size, 3] (a copy)."""
        return self._frame.copy()

    def close(self) -> None:
        """Close the wrapped env."""
        self.env.close()

    def _observation(self, obs: Any) -> dict[str, np.ndarray]:
        self._frame = self._pixels()
        if isinstance(self.env.observation_space, spaces.Box):
            state = np.asarray(obs, dtype=np.float32).reshape(-1).copy()
        else:
            state = np.zeros(0, np.float32)
        return {"pixels": self._frame.copy(), "state": state}

    def _pixels(self) -> np.ndarray:
        """The wrapped env's frame resized to uint8 [size, size, 3]."""
        try:
            frame = self.env.render()
        except gymnasium.error.DependencyNotInstalled as exc:
            raise DependencyMissingError(str(exc).replace("\n", " ")) from exc
        frame = np.asarray(frame) if frame is not None else None
        if frame is None or frame.ndim != 3 or frame.shape[2] < 3:
            shape = None if frame is None else frame.shape
            raise ConfigError(f"{_name(self.env)} render() must return [h, w, 3], got {shape}")
        image = Image.fromarray(np.ascontiguousarray(frame[:, :, :3]).astype(np.uint8))
        if image.size != (self.size, self.size):
            image = image.resize((self.size, self.size), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8).copy()


def _with_success(info: dict[str, Any]) -> dict[str, Any]:
    """A copy of `info` whose "is_success" is a bool (False unless the env provides it)."""
    out = dict(info)
    out["is_success"] = bool(out["is_success"]) if "is_success" in out else False
    return out


def _name(env: gymnasium.Env) -> str:
    spec = env.spec
    return f"env {spec.id!r}" if spec is not None else f"env {type(env).__name__}"
