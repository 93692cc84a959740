"""World ids `gym:ENV_ID` and `gym:MODULE:ENV_ID`: any registered Gymnasium env, made for ami.

`gym:Pendulum-v1` makes Gymnasium's `Pendulum-v1`; `gym:gymnasium_robotics:PointMaze_UMaze-v3`
first imports `gymnasium_robotics` (importing a package registers its envs, Gymnasium's own
"module:EnvId" syntax) and then makes `PointMaze_UMaze-v3`. The env is made with
`render_mode="rgb_array"` unless the keywords name another, and every keyword goes to
`gymnasium.make` (so `max_episode_steps=N` replaces the env's `TimeLimit`).

Render size: an env whose constructor takes `width` and `height` (every Gymnasium MuJoCo env does)
is made at the pixel size unless the keywords give them, so MuJoCo renders 64x64 instead of
rendering 480x480 and having the frame shrunk. On `gym:Reacher-v5` at 64 px (one core, EGL on a
CPU-only machine, rendering every step) that is 193 steps/s against 47 at 480x480 (182 at
128x128; `python -m benchmarks.gym_render_size`, benchmarks/results/gym_render_size.json);
gymnasium-robotics' `PointMaze_*` and `AntMaze_*` pass them on to their MuJoCo env (PointMaze
Medium: about 100 steps/s at 64x64 against 32 at 480x480, one core, same machine). The
picture is the same, rendered small rather than shrunk (mean absolute pixel difference 1.3 of
255 on a reset frame), with slightly harder edges on the thin arm.

Each failure is one line: an unknown id or unimportable-id hint (`UnknownWorldError`), a module
or an env dependency that is not installed (`DependencyMissingError`, naming what to pip
install), a keyword the env does not take (`ConfigError`, naming it).
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium

from ami.errors import ConfigError, DependencyMissingError, UnknownWorldError

GYM_PREFIX = "gym:"

# import name -> what to pip install, for packages known to register Gymnasium envs
_PIP_NAMES = {
    "gymnasium_robotics": "gymnasium-robotics",
    "stable_worldmodel": "stable-worldmodel",
    "ogbench": "ogbench",
    "ale_py": "ale-py",
    "shimmy": "shimmy[dm-control]",
    "imageio": "imageio (or gymnasium[mujoco])",
    "pygame": "pygame (or gymnasium[classic-control])",
    "Box2D": "box2d-py (or gymnasium[box2d])",
    "mujoco": "mujoco",
}

# (id prefix, module that registers such ids): hints for an id made without its module
_KNOWN_MODULES = (
    ("swm/", "stable_worldmodel"),
    ("PointMaze", "gymnasium_robotics"),
    ("AntMaze", "gymnasium_robotics"),
    ("Fetch", "gymnasium_robotics"),
    ("HandManipulate", "gymnasium_robotics"),
    ("Adroit", "gymnasium_robotics"),
    ("FrankaKitchen", "gymnasium_robotics"),
    ("pointmaze-", "ogbench"),
    ("antmaze-", "ogbench"),
    ("cube-", "ogbench"),
    ("scene-", "ogbench"),
    ("puzzle-", "ogbench"),
)


@dataclass(frozen=True)
class GymId:
    """A parsed `gym:` world id.

    Attributes:
        module: the module imported first (it registers the env), or None.
        env_id: the Gymnasium env id, e.g. "Reacher-v5" or "swm/TwoRoom-v1".
    """

    module: str | None
    env_id: str

    @property
    def world(self) -> str:
        """The ami world id, `gym:[MODULE:]ENV_ID`."""
        return GYM_PREFIX + (f"{self.module}:{self.env_id}" if self.module else self.env_id)


def is_gym_world(name: object) -> bool:
    """Whether `name` is a `gym:` world id (a Gymnasium env rather than a built-in world)."""
    return isinstance(name, str) and name.startswith(GYM_PREFIX)


def parse_gym_id(name: str) -> GymId:
    """Parse `gym:ENV_ID`, `gym:MODULE:ENV_ID` or Gymnasium's own `[MODULE:]ENV_ID`.

    Raises:
        UnknownWorldError: the id is empty or has more than one `:` after the prefix.
    """
    body = name[len(GYM_PREFIX) :] if is_gym_world(name) else name
    parts = body.split(":")
    if len(parts) > 2 or not all(parts):
        raise UnknownWorldError(
            f"malformed Gymnasium world id {name!r}: write gym:ENV_ID or gym:MODULE:ENV_ID "
            "(e.g. gym:Pendulum-v1, gym:gymnasium_robotics:PointMaze_UMaze-v3)"
        )
    return GymId(None, parts[0]) if len(parts) == 1 else GymId(parts[0], parts[1])


def make_gym_env(gym_id: GymId, size: int, make_kwargs: Mapping[str, Any]) -> gymnasium.Env:
    """`gymnasium.make` the env of `gym_id` for pixels of side `size` (see the module docstring).

    Raises:
        UnknownWorldError: the id is not registered (after importing its module).
        DependencyMissingError: the module, or a package the env needs, is not installed.
        ConfigError: a keyword the env's constructor does not take.
    """
    if gym_id.module is not None:
        _import(gym_id, gym_id.module)
    spec = _spec(gym_id)
    kwargs = {"render_mode": "rgb_array", **make_kwargs}
    if "width" not in kwargs and "height" not in kwargs and _takes_width_height(spec, gym_id):
        kwargs.update(width=size, height=size)
    try:
        with warnings.catch_warnings():  # an env without rgb_array is refused with one line later
            warnings.filterwarnings("ignore", message=".*not in the possible render_modes")
            return gymnasium.make(spec, **kwargs)
    except gymnasium.error.DependencyNotInstalled as exc:
        raise DependencyMissingError(f"{gym_id.world}: {_one_line(exc)}") from exc
    except ImportError as exc:
        raise DependencyMissingError(_missing_module(gym_id, exc)) from exc
    except AssertionError as exc:  # gymnasium.make asserts the render mode is supported
        if "render mode" not in str(exc):
            raise
        raise ConfigError(
            f"{gym_id.world} cannot render {kwargs['render_mode']!r} ({_one_line(exc)}); ami "
            "learns from pixels, so the env must render rgb_array frames"
        ) from exc
    except TypeError as exc:
        if "unexpected keyword argument" not in str(exc):
            raise
        raise ConfigError(
            f"{gym_id.world} does not take a keyword given in its world kwargs "
            f"({_one_line(exc).split(' was raised')[0]}); remove it or fix its spelling"
        ) from exc


def _import(gym_id: GymId, module: str) -> None:
    """Import `module`, the module of `gym_id` (importing it registers its envs)."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise DependencyMissingError(_missing_module(gym_id, exc)) from exc


