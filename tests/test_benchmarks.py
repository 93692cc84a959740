"""The benchmarks as one harness: each module runs by `python -m benchmarks.NAME`, results files
record provenance and relative paths, and the cache trains a model once and reuses it."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import benchmarks.cache as cache
import numpy as np
import pytest
from benchmarks.results_file import ROOT, read_results, relative_paths, write_results

from ami.errors import ConfigError
from ami.recipes import TINY

BENCHMARKS = ROOT / "benchmarks"
# modules with no command of their own
HELPERS = {
    "__init__",
    "cache",
    "results_file",
    "speed",
    "swm_experts",
    "swm_protocol",
    "table_seeds",
    "table_report",
}
RUNNABLE = sorted(p.stem for p in BENCHMARKS.glob("*.py") if p.stem not in HELPERS)


def test_the_benchmarks_are_the_documented_ones():
    readme = (BENCHMARKS / "README.md").read_text()
    for name in RUNNABLE:
        assert f"python -m benchmarks.{name}" in readme, f"{name} is not in benchmarks/README.md"
    assert len(RUNNABLE) >= 19


@pytest.mark.parametrize("name", RUNNABLE)
def test_every_benchmark_answers_help(name, monkeypatch, capsys):
    module = importlib.import_module(f"benchmarks.{name}")
    monkeypatch.setattr(sys, "argv", [f"benchmarks/{name}.py", "--help"])
    with pytest.raises(SystemExit) as exit_:
        module.main()
    assert exit_.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_a_benchmark_runs_as_a_module_of_the_package():
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.table", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "--cache" in run.stdout and "--curve-points" in run.stdout


def test_no_benchmark_edits_sys_path_or_reads_another_scripts_folder():
    names = "demo|maze|actor|live|understanding|multistep-"
    hidden = re.compile(rf"[\"'/]\.({names})|bench-models")  # ".maze", "benchmarks/.demo/"
    for path in BENCHMARKS.glob("*.py"):
        text = path.read_text()
        assert "sys.path" not in text, path.name
        assert not hidden.search(text), f"{path.name} names another script's folder"


def test_results_record_provenance_and_only_relative_paths(tmp_path: Path):
    document = {
        "model": ROOT / "benchmarks" / ".cache" / "models" / "demo" / "run" / "checkpoint",
        "dataset": str(ROOT / "data" / "experience.h5"),
        "models": {ROOT / "a" / "checkpoint": {"r": 0.5}},
        "elsewhere": [tmp_path / "outside.h5"],
        "note": "/not a path in the repository",
        "success_rate": 0.25,
        "numpy": {"count": np.int64(3), "share": np.float32(0.5), "flag": np.bool_(True)},
    }
    path = write_results(
        "check", document, command="python -m benchmarks.check --x 1", out=tmp_path / "r.json"
    )
    written = json.loads(path.read_text())
    assert written["model"] == "benchmarks/.cache/models/demo/run/checkpoint"
    assert written["dataset"] == "data/experience.h5"
    assert list(written["models"]) == ["a/checkpoint"]
    assert not written["elsewhere"][0].startswith("/")
    assert (ROOT / written["elsewhere"][0]).resolve() == (tmp_path / "outside.h5").resolve()
    assert written["note"] == "/not a path in the repository" and written["success_rate"] == 0.25
    assert written["numpy"] == {"count": 3, "share": 0.5, "flag": True}  # numpy scalars written
    assert written["command"] == "python -m benchmarks.check --x 1"
    assert isinstance(written["load_average"], float)
    for key in ("date", "machine", "cpu_model", "cpu_capability", "git_revision", "torch"):
        assert key in written, key
    assert str(ROOT) not in path.read_text()
    # a document's own provenance (e.g. a revision given by hand) wins over the machine's
    again = write_results("check", {"git_revision": "abc1234"}, out=tmp_path / "r.json")
    assert json.loads(again.read_text())["git_revision"] == "abc1234"
    assert read_results("check", tmp_path / "r.json")["git_revision"] == "abc1234"
    assert read_results("check", tmp_path / "absent.json") == {}


def test_a_damaged_results_file_is_a_one_line_error(tmp_path: Path):
    (tmp_path / "bad.json").write_text("[1, 2")
    with pytest.raises(ConfigError, match="bad.json"):
        read_results("bad", tmp_path / "bad.json")


def test_committed_results_hold_no_absolute_paths():
    absolute = re.compile(r'"(/root|/work|/tmp|/home)[^"]*"')
    for path in (BENCHMARKS / "results").glob("*.json"):
        assert not absolute.search(path.read_text()), path.name
    assert relative_paths(str(ROOT / "x")) == "x"


def test_the_cache_trains_a_model_once_and_then_returns_it(monkeypatch, tmp_path: Path):
    trained, collected = [], []
    real_train, real_collect = cache.run_train, cache.run_collect

    def counting_train(recipe, *args, **kwargs):
        trained.append(recipe.name)
        return real_train(recipe, *args, **kwargs)

    def counting_collect(config, *args, **kwargs):
        collected.append(config.world)
        return real_collect(config, *args, **kwargs)

    monkeypatch.setattr(cache, "run_train", counting_train)
    monkeypatch.setattr(cache, "run_collect", counting_collect)
    first = cache.trained_model("tiny", tmp_path, progress=False)
    assert trained == ["tiny"] and collected == ["two_room"]
    assert (first / "model.safetensors").is_file()
    assert first == tmp_path / "models" / "tiny" / "run" / "checkpoint"
    facts = cache.model_facts(first)
    assert facts["train_steps"] == TINY.train.steps and facts["train_minutes"] > 0

    again = cache.trained_model(TINY, tmp_path, progress=False)
    assert again == first and trained == ["tiny"]  # reused, not trained again
    planner = replace(TINY.planner, mpc=replace(TINY.planner.mpc, horizon=3))
    assert cache.trained_model(replace(TINY, planner=planner), tmp_path) == first  # same model

    longer = replace(TINY, train=replace(TINY.train, steps=TINY.train.steps + 10))
    cache.trained_model(longer, tmp_path, progress=False)  # same name, another model
    assert trained == ["tiny", "tiny"] and collected == ["two_room"]  # the data is shared
    assert cache.model_facts(first)["train_steps"] == TINY.train.steps + 10
    assert cache.cached_model(TINY, tmp_path) is None  # the old model was replaced


def test_an_unknown_model_name_is_a_one_line_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="three_room"):
        cache.trained_model("three_room", tmp_path)
