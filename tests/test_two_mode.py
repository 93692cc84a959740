"""Mode switching: who acts follows the rules (fixed modes, surprise, the actor's imagined miss)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ami.agent import run_episode
from ami.agent.actor import Actor, ActorConfig
from ami.agent.decision_recorder import DecisionRecorder
from ami.agent.two_mode import ModeConfig, TwoModeAgent
from ami.errors import ConfigError
from ami.memory import Memory
from ami.memory.decisions import count_decisions, read_decisions
from ami.model import WorldModel
from ami.pipeline import make_agent
from ami.recipes import TINY
from ami.worlds import make

OPTIONS = {"agent": (0.2, 0.5), "goal": (0.8, 0.5)}


def tiny_agent(mode: str, threshold: float = math.inf) -> TwoModeAgent:
    torch.manual_seed(0)
    model = WorldModel(TINY.model).eval()
    planner = make_agent(model, TINY)
    actor = Actor(
        ActorConfig(embed_dim=16, action_dim=planner.planned_model.action_dim, hidden=16)
    ).eval()
    return TwoModeAgent(planner, actor, ModeConfig(mode=mode, miss_threshold=threshold))


def run(agent: TwoModeAgent, steps: int = 12):
    env = make("two_room", size=32)
    return run_episode(env, agent, OPTIONS, steps)


@pytest.mark.parametrize("mode", ["plan", "act"])
def test_fixed_modes_always_use_the_mode_asked_for(mode):
    agent = tiny_agent(mode)
    run(agent)
    frameskip = TINY.model.frameskip
    assert [c.t for c in agent.choices] == list(range(0, 12, frameskip))  # one per action block
    assert {(c.mode, c.reason) for c in agent.choices} == {(mode, "asked")}
    assert agent.counts()[mode] == len(agent.choices)


def test_plan_mode_acts_exactly_like_the_planner():
    agent = tiny_agent("plan")
    env = make("two_room", size=32)
    obs, _ = env.reset(options=OPTIONS)
    agent.begin(env.unwrapped.goal_pixels())
    planner = make_agent(agent.planner.model, TINY)
    planner.begin(env.unwrapped.goal_pixels())
    for _ in range(6):
        action = agent.act(obs["pixels"])
        assert np.array_equal(action, planner.act(obs["pixels"]))
        obs, *_ = env.step(action)


def test_auto_trusts_a_confident_actor_and_plans_when_it_misses():
    confident = tiny_agent("auto", threshold=math.inf)
    run(confident)
    assert {c.reason for c in confident.choices} == {"actor confident"}
    assert all(np.isfinite(c.miss) for c in confident.choices)
    missing = tiny_agent("auto", threshold=0.0)
    run(missing)
    assert {(c.mode, c.reason) for c in missing.choices} == {("plan", "actor misses goal")}
    # a threshold between the misses splits the decisions by the rule
    misses = sorted(c.miss for c in confident.choices)
    middle = (misses[0] + misses[-1]) / 2
    split = tiny_agent("auto", threshold=middle)
    run(split)
    for choice in split.choices:
        assert choice.mode == ("plan" if choice.miss > middle else "act")


def test_a_surprise_makes_the_planner_decide_at_once():
    agent = tiny_agent("auto", threshold=math.inf)
    env = make("two_room", size=32)
    obs, _ = env.reset(options=OPTIONS)
    agent.begin(env.unwrapped.goal_pixels())
    obs, *_ = env.step(agent.act(obs["pixels"]))  # the actor decides a block at t=0
    agent.replan("surprise event")  # what a SurpriseMonitor's callback does
    obs, *_ = env.step(agent.act(obs["pixels"]))  # mid-block: decides again, at once
    for _ in range(2):  # the planner's block (k = 2 steps), then the actor again
        obs, *_ = env.step(agent.act(obs["pixels"]))
    assert TINY.model.frameskip == 2
    assert [(c.t, c.mode, c.reason) for c in agent.choices] == [
        (0, "act", "actor confident"),
        (1, "plan", "surprise"),
        (3, "act", "actor confident"),
    ]


def test_decisions_go_to_memory_with_their_mode(tmp_path):
    agent = tiny_agent("auto", threshold=0.0)
    with Memory.open(tmp_path / "m.db") as memory:
        episode = memory.begin_episode(memory.begin_session("v"), "two_room")
        recorder = DecisionRecorder(memory, episode)
        agent.on_decision.append(recorder)
        run(agent)
        assert recorder.written == len(agent.choices) > 0
        assert count_decisions(memory)["plan"] == recorder.written
        remembered = read_decisions(memory, "plan")
        assert np.array_equal(remembered.observations[0], agent.choices[0].observation)
        assert remembered.plans.shape[1:] == (TINY.planner.mpc.horizon, 2)


def test_modes_needing_an_actor_refuse_to_start_without_one():
    planner = make_agent(WorldModel(TINY.model).eval(), TINY)
    with pytest.raises(ConfigError, match="needs an actor"):
        TwoModeAgent(planner, None, ModeConfig(mode="auto"))
    with pytest.raises(ConfigError, match="mode"):
        ModeConfig(mode="dream")
    wrong = Actor(ActorConfig(embed_dim=16, action_dim=7))
    with pytest.raises(ConfigError, match="size 7"):
        TwoModeAgent(planner, wrong, ModeConfig(mode="act"))


def test_the_planner_relabels_the_actors_decisions(tmp_path):
    from ami.agent.relabel import relabel_with_planner

    agent = tiny_agent("act")
    with Memory.open(tmp_path / "m.db") as memory:
        episode = memory.begin_episode(memory.begin_session("v"), "two_room")
        agent.on_decision.append(DecisionRecorder(memory, episode))
        run(agent)
        acted = read_decisions(memory, "act")
        planner = make_agent(agent.planner.model, TINY)
        assert relabel_with_planner(memory, planner) == len(acted) > 0
        labels = read_decisions(memory, "plan")
        assert np.array_equal(labels.observations, acted.observations)
        assert list(labels.t) == list(acted.t)
        # each label is what the planner plans from that observation towards that goal
        planner.begin(acted.goals[1])
        planner.next_block(acted.observations[1])
        assert np.allclose(labels.plans[1], planner.controller.plan.numpy())
        assert relabel_with_planner(memory, planner) == 0  # all labelled already
