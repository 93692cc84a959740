"""MuJoCo sites hidden from a Gymnasium env's frames (`from_gymnasium(..., hidden_sites=...)`).

Some MuJoCo envs draw a marker that is not part of the world a model should learn:
gymnasium-robotics' PointMaze draws each episode's goal as a red ball (the site "target"), so
two frames with the ball at the same place but from different episodes look different, and an
embedding of the maze carries the episode's goal along. A goal-conditioned agent is given its
goal as an image, so ami can hide such sites: their colour's alpha is set to 0 in the env's
`MjModel` (the physics is untouched; a site has no mass and no contacts).

Example (with gymnasium-robotics installed):
    >>> import gymnasium, gymnasium_robotics  # doctest: +SKIP
    >>> env = gymnasium.make("PointMaze_Large-v3", render_mode="rgb_array")  # doctest: +SKIP
    >>> hide_sites(env, ["target"])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import gymnasium

from ami.errors import ConfigError

__all__ = ["hide_sites", "mujoco_models"]


def mujoco_models(env: gymnasium.Env) -> list[Any]:
    """The `mujoco.MjModel`s an env simulates: its own `model`, or those of the envs it holds.

    gymnasium-robotics' mazes hold their MuJoCo env as an attribute (PointMaze's `point_env`), so
    the attributes of `env.unwrapped` are searched one level down.
    """
    try:
        import mujoco
    except ImportError:
        return []
    found: list[Any] = []
    for candidate in _model_candidates(env.unwrapped):
        if isinstance(candidate, mujoco.MjModel) and all(candidate is not m for m in found):
            found.append(candidate)
    return found


def hide_sites(env: gymnasium.Env, names: Sequence[str]) -> None:
    """Make the MuJoCo sites `names` of `env` invisible in its frames (alpha 0).

    Raises:
        ConfigError: `env` simulates no MuJoCo model, or a name is none of its sites.
    """
    if not names:
        return
    import mujoco  # there is a model to hide sites of, so mujoco is installed

    models = mujoco_models(env)
    if not models:
        raise ConfigError(f"hidden_sites {list(names)}: {_name(env)} has no MuJoCo model")
    for name in names:
        hidden = False
        for model in models:
            site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, str(name))
            if site >= 0:
                model.site_rgba[site, 3] = 0.0
                hidden = True
        if not hidden:
            sites = sorted({_site_name(m, i) for m in models for i in range(m.nsite)})
            raise ConfigError(
                f"hidden_sites: {_name(env)} has no site {name!r}; its sites: {sites}"
            )


def _model_candidates(unwrapped: Any) -> Iterator[Any]:
    yield getattr(unwrapped, "model", None)
    for value in vars(unwrapped).values():
        if isinstance(value, gymnasium.Env):
            yield getattr(value.unwrapped, "model", None)


def _site_name(model: Any, index: int) -> str:
    import mujoco

    return mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_SITE, index) or f"#{index}"


def _name(env: gymnasium.Env) -> str:
    return env.spec.id if env.spec is not None else type(env.unwrapped).__name__
