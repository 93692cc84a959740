"""Steps per second of gym:Reacher-v5 at 64 px pixels, by the size MuJoCo renders at.

`gym:` worlds whose env takes `width`/`height` are made at the pixel size (64x64); Gymnasium's
default is 480x480, shrunk to 64x64 by the adapter. This measures both (and 128x128), one core,
random actions, rendering every step, resets counted.
Writes benchmarks/results/gym_render_size.json.
Run: python -m benchmarks.gym_render_size  (< 1 min)
"""

from __future__ import annotations

import argparse
import sys

import torch

from ami.errors import DependencyMissingError
from ami.worlds import make, measure_steps_per_second
from benchmarks.results_file import write_results

RENDER_SIZES = {"64x64 (ami's default)": {}, "128x128": {"width": 128, "height": 128}}
RENDER_SIZES["480x480 (Gymnasium's default)"] = {"width": 480, "height": 480}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="timed steps per try")
    args = parser.parse_args()
    torch.set_num_threads(1)
    figures: dict[str, object] = {}
    for label, kwargs in RENDER_SIZES.items():
        try:
            env = make("gym:Reacher-v5", size=64, **kwargs)
        except DependencyMissingError as missing:
            print(f"not measured: {missing}", file=sys.stderr)
            raise SystemExit(2) from missing
        rate = max(measure_steps_per_second(env, steps=args.steps, seed=s) for s in range(3))
        env.close()
        figures[label] = {"value": round(rate, 1), "unit": "steps/s"}
        print(f"{label}: {rate:.1f} steps/s")
    how = f"{args.steps} random steps, 64x64 pixels every step, best of 3, one core"
    write_results("gym_render_size", {"world": "gym:Reacher-v5", "how": how, "figures": figures})


if __name__ == "__main__":
    main()
