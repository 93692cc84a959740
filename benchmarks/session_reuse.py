"""Session reuse: a fresh process reaches a labelled place it never saw as an image, faster than
the first session's exploration first came upon it.

Needs the model and memory that `make bench-maze` leaves in benchmarks/.maze. The place is a
moment remembered in session 1 (the last step of its 20th episode), labelled "charger". The first
session's time to it = env steps from the session's start until the expert first came within
`RADIUS` of it. Session 2 runs in a new Python process: it opens the memory, builds the graph of
places, and walks to the label from 10 far starts. Positions for scoring are read off the
remembered frames (the red disc), for evaluation only. Writes benchmarks/results/session_reuse.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from ami.files import atomic_write_bytes
from ami.memory import Memory
from ami.provenance import machine_facts

HERE = Path(__file__).resolve().parent
WORK = HERE / ".maze"
RESULTS = HERE / "results" / "session_reuse.json"
RADIUS, STARTS, BUDGET = 0.05, 10, 500

SESSION_2 = """
import json, sys
import numpy as np, torch
sys.path.insert(0, sys.argv[1])
from maze_bench import recipe
from ami.agent.hierarchical import HierarchicalAgent, HierarchyConfig
from ami.memory import Memory
from ami.memory.place_graph import PlaceGraph, PlaceGraphConfig
from ami.model import WorldModel
from ami.pipeline import make_agent
from ami.planning.reachability import ImaginedReachability
from ami.worlds import make
torch.set_num_threads(2)
work, target = sys.argv[2], np.array(json.loads(sys.argv[3]))
radius, starts, budget = map(float, sys.argv[4:7])
model = WorldModel.load(work + "/run/checkpoint")
memory = Memory.open(work + "/memory.db", readonly=True)
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
    with Memory.open(WORK / "memory.db") as memory:
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
            str(HERE),
            str(WORK),
            json.dumps(target.tolist()),
            str(RADIUS),
            str(STARTS),
            str(BUDGET),
        ],
        capture_output=True,
        text=True,
        check=True,
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
        "command": "python benchmarks/session_reuse.py (after make bench-maze)",
        **machine_facts(),
    }
    print(json.dumps({k: document[k] for k in list(document)[:4]}), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(RESULTS, (json.dumps(document, indent=2) + "\n").encode())


if __name__ == "__main__":
    main()
