"""The `ami` command: demo, collect, train, eval.

Every command composes its parts from a recipe (a preset, optionally a JSON file, plus the flags)
and calls the pipeline. Errors a user can cause are `AmiError`s: the command prints their one line
to stderr and exits with status 2, never a traceback.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from ami.agent.actor import Actor
from ami.agent.two_mode import ModeConfig, TwoModeAgent
from ami.cli_checks import require_checkpoint_world, require_output_file, require_output_folder
from ami.cli_exit import run_app
from ami.cli_live import live
from ami.cli_memory import memory_app
from ami.cli_understanding import probe, surprise
from ami.config import replace_config
from ami.device import resolve_device, seed_everything
from ami.errors import ConfigError
from ami.evaluation.protocols import PROTOCOLS, protocol_by_name, protocols_of
from ami.experience import CollectConfig
from ami.model import WorldModel
from ami.pipeline import make_agent, run_collect, run_demo, run_eval, run_train
from ami.planning import SOLVERS
from ami.recipes import PRESETS, Recipe, load_recipe, preset, with_seed, with_solver
from ami.training.distributed import distributed_session

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help=(
        "ami: agents that learn a JEPA world model from pixels and plan in its latent space.\n\n"
        "Start with `ami demo`: it collects experience in the TwoRoom world, trains a world "
        "model from 64x64 pixels, plans to held-out goals with CEM under MPC, and writes a "
        "report (plots, a GIF, results.json, report.html)."
    ),
)
console = Console(stderr=True)
app.add_typer(memory_app, name="memory")
app.command(name="probe")(probe)
app.command(name="surprise")(surprise)
app.command(name="live")(live)

PresetOption = Annotated[
    str,
    typer.Option(
        "--preset", "--preset-name", help=f"Named settings to start from: {', '.join(PRESETS)}."
    ),
]
RecipeOption = Annotated[
    Path | None,
    typer.Option(help="A recipe JSON file (as saved in every run folder); overrides --preset."),
]
DeviceOption = Annotated[
    str, typer.Option(help="auto (GPU if present, else CPU), cpu, cuda, cuda:N or mps.")
]
SeedOption = Annotated[int, typer.Option(help="Seed of collection and training (reproducible).")]
QuietOption = Annotated[bool, typer.Option("--quiet", help="No progress bars.")]


def _recipe(preset_name: str, recipe_file: Path | None, seed: int) -> Recipe:
    recipe = load_recipe(recipe_file) if recipe_file is not None else preset(preset_name)
    return with_seed(recipe, seed)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the data, model and report.")] = Path(
        "ami-demo"
    ),
    preset_name: PresetOption = "demo",
    recipe_file: RecipeOption = None,
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Collect TwoRoom experience, train a world model, plan to held-out goals, write a report.

    Runs in about 8-10 minutes on 2 CPU cores. The report folder OUT holds results.json,
    report.html, training_curves.png, success.png and episodes.gif.
    """
    require_output_folder(out)
    recipe = _recipe(preset_name, recipe_file, seed)
    seed_everything(seed)
    document = run_demo(recipe, out, resolve_device(device), progress=not quiet)
    _print_results(document)
    console.print(f"report: {out / 'report.html'}")


