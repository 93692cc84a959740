"""One cache root for the trained models and datasets the benchmarks need (`--cache DIR`).

A benchmark asks `trained_model(recipe_or_name, cache)` for the checkpoint of a recipe's model;
the cache returns it, training it first when it is absent (collect with the recipe, then train
with it, as `ami collect` and `ami train` do). No benchmark reads another's folder. The cache
(default `benchmarks/.cache/`, git-ignored) holds:

- `data/<world>-<digest>/experience.h5`: a collection, keyed by its whole `CollectConfig`, so
  every recipe that collects the same way shares it;
- `models/<recipe name>/run/` (checkpoint, `recipe.json`, metrics) and `facts.json`, written
  last: the recipe, collection and training minutes, steps, frames/s, device, and what the
  benchmark that trained the model added (the table's success-vs-training-time curve);
- `<benchmark>/`: each benchmark's own scratch work (`maze/`, `actor/`, `live/`, ...).

A cached model is reused when its recipe trains the same model as the one asked for
(`ami.recipes.trains_the_same_model`: data, windows, model and training; planning may differ);
otherwise it is trained again in its folder, so a variant of a recipe carries a name of its own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any, Protocol

import torch

from ami.config import config_from_dict, config_to_dict
from ami.errors import ConfigError
from ami.experience import CollectConfig
from ami.files import atomic_write_bytes
from ami.model import WorldModel
from ami.pipeline import run_collect, run_train
from ami.recipes import Recipe, preset, trains_the_same_model
from ami.world_recipe import WORLD_PRESETS

DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
FACTS = "facts.json"
# The recipe of each world's benchmark model (the benchmark table's rows): the world's preset.
WORLD_RECIPES: dict[str, Recipe] = {world: preset(name) for world, name in WORLD_PRESETS.items()}


class TrainingWatch(Protocol):
    """A training callback that a benchmark adds (e.g. the table's curve), with its own facts."""

    seconds: float  # time spent in the callback, not counted as training time

    def begin(self) -> None:
        """Training starts now (after the collection)."""

    def __call__(self, model: WorldModel, step: int) -> None:
        """Called at every logged step."""

    def facts(self) -> dict[str, Any]:
        """What to add to the model's facts when training ends."""


def add_cache_argument(parser: argparse.ArgumentParser) -> None:
    """The `--cache DIR` option every benchmark that needs a model takes."""
    parser.add_argument(
        "--cache",
        type=Path,
        default=DEFAULT_CACHE,
        help="cache of trained models and data, trained there when absent "
        "(default benchmarks/.cache)",
    )


def recipe_named(name: str) -> Recipe:
    """A world's benchmark recipe (`two_room`, `push_t`, `reacher`) or a preset (`tiny`, ...)."""
    return WORLD_RECIPES[name] if name in WORLD_RECIPES else preset(name)


def experience(config: CollectConfig, cache: Path, progress: bool = True, workers: int = 1) -> Path:
    """The dataset that `config` collects, collected into the cache when absent (`workers`)."""
    text = json.dumps(config_to_dict(config), sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = cache / "data" / f"{config.world}-{digest}" / "experience.h5"
    if not path.is_file():  # written atomically: a file there is whole
        run_collect(config, path, progress=progress, workers=workers)
    return path


def same_recipe(stored: Any, recipe: Recipe) -> bool:
    """Whether a model trained from `stored` (a facts file's recipe) is `recipe`'s model.

    Fields added since, with their defaults, match; a stored value that is not a recipe does not.
    """
    try:
        before = config_from_dict(Recipe, stored)
    except (ConfigError, TypeError, ValueError, AttributeError):
        return False
    return trains_the_same_model(before, recipe)


def model_folder(recipe: Recipe, cache: Path) -> Path:
    """Where the cache keeps `recipe`'s model."""
    return cache / "models" / recipe.name


def cached_model(recipe: Recipe, cache: Path) -> Path | None:
    """The checkpoint of `recipe`'s model in the cache, or None when none was trained."""
    folder = model_folder(recipe, cache)
    checkpoint = folder / "run" / "checkpoint"
    if not (folder / FACTS).is_file() or not (checkpoint / "model.json").is_file():
        return None
    return checkpoint if same_recipe(model_facts(checkpoint).get("recipe"), recipe) else None


def model_facts(checkpoint: Path) -> dict[str, Any]:
    """The facts of a cached model's training (`{}` for a checkpoint outside the cache)."""
    path = checkpoint.parent.parent / FACTS
    return json.loads(path.read_text()) if path.is_file() else {}


def trained_model(
    recipe: Recipe | str,
    cache: Path = DEFAULT_CACHE,
    device: torch.device | None = None,
    progress: bool = True,
    watch: TrainingWatch | None = None,
    retrain: bool = False,
    collect_workers: int = 1,
) -> Path:
    """The checkpoint of `recipe`'s model (a recipe, a world or a preset name), trained if absent.

    `watch` is called during training (it is not called when the model is reused) and its facts
    are kept; `retrain` trains even when the cache holds the model; `collect_workers` processes
    collect its data when the cache lacks it (the same data as one process).
    """
    recipe = recipe if isinstance(recipe, Recipe) else recipe_named(recipe)
    found = None if retrain else cached_model(recipe, cache)
    if found is not None:
        return found
    device = device or torch.device("cpu")
    folder = model_folder(recipe, cache)
    started = time.perf_counter()
    data = experience(recipe.collect, cache, progress, collect_workers)
    collected = time.perf_counter()
    (folder / FACTS).unlink(missing_ok=True)
    if (folder / "run").exists():  # another recipe's or an unfinished run: never resume it
        shutil.rmtree(folder / "run")
    if progress:
        print(f"training the {recipe.name} recipe's model in {folder}", flush=True)
    callbacks = [watch] if watch is not None else []
    if watch is not None:
        watch.begin()
    _, result = run_train(recipe, data, folder / "run", device, progress, callbacks=callbacks)
    paused = watch.seconds if watch is not None else 0.0
    facts = {
        "recipe": config_to_dict(recipe),
        "collect_minutes": (collected - started) / 60,
        "train_minutes": (result.seconds - paused) / 60,
        "train_steps": result.steps,
        "train_frames_per_second": result.frames_per_second,
        "device": str(device),
        "torch_threads": result.threads,
        **(watch.facts() if watch is not None else {}),
    }
    atomic_write_bytes(folder / FACTS, json.dumps(facts, indent=2).encode())
    return folder / "run" / "checkpoint"


def keep_model(recipe: Recipe, run: Path, cache: Path, facts: dict[str, Any]) -> Path:
    """Put a run trained from `recipe` elsewhere (e.g. by the demo) into the cache; its checkpoint.

    Nothing is copied when the cache already holds `recipe`'s model.
    """
    found = cached_model(recipe, cache)
    if found is not None:
        return found
    folder = model_folder(recipe, cache)
    (folder / FACTS).unlink(missing_ok=True)
    if (folder / "run").exists():
        shutil.rmtree(folder / "run")
    shutil.copytree(run, folder / "run")
    document = {**facts, "recipe": config_to_dict(recipe)}
    atomic_write_bytes(folder / FACTS, json.dumps(document, indent=2).encode())
    return folder / "run" / "checkpoint"


def scratch(cache: Path, benchmark: str) -> Path:
    """A benchmark's own folder in the cache (created)."""
    folder = cache / benchmark
    folder.mkdir(parents=True, exist_ok=True)
    return folder
