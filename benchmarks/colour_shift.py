"""Colour-shift augmentation: is the colour-change control then unsurprising, is planning intact?

Trains the demo recipe's TwoRoom model with `ColourShiftWindows` (a share of the training windows
change hue part-way), on the demo's data, then measures on it what `make bench-understanding`
measures on the demo's model (probes, surprise pairs) and the demo's planning protocols.
Writes benchmarks/results/colour_shift.json (with command, date, machine, git revision) and
benchmarks/results/surprise_two_room_colour_shift.png. The model and data are kept in
benchmarks/.understanding/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path

import torch

from ami.evaluation.protocols import protocol_by_name, protocols_of
from ami.experience import WindowDataset
from ami.files import atomic_write_bytes
from ami.model import WorldModel
from ami.pipeline import check_dataset_fits, run_collect, run_eval
from ami.provenance import machine_facts
from ami.recipes import DEMO, save_recipe
from ami.training import train
from ami.training.colour_shift import ColourShiftWindows
from ami.understanding.plots import plot_surprise
from ami.understanding.probe_run import ProbeRunConfig, probe_episodes, run_probes
from ami.understanding.surprise_run import SurpriseRunConfig, run_surprise

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def train_shifted(data: Path, run_dir: Path, probability: float, progress: bool) -> WorldModel:
    """The demo recipe's model trained on `data` with colour-shifted windows (resumes)."""
    check_dataset_fits(DEMO, data)
    windows = WindowDataset.from_file(data, DEMO.window, progress=progress)
    train_windows, valid_windows = windows.split(DEMO.valid_fraction, seed=DEMO.train.seed)
    torch.manual_seed(DEMO.train.seed)
    model = WorldModel(DEMO.model)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_recipe(DEMO, run_dir / "recipe.json")
    train(
        model,
        ColourShiftWindows(train_windows, probability),
        valid_windows,
        DEMO.train,
        run_dir,
        metadata={"world": "two_room", "dataset": str(data), "colour_shift": probability},
        progress=progress,
    )
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--probability", type=float, default=0.5)
    parser.add_argument("--data", type=Path, default=None, help="the demo's data (else collected)")
    parser.add_argument("--episodes", type=int, default=50, help="planning episodes per protocol")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    progress = not args.quiet
    folder = HERE / ".understanding" / f"two_room_colour_shift_{args.probability:g}"
    data = args.data
    if data is None:
        data = folder / "data" / "experience.h5"
        if not data.is_file():
            run_collect(DEMO.collect, data, progress=progress)
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 2)))
    model = train_shifted(data, folder / "run", args.probability, progress)

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
        "model": str(folder / "run" / "checkpoint"),
        "command": "python benchmarks/colour_shift_ablation.py "
        + " ".join(map(shlex.quote, sys.argv[1:])),
        **machine_facts(),
    }
    path = RESULTS / "colour_shift.json"
    atomic_write_bytes(path, (json.dumps(document, indent=2) + "\n").encode())
    print(json.dumps({k: document[k] for k in ("planning",)}, indent=2))
    for name, figures in document["surprise"]["events"].items():
        print(name, {k: figures.get(k) for k in ("auroc", "p_value", "flag_rate")})
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