@app.command()
def collect(
    out: Annotated[
        Path,
        typer.Option(
            help="HDF5 file to write (atomically); an existing file there is replaced only if it "
            "is an ami dataset."
        ),
    ],
    world: Annotated[str, typer.Option(help="Registered world name, e.g. two_room.")] = "two_room",
    episodes: Annotated[int, typer.Option(help="Number of episodes.")] = 1000,
    steps: Annotated[int, typer.Option(help="Env steps per episode.")] = 100,
    policy: Annotated[str, typer.Option(help="expert, random or mixed.")] = "mixed",
    image_size: Annotated[int, typer.Option(help="Rendered image side in pixels.")] = 64,
    workers: Annotated[
        int, typer.Option(help="Processes collecting episode ranges (same file as serial).")
    ] = 1,
    seed: SeedOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Collect experience with a noisy scripted expert and/or a random policy into HDF5."""
    require_output_file(out)
    config = CollectConfig(
        world=world,
        episodes=episodes,
        steps_per_episode=steps,
        policy=policy,
        seed=seed,
        image_size=image_size,
    )
    path = run_collect(config, out, progress=not quiet, workers=workers)
    console.print(f"wrote {path}")


@app.command()
def train(
    data: Annotated[
        Path,
        typer.Option(
            help="HDF5 dataset written by `ami collect`, or an ami memory file (its remembered "
            "episodes of the recipe's world are replayed)."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Run folder (checkpoint, metrics, curves).")],
    preset_name: PresetOption = "demo",
    recipe_file: RecipeOption = None,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps (default: recipe's).")] = None,
    precision: Annotated[
        str | None,
        typer.Option(
            help="auto (bf16 where the device runs it natively, else fp32), fp32 or bf16 "
            "(autocast) (default: recipe's)."
        ),
    ] = None,
    compile_model: Annotated[
        bool, typer.Option("--compile", help="Run the loss through torch.compile.")
    ] = False,
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Train a JEPA world model on a dataset or a memory (resumes if OUT holds a checkpoint).

    Under `torchrun --nproc_per_node=N -m ami train ...` the N processes train one model with
    DistributedDataParallel (gloo on CPU, NCCL on CUDA), each on its own shard of the windows with
    the recipe's batch size; rank 0 writes the run folder.
    """
    require_output_folder(out)
    recipe = _recipe(preset_name, recipe_file, seed)
    changes: dict[str, object] = {"compile": True} if compile_model else {}
    if steps is not None:
        changes["steps"] = steps
    if precision is not None:
        changes["precision"] = precision
    recipe = replace(recipe, train=replace_config(recipe.train, **changes))
    seed_everything(seed)
    with distributed_session(resolve_device(device)) as (rank, rank_device):
        _, result = run_train(recipe, data, out, rank_device, progress=not quiet)
    if rank.is_main:
        console.print(
            f"trained {result.steps} steps (from {result.resumed_from}) in {result.seconds:.0f}s, "
            f"{result.frames_per_second:.0f} frames/s over {rank.world_size} process(es); "
            f"checkpoint: {result.checkpoint}"
        )


@app.command(name="eval")
def evaluate_command(
    model: Annotated[Path, typer.Option(help="Checkpoint folder (RUN/checkpoint).")],
    out: Annotated[Path, typer.Option(help="Folder for results.json and the report.")],
    protocol: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Protocol(s), repeatable: {', '.join(PROTOCOLS)} (default: all the world's)."
        ),
    ] = None,
    episodes: Annotated[int, typer.Option(help="Episodes per protocol.")] = 50,
    solver: Annotated[
        str | None, typer.Option(help=f"Planner: {', '.join(SOLVERS)} (default: recipe's).")
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(help="Planning rollouts in auto, fp32 or bf16 (default: recipe's)."),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="Processes running episodes (same results as serial).")
    ] = 1,
    actor: Annotated[
        Path | None,
        typer.Option(help="A Mode-1 actor folder (from `ami live`: OUT/round-NNN/actor)."),
    ] = None,
    mode: Annotated[
        str, typer.Option(help="Who acts: plan (the planner), act (the actor) or auto.")
    ] = "plan",
    preset_name: PresetOption = "demo",
    recipe_file: RecipeOption = None,
    device: DeviceOption = "auto",
    quiet: QuietOption = False,
) -> None:
    """Plan (or act) to held-out goals under the world's protocols; success vs a random policy."""
    if episodes < 1:
        raise ConfigError(f"--episodes must be positive, got {episodes}")
    require_output_folder(out)
    recipe_path = recipe_file
    if recipe_path is None and (model.parent / "recipe.json").is_file():
        recipe_path = model.parent / "recipe.json"
    recipe = _recipe(preset_name, recipe_path, seed=0)
    recipe = replace(recipe, eval_episodes=episodes)
    if solver is not None:
        recipe = with_solver(recipe, solver)
    if precision is not None:
        mpc = replace_config(recipe.planner.mpc, precision=precision)
        recipe = replace(recipe, planner=replace(recipe.planner, mpc=mpc))
    asked_by = f"the recipe {recipe_path}" if recipe_path else f"the preset {preset_name!r}"
    require_checkpoint_world(model, recipe.collect.world, asked_by)
    world_model = WorldModel.load(model, device=resolve_device(device))
    if world_model.config != recipe.model:
        recipe = replace(
            recipe,
            model=world_model.config,
            window=replace(recipe.window, frameskip=world_model.config.frameskip),
        )
    world = recipe.collect.world
    names = protocol or protocols_of(world)
    protocols = [protocol_by_name(name, episodes, world) for name in names]
    agent = two_mode_agent(world_model, recipe, actor, mode) if actor or mode != "plan" else None
    document = run_eval(
        world_model, recipe, protocols, out, progress=not quiet, workers=workers, agent=agent
    )
    _print_results(document)
    console.print(f"report: {out / 'report.html'}")


def two_mode_agent(
    model: WorldModel, recipe: Recipe, actor_path: Path | None, mode: str
) -> TwoModeAgent:
    """The planner and the actor saved at `actor_path` (which must be `model`'s), in `mode`."""
    actor, metadata = (None, {}) if actor_path is None else Actor.load(actor_path, model.device)
    trained_for = metadata.get("model_version")
    if trained_for is not None and trained_for != model.version():
        raise ConfigError(
            f"the actor in {actor_path} was distilled for model {trained_for}, not for this "
            f"model ({model.version()}); use the actor of the same round"
        )
    threshold = metadata.get("miss_threshold")
    rule = ModeConfig(mode=mode, miss_threshold=math.inf if threshold is None else threshold)
    return TwoModeAgent(make_agent(model, recipe), actor, rule)


def _print_results(document: dict) -> None:
    table = Table(title="ami results")
    for column in (
        "protocol",
        "agent success",
        "random success",
        "episodes",
        "ms / decision",
        "decision s / episode",
    ):
        table.add_column(column, justify="right")
    for name, result in document["protocols"].items():
        table.add_row(
            name,
            f"{100 * result['success_rate']:.1f} %",
            f"{100 * result['random_success_rate']:.1f} %",
            str(result["episodes"]),
            f"{result['plan_ms_per_call']:.1f}",
            f"{result['plan_seconds_per_episode']:.2f}",
        )
    Console().print(table)


def main() -> NoReturn:
    """Entry point of the `ami` console script: one line and exit 2 for user errors.

    Ctrl-C and SIGTERM exit 130 and 143 with `ami: interrupted`, temporary files removed; see
    `ami.cli_exit.run_app`.
    """
    run_app(app)


if __name__ == "__main__":
    main()
