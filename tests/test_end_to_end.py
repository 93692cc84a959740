"""A tiny real run: collect → train → plan must beat the random floor on the same episodes."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ami.evaluation.protocols import EvalProtocol
from ami.evaluation.runner import evaluate
from ami.experience import CollectConfig
from ami.model import WorldModel
from ami.pipeline import make_agent, run_collect, run_train
from ami.recipes import TINY, save_recipe
from ami.training import TrainConfig

pytestmark = pytest.mark.slow

# Small but learnable: 32 px, 300 episodes, a few hundred steps (≈ 30 s on 2 cores).
RECIPE = replace(
    TINY,
    collect=CollectConfig(
        world="two_room", episodes=300, steps_per_episode=40, policy="mixed", image_size=32
    ),
    train=TrainConfig(
        steps=400,
        batch_size=32,
        warmup_steps=20,
        log_every=50,
        valid_every=200,
        checkpoint_every=200,
    ),
)

NEAR_GOALS = EvalProtocol(
    name="near_goals",
    version=1,
    world="two_room",
    episodes=16,
    seed=777,
    budget=30,
    success_radius=0.06,
    pairing="dataset_offset",
    goal_offset=10,
    description="test protocol: goal 10 expert steps ahead, radius 0.06, budget 30",
)


def test_collect_train_plan_beats_random_floor(tmp_path: Path) -> None:
    torch.manual_seed(0)
    data = run_collect(RECIPE.collect, tmp_path / "data.h5", progress=False)
    model, result = run_train(RECIPE, data, tmp_path / "run", torch.device("cpu"), progress=False)
    assert result.steps == 400
    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert metrics[-1]["pred_loss"] < metrics[0]["pred_loss"]
    outcome = evaluate(
        NEAR_GOALS, make_agent(model, RECIPE), progress=False, world_overrides={"size": 32}
    )
    assert outcome.success_rate >= outcome.random_success_rate + 0.25, outcome.as_dict()


def test_demo_command_writes_the_report(tmp_path: Path) -> None:
    recipe = save_recipe(TINY, tmp_path / "tiny.json")
    out = tmp_path / "report"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ami",
            "demo",
            "--recipe-file",
            str(recipe),
            "--out",
            str(out),
            "--quiet",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads((out / "results.json").read_text())
    for key in (
        "success_rate",
        "random_success_rate",
        "episodes",
        "protocol",
        "plan_seconds_per_episode",
    ):
        assert key in document
    assert document["protocol"]["name"] == "cross_room"
    assert set(document["protocols"]) == {"cross_room", "goal_25_steps"}
    for name in ("report.html", "training_curves.png", "success.png", "episodes.gif"):
        assert (out / name).stat().st_size > 0, name
    html = (out / "report.html").read_text()
    assert "episodes.gif" in html and "training_curves.png" in html
    assert "cross_room" in result.stdout and "ami results" in result.stdout


@pytest.mark.parametrize("solver", ["cem", "icem", "mppi", "gradient", "predictive_sampling"])
def test_every_solver_plans_from_the_command_line(tmp_path: Path, solver: str) -> None:
    model = WorldModel(TINY.model)
    model.save(tmp_path / "checkpoint")
    save_recipe(TINY, tmp_path / "recipe.json")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ami",
            "eval",
            "--model",
            str(tmp_path / "checkpoint"),
            "--out",
            str(tmp_path / "out"),
            "--solver",
            solver,
            "--episodes",
            "1",
            "--protocol",
            "goal_25_steps",
            "--quiet",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert document["planner"]["solver"]["name"] == solver
    assert document["plan_ms_per_call"] > 0
