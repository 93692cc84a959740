"""`ami probe` and `ami surprise`: what a trained world model understands of its world, measured.

Registered on the main app in `ami.cli`. Both build their parts (world check, model, episodes)
and call `ami.understanding`; errors a user can cause are one-line `AmiError`s. The world is the
model's (its checkpoint's metadata; its settings from the run's recipe.json) unless `--world`
names another; `--world-kwargs` and `--import` are the shared options of every command.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any, get_args

import typer
from rich.console import Console
from rich.table import Table

from ami.checks import checkpoint_folder, require_output_folder
from ami.cli.options import (
    DeviceOption,
    ImportOption,
    ModelOption,
    QuietOption,
    WorldKwargsOption,
    WorldOption,
)
from ami.device import resolve_device, seed_everything
from ami.errors import CheckpointError, ConfigError, DatasetError
from ami.experience import Episode, ExperienceDataset
from ami.files import atomic_write_bytes
from ami.model import WorldModel
from ami.provenance import machine_facts
from ami.recipes import load_recipe
from ami.understanding.models import CONFIG_FILE, load_model, read_checkpoint_json
from ami.understanding.perturbations import EVENTS, HOOKED_WORLDS
from ami.understanding.plots import plot_probe_scatter, plot_surprise
from ami.understanding.probe_run import (
    HEADLINE_PROBE,
    STEPS_PER_EPISODE,
    ProbeRunConfig,
    QuantityResult,
    probe_document,
    probe_episodes,
    run_probes,
)
from ami.understanding.quantities import quantity_groups
from ami.understanding.state_events import require_state_setter
from ami.understanding.surprise_run import SurpriseReport, SurpriseRunConfig, run_surprise
from ami.world_recipe import import_world_modules, parse_world_kwargs
from ami.worlds import make

# the shared --world option, here optional: without it, the model's world
ModelWorldOption = Annotated[str | None, get_args(WorldOption)[1]]


def probe(
    model: ModelOption,
    world: ModelWorldOption = None,
    world_kwargs: WorldKwargsOption = None,
    imports: ImportOption = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for probe.json and plots (default probe-WORLD).")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(help="An HDF5 dataset of the world to probe on (default: fresh episodes)."),
    ] = None,
    episodes: Annotated[int, typer.Option(help="Episodes (70 % fit, 30 % held out).")] = 600,
    seed: Annotated[int, typer.Option(help="Seed of the fresh episodes and the probes.")] = 0,
    device: DeviceOption = "auto",
    quiet: QuietOption = False,
) -> None:
    """Probe frozen embeddings for the world's state; write probe.json and plots.

    TwoRoom, PushT and the cube: positions, angles (the cube: its quaternion, the gripper's
    opening) and velocities; any other world (gym: worlds too): every component of its state,
    by name. Linear (ridge) and MLP probes are fitted on 70 % of
    the episodes and scored (Pearson r, R²) on the held-out 30 %, beside the same probes on a
    randomly initialised encoder (the floor). --world defaults to the model's world.
    """
    world, options = model_world(model, world, world_kwargs, imports)
    quantity_groups(world, options)  # a world without a state fails before any work
    out = require_output_folder(Path(f"probe-{folder_name(world)}") if out is None else out)
    config = ProbeRunConfig(
        world=world,
        episodes=episodes,
        steps_per_episode=STEPS_PER_EPISODE.get(world, ProbeRunConfig.steps_per_episode),
        seed=1_000_000 + seed,
        world_options=options,
    )
    seed_everything(seed)
    world_model = load_model(model, world, resolve_device(device))
    if data is None:
        runs = probe_episodes(config, world_model.config.encoder.image_size, progress=not quiet)
    else:
        runs = _dataset_episodes(data, world, episodes, world_model)
    results = run_probes(world_model, runs, config, progress=not quiet)
    out.mkdir(parents=True, exist_ok=True)
    for result in results:
        plot_probe_scatter(result, out / f"scatter_{folder_name(result.quantity)}.png", world)
    document = probe_document(results, config)
    document["run"] = {**machine_facts(), "command": _command(), "model": str(model)}
    atomic_write_bytes(out / "probe.json", (json.dumps(document, indent=2) + "\n").encode())
    Console().print(probe_table(world, results))
    Console(stderr=True).print(f"wrote {out / 'probe.json'} and {len(results)} scatter plots")


def surprise(
    model: ModelOption,
    world: ModelWorldOption = None,
    world_kwargs: WorldKwargsOption = None,
    imports: ImportOption = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for surprise.json and surprise.png (default surprise-WORLD)."),
    ] = None,
    pairs: Annotated[int, typer.Option(help="Matched pairs per event type.")] = 100,
    false_alarm_rate: Annotated[
        float, typer.Option(help="Monitor threshold: share of normal steps above it.")
    ] = 0.01,
    seed: Annotated[int, typer.Option(help="Seed of the episodes and events.")] = 0,
    device: DeviceOption = "auto",
    quiet: QuietOption = False,
) -> None:
    """Surprise at impossible events vs their unchanged twins: AUROC, sign test, plot.

    Events: teleport, wall_pass, vanish (impossible) and colour_change, unchanged (controls) in
    TwoRoom and PushT; in the cube world teleport (across the table), wall_pass (the cube sunk
    through the table) and the controls; in a gym: world whose simulator state can be set,
    teleport (to a state of another episode), colour_change and unchanged. --world defaults to
    the model's world.
    """
    world, options = model_world(model, world, world_kwargs, imports)
    config = SurpriseRunConfig(
        world=world,
        pairs=pairs,
        false_alarm_rate=false_alarm_rate,
        seed=2_000_000 + seed,
        world_options=options,
    )
    if config.world not in HOOKED_WORLDS:
        require_state_setter(world, options)  # before any work
        config = config.fitted_to(_episode_limit(world, options))
    out = require_output_folder(Path(f"surprise-{folder_name(world)}") if out is None else out)
    seed_everything(seed)
    world_model = load_model(model, world, resolve_device(device))
    report = run_surprise(world_model, config, progress=not quiet)
    out.mkdir(parents=True, exist_ok=True)
    plot_surprise(report, out / "surprise.png")
    document = report.as_dict()
    document["run"] = {**machine_facts(), "command": _command(), "model": str(model)}
    atomic_write_bytes(out / "surprise.json", (json.dumps(document, indent=2) + "\n").encode())
    Console().print(surprise_table(report))
    Console(stderr=True).print(f"wrote {out / 'surprise.json'} and {out / 'surprise.png'}")


def probe_table(world: str, results: list[QuantityResult]) -> Table:
    """The rich table of a probing run: r and R² per quantity, probe and encoder."""
    table = Table(title=f"{world}: probes on held-out episodes (Pearson r / R²)")
    table.add_column("quantity")
    for column in ("linear", "MLP", "random encoder, MLP"):
        table.add_column(column, justify="right")
    for result in results:
        trained, floor = result.scores["trained"], result.scores["random"]
        table.add_row(
            f"{result.quantity} ({result.unit})",
            *(
                f"{s['r']:.3f} / {s['r2']:.3f}"
                for s in (trained["linear"], trained["mlp"], floor[HEADLINE_PROBE])
            ),
        )
    return table


def surprise_table(report: SurpriseReport) -> Table:
    """The rich table of a surprise run: per event, AUROC, p-value and flag rates."""
    config = report.config
    table = Table(
        title=f"{config.world}: surprise at the event frame vs the twin "
        f"(threshold {report.threshold:.3f} = false-alarm rate {config.false_alarm_rate:g})"
    )
    columns = (
        "event",
        "AUROC",
        "sign test p",
        "flagged",
        "flag p (vs rate)",
        "twin flagged",
        "pairs",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for name in EVENTS:
        if name not in report.results:
            continue
        f = report.results[name].figures(report.threshold, report.config.false_alarm_rate)
        if f["pairs"] == 0:
            table.add_row(name, "-", "-", "-", "-", "-", "0")
            continue
        table.add_row(
            name,
            f"{f['auroc']:.3f}",
            f"{f['p_value']:.2g}",
            f"{100 * f['flag_rate']:.1f} %",
            f"{f['flag_p_value']:.2g}",
            f"{100 * f['twin_flag_rate']:.1f} %",
            str(f["pairs"]),
        )
    return table


def _dataset_episodes(path: Path, world: str, count: int, model: WorldModel) -> list[Episode]:
    """Up to `count` episodes of the dataset at `path`, checked against the world and model."""
    with ExperienceDataset.open(path) as dataset:
        if dataset.world != world:
            raise DatasetError(f"dataset {path} holds {dataset.world!r}, not {world!r}")
        if dataset.image_size != model.config.encoder.image_size:
            raise DatasetError(
                f"dataset {path} has {dataset.image_size}px frames but the model reads "
                f"{model.config.encoder.image_size}px"
            )
        if count < 2:
            raise ConfigError(f"--episodes must be at least 2, got {count}")
        return [dataset.episode(i) for i in range(min(count, dataset.num_episodes))]


def model_world(
    model: Path, world: str | None, world_kwargs: str | None, imports: list[str] | None
) -> tuple[str, dict[str, Any]]:
    """The world to measure in and its settings.

    `world` (with `imports`, as every command records it), else the one the model was trained
    on; the settings are `world_kwargs` over those of the model's recipe (RUN/recipe.json) when
    the world is the model's.

    Raises:
        CheckpointError: no checkpoint at `model`.
        ConfigError: no world named and none recorded, or bad `--world-kwargs`.
        UnknownWorldError: the world is unknown.
    """
    options = parse_world_kwargs(world_kwargs)
    named = None if world is None else import_world_modules(world, imports)
    if named is not None:
        make(named, **options).close()  # an unknown world or a bad setting fails first
    try:
        folder = checkpoint_folder(model)
    except CheckpointError:
        if named is None:
            raise
        return named, options  # loading the model says what is missing, after the other checks
    metadata = read_checkpoint_json(folder / CONFIG_FILE).get("metadata")
    trained_on = metadata.get("world") if isinstance(metadata, dict) else None
    checked = named is not None  # made with these options already
    if named is None:
        if not isinstance(trained_on, str):
            raise ConfigError(f"the model at {folder} records no world; name it with --world")
        named = import_world_modules(trained_on, imports)
    recipe_file = folder.parent / "recipe.json"
    if named == trained_on and recipe_file.is_file():
        recipe = load_recipe(recipe_file)
        if recipe.collect.world == named and recipe.collect.world_options:
            options, checked = {**recipe.collect.world_options, **options}, False
    if not checked:
        make(named, **options).close()
    return named, options


def folder_name(name: str) -> str:
    """`name` (a world id or quantity) as one file or folder name: "gym:a/B[0]" -> "gym_a_B_0"."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "world"


def _episode_limit(world: str, options: dict[str, Any]) -> int | None:
    """The world's TimeLimit (None without one)."""
    env = make(world, **options)
    try:
        limit = getattr(env.unwrapped, "max_episode_steps", None)
    finally:
        env.close()
    return limit if isinstance(limit, int) else None


def _command() -> str:
    """The command line as typed."""
    return "ami " + " ".join(shlex.quote(a) for a in sys.argv[1:])
