"""Colour-shift augmentation: is the colour-change control then unsurprising, is planning intact?

The demo recipe's TwoRoom model trained with `--probability` of its training windows changing
hue part-way (`TrainConfig.colour_shift`; the demo recipe's own 0.5 is the demo's model), on the
demo's data, from the cache (`--cache`; collected and trained there when absent); then measured
as `make bench-understanding` measures the demo's model (probes, surprise pairs) and on the
demo's planning protocols. Writes benchmarks/results/colour_shift.json and
benchmarks/results/surprise_two_room_colour_shift.png.

    python -m benchmarks.colour_shift [--probability 0.5] [--episodes 50]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

import torch

from ami.evaluation.protocols import protocol_by_name, protocols_of
from ami.model import WorldModel
from ami.pipeline import run_eval
from ami.recipes import DEMO, Recipe
from ami.understanding.plots import plot_surprise
from ami.understanding.probe_run import ProbeRunConfig, probe_episodes, run_probes
from ami.understanding.surprise_run import SurpriseRunConfig, run_surprise
from benchmarks.cache import add_cache_argument, scratch, trained_model
from benchmarks.results_file import RESULTS, write_results


def shifted_recipe(probability: float) -> Recipe:
    """The demo recipe with `probability` of colour-shifted training windows (its own name)."""
    if probability == DEMO.train.colour_shift:
        return DEMO
    train = replace(DEMO.train, colour_shift=probability)
    return replace(DEMO, name=f"demo_colour_shift_{probability:g}", train=train)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--probability", type=float, default=0.5)
    parser.add_argument("--episodes", type=int, default=50, help="planning episodes per protocol")
    parser.add_argument("--quiet", action="store_true")
    add_cache_argument(parser)
    args = parser.parse_args()
    progress = not args.quiet
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 2)))
    checkpoint = trained_model(shifted_recipe(args.probability), args.cache, progress=progress)
    model = WorldModel.load(checkpoint).eval()
    folder = scratch(args.cache, "colour_shift") / f"{args.probability:g}"

    probe_config = ProbeRunConfig(world="two_room")
    runs = probe_episodes(probe_config, DEMO.model.encoder.image_size, progress)
    probes = {r.quantity: r.as_dict() for r in run_probes(model, runs, probe_config, progress)}
    report = run_surprise(model, SurpriseRunConfig(world="two_room"), progress)
    plot_surprise(report, RESULTS / "surprise_two_room_colour_shift.png")
    recipe = replace(DEMO, eval_episodes=args.episodes)
    protocols = [protocol_by_name(n, args.episodes, "two_room") for n in protocols_of("two_room")]
    planning = run_eval(model, recipe, protocols, folder / "eval", progress)
    document = {
        "colour_shift_probability": args.probability,
        "probe": probes,
        "surprise": report.as_dict(),
        "planning": {
            name: {k: result[k] for k in ("success_rate", "random_success_rate", "episodes")}
            for name, result in planning["protocols"].items()
        },
        "model": checkpoint,
    }
    path = write_results("colour_shift", document)
    print(json.dumps({k: document[k] for k in ("planning",)}, indent=2))
    for name, figures in document["surprise"]["events"].items():
        print(name, {k: figures.get(k) for k in ("auroc", "p_value", "flag_rate")})
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
