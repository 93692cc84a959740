"""Planning beyond the horizon on a known maze, with an oracle model that ignores walls.

The oracle 'world model' reads the agent's position off the pixels (the red disc's centroid) and
imagines straight-line motion through walls, so greedy latent planning towards a far goal gets
stuck behind a wall. Routing through remembered places must get there anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from ami.agent import PlanningAgent, run_episode
from ami.agent.hierarchical import HierarchicalAgent, HierarchyConfig
from ami.agent.planning_agent import GoalCostConfig
from ami.errors import ConfigError, GoalUnreachableError
from ami.memory import Memory
from ami.memory.place_graph import PlaceGraph, PlaceGraphConfig
from ami.planning import CEM, CEMConfig, MPCConfig
from ami.planning.reachability import ImaginedReachability
from ami.worlds import make
from fakes import remember_maze_wandering

FRAMESKIP, SPEED = 5, 0.03


@dataclass(frozen=True)
class _Config:
    frameskip: int = FRAMESKIP
    env_action_dim: int = 2


class OracleModel:
    """z = the agent's (x, y) read from the pixels; imagined motion ignores walls."""

    config = _Config()
    action_dim = 2 * FRAMESKIP
    history = 1
    device = torch.device("cpu")

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:  # [B, T, 3, h, w] -> [B, T, 2]
        b, t, _, h, w = pixels.shape
        frames = pixels.reshape(b * t, 3, h, w).float()
        red = ((frames[:, 0] > 150) & (frames[:, 1] < 120)).float()  # [N, h, w]
        ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
        mass = red.sum(dim=(1, 2)).clamp(min=1)
        x = (red * xs).sum(dim=(1, 2)) / mass / w
        y = (red * ys).sum(dim=(1, 2)) / mass / h
        return torch.stack([x, y], dim=-1).reshape(b, t, 2)

    def rollout(self, z_history: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        steps = actions.reshape(*actions.shape[:2], FRAMESKIP, 2).sum(dim=2) * SPEED
        return (z_history[:, -1:, :] + torch.cumsum(steps, dim=1)).clamp(0, 1)


def planner() -> PlanningAgent:
    return PlanningAgent(
        OracleModel(),
        CEM(CEMConfig(samples=64, elites=8, iterations=3)),  # type: ignore[arg-type]
        MPCConfig(horizon=4),
        GoalCostConfig(reduce="min", action_weight=0.0),
    )


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> PlaceGraph:
    """Remembered expert wandering (embedded by the oracle) and model-judged imagined edges."""
    memory = Memory.open(tmp_path_factory.mktemp("h") / "memory.db")
    remember_maze_wandering(memory, "oracle")
    judge = ImaginedReachability(OracleModel(), FRAMESKIP, threshold=0.02)  # type: ignore[arg-type]
    return PlaceGraph.build(memory, "oracle", PlaceGraphConfig(stride=5, link_radius=0.05), judge)


def far_episode(agent, budget: int = 600):
    env = make("maze", max_episode_steps=budget)
    return run_episode(env, agent, {"agent": (1 / 6, 1 / 6), "goal": (5 / 6, 5 / 6)}, budget)


@pytest.mark.slow
def test_routes_through_remembered_places_reach_a_far_goal(graph: PlaceGraph) -> None:
    assert any(kind == "imagined" for *_, kind in graph.graph.edges(data="kind"))
    flat = far_episode(planner())
    assert not flat.success  # greedy latent planning is stuck behind a wall
    # The oracle imagines motion through walls, so a sub-goal must stay in sight: lookahead 2.
    agent = HierarchicalAgent(planner(), graph, HierarchyConfig(lookahead=2, reached=0.04))
    outcome = far_episode(agent)
    assert outcome.success, outcome.final_distance
    assert agent.routes >= 1


def test_imagined_reachability_accepts_near_and_refuses_far() -> None:
    judge = ImaginedReachability(OracleModel(), FRAMESKIP, threshold=0.01)  # type: ignore[arg-type]
    z_from = np.array([[0.5, 0.5]] * 3, np.float32)
    # one block at full speed; two blocks at full speed; far beyond two blocks
    z_to = np.array([[0.5 + 0.15, 0.5], [0.5, 0.5 - 0.3], [0.9, 0.9]], np.float32)
    assert judge(z_from, z_to).tolist() == [True, True, False]


def test_an_unreachable_goal_is_said_at_once(graph: PlaceGraph) -> None:
    layout = make("maze").unwrapped.layout
    path = layout.room_path(0, 8)
    lava = layout.door_centre(path[1], path[2])  # every way from room 0 to room 8 passes here
    agent = HierarchicalAgent(planner(), graph.without_near(lava[None], 0.08), HierarchyConfig())
    env = make("maze")
    obs, _ = env.reset(options={"agent": (1 / 6, 1 / 6), "goal": (5 / 6, 5 / 6)})
    agent.begin(env.unwrapped.goal_pixels())
    with pytest.raises(GoalUnreachableError, match="no remembered way"):
        agent.act(obs["pixels"])


@pytest.mark.slow
def test_a_labelled_place_is_a_goal(tmp_path, graph: PlaceGraph) -> None:
    memory = Memory.open(tmp_path / "labels.db")
    episode = memory.begin_episode(memory.begin_session("oracle"), "maze")
    (charger,) = memory.remember(
        episode, np.array([0]), np.zeros((1, 2)), np.array([[5 / 6, 5 / 6]], np.float32), "oracle"
    )
    memory.label(charger, "charger")
    agent = HierarchicalAgent(planner(), graph, HierarchyConfig(lookahead=2, reached=0.04))
    agent.begin_labelled(memory, "charger", "oracle")
    env = make("maze", max_episode_steps=600)
    obs, _ = env.reset(options={"agent": (1 / 6, 1 / 6), "goal": (5 / 6, 5 / 6)})
    for _ in range(600):
        obs, _, terminated, _, _ = env.step(agent.act(obs["pixels"]))
        if terminated:
            break
    assert terminated  # the env's goal is the charger's true position
    with pytest.raises(Exception, match="no remembered moment is labelled 'lava'"):
        agent.begin_labelled(memory, "lava", "oracle")


def test_a_calibrated_judge_accepts_lived_pairs_at_the_asked_quantile() -> None:
    rng = np.random.default_rng(0)
    z_from = rng.uniform(0.2, 0.8, (200, 2)).astype(np.float32)
    step = rng.uniform(0.05, 0.3, (200, 1)) * np.array([[1.0, 0.0]])
    z_to = (z_from + step).astype(np.float32)  # lived pairs, some beyond the fan's reach
    for quantile in (0.25, 0.5, 0.9):
        judge = ImaginedReachability.calibrated(OracleModel(), FRAMESKIP, z_from, z_to, quantile)  # type: ignore[arg-type]
        accepted = judge(z_from, z_to).mean()
        assert abs(accepted - quantile) <= 0.03, (quantile, accepted)
        assert judge.threshold == pytest.approx(np.quantile(judge.misses(z_from, z_to), quantile))
    with pytest.raises(ConfigError, match="quantile"):
        ImaginedReachability.calibrated(OracleModel(), FRAMESKIP, z_from, z_to, 0.0)  # type: ignore[arg-type]
