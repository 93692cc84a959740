"""Abuse cases of the `ami` command and of `ami live` (issue 23): nothing lost, one line each.

Signals and the `ami live` refusals run `python -m ami` in a subprocess, as a user does; the
other cases call `ami.cli.main` in this process (same code, no interpreter start).
"""

from __future__ import annotations

import errno
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
import typer

from ami.cli import commands as cli
from ami.config import config_to_dict
from ami.errors import ConfigError
from ami.live import LiveConfig, run_live
from ami.memory import Memory
from ami.model import WorldModel
from ami.pipeline import run_collect
from ami.recipes import TINY, save_recipe
from cli_run import ami, assert_one_line_error

pytestmark = pytest.mark.reliability("cli")
LIVE = pytest.mark.reliability("live")

# The smallest live run: one round of one episode, a few optimiser steps.
SMALL_LIVE = LiveConfig(rounds=1, episodes=1, finetune_steps=2, distill_steps=2, eval_episodes=1)
LIVE_ARGS = ["--preset", "tiny", "--rounds", "1", "--episodes", "1", "--eval-episodes", "1"]
LIVE_ARGS += ["--finetune-steps", "2", "--distill-steps", "2", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def seed_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seed") / "seed.h5"
    return run_collect(replace(TINY.collect, episodes=2, steps_per_episode=10), path, False)


def tiny_checkpoint(folder: Path, world: str) -> Path:
    """An untrained tiny model saved as trained on `world`."""
    torch.manual_seed(0)
    return WorldModel(TINY.model).save(folder, metadata={"world": world})


def main_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> subprocess.CompletedProcess[str]:
    """`ami ARGS` through `ami.cli.main` in this process; its exit status and stderr."""
    monkeypatch.setattr(sys, "argv", ["ami", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        cli.main()
    code = done.value.code
    return subprocess.CompletedProcess(
        args, code if isinstance(code, int) else 1, "", capsys.readouterr().err
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, by relative path, with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# --- 1. ami live never deletes a memory it did not write -------------------------------------


@LIVE
def test_live_refuses_a_folder_holding_a_memory_without_live_json(tmp_path, seed_data):
    out = tmp_path / "mine"
    out.mkdir()
    with Memory.open(out / "memory.db") as memory:
        episode = memory.begin_episode(memory.begin_session("v"), "two_room")
        memory.remember(episode, np.arange(3), np.zeros((3, 2)), np.ones((3, 4), np.float32), "v")
    before = snapshot(out)
    result = ami("live", "--out", str(out), "--seed-data", str(seed_data), *LIVE_ARGS)
    assert_one_line_error(result, str(out), "memory.db", "live.json")
    assert snapshot(out) == before  # byte-identical, nothing added
    with Memory.open(out / "memory.db", readonly=True) as memory:
        assert memory.stats()["steps"] == 3


@LIVE
def test_live_refuses_a_folder_of_other_files_without_live_json(tmp_path, seed_data):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "round-000").mkdir()
    (out / "round-000" / "mine.txt").write_text("not ami's")
    before = snapshot(out)
    with pytest.raises(ConfigError, match=r"no live\.json"):
        run_live(TINY, SMALL_LIVE, out, seed_data, torch.device("cpu"), False)
    assert snapshot(out) == before


# --- 2. a '#' in --out: everything stays inside the folder ------------------------------------


@LIVE
def test_live_with_a_hash_in_out_keeps_everything_inside_the_folder(tmp_path, seed_data):
    init = tiny_checkpoint(tmp_path / "init", "two_room")
    runs = tmp_path / "runs"
    out = runs / "live#1"
    state = run_live(TINY, SMALL_LIVE, out, seed_data, torch.device("cpu"), False, init)
    assert [entry["round"] for entry in state["rounds"]] == [0, 1]
    assert sorted(p.name for p in runs.iterdir()) == ["live#1"]  # no sibling `live`
    with Memory.open(out / "memory.db", readonly=True) as memory:
        assert memory.stats()["steps"] == state["rounds"][1]["env_steps"]


# --- 3. every option of ami live is checked before any work -----------------------------------

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")


@LIVE
@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        pytest.param(["--device", "cuda"], "cuda", marks=NO_CUDA, id="cuda-without-cuda"),
        pytest.param(["--device", "tpu:7"], "tpu:7", id="unknown-device"),
        pytest.param(["--seed-data", "{tmp}/missing.h5"], "missing.h5", id="missing-seed-data"),
        pytest.param(["--init-model", "{tmp}/nothing"], "nothing", id="missing-init-model"),
    ],
)
def test_live_checks_every_option_before_any_work(tmp_path, options, fragment):
    out = tmp_path / "live"
    options = [option.format(tmp=tmp_path) for option in options]
    result = ami("live", "--out", str(out), *LIVE_ARGS, *options)
    assert_one_line_error(result, fragment)
    assert not out.exists()  # no seed data collected, nothing written


# --- 4. live.json of the wrong shape ---------------------------------------------------------


def live_settings(config: LiveConfig) -> dict:
    return json.loads(json.dumps({"recipe": config_to_dict(TINY), "live": config_to_dict(config)}))


SETTINGS = live_settings(SMALL_LIVE)


@LIVE
@pytest.mark.parametrize(
    "state",
    [
        pytest.param([1, 2, 3], id="a-list"),
        pytest.param({"recipe": SETTINGS["recipe"], "rounds": []}, id="missing-keys"),
        pytest.param({"recipe": [], "live": "x", "rounds": {}}, id="wrong-types"),
        pytest.param({**SETTINGS, "rounds": [{"round": 0, "env_steps": "many"}]}, id="bad-round"),
        pytest.param(b"\xff\xfe{", id="not-utf8"),
    ],
)
def test_live_json_of_the_wrong_shape_is_one_error_naming_the_file(tmp_path, state):
    out = tmp_path / "live"
    out.mkdir()
    data = state if isinstance(state, bytes) else json.dumps(state).encode()
    (out / "live.json").write_bytes(data)
    with pytest.raises(ConfigError, match=r"live\.json") as refused:
        run_live(TINY, SMALL_LIVE, out, tmp_path / "unused.h5", torch.device("cpu"), False)
    assert "\n" not in str(refused.value)
    assert (out / "live.json").read_bytes() == data


# --- 5. signals and exit codes ---------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_collect_exits_128_plus_the_signal_and_leaves_no_file(
    tmp_path, signum, code
):
    out = tmp_path / "x.h5"
    command = [sys.executable, "-m", "ami", "collect", "--out", str(out), "--episodes", "2000"]
    command += ["--steps", "20", "--image-size", "32", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".x.h5.tmp-*")) and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        time.sleep(0.02)
    time.sleep(0.2)  # well inside the writing
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert [line for line in stderr.splitlines() if line.strip()] == ["ami: interrupted"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temporary file, no x.h5


def test_typer_exit_n_exits_n(monkeypatch, capsys):
    app = typer.Typer()

    @app.command()
    def stop() -> None:
        raise typer.Exit(3)

    @app.command()
    def other() -> None:
        """A second command, so that `stop` is a subcommand."""

    monkeypatch.setattr(cli, "app", app)
    assert main_in_process(monkeypatch, capsys, "stop").returncode == 3


def test_an_interrupt_landing_in_a_destructor_still_stops_the_command(monkeypatch, capsys):
    app = typer.Typer()
    finished = []

    class Dropped:
        def __del__(self) -> None:
            signal.raise_signal(signal.SIGINT)  # Python prints and drops what __del__ raises

    @app.command()
    def work() -> None:
        Dropped()  # collected at once: the interrupt lands in its __del__
        time.sleep(1)
        finished.append(True)

    @app.command()
    def other() -> None:
        """A second command, so that `work` is a subcommand."""

    monkeypatch.setattr(cli, "app", app)
    result = main_in_process(monkeypatch, capsys, "work")
    assert (result.returncode, result.stderr.splitlines()) == (130, ["ami: interrupted"])
    assert finished == []


# --- 6. --out naming a file where a folder is expected, or a folder where a file is -----------


@pytest.mark.parametrize(
    "command",
    [
        ["demo", "--preset", "tiny"],
        ["eval", "--model", "{model}", "--preset", "tiny", "--episodes", "1"],
        ["live", *LIVE_ARGS, "--seed-data", "{data}"],
        ["probe", "--model", "{model}", "--world", "two_room", "--episodes", "4"],
        ["surprise", "--model", "{model}", "--world", "two_room", "--pairs", "2"],
        ["train", "--data", "{data}", "--preset", "tiny", "--steps", "1"],
    ],
    ids=lambda command: command[0],
)
def test_out_naming_an_existing_file_where_a_folder_is_expected(
    tmp_path, monkeypatch, capsys, seed_data, command
):
    model = tiny_checkpoint(tmp_path / "model", "two_room")
    out = tmp_path / "results.txt"
    out.write_text("the user's file")
    args = [part.format(model=model, data=seed_data) for part in command]
    result = main_in_process(monkeypatch, capsys, *args, "--out", str(out), "--device", "cpu")
    assert_one_line_error(result, str(out), "is an existing file, not a folder")
    assert out.read_text() == "the user's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "results.txt"]


def test_collect_out_naming_a_folder(tmp_path, monkeypatch, capsys):
    out = tmp_path / "data"
    out.mkdir()
    args = ["collect", "--out", str(out), "--episodes", "1", "--steps", "2", "--image-size", "32"]
    result = main_in_process(monkeypatch, capsys, *args, "--quiet")
    assert_one_line_error(result, str(out), "is a folder, not a file")
    assert list(out.iterdir()) == [] and sorted(tmp_path.iterdir()) == [out]


# --- 7. an OSError that escapes is one line, exit 2; bugs keep their traceback ----------------


def test_an_escaping_os_error_is_one_line_naming_the_file(monkeypatch, capsys):
    app = typer.Typer()

    @app.command()
    def full() -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/x.h5")

    @app.command()
    def bug() -> None:
        raise ValueError("a programming error")

    monkeypatch.setattr(cli, "app", app)
    result = main_in_process(monkeypatch, capsys, "full")
    assert_one_line_error(result, "No space left on device: /data/x.h5")
    monkeypatch.setattr(sys, "argv", ["ami", "bug"])
    with pytest.raises(ValueError, match="a programming error"):
        cli.main()


def test_a_folder_that_cannot_be_made_is_one_line(tmp_path):
    if not Path("/proc/self").is_dir():
        pytest.skip("needs /proc")
    result = ami("collect", "--out", "/proc/ami-nowhere/x.h5", "--episodes", "1", "--steps", "2")
    assert_one_line_error(result, "/proc/ami-nowhere")


# --- 8. a checkpoint of another world is refused, naming both ---------------------------------


def test_eval_refuses_a_checkpoint_of_another_world(tmp_path, monkeypatch, capsys):
    model = tiny_checkpoint(tmp_path / "push_t_model", "push_t")
    recipe = save_recipe(TINY, tmp_path / "recipe.json")
    args = ["eval", "--model", str(model), "--recipe-file", str(recipe), "--episodes", "1"]
    args += ["--out", str(tmp_path / "eval"), "--device", "cpu", "--quiet"]
    result = main_in_process(monkeypatch, capsys, *args)
    assert_one_line_error(result, "'push_t'", "'two_room'", str(model))
    assert not (tmp_path / "eval").exists()


@LIVE
def test_live_refuses_an_init_model_of_another_world(tmp_path, monkeypatch, capsys, seed_data):
    model = tiny_checkpoint(tmp_path / "push_t_model", "push_t")
    out = tmp_path / "live"
    args = ["live", "--out", str(out), *LIVE_ARGS, "--init-model", str(model)]
    result = main_in_process(monkeypatch, capsys, *args, "--seed-data", str(seed_data))
    assert_one_line_error(result, "'push_t'", "'two_room'")
    assert not out.exists()
