"""Framings of known Gymnasium envs: what their frames show at the small sizes world models see.

Some envs' default cameras are made for people watching at 480 px: Gymnasium's `Reacher-v5`
looks at its arena from a slant, so at 64 px its arm is about 12 px long and its target a pixel
or two. For Reacher ami asks `gym.make` for a camera that frames the task (the MuJoCo envs'
`default_camera_config`). gymnasium-robotics' PointMaze draws each episode's own goal as a red
ball in every frame, so the same place looks different from one episode to the next and a
memory of places cannot link episodes (measured: the nearest place of another episode 20 times
farther in embedding than the nearest of the same one); ami hides that marker (`hidden_sites`,
`ami.worlds.mujoco_sites`), as a goal-conditioned agent is given its goal as an image.

A keyword the user's `--world-kwargs` sets is kept. The settings go into the recipe's
`collect.world_options`, so a checkpoint is always evaluated through the framing it was trained
with; a recipe from before keeps its own.

Example:
    >>> framing("gym:Reacher-v5")["default_camera_config"]["elevation"]
    -90.0
    >>> framing("gym:gymnasium_robotics:PointMaze_Large-v3")
    {'hidden_sites': ['target']}
    >>> framing("gym:CartPole-v1")
    {}
"""

from __future__ import annotations

import re
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

# (the module that registers the envs, None for Gymnasium's own; a pattern of their ids without
# the version) -> the keywords that frame them
FRAMING: dict[tuple[str | None, str], dict[str, Any]] = {
    (None, "Reacher"): _TOP_DOWN_REACHER,
    ("gymnasium_robotics", r"PointMaze_\w+"): {"hidden_sites": ["target"]},
}


def framing(world: str) -> dict[str, Any]:
    """The `gym.make` keywords that frame the `gym:` world `world` ({} for other worlds)."""
    if not is_gym_world(world):
        return {}
    gym_id = parse_gym_id(world)
    family = gym_id.env_id.rsplit("-v", 1)[0]
    for (module, pattern), keywords in FRAMING.items():
        # another package's env of the same name is not this one
        if module == gym_id.module and re.fullmatch(pattern, family):
            return {key: _copy(value) for key, value in keywords.items()}
    return {}


def with_framing(world: str, options: dict[str, Any]) -> dict[str, Any]:
    """`options` with the world's framing keywords added where `options` does not set them."""
    return {**framing(world), **options}


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return list(value) if isinstance(value, list) else value
