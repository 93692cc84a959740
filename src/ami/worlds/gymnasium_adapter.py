"""`from_gymnasium`: any Gymnasium env with a frame and a finite Box action, as an ami world.

The observation becomes ``{"pixels": uint8 [size, size, 3], "state": float32 [S]}``. Pixels are
the env's `render()` (made with render_mode="rgb_array"), resized with PIL (bilinear, antialiased
when shrinking); an env that cannot render rgb_array but whose observation holds a uint8
[h, w, 3] entry gives that entry instead ("pixels" if present, else the first image entry), and
`pixels_key` picks an entry explicitly; `hidden_sites` names MuJoCo sites left out of the frames
(`ami.worlds.mujoco_sites`). The state is every other entry flattened in a stated
order, with `state_names` naming each component (`ami.worlds.gym_observation`).

Actions are float32 [A] in [-1, 1], mapped affinely (in float64) to the env's bounds and cast to
its action dtype (float64 spaces included); the bounds must be finite. `info["is_success"]` is
read from the env's success key or, for families that say so, from `terminated`
(`ami.worlds.gym_success`). Reset options go to the wrapped env unchanged.

`adapter.unwrapped` is the adapter itself (ami code asks it for world methods such as
`goal_pixels`); an attribute the adapter lacks is looked up on the wrapped env's `unwrapped`, so
`adapter.unwrapped.variation_space` reaches a stable-worldmodel env's variation space. The wrapped
env itself is `adapter.env`. `sim_state` / `set_sim_state` read and set the simulator state where
the env family allows it (`ami.worlds.gym_sim_state`), and `max_episode_steps` is the wrapped
env's `TimeLimit` (None without one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from PIL import Image

from ami.errors import AmiError, ConfigError, DependencyMissingError
from ami.worlds.gym_id import make_gym_env, parse_gym_id
from ami.worlds.gym_observation import ObservationLayout, is_image_space
from ami.worlds.gym_sim_state import read_state, state_family, write_state
from ami.worlds.gym_success import terminated_means_success, with_success
from ami.worlds.mujoco_sites import hide_sites


def from_gymnasium(
    env_id_or_env: str | gymnasium.Env,
    size: int = 64,
    *,
    make_kwargs: Mapping[str, Any] | None = None,
    success_from_terminated: bool | None = None,
    pixels_key: str | None = None,
    hidden_sites: Sequence[str] = (),
) -> GymnasiumAdapter:
    """Wrap a Gymnasium env (or make one by id, with render_mode="rgb_array") for ami.

    Args:
        env_id_or_env: A Gymnasium id ("Pendulum-v1", "module:EnvId", or the world id
            "gym:[MODULE:]ENV_ID"), or a built env.
        size: Side of the square pixel observation.
        make_kwargs: Keywords for `gymnasium.make` (only with an id; see `ami.worlds.gym_id`).
        success_from_terminated: Whether `terminated` means success; None: from the env's
            family (`ami.worlds.gym_success`).
        pixels_key: The observation entry to take pixels from instead of `render()`.
        hidden_sites: MuJoCo sites not drawn in the frames (`ami.worlds.mujoco_sites`), such as
            PointMaze's goal marker "target".

    Returns:
        An env with obs ``{"pixels": uint8 [size, size, 3], "state": float32 [S]}`` and actions
        float32 [A] in [-1, 1].

    Raises:
        UnknownWorldError: The id is not registered with Gymnasium.
        DependencyMissingError: The id's module or a package the env needs is not installed.
        ConfigError: The env gives no frame, its action space is not a finite Box, a make
            keyword is not one the env takes, or a hidden site is not one of the env's.
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ConfigError(f"from_gymnasium size must be a positive integer, got {size!r}")
    if isinstance(hidden_sites, str):
        raise ConfigError(f"hidden_sites must be a list of site names, got {hidden_sites!r}")
    if not isinstance(env_id_or_env, str):
        if make_kwargs:
            raise ConfigError("from_gymnasium make_kwargs are for an env id, not for a built env")
        hide_sites(env_id_or_env, hidden_sites)
        return GymnasiumAdapter(env_id_or_env, size, success_from_terminated, pixels_key)
    env = make_gym_env(parse_gym_id(env_id_or_env), size, make_kwargs or {})
    try:
        hide_sites(env, hidden_sites)
        return GymnasiumAdapter(env, size, success_from_terminated, pixels_key)
    except AmiError:
        env.close()
        raise


