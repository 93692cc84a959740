"""What do a model's embeddings hold? The share that changes within episodes, and the state in it.

For each checkpoint given (default: the world's benchmark model from the cache, `--cache`,
trained there when absent), 200 episodes of its own training data (what the `recipe.json` beside
the checkpoint collects, from the cache), every 4th frame, are embedded and measured:

- the share of the embedding variance that lies within episodes (the rest is between episodes:
  what stays fixed for a whole episode, such as a target drawn anew each episode);
- a linear probe (least squares on 80 % of the frames, Pearson r on the other 20 %) of the true
  state: for Reacher the cosine and sine of both joint angles, for PushT the pusher's and the
  block's positions and the cosine and sine of the block's angle, for TwoRoom the state's columns.

Writes benchmarks/results/embedding_content_WORLD.json.

    python -m benchmarks.embedding_content --world reacher [CHECKPOINT ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ami.experience import ExperienceDataset
from ami.model import WorldModel
from ami.model.world_model import encode_frames
from ami.recipes import load_recipe
from benchmarks.cache import add_cache_argument, experience, trained_model
from benchmarks.results_file import write_results

EPISODES, STRIDE = 200, 4


def state_features(world: str, states: np.ndarray) -> dict[str, np.ndarray]:
    """The probed quantities, each `[N]`."""
    if world == "reacher":
        q1, q2 = states[:, 0], states[:, 1]
        return {
            "cos_shoulder": np.cos(q1),
            "sin_shoulder": np.sin(q1),
            "cos_elbow": np.cos(q2),
            "sin_elbow": np.sin(q2),
        }
    if world == "push_t":
        names = ("pusher_x", "pusher_y", "block_x", "block_y")
        return {
            **{name: states[:, i] for i, name in enumerate(names)},
            "cos_block_angle": np.cos(states[:, 4]),
            "sin_block_angle": np.sin(states[:, 4]),
        }
    return {f"state_{i}": states[:, i] for i in range(states.shape[1])}


def measure(checkpoint: Path, world: str, cache: Path) -> dict[str, object]:
    """Within-episode variance share and linear-probe r of the model at `checkpoint`."""
    model = WorldModel.load(checkpoint).eval()
    recipe = load_recipe(checkpoint.parent / "recipe.json")
    with ExperienceDataset.open(experience(recipe.collect, cache)) as data:
        rng = np.random.default_rng(0)
        chosen = sorted(rng.choice(data.num_episodes, EPISODES, replace=False).tolist())
        frames, states, labels = [], [], []
        for index in chosen:
            episode = data.episode(index)
            frames.append(episode.pixels[::STRIDE])
            states.append(episode.states[::STRIDE])
            labels.append(np.full(len(frames[-1]), index))
    z = encode_frames(model, np.concatenate(frames)).astype(np.float64)
    label = np.concatenate(labels)
    total = z.var(0).sum()
    within = sum(((z[label == e] - z[label == e].mean(0)) ** 2).sum() for e in chosen) / len(z)
    targets = state_features(world, np.concatenate(states).astype(np.float64))
    n = len(z)
    train = np.arange(n) < int(0.8 * n)  # whole episodes on each side (frames are in order)
    design = np.c_[z, np.ones(n)]
    probe = {}
    for name, y in targets.items():
        weights = np.linalg.lstsq(design[train], y[train], rcond=None)[0]
        probe[name] = float(np.corrcoef(design[~train] @ weights, y[~train])[0, 1])
    return {
        "within_episode_variance_share": float(within / total),
        "linear_probe_r": probe,
        "frames": n,
        "episodes": EPISODES,
    }


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", choices=["reacher", "push_t", "two_room"], required=True)
    parser.add_argument(
        "checkpoints", type=Path, nargs="*", help="checkpoint folders (default: the cache's)"
    )
    add_cache_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(2)
    checkpoints = args.checkpoints or [trained_model(args.world, args.cache)]
    models = {path: measure(path, args.world, args.cache) for path in checkpoints}
    print(json.dumps({str(path): figures for path, figures in models.items()}, indent=2))
    write_results(f"embedding_content_{args.world}", {"world": args.world, "models": models})


if __name__ == "__main__":
    main()
