"""Cameras that frame a known Gymnasium env's task at the small sizes world models see.

Some envs' default cameras are made for people watching at 480 px: Gymnasium's `Reacher-v5`
looks at its arena from a slant, so at 64 px its arm is about 12 px long and its target a pixel
or two. For the envs listed here ami asks `gym.make` for a camera that frames the task (the
MuJoCo envs' `default_camera_config`), unless the user's `--world-kwargs` already set that
keyword. The settings go into the recipe's `collect.world_options`, so a checkpoint is always
evaluated through the camera it was trained with; a recipe from before keeps its own.

Example:
    >>> framing("gym:Reacher-v5")["default_camera_config"]["elevation"]
    -90.0
    >>> framing("gym:CartPole-v1")
    {}
"""

from __future__ import annotations

from typing import Any

from ami.worlds.gym_id import is_gym_world, parse_gym_id

# Reacher: straight down on the arena, which the arm's reach (0.21 m) fills at 45 degrees fovy.
_TOP_DOWN_REACHER = {
    "default_camera_config": {
        "distance": 0.6,
        "elevation": -90.0,
        "azimuth": 90.0,
        "lookat": [0.0, 0.0, 0.0],
    }
}

# Gymnasium's own env ids without their version -> the gym.make keywords that frame them
FRAMING: dict[str, dict[str, Any]] = {"Reacher": _TOP_DOWN_REACHER}


def framing(world: str) -> dict[str, Any]:
    """The `gym.make` keywords that frame the `gym:` world `world` ({} for other worlds)."""
    if not is_gym_world(world):
        return {}
    gym_id = parse_gym_id(world)
    if gym_id.module is not None:  # another package's env of the same name is not this one
        return {}
    family = gym_id.env_id.rsplit("-v", 1)[0]
    return {key: _copy(value) for key, value in FRAMING.get(family, {}).items()}


def with_framing(world: str, options: dict[str, Any]) -> dict[str, Any]:
    """`options` with the world's framing keywords added where `options` does not set them."""
    return {**framing(world), **options}


def _copy(value: Any) -> Any:
    return {k: _copy(v) for k, v in value.items()} if isinstance(value, dict) else value