def make_gym_world(
    name: str,
    size: int = 64,
    success_from_terminated: bool | None = None,
    pixels_key: str | None = None,
    hidden_sites: Sequence[str] = (),
    **make_kwargs: Any,
) -> GymnasiumAdapter:
    """The world `gym:[MODULE:]ENV_ID`; keywords other than the adapter's go to gymnasium.make."""
    return from_gymnasium(
        name,
        size,
        make_kwargs=make_kwargs,
        success_from_terminated=success_from_terminated,
        pixels_key=pixels_key,
        hidden_sites=hidden_sites,
    )


class GymnasiumAdapter(gymnasium.Env):
    """A Gymnasium env seen through the ami contract (see the module docstring).

    Attributes:
        env: the wrapped env.
        env_id: its Gymnasium id, or None for an env made without one.
        size: the side of the pixel observation.
        state_names: one name per state component, e.g. "observation[0]".
        max_episode_steps: the wrapped env's TimeLimit, or None.
        success_from_terminated: whether `terminated` is read as success.
    """

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(
        self,
        env: gymnasium.Env,
        size: int = 64,
        success_from_terminated: bool | None = None,
        pixels_key: str | None = None,
    ):
        """Wrap `env` (see `from_gymnasium`)."""
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ConfigError(f"from_gymnasium size must be a positive integer, got {size!r}")
        self.env = env
        self.size = size
        self.env_id: str | None = env.spec.id if env.spec is not None else None
        self._layout = ObservationLayout(env.observation_space)
        self._pixels_key = _pixels_source(env, self._layout, pixels_key)
        self._low, self._high, self._action_dtype = _action_bounds(env)
        self.state_names = list(self._layout.state_names)
        self.max_episode_steps = _time_limit(env)
        self.success_from_terminated = (
            terminated_means_success(self.env_id)
            if success_from_terminated is None
            else bool(success_from_terminated)
        )
        self.render_mode = "rgb_array"
        self.action_space = spaces.Box(-1.0, 1.0, self._low.shape, np.float32)
        self.observation_space = spaces.Dict(
            {
                "pixels": spaces.Box(0, 255, (size, size, 3), np.uint8),
                "state": self._layout.state_space,
            }
        )
        self._family = state_family(env.unwrapped)
        self._frame = np.zeros((size, size, 3), np.uint8)

    def __getattr__(self, name: str) -> Any:
        """An attribute the adapter lacks, looked up on the wrapped env's `unwrapped`."""
        if name.startswith("__") or "env" not in self.__dict__:
            raise AttributeError(name)
        try:
            return getattr(self.__dict__["env"].unwrapped, name)
        except AttributeError:
            raise AttributeError(
                f"neither GymnasiumAdapter nor {_name(self.__dict__['env'])} has {name!r}"
            ) from None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset the wrapped env (same seed and options)."""
        super().reset(seed=seed)
        obs, info = self.env.reset(seed=seed, options=options)
        return self._observation(obs), with_success(info, False, self.success_from_terminated)

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Step with action [A] in [-1, 1], mapped affinely to the wrapped env's bounds."""
        obs, reward, terminated, truncated, info = self.env.step(self.env_action(action))
        info = with_success(info, bool(terminated), self.success_from_terminated)
        return self._observation(obs), float(reward), bool(terminated), bool(truncated), info

    def env_action(self, action: np.ndarray) -> np.ndarray:
        """Action [A] in [-1, 1] (clipped) -> the wrapped env's action [A], in its dtype."""
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        return (self._low + (a + 1.0) / 2.0 * (self._high - self._low)).astype(self._action_dtype)

    def unit_action(self, env_action: np.ndarray) -> np.ndarray:
        """The inverse of `env_action`: the env's action [A] -> float32 [A] in [-1, 1]."""
        span = self._high - self._low
        inner = np.asarray(env_action, dtype=np.float64)
        unit = np.divide(2.0 * (inner - self._low), span, out=np.ones_like(inner), where=span > 0)
        return np.clip(unit - 1.0, -1.0, 1.0).astype(np.float32)

    def sim_state(self) -> np.ndarray | None:
        """The simulator state, float64 [N] (a copy), or None where the env family is unknown."""
        return None if self._family is None else read_state(self.env.unwrapped, self._family)

    def set_sim_state(self, state: np.ndarray) -> dict[str, np.ndarray]:
        """Set the simulator to `state` (from `sim_state`); returns the observation there.

        Raises:
            ConfigError: the env has no known state setter (`sim_state()` is None).
            ShapeError: `state` is not of the env's state size.
        """
        if self._family is None:
            raise ConfigError(
                f"{_name(self.env)} has no known simulator state setter; "
                "reach a recorded state by replaying its actions from the episode's seed"
            )
        return self._observation(write_state(self.env.unwrapped, self._family, state))

    def render(self) -> np.ndarray:
        """The latest pixel observation, uint8 [size, size, 3] (a copy)."""
        return self._frame.copy()

    def close(self) -> None:
        """Close the wrapped env."""
        self.env.close()

    def _observation(self, obs: Any) -> dict[str, np.ndarray]:
        frame = (
            self._render()
            if self._pixels_key is None
            else self._layout.image(obs, self._pixels_key)
        )
        self._frame = _resized(frame, self.size, self.env)
        return {"pixels": self._frame.copy(), "state": self._layout.state(obs)}

    def _render(self) -> Any:
        try:
            return self.env.render()
        except gymnasium.error.DependencyNotInstalled as exc:
            raise DependencyMissingError(" ".join(str(exc).split())) from exc


