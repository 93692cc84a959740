"""Behaviour of ami.planning: costs on hand-computed examples, CEM on known optima, MPC closing
the loop on a known linear system."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ami.errors import ConfigError, ShapeError
from ami.planning import (
    CEM,
    ActionMagnitude,
    CEMConfig,
    CostSum,
    GoalEnergy,
    MPCConfig,
    MPCController,
    SolveResult,
)
from fakes import LinearModel, LinearSystem

# ---------------------------------------------------------------- costs


def _future() -> tuple[torch.Tensor, torch.Tensor]:
    # N=2 candidates, H=3 steps, D=2; goal at the origin.
    z = torch.tensor(
        [
            [[3.0, 0.0], [1.0, 0.0], [2.0, 0.0]],  # d = 9, 1, 4
            [[0.0, 2.0], [0.0, 2.0], [1.0, 1.0]],  # d = 4, 4, 2
        ]
    )
    return z, torch.zeros(2, 3, 1)


@pytest.mark.parametrize(
    ("reduce", "expected"),
    [("last", [4.0, 2.0]), ("sum", [14 / 3, 10 / 3]), ("min", [1.0, 2.0])],
)
def test_goal_energy_reductions(reduce, expected):
    z, a = _future()
    energy = GoalEnergy(torch.zeros(2), reduce)(z, a)
    assert torch.allclose(energy, torch.tensor(expected))


def test_goal_energy_uses_the_goal():
    z, a = _future()
    energy = GoalEnergy(torch.tensor([1.0, 0.0]), "last")(z, a)  # (2-1)^2, (1-1)^2 + 1
    assert torch.allclose(energy, torch.tensor([1.0, 1.0]))


def test_costs_add_and_scale():
    z, _ = _future()
    a = torch.tensor([[[1.0], [1.0], [1.0]], [[0.0], [0.0], [2.0]]])  # mean a^2 = 1, 4/3
    goal = GoalEnergy(torch.zeros(2), "last")
    total = goal + ActionMagnitude(3.0)
    assert isinstance(total, CostSum)
    assert torch.allclose(total(z, a), torch.tensor([4.0 + 3.0, 2.0 + 4.0]))
    assert torch.allclose((0.5 * goal)(z, a), torch.tensor([2.0, 1.0]))
    assert torch.allclose(sum([goal, goal])(z, a), torch.tensor([8.0, 4.0]))
    assert len((goal + goal + goal).terms) == 3


def test_cost_validation():
    with pytest.raises(ConfigError, match="reduce"):
        GoalEnergy(torch.zeros(2), "mean")
    with pytest.raises(ShapeError):
        GoalEnergy(torch.zeros(1, 2))
    with pytest.raises(ConfigError, match="weight"):
        ActionMagnitude(-1.0)
    goal = GoalEnergy(torch.zeros(2))
    with pytest.raises(ShapeError):
        goal(torch.zeros(2, 3), torch.zeros(2, 3, 1))  # z without H
    with pytest.raises(ShapeError):
        goal(torch.zeros(2, 3, 2), torch.zeros(2, 4, 1))  # H mismatch
    with pytest.raises(ShapeError, match="D=5"):
        goal(torch.zeros(2, 3, 5), torch.zeros(2, 3, 1))


# ---------------------------------------------------------------- CEM


def _quadratic(target: torch.Tensor, calls: list[int] | None = None):
    def objective(a: torch.Tensor) -> torch.Tensor:
        if calls is not None:
            calls.append(a.shape[0])
        return ((a - target) ** 2).sum(dim=(1, 2))

    return objective


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_cem_finds_quadratic_minimum_inside_box():
    target = torch.rand(5, 2, generator=_gen(1)) * 1.6 - 0.8
    calls: list[int] = []
    config = CEMConfig()
    result = CEM(config).solve(_quadratic(target, calls), torch.zeros(5, 2), _gen())
    assert (result.actions - target).abs().max() < 0.05
    assert result.energy == pytest.approx(float(((result.actions - target) ** 2).sum()))
    # one batched call per iteration plus one for the final mean
    assert calls == [config.samples] * config.iterations + [1]
    assert result.evaluations == config.samples * config.iterations + 1


def test_cem_respects_the_box():
    target = torch.tensor([[1.5, -0.3], [-2.0, 0.4], [0.2, 3.0]])
    result = CEM(CEMConfig()).solve(_quadratic(target), torch.zeros(3, 2), _gen())
    assert result.actions.abs().max() <= 1.0
    assert (result.actions - target.clamp(-1, 1)).abs().max() < 0.05


def test_cem_is_reproducible_with_a_seeded_generator():
    target = torch.rand(4, 3, generator=_gen(2)) * 2 - 1
    solver = CEM(CEMConfig(samples=50, elites=5, iterations=2))
    first = solver.solve(_quadratic(target), torch.zeros(4, 3), _gen(7))
    second = solver.solve(_quadratic(target), torch.zeros(4, 3), _gen(7))
    other = solver.solve(_quadratic(target), torch.zeros(4, 3), _gen(8))
    assert torch.equal(first.actions, second.actions)
    assert not torch.equal(first.actions, other.actions)


def test_cem_warm_start_at_optimum_is_kept():
    target = torch.rand(5, 2, generator=_gen(3)) * 1.6 - 0.8
    config = CEMConfig(samples=20, elites=5, iterations=1)
    kept = CEM(config).solve(_quadratic(target), target.clone(), _gen())
    assert torch.equal(kept.actions, target)
    assert kept.energy == 0.0
    # without keep_best the refitted mean is returned, which has drifted off the optimum
    drifted = CEM(CEMConfig(samples=20, elites=5, iterations=1, keep_best=False)).solve(
        _quadratic(target), target.clone(), _gen()
    )
    assert drifted.energy > 0.0


def test_cem_rejects_bad_shapes():
    with pytest.raises(ShapeError):
        CEM(CEMConfig()).solve(_quadratic(torch.zeros(3)), torch.zeros(3), _gen())
    with pytest.raises(ShapeError, match="energies"):
        CEM(CEMConfig()).solve(lambda a: a.sum(dim=2), torch.zeros(3, 2), _gen())


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"samples": 0}, "CEMConfig.samples"),
        ({"elites": 0}, "CEMConfig.elites"),
        ({"samples": 30, "elites": 40}, r"CEMConfig.elites must be <= samples \(got 40 > 30\)"),
        ({"iterations": 0}, "CEMConfig.iterations"),
        ({"init_std": 0.0}, "CEMConfig.init_std"),
        ({"min_std": -0.1}, "CEMConfig.min_std"),
        ({"momentum": 1.0}, "CEMConfig.momentum"),
    ],
)
def test_cem_config_validation(changes, match):
    with pytest.raises(ConfigError, match=match):
        CEMConfig(**changes)


# ---------------------------------------------------------------- MPC


class ZeroSolver:
    def solve(self, objective, init, generator):
        actions = torch.zeros_like(init)
        return SolveResult(actions, float(objective(actions[None])[0]), 1)


class RecordingSolver:
    def __init__(self, inner) -> None:
        self.inner = inner
        self.inits: list[torch.Tensor] = []
        self.results: list[SolveResult] = []

    def solve(self, objective, init, generator):
        self.inits.append(init.clone())
        self.results.append(self.inner.solve(objective, init, generator))
        return self.results[-1]


START, GOAL = (-0.6, -0.5), (0.5, 0.4)
FAST_CEM = CEMConfig(samples=100, elites=10, iterations=4)


def _run(
    controller: MPCController, steps: int, reduce: str = "min", weight: float = 0.0
) -> list[float]:
    """Close the loop from START; the distance to GOAL after every step."""
    world, target = LinearSystem(START), LinearSystem(GOAL)
    z_goal = controller.model.encode(torch.from_numpy(target.pixels()).permute(2, 0, 1)[None, None])
    controller.reset(GoalEnergy(z_goal[0, 0], reduce) + ActionMagnitude(weight))
    distances = []
    for _ in range(steps):
        action = controller.act(world.pixels())
        assert action.dtype == np.float32 and action.shape == (2,)
        world.step(action)
        distances.append(float(np.linalg.norm(world.state - GOAL)))
    return distances


# "last" and "min" leave the first action free once the goal is reachable within the horizon,
# so the agent dithers near the goal unless a small action cost breaks the tie; "sum" does not.
@pytest.mark.parametrize(("reduce", "weight"), [("last", 0.01), ("min", 0.01), ("sum", 0.0)])
def test_mpc_drives_linear_system_to_goal_and_stays(reduce, weight):
    model = LinearModel()
    controller = MPCController(model, CEM(FAST_CEM), MPCConfig(horizon=8), torch.device("cpu"))
    distances = _run(controller, steps=30, reduce=reduce, weight=weight)  # >= 11 are needed
    assert distances[0] > 1.0
    assert max(distances[-5:]) < 0.05
    # every candidate was rolled out in one batched call per CEM iteration
    assert set(model.rollout_batches) == {FAST_CEM.samples, 1}


def test_mpc_does_not_reach_goal_with_a_do_nothing_solver():
    controller = MPCController(LinearModel(), ZeroSolver(), MPCConfig(), torch.device("cpu"))
    distances = _run(controller, steps=30, reduce="sum")
    assert min(distances) > 1.0


def test_mpc_replans_every_execute_steps_with_shifted_warm_start():
    solver = RecordingSolver(CEM(FAST_CEM))
    config = MPCConfig(horizon=6, execute=3)
    controller = MPCController(LinearModel(), solver, config, torch.device("cpu"))
    _run(controller, steps=9)
    assert len(solver.inits) == 3
    assert len(controller.plan_seconds) == 3
    assert all(seconds >= 0 for seconds in controller.plan_seconds)
    assert torch.equal(solver.inits[0], torch.zeros(6, 2))
    previous = solver.results[0].actions
    assert torch.equal(solver.inits[1][:3], previous[3:])
    assert torch.equal(solver.inits[1][3:], torch.zeros(3, 2))
    assert controller.last_result is solver.results[-1]


def test_mpc_reset_reseeds_so_episodes_repeat():
    controller = MPCController(LinearModel(), CEM(FAST_CEM), MPCConfig(), torch.device("cpu"))
    first = _run(controller, steps=5)
    second = _run(controller, steps=5)
    assert first == second
    assert len(controller.plan_seconds) == 5  # cleared by reset


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cem_and_mpc_on_cuda_follow_init_device_with_a_cpu_generator():
    target = torch.rand(5, 2, generator=_gen(1)) * 1.6 - 0.8
    on_cpu = CEM(CEMConfig()).solve(_quadratic(target), torch.zeros(5, 2), _gen())
    on_gpu = CEM(CEMConfig()).solve(
        _quadratic(target.cuda()), torch.zeros(5, 2, device="cuda"), _gen()
    )
    assert on_gpu.actions.device.type == "cuda"
    assert torch.allclose(on_gpu.actions.cpu(), on_cpu.actions, atol=1e-4)
    controller = MPCController(LinearModel(), CEM(FAST_CEM), MPCConfig(), torch.device("cuda"))
    distances = _run(controller, steps=30, reduce="sum")
    assert max(distances[-5:]) < 0.05


def test_mpc_validation():
    with pytest.raises(ConfigError, match="MPCConfig.execute"):
        MPCConfig(horizon=4, execute=5)
    with pytest.raises(ConfigError, match="MPCConfig.horizon"):
        MPCConfig(horizon=0)
    controller = MPCController(LinearModel(), ZeroSolver(), MPCConfig(), torch.device("cpu"))
    with pytest.raises(RuntimeError, match="reset"):
        controller.act(np.zeros((4, 4, 3), dtype=np.uint8))
    controller.reset(GoalEnergy(torch.zeros(2)))
    with pytest.raises(ShapeError):
        controller.act(np.zeros((4, 4, 3), dtype=np.float32))
    with pytest.raises(ShapeError):
        controller.act(np.zeros((3, 4, 4), dtype=np.uint8))

    class WrongSolver:
        def solve(self, objective, init, generator):
            return SolveResult(torch.zeros(init.shape[0], 3), 0.0, 1)

    wrong = MPCController(LinearModel(), WrongSolver(), MPCConfig(), torch.device("cpu"))
    wrong.reset(GoalEnergy(torch.zeros(2)))
    with pytest.raises(ShapeError, match="expected"):
        wrong.act(np.zeros((4, 4, 3), dtype=np.uint8))
