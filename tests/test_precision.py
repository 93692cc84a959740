"""Precision and compilation are chosen by what the machine runs natively, never hard-coded."""

from __future__ import annotations

import sys

import pytest
import torch

from ami import device as device_module
from ami.device import cpu_facts, precision_context, resolve_precision
from ami.errors import ConfigError
from ami.model import EncoderConfig, PredictorConfig, SIGRegConfig, WorldModel, WorldModelConfig
from ami.provenance import machine_facts
from ami.recipes import PRESETS
from ami.training import TrainConfig
from ami.training.step import TrainStep, resolve_compile

CPU = torch.device("cpu")


def facts_with_native_bf16(native: bool) -> dict:
    return {**cpu_facts(), "cpu_bf16_native": native}


@pytest.mark.parametrize("native", [True, False])
def test_auto_is_bf16_only_on_a_cpu_that_computes_it_natively(monkeypatch, native: bool) -> None:
    monkeypatch.setattr(device_module, "cpu_facts", lambda: facts_with_native_bf16(native))
    assert resolve_precision("auto", CPU) == ("bf16" if native else "fp32")
    with precision_context("auto", CPU):
        assert torch.is_autocast_enabled("cpu") is native


def test_explicit_precisions_are_kept_and_unknown_ones_refused() -> None:
    assert resolve_precision("fp32", CPU) == "fp32"
    assert resolve_precision("bf16", CPU) == "bf16"
    with pytest.raises(ConfigError, match="fp16"):
        resolve_precision("fp16", CPU)


def test_every_preset_trains_and_plans_in_the_machines_precision() -> None:
    for name, recipe in PRESETS.items():
        assert recipe.train.precision == "auto", name
        assert recipe.planner.mpc.precision == "auto", name
        assert recipe.train.compile in (False, "auto"), name


def test_cpu_facts_name_the_cpu_and_its_capability_in_every_results_file() -> None:
    facts = machine_facts()
    assert facts["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert facts["cpu_model"]
    assert isinstance(facts["cpu_bf16_native"], bool)


def test_compile_auto_follows_the_compiler(monkeypatch) -> None:
    monkeypatch.setenv("CXX", "no-such-compiler")
    assert resolve_compile("auto", CPU) is False
    assert resolve_compile(False, CPU) is False
    with pytest.raises(ConfigError, match="no-such-compiler"):
        resolve_compile(True, CPU)
    monkeypatch.setenv("CXX", sys.executable)  # any executable stands in for a compiler here
    assert resolve_compile("auto", CPU) is True
    assert resolve_compile("auto", torch.device("meta")) is False


def test_compile_auto_compiles_the_loss_only_where_a_compiler_is_found(monkeypatch) -> None:
    from torch._dynamo.eval_frame import OptimizedModule

    model = WorldModel(
        WorldModelConfig(
            encoder=EncoderConfig(image_size=16, channels=(8, 16), hidden=32, embed_dim=16),
            predictor=PredictorConfig(embed_dim=16, action_dim=2, hidden=32, depth=2),
        )
    )
    config = TrainConfig(compile="auto", sigreg=SIGRegConfig(num_directions=8))
    for compiler, compiled in (("no-such-compiler", False), (sys.executable, True)):
        monkeypatch.setenv("CXX", compiler)
        step = TrainStep(model, torch.optim.AdamW(model.parameters()), torch.Generator(), config)
        assert isinstance(step.loss, OptimizedModule) is compiled  # compiled lazily: no build here
    with pytest.raises(ConfigError, match="compile"):
        TrainConfig(compile="sometimes")
