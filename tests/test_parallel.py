"""Collection and evaluation in worker processes give exactly what the serial runs give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ami.errors import ConfigError
from ami.evaluation.protocols import EvalProtocol
from ami.evaluation.runner import evaluate
from ami.experience import CollectConfig, ExperienceDataset
from ami.experience.collect import collect_to_file
from ami.model import WorldModel
from ami.pipeline import make_agent
from ami.recipes import TINY


def _read(path: Path) -> dict:
    with ExperienceDataset.open(path) as dataset:
        pixels, actions, states = dataset.load_arrays(progress=False)
        return {
            "pixels": pixels,
            "actions": actions,
            "states": states,
            "starts": dataset.episode_starts,
            "lengths": dataset.episode_lengths,
            "meta": dataset.meta,
        }


def test_parallel_collection_writes_the_serial_file(tmp_path: Path) -> None:
    # 7 episodes over 3 workers: uneven contiguous ranges (2, 3, 2); the mixed policy makes
    # episodes differ, so any reordering or reseeding shows.
    config = CollectConfig("two_room", 7, 9, "mixed", image_size=32, seed=11)
    serial = _read(collect_to_file(config, tmp_path / "serial.h5", progress=False))
    parallel = _read(collect_to_file(config, tmp_path / "parallel.h5", progress=False, workers=3))
    assert serial["meta"] == parallel["meta"]
    for key in ("pixels", "actions", "states", "starts", "lengths"):
        np.testing.assert_array_equal(parallel[key], serial[key], err_msg=key)
    # The episodes are not all alike (else the comparison above would prove little).
    firsts = serial["states"][serial["starts"]]
    assert len({tuple(row) for row in firsts.round(4)}) == 7


def test_parallel_collection_rejects_bad_worker_counts(tmp_path: Path) -> None:
    config = CollectConfig("two_room", 2, 3, "random", image_size=32)
    with pytest.raises(ConfigError, match="workers"):
        collect_to_file(config, tmp_path / "x.h5", progress=False, workers=0)


PROTOCOL = EvalProtocol(
    name="near",
    version=1,
    world="two_room",
    episodes=5,
    seed=3,
    budget=16,
    success_radius=0.25,
    pairing="cross_room",
)


def test_parallel_evaluation_gives_the_serial_results() -> None:
    torch.manual_seed(0)
    agent = make_agent(WorldModel(TINY.model).eval(), TINY)
    settings = {"size": 32}
    serial = evaluate(PROTOCOL, agent, record=2, progress=False, world_overrides=settings)
    parallel = evaluate(
        PROTOCOL, agent, record=2, progress=False, world_overrides=settings, workers=2
    )
    assert parallel.outcomes == serial.outcomes
    assert parallel.final_distances == serial.final_distances
    assert len(set(serial.final_distances)) == PROTOCOL.episodes  # every episode is its own
    assert parallel.random_success_rate == serial.random_success_rate
    assert parallel.mean_steps_to_success == pytest.approx(
        serial.mean_steps_to_success, nan_ok=True
    )
    assert [r.title for r in parallel.recorded] == ["near #0", "near #1"]
    for got, want in zip(parallel.recorded, serial.recorded, strict=True):
        np.testing.assert_array_equal(got.frames, want.frames)
    assert parallel.plan_ms_per_call > 0
    with pytest.raises(ConfigError, match="workers"):
        evaluate(PROTOCOL, agent, progress=False, world_overrides=settings, workers=0)
