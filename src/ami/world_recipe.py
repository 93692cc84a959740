"""One map from a world to the recipe that trains and plans in it, built-in or Gymnasium.

Each built-in world has its preset (`WORLD_PRESETS`: TwoRoom the `demo` recipe, PushT `push_t`,
Reacher `reacher`, Cube `cube`). Any other world, such as a Gymnasium env named `gym:ENV_ID` (or
`gym:MODULE:ENV_ID`, whose MODULE registers the env on import), gets a recipe derived from the
world itself, starting from a base preset (`demo` unless another is named):

- the world id and its settings (`world_options`: the `gym.make` keyword arguments, such as a
  camera or a render size) are recorded in `collect`, so every later command (`ami eval` on the
  checkpoint included) rebuilds the same world from `recipe.json`;
- the predictor's action input is `frameskip x A`, with `A` read from the env's action space;
- the collection policy is `random` where the world has no scripted expert;
- a known env whose default camera does not frame its task at 64 px gets one that does
  (`ami.worlds.gym_framing`; the user's `--world-kwargs` win), recorded like any other option;

Example:
    >>> from ami.world_recipe import recipe_for_world
    >>> recipe_for_world("two_room").name
    'demo'
"""

from __future__ import annotations

import importlib
import json
from dataclasses import replace
from typing import Any

from ami.errors import ConfigError, DependencyMissingError
from ami.experience.collect import EXPERT_WORLDS
from ami.recipes import Recipe, preset
from ami.worlds import make
from ami.worlds.gym_framing import with_framing

# The preset each built-in world's models are trained with when no recipe is named.
WORLD_PRESETS = {"two_room": "demo", "push_t": "push_t", "reacher": "reacher", "cube": "cube"}
GYM_PREFIX = "gym:"


def recipe_for_world(
    world: str, world_options: dict[str, Any] | None = None, base: str | None = None
) -> Recipe:
    """The recipe of `world`: its preset if it has one, else `base` (default `demo`) adapted to it.

    Args:
        world: a registered world name or a `gym:` id.
        world_options: the world's settings (for `gym:` worlds, the `gym.make` keyword arguments).
        base: the preset to start from (for a built-in world: instead of its own preset).

    Raises:
        ConfigError: the named preset is unknown, or the preset is for another world.
        UnknownWorldError: the world is unknown.
    """
    options = with_framing(world, dict(world_options or {}))
    if world in WORLD_PRESETS and base is None and not options:
        return preset(WORLD_PRESETS[world])
    recipe = preset(base or WORLD_PRESETS.get(world, "demo"))
    if recipe.collect.world == world:
        if not options:
            return recipe
        options = {**recipe.collect.world_options, **options}
    return adapt_recipe(recipe, world, options)


def adapt_recipe(recipe: Recipe, world: str, world_options: dict[str, Any]) -> Recipe:
    """`recipe` retargeted to `world`: world id and options, action size, collection policy."""
    env = make(world, size=recipe.collect.image_size, **world_options)
    try:
        shape = env.action_space.shape
        if shape is None or len(shape) != 1:
            raise ConfigError(f"world {world!r} needs a flat Box action space, got {shape}")
        action_size = int(shape[0])
    finally:
        env.close()
    policy = recipe.collect.policy if world in EXPERT_WORLDS else "random"
    collect = replace(recipe.collect, world=world, world_options=world_options, policy=policy)
    frameskip = recipe.model.frameskip
    predictor = replace(recipe.model.predictor, action_dim=frameskip * action_size)
    train = replace(recipe.train, symmetries=False)  # symmetries belong to their own world
    name = recipe.name if recipe.collect.world == world else f"{recipe.name}@{world}"
    return replace(
        recipe,
        name=name,
        collect=collect,
        model=replace(recipe.model, predictor=predictor),
        train=train,
    )


def recipe_for_data(world: str, action_size: int, base: Recipe) -> Recipe:
    """`base` retargeted to experience that no ami world produced (world `data:FORMAT`).

    Only what training needs is derived (the world name and the predictor's action input,
    `frameskip x action_size`); collection and evaluation need an env, which such data has not.

    Raises:
        ConfigError: `action_size` is not a positive integer.
    """
    if not isinstance(action_size, int) or action_size < 1:
        raise ConfigError(f"the dataset's action size must be >= 1, got {action_size!r}")
    collect = replace(base.collect, world=world, world_options={}, policy="random")
    predictor = replace(base.model.predictor, action_dim=base.model.frameskip * action_size)
    return replace(
        base,
        name=f"{base.name}@{world}",
        collect=collect,
        model=replace(base.model, predictor=predictor),
        train=replace(base.train, symmetries=False),
    )


def parse_world_kwargs(text: str | None) -> dict[str, Any]:
    """The `--world-kwargs` JSON object as a dict (empty without it).

    Raises:
        ConfigError: the text is not a JSON object.
    """
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--world-kwargs is not valid JSON: {exc.msg} ({text!r})") from None
    if not isinstance(value, dict):
        raise ConfigError(
            f"--world-kwargs must be a JSON object of settings, got {type(value).__name__}: "
            f"{text!r}"
        )
    if "size" in value:
        raise ConfigError("--world-kwargs must not set 'size'; use --image-size or the recipe")
    return value


def import_world_modules(world: str, modules: list[str] | None) -> str:
    """Import `modules` (they register their envs) and return the world id to record.

    A `gym:ENV_ID` named with `--import MODULE` is recorded as `gym:MODULE:ENV_ID`, so that a
    later command (another process) imports MODULE again before making the env.

    Raises:
        DependencyMissingError: a module cannot be imported.
    """
    for module in modules or []:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise DependencyMissingError(
                f"--import {module}: cannot import it ({exc}); pip install the package that "
                "provides it"
            ) from None
    if modules and world.startswith(GYM_PREFIX) and ":" not in world[len(GYM_PREFIX) :]:
        return f"{GYM_PREFIX}{modules[0]}:{world[len(GYM_PREFIX) :]}"
    return world
