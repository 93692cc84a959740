"""Probes read known maps out of synthetic embeddings; the statistics and `ami probe` behave."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ami.cli import main
from ami.errors import ConfigError, ShapeError
from ami.model import WorldModel
from ami.recipes import TINY
from ami.understanding.probes import ProbeConfig, fit_probe
from ami.understanding.quantities import QuantityGroup, readout, targets
from ami.understanding.stats import auroc, binomial_upper_tail, pearson_r, r2_score, sign_test


def synthetic(n: int, d: int, q: int, noise: float, seed: int = 0):
    """Embeddings `[n, d]` and targets `[n, q]` = a known affine map of them plus noise."""
    rng = np.random.default_rng(seed)
    weights, bias = rng.normal(size=(d, q)), rng.normal(size=q)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 10.0, size=d)  # unequal feature scales
    return x, x @ weights + bias + noise * rng.normal(size=(n, q)), (weights, bias)


def test_linear_probe_recovers_a_known_linear_map_on_new_embeddings() -> None:
    x, y, (weights, bias) = synthetic(1200, 16, 3, noise=1e-3)
    probe = fit_probe(x[:800], y[:800], ProbeConfig(kind="linear", ridge=0.0))
    held_out = x[800:]
    np.testing.assert_allclose(probe.predict(held_out), held_out @ weights + bias, atol=2e-3)
    for column in range(3):
        assert r2_score(y[800:, column], probe.predict(held_out)[:, column]) > 0.999999


def test_linear_probe_stays_exact_with_collinear_features() -> None:
    x, y, _ = synthetic(600, 8, 1, noise=0.0)
    doubled = np.concatenate([x, 2 * x], axis=1)  # rank-deficient design
    probe = fit_probe(doubled[:400], y[:400], ProbeConfig(kind="linear", ridge=0.0))
    np.testing.assert_allclose(probe.predict(doubled[400:]), y[400:], atol=1e-6)


def test_mlp_probe_recovers_a_known_linear_map() -> None:
    x, y, _ = synthetic(1000, 8, 2, noise=1e-3)
    config = ProbeConfig(kind="mlp", hidden=32, epochs=20, batch_size=64, lr=3e-3)
    probe = fit_probe(x[:700], y[:700], config)
    predicted = probe.predict(x[700:])
    assert all(r2_score(y[700:, c], predicted[:, c]) > 0.98 for c in range(2))


def test_mlp_probe_reads_a_nonlinear_quantity_that_a_linear_one_cannot() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, size=(2000, 2))
    y = x[:, 0] ** 2 + np.abs(x[:, 1])  # symmetric: no linear signal at all
    linear = fit_probe(x[:1500], y[:1500], ProbeConfig(kind="linear"))
    mlp = fit_probe(x[:1500], y[:1500], ProbeConfig(kind="mlp", hidden=32, epochs=40))
    assert r2_score(y[1500:], linear.predict(x[1500:])[:, 0]) < 0.05
    assert r2_score(y[1500:], mlp.predict(x[1500:])[:, 0]) > 0.95


def test_mlp_probe_is_reproducible_under_its_seed() -> None:
    x, y, _ = synthetic(300, 4, 1, noise=0.1)
    config = ProbeConfig(kind="mlp", hidden=16, epochs=3)
    first = fit_probe(x, y, config).predict(x)
    np.testing.assert_array_equal(first, fit_probe(x, y, config).predict(x))


def test_angles_are_read_from_sin_cos_and_scored_on_the_wrapped_error() -> None:
    group = QuantityGroup("angle", "angle", (0,), ("theta",), "rad", angular=True)
    truth = np.array([[math.pi - 0.01], [-math.pi + 0.01], [0.5]])
    # the probe is off by 0.02 rad each time, across the wrap for the first two
    predicted = targets(truth + 0.02, group)
    values = readout(predicted, truth, group)
    np.testing.assert_allclose(values - truth, 0.02, atol=1e-9)


def test_statistics_on_known_cases() -> None:
    assert pearson_r(np.arange(5.0), 3 * np.arange(5.0) + 1) == pytest.approx(1.0)
    assert pearson_r(np.arange(5.0), -np.arange(5.0)) == pytest.approx(-1.0)
    assert r2_score(np.arange(5.0), np.full(5, 2.0)) == pytest.approx(0.0)
    assert auroc([2.0, 3.0], [0.0, 1.0]) == 1.0
    assert auroc([0.0], [1.0]) == 0.0
    assert auroc([1.0, 1.0], [1.0, 1.0]) == 0.5  # ties count one half
    assert auroc([1.0, 3.0], [2.0]) == 0.5
    assert sign_test(np.ones(10)) == pytest.approx(1 / 1024)
    assert sign_test(np.array([1.0, 1.0, -1.0])) == pytest.approx(4 / 8)


def test_binomial_upper_tail_is_exact():
    assert binomial_upper_tail(0, 97, 0.01) == 1.0
    # P(X >= 2), X ~ Bin(97, 0.01) = 1 - P(0) - P(1)
    expected = 1 - 0.99**97 - 97 * 0.01 * 0.99**96
    assert binomial_upper_tail(2, 97, 0.01) == pytest.approx(expected)
    assert binomial_upper_tail(3, 3, 0.5) == pytest.approx(1 / 8)
    with pytest.raises(ShapeError):
        binomial_upper_tail(5, 3, 0.5)
    assert sign_test(np.zeros(4)) == 1.0  # no sign, no evidence


def test_probe_config_and_inputs_are_validated() -> None:
    with pytest.raises(ConfigError, match="kind"):
        ProbeConfig(kind="forest")
    with pytest.raises(ConfigError, match="epochs"):
        ProbeConfig(epochs=0)
    with pytest.raises(ShapeError):
        fit_probe(np.zeros((5, 2)), np.zeros((4, 1)), ProbeConfig())


@pytest.fixture(scope="module")
def untrained_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model") / "checkpoint"
    return WorldModel(TINY.model).save(folder, metadata={"world": "two_room"})


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["ami", *args])
    try:
        main()
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def test_probe_command_writes_the_table_json_and_one_plot_per_quantity(
    tmp_path: Path, untrained_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "probe"
    code = run_cli(
        monkeypatch,
        "probe",
        "--model",
        str(untrained_checkpoint.parent),  # the run folder is accepted as well
        "--world",
        "two_room",
        "--episodes",
        "6",
        "--out",
        str(out),
        "--quiet",
    )
    assert code == 0
    document = json.loads((out / "probe.json").read_text())
    quantities = document["quantities"]
    assert set(quantities) == {"agent_x", "agent_y", "agent_vx", "agent_vy"}
    for figures in quantities.values():
        assert {"r", "r2", "r_random_encoder", "linear", "mlp"} <= set(figures)
        assert -1.0 <= figures["r"] <= 1.0
    assert document["run"]["git_revision"]
    assert sorted(p.name for p in out.glob("scatter_*.png")) == [
        f"scatter_{name}.png" for name in sorted(quantities)
    ]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--world", "three_room"), "unknown world 'three_room'"),
        (("--world", "maze"), "trained on 'two_room', not 'maze'"),  # maze: state[i] probes
        (("--world", "two_room", "--model", "/no/such/run"), "no checkpoint at /no/such/run"),
        (("--world", "push_t"), "trained on 'two_room', not 'push_t'"),
    ],
)
def test_probe_command_bad_inputs_are_one_line_errors(
    args: tuple[str, ...],
    fragment: str,
    untrained_checkpoint: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = () if "--model" in args else ("--model", str(untrained_checkpoint))
    code = run_cli(monkeypatch, "probe", *model, *args, "--quiet")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2
    assert len(lines) == 1 and fragment in lines[0], lines
