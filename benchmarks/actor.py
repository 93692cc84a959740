"""Mode-1 actor vs Mode-2 planner on the anchor protocol of TwoRoom and PushT.

Per world, with the benchmark table's model (from the cache, `--cache`; trained when absent):

1. the planner pursues `PLANNER_EPISODES` training goals (drawn like the protocol's, never its
   seeds); each of its decisions goes to memory; the actor is distilled from them (regression on
   the planner's actions plus 0.03 × the imagined goal energy of its own rollouts, whose gradients
   flow through the frozen world model);
2. `--dagger-rounds` times (default 3): the actor pursues `ACTOR_EPISODES` new training goals
   itself, the planner labels every decision the actor took (DAgger through memory), and the
   actor is distilled again from every planner decision;
3. on the protocol's 50 episodes: the planner alone (`plan`), the actor alone (`act`), and `auto`
   (the actor unless its imagined rollout misses the goal by more than the planner's 90th
   percentile energy), each with its latency per decision (encoding included) and, for `auto`,
   the share of decisions the planner took; beside them an actor distilled from the same
   decisions without the imagined-energy term, one with the earlier weight of that term (0.01)
   and, on a world with symmetries (PushT), one distilled without the symmetric copies of the
   decisions; the actors alone again on `ACTOR_CHECK_EPISODES` protocol episodes.

The memory of decisions is the benchmark's own, in the cache (`actor/<world>.db`).
Writes benchmarks/results/actor.json and actor.png.
Run: python -m benchmarks.actor [--world two_room]  (make bench-actor)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ami.agent import run_episode
from ami.agent.actor import Actor, ActorConfig
from ami.agent.decision_recorder import DecisionRecorder
from ami.agent.distill import DistillConfig, calibrate_miss_threshold, distill_actor
from ami.agent.relabel import relabel_with_planner
from ami.agent.two_mode import ModeConfig, TwoModeAgent
from ami.evaluation.episode_specs import episode_specs
from ami.evaluation.protocols import EvalProtocol, protocol_by_name
from ami.evaluation.runner import protocol_world_settings
from ami.live.goals import propose_goals
from ami.memory import Memory
from ami.memory.decisions import count_decisions, read_decisions
from ami.model import WorldModel
from ami.pipeline import make_agent
from ami.provenance import machine_facts
from ami.recipes import Recipe, world_settings
from ami.worlds import make
from ami.worlds.symmetry import symmetries_of
from benchmarks.cache import WORLD_RECIPES, add_cache_argument, scratch, trained_model
from benchmarks.results_file import RESULTS, provenance, read_results, write_results

PLANNER_EPISODES, ACTOR_EPISODES, EVAL_EPISODES = 100, 100, 50
# Actors alone are also compared on this many episodes of the protocol (drawn from its seed):
# at about 5 ms per episode it is nearly free, and it resolves what 50 episodes (2 % each) cannot.
ACTOR_CHECK_EPISODES = 300
# The imagined-energy weight: 0.03 beat 0.01 and 0.1 in a trial on the memory of an earlier PushT
# run; each run keeps the 0.01 actor beside it (`actor_refine_0.01_success_rate`) to show the gap.
DISTILL = DistillConfig(steps=3000, batch=256, refine_weight=0.03, refine_batch=256)
DISTILL_PREVIOUS = DistillConfig(steps=3000, batch=256, refine_weight=0.01, refine_batch=256)
DISTILL_ONLY = DistillConfig(steps=3000, batch=256)
MISS_QUANTILE = 0.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", action="append", choices=["two_room", "push_t"])
    parser.add_argument("--dagger-rounds", type=int, default=3)
    add_cache_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(2)
    document = read_results("actor")
    for world in args.world or ["two_room", "push_t"]:
        started = time.perf_counter()
        document[world] = {**measure(world, args.cache, args.dagger_rounds), "minutes": 0.0}
        document[world]["minutes"] = (time.perf_counter() - started) / 60
        document[world]["command"] = (
            f"python -m benchmarks.actor --world {world} --dagger-rounds {args.dagger_rounds}"
        )
        document[world]["git_revision"] = machine_facts()["git_revision"]
        for key in provenance():  # the file's own provenance: this write's
            document.pop(key, None)
        write_results("actor", document)
        print(json.dumps({world: document[world]}, indent=2, default=str), flush=True)
    plot(document, RESULTS / "actor.png")


def plot(document: dict[str, Any], path: Path) -> None:
    """Success per mode and world, each bar labelled with its milliseconds per decision."""
    from matplotlib.figure import Figure

    from ami.evaluation.plots import save_figure

    worlds = [w for w in ("two_room", "push_t") if w in document]
    modes = [("plan", "planner"), ("act", "actor"), ("auto", "auto")]
    fig = Figure(figsize=(7, 3.6))
    ax = fig.add_subplot()
    for i, (key, label) in enumerate(modes):
        xs = [j + (i - 1) * 0.27 for j in range(len(worlds))]
        ys = [100 * document[w]["results"][key]["success_rate"] for w in worlds]
        bars = ax.bar(xs, ys, width=0.25, label=label)
        for bar, w in zip(bars, worlds, strict=True):
            ms = document[w]["results"][key]["ms_per_decision"]
            ax.annotate(
                f"{ms:.1f} ms",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
            )
    ax.set_xticks(range(len(worlds)), worlds)
    ax.set_ylabel("success on the anchor protocol (%)")
    ax.set_ylim(0, 125)
    ax.set_title("Mode-1 actor vs Mode-2 planner (ms per decision on the bars)")
    ax.legend(loc="upper center", ncol=3)
    fig.tight_layout()
    save_figure(fig, path)


def measure(world: str, cache: Path, dagger_rounds: int = 3) -> dict[str, Any]:
    """Train the actor through DAgger on `world`, and measure plan, act and auto."""
    recipe = WORLD_RECIPES[world]
    checkpoint = trained_model(recipe, cache)
    model = WorldModel.load(checkpoint)
    protocol = protocol_by_name("goal_25_steps", EVAL_EPISODES, world)
    env = environment(recipe, protocol)
    planner = make_agent(model, recipe)
    work = scratch(cache, "actor")
    path = work / f"{world}.db"
    for leftover in work.glob(f"{world}.db*"):
        leftover.unlink()
    with Memory.open(path, synchronous="NORMAL") as memory:
        goals = propose_goals(
            protocol, env, PLANNER_EPISODES, 1, world_options=recipe.collect.world_options
        )
        planning = TwoModeAgent(planner, None, ModeConfig("plan"))
        planned = live_episodes(memory, planning, env, goals, protocol)
        world_of_decisions = env.unwrapped
        actor = distilled(model, recipe, memory, DISTILL, world_of_decisions)
        dagger = []
        for k in range(dagger_rounds):
            goals = propose_goals(
                protocol, env, ACTOR_EPISODES, 2 + k, world_options=recipe.collect.world_options
            )
            acting = TwoModeAgent(planner, actor, ModeConfig("act"))
            practised = live_episodes(memory, acting, env, goals, protocol)
            labelled = relabel_with_planner(memory, planner, progress=True)
            actor = distilled(model, recipe, memory, DISTILL, world_of_decisions)
            dagger.append({"actor_episodes": practised, "relabelled_decisions": labelled})
        decisions = read_decisions(memory, "plan")
        distill_only = distilled(model, recipe, memory, DISTILL_ONLY, world_of_decisions)
        previous = distilled(model, recipe, memory, DISTILL_PREVIOUS, world_of_decisions)
        symmetric = bool(symmetries_of(world_of_decisions))
        unmirrored = distilled(model, recipe, memory, DISTILL) if symmetric else None
        threshold = calibrate_miss_threshold(decisions, MISS_QUANTILE)
        counts = count_decisions(memory)
    actors = {"act": actor, "act_refine_0.01": previous, "act_distill_only": distill_only}
    if unmirrored is not None:
        actors["act_without_symmetries"] = unmirrored

    def alone(each: Actor, episodes: EvalProtocol, specs: list) -> dict[str, Any]:
        return evaluate(TwoModeAgent(planner, each, ModeConfig("act")), env, specs, episodes)

    specs = episode_specs(protocol, env)
    results = {
        "plan": evaluate(TwoModeAgent(planner, None, ModeConfig("plan")), env, specs, protocol),
        "auto": evaluate(
            TwoModeAgent(planner, actor, ModeConfig("auto", miss_threshold=threshold)),
            env,
            specs,
            protocol,
        ),
        **{name: alone(each, protocol, specs) for name, each in actors.items()},
    }
    check = protocol_by_name("goal_25_steps", ACTOR_CHECK_EPISODES, world)
    check_specs = episode_specs(check, env)
    actors_on_more_episodes = {
        name: alone(each, check, check_specs)["success_rate"] for name, each in actors.items()
    }
    planner_ms, actor_ms = results["plan"]["ms_per_decision"], results["act"]["ms_per_decision"]
    return {
        "planner_success_rate": results["plan"]["success_rate"],
        "actor_success_rate": results["act"]["success_rate"],
        "auto_success_rate": results["auto"]["success_rate"],
        "actor_distill_only_success_rate": results["act_distill_only"]["success_rate"],
        "actor_without_symmetries_success_rate": results.get("act_without_symmetries", {}).get(
            "success_rate"
        ),
        "actor_refine_0.01_success_rate": results["act_refine_0.01"]["success_rate"],
        "actor_success_rates_on_more_episodes": {
            "episodes": ACTOR_CHECK_EPISODES,
            **actors_on_more_episodes,
        },
        "planner_ms_per_step": planner_ms,
        "actor_ms_per_step": actor_ms,
        "auto_ms_per_step": results["auto"]["ms_per_decision"],
        "auto_planner_share": results["auto"]["planner_share"],
        "actor_to_planner_success": results["act"]["success_rate"]
        / max(results["plan"]["success_rate"], 1e-9),
        "speedup": planner_ms / actor_ms,
        "step": "one decision (a block of k env steps): encode the frame, then plan or act",
        "frameskip": recipe.model.frameskip,
        "miss_threshold": threshold,
        "miss_quantile": MISS_QUANTILE,
        "training": {
            "planner_episodes": planned,
            "dagger_rounds": dagger,
            "planner_decisions": len(decisions),
            "decisions_in_memory": counts,
            "distill_steps": DISTILL.steps,
            "refine_weight": DISTILL.refine_weight,
            "refine_batch": DISTILL.refine_batch,
            "symmetric_copies": len(symmetries_of(world_of_decisions)),
        },
        "protocol": protocol.as_dict(),
        "model": checkpoint,
        "results": results,
    }


def environment(recipe: Recipe, protocol: EvalProtocol):
    settings = protocol_world_settings(protocol, world_settings(recipe))
    return make(protocol.world, **settings)


def live_episodes(
    memory: Memory, agent: TwoModeAgent, env, specs, protocol: EvalProtocol
) -> dict[str, Any]:
    """Run `specs` with `agent`, every decision to memory; the success rate."""
    session = memory.begin_session("actor-bench")
    successes = 0
    for spec in specs:
        episode = memory.begin_episode(session, protocol.world)
        agent.on_decision = [DecisionRecorder(memory, episode)]
        outcome = run_episode(env, agent, spec.options, protocol.budget, spec.goal_pixels)
        successes += outcome.success
    return {"episodes": len(specs), "success_rate": successes / len(specs)}


def distilled(
    model, recipe: Recipe, memory: Memory, config: DistillConfig, world: object | None = None
) -> Actor:
    """An actor distilled from every planner decision in memory (with `world`'s symmetries)."""
    planned = make_agent(model, recipe).planned_model
    torch.manual_seed(0)
    actor = Actor(
        ActorConfig(embed_dim=recipe.model.encoder.embed_dim, action_dim=planned.action_dim)
    )
    decisions = read_decisions(memory, "plan")
    result = distill_actor(actor, planned, decisions, config, progress=True, world=world)
    print(
        f"distilled on {result.decisions} decisions ({result.training_rows} training rows with "
        f"symmetric copies): valid error {result.valid_loss:.4f}"
    )
    return actor


def evaluate(agent: TwoModeAgent, env, specs, protocol: EvalProtocol) -> dict[str, Any]:
    """Success, latency per decision and the planner's share of decisions over `specs`."""
    outcomes, seconds, planner_decisions, decisions = [], [], 0, 0
    for spec in specs:
        outcomes.append(
            run_episode(env, agent, spec.options, protocol.budget, spec.goal_pixels).success
        )
        seconds += [c.seconds for c in agent.choices]
        planner_decisions += agent.counts()["plan"]
        decisions += len(agent.choices)
    return {
        "success_rate": float(np.mean(outcomes)),
        "ms_per_decision": 1000 * float(np.mean(seconds)),
        "ms_per_decision_median": 1000 * float(np.median(seconds)),
        "planner_share": planner_decisions / decisions,
        "decisions": decisions,
    }


if __name__ == "__main__":
    main()
