"""Data-parallel training: 2 gloo processes × B windows take the step of 1 process × 2B windows.

The equivalence runs the real `TrainStep` (JEPA loss, SIGReg over the gathered batch, encoder
BatchNorm, DDP, clipping, the optimiser step) in two processes and in this one. It steps with SGD:
Adam divides each gradient element by its own magnitude, so the float noise of a gradient that is
zero in exact arithmetic (the bias of the layer before BatchNorm) would become an update of the
size of the learning rate in both runs, differently; SGD keeps the update proportional to the
gradient, which is what must agree. The resume test launches `python -m ami train` under torchrun
and then once more as a single process, with AdamW.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ami.errors import ConfigError
from ami.experience import CollectConfig
from ami.experience.collect import collect_to_file
from ami.model import EncoderConfig, PredictorConfig, SIGRegConfig, WorldModel, WorldModelConfig
from ami.training import TrainConfig
from ami.training.distributed import GlobalBatchNorm, step_generator
from ami.training.step import TrainStep

WORLD, B, T, SIDE = 2, 6, 3, 16
# The reference batch is the global batch, so lr 0.1 takes steps of the size this test was tuned
# for; the equality of one and two processes holds for any reference batch. fp32, not "auto":
# on a CPU with native bf16, "auto" is bf16, whose rounding the exact comparisons do not allow.
CONFIG = TrainConfig(
    lr=0.1,
    grad_clip=0.5,
    precision="fp32",
    sigreg=SIGRegConfig(num_directions=16, reference_batch=WORLD * B),
)


def _model() -> WorldModel:
    torch.manual_seed(0)
    return WorldModel(
        WorldModelConfig(
            encoder=EncoderConfig(image_size=SIDE, channels=(8, 16), hidden=32, embed_dim=16),
            predictor=PredictorConfig(embed_dim=16, action_dim=2, hidden=32, depth=2),
        )
    ).train()


def _batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Two global batches: pixels uint8 [2B, T, 3, h, w], actions [2B, T-1, 2]."""
    g = torch.Generator().manual_seed(7)
    return [
        (
            torch.randint(0, 256, (WORLD * B, T, 3, SIDE, SIDE), generator=g, dtype=torch.uint8),
            torch.rand(WORLD * B, T - 1, 2, generator=g) * 2 - 1,
        )
        for _ in range(2)
    ]


