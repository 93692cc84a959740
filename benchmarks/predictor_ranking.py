"""Does the encoder or the predictor limit planning? Ranking candidate plans against the truth.

For held-out expert episodes of a world (start = the first frame the world can be reset to, goal =
the state 25 steps later, as in the anchor protocol), the expert's own 25 actions and 120
perturbations of them (Gaussian noise of 0.1, 0.3, 0.6 and 1.0) are each played in the real
world, and three scores are compared per episode by Spearman rank correlation:

- the true error of the outcome (PushT: block distance / 20 units + angle error / (pi/9), the
  success criterion's units; Reacher: joint-space distance),
- the energy of the *encoded* true final frame (distance to the goal frame's embedding): what the
  encoder alone knows,
- the energy of the *imagined* final embedding (the predictor rolled out from the start frame):
  what the planner optimises.

If the encoded energy ranks plans like the truth but the imagined one does not, the predictor is
what to improve. The world is made as the model's recipe made it (`recipe.json` beside the
checkpoint: size and world options); start and goal frames are those of the anchor protocol (the
start is the reset observation; a world that draws its goal renders the goal image). The start
is at least 10 env steps into the episode, and a predictor that reads several embeddings gets
the frames of the blocks before the start, as an agent that has been acting has seen them.
The model is `--model`, else the benchmark table's model of the world from the cache
(`--cache`; trained there when absent). Writes benchmarks/results/predictor_ranking_WORLD.json
(`--out`).

    python -m benchmarks.predictor_ranking --world push_t   # the benchmark table's model
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from ami.experience import CollectConfig, collect
from ami.model import WorldModel
from ami.model.world_model import encode_frames
from ami.recipes import load_recipe, world_settings
from ami.worlds import make
from benchmarks.cache import add_cache_argument, trained_model
from benchmarks.results_file import write_results

NOISE = (0.1, 0.3, 0.6, 1.0)
PER_NOISE = 30
OFFSET = 25
CONTEXT = 10  # env steps before the start: two blocks of 5, what a 3-embedding predictor reads


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (no ties expected in continuous scores)."""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def true_error(world: str, info: dict) -> float:
    """The outcome's error in the units of the world's success criterion."""
    if world == "push_t":
        return info["distance"] * 512.0 / 20.0 + info["angle_error"] / (math.pi / 9)
    return float(info["distance"])


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", choices=["push_t", "reacher"], default="push_t")
    parser.add_argument("--model", type=Path, default=None, help="checkpoint folder")
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--out", type=Path, default=None, help="results file")
    add_cache_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(2)
    checkpoint = args.model or trained_model(args.world, args.cache)
    model = WorldModel.load(checkpoint).eval()
    recipe = load_recipe(checkpoint.parent / "recipe.json")  # the world as the model saw it
    k, size = model.config.frameskip, model.config.encoder.image_size
    env = make(args.world, **world_settings(recipe))
    world = env.unwrapped
    draws_its_goal = bool(getattr(world, "draws_its_goal", False))
    episodes = collect(
        CollectConfig(
            world=args.world,
            episodes=args.episodes,
            steps_per_episode=2 * OFFSET,
            policy="expert",
            seed=1_000_003,
            image_size=size,
            world_options=recipe.collect.world_options,
        ),
        progress=False,
    )
    rng = np.random.default_rng(0)
    scores: dict[str, list[float]] = {"imagined": [], "encoded": [], "imagined_vs_encoded": []}
    beaten = []
    for episode in episodes:
        t = next(
            (
                t
                for t in range(CONTEXT, OFFSET + 1)
                if world.reset_options(episode.states[t], episode.states[t + OFFSET]) is not None
            ),
            None,
        )
        if t is None:
            continue
        options = world.reset_options(episode.states[t], episode.states[t + OFFSET])
        start_frame = env.reset(options=options)[0]["pixels"]
        # as in the protocol: a world that draws its goal in every frame renders the goal image
        goal_frame = world.goal_pixels() if draws_its_goal else episode.pixels[t + OFFSET]
        expert = episode.actions[t : t + OFFSET]
        plans = [expert] + [
            np.clip(expert + rng.normal(0, sigma, expert.shape), -1, 1)
            for sigma in NOISE
            for _ in range(PER_NOISE)
        ]
        errors, finals = [], []
        for plan in plans:
            env.reset(options=options)
            for action in plan:
                obs, _, _, _, info = env.step(action)
            errors.append(true_error(args.world, info))
            finals.append(obs["pixels"])

        # what the planner has seen by then: the frames of the last blocks, then the start
        seen = [episode.pixels[t - j * k] for j in range(model.history - 1, 0, -1)]
        *context, goal = encode_frames(model, np.stack([*seen, start_frame, goal_frame]))
        actions = torch.as_tensor(np.stack(plans), dtype=torch.float32, device=model.device)
        actions = actions.reshape(len(plans), OFFSET // k, -1)
        z_seen = torch.as_tensor(np.stack(context), device=model.device)[None]
        z_seen = z_seen.expand(len(plans), -1, -1).contiguous()
        imagined = model.rollout(z_seen, actions)[:, -1].cpu().numpy()
        energy_imagined = ((imagined - goal) ** 2).sum(-1)
        energy_encoded = ((encode_frames(model, np.stack(finals)) - goal) ** 2).sum(-1)
        errors_array = np.asarray(errors)
        scores["imagined"].append(spearman(energy_imagined, errors_array))
        scores["encoded"].append(spearman(energy_encoded, errors_array))
        scores["imagined_vs_encoded"].append(spearman(energy_imagined, energy_encoded))
        beaten.append(float((energy_imagined[1:] < energy_imagined[0]).mean()))
    document = {
        "world": args.world,
        "model": checkpoint,
        "episodes": len(beaten),
        "plans_per_episode": 1 + len(NOISE) * PER_NOISE,
        "spearman_imagined_energy_vs_true_error": float(np.median(scores["imagined"])),
        "spearman_encoded_energy_vs_true_error": float(np.median(scores["encoded"])),
        "spearman_imagined_vs_encoded_energy": float(np.median(scores["imagined_vs_encoded"])),
        "share_of_perturbed_plans_imagined_better_than_the_expert": float(np.median(beaten)),
    }
    for key, value in document.items():
        print(f"{key}: {value}")
    write_results(f"predictor_ranking_{args.world}", document, out=args.out)


if __name__ == "__main__":
    main()