def _pixels_source(env: gymnasium.Env, layout: ObservationLayout, key: str | None) -> str | None:
    """The observation entry pixels come from, or None for `render()` (module docstring)."""
    space = env.observation_space
    if key is not None:
        if not isinstance(space, spaces.Dict) or key not in space.spaces:
            raise ConfigError(f"{_name(env)} observation has no entry pixels_key={key!r}")
        if not is_image_space(space.spaces[key]):
            raise ConfigError(
                f"{_name(env)} observation entry {key!r} is not a uint8 [h, w, 3] image "
                f"(pixels_key), got {space.spaces[key]}"
            )
        return key
    modes = env.unwrapped.metadata.get("render_modes", ["rgb_array"])
    if env.render_mode == "rgb_array" and "rgb_array" in modes:
        return None
    if layout.image_key is not None:
        return layout.image_key
    raise ConfigError(
        f"{_name(env)} must render rgb_array frames (its render modes: {modes}; render_mode "
        f"{env.render_mode!r}) or give a uint8 [h, w, 3] image in its observation"
    )


def _action_bounds(env: gymnasium.Env) -> tuple[np.ndarray, np.ndarray, np.dtype[Any]]:
    """The finite bounds (float64 [A]) and dtype of `env`'s flat Box action space."""
    space = env.action_space
    if not isinstance(space, spaces.Box):
        raise ConfigError(
            f"{_name(env)} action space must be a Box, got {type(space).__name__}; "
            "ami plans continuous actions"
        )
    if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise ConfigError(
            f"{_name(env)} action space has infinite bounds; actions in [-1, 1] can only be "
            "mapped to finite bounds (wrap the env with gymnasium.wrappers.ClipAction or "
            "RescaleAction)"
        )
    if len(space.shape) != 1:
        raise ConfigError(
            f"{_name(env)} action space must be a flat Box [A], got shape {space.shape}; "
            "wrap the env so that it takes a flat action vector"
        )
    return space.low.astype(np.float64), space.high.astype(np.float64), space.dtype


def _time_limit(env: gymnasium.Env) -> int | None:
    """The `max_episode_steps` of a `TimeLimit` around `env`, or None."""
    layer: Any = env
    while isinstance(layer, gymnasium.Wrapper):
        if isinstance(layer, gymnasium.wrappers.TimeLimit):
            return int(layer._max_episode_steps)
        layer = layer.env
    return None


def _resized(frame: Any, size: int, env: gymnasium.Env) -> np.ndarray:
    """`frame` [h, w, >=3] as uint8 [size, size, 3]."""
    frame = np.asarray(frame) if frame is not None else None
    if frame is None or frame.ndim != 3 or frame.shape[2] < 3:
        shape = None if frame is None else frame.shape
        raise ConfigError(f"{_name(env)} frames must be [h, w, 3], got {shape}")
    image = Image.fromarray(np.ascontiguousarray(frame[:, :, :3]).astype(np.uint8))
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8).copy()


def _name(env: gymnasium.Env) -> str:
    spec = env.spec
    return f"env {spec.id!r}" if spec is not None else f"env {type(env).__name__}"
