"""The Mode-1 actor: it learns a known mapping, refines through a model, saves and loads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ami.agent.actor import Actor, ActorConfig, goal_miss, imagine
from ami.agent.distill import DistillConfig, calibrate_miss_threshold, distill_actor
from ami.errors import CheckpointError, ConfigError, ShapeError
from ami.memory import Memory
from ami.memory.decisions import Decisions, count_decisions, read_decisions, record_decision
from ami.worlds.symmetry import IDENTITY, SquareSymmetry
from fakes import LinearModel, LinearSystem


def frame_of(state: np.ndarray) -> np.ndarray:
    return LinearSystem(state).pixels()


def greedy_plan(z: np.ndarray, goal: np.ndarray, steps: int = 3) -> np.ndarray:
    """The known optimal planner of `LinearModel`: head for the goal, at most full speed."""
    plan, current = [], z.copy()
    for _ in range(steps):
        action = np.clip(10 * (goal - current), -1, 1)
        current = current + 0.1 * action
        plan.append(action)
    return np.stack(plan).astype(np.float32)


def toy_decisions(n: int, seed: int) -> Decisions:
    rng = np.random.default_rng(seed)
    starts = rng.uniform(-0.8, 0.8, (n, 2))
    goals = np.clip(starts + rng.uniform(-0.3, 0.3, (n, 2)), -1, 1)
    # what the pixels can carry: the quantised states
    starts = np.round((starts + 1) / 2 * 255) / 255 * 2 - 1
    goals = np.round((goals + 1) / 2 * 255) / 255 * 2 - 1
    return planner_decisions(
        np.stack([frame_of(s) for s in starts]),
        np.stack([frame_of(g) for g in goals]),
        np.stack([greedy_plan(s, g) for s, g in zip(starts, goals, strict=True)]),
        rng.uniform(0, 1, n).astype(np.float32),
    )


def planner_decisions(
    observations: np.ndarray, goals: np.ndarray, plans: np.ndarray, energies: np.ndarray
) -> Decisions:
    """Planner decisions of one episode, all at t = 0."""
    n = len(observations)
    return Decisions(
        ids=np.arange(n),
        episodes=np.zeros(n, dtype=np.int64),
        t=np.zeros(n, dtype=np.int64),
        modes=("plan",) * n,
        observations=observations,
        goals=goals,
        plans=plans,
        energies=energies,
    )


def action_error(actor: Actor, data: Decisions) -> float:
    model = LinearModel()
    with torch.no_grad():
        z = model.encode(torch.from_numpy(data.observations).permute(0, 3, 1, 2)[:, None])[:, 0]
        g = model.encode(torch.from_numpy(data.goals).permute(0, 3, 1, 2)[:, None])[:, 0]
        return float((actor(z, g)[:, 0] - torch.from_numpy(data.plans[:, 0])).abs().mean())


def test_actor_learns_the_planners_mapping_on_a_toy_world():
    torch.manual_seed(0)
    actor = Actor(ActorConfig(embed_dim=2, action_dim=2, chunk=2, hidden=64))
    train, held_out = toy_decisions(2000, seed=0), toy_decisions(300, seed=1)
    before = action_error(actor, held_out)
    result = distill_actor(actor, LinearModel(), train, DistillConfig(steps=1500, batch=128))
    after = action_error(actor, held_out)
    assert before > 0.3
    assert after < 0.06, (before, after)
    assert result.decisions == 2000 and result.valid_loss < 0.01


def test_refinement_through_the_model_reduces_the_imagined_miss():
    torch.manual_seed(0)
    data = toy_decisions(500, seed=2)
    model = LinearModel()
    z = model.encode(torch.from_numpy(data.observations).permute(0, 3, 1, 2)[:, None])[:, 0]
    g = model.encode(torch.from_numpy(data.goals).permute(0, 3, 1, 2)[:, None])[:, 0]
    actor = Actor(ActorConfig(embed_dim=2, action_dim=2, hidden=32))
    with torch.no_grad():
        before = float(goal_miss(imagine(actor, model, z, g, 4)[0], g).mean())
    # the distillation targets are useless (all zero): only the refinement term can help
    useless = Decisions(**{**data.__dict__, "plans": np.zeros_like(data.plans)})
    distill_actor(actor, model, useless, DistillConfig(steps=300, refine_weight=10.0))
    with torch.no_grad():
        after = float(goal_miss(imagine(actor, model, z, g, 4)[0], g).mean())
    assert after < 0.5 * before, (before, after)


def test_imagine_rolls_the_actor_out_in_closed_loop():
    actor = Actor(ActorConfig(embed_dim=2, action_dim=2, hidden=8))
    z, g = torch.zeros(3, 2), torch.ones(3, 2)
    states, actions = imagine(actor, LinearModel(), z, g, horizon=4)
    assert states.shape == (3, 4, 2) and actions.shape == (3, 4, 2)
    # each state is the previous plus 0.1 × the action the actor chose there
    previous = torch.cat([z[:, None], states[:, :-1]], dim=1)
    assert torch.allclose(states, previous + 0.1 * actions, atol=1e-6)
    with torch.no_grad():
        assert torch.allclose(actions[:, 1], actor(states[:, 0], g)[:, 0])


def test_actor_saves_and_loads_exactly(tmp_path):
    actor = Actor(ActorConfig(embed_dim=4, action_dim=2, chunk=3))
    actor.save(tmp_path / "actor", metadata={"model_version": "abc"})
    loaded, metadata = Actor.load(tmp_path / "actor")
    z, g = torch.randn(5, 4), torch.randn(5, 4)
    assert torch.equal(actor.eval()(z, g), loaded(z, g))
    assert metadata == {"model_version": "abc"}
    (tmp_path / "actor" / "actor.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        Actor.load(tmp_path / "actor")
    with pytest.raises(CheckpointError, match="not found"):
        Actor.load(tmp_path / "nowhere")


def test_actor_rejects_wrong_shapes_and_configs():
    actor = Actor(ActorConfig(embed_dim=4, action_dim=2))
    with pytest.raises(ShapeError, match="Actor expects"):
        actor(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ConfigError, match="chunk"):
        ActorConfig(embed_dim=4, action_dim=2, chunk=0)
    with pytest.raises(ShapeError, match="plans"):
        distill_actor(
            Actor(ActorConfig(embed_dim=2, action_dim=3)), LinearModel(), toy_decisions(4, 0)
        )


def test_decisions_round_trip_through_memory(tmp_path):
    data = toy_decisions(5, seed=3)
    with Memory.open(tmp_path / "m.db") as memory:
        episode = memory.begin_episode(memory.begin_session("v1"), "toy")
        for i in range(5):
            mode = "plan" if i % 2 == 0 else "act"
            record_decision(
                memory,
                episode,
                5 * i,
                mode,
                data.observations[i],
                data.goals[i],
                data.plans[i],
                float(data.energies[i]),
            )
        assert count_decisions(memory) == {"plan": 3, "act": 2}
        planned = read_decisions(memory, "plan")
        assert np.array_equal(planned.observations, data.observations[::2])
        assert np.array_equal(planned.goals, data.goals[::2])
        assert np.array_equal(planned.plans, data.plans[::2])
        assert np.allclose(planned.energies, data.energies[::2])
        assert list(planned.t) == [0, 10, 20]
        assert list(read_decisions(memory, None, last=2).t) == [15, 20]
        with pytest.raises(ConfigError, match="mode"):
            record_decision(
                memory, episode, 0, "dream", data.observations[0], data.goals[0], data.plans[0], 0.0
            )


def test_miss_threshold_is_the_planners_energy_quantile():
    data = toy_decisions(101, seed=4)
    data = Decisions(**{**data.__dict__, "energies": np.arange(101, dtype=np.float32)})
    assert calibrate_miss_threshold(data, 0.9) == pytest.approx(90.0)


class _DotModel:
    """A perfect latent model of a dot on a 16x16 frame: z = the dot's (x, y) in [-1, 1]."""

    action_dim = 2
    history = 1
    side = 16

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:  # [B, T, 3, h, w] -> [B, T, 2]
        weights = pixels[:, :, 0].float()
        centres = (torch.arange(self.side) + 0.5) / self.side * 2 - 1
        total = weights.sum(dim=(-1, -2))
        x = (weights * centres).sum(dim=(-1, -2)) / total
        y = (weights * centres[:, None]).sum(dim=(-1, -2)) / total
        return torch.stack([x, y], dim=-1)

    def rollout(self, z_history: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return z_history[:, -1:, :] + 0.1 * torch.cumsum(actions, dim=1)


class _MirrorWorld:
    """A world that is its own mirror image left to right (actions are plane displacements)."""

    plane_symmetries = (IDENTITY, SquareSymmetry(mirror_x=True))

    def symmetric_actions(self, symmetry):
        return symmetry.matrix


def _dot_decisions(n: int, seed: int, side: int) -> Decisions:
    """Decisions with start and goal in the left half (side -1) or the right half (+1)."""
    rng = np.random.default_rng(seed)
    cells = _DotModel.side

    def frame(cell):
        image = np.zeros((cells, cells, 3), dtype=np.uint8)
        image[cell[1], cell[0]] = 255
        return image

    starts = np.stack([rng.integers(1, 7, n), rng.integers(1, 15, n)], 1)
    goals = np.clip(starts + rng.integers(-2, 3, (n, 2)), [0, 0], [7, 15])
    if side > 0:
        starts, goals = starts * [-1, 1] + [15, 0], goals * [-1, 1] + [15, 0]
    centres = (starts + 0.5) / cells * 2 - 1, (goals + 0.5) / cells * 2 - 1
    return planner_decisions(
        np.stack([frame(s) for s in starts]),
        np.stack([frame(g) for g in goals]),
        np.stack([greedy_plan(centres[0][i], centres[1][i]) for i in range(n)]),
        np.zeros(n, dtype=np.float32),
    )


def test_an_actor_distilled_with_the_worlds_symmetries_acts_in_the_mirrored_half():
    """Decisions only on the left: with the mirror symmetry the actor also knows the right."""
    left, right = _dot_decisions(1500, seed=0, side=-1), _dot_decisions(300, seed=1, side=1)
    model = _DotModel()
    errors = {}
    for name, world in (("plain", None), ("mirrored", _MirrorWorld())):
        torch.manual_seed(0)
        actor = Actor(ActorConfig(embed_dim=2, action_dim=2, chunk=2, hidden=64))
        result = distill_actor(
            actor, model, left, DistillConfig(steps=1500, batch=128), world=world
        )
        copies = 1 if world is None else 2
        assert (result.decisions, result.training_rows) == (1500, copies * 1350)
        with torch.no_grad():
            z = model.encode(torch.from_numpy(right.observations).permute(0, 3, 1, 2)[:, None])
            g = model.encode(torch.from_numpy(right.goals).permute(0, 3, 1, 2)[:, None])
            chosen = actor(z[:, 0], g[:, 0])[:, 0]
        errors[name] = float((chosen - torch.from_numpy(right.plans[:, 0])).abs().mean())
    assert errors["mirrored"] < 0.05, errors  # measured 0.016
    assert errors["plain"] > 3 * errors["mirrored"], errors  # measured 0.112
