"""`ami probe` and `ami surprise`: what a trained world model understands of its world, measured.

Registered on the main app in `ami.cli`. Both build their parts (world check, model, episodes)
and call `ami.understanding`; errors a user can cause are one-line `AmiError`s.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ami.cli_checks import require_output_folder
from ami.device import resolve_device, seed_everything
from ami.errors import ConfigError, DatasetError
from ami.experience import Episode, ExperienceDataset
from ami.files import atomic_write_bytes
from ami.model import WorldModel
from ami.provenance import machine_facts
from ami.understanding.models import load_model
from ami.understanding.perturbations import EVENTS
from ami.understanding.plots import plot_probe_scatter, plot_surprise
from ami.understanding.probe_run import (
    HEADLINE_PROBE,
    ProbeRunConfig,
    QuantityResult,
    probe_document,
    probe_episodes,
    run_probes,
)
from ami.understanding.surprise_run import SurpriseReport, SurpriseRunConfig, run_surprise
from ami.worlds import make

ModelOption = Annotated[
    Path, typer.Option(help="Checkpoint, run or demo folder (RUN/checkpoint, RUN or OUT).")
]
WorldOption = Annotated[str, typer.Option(help="two_room or push_t (the model's world).")]
DeviceOption = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")]
QuietOption = Annotated[bool, typer.Option("--quiet", help="No progress bars.")]


def probe(
    model: ModelOption,
    world: WorldOption,
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
    """Probe frozen embeddings for positions, angles and velocities; write probe.json and plots.

    Linear (ridge) and MLP probes are fitted on 70 % of the episodes and scored (Pearson r, R²)
    on the held-out 30 %, beside the same probes on a randomly initialised encoder (the floor).
    """
    make(world)  # an unknown world fails first, naming the known ones
    out = require_output_folder(Path(f"probe-{world}") if out is None else out)
    config = ProbeRunConfig(world=world, episodes=episodes, seed=1_000_000 + seed)
    seed_everything(seed)
    world_model = load_model(model, world, resolve_device(device))
    if data is None:
        runs = probe_episodes(config, world_model.config.encoder.image_size, progress=not quiet)
    else:
        runs = _dataset_episodes(data, world, episodes, world_model)
    results = run_probes(world_model, runs, config, progress=not quiet)
    out.mkdir(parents=True, exist_ok=True)
    for result in results:
        plot_probe_scatter(result, out / f"scatter_{result.quantity}.png", f"{world}")
    document = probe_document(results, config)
    document["run"] = {**machine_facts(), "command": _command(), "model": str(model)}
    atomic_write_bytes(out / "probe.json", (json.dumps(document, indent=2) + "\n").encode())
    Console().print(probe_table(world, results))
    Console(stderr=True).print(f"wrote {out / 'probe.json'} and {len(results)} scatter plots")


def surprise(
    model: ModelOption,
    world: WorldOption,
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

    Events: teleport, wall_pass, vanish (impossible) and colour_change, unchanged (controls).
    """
    make(world)
    out = require_output_folder(Path(f"surprise-{world}") if out is None else out)
    config = SurpriseRunConfig(
        world=world, pairs=pairs, false_alarm_rate=false_alarm_rate, seed=2_000_000 + seed
    )
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


def _command() -> str:
    """The command line as typed."""
    return "ami " + " ".join(shlex.quote(a) for a in sys.argv[1:])