def _missing_module(gym_id: GymId, exc: ImportError) -> str:
    """One line naming the module that could not be imported and what to pip install."""
    missing = (exc.name or gym_id.module or "").split(".")[0]
    if not missing:
        return f"{gym_id.world} cannot be made: {_one_line(exc)}"
    package = _PIP_NAMES.get(missing, f"the package that provides {missing!r}")
    return (
        f"{gym_id.world} needs the Python module {missing!r}, which cannot be imported "
        f"({_one_line(exc)}); pip install {package}"
    )


def _spec(gym_id: GymId) -> gymnasium.envs.registration.EnvSpec:
    """The registered spec of `gym_id.env_id`, or a one-line `UnknownWorldError`."""
    try:
        return gymnasium.spec(gym_id.env_id)
    except gymnasium.error.Error as exc:
        hint = _module_hint(gym_id)
        raise UnknownWorldError(
            f"unknown Gymnasium env id {gym_id.env_id!r} in world {gym_id.world!r}: "
            f"{_one_line(exc).rstrip('.')}{hint}"
        ) from exc


def _module_hint(gym_id: GymId) -> str:
    """A hint to name the module that registers the id, where the id is a known family's."""
    if gym_id.module is not None:
        return f" (importing {gym_id.module!r} did not register it)"
    for prefix, module in _KNOWN_MODULES:
        if gym_id.env_id.startswith(prefix):
            return (
                f"; such ids are registered by {module!r}: write "
                f"gym:{module}:{gym_id.env_id} (pip install {_PIP_NAMES[module]})"
            )
    return "; if a package registers it, write gym:MODULE:ENV_ID to import it first"


# id prefixes of envs whose **kwargs reach a MuJoCo env inside them (composed, not inherited)
_FORWARDS_WIDTH_HEIGHT = ("PointMaze_", "AntMaze_")


def _takes_width_height(spec: gymnasium.envs.registration.EnvSpec, gym_id: GymId) -> bool:
    """Whether the env's constructor takes `width` and `height` (directly or via **kwargs)."""
    if gym_id.env_id.startswith(_FORWARDS_WIDTH_HEIGHT):
        return True
    creator: Any = spec.entry_point
    if isinstance(creator, str):
        try:
            creator = gymnasium.envs.registration.load_env_creator(creator)
        except ImportError:
            return False  # gymnasium.make reports it, with its own message
    if creator is None:
        return False
    chain = inspect.getmro(creator) if inspect.isclass(creator) else (creator,)
    for link in chain:
        function = link.__init__ if inspect.isclass(link) else link
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):
            return False
        if "width" in parameters and "height" in parameters:
            return True
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            return False
    return False


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
