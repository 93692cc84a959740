"""Learning from interaction: a tiny `ami live` end to end, resuming after a kill, novel goals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ami.errors import ConfigError, DatasetError
from ami.evaluation.protocols import protocol_by_name
from ami.live import LiveConfig, run_live
from ami.live.goals import goal_pixels_of, propose_goals
from ami.memory import Memory
from ami.memory.decisions import count_decisions
from ami.model import WorldModel
from ami.pipeline import make_agent, run_collect, training_windows
from ami.recipes import TINY
from ami.worlds import make

TINY_LIVE = LiveConfig(
    rounds=1, episodes=2, finetune_steps=10, distill_steps=20, eval_episodes=2, mode="auto"
)


@pytest.fixture(scope="module")
def seed_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seed") / "seed.h5"
    config = replace(TINY.collect, episodes=6)
    return run_collect(config, path, progress=False)


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory, seed_data: Path) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("live") / "live"
    state = run_live(TINY, TINY_LIVE, out, seed_data, torch.device("cpu"), progress=False)
    return out, state


def test_a_tiny_live_round_runs_end_to_end_and_writes_to_memory(live_run):
    out, state = live_run
    assert [r["round"] for r in state["rounds"]] == [0, 1]
    seed_steps = state["rounds"][0]["env_steps"]
    assert seed_steps == 6 * TINY.collect.steps_per_episode
    lived = state["rounds"][1]["acted"]
    assert lived["episodes"] == 2 and lived["mode"] == "plan"  # no actor existed yet
    assert state["rounds"][1]["env_steps"] == seed_steps + lived["env_steps"]
    with Memory.open(out / "memory.db", readonly=True) as memory:
        stats = memory.stats()
        assert stats["steps"] == seed_steps + lived["env_steps"]
        assert stats["sessions"] == 2  # the seed and round 1
        # re-embedded by the fine-tuned model, never mixed
        final = WorldModel.load(out / "round-001" / "checkpoint")
        assert stats["model_versions"] == {final.version(): stats["steps"]}
        assert count_decisions(memory)["plan"] == lived["decisions"]["plan"] > 0
    assert (out / "round-001" / "actor" / "actor.json").is_file()
    assert state["rounds"][1]["miss_threshold"] > 0
    assert (out / "live_curve.png").stat().st_size > 0
    saved = json.loads((out / "live.json").read_text())
    assert saved["rounds"] == json.loads(json.dumps(state["rounds"]))


def test_a_live_run_with_other_settings_is_refused(tmp_path, seed_data):
    out = tmp_path / "live"
    run_live(TINY, replace(TINY_LIVE, rounds=1), out, seed_data, torch.device("cpu"), False)
    with pytest.raises(ConfigError, match="other settings"):
        run_live(TINY, replace(TINY_LIVE, episodes=3), out, seed_data, torch.device("cpu"), False)


def test_live_resumes_after_a_kill_from_the_last_finished_round(tmp_path, seed_data):
    out = tmp_path / "live"
    command = [
        sys.executable, "-m", "ami", "live", "--out", str(out), "--preset", "tiny",
        "--seed-data", str(seed_data), "--episodes", "2", "--finetune-steps", "10",
        "--distill-steps", "20", "--eval-episodes", "2", "--device", "cpu", "--quiet",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([*command, "--rounds", "50"], env=env, stderr=subprocess.PIPE)
    state_file, deadline = out / "live.json", time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if state_file.is_file() and len(json.loads(state_file.read_text())["rounds"]) >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = json.loads(state_file.read_text())["rounds"]
    assert len(before) >= 2, process.stderr.read().decode()[-2000:] if process.stderr else ""
    with Memory.open(out / "memory.db") as memory:  # a writer: recovers the WAL
        assert memory.integrity_check() == "ok"
        steps_at_kill = memory.stats()["steps"]
    finished = len(before) - 1
    done = subprocess.run(
        [*command, "--rounds", str(finished + 1)], env=env, capture_output=True, timeout=240
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    after = json.loads(state_file.read_text())["rounds"]
    assert after[: len(before)] == before  # finished rounds are kept, not redone
    assert [r["round"] for r in after] == list(range(finished + 2))
    with Memory.open(out / "memory.db", readonly=True) as memory:
        final = memory.stats()["steps"]
    # nothing remembered before the kill is lost (the killed round's steps stay and are learnt
    # from; if it had finished acting, it is not acted again), and the state counts every step
    assert final >= steps_at_kill
    assert final == after[-1]["env_steps"]


def test_novel_goals_are_the_least_visited(tmp_path):
    protocol = protocol_by_name("goal_25_steps", 4, "two_room")
    env = make("two_room", size=32, max_episode_steps=protocol.budget)
    agent = make_agent(WorldModel(TINY.model).eval(), TINY)
    candidates = propose_goals(protocol, env, 8, round_index=1)
    with Memory.open(tmp_path / "m.db") as memory:
        episode = memory.begin_episode(memory.begin_session("v"), "two_room")
        visited = candidates[:4]  # the agent has been at these goals
        z = np.stack([agent.embed(goal_pixels_of(env, spec)).numpy() for spec in visited])
        memory.remember(episode, np.arange(4), np.zeros((4, 2)), z, "v")
        novel = propose_goals(
            protocol, env, 4, round_index=1, strategy="novel", memory=memory, agent=agent,
            candidates=2, k=1,
        )  # fmt: skip
    goal_of = [tuple(np.round(spec.options["goal"], 6)) for spec in candidates]
    chosen = [tuple(np.round(spec.options["goal"], 6)) for spec in novel]
    assert sorted(chosen) == sorted(goal_of[4:])
    uniform_again = propose_goals(protocol, env, 8, round_index=1)
    assert [tuple(np.round(s.options["goal"], 6)) for s in uniform_again] == goal_of
    other_round = propose_goals(protocol, env, 8, round_index=2)
    assert [tuple(np.round(s.options["goal"], 6)) for s in other_round] != goal_of


def test_training_reads_windows_from_a_memory_file(tmp_path, seed_data):
    from ami.memory.replay import remember_experience

    with Memory.open(tmp_path / "m.db") as memory:
        remember_experience(memory, seed_data, lambda f: np.zeros((len(f), 4), np.float32), "v")
    windows = training_windows(TINY, tmp_path / "m.db")
    assert len(windows) > 0 and windows.pixels.shape[-1] == 32
    bigger = replace(
        TINY,
        collect=replace(TINY.collect, image_size=64),
        model=replace(TINY.model, encoder=replace(TINY.model.encoder, image_size=64)),
    )
    with pytest.raises(DatasetError, match="32px"):
        training_windows(bigger, tmp_path / "m.db")


def test_ami_eval_runs_the_actor_of_a_live_round_and_refuses_another_models(live_run, tmp_path):
    out, _ = live_run
    command = [sys.executable, "-m", "ami", "eval", "--preset", "tiny", "--episodes", "2"]
    command += ["--protocol", "goal_25_steps", "--quiet", "--out", str(tmp_path / "eval")]
    actor = ["--actor", str(out / "round-001" / "actor")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    same = [*command, "--model", str(out / "round-001" / "checkpoint"), *actor, "--mode", "auto"]
    done = subprocess.run(same, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["episodes"] == 2 and results["plan_ms_per_call"] > 0
    older = [*command, "--model", str(out / "round-000" / "checkpoint"), *actor, "--mode", "act"]
    refused = subprocess.run(older, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert refused.stderr.strip().startswith("ami: error: the actor in")
    assert len(refused.stderr.strip().splitlines()) == 1
