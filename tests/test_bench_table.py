"""The benchmark table: trains or reuses a model per world, one row per world and solver."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import benchmarks.cache as cache
import benchmarks.table as bench_table
import pytest
import torch
from benchmarks.table import TableConfig, run_table
from benchmarks.table_report import plot_curves, rich_table, write_table
from benchmarks.table_seeds import best_row, format_spread, seeded, spread

from ami.errors import ConfigError
from ami.recipes import TINY

TINY_PUSH_T = replace(
    TINY, name="tiny_push_t", collect=replace(TINY.collect, world="push_t", policy="expert")
)


@pytest.fixture
def tiny_recipes(monkeypatch):
    recipes = {"two_room": TINY, "push_t": TINY_PUSH_T}
    monkeypatch.setattr(bench_table, "WORLD_RECIPES", recipes)
    return recipes


def count_training(monkeypatch) -> list[str]:
    trained: list[str] = []
    real = cache.run_train

    def counting(recipe, *args, **kwargs):
        trained.append(recipe.collect.world)
        return real(recipe, *args, **kwargs)

    monkeypatch.setattr(cache, "run_train", counting)
    return trained


def test_table_has_a_row_per_world_and_solver_and_reuses_models(
    tiny_recipes, monkeypatch, tmp_path: Path
):
    trained = count_training(monkeypatch)
    config = TableConfig(
        worlds=("two_room", "push_t"),
        solvers=("cem", "mppi"),
        episodes=2,
        curve_points=1,
        curve_episodes=2,
    )
    document = run_table(config, tmp_path / "models", torch.device("cpu"), progress=False)
    assert trained == ["two_room", "push_t"]
    rows = document["rows"]
    assert [(r["world"], r["solver"]) for r in rows] == [
        ("two_room", "cem"), ("two_room", "mppi"), ("push_t", "cem"), ("push_t", "mppi"),
    ]  # fmt: skip
    for row in rows:
        assert 0 <= row["success_rate"] <= 1 and 0 <= row["random_success_rate"] <= 1
        assert row["plan_seconds"] > 0 and row["train_minutes"] > 0
        assert row["episodes"] == 2
    for world in ("two_room", "push_t"):
        facts = document["worlds"][world]
        assert facts["curve"]["step"] == [30]  # halfway through TINY's 60 steps
        assert len(facts["curve"]["success_rate"]) == 1
        assert facts["protocol"]["world"] == world and facts["protocol"]["budget"] == 50

    again = run_table(
        replace(config, solvers=("cem",)), tmp_path / "models", torch.device("cpu"), False
    )
    assert trained == ["two_room", "push_t"]  # same recipes: loaded, not trained again
    assert (
        again["worlds"]["push_t"]["train_minutes"] == document["worlds"]["push_t"]["train_minutes"]
    )
    same_cem = [r["success_rate"] for r in rows if r["solver"] == "cem"]
    assert [r["success_rate"] for r in again["rows"]] == same_cem  # fixed seeds: reproducible

    run_table(
        replace(config, worlds=("push_t",), solvers=("cem",), train_steps=40),
        tmp_path / "models",
        torch.device("cpu"),
        False,
    )
    assert trained == ["two_room", "push_t", "push_t"]  # another recipe: trained again

    out = write_table(document, tmp_path / "table.json", "python -m benchmarks.table")
    written = json.loads(out.read_text())
    assert written["command"] == "python -m benchmarks.table" and written["rows"] == rows
    assert {"date", "machine", "git_revision"} <= written.keys()
    assert written["worlds"]["push_t"]["measured"]["command"] == "python -m benchmarks.table"
    # a run of one world replaces that world's rows and keeps the others'
    push_t_only = {
        "rows": [{**rows[2], "success_rate": 0.5}],
        "worlds": {"push_t": document["worlds"]["push_t"]},
    }
    write_table(push_t_only, out, "python -m benchmarks.table --world push_t")
    merged = json.loads(out.read_text())
    assert [(r["world"], r["solver"]) for r in merged["rows"]] == [
        ("two_room", "cem"), ("two_room", "mppi"), ("push_t", "cem"),
    ]  # fmt: skip
    assert merged["rows"][:2] == rows[:2] and merged["rows"][2]["success_rate"] == 0.5
    assert merged["worlds"]["two_room"]["measured"]["command"] == "python -m benchmarks.table"
    push_t_command = merged["worlds"]["push_t"]["measured"]["command"]
    assert push_t_command == "python -m benchmarks.table --world push_t"
    assert plot_curves(document, tmp_path / "curve.png").stat().st_size > 1000
    assert plot_curves(merged, tmp_path / "merged.png").stat().st_size > 1000  # as the CLI does
    assert rich_table(document).row_count == 4


def test_table_config_is_validated(tiny_recipes):
    with pytest.raises(ConfigError, match="worlds"):
        TableConfig(worlds=("three_room",))
    with pytest.raises(ConfigError, match="solvers"):
        TableConfig(worlds=("two_room",), solvers=("annealing",))
    with pytest.raises(ConfigError, match="episodes"):
        TableConfig(worlds=("two_room",), episodes=0)
    with pytest.raises(ConfigError, match="train_steps"):
        TableConfig(worlds=("two_room",), train_steps=0)
    with pytest.raises(ConfigError, match="collect_workers"):
        TableConfig(worlds=("two_room",), collect_workers=0)


def test_every_row_of_the_table_has_the_published_figures_beside_it():
    assert set(bench_table.ANCHOR_FIGURES) == set(bench_table.row_recipes())
    assert bench_table.ANCHOR_FIGURES["cube"]["DINO-WM"] == 86


def test_a_model_is_reused_across_new_defaulted_fields_and_other_planners():
    from benchmarks.cache import same_recipe as _same_recipe

    from ami.config import config_to_dict
    from ami.recipes import PUSH_T, REACHER

    stored = json.loads(json.dumps(config_to_dict(REACHER)))
    del stored["train"]["colour_shift"]  # written before the field existed (its default: 0)
    assert _same_recipe(stored, REACHER)
    assert not _same_recipe(stored, PUSH_T)
    stored["train"]["steps"] += 1
    assert not _same_recipe(stored, REACHER)
    assert not _same_recipe({"no such field": 1}, REACHER) and not _same_recipe(None, REACHER)
    stored["train"]["steps"] -= 1
    planner = replace(REACHER.planner, cost=replace(REACHER.planner.cost, reduce="sum"))
    assert _same_recipe(stored, replace(REACHER, planner=planner, eval_episodes=7))  # same model
    drawn_ahead = replace(REACHER, train=replace(REACHER.train, loader_workers=4))
    assert _same_recipe(stored, drawn_ahead)  # the same batches, so the same model


def test_seed_spread_is_the_mean_and_sample_sd_of_known_numbers():
    summary = spread([0.90, 0.86, 0.94])
    assert summary["mean"] == pytest.approx(0.90)
    assert summary["sd"] == pytest.approx(0.04)  # sqrt(((0)^2 + 0.04^2 + 0.04^2) / 2)
    assert summary["n"] == 3 and summary["values"] == [0.90, 0.86, 0.94]
    assert spread([1.0, 1.0])["sd"] == 0.0
    assert format_spread(summary) == "90 +- 4 % (3 seeds)"
    with pytest.raises(ConfigError, match="two seeds"):
        spread([0.5])
    with pytest.raises(ConfigError, match="non-finite"):
        spread([0.5, float("nan")])


def test_seeded_recipes_differ_only_in_the_training_seed_and_name():
    assert seeded(TINY, 0) is TINY
    other = seeded(TINY, 2)
    assert other.train.seed == 2 and other.name == f"{TINY.name}_seed2"
    assert replace(other, name=TINY.name, train=TINY.train) == TINY
    rows = [
        {"world": "two_room", "solver": "cem", "success_rate": 0.5},
        {"world": "two_room", "solver": "mppi", "success_rate": 0.7},
        {"world": "push_t", "solver": "cem", "success_rate": 0.9},
    ]
    assert best_row(rows, "two_room")["solver"] == "mppi"
    with pytest.raises(ConfigError, match="reacher"):
        best_row(rows, "reacher")


@pytest.mark.slow
def test_table_with_seeds_trains_each_seed_and_reports_the_spread(
    tiny_recipes, monkeypatch, tmp_path: Path
):
    trained = count_training(monkeypatch)
    config = TableConfig(
        worlds=("two_room",), solvers=("cem", "mppi"), episodes=2, curve_points=0, seeds=3
    )
    document = run_table(config, tmp_path / "models", torch.device("cpu"), progress=False)
    assert trained == ["two_room"] * 3  # seed 0 is the table's model, seeds 1 and 2 are new
    seeds = document["worlds"]["two_room"]["seeds"]
    best = best_row(document["rows"], "two_room")
    assert seeds["solver"] == best["solver"] and seeds["train_seeds"] == [0, 1, 2]
    assert seeds["values"][0] == best["success_rate"] and seeds["n"] == 3
    assert seeds["mean"] == pytest.approx(sum(seeds["values"]) / 3)
    assert len(seeds["train_minutes"]) == 3
    assert "seeds)" in "".join(str(c) for c in rich_table(document).columns[3]._cells)
    with pytest.raises(ConfigError, match="seeds"):
        TableConfig(worlds=("two_room",), seeds=0)