def _run_steps(model: WorldModel, shard: slice) -> dict:
    """Two `TrainStep`s on the `shard` of each global batch; the parts, weights and gradients."""
    optimizer = torch.optim.SGD(model.parameters(), lr=CONFIG.lr)
    step = TrainStep(model, optimizer, torch.Generator().manual_seed(1), CONFIG)
    parts = [step(pixels[shard], actions[shard], CONFIG.lr) for pixels, actions in _batches()]
    return {
        "parts": parts,
        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "grads": {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None},
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker(rank: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        model = _model()
        result = _run_steps(model, slice(rank * B, (rank + 1) * B))
        result["norms"] = [type(m).__name__ for m in model.modules() if "Norm" in type(m).__name__]
        torch.save(result, Path(out_dir) / f"{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_processes_take_the_step_of_one_process_with_the_global_batch(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    reference = _run_steps(_model(), slice(None))
    initial = _model().state_dict()
    for rank in range(WORLD):
        result = torch.load(tmp_path / f"{rank}.pt")
        assert "GlobalBatchNorm" in result["norms"]
        for got, want in zip(result["parts"], reference["parts"], strict=True):
            assert got.keys() == want.keys() == {
                "loss", "pred_loss", "sigreg", "rollout_loss", "grad_norm"
            }  # fmt: skip
            for key in want:
                assert got[key] == pytest.approx(want[key], rel=1e-4), key
        assert reference["parts"][0]["grad_norm"] > CONFIG.grad_clip  # clipping is exercised
        # Float noise: ~1e-6 in the bias before BatchNorm, whose exact gradient is 0.
        scale = max(float(g.abs().max()) for g in reference["grads"].values())
        for name, want in reference["grads"].items():
            torch.testing.assert_close(result["grads"][name], want, rtol=1e-3, atol=3e-4 * scale)
        moved = 0
        for name, want in reference["state"].items():
            torch.testing.assert_close(result["state"][name], want, rtol=1e-4, atol=1e-6)
            moved += int(not torch.allclose(want.float(), initial[name].float(), atol=1e-4))
        assert moved >= 10  # the step changed the weights (and BatchNorm's running statistics)


def test_global_batchnorm_is_plain_batchnorm_in_one_process() -> None:
    x = torch.randn(12, 5, generator=torch.Generator().manual_seed(0)) * 3 + 40
    plain, synced = torch.nn.BatchNorm1d(5), GlobalBatchNorm(5)
    torch.testing.assert_close(synced(x), plain(x))
    torch.testing.assert_close(synced.running_var, plain.running_var)


def test_batch_streams_differ_by_rank_and_step_and_repeat_exactly() -> None:
    def draw(rank: int, step: int) -> list[int]:
        return torch.randint(1000, (8,), generator=step_generator(3, rank, step)).tolist()

    assert draw(0, 5) == draw(0, 5)
    assert len({tuple(draw(r, s)) for r in range(2) for s in range(3)}) == 6


@pytest.mark.parametrize("changes", [{"precision": "fp16"}, {"compile": "yes"}])
def test_train_config_rejects_bad_precision_and_compile(changes: dict) -> None:
    (field,) = changes
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**changes)


def test_compile_without_a_compiler_is_a_one_line_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """torch.compile would die in the first step, deep inside torch; the step says why at once."""
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no g++, clang++ or c++
    monkeypatch.delenv("CXX", raising=False)
    model = _model()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    config = TrainConfig(compile=True, sigreg=CONFIG.sigreg)
    with pytest.raises(ConfigError, match=r"compiler \(g\+\+ or clang\+\+ or c\+\+\)"):
        TrainStep(model, optimiser, torch.Generator(), config)
    monkeypatch.setenv("CXX", f"{sys.executable} -O2")  # CXX names the compiler (and its flags)
    TrainStep(model, optimiser, torch.Generator(), config)
    monkeypatch.setenv("CXX", "no-such-compiler")
    with pytest.raises(ConfigError, match="no-such-compiler"):
        TrainStep(model, optimiser, torch.Generator(), config)
    TrainStep(model, optimiser, torch.Generator(), TrainConfig(sigreg=CONFIG.sigreg))  # eager


def test_bf16_step_trains_and_keeps_float32_weights() -> None:
    model = _model()
    config = TrainConfig(lr=1e-2, precision="bf16", sigreg=CONFIG.sigreg)
    step = TrainStep(
        model,
        torch.optim.AdamW(model.parameters(), lr=1e-2),
        torch.Generator().manual_seed(1),
        config,
    )
    pixels, actions = _batches()[0]
    fp32 = _run_steps(_model(), slice(None))["parts"][0]
    parts = step(pixels, actions, 1e-2)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    # bf16 matmuls change the loss a little, not its size (measured: ~0.3 % apart).
    assert parts["loss"] == pytest.approx(fp32["loss"], rel=0.05)
    assert parts["loss"] != fp32["loss"]


@pytest.mark.slow
def test_compiled_step_takes_the_eager_step() -> None:
    """`compile=True` (the PushT recipe's) runs the whole loss through torch.compile: same step."""
    config = TrainConfig(
        lr=CONFIG.lr, grad_clip=0.5, compile=True, precision="fp32", sigreg=CONFIG.sigreg
    )
    model = _model()
    step = TrainStep(
        model,
        torch.optim.SGD(model.parameters(), lr=CONFIG.lr),
        torch.Generator().manual_seed(1),
        config,
    )
    parts = [step(pixels, actions, CONFIG.lr) for pixels, actions in _batches()]
    eager = _run_steps(_model(), slice(None))
    for compiled_parts, eager_parts in zip(parts, eager["parts"], strict=True):
        assert compiled_parts.keys() == eager_parts.keys()
        for name, value in eager_parts.items():
            assert compiled_parts[name] == pytest.approx(value, rel=1e-4, abs=1e-6), name
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, eager["state"][name], rtol=1e-4, atol=1e-5)


def _cli(args: list[str], torchrun: bool) -> str:
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={WORLD}"]
    command = [sys.executable, *(launcher if torchrun else []), "-m", "ami", "train", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr[:6000]
    return done.stdout + done.stderr


def test_a_checkpoint_of_two_processes_resumes_in_one(tmp_path: Path) -> None:
    config = CollectConfig("two_room", 10, 12, "mixed", image_size=32)
    data = collect_to_file(config, tmp_path / "data.h5", progress=False)
    run = tmp_path / "run"
    common = ["--data", str(data), "--out", str(run), "--preset", "tiny", "--quiet"]
    first = _cli([*common, "--steps", "4"], torchrun=True)
    assert re.search(r"trained 4 steps \(from 0\).* over 2 process", first)
    second = _cli([*common, "--steps", "6"], torchrun=False)
    assert re.search(r"trained 6 steps \(from 4\).* over 1 process", second)
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [4, 6]
    state = torch.load(run / "checkpoint" / "trainer_state.pt", weights_only=True)
    assert state["step"] == 6
    # AdamW's own step counters continue from the two-process run: its state was loaded.
    assert {int(s["step"]) for s in state["optimizer"]["state"].values()} == {6}
    WorldModel.load(run / "checkpoint")  # a plain model: no per-rank or DDP names in the weights
