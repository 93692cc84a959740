"""The world registry: names to factories; `make(name, **overrides)` builds a configured world.

Besides the registered names, `make` takes `gym:[MODULE:]ENV_ID`: any Gymnasium env through
`from_gymnasium` (see `ami.worlds.gym_id`).

Overrides go into the world's frozen config, so a misspelt key is a `ConfigError` rather than a
silently ignored default. TwoRoom is also registered with Gymnasium as "ami/TwoRoom-v0".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium

from ami.config import replace_config
from ami.errors import ConfigError, UnknownWorldError
from ami.worlds.cube import make_cube
from ami.worlds.gym_id import is_gym_world
from ami.worlds.gymnasium_adapter import make_gym_world
from ami.worlds.maze import Maze, MazeConfig
from ami.worlds.push_t import make_push_t
from ami.worlds.reacher import make_reacher
from ami.worlds.two_room import TwoRoom, TwoRoomConfig

_FACTORIES: dict[str, Callable[..., gymnasium.Env]] = {}


def register(name: str, factory: Callable[..., gymnasium.Env]) -> None:
    """Register `factory(**config_overrides) -> env` under `name` (names are unique)."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"world name must be a non-empty string, got {name!r}")
    if name in _FACTORIES:
        raise ConfigError(f"world {name!r} is already registered")
    if is_gym_world(name):
        raise ConfigError(f"world name {name!r} is reserved: gym: ids name Gymnasium envs")
    _FACTORIES[name] = factory


def make(name: str, **config_overrides: Any) -> gymnasium.Env:
    """Build the world `name`, its config changed by `config_overrides` (unknown key: error).

    A `gym:[MODULE:]ENV_ID` name is any Gymnasium env (`ami.worlds.gym_id`): `size` is the
    pixel size and the other keywords go to `gymnasium.make`.
    """
    if is_gym_world(name):
        return make_gym_world(name, **config_overrides)
    if name not in _FACTORIES:
        raise UnknownWorldError(f"unknown world {name!r}; known worlds: {', '.join(names())}")
    return _FACTORIES[name](**config_overrides)


def names() -> list[str]:
    """The registered world names, sorted (`gym:` worlds are made by id, not listed)."""
    return sorted(_FACTORIES)


def make_two_room(render_mode: str | None = "rgb_array", **config_overrides: Any) -> TwoRoom:
    """A TwoRoom whose default config is changed by `config_overrides` (validated)."""
    return TwoRoom(replace_config(TwoRoomConfig(), **config_overrides), render_mode=render_mode)


def make_maze(render_mode: str | None = "rgb_array", **config_overrides: Any) -> Maze:
    """A Maze whose default config is changed by `config_overrides` (validated)."""
    return Maze(replace_config(MazeConfig(), **config_overrides), render_mode=render_mode)


register("two_room", make_two_room)
register("maze", make_maze)
register("push_t", make_push_t)
register("reacher", make_reacher)
register("cube", make_cube)  # OGBench's cube-single; needs the `ami[cube]` extra

GYMNASIUM_ID = "ami/TwoRoom-v0"
if GYMNASIUM_ID not in gymnasium.registry:
    gymnasium.register(id=GYMNASIUM_ID, entry_point=make_two_room)
