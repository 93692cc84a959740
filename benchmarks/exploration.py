"""How much of a foreign world does each collection policy cover, and how many starts are solved?

Each policy (`random`, `held`, `colored`, `novelty`) collects the same episodes (same seeds)
through `ami.experience.collect`, in the fake `DictPoint` env of the tests (a point in
[-1, 1]^2, 0.05 per step at full speed) and, where gymnasium_robotics is importable,
`gym:PointMaze_UMaze-v3`. Per world and policy it records: distinct cells of the true position
visited (a fixed grid; per episode, and over all episodes), and the fraction of starts already
solved: of every (episode, t), the share whose position 25 steps later is within the world's
success distance of the position at t, i.e. a goal 25 steps ahead that needs no moving. Writes
benchmarks/results/exploration.json.
Run: python -m benchmarks.exploration  (< 1 min for DictPoint; --quick 10 s)
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ami.errors import ConfigError
from ami.experience import CollectConfig, collect
from ami.worlds import make
from benchmarks.results_file import ROOT, write_results

POLICIES = ("random", "held", "colored", "novelty")
GOAL_STEPS = 25
FAKE_ENVS = ROOT / "tests" / "fake_gym_envs.py"
WORLDS: dict[str, dict[str, Any]] = {
    "dict_point": {
        "world": "gym:AmiTest/DictPoint-v0",
        "module": None,  # tests/fake_gym_envs.py, registered by `register_fake_envs`
        "options": {"max_episode_steps": 1000},
        "position": ["position[0]", "position[1]"],
        "cell": 0.1,  # a 20 x 20 grid over the square
        "success_distance": 0.1,
    },
    "point_maze_umaze": {
        "world": "gym:PointMaze_UMaze-v3",
        "module": "gymnasium_robotics",
        "options": {},
        "position": ["achieved_goal[0]", "achieved_goal[1]"],
        "cell": 0.25,  # four cells per maze cell side
        "success_distance": 0.45,  # PointMaze's own (ami.worlds.goal_distance)
    },
}


def register_fake_envs() -> None:
    """Import tests/fake_gym_envs.py by its path, which registers `AmiTest/DictPoint-v0`."""
    spec = importlib.util.spec_from_file_location("fake_gym_envs", FAKE_ENVS)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load the fake envs from {FAKE_ENVS}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fake_gym_envs"] = module
    spec.loader.exec_module(module)


def measure(world: dict[str, Any], policy: str, episodes: int, steps: int) -> dict[str, Any]:
    """Coverage and already-solved starts of `policy` in `world` over `episodes` episodes."""
    config = CollectConfig(
        world=world["world"],
        episodes=episodes,
        steps_per_episode=steps,
        policy=policy,
        image_size=16,
        world_options=world["options"],
    )
    names = list(make(config.world, size=16, **config.world_options).state_names)
    columns = [names.index(name) for name in world["position"]]
    start = time.perf_counter()
    positions = [e.states[:, columns].astype(np.float64) for e in collect(config, progress=False)]
    seconds = time.perf_counter() - start
    cells = [set(map(tuple, np.floor(p / world["cell"]).astype(int))) for p in positions]
    solved = np.concatenate(
        [
            np.linalg.norm(p[GOAL_STEPS:] - p[:-GOAL_STEPS], axis=1) <= world["success_distance"]
            for p in positions
            if len(p) > GOAL_STEPS
        ]
    )
    return {
        "distinct_cells_per_episode": round(float(np.mean([len(c) for c in cells])), 2),
        "distinct_cells_all_episodes": len(set().union(*cells)),
        "starts_already_solved": round(float(solved.mean()), 4),
        "mean_steps_per_episode": round(float(np.mean([len(p) - 1 for p in positions])), 1),
        "collect_seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 episodes per policy, not 100")
    parser.add_argument("--steps", type=int, default=100, help="env steps per episode")
    args = parser.parse_args()
    episodes = 10 if args.quick else 100
    started = time.perf_counter()
    register_fake_envs()
    figures: dict[str, Any] = {}
    for label, world in WORLDS.items():
        module = world["module"]
        if module is not None and importlib.util.find_spec(module) is None:
            figures[label] = {"value": None, "why": f"{module} is not installed"}
            print(f"{label}: not measured ({module} is not installed)", file=sys.stderr)
            continue
        if module is not None:
            importlib.import_module(module)  # registers its envs with gymnasium
        figures[label] = {"world": world["world"], "cell": world["cell"]}
        for policy in POLICIES:
            figures[label][policy] = measure(world, policy, episodes, args.steps)
            print(f"{label} {policy}: {figures[label][policy]}", flush=True)
    document = {
        "exploration": figures,
        "how": (
            f"{episodes} episodes of {args.steps} steps per policy, the same seeds (0..) for "
            f"every policy; cells of the position on a fixed grid; a start t is already solved "
            f"when the position at t + {GOAL_STEPS} is within the success distance of it"
        ),
        "proc_loadavg": Path("/proc/loadavg").read_text().strip(),
        "minutes": round((time.perf_counter() - started) / 60, 2),
    }
    path = write_results("exploration", document)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
