"""Session reuse: a fresh process reaches a labelled place it never saw as an image, faster than
the first session's exploration first came upon it.

Needs the maze model and the memory of session 1 that `benchmarks.maze` builds; both come from
the cache (`--cache`), built there the same way when absent (`maze.session_memory`). The place is a
moment remembered in session 1 (the last step of its 20th episode), labelled "charger". The first
session's time to it = env steps from the session's start until the expert first came within
`RADIUS` of it. Session 2 runs in a new Python process: it opens the memory, builds the graph of
places, and walks to the label from 10 far starts. Positions for scoring are read off the
remembered frames (the red disc), for evaluation only. Writes benchmarks/results/session_reuse.json.

    python -m benchmarks.session_reuse   # after python -m benchmarks.maze (make bench-maze)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

from ami.memory import Memory
from benchmarks.cache import add_cache_argument
from benchmarks.maze import session_memory
from benchmarks.results_file import ROOT, write_results

RADIUS, STARTS, BUDGET = 0.05, 10, 500

SESSION_2 = """
import json, sys
import numpy as np, torch
from benchmarks.maze import recipe
from ami.agent.hierarchical import HierarchicalAgent, HierarchyConfig
from ami.memory import Memory
from ami.memory.place_graph import PlaceGraph, PlaceGraphConfig
from ami.model import WorldModel
from ami.pipeline import make_agent
from ami.planning.reachability import ImaginedReachability
from ami.worlds import make
torch.set_num_threads(2)
checkpoint, memory_file = sys.argv[1], sys.argv[2]
target = np.array(json.loads(sys.argv[3]))
radius, starts, budget = map(float, sys.argv[4:7])
model = WorldModel.load(checkpoint)
memory = Memory.open(memory_file, readonly=True)
ids, z, episodes, _ = memory.embeddings_by_episode("maze-model")
lived = np.linalg.norm(z[5:] - z[:-5], axis=1)[episodes[5:] == episodes[:-5]]
scale = float(np.median(lived))
judge = ImaginedReachability(model, model.config.frameskip, threshold=0.5 * scale)
config = PlaceGraphConfig(stride=5, link_radius=1.5 * scale)
graph = PlaceGraph.build(memory, "maze-model", config, judge)
env = make("maze", success_radius=radius, max_episode_steps=int(budget))
world = env.unwrapped
rng = np.random.default_rng(7)
steps, successes = [], []
while len(successes) < int(starts):
    start = world.sample_free_position(rng)
    if world.room_distance(world.room_of(start), world.room_of(target)) < 3:
        continue
    hierarchy = HierarchyConfig(3, 0.5 * scale, 40)
    agent = HierarchicalAgent(make_agent(model, recipe()), graph, hierarchy)
    agent.begin_labelled(memory, "charger", "maze-model")
    obs, _ = env.reset(options={"agent": start, "goal": target})
    for t in range(int(budget)):
        obs, _, done, _, _ = env.step(agent.act(obs["pixels"]))
        if done:
            break
    successes.append(bool(done))
    steps.append(t + 1)
print(json.dumps({"successes": successes, "steps": steps}))
"""


def position_in(frame: np.ndarray) -> np.ndarray:
    """The agent's (x, y) read off a frame: centroid of the red disc (evaluation only)."""
    red = (frame[..., 0] > 150) & (frame[..., 1] < 120)
    rows, cols = np.nonzero(red)
    side = frame.shape[0]
    return np.array([(cols.mean() + 0.5) / side, (rows.mean() + 0.5) / side])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_cache_argument(parser)
    args = parser.parse_args()
    checkpoint, memory_file = session_memory(args.cache)
    with Memory.open(memory_file) as memory:
        episodes = memory.episode_ids()[:40]
        first_session = [memory.episode_arrays(e)[0] for e in episodes]
        charger_episode = episodes[19]
        charger_step = [
            s for s in memory.step_ids() if memory.step(s)["episode"] == charger_episode
        ][-1]
        memory.label(charger_step, "charger")
        target = position_in(memory.frame(charger_step))
    elapsed, found = 0, None
    for frames in first_session:
        for frame in frames:
            elapsed += 1
            if np.linalg.norm(position_in(frame) - target) < RADIUS:
                found = elapsed
                break
        if found is not None:
            break
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            SESSION_2,
            str(checkpoint),
            str(memory_file),
            json.dumps(target.tolist()),
            str(RADIUS),
            str(STARTS),
            str(BUDGET),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,  # `python -c` imports the benchmarks package from the repository root
    )
    second = json.loads(run.stdout.strip().splitlines()[-1])
    document = {
        "first_session_steps_to_first_visit": found,
        "second_session_success_rate": float(np.mean(second["successes"])),
        "second_session_mean_steps": float(np.mean(second["steps"])),
        "second_session_steps": second["steps"],
        "charger_position": target.tolist(),
        "radius": RADIUS,
        "starts_at_least_rooms_away": 3,
        "model": checkpoint,
        "memory": memory_file,
    }
    print(json.dumps({k: document[k] for k in list(document)[:4]}), flush=True)
    write_results("session_reuse", document)


if __name__ == "__main__":
    main()
