"""The `ami` commands demo, collect and eval, and the app that holds every command.

Every command composes its parts from a recipe (a preset, optionally a JSON file, plus the flags)
and calls the pipeline. Errors a user can cause are `AmiError`s: the command prints their one line
to stderr and exits with status 2, never a traceback.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from ami.checks import (
    checkpoint_folder,
    require_checkpoint_world,
    require_output_file,
    require_output_folder,
)
from ami.cli.data import (
    export_command,
    import_command,
)
from ami.cli.exit import run_app
from ami.cli.factors import FactorsOption, factors_of, report_factors
from ami.cli.live import live
from ami.cli.memory import memory_app
from ami.cli.options import (
    DeviceOption,
    ImportOption,
    ModelOption,
    PresetOption,
    QuietOption,
    RecipeOption,
    SeedOption,
    WorldKwargsOption,
    WorldOption,
    resolve_recipe,
)
from ami.cli.training import train
from ami.cli.understanding import probe, surprise
from ami.config import replace_config
from ami.device import resolve_device, seed_everything
from ami.errors import CheckpointError, ConfigError
from ami.evaluation.protocols import PROTOCOLS, protocol_by_name, protocols_of, with_scoring
from ami.experience import CollectConfig
from ami.experience.collect import EXPERT_WORLDS
from ami.experience.collect import POLICIES as POLICY_NAMES
from ami.model import WorldModel
from ami.pipeline import (
    load_actor,
    make_two_mode_agent,
    run_collect,
    run_demo,
    run_eval,
)
from ami.planning import SOLVERS
from ami.recipes import with_solver
from ami.world_recipe import import_world_modules, parse_world_kwargs
from ami.worlds.goal_distance import distance_names
from ami.worlds.gym_framing import with_framing

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
app.command(name="import")(import_command)
app.command(name="export")(export_command)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the data, model and report.")] = Path(
        "ami-demo"
    ),
    world: WorldOption = "two_room",
    world_kwargs: WorldKwargsOption = None,
    imports: ImportOption = None,
    preset_name: PresetOption = None,
    recipe_file: RecipeOption = None,
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Collect experience, train a world model, plan to held-out goals, write a report.

    On the default TwoRoom world this runs in about 8-10 minutes on 2 CPU cores. The report
    folder OUT holds results.json, report.html, training_curves.png, success.png and
    episodes.gif. Any Gymnasium env works as `--world gym:ENV_ID`.
    """
    require_output_folder(out)
    recipe = resolve_recipe(world, world_kwargs, imports, preset_name, recipe_file, seed)
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
    world: WorldOption = "two_room",
    world_kwargs: WorldKwargsOption = None,
    imports: ImportOption = None,
    episodes: Annotated[int, typer.Option(help="Number of episodes.")] = 1000,
    steps: Annotated[int, typer.Option(help="Env steps per episode.")] = 100,
    policy: Annotated[
        str | None,
        typer.Option(
            help=f"{', '.join(POLICY_NAMES)} (held, colored, novelty: explorers for any "
            "world), or a policy of yours as module:callable, called as callable(action_dim, "
            "env), e.g. an env's own expert (default: mixed where the world has a scripted "
            "expert, else random)."
        ),
    ] = None,
    image_size: Annotated[int, typer.Option(help="Rendered image side in pixels.")] = 64,
    workers: Annotated[
        int, typer.Option(help="Processes collecting episode ranges (same file as serial).")
    ] = 1,
    seed: SeedOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Collect experience (a scripted expert, random or exploring policies) into HDF5."""
    require_output_file(out)
    world = import_world_modules(world, imports)
    config = CollectConfig(
        world=world,
        episodes=episodes,
        steps_per_episode=steps,
        policy=policy or ("mixed" if world in EXPERT_WORLDS else "random"),
        seed=seed,
        image_size=image_size,
        world_options=with_framing(world, parse_world_kwargs(world_kwargs)),
    )
    path = run_collect(config, out, progress=not quiet, workers=workers)
    console.print(f"wrote {path}")


app.command(name="train")(train)


@app.command(name="eval")
def evaluate_command(
    model: ModelOption,
    out: Annotated[Path, typer.Option(help="Folder for results.json and the report.")],
    protocol: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Protocol(s), repeatable: {', '.join(PROTOCOLS)}, on gym: worlds any "
            "goal_K_steps (default: all the world's)."
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
    success: Annotated[
        str | None,
        typer.Option(
            help=f"gym: worlds: the goal distance, {', '.join(distance_names())} or "
            "module:callable (default: the env's)."
        ),
    ] = None,
    success_threshold: Annotated[
        float | None, typer.Option(help="gym: worlds: the distance's threshold.")
    ] = None,
    score_at: Annotated[
        str, typer.Option(help="Success at any step, at the end of the budget, or held.")
    ] = "any",
    held_steps: Annotated[int, typer.Option(help="For --score-at held: steps it must hold.")] = 5,
    factors: FactorsOption = None,
    preset_name: PresetOption = None,
    recipe_file: RecipeOption = None,
    device: DeviceOption = "auto",
    quiet: QuietOption = False,
) -> None:
    """Plan (or act) to held-out goals under the world's protocols; success vs the floors.

    The floors are a random policy and the zero action on the same episodes. The world and its
    settings come from the run's recipe.json (next to the checkpoint), so a model of a
    Gymnasium env is evaluated in the same env, on goal_25_steps (or any goal_K_steps). With
    `--factors` it is evaluated again under each test-time factor (the table and factors.png).
    """
    if episodes < 1:
        raise ConfigError(f"--episodes must be positive, got {episodes}")
    chosen = factors_of(factors)
    require_output_folder(out)
    found = _found_checkpoint(model)
    recipe_path = recipe_file
    if recipe_path is None and found is not None and (found.parent / "recipe.json").is_file():
        recipe_path = found.parent / "recipe.json"
    recipe = resolve_recipe(None, None, None, preset_name, recipe_path, seed=0)
    recipe = replace(recipe, eval_episodes=episodes)
    if solver is not None:
        recipe = with_solver(recipe, solver)
    if precision is not None:
        mpc = replace_config(recipe.planner.mpc, precision=precision)
        recipe = replace(recipe, planner=replace(recipe.planner, mpc=mpc))
    checkpoint = checkpoint_folder(model)  # after the options: those errors come first
    asked_by = f"the recipe {recipe_path}" if recipe_path else f"the recipe {recipe.name!r}"
    require_checkpoint_world(checkpoint, recipe.collect.world, asked_by)
    world_model = WorldModel.load(checkpoint, device=resolve_device(device))
    if world_model.config != recipe.model:
        recipe = replace(
            recipe,
            model=world_model.config,
            window=replace(recipe.window, frameskip=world_model.config.frameskip),
        )
    world = recipe.collect.world
    for factor in chosen:
        factor.check(world)
    names = protocol or protocols_of(world)
    protocols = [
        with_scoring(
            protocol_by_name(name, episodes, world),
            success,
            success_threshold,
            score_at,
            held_steps if score_at == "held" else 1,
        )
        for name in names
    ]
    agent = None
    if actor is not None or mode != "plan":
        loaded, threshold = (None, None) if actor is None else load_actor(actor, world_model)
        agent = make_two_mode_agent(world_model, recipe, loaded, mode, threshold)
    document = run_eval(
        world_model, recipe, protocols, out, progress=not quiet, workers=workers, agent=agent
    )
    _print_results(document)
    if chosen:
        report_factors(
            chosen, world_model, recipe, protocols, document, out, agent, workers, not quiet
        )
    console.print(f"report: {out / 'report.html'}")


def _found_checkpoint(model: Path) -> Path | None:
    """The checkpoint folder `model` names, or None (`checkpoint_folder` says why later)."""
    try:
        return checkpoint_folder(model)
    except CheckpointError:
        return None


def _print_results(document: dict) -> None:
    table = Table(title="ami results (success rates; planning time)")
    table.add_column("protocol", no_wrap=True)  # a name a reader copies into --protocol
    for column in (
        "agent",
        "random",
        "zero action",
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
            f"{100 * result.get('zero_success_rate', float('nan')):.1f} %",
            str(result["episodes"]),
            f"{result['plan_ms_per_call']:.1f}",
            f"{result['plan_seconds_per_episode']:.2f}",
        )
    console = Console()
    Console(width=max(console.width, 96)).print(table)  # no header cut on an 80-column pipe


def main() -> NoReturn:
    """Entry point of the `ami` console script: one line and exit 2 for user errors.

    Ctrl-C and SIGTERM exit 130 and 143 with `ami: interrupted`, temporary files removed; see
    `ami.cli.exit.run_app`.
    """
    run_app(app)


if __name__ == "__main__":
    main()
