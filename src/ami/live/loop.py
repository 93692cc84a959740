"""`run_live`: the agent lives in its world, remembers everything, and improves round by round.

Round 0 trains a world model on a small seed dataset (or takes a given one), brings the seed
experience into memory and measures the agent. Each later round:

1. the memory is re-embedded if its embeddings are not the current model's (never mixed);
2. the agent pursues `episodes` goals (uniform or least visited) with the current model, the
   planner acting until an actor exists, then in `mode`; every step and every decision goes to
   memory;
3. the world model is fine-tuned on all of memory (old and new experience, so it does not
   forget), the memory re-embedded, and the actor distilled from every planner decision;
4. the planner is measured on the protocol, and the round is written to `live.json`.

Everything a round makes lives in `OUT/round-NNN/`; `live.json` (written first, then atomically
after each finished round) is the state: a run that is killed starts again after the last finished
round, and the steps it remembered in the unfinished round stay in memory and are learnt from.
ami live writes only into a folder it has claimed with its `live.json` (a new or empty one, or
its own earlier run), and never deletes a file there that it did not write.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from ami.agent import MemoryRecorder, run_episode
from ami.agent.actor import Actor
from ami.agent.decision_recorder import DecisionRecorder
from ami.checks import require_checkpoint_world
from ami.evaluation.protocols import EvalProtocol, protocol_by_name
from ami.evaluation.runner import (
    ProtocolResult,
    episode_world,
    evaluate,
    protocol_world_settings,
)
from ami.files import atomic_write_bytes
from ami.live.config import LiveConfig
from ami.live.goals import propose_goals
from ami.live.learn import distil_from_memory, embed_memory_with, finetune_on_memory, memory_encoder
from ami.live.plot import plot_live_curves
from ami.live.state import finish_round, open_state
from ami.memory import Memory
from ami.memory.decisions import count_decisions
from ami.memory.replay import remember_experience
from ami.model import WorldModel
from ami.pipeline import make_agent, make_two_mode_agent, run_train
from ami.recipes import Recipe, world_settings
from ami.worlds import make

MEMORY_FILE = "memory.db"


def run_live(
    recipe: Recipe,
    config: LiveConfig,
    out: Path,
    seed_data: Path,
    device: torch.device,
    progress: bool = True,
    init_model: Path | None = None,
) -> dict[str, Any]:
    """Live `config.rounds` rounds (resuming after the last finished one); returns the state.

    Args:
        recipe: the world, model and planner.
        config: how to live.
        out: the run folder (memory, checkpoints, actors, `live.json`, the curve).
        seed_data: the HDF5 experience of round 0.
        device: where models run.
        progress: show progress bars.
        init_model: a checkpoint to start from instead of training one on `seed_data`.
    """
    state = open_state(out, recipe, config)
    protocol = protocol_by_name(config.protocol, config.eval_episodes, recipe.collect.world)
    if not state["rounds"]:
        _seed_round(recipe, config, out, seed_data, device, progress, init_model, state, protocol)
    while len(state["rounds"]) <= config.rounds:
        _live_round(recipe, config, out, device, progress, state, protocol)
    rounds = state["rounds"][: config.rounds + 1]
    curve = ([r["env_steps"] for r in rounds], [r["success_rate"] for r in rounds])
    plot_live_curves({f"{config.goals} goals": curve}, out / "live_curve.png")
    return state


def _seed_round(
    recipe: Recipe,
    config: LiveConfig,
    out: Path,
    seed_data: Path,
    device: torch.device,
    progress: bool,
    init_model: Path | None,
    state: dict[str, Any],
    protocol: EvalProtocol,
) -> None:
    """Round 0: the seed model, the seed experience in memory, the first measurement."""
    started = time.perf_counter()
    folder = out / "round-000"
    world = recipe.collect.world
    if init_model is not None:
        require_checkpoint_world(init_model, world, f"the recipe {recipe.name!r}")
        model = WorldModel.load(init_model, device=device)
        model.save(folder / "checkpoint", metadata={"world": world, "from": str(init_model)})
    else:
        model, _ = run_train(recipe, seed_data, folder / "run", device, progress=progress)
        shutil.copytree(folder / "run" / "checkpoint", folder / "checkpoint", dirs_exist_ok=True)
    steps = _seed_memory(out, seed_data, model)
    result = _measure(protocol, model, recipe, progress)
    finish_round(
        out,
        state,
        {
            "round": 0,
            "env_steps": steps,
            "seed_steps": steps,
            "success_rate": result.success_rate,
            "random_success_rate": result.random_success_rate,
            "model_version": model.version(),
            "minutes": (time.perf_counter() - started) / 60,
        },
    )


def _seed_memory(out: Path, seed_data: Path, model: WorldModel) -> int:
    """The seed experience in the run's memory (built aside, moved in whole); its step count.

    Round 0 is the memory's only writer so far: it is built aside and renamed into place, so a
    kill here never leaves half the seed data remembered. A memory already in place is the one
    an earlier, killed round 0 built (the folder is this run's), so it is kept, not rebuilt.
    """
    memory_path = out / MEMORY_FILE
    if not memory_path.is_file():
        building = out / (MEMORY_FILE + ".building")
        for leftover in out.glob(MEMORY_FILE + ".building*"):  # of a kill while building
            leftover.unlink()
        with Memory.open(building) as memory:
            remember_experience(memory, seed_data, memory_encoder(model), model.version(), "seed")
        building.rename(memory_path)
    with Memory.open(memory_path) as memory:
        embed_memory_with(memory, model)
        return int(memory.stats()["steps"])


def _live_round(
    recipe: Recipe,
    config: LiveConfig,
    out: Path,
    device: torch.device,
    progress: bool,
    state: dict[str, Any],
    protocol: EvalProtocol,
) -> None:
    """One round: act and remember, fine-tune on memory, distil the actor, measure."""
    started = time.perf_counter()
    index = len(state["rounds"])
    previous, folder = out / f"round-{index - 1:03d}", out / f"round-{index:03d}"
    model = WorldModel.load(previous / "checkpoint", device=device)
    actor = (
        Actor.load(previous / "actor", device=device)[0] if (previous / "actor").is_dir() else None
    )
    with Memory.open(out / MEMORY_FILE) as memory:
        embed_memory_with(memory, model)
        marker = folder / "acted.json"
        if marker.is_file():  # a restarted round: its episodes are already in memory
            acted = json.loads(marker.read_text())
        else:
            acted = _act(recipe, config, model, actor, state, memory, index, protocol)
            atomic_write_bytes(marker, json.dumps(acted).encode())
        model = finetune_on_memory(recipe, config, model, memory, folder, progress)
        embed_memory_with(memory, model)
        actor, threshold, distilled = distil_from_memory(
            model, recipe, config, memory, folder, progress
        )
        env_steps = int(memory.stats()["steps"])
        decisions = count_decisions(memory)
    model.save(folder / "checkpoint", metadata={"world": recipe.collect.world, "live_round": index})
    result = _measure(protocol, model, recipe, progress)
    finish_round(
        out,
        state,
        {
            "round": index,
            "env_steps": env_steps,
            "success_rate": result.success_rate,
            "random_success_rate": result.random_success_rate,
            "model_version": model.version(),
            "acted": acted,
            "miss_threshold": threshold,
            "distill": distilled,
            "decisions_in_memory": decisions,
            "minutes": (time.perf_counter() - started) / 60,
        },
    )


def _act(
    recipe: Recipe,
    config: LiveConfig,
    model: WorldModel,
    actor: Actor | None,
    state: dict[str, Any],
    memory: Memory,
    index: int,
    protocol: EvalProtocol,
) -> dict[str, Any]:
    """Pursue the round's goals; every step and decision to memory. Returns what was done."""
    threshold = state["rounds"][-1].get("miss_threshold")
    mode = config.mode if actor is not None else "plan"
    agent = make_two_mode_agent(model, recipe, actor, mode, threshold)
    planner = agent.planner
    settings = protocol_world_settings(protocol, world_settings(recipe))
    env = episode_world(make(recipe.collect.world, **settings), protocol)
    specs = propose_goals(
        protocol,
        env,
        config.episodes,
        index,
        config.goals,
        memory,
        planner,
        config.novelty_candidates,
        world_options=recipe.collect.world_options,
    )
    world, version = recipe.collect.world, model.version()
    session = memory.begin_session(version, note=f"live round {index}")
    successes, steps, modes = 0, 0, {"plan": 0, "act": 0}
    encode = memory_encoder(model)
    for spec in specs:
        episode = memory.begin_episode(session, world)
        recorder = MemoryRecorder(memory, episode, version, encode)
        agent.on_decision = [DecisionRecorder(memory, episode)]
        outcome = run_episode(
            env, agent, spec.options, protocol.budget, spec.goal_pixels, [recorder]
        )
        recorder.close()
        successes += outcome.success
        steps += outcome.steps
        for name, count in agent.counts().items():
            modes[name] += count
    return {
        "episodes": len(specs),
        "success_rate": successes / len(specs),
        "env_steps": steps,
        "mode": mode,
        "decisions": modes,
        "goals": config.goals,
    }


def _measure(
    protocol: EvalProtocol, model: WorldModel, recipe: Recipe, progress: bool
) -> ProtocolResult:
    """The planner with `model` on the protocol, in the world as the recipe makes it."""
    return evaluate(
        protocol,
        make_agent(model, recipe),
        progress=progress,
        world_overrides=world_settings(recipe),
    )
